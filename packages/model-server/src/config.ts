import { BACKEND_REQUESTS, DEVICES, type BackendRequest, type Device } from '@modeldock/model-runtime';
import { logLevel, nonNegativeInt, port, positiveInt } from '@modeldock/service-kit';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

/**
 * Every setting of a model server, without its prefix: the generic server reads them as `MODEL_*`,
 * question-topic as `QT_*` (the names its users already know). Each `.describe()` is the text of
 * the configuration reference, which is generated from this schema.
 */
export const serverSettingsSchema = z.object({
  HOST: z.string().default('0.0.0.0').describe('interface the model server listens on'),
  PORT: port().default(8501).describe('port the model server listens on'),
  LOG_LEVEL: logLevel().default('info').describe('pino log level'),
  MODEL_DIR: z.string().min(1).describe('directory of version folders (`1/`, `2/`, ...) each with `metadata.json`'),
  MODEL_NAME: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-"')
    .optional()
    .describe("served model name (default: the `name` in the newest version's metadata.json)"),
  MODEL_VERSIONS: z
    .string()
    .regex(/^(latest|all|\d+(,\d+)*)$/, "expected 'latest', 'all' or versions like '1,2'")
    .default('latest')
    .describe('versions to serve: `latest`, `all` or a list like `1,2`; versioned OIP and TF Serving paths reach each'),
  DEFAULT_VERSION: z
    .string()
    .regex(/^\d+$/, 'digits')
    .optional()
    .describe('version unversioned requests get (default: the highest served)'),
  ENCODER_DIR: z.string().optional().describe('USE-lite files (`model.json`, shards, `vocab.json`); default: the npm package'),
  BACKEND: z
    .enum(BACKEND_REQUESTS as [BackendRequest, ...BackendRequest[]])
    .default('auto')
    .describe('`auto` (native TensorFlow, else wasm), `tensorflow`, `wasm` or `cpu`'),
  DEVICE: z.enum(DEVICES as [Device, ...Device[]]).default('cpu').describe('`gpu` makes `auto`/`tensorflow` use tfjs-node-gpu'),
  ENGINE_THREAD: z
    .enum(['worker', 'main'])
    .default('worker')
    .describe('`worker`: inference on a worker thread, so HTTP, probes and load shedding stay responsive; `main`: on the event loop'),
  MAX_BODY_BYTES: positiveInt().default(1024 * 1024).describe('largest request body (413 beyond)'),
  MAX_JSON_DEPTH: positiveInt().default(32).describe('deepest JSON nesting accepted in a body (400 beyond)'),
  MAX_TEXTS: positiveInt()
    .default(2048)
    .describe("most rows (texts) in one request (400 beyond): OpenAI's limit for embeddings; a large request runs as parts in the fair queue"),
  MAX_TEXT_LENGTH: positiveInt().default(2000).describe('most characters in one text, raw and after NFKC normalisation'),
  MAX_TEXT_PIECES: positiveInt().default(1024).describe('most sentence-encoder pieces (tokens) in one text (the encoder reads the first 128)'),
  MAX_REQUEST_POSITIONS: positiveInt()
    .default(65_536)
    .describe(
      "most padded sentence-encoder positions one request's engine calls may take (400 beyond): its estimated engine time, ≤ ~51 s on one wasm core (512 texts of 128+ pieces, or 2,048 of up to 32)",
    ),
  MAX_TENSOR_ELEMENTS: positiveInt().default(1_000_000).describe('most tensor elements in one request of a numeric model'),
  MAX_BATCH_SIZE: positiveInt().default(32).describe('dynamic batching: most rows per engine call; `1` turns batching off (requests are not merged; large ones still run in parts of up to 32 rows)'),
  MAX_BATCH_POSITIONS: positiveInt()
    .default(1024)
    .describe('most padded sentence-encoder positions per engine call (≤ ~0.8 s on one wasm core): how long one call keeps other clients waiting; requests are cut into parts of it'),
  MAX_BATCH_DELAY_MS: nonNegativeInt().default(2).describe('dynamic batching: how long a request may wait for others to join its batch'),
  MAX_QUEUE: positiveInt().default(8192).describe('most rows waiting; beyond it requests get 503 + `Retry-After` at once'),
  MAX_QUEUE_PER_CLIENT: positiveInt()
    .default(4096)
    .describe('most rows one client (`x-forwarded-for`, else its address) may have waiting; beyond it 429 + `Retry-After`'),
  MAX_QUEUE_POSITIONS: positiveInt()
    .default(131_072)
    .describe('most padded sentence-encoder positions waiting (≤ ~100 s of engine time); requests of several parts may fill three quarters of it; beyond it 503 + `Retry-After`'),
  MAX_QUEUE_POSITIONS_PER_CLIENT: positiveInt()
    .default(65_536)
    .describe('most padded sentence-encoder positions one client may have waiting; beyond it 429 + `Retry-After`'),
  REQUEST_DEADLINE_MS: positiveInt()
    .default(30_000)
    .describe('longest an ordinary request may wait for its answer; `x-modeldock-deadline-ms` from the gateway can only shorten it (504 when it passes)'),
  MAX_REQUEST_DEADLINE_MS: positiveInt()
    .default(120_000)
    .describe(
      "longest deadline a request's work can earn: a text request gets twice its estimated engine time if that is longer than `REQUEST_DEADLINE_MS`; through the gateway, up to the `x-modeldock-deadline-max-ms` it offers",
    ),
  CACHE_BYTES: nonNegativeInt()
    .default(0)
    .describe(
      'bytes of answer rows the result cache may hold, least recently used evicted first (0: off); keyed by model version and exact input (after the model’s text transform), so a repeated text skips the queue and the engine, and identical texts in flight are computed once; `Cache-Control: no-cache` bypasses it. a sentence-embedding row takes ~2.4 KB, a question-topic row ~0.4 KB',
    ),
  HEADERS_TIMEOUT_MS: positiveInt().default(10_000).describe('time allowed to receive request headers'),
  REQUEST_TIMEOUT_MS: positiveInt().default(60_000).describe('time allowed to receive a whole request (408 beyond)'),
  KEEP_ALIVE_TIMEOUT_MS: positiveInt().default(65_000).describe('idle keep-alive connection lifetime (longer than the gateway’s)'),
  DRAIN_TIMEOUT_MS: positiveInt().default(30_000).describe('how long SIGTERM waits for in-flight requests'),
});

