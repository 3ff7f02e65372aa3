import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cidrList, logLevel, nonNegativeInt, parseEnv, port, positiveInt } from '@modeldock/service-kit';
import { z } from 'zod';
import { parseModels, readModelsFile, type ModelConfig, type ModelDefaults } from './models-file.js';

export {
  DEFAULT_BACKEND,
  DEFAULT_READY_PATH,
  type AliasConfig,
  type BackendConfig,
  type ModelConfig,
  type ShadowConfig,
  type UpstreamAddress,
} from './models-file.js';

/** A models file and how to read it again. */
export interface ModelsFile {
  readonly path: string;
  /** Names it in error messages (`GATEWAY_MODELS_FILE`). */
  readonly source: string;
  readonly defaults: ModelDefaults;
}

/** What shadow copies may hold at once; past a bound a copy is dropped and counted, never queued. */
export interface ShadowLimits {
  /** Shadow requests in flight at once, all models together. */
  readonly maxConcurrency: number;
  /** Bytes held for shadow work at once: request bodies copied and answers kept for comparison. */
  readonly maxBytes: number;
  /** Largest answer (the served one or the shadow's) kept for comparison. */
  readonly maxAnswerBytes: number;
  /** A shadow request without an answer by then is abandoned. */
  readonly timeoutMs: number;
  /** Disagreements logged per minute (each with the input's hash and both labels, never the input). */
  readonly disagreementLogsPerMinute: number;
}

/** Per-client limits at the gateway (client = its address, see `trustedProxies`). */
export interface ClientLimitConfig {
  /** Requests one client may have in flight; 0 turns the limit off. */
  readonly maxConcurrency: number;
  /** Request-body bytes one client may have buffered at once (its share of `maxInflightBodyBytes`). */
  readonly maxBodyBytes: number;
  /** Open connections from one address (trusted proxies excepted); 0 turns the limit off. */
  readonly maxConnections: number;
  /** Sustained requests per second per client (token bucket); 0 turns the bucket off. */
  readonly ratePerSecond: number;
  /** Bucket size: how many requests a client may send at once after being idle. */
  readonly burst: number;
}

/** The gateway's whole configuration, parsed once by {@link loadConfig}. */
export interface GatewayConfig {
  readonly port: number;
  readonly host: string;
  /** The admin listener: the gateway's own metrics and the detailed replica listing. */
  readonly adminPort: number;
  readonly adminHost: string;
  readonly logLevel: z.output<ReturnType<typeof logLevel>>;
  /** Access-log lines per second before repeats are suppressed (and counted in a summary line). */
  readonly logLinesPerSecond: number;
  /** The models at start-up; {@link modelsFile} says where later versions come from. */
  readonly models: readonly ModelConfig[];
  /** The models file, reloaded when it changes and on SIGHUP; undefined when they come from `GATEWAY_MODELS`. */
  readonly modelsFile: ModelsFile | undefined;
  /** Shadow traffic's bounds (see {@link ShadowLimits}). */
  readonly shadow: ShadowLimits;
  readonly resolveIntervalMs: number;
  readonly healthIntervalMs: number;
  readonly healthTimeoutMs: number;
  /** The model services' API documents are fetched again when older than this (GET /openapi.json). */
  readonly apiDocumentRefreshMs: number;
  /** Bound on fetching one model service's API document. */
  readonly apiDocumentTimeoutMs: number;
  /** How long an outlier (timeout, reset, stalled body) is first held out of rotation; doubles per repeat. */
  readonly ejectionBaseMs: number;
  readonly timeoutMs: number;
  readonly attemptTimeoutMs: number;
  /** A streaming upstream response body silent this long is cut off (client connection destroyed). */
  readonly upstreamIdleTimeoutMs: number;
  readonly maxRetries: number;
  readonly maxBodyBytes: number;
  /** Request body bytes buffered across all requests at once; beyond it new bodies get 503 + Retry-After. */
  readonly maxInflightBodyBytes: number;
  /** Node's `headersTimeout`: the whole header section must arrive within this (408). */
  readonly headersTimeoutMs: number;
  /** Node's `requestTimeout`: headers and body must arrive within this (408). */
  readonly requestTimeoutMs: number;
  /** Idle keep-alive connections are closed after this. */
  readonly keepAliveTimeoutMs: number;
  /** Open client connections at once; further ones are closed at once. */
  readonly maxConnections: number;
  /** Largest header section (Node's `maxHeaderSize`); beyond it 431. */
  readonly maxHeaderBytes: number;
  /** Peers (CIDR blocks) whose `X-Forwarded-For` is believed; empty: the TCP peer is the client. */
  readonly trustedProxies: readonly string[];
  /** The API keys file; undefined: access control off. */
  readonly apiKeysFile: string | undefined;
  /** Hex SHA-256 of the key the admin listener requires; required when it is not on loopback. */
  readonly adminKeySha256: string | undefined;
  /** Origins whose pages may call the public listener (CORS); empty: CORS off. */
  readonly corsOrigins: readonly string[];
  readonly clientLimits: ClientLimitConfig;
  readonly drainTimeoutMs: number;
}

