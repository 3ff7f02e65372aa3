import { readFileSync } from 'node:fs';
import { logLevel, nonNegativeInt, parseEnv, port, positiveInt } from '@modeldock/service-kit';
import { z } from 'zod';

/** One `http://host:port` a model's replicas are reached at; `hostname` may resolve to many IPs. */
export interface UpstreamAddress {
  /** As configured, normalised (`http://question-topic:8501`). */
  readonly url: string;
  /** Without IPv6 brackets, ready for `dns.lookup`. */
  readonly hostname: string;
  readonly port: number;
}

/** Where one model's replicas live and how to talk to them. */
export interface ModelConfig {
  readonly name: string;
  readonly upstreams: readonly UpstreamAddress[];
  /** GET this on every replica; 200 means it may take traffic (OIP: `/v2/health/ready`). */
  readonly readyPath: string;
  /** Deadline for an upstream answer (all retries included). */
  readonly timeoutMs: number;
}

/** The gateway's whole configuration, parsed once by {@link loadConfig}. */
export interface GatewayConfig {
  readonly port: number;
  readonly host: string;
  readonly logLevel: z.output<ReturnType<typeof logLevel>>;
  readonly models: readonly ModelConfig[];
  /** Target of the seed-style `POST /predict_topic`. */
  readonly defaultModel: string;
  readonly resolveIntervalMs: number;
  readonly healthIntervalMs: number;
  readonly healthTimeoutMs: number;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly maxBodyBytes: number;
  readonly drainTimeoutMs: number;
}

/** Works on a laptop: one question-topic process on its default port. */
export const DEFAULT_MODELS = { 'question-topic': { upstream: 'http://127.0.0.1:8501' } } as const;
/** Target of `POST /predict_topic` unless GATEWAY_DEFAULT_MODEL says otherwise. */
export const DEFAULT_MODEL = 'question-topic';
/** OIP readiness, which every modeldock model service answers. */
export const DEFAULT_READY_PATH = '/v2/health/ready';

/** Model names become a path segment, so they stay within the characters that never need escaping. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const envSchema = z.object({
  GATEWAY_PORT: port().default(8080),
  GATEWAY_HOST: z.string().default('0.0.0.0'),
  GATEWAY_LOG_LEVEL: logLevel().default('info'),
  /** JSON: `{"<model>": {"upstream": "http://host:port[,http://host2:port]", "readyPath"?, "timeoutMs"?}}`. */
  GATEWAY_MODELS: z.string().optional(),
  /** Path to a JSON file of the same shape as GATEWAY_MODELS. */
  GATEWAY_MODELS_FILE: z.string().optional(),
  GATEWAY_DEFAULT_MODEL: z.string().regex(MODEL_NAME).optional(),
  GATEWAY_RESOLVE_INTERVAL_MS: positiveInt().default(2000),
  GATEWAY_HEALTH_INTERVAL_MS: positiveInt().default(1000),
  GATEWAY_HEALTH_TIMEOUT_MS: positiveInt().default(1000),
  GATEWAY_TIMEOUT_MS: positiveInt().default(30_000),
  GATEWAY_MAX_RETRIES: nonNegativeInt().default(2),
  GATEWAY_MAX_BODY_BYTES: positiveInt().default(1024 * 1024),
  GATEWAY_DRAIN_TIMEOUT_MS: positiveInt().default(10_000),
});

function parseUpstream(raw: string, ctx: z.RefinementCtx): UpstreamAddress | undefined {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    ctx.addIssue({ code: 'custom', message: `'${raw}' is not a URL` });
    return undefined;
  }
  // Plain HTTP only: upstreams sit on the private compose/cluster network, and the keep-alive agent is http.
  if (url.protocol !== 'http:' || url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '') {
    ctx.addIssue({ code: 'custom', message: `'${raw}' must look like http://host:port (no path, query or credentials)` });
    return undefined;
  }
  return {
    url: url.origin,
    hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? 80 : Number(url.port),
  };
}

const upstreamList = z
  .union([z.string(), z.array(z.string()).min(1)])
  .transform((value, ctx) => {
    const parts = (Array.isArray(value) ? value : value.split(',')).filter((part) => part.trim() !== '');
    if (parts.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'at least one upstream URL is required' });
      return z.NEVER;
    }
    const parsed = parts.map((part) => parseUpstream(part, ctx));
    return parsed.every((p) => p !== undefined) ? parsed : z.NEVER;
  });