export type ServerSettings = Readonly<z.output<typeof serverSettingsSchema>>;

/** Settings an app fixes or defaults before the environment is read (question-topic's model folder, its port). */
export type SettingDefaults = Partial<Record<keyof z.input<typeof serverSettingsSchema>, string>>;

/**
 * The variable of a setting under a prefix: `QT_` + `MODEL_DIR` is `QT_MODEL_DIR`; a prefix that
 * the setting already starts with is not repeated (`MODEL_` + `MODEL_DIR` is `MODEL_DIR`).
 */
export function variableName(prefix: string, key: string): string {
  return key.startsWith(prefix) ? key : `${prefix}${key}`;
}

/**
 * Reads `<prefix><SETTING>` variables (e.g. `MODEL_PORT`, `QT_PORT`), applies the app's defaults,
 * validates with zod and returns a frozen object. Every problem is reported at once, named with
 * its prefixed variable, so a misconfigured container says what to fix.
 */
export function loadServerSettings(prefix: string, env: NodeJS.ProcessEnv, defaults: SettingDefaults = {}): ServerSettings {
  const values: Record<string, string> = { ...defaults };
  for (const key of Object.keys(serverSettingsSchema.shape)) {
    const value = env[variableName(prefix, key)];
    // Empty strings mean "unset": compose files often pass `VAR=${VAR:-}`.
    if (value !== undefined && value !== '') values[key] = value;
  }
  const parsed = serverSettingsSchema.safeParse(values);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${variableName(prefix, issue.path.join('.'))}: ${issue.message}`);
    throw new Error(`invalid configuration: ${problems.join('; ')}`);
  }
  return Object.freeze(parsed.data);
}

/** One row of the configuration reference. */
export interface SettingReference {
  variable: string;
  default: string | undefined;
  meaning: string;
}

/** The configuration reference of a prefix, from the schema itself (docs cannot drift from it). */
export function settingsReference(prefix: string, defaults: SettingDefaults = {}): SettingReference[] {
  return Object.entries(serverSettingsSchema.shape).map(([key, schema]) => {
    const parsed = schema.safeParse(undefined);
    const fallback = parsed.success && parsed.data !== undefined ? String(parsed.data) : undefined;
    return {
      variable: variableName(prefix, key),
      default: defaults[key as keyof SettingDefaults] ?? fallback,
      meaning: schema.description ?? '',
    };
  });
}

/**
 * The versions to serve, oldest first, from the version policy and the versions found on disk;
 * throws naming what is missing.
 */
export function selectVersions(policy: string, available: readonly string[]): string[] {
  const sorted = [...available].sort((a, b) => Number(a) - Number(b));
  if (sorted.length === 0) throw new Error('no model versions found');
  if (policy === 'all') return sorted;
  if (policy === 'latest') return sorted.slice(-1);
  const wanted = [...new Set(policy.split(','))].sort((a, b) => Number(a) - Number(b));
  const missing = wanted.filter((version) => !sorted.includes(version));
  if (missing.length > 0) throw new Error(`model versions ${missing.join(', ')} not found (found: ${sorted.join(', ')})`);
  return wanted;
}

/**
 * `<model dir>/model-settings.json`, optional (MLServer's file of the same name): how a model is
 * served wherever it runs. The server reads `versions` and `defaultVersion`; the start script and
 * deployment tooling read `app`, `port` and `aliases`. Unknown fields are an error, so a typo
 * cannot silently change nothing.
 */
export const modelSettingsSchema = z.strictObject({
  /** The app that serves it when it has its own routes (question-topic); default: the generic model server. */
  app: z.string().regex(/^[a-z0-9-]+$/).optional(),
  /** Its port under `pnpm start`. */
  port: z.number().int().min(1).max(65535).optional(),
  /** Extra gateway routes to this model, e.g. `{"method": "POST", "path": "/predict_topic"}`. */
  aliases: z.array(z.strictObject({ method: z.enum(['GET', 'POST']), path: z.string().regex(/^\/[\w./-]*$/) })).optional(),
  /** Versions to serve (as MODEL_VERSIONS): `latest`, `all` or a list like `1,2`. */
  versions: z.string().regex(/^(latest|all|\d+(,\d+)*)$/).optional(),
  /** The version unversioned requests get (as DEFAULT_VERSION). */
  defaultVersion: z.string().regex(/^\d+$/).optional(),
});

export type ModelSettings = z.output<typeof modelSettingsSchema>;

/** The serving defaults a model directory's `model-settings.json` gives, as settings (none when absent). */
export async function readModelSettings(modelDir: string): Promise<SettingDefaults> {
  const file = path.join(modelDir, 'model-settings.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return {};
  }
  const parsed = modelSettingsSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return {
    ...(parsed.data.versions === undefined ? {} : { MODEL_VERSIONS: parsed.data.versions }),
    ...(parsed.data.defaultVersion === undefined ? {} : { DEFAULT_VERSION: parsed.data.defaultVersion }),
  };
}
