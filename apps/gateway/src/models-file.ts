import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** One `http://host:port` a backend's replicas are reached at; `hostname` may resolve to many IPs. */
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

/** One deployment of a model: a set of replicas scaled on its own, and its share of the model's requests. */
export interface BackendConfig {
  /** Names it in `x-modeldock-backend`, metrics and listings. */
  readonly name: string;
  readonly upstreams: readonly UpstreamAddress[];
  /** Its share is `weight` over the sum of the model's weights; 0: only pinned or shadow requests. */
  readonly weight: number;
}

/** A copy of a share of the model's requests, sent to one backend after the client has its answer. */
export interface ShadowConfig {
  readonly backend: string;
  /** Share of the requests served by the other backends that are copied, 0 to 100. */
  readonly percent: number;
}

/** Where one model's backends live and how to talk to them. */
export interface ModelConfig {
  readonly name: string;
  /** At least one; the single-`upstream` form is one backend named {@link DEFAULT_BACKEND}. */
  readonly backends: readonly BackendConfig[];
  readonly shadow: ShadowConfig | undefined;
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

/** The name of the one backend of a model configured with `upstream`. */
export const DEFAULT_BACKEND = 'default';

/** OIP readiness, which every modeldock model service answers. */
export const DEFAULT_READY_PATH = '/v2/health/ready';

/** Model names become a path segment, so they stay within the characters that never need escaping. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Backend names travel in a header and a metric label: short and plain. */
const BACKEND_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Paths the gateway routes itself, which an alias must not shadow. */
const RESERVED_PATH = /^\/(models|v1|v2|healthz|readyz|metrics)(\/|$)/i;

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
  .union([z.string(), z.array(z.string()).min(1)], { error: 'must be a URL, a comma-separated list of URLs, or a list of them' })
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

const backendSchema = z.strictObject({
  name: z.string({ error: 'required: the name requests pin and listings show' }).regex(BACKEND_NAME, 'letters, digits, ".", "_" and "-", at most 63'),
  // Optional here so that a missing one gets a message saying what a backend needs.
  upstream: upstreamList.optional(),
  weight: z
    .number({ error: (issue) => (issue.input === undefined ? 'required: its share of the requests (0 for none)' : 'must be a number') })
    .min(0, 'must not be negative'),
});

const shadowSchema = z.strictObject({
  backend: z.string({ error: 'required: the backend the copies go to' }),
  percent: z.number({ error: 'required: the share of requests copied, 0 to 100' }).min(0, 'must be 0 to 100').max(100, 'must be 0 to 100'),
});

const modelSchema = z
  .strictObject({
    upstream: upstreamList.optional(),
    backends: z.array(backendSchema).min(1, 'list at least one backend').optional(),
    shadow: shadowSchema.optional(),
    readyPath: z.string().regex(/^\/\S*$/, 'must be an absolute path').default(DEFAULT_READY_PATH),
    timeoutMs: z.number().int().positive().optional(),
    attemptTimeoutMs: z.number().int().positive().optional(),
    maxTimeoutMs: z.number().int().positive().optional(),
    aliases: z.array(aliasSchema).default([]),
  })
  .superRefine((model, ctx) => {
    if (model.upstream !== undefined && model.backends !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['backends'], message: 'set `upstream` (one backend) or `backends`, not both' });
    }
    if (model.upstream === undefined && model.backends === undefined) {
      ctx.addIssue({ code: 'custom', message: 'needs `upstream` (http://host:port) or `backends` ([{"name", "upstream", "weight"}])' });
    }
    const backends = model.backends ?? [];
    const names = new Map<string, number>();
    const upstreams = new Map<string, string>();
    backends.forEach((backend, index) => {
      if (names.has(backend.name)) {
        ctx.addIssue({ code: 'custom', path: ['backends', index, 'name'], message: `'${backend.name}' names another backend already` });
      }
      names.set(backend.name, index);
      if (backend.upstream === undefined) {
        ctx.addIssue({ code: 'custom', path: ['backends', index, 'upstream'], message: 'required: where its replicas are (http://host:port)' });
        return;
      }
      for (const upstream of backend.upstream) {
        const owner = upstreams.get(upstream.url);
        // Two backends over the same replicas would make their split change nothing.
        if (owner !== undefined && owner !== backend.name) {
          ctx.addIssue({ code: 'custom', path: ['backends', index, 'upstream'], message: `${upstream.url} is backend '${owner}' already` });
        }
        upstreams.set(upstream.url, backend.name);
      }
    });
    if (backends.length > 0 && backends.every((backend) => backend.weight === 0)) {
      ctx.addIssue({ code: 'custom', path: ['backends'], message: 'every weight is 0: no request could be served (give at least one backend a weight above 0)' });
    }
    const shadow = model.shadow;
    if (shadow === undefined) return;
    if (model.backends === undefined) {
      ctx.addIssue({ code: 'custom', path: ['shadow'], message: 'a shadow needs `backends`: the copies go to a backend other than the one serving' });
      return;
    }
    const target = backends.find((backend) => backend.name === shadow.backend);
    if (target === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['shadow', 'backend'],
        message: `'${shadow.backend}' is not one of the backends (${backends.map((b) => b.name).join(', ')})`,
      });
    } else if (backends.every((backend) => backend === target || backend.weight === 0)) {
      ctx.addIssue({ code: 'custom', path: ['shadow', 'backend'], message: `'${shadow.backend}' serves every request already: none would be copied to it` });
    }
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

