import { BACKEND_REQUESTS, DEVICES, type BackendRequest, type Device } from '@modeldock/model-runtime';
import { MODEL_NAME, MODEL_NAME_RULE, VERSION_LABEL, VERSION_POLICY, readModelSettings, servingSettings } from '@modeldock/model-settings';
import { cidrList, logLevel, nonNegativeInt, port, positiveInt } from '@modeldock/service-kit';
import { z } from 'zod';

/** `stable=1,canary=2` as `{stable: '1', canary: '2'}`; each label once. */
const versionLabels = () =>
  z.string().transform((text, ctx) => {
    const labels: Record<string, string> = {};
    for (const pair of text.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
      const [label = '', version = '', ...rest] = pair.split('=').map((part) => part.trim());
      if (!VERSION_LABEL.test(label) || !/^\d+$/.test(version) || rest.length > 0) {
        ctx.addIssue({ code: 'custom', message: `'${pair}' is not <label>=<version> (a label starts with a letter; a version is digits)` });
      } else if (label in labels) {
        ctx.addIssue({ code: 'custom', message: `label '${label}' is given twice` });
      } else {
        labels[label] = version;
      }
    }
    return labels;
  });

/** A model server believes forwarded addresses only from its own host unless told otherwise. */
export const DEFAULT_TRUSTED_PROXIES: readonly string[] = ['127.0.0.0/8', '::1'];

/**
 * Every setting of a model server, without its prefix: every model server reads them as `MODEL_*`
 * (question-topic also as `QT_*`, an alias kept for its users). A model directory's
 * `model-settings.json` gives the serving defaults the environment overrides. Each `.describe()` is
 * the text of the configuration reference, which is generated from this schema.
 */