/**
 * The models file used when neither GATEWAY_MODELS nor GATEWAY_MODELS_FILE is set: the one in the
 * checkout, which lists every model `pnpm start` runs on the laptop. Images set one of the variables.
 */
export const DEFAULT_MODELS_FILE = fileURLToPath(new URL('../../../deploy/gateway/models.local.json', import.meta.url));
/** Every GATEWAY_* variable; each `.describe()` is the text of the generated configuration reference. */
export const gatewaySettingsSchema = z.object({
  GATEWAY_PORT: port().default(8080).describe('public listener port'),
  GATEWAY_HOST: z.string().default('127.0.0.1').describe('public listener interface (loopback by default: this machine only; `0.0.0.0` for every interface, as the image sets)'),
  GATEWAY_ADMIN_PORT: port().default(9081).describe('admin listener port (`/metrics`, `/models` with replica addresses)'),
  GATEWAY_ADMIN_HOST: z.string().default('127.0.0.1').describe('admin listener interface (loopback by default: not public)'),
  GATEWAY_ADMIN_API_KEY_SHA256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'must be the hex SHA-256 of the admin key (64 hex digits)')
    .optional()
    .describe('hex SHA-256 of the key the admin listener requires (`Authorization: Bearer <key>`); required when `GATEWAY_ADMIN_HOST` is not loopback (`pnpm gateway:key --admin` makes one)'),
  GATEWAY_API_KEYS_FILE: z
    .string()
    .optional()
    .describe('a JSON file of API keys (`{"keys": [{"id", "sha256", "models", "ratePerSecond"?, "burst"?}]}`); set, every route but health needs a key; reloaded when it changes; unset: access control off'),
  GATEWAY_CORS_ORIGINS: z
    .string()
    .optional()
    .describe('comma-separated origins (`https://app.example.com`) whose pages may call the public listener (CORS); unset: CORS off'),
  GATEWAY_LOG_LEVEL: logLevel().default('info').describe('pino log level'),
  GATEWAY_LOG_LINES_PER_SECOND: positiveInt().default(100).describe('access-log lines per second; beyond it lines are counted and summarised once per second'),
  /** JSON: `{"<model>": {"upstream": "http://host:port[,http://host2:port]" | "backends": [...], "shadow"?, "readyPath"?, "timeoutMs"?, "aliases"?}}`. */
  GATEWAY_MODELS: z.string().optional().describe('JSON, one key per model: `{"<model>": {"upstream": "http://host:port[,...]", "aliases"?: [{"method", "path"}], "readyPath"?, "timeoutMs"?, "attemptTimeoutMs"?, "maxTimeoutMs"?}}`; or, for several deployments, `"backends": [{"name", "upstream", "weight"}]` instead of `"upstream"`, and `"shadow"?: {"backend", "percent"}` (docs/rollouts.md)'),
  /** Path to a JSON file of the same shape as GATEWAY_MODELS. */
  GATEWAY_MODELS_FILE: z.string().optional().describe('a file with the same JSON (not together with `GATEWAY_MODELS`), reloaded within seconds when it changes and on SIGHUP (a file that is not valid keeps the running configuration); default: `deploy/gateway/models.local.json` of the checkout'),
  GATEWAY_RESOLVE_INTERVAL_MS: positiveInt().default(2000).describe('how often upstream hostnames are re-resolved (every replica behind a service name)'),
  GATEWAY_HEALTH_INTERVAL_MS: positiveInt().default(1000).describe("how often every replica's readiness path is probed"),
  GATEWAY_HEALTH_TIMEOUT_MS: positiveInt().default(1000).describe('a probe without an answer by then counts as unhealthy'),
  GATEWAY_OPENAPI_REFRESH_MS: positiveInt()
    .default(30_000)
    .describe("`GET /openapi.json` fetches a model service's own document again (from a ready replica) when the one it has is older than this"),
  GATEWAY_OPENAPI_TIMEOUT_MS: positiveInt().default(5000).describe("bound on fetching one model service's document; a failed fetch keeps the last one"),
  GATEWAY_EJECTION_MS: positiveInt().default(5000).describe('an ejected outlier stays out at least this long (doubling per ejection in a row, up to 60 s)'),
  GATEWAY_TIMEOUT_MS: positiveInt().default(30_000).describe('deadline for the response head, all attempts included (504 beyond)'),
  GATEWAY_ATTEMPT_TIMEOUT_MS: positiveInt().default(15_000).describe("deadline of one attempt on one replica; past it the request is retried elsewhere, and the replica ejected only if its readiness then fails too"),
  GATEWAY_MAX_TIMEOUT_MS: positiveInt()
    .default(120_000)
    .describe("longest a request may take when its replica answers `102 Processing` because the work it admitted (a bulk embeddings request) needs more than the attempt's deadline; offered to the replica in `x-modeldock-deadline-max-ms` (at least `GATEWAY_TIMEOUT_MS`)"),
  GATEWAY_UPSTREAM_IDLE_TIMEOUT_MS: positiveInt().default(15_000).describe('a response body silent this long is cut off (the client sees an error, not a hang)'),
  GATEWAY_MAX_RETRIES: nonNegativeInt().default(2).describe('extra attempts on other replicas after a refused connection, reset or 503'),
  GATEWAY_MAX_BODY_BYTES: positiveInt().default(1024 * 1024).describe('largest request body (413 beyond)'),
  GATEWAY_MAX_INFLIGHT_BODY_BYTES: positiveInt().default(64 * 1024 * 1024).describe('request-body bytes buffered across all requests, counted as they arrive; beyond it 503 + `Retry-After`'),
  GATEWAY_HEADERS_TIMEOUT_MS: positiveInt().default(10_000).describe('request headers must arrive by then (408 beyond)'),
  GATEWAY_REQUEST_TIMEOUT_MS: positiveInt().default(30_000).describe('a whole request must arrive by then (408 beyond)'),
  GATEWAY_KEEPALIVE_TIMEOUT_MS: positiveInt().default(5000).describe('idle client connections are closed after this'),
  GATEWAY_MAX_CONNECTIONS: positiveInt().default(1024).describe('client connections at once, all clients together; more are closed at once'),
  GATEWAY_MAX_HEADER_BYTES: z.coerce.number().int().min(1024).max(1024 * 1024).default(16 * 1024).describe('largest request header section (431 beyond)'),
  GATEWAY_TRUSTED_PROXIES: cidrList().optional().describe("comma-separated CIDR blocks of proxies in front of the gateway (ingress, load balancer); only their `X-Forwarded-For` is believed (the rightmost address that is not one of them is the client); empty: the TCP peer is the client"),
  GATEWAY_CLIENT_MAX_CONCURRENCY: nonNegativeInt().default(16).describe('requests one client may have in flight; 0 turns it off (429 + `Retry-After` beyond)'),
  GATEWAY_CLIENT_MAX_BODY_BYTES: positiveInt().optional().describe("request-body bytes one client may have buffered at once, its share of `GATEWAY_MAX_INFLIGHT_BODY_BYTES` (429 beyond); default: an eighth of it, at least `GATEWAY_MAX_BODY_BYTES`"),
  GATEWAY_CLIENT_MAX_CONNECTIONS: nonNegativeInt().default(128).describe('open connections from one address (trusted proxies excepted); more are closed at once; 0 turns it off'),
  GATEWAY_CLIENT_RATE_PER_SECOND: nonNegativeInt().default(0).describe('per-client token bucket rate; 0 turns it off (429 + `Retry-After` beyond)'),
  GATEWAY_CLIENT_BURST: positiveInt().optional().describe('per-client token bucket size (default: twice the rate)'),
  GATEWAY_DRAIN_TIMEOUT_MS: positiveInt()
    .default(130_000)
    .describe('how long in-flight requests get after SIGTERM (it stops as soon as they are answered): above `GATEWAY_MAX_TIMEOUT_MS`, so a restart never cuts a bulk request'),
  GATEWAY_SHADOW_MAX_CONCURRENCY: positiveInt().default(8).describe("shadow requests in flight at once, all models together; a copy beyond it is dropped (`gateway_shadow_dropped_total{reason=\"concurrency\"}`), never queued"),
  GATEWAY_SHADOW_MAX_BYTES: positiveInt().default(16 * 1024 * 1024).describe('bytes held for shadow copies at once (request bodies and the answers kept for comparison); a copy beyond it is dropped (`reason="bytes"`)'),
  GATEWAY_SHADOW_MAX_ANSWER_BYTES: positiveInt().default(1024 * 1024).describe('largest answer kept for comparison, the served one or the shadow\'s; a larger one is not compared (`reason="answer_too_large"`)'),
  GATEWAY_SHADOW_TIMEOUT_MS: positiveInt().default(10_000).describe('a shadow request without a whole answer by then is abandoned (`gateway_shadow_requests_total{status="timeout"}`)'),
  GATEWAY_SHADOW_DISAGREEMENT_LOGS_PER_MINUTE: nonNegativeInt().default(10).describe("disagreeing shadow answers logged per minute (the input's SHA-256 and both labels, never the input); 0: none"),
});

