/**
 * The gateway's OpenAPI 3.1 document, built from configuration and the model services' own documents,
 * never from code naming a model: every path of a model's document that the gateway's router sends to
 * that model (directly, and under `/models/<model>`), the configured aliases, OpenAI's body-routed
 * `/v1/embeddings` merged over the models, the gateway's own routes and its errors (401/403 with access
 * control, 429 with the RateLimit fields, 413, 502, 503, 504...), and the security schemes.
 */
import {
  HTTP_METHODS,
  OPENAPI_VERSION,
  errorComponents,
  errorResponse,
  errorResponseObject,
  pointerSegment,
  type Header,
  type HttpMethod,
  type OpenApiDocument,
  type Operation,
  type Parameter,
  type PathItem,
  type Paths,
  type Response,
} from '@modeldock/service-kit';
import type { ModelDocuments } from './model-documents.js';

/** What the router says of a request: routed to `model`, to the model its body names (`body`), or to none. */
export type RouteOf = (method: string, path: string) => { model: string } | 'body' | undefined;

/** What the document is built from; everything but the model documents comes from configuration. */
export interface ApiDocumentOptions {
  /** The gateway's version. */
  version: string;
  /** The configured models and their aliases. */
  models: readonly { name: string; aliases: readonly { method: string; path: string }[] }[];
  /** The gateway's router. */
  routeOf: RouteOf;
  /** The gateway's own routes, documented where they are answered. */
  own: Paths;
  /** Whether access control is on: the security schemes and the 401/403 answers. */
  accessControl: boolean;
}

/** The headers of draft-ietf-httpapi-ratelimit-headers that the admit stage sends on every model route. */
const RATE_LIMIT_HEADERS: Record<string, Header> = {
  'RateLimit-Policy': { description: 'The client’s quotas (structured field): its token bucket and its requests in flight.', schema: { type: 'string' } },
  RateLimit: { description: 'What is left of each quota, and when the bucket is full again.', schema: { type: 'string' } },
};

/** OpenAI's paths answer errors in OpenAI's shape. */
const OPENAI_BODY_PATHS = new Set(['/v1/embeddings', '/v1/models']);

/** The gateway's own errors on a route it forwards (the model service's stay as its document says). */
function gatewayErrors(accessControl: boolean, body: 'plain' | 'openai'): Record<string, Response> {
  const prefix = body === 'plain' ? 'Gateway' : 'GatewayOpenAi';
  return {
    ...(accessControl ? { '401': errorResponse(401, body), '403': errorResponse(403, body) } : {}),
    '408': errorResponse(408, body),
    '413': errorResponse(413, body),
    '429': { $ref: `#/components/responses/${prefix}429` },
    '431': errorResponse(431, body),
    '502': errorResponse(502, body),
    '503': errorResponse(503, body),
    '504': errorResponse(504, body),
  };
}

/** A path with each `{parameter}` replaced by a value it may take (the first of its enum), for asking the router. */
function samplePath(path: string, parameters: readonly Parameter[]): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const values = parameters.find((parameter) => parameter.name === name)?.schema.enum as (string | number)[] | undefined;
    return encodeURIComponent(String(values?.[0] ?? name));
  });
}

function operationsOf(item: PathItem): [HttpMethod, Operation][] {
  return HTTP_METHODS.flatMap((method) => (item[method] === undefined ? [] : [[method, item[method]] as [HttpMethod, Operation]]));
}

/** An operation of a model's document as the gateway answers it: tagged with the model, with the gateway's errors. */
function forwarded(model: string, operation: Operation, errors: Record<string, Response>): Operation {
  const copy = structuredClone(operation);
  copy.tags = (operation.tags ?? ['Other']).map((tag) => `${model}: ${tag}`);
  copy.responses = { ...copy.responses, ...errors };
  return copy;
}

/** OpenAI's `/v1/embeddings` over every model: one request schema per model (its `model` names it), their answers as alternatives. */
function mergeEmbeddings(operations: readonly [string, Operation][], errors: Record<string, Response>): Operation | undefined {
  if (operations.length === 0) return undefined;
  const schemaOf = (operation: Operation | Response | undefined) => {
    const target = operation !== undefined && 'requestBody' in operation ? operation.requestBody : operation;
    return (target as { content?: Record<string, { schema?: unknown }> } | undefined)?.content?.['application/json']?.schema;
  };
  const embedders = operations.filter(([, operation]) => operation.responses['200'] !== undefined);
  const [first] = embedders.length > 0 ? embedders : operations;
  const successes = embedders.map(([, operation]) => schemaOf(operation.responses['200']));
  const success = embedders[0]?.[1].responses['200'] as { description: string; headers?: unknown; content: Record<string, { example?: unknown }> } | undefined;
  return {
    tags: ['OpenAI embeddings'],
    summary: 'Embeddings from the model the body names',
    description: `Models: ${operations.map(([model, operation]) => `'${model}' (${operation.summary ?? ''})`).join(', ')}. The gateway reads 'model' from the body as it arrives and forwards the request to that model's replicas.`,
    requestBody: {
      required: true,
      content: { 'application/json': { schema: { anyOf: operations.map(([, operation]) => schemaOf(operation)) }, example: first?.[1].requestBody?.content['application/json']?.example } },
    },
    responses: {
      ...(success === undefined
        ? {}
        : {
            '200': {
              ...success,
              content: { 'application/json': { schema: { anyOf: successes }, example: success.content['application/json']?.example } },
            } as Response,
          }),
      '400': errorResponse(400, 'openai'),
      '404': errorResponse(404, 'openai'),
      '415': errorResponse(415, 'openai'),
      ...errors,
    },
  };
}

