import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cidrList, logLevel, nonNegativeInt, parseEnv, port, positiveInt } from '@modeldock/service-kit';
import { z } from 'zod';

/** One `http://host:port` a model's replicas are reached at; `hostname` may resolve to many IPs. */
export interface UpstreamAddress {
  /** As configured, normalised (`http://my-model:8501`). */
  readonly url: string;
  /** Without IPv6 brackets, ready for `dns.lookup`. */
  readonly hostname: string;
  readonly port: number;
}

/** A path that a model answers besides its protocol routes, e.g. a seed-style `POST /classify`. */
export interface AliasConfig {
  /** Upper case, e.g. `POST`. */
  readonly method: string;
  /** Exact path without query, e.g. `/classify`; forwarded unchanged. */
  readonly path: string;
}

/** Where one model's replicas live and how to talk to them. */
export interface ModelConfig {
  readonly name: string;
  readonly upstreams: readonly UpstreamAddress[];
  /** GET this on every replica; 200 means it may take traffic (OIP: `/v2/health/ready`). */
  readonly readyPath: string;
  /** Deadline for an upstream answer (all retries included). */
  readonly timeoutMs: number;
  /** Deadline of one attempt on one replica; past it the request is retried elsewhere (the replica ejected only when at fault). */
  readonly attemptTimeoutMs: number;
  /**
   * The longest a request may take when its replica answers `102 Processing` (the work it
   * admitted needs more than the attempt's deadline); the replica is offered it in
   * `x-modeldock-deadline-max-ms`. At least `timeoutMs`.
   */
  readonly maxTimeoutMs: number;
  readonly aliases: readonly AliasConfig[];
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
  readonly models: readonly ModelConfig[];
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
/** OIP readiness, which every modeldock model service answers. */
export const DEFAULT_READY_PATH = '/v2/health/ready';

/** Model names become a path segment, so they stay within the characters that never need escaping. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Paths the gateway routes itself, which an alias must not shadow. */
const RESERVED_PATH = /^\/(models|v1|v2|healthz|readyz|metrics)(\/|$)/i;

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
  /** JSON: `{"<model>": {"upstream": "http://host:port[,http://host2:port]", "readyPath"?, "timeoutMs"?, "aliases"?}}`. */
  GATEWAY_MODELS: z.string().optional().describe('JSON, one key per model: `{"<model>": {"upstream": "http://host:port[,...]", "aliases"?: [{"method", "path"}], "readyPath"?, "timeoutMs"?, "attemptTimeoutMs"?, "maxTimeoutMs"?}}`'),
  /** Path to a JSON file of the same shape as GATEWAY_MODELS. */
  GATEWAY_MODELS_FILE: z.string().optional().describe('a file with the same JSON (not together with `GATEWAY_MODELS`); default: `deploy/gateway/models.local.json` of the checkout'),
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
  GATEWAY_DRAIN_TIMEOUT_MS: positiveInt().default(10_000).describe('how long in-flight requests get after SIGTERM'),
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

const aliasSchema = z.strictObject({
  method: z
    .string()
    .regex(/^[A-Za-z]+$/, 'must be an HTTP method')
    .transform((method) => method.toUpperCase()),
  path: z
    .string()
    .regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$/, 'must be an absolute path without query or percent-encoding')
    .refine((path) => !RESERVED_PATH.test(path), 'is a path the gateway routes itself')
    .refine((path) => !/\/\/|\/\.\.?(\/|$)/.test(path), 'must not contain empty or dot segments'),
});

const modelSchema = z.strictObject({
  upstream: upstreamList,
  readyPath: z.string().regex(/^\/\S*$/, 'must be an absolute path').default(DEFAULT_READY_PATH),
  timeoutMs: z.number().int().positive().optional(),
  attemptTimeoutMs: z.number().int().positive().optional(),
  maxTimeoutMs: z.number().int().positive().optional(),
  aliases: z.array(aliasSchema).default([]),
});

const modelsSchema = z.record(z.string(), modelSchema).superRefine((models, ctx) => {
  const names = Object.keys(models);
  if (names.length === 0) ctx.addIssue({ code: 'custom', message: 'configure at least one model' });
  for (const name of names.filter((n) => !MODEL_NAME.test(n))) {
    ctx.addIssue({ code: 'custom', path: [name], message: 'model names use letters, digits, ".", "_" and "-"' });
  }
  // One alias, one model: the request names no model, so the alias alone must decide.
  const owners = new Map<string, string>();
  for (const [name, model] of Object.entries(models)) {
    model.aliases.forEach((alias, index) => {
      const key = `${alias.method} ${alias.path}`;
      const owner = owners.get(key);
      if (owner !== undefined) {
        ctx.addIssue({ code: 'custom', path: [name, 'aliases', index], message: `${key} is already an alias of '${owner}'` });
      }
      owners.set(key, name);
    });
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
  if (text === undefined) {
    source = DEFAULT_MODELS_FILE;
    try {
      text = readFileSync(DEFAULT_MODELS_FILE, 'utf8');
    } catch (err) {
      throw new Error('invalid configuration: set GATEWAY_MODELS or GATEWAY_MODELS_FILE (no models file in the checkout)', {
        cause: err,
      });
    }
  }
  try {
    return { source, value: JSON.parse(text) };
  } catch {
    throw new Error(`invalid configuration: ${source}: not valid JSON`);
  }
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
  const { source, value } = readModelsJson(parsed);
  const models = modelsSchema.safeParse(value);
  if (!models.success) {
    const problems = models.error.issues.map((issue) => [source, ...issue.path].join('.') + `: ${issue.message}`);
    throw new Error(`invalid configuration: ${problems.join('; ')}`);
  }
  const modelConfigs: ModelConfig[] = Object.entries(models.data).map(([name, model]) => {
    const timeoutMs = model.timeoutMs ?? parsed.GATEWAY_TIMEOUT_MS;
    return {
      name,
      upstreams: model.upstream,
      readyPath: model.readyPath,
      timeoutMs,
      attemptTimeoutMs: model.attemptTimeoutMs ?? parsed.GATEWAY_ATTEMPT_TIMEOUT_MS,
      // Never shorter than the ordinary deadline: a 102 only ever lets a request wait longer.
      maxTimeoutMs: Math.max(timeoutMs, model.maxTimeoutMs ?? parsed.GATEWAY_MAX_TIMEOUT_MS),
      aliases: model.aliases,
    };
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