/** Where the models come from: the variable's JSON, or a file (reloaded when it changes). */
function readModels(
  parsed: { GATEWAY_MODELS?: string | undefined; GATEWAY_MODELS_FILE?: string | undefined },
  defaults: ModelDefaults,
): { models: ModelConfig[]; file: ModelsFile | undefined } {
  if (parsed.GATEWAY_MODELS !== undefined && parsed.GATEWAY_MODELS_FILE !== undefined) {
    throw new Error('invalid configuration: set GATEWAY_MODELS or GATEWAY_MODELS_FILE, not both');
  }
  if (parsed.GATEWAY_MODELS !== undefined) return { models: parseModels(parsed.GATEWAY_MODELS, 'GATEWAY_MODELS', defaults), file: undefined };
  if (parsed.GATEWAY_MODELS_FILE !== undefined) {
    const file = { path: parsed.GATEWAY_MODELS_FILE, source: 'GATEWAY_MODELS_FILE', defaults };
    return { models: readModelsFile(file.path, file.source, defaults), file };
  }
  const file = { path: DEFAULT_MODELS_FILE, source: DEFAULT_MODELS_FILE, defaults };
  if (!existsSync(file.path)) throw new Error('invalid configuration: set GATEWAY_MODELS or GATEWAY_MODELS_FILE (no models file in the checkout)');
  return { models: readModelsFile(file.path, file.source, defaults), file };
}