/**
 * The combined document for a caller who may use `visible` models: each model's paths as the router
 * routes them, from `documents` (a model without one yet is named in the description), then the
 * gateway's own routes. Model documents are not changed.
 */
export function combineDocuments(options: ApiDocumentOptions, documents: ReadonlyMap<string, OpenApiDocument>, visible: (model: string) => boolean): OpenApiDocument {
  const paths: Paths = {};
  const tags: { name: string; description?: string }[] = [];
  const missing: string[] = [];
  const embeddings: [string, Operation][] = [];
  for (const model of options.models) {
    if (!visible(model.name)) continue;
    const document = documents.get(model.name);
    if (document === undefined) {
      missing.push(model.name);
      continue;
    }
    for (const tag of document.tags ?? []) tags.push({ name: `${model.name}: ${tag.name}`, ...(tag.description === undefined ? {} : { description: tag.description }) });
    for (const [path, item] of Object.entries(document.paths)) {
      const parameters = item.parameters ?? [];
      const sample = samplePath(path, parameters);
      const body = OPENAI_BODY_PATHS.has(path) ? 'openai' : 'plain';
      const errors = gatewayErrors(options.accessControl, body);
      const direct: PathItem = {};
      const prefixed: PathItem = {};
      for (const [method, operation] of operationsOf(item)) {
        const verb = method.toUpperCase();
        const routed = options.routeOf(verb, sample);
        if (routed === 'body') embeddings.push([model.name, operation]);
        else if (routed?.model === model.name) direct[method] = forwarded(model.name, operation, errors);
        if ((options.routeOf(verb, `/models/${encodeURIComponent(model.name)}${sample}`) as { model?: string } | undefined)?.model === model.name) {
          prefixed[method] = forwarded(model.name, operation, errors);
        }
      }
      const withParameters = (methods: PathItem): PathItem => (parameters.length === 0 ? methods : { parameters, ...methods });
      if (operationsOf(direct).length > 0) paths[path] = withParameters(direct);
      if (operationsOf(prefixed).length > 0) {
        const same = operationsOf(prefixed).every(([method]) => direct[method] !== undefined) && operationsOf(direct).length === operationsOf(prefixed).length;
        paths[`/models/${model.name}${path}`] = same ? { $ref: `#/paths/${pointerSegment(path)}` } : withParameters(prefixed);
      }
    }
    // An alias the model's document does not describe: forwarded as it comes.
    for (const alias of model.aliases) {
      const method = alias.method.toLowerCase() as HttpMethod;
      if (paths[alias.path]?.[method] !== undefined) continue;
      paths[alias.path] = {
        ...paths[alias.path],
        [method]: {
          tags: [`${model.name}: aliases`],
          summary: `An alias of ${model.name}, forwarded unchanged (its model service does not describe it)`,
          responses: { default: { description: 'What the model service answers.' }, ...gatewayErrors(options.accessControl, 'plain') },
        },
      };
    }
  }
  const merged = mergeEmbeddings(embeddings, gatewayErrors(options.accessControl, 'openai'));
  if (merged !== undefined) paths['/v1/embeddings'] = { post: merged };
  for (const [path, item] of Object.entries(options.own)) paths[path] = { ...paths[path], ...item };

  const rateLimited = (body: 'plain' | 'openai') => errorResponseObject(429, body, RATE_LIMIT_HEADERS);
  return {
    openapi: OPENAPI_VERSION,
    info: {
      title: 'modeldock gateway',
      version: options.version,
      description:
        'Every model behind this gateway, over the Open Inference Protocol v2, TensorFlow Serving REST and the OpenAI embeddings API, ' +
        'and each model’s routes again under /models/<model>. Model routes answer with x-request-id, x-served-by and the RateLimit fields. ' +
        (options.accessControl ? 'An API key is needed on every route but health, the playground and this reference’s pages; it lists only the models the key may use. ' : '') +
        (missing.length === 0 ? '' : `Not described yet (no ready replica has answered for them): ${missing.join(', ')}.`),
    },
    tags: [{ name: 'Gateway', description: 'The gateway’s own routes.' }, { name: 'OpenAI embeddings', description: 'Routed by the body’s model.' }, ...tags],
    paths,
    components: {
      responses: { ...errorComponents(), Gateway429: rateLimited('plain'), GatewayOpenAi429: rateLimited('openai') },
      ...(options.accessControl
        ? {
            securitySchemes: {
              bearer: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <API key>' },
              apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'x-api-key: <API key>' },
            },
          }
        : {}),
    },
    ...(options.accessControl ? { security: [{ bearer: [] }, { apiKey: [] }] } : {}),
  };
}

/** Kept texts of the document, one per set of visible models; few keys exist, but the map is bounded anyway. */
const MAX_CACHED = 64;

/**
 * The document's text for a caller who may use `models`: built from the model documents as they are
 * now (fetched when stale), kept until one of them changes.
 */
export function createApiDocument(options: ApiDocumentOptions, sources: ModelDocuments): (models: readonly string[]) => Promise<string> {
  const cache = new Map<string, string>();
  let cachedGeneration = -1;
  return async (models) => {
    const { documents, generation } = await sources.current();
    if (generation !== cachedGeneration) {
      cache.clear();
      cachedGeneration = generation;
    }
    const key = models.join('\n');
    let text = cache.get(key);
    if (text === undefined) {
      const visible = new Set(models);
      text = JSON.stringify(combineDocuments(options, documents, (model) => visible.has(model)));
      if (cache.size >= MAX_CACHED) cache.clear();
      cache.set(key, text);
    }
    return text;
  };
}