export const serverSettingsSchema = z.object({
  HOST: z.string().default('0.0.0.0').describe('interface the model server listens on'),
  PORT: port().default(8501).describe('port the model server listens on'),
  LOG_LEVEL: logLevel().default('info').describe('pino log level'),
  MODEL_DIR: z.string().min(1).describe('directory of version folders (`1/`, `2/`, ...) each with `metadata.json`'),
  MODEL_NAME: z
    .string()
    .regex(MODEL_NAME, MODEL_NAME_RULE)
    .optional()
    .describe("served model name (default: the `name` in the newest version's metadata.json)"),
  MODEL_VERSIONS: z
    .string()
    .regex(VERSION_POLICY, "expected 'latest', 'all' or versions like '1,2'")
    .default('latest')
    .describe('versions to serve: `latest`, `all` or a list like `1,2`; versioned OIP and TF Serving paths reach each'),
  DEFAULT_VERSION: z
    .string()
    .regex(/^\d+$/, 'digits')
    .optional()
    .describe('version unversioned requests get (default: the highest served)'),
  VERSION_LABELS: versionLabels()
    .default({})
    .describe('version labels as `stable=1,canary=2` (TF Serving `/v1/models/<m>/labels/<label>...`); each names a served version'),
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
    .describe('most rows one client (its address, or the one a trusted proxy forwards) may have waiting; beyond it 429 + `Retry-After`'),
  MAX_QUEUE_POSITIONS: positiveInt()
    .default(131_072)
    .describe('most padded sentence-encoder positions waiting (≤ ~100 s of engine time); requests of several parts may fill three quarters of it; beyond it 503 + `Retry-After`'),
  MAX_QUEUE_POSITIONS_PER_CLIENT: positiveInt()
    .default(65_536)
    .describe('most padded sentence-encoder positions one client may have waiting; beyond it 429 + `Retry-After`'),
  TRUSTED_PROXIES: z
    .string()
    .transform((text) => (text.trim() === 'none' ? '' : text))
    .pipe(cidrList())
    .default([...DEFAULT_TRUSTED_PROXIES])
    .describe(
      'comma-separated CIDR blocks of proxies whose `X-Forwarded-For` is believed (the rightmost address that is not one of them is the client); set it to the gateway’s network (compose network, pod CIDR); `none`: the TCP peer is always the client',
    ),
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
      'bytes of answer rows the result cache may hold, least recently used evicted first (0: off); keyed by model version and exact input (after the model’s text transform), so a repeated text skips the queue and the engine, and identical texts in flight are computed once; `Cache-Control: no-cache` bypasses it; a sentence-embedding row takes ~2.4 KB, a question-topic row ~0.4 KB',
    ),
  HEADERS_TIMEOUT_MS: positiveInt().default(10_000).describe('time allowed to receive request headers (408 beyond)'),
  MAX_HEADER_BYTES: positiveInt().default(16_384).describe('largest request header section (431 beyond)'),
  REQUEST_TIMEOUT_MS: positiveInt().default(60_000).describe('time allowed to receive a whole request (408 beyond)'),
  KEEP_ALIVE_TIMEOUT_MS: positiveInt().default(65_000).describe('idle keep-alive connection lifetime (longer than the gateway’s)'),
  DRAIN_TIMEOUT_MS: positiveInt()
    .default(130_000)
    .describe('how long SIGTERM waits for in-flight requests (it stops as soon as they are answered): above the longest deadline a gateway hands out (`GATEWAY_MAX_TIMEOUT_MS`, 120 s, for bulk requests), so a rollout or a scale-down never cuts an admitted request'),
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
 * The raw value of a setting: `<prefix><KEY>`, else `<alias><KEY>` (question-topic's `QT_*`). Both set to
 * different values is an error, so an old variable left behind cannot silently lose or win. Empty means unset
 * (compose files often pass `VAR=${VAR:-}`).
 */
export function settingValue(key: string, env: NodeJS.ProcessEnv, prefix: string, alias?: string): string | undefined {
  const present = (name: string) => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  const value = present(variableName(prefix, key));
  const aliased = alias === undefined ? undefined : present(variableName(alias, key));
  if (value !== undefined && aliased !== undefined && value !== aliased) {
    throw new Error(`invalid configuration: ${variableName(prefix, key)} and ${variableName(alias as string, key)} differ; set one (${alias}* is an alias)`);
  }
  return value ?? aliased;
}

/**
 * Reads `<prefix><SETTING>` variables (e.g. `MODEL_PORT`; with `alias` `QT_`, `QT_PORT` too), applies the
 * defaults (the app's, then the model's `model-settings.json`), validates with zod and returns a frozen object.
 * Every problem is reported at once, named with its prefixed variable, so a misconfigured container says what
 * to fix.
 */
export function loadServerSettings(prefix: string, env: NodeJS.ProcessEnv, defaults: SettingDefaults = {}, alias?: string): ServerSettings {
  const values: Record<string, string> = { ...defaults };
  for (const key of Object.keys(serverSettingsSchema.shape)) {
    const value = settingValue(key, env, prefix, alias);
    if (value !== undefined) values[key] = value;
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

/** A setting's default as its variable would spell it (`a,b` for a list, `k=v,...` for labels); none when empty. */
function defaultText(value: unknown): string | undefined {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'object' || value === null) return undefined;
  const parts = Array.isArray(value) ? value.map(String) : Object.entries(value).map(([key, item]) => `${key}=${String(item)}`);
  return parts.length === 0 ? undefined : parts.join(',');
}

/** The configuration reference of a prefix, from the schema itself (docs cannot drift from it). */
export function settingsReference(prefix: string, defaults: SettingDefaults = {}): SettingReference[] {
  return Object.entries(serverSettingsSchema.shape).map(([key, schema]) => {
    const parsed = schema.safeParse(undefined);
    const fallback = parsed.success ? defaultText(parsed.data) : undefined;
    return {
      variable: variableName(prefix, key),
      default: defaults[key as keyof SettingDefaults] ?? fallback,
      meaning: schema.description ?? '',
    };
  });
}

/**
 * The serving defaults `<model dir>/model-settings.json` gives (none without the file), as settings: they sit
 * between the app's defaults and the environment. One schema reads the file everywhere (@modeldock/model-settings).
 */
export async function readServingDefaults(modelDir: string): Promise<SettingDefaults> {
  return servingSettings(await readModelSettings(modelDir));
}