/** True for addresses only this machine reaches: `localhost`, 127.0.0.0/8, `::1`. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** `https://a.example, http://localhost:5173` → the origins, each checked to be exactly an origin. */
function parseOrigins(text: string): string[] {
  const origins = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || parsed.origin !== origin || !/^https?:$/.test(parsed.protocol)) {
      throw new Error(`invalid configuration: GATEWAY_CORS_ORIGINS: '${origin}' is not an origin like https://app.example.com (scheme, host, optional port; no path)`);
    }
  }
  return origins;
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
 * every problem together. Adding a model is configuration only: a new key in the models JSON (with
 * its aliases, if it has seed-style routes); the code names no model.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const parsed = parseEnv(gatewaySettingsSchema, env);
  const { models: modelConfigs, file: modelsFile } = readModels(parsed, {
    timeoutMs: parsed.GATEWAY_TIMEOUT_MS,
    attemptTimeoutMs: parsed.GATEWAY_ATTEMPT_TIMEOUT_MS,
    maxTimeoutMs: parsed.GATEWAY_MAX_TIMEOUT_MS,
  });
  // Node refuses a header deadline longer than the whole-request one.
  if (parsed.GATEWAY_HEADERS_TIMEOUT_MS > parsed.GATEWAY_REQUEST_TIMEOUT_MS) {
    throw new Error('invalid configuration: GATEWAY_HEADERS_TIMEOUT_MS: must not exceed GATEWAY_REQUEST_TIMEOUT_MS');
  }
  if (parsed.GATEWAY_MAX_INFLIGHT_BODY_BYTES < parsed.GATEWAY_MAX_BODY_BYTES) {
    throw new Error('invalid configuration: GATEWAY_MAX_INFLIGHT_BODY_BYTES: must be at least GATEWAY_MAX_BODY_BYTES');
  }
  const clientBodyBytes =
    parsed.GATEWAY_CLIENT_MAX_BODY_BYTES ?? Math.max(parsed.GATEWAY_MAX_BODY_BYTES, Math.floor(parsed.GATEWAY_MAX_INFLIGHT_BODY_BYTES / 8));
  if (clientBodyBytes < parsed.GATEWAY_MAX_BODY_BYTES || clientBodyBytes > parsed.GATEWAY_MAX_INFLIGHT_BODY_BYTES) {
    throw new Error('invalid configuration: GATEWAY_CLIENT_MAX_BODY_BYTES: must be between GATEWAY_MAX_BODY_BYTES and GATEWAY_MAX_INFLIGHT_BODY_BYTES');
  }
  if (parsed.GATEWAY_CLIENT_MAX_CONNECTIONS > parsed.GATEWAY_MAX_CONNECTIONS) {
    throw new Error('invalid configuration: GATEWAY_CLIENT_MAX_CONNECTIONS: must not exceed GATEWAY_MAX_CONNECTIONS');
  }
  // Admin surfaces off loopback only behind a key (lessons of TorchServe's and Ray's advisories).
  if (!isLoopback(parsed.GATEWAY_ADMIN_HOST) && parsed.GATEWAY_ADMIN_API_KEY_SHA256 === undefined) {
    throw new Error(
      `invalid configuration: GATEWAY_ADMIN_HOST: ${parsed.GATEWAY_ADMIN_HOST} is not loopback, so GATEWAY_ADMIN_API_KEY_SHA256 is required (pnpm gateway:key --admin)`,
    );
  }
  const corsOrigins = parseOrigins(parsed.GATEWAY_CORS_ORIGINS ?? '');
  const rate = parsed.GATEWAY_CLIENT_RATE_PER_SECOND;
  return deepFreeze({
    port: parsed.GATEWAY_PORT,
    host: parsed.GATEWAY_HOST,
    adminPort: parsed.GATEWAY_ADMIN_PORT,
    adminHost: parsed.GATEWAY_ADMIN_HOST,
    logLevel: parsed.GATEWAY_LOG_LEVEL,
    logLinesPerSecond: parsed.GATEWAY_LOG_LINES_PER_SECOND,
    models: modelConfigs,
    modelsFile,
    resolveIntervalMs: parsed.GATEWAY_RESOLVE_INTERVAL_MS,
    healthIntervalMs: parsed.GATEWAY_HEALTH_INTERVAL_MS,
    healthTimeoutMs: parsed.GATEWAY_HEALTH_TIMEOUT_MS,
    apiDocumentRefreshMs: parsed.GATEWAY_OPENAPI_REFRESH_MS,
    apiDocumentTimeoutMs: parsed.GATEWAY_OPENAPI_TIMEOUT_MS,
    ejectionBaseMs: parsed.GATEWAY_EJECTION_MS,
    timeoutMs: parsed.GATEWAY_TIMEOUT_MS,
    attemptTimeoutMs: parsed.GATEWAY_ATTEMPT_TIMEOUT_MS,
    upstreamIdleTimeoutMs: parsed.GATEWAY_UPSTREAM_IDLE_TIMEOUT_MS,
    maxRetries: parsed.GATEWAY_MAX_RETRIES,
    maxBodyBytes: parsed.GATEWAY_MAX_BODY_BYTES,
    maxInflightBodyBytes: parsed.GATEWAY_MAX_INFLIGHT_BODY_BYTES,
    headersTimeoutMs: parsed.GATEWAY_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: parsed.GATEWAY_REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: parsed.GATEWAY_KEEPALIVE_TIMEOUT_MS,
    maxConnections: parsed.GATEWAY_MAX_CONNECTIONS,
    maxHeaderBytes: parsed.GATEWAY_MAX_HEADER_BYTES,
    trustedProxies: parsed.GATEWAY_TRUSTED_PROXIES ?? [],
    apiKeysFile: parsed.GATEWAY_API_KEYS_FILE,
    adminKeySha256: parsed.GATEWAY_ADMIN_API_KEY_SHA256?.toLowerCase(),
    corsOrigins,
    clientLimits: {
      maxConcurrency: parsed.GATEWAY_CLIENT_MAX_CONCURRENCY,
      maxBodyBytes: clientBodyBytes,
      maxConnections: parsed.GATEWAY_CLIENT_MAX_CONNECTIONS,
      ratePerSecond: rate,
      burst: parsed.GATEWAY_CLIENT_BURST ?? Math.max(1, rate * 2),
    },
    drainTimeoutMs: parsed.GATEWAY_DRAIN_TIMEOUT_MS,
    shadow: {
      maxConcurrency: parsed.GATEWAY_SHADOW_MAX_CONCURRENCY,
      maxBytes: parsed.GATEWAY_SHADOW_MAX_BYTES,
      maxAnswerBytes: parsed.GATEWAY_SHADOW_MAX_ANSWER_BYTES,
      timeoutMs: parsed.GATEWAY_SHADOW_TIMEOUT_MS,
      disagreementLogsPerMinute: parsed.GATEWAY_SHADOW_DISAGREEMENT_LOGS_PER_MINUTE,
    },
  });
}

/** One row of the configuration reference. */
export interface SettingReference {
  variable: string;
  default: string | undefined;
  meaning: string;
}

/** The gateway's configuration reference, from its schema (docs/configuration.md is generated from it). */
export function gatewaySettingsReference(): SettingReference[] {
  return Object.entries(gatewaySettingsSchema.shape).map(([variable, schema]) => {
    const parsed = schema.safeParse(undefined);
    return {
      variable,
      default: parsed.success && parsed.data !== undefined ? String(parsed.data) : undefined,
      meaning: schema.description ?? '',
    };
  });
}
