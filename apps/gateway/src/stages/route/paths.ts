import { HttpError } from '@modeldock/service-kit';
import type { ModelConfig } from '../../config.js';

/** Which model a request is for, the path (with query) to send to its replica, and a label for metrics. */
export interface ModelRoute {
  readonly model: string;
  readonly path: string;
  /** The route template (`/v2/models/:model/infer`): a bounded metrics label, never the raw URL. */
  readonly template: string;
}

/** What the router needs from the configuration: each model's name and aliases. */
export type RoutingTable = readonly Pick<ModelConfig, 'name' | 'aliases'>[];

/** Compiled once per app from the configuration; see {@link parseModelRoute}. */
export interface Router {
  readonly models: ReadonlySet<string>;
  /** `"POST /classify"` → model. */
  readonly aliases: ReadonlyMap<string, string>;
}

/** Builds the alias lookup; duplicate aliases were already rejected by the configuration. */
export function createRouter(models: RoutingTable): Router {
  const aliases = new Map<string, string>();
  for (const model of models) {
    for (const alias of model.aliases) aliases.set(`${alias.method} ${alias.path}`, model.name);
  }
  return { models: new Set(models.map((model) => model.name)), aliases };
}

/**
 * OIP model routes (inference_rest.md): metadata, readiness and infer, unversioned or versioned.
 * Segments are raw (still percent-encoded); they are decoded after matching.
 */
const OIP_ACTIONS = ['ready', 'infer'] as const;
const OIP = new RegExp(`^/v2/models/([^/]+)(?:/versions/([^/]+))?(?:/(${OIP_ACTIONS.join('|')}))?$`, 'i');

/**
 * TF Serving REST (http_rest_api_handler.cc; its regexes are `(?i)`): status, metadata and the
 * predict/classify/regress verbs, at an optional version or label.
 */
const TF_SERVING_VERBS = ['predict', 'classify', 'regress'] as const;
const TF_SERVING = new RegExp(`^/v1/models/([^/:]+)(?:/versions/(\\d+)|/labels/([^/:]+))?(?::(${TF_SERVING_VERBS.join('|')})|/(metadata))?$`, 'i');

/** A model service's server-level routes, reachable only under `/models/<model>/`. */
const SERVER_PATHS = new Map([
  ['/openapi.json', 'GET'],
  ['/v2', 'GET'],
  ['/v2/health/live', 'GET'],
  ['/v2/health/ready', 'GET'],
  ['/v1/models', 'GET'],
  ['/v1/embeddings', 'POST'],
]);

const GATEWAY_PREFIX = /^\/models\/([^/]+)(\/.*)?$/i;

/** A shape of path the router sends to a model, `{model}`, `{version}` and `{label}` standing for values. */
export interface RouteTemplate {
  readonly path: string;
  /** The methods it is routed for; model routes are routed whatever the method (the replica answers 405). */
  readonly methods: readonly string[];
}

/**
 * Every shape of path {@link parseModelRoute} sends to a model, written from the same lists its
 * patterns are built from: OIP and TF Serving paths, directly and under `/models/{model}`, a model
 * service's server paths under `/models/{model}`, and the configured aliases (both ways).
 */
export function modelRouteTemplates(models: RoutingTable): RouteTemplate[] {
  const any = ['GET', 'POST'];
  const oip = ['', '/versions/{version}'].flatMap((at) => ['', ...OIP_ACTIONS.map((action) => `/${action}`)].map((end) => `/v2/models/{model}${at}${end}`));
  const tf = ['', '/versions/{version}', '/labels/{label}'].flatMap((at) =>
    ['', '/metadata', ...TF_SERVING_VERBS.map((verb) => `:${verb}`)].map((end) => `/v1/models/{model}${at}${end}`),
  );
  const protocol = [...oip, ...tf];
  return [
    ...protocol.map((path) => ({ path, methods: any })),
    ...protocol.map((path) => ({ path: `/models/{model}${path}`, methods: any })),
    ...[...SERVER_PATHS].map(([path, method]) => ({ path: `/models/{model}${path}`, methods: [method] })),
    ...models.flatMap((model) =>
      model.aliases.flatMap((alias) => [
        { path: alias.path, methods: [alias.method] },
        { path: `/models/${model.name}${alias.path}`, methods: [alias.method] },
      ]),
    ),
  ];
}