/** Per-model settings a model entry may leave out: the gateway's own. */
export interface ModelDefaults {
  readonly timeoutMs: number;
  readonly attemptTimeoutMs: number;
  readonly maxTimeoutMs: number;
}

/**
 * The models JSON (`GATEWAY_MODELS`, or the file `GATEWAY_MODELS_FILE` names) as the gateway uses
 * it. Everything that would make a setting do nothing, silently, is refused with every problem
 * named: negative weights, weights all 0, a backend name used twice, two backends over the same
 * upstream, a backend without upstream, a shadow naming no backend (or the one that serves
 * everything), an alias of two models. `source` prefixes each problem's path.
 */
export function parseModels(text: string, source: string, defaults: ModelDefaults): ModelConfig[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`invalid configuration: ${source}: not valid JSON`);
  }
  const models = modelsSchema.safeParse(value);
  if (!models.success) {
    const problems = models.error.issues.map((issue) => [source, ...issue.path].join('.') + `: ${issue.message}`);
    throw new Error(`invalid configuration: ${problems.join('; ')}`);
  }
  return Object.entries(models.data).map(([name, model]) => {
    const timeoutMs = model.timeoutMs ?? defaults.timeoutMs;
    return {
      name,
      backends:
        model.backends?.map((backend) => ({ name: backend.name, upstreams: backend.upstream ?? [], weight: backend.weight })) ??
        [{ name: DEFAULT_BACKEND, upstreams: model.upstream ?? [], weight: 1 }],
      shadow: model.shadow,
      readyPath: model.readyPath,
      timeoutMs,
      attemptTimeoutMs: model.attemptTimeoutMs ?? defaults.attemptTimeoutMs,
      // Never shorter than the ordinary deadline: a 102 only ever lets a request wait longer.
      maxTimeoutMs: Math.max(timeoutMs, model.maxTimeoutMs ?? defaults.maxTimeoutMs),
      aliases: model.aliases,
    };
  });
}

/** Reads and parses a models file; throws naming the file when it cannot be read or used. */
export function readModelsFile(file: string, source: string, defaults: ModelDefaults): ModelConfig[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`invalid configuration: ${source}: cannot read ${file}`, { cause: err });
  }
  return parseModels(text, source, defaults);
}