const modelSchema = z.strictObject({
  upstream: upstreamList,
  readyPath: z.string().regex(/^\/\S*$/, 'must be an absolute path').default(DEFAULT_READY_PATH),
  timeoutMs: z.number().int().positive().optional(),
});

const modelsSchema = z.record(z.string(), modelSchema).superRefine((models, ctx) => {
  const names = Object.keys(models);
  if (names.length === 0) ctx.addIssue({ code: 'custom', message: 'configure at least one model' });
  for (const name of names.filter((n) => !MODEL_NAME.test(n))) {
    ctx.addIssue({ code: 'custom', path: [name], message: 'model names use letters, digits, ".", "_" and "-"' });
  }
});

function readModelsJson(
  parsed: { GATEWAY_MODELS?: string | undefined; GATEWAY_MODELS_FILE?: string | undefined },
): { source: string; value: unknown } {
  if (parsed.GATEWAY_MODELS !== undefined && parsed.GATEWAY_MODELS_FILE !== undefined) {
    throw new Error('invalid configuration: set GATEWAY_MODELS or GATEWAY_MODELS_FILE, not both');
  }
  let source = 'GATEWAY_MODELS';
  let text = parsed.GATEWAY_MODELS;
  if (parsed.GATEWAY_MODELS_FILE !== undefined) {
    source = 'GATEWAY_MODELS_FILE';
    try {
      text = readFileSync(parsed.GATEWAY_MODELS_FILE, 'utf8');
    } catch (err) {
      throw new Error(`invalid configuration: GATEWAY_MODELS_FILE: cannot read ${parsed.GATEWAY_MODELS_FILE}`, {
        cause: err,
      });
    }
  }
  if (text === undefined) return { source: 'default', value: DEFAULT_MODELS };
  try {
    return { source, value: JSON.parse(text) };
  } catch {
    throw new Error(`invalid configuration: ${source}: not valid JSON`);
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * Reads the gateway's `GATEWAY_*` variables (and the models JSON they point at) once, reporting
 * every problem together. Adding a model is configuration only: a new key in the models JSON.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const parsed = parseEnv(envSchema, env);
  const { source, value } = readModelsJson(parsed);
  const models = modelsSchema.safeParse(value);
  if (!models.success) {
    const problems = models.error.issues.map((issue) => [source, ...issue.path].join('.') + `: ${issue.message}`);
    throw new Error(`invalid configuration: ${problems.join('; ')}`);
  }
  const modelConfigs: ModelConfig[] = Object.entries(models.data).map(([name, model]) => ({
    name,
    upstreams: model.upstream,
    readyPath: model.readyPath,
    timeoutMs: model.timeoutMs ?? parsed.GATEWAY_TIMEOUT_MS,
  }));
  const defaultModel = parsed.GATEWAY_DEFAULT_MODEL ?? DEFAULT_MODEL;
  // An explicit default that names no model is a typo worth failing on; the implicit one just leaves
  // `POST /predict_topic` answering 404 when question-topic is not deployed.
  if (parsed.GATEWAY_DEFAULT_MODEL !== undefined && !modelConfigs.some((m) => m.name === defaultModel)) {
    throw new Error(`invalid configuration: GATEWAY_DEFAULT_MODEL: '${defaultModel}' is not a configured model`);
  }
  return deepFreeze({
    port: parsed.GATEWAY_PORT,
    host: parsed.GATEWAY_HOST,
    logLevel: parsed.GATEWAY_LOG_LEVEL,
    models: modelConfigs,
    defaultModel,
    resolveIntervalMs: parsed.GATEWAY_RESOLVE_INTERVAL_MS,
    healthIntervalMs: parsed.GATEWAY_HEALTH_INTERVAL_MS,
    healthTimeoutMs: parsed.GATEWAY_HEALTH_TIMEOUT_MS,
    timeoutMs: parsed.GATEWAY_TIMEOUT_MS,
    maxRetries: parsed.GATEWAY_MAX_RETRIES,
    maxBodyBytes: parsed.GATEWAY_MAX_BODY_BYTES,
    drainTimeoutMs: parsed.GATEWAY_DRAIN_TIMEOUT_MS,
  });
}