/** Decodes one path segment; malformed percent-encoding is the client's mistake, a 400. */
function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw HttpError.invalidInput('malformed percent-encoding in the request path');
  }
}

/**
 * A model's public paths (same for the unprefixed form and after `/models/<model>`): OIP and TF
 * Serving inference, metadata and readiness. Returns the model the path names and a template.
 */
function protocolRoute(pathname: string): { model: string; template: string } | undefined {
  const oip = OIP.exec(pathname);
  if (oip !== null) {
    const [, model = '', version, verb] = oip;
    const template = `/v2/models/:model${version === undefined ? '' : '/versions/:version'}${verb === undefined ? '' : `/${verb.toLowerCase()}`}`;
    return { model: decodeSegment(model), template };
  }
  const tf = TF_SERVING.exec(pathname);
  if (tf !== null) {
    const [, model = '', version, label, verb, metadata] = tf;
    const at = version !== undefined ? '/versions/:version' : label !== undefined ? '/labels/:label' : '';
    const suffix = verb !== undefined ? `:${verb.toLowerCase()}` : metadata !== undefined ? '/metadata' : '';
    return { model: decodeSegment(model), template: `/v1/models/:model${at}${suffix}` };
  }
  return undefined;
}

/**
 * Maps a request to a model and upstream path, allowing only what a model publishes: its
 * inference, metadata and health routes, never the service's `/metrics` or anything else.
 * - OIP `/v2/models/<model>[/versions/<v>][/ready|/infer]` and TF Serving
 *   `/v1/models/<model>[/versions/<n>|/labels/<l>][/metadata|:predict|:classify|:regress]` pass
 *   through unchanged;
 * - a configured alias (`POST /classify`) goes to its model, unchanged;
 * - `/models/<model>/<one of those, or the service's /v2 and health routes>` → `/<rest>`.
 *
 * Prefixes match case-insensitively, as Express routes do and as TF Serving requires; model names
 * are compared after percent-decoding, exactly. Returns undefined for any other path; throws a 400
 * for malformed percent-encoding in a segment it decodes. `url` is the raw request target, which
 * the route stage has already passed through service-kit's `checkRequestTarget`.
 */
export function parseModelRoute(method: string, url: string, router: Router): ModelRoute | undefined {
  const queryStart = url.indexOf('?');
  const pathname = queryStart === -1 ? url : url.slice(0, queryStart);
  const query = queryStart === -1 ? '' : url.slice(queryStart);

  const alias = router.aliases.get(`${method} ${pathname}`);
  if (alias !== undefined) return { model: alias, path: url, template: pathname };

  const prefixed = GATEWAY_PREFIX.exec(pathname);
  if (prefixed !== null) {
    const [, rawModel = '', rest = '/'] = prefixed;
    const model = decodeSegment(rawModel);
    const template = `/models/:model${rest}`;
    // Unknown model: the caller answers 404 for the model rather than for the path.
    if (!router.models.has(model)) return { model, path: rest + query, template: '/models/:model' };
    const inner = protocolRoute(rest);
    if (inner !== undefined) {
      // The prefix picks the replicas; a path naming another model would reach a model the prefix did not name.
      return inner.model === model ? { model, path: rest + query, template: `/models/:model${inner.template}` } : undefined;
    }
    if (SERVER_PATHS.get(rest) === method || (method === 'HEAD' && SERVER_PATHS.get(rest) === 'GET')) {
      return { model, path: rest + query, template };
    }
    if (router.aliases.get(`${method} ${rest}`) === model) return { model, path: rest + query, template };
    return undefined;
  }

  const direct = protocolRoute(pathname);
  return direct === undefined ? undefined : { model: direct.model, path: url, template: direct.template };
}
