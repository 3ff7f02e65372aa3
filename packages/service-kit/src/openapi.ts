/**
 * The parts of an OpenAPI 3.1 document that the model servers and the gateway write alike: the types,
 * zod schemas as JSON Schema 2020-12 (OpenAPI 3.1's schema dialect), and the error answers of the
 * catalogue (errors.ts) with the headers they carry. Each server builds its own paths; nothing here
 * names a model.
 */
import { z } from 'zod';

/** The OpenAPI version every document declares. */
export const OPENAPI_VERSION = '3.1.0';

/** A JSON Schema (2020-12), as OpenAPI 3.1 embeds it. */
export type JsonSchema = Record<string, unknown>;

/** OpenAPI's Media Type Object, as these documents use it. */
export interface MediaType {
  schema?: JsonSchema;
  example?: unknown;
  examples?: Record<string, { summary?: string; value: unknown }>;
}

/** OpenAPI's Header Object. */
export interface Header {
  description?: string;
  schema: JsonSchema;
}

/** OpenAPI's Response Object, or a reference to one in `components.responses`. */
export type Response = { description: string; headers?: Record<string, Header | Ref>; content?: Record<string, MediaType> } | Ref;

/** A `$ref` to another part of the document. */
export interface Ref {
  $ref: string;
}

/** OpenAPI's Parameter Object (path and header parameters here). */
export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  description?: string;
  schema: JsonSchema;
}

/** OpenAPI's Operation Object. */
export interface Operation {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: Parameter[];
  requestBody?: { required?: boolean; description?: string; content: Record<string, MediaType> };
  responses: Record<string, Response>;
  security?: Record<string, string[]>[];
}

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** OpenAPI's Path Item Object: operations by method, or a `$ref` to another path item. */
export type PathItem = Partial<Record<HttpMethod, Operation>> & { summary?: string; description?: string; parameters?: Parameter[]; $ref?: string };

/** Paths to their items. */
export type Paths = Record<string, PathItem>;

/** An OpenAPI 3.1 document. */
export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  tags?: { name: string; description?: string }[];
  paths: Paths;
  components?: {
    schemas?: Record<string, JsonSchema>;
    responses?: Record<string, Response>;
    headers?: Record<string, Header>;
    securitySchemes?: Record<string, Record<string, unknown>>;
  };
  security?: Record<string, string[]>[];
  [extension: `x-${string}`]: unknown;
}

/**
 * A zod schema as JSON Schema 2020-12: `input` describes what a route accepts (defaults optional),
 * `output` what it answers (objects closed, as a response never carries other fields). The
 * `$schema` keyword is dropped: OpenAPI 3.1 schemas default to that dialect.
 */
export function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const converted = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  delete converted.$schema;
  return converted;
}

/** `{"error": "<message>"}`: every error body but the OpenAI routes'. */
export const errorBody = z.object({ error: z.string() }).meta({ description: 'What went wrong, in one sentence.' });

/** OpenAI's error body, on `/v1/embeddings` and `/v1/models` (see openAiErrorHandler). */
export const openAiErrorBodySchema = z.object({
  error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string().nullable() }),
});

/** `Retry-After` (RFC 9110 §10.2.3) as the catalogue sends it: whole seconds. */
const retryAfter: Header = { description: 'Seconds to wait before trying again.', schema: { type: 'integer', minimum: 0 } };

/** The error answers of the catalogue, by status: what each means and the headers it carries. */
export const ERROR_STATUSES: Readonly<Record<number, { description: string; headers?: Record<string, Header> }>> = {
  400: { description: 'Invalid input: malformed JSON, a body that does not match the schema or the model’s signature, a text over the limits, an ambiguous path.' },
  401: {
    description: 'No API key, or an unknown one (access control on).',
    headers: { 'WWW-Authenticate': { description: 'Bearer challenge (RFC 6750 §3).', schema: { type: 'string' } } },
  },
  403: { description: 'The API key does not cover this model.' },
  404: { description: 'Unknown model, version, label or route.' },
  405: { description: 'The route exists for another method.' },
  408: { description: 'The request (headers or body) did not arrive in time.' },
  413: { description: 'The body is over the size limit.' },
  415: { description: 'A body in a Content-Encoding that cannot be decoded.' },
  417: { description: 'An Expect header other than 100-continue.' },
  429: { description: 'This client is over its share (requests in flight, rate, queued rows or body bytes).', headers: { 'Retry-After': retryAfter } },
  431: { description: 'The request’s header section is too large.' },
  502: { description: 'No replica could answer.' },
  503: { description: 'Not ready, draining, or the queue is full: load is shed at once.', headers: { 'Retry-After': retryAfter } },
  504: { description: 'The request’s deadline passed before it was answered.' },
};

/** The name of an error answer in `components.responses`: `Error429`, `OpenAiError429`. */
function errorName(status: number, body: 'plain' | 'openai'): string {
  return `${body === 'plain' ? 'Error' : 'OpenAiError'}${status}`;
}

/**
 * The error answer for `status` from the catalogue, with its headers and body: `plain` is
 * `{"error": string}`, `openai` OpenAI's `{"error": {message, type, param, code}}`.
 * `extraHeaders` adds headers to the catalogue's (the gateway's RateLimit fields on a 429).
 */
export function errorResponseObject(status: number, body: 'plain' | 'openai' = 'plain', extraHeaders: Record<string, Header | Ref> = {}): Response {
  const known = ERROR_STATUSES[status];
  if (known === undefined) throw new Error(`status ${status} is not in the error catalogue`);
  const headers = { ...known.headers, ...extraHeaders };
  return {
    description: known.description,
    ...(Object.keys(headers).length === 0 ? {} : { headers }),
    content: { 'application/json': { schema: jsonSchema(body === 'plain' ? errorBody : openAiErrorBodySchema, 'output') } },
  };
}

/** A reference to the catalogue's error answer for `status` in `components.responses` (see {@link errorComponents}). */
export function errorResponse(status: number, body: 'plain' | 'openai' = 'plain'): Ref {
  if (ERROR_STATUSES[status] === undefined) throw new Error(`status ${status} is not in the error catalogue`);
  return { $ref: `#/components/responses/${errorName(status, body)}` };
}

/** Every error answer of the catalogue in both bodies, for a document's `components.responses`. */
export function errorComponents(): Record<string, Response> {
  return Object.fromEntries(
    Object.keys(ERROR_STATUSES).flatMap((key) => {
      const status = Number(key);
      return (['plain', 'openai'] as const).map((body) => [errorName(status, body), errorResponseObject(status, body)]);
    }),
  );
}

/** A JSON answer described by a zod schema (closed, as `output`), with a recorded example when there is one. */
export function jsonResponse(description: string, schema: z.ZodType, example?: unknown, headers?: Record<string, Header | Ref>): Response {
  return {
    description,
    ...(headers === undefined ? {} : { headers }),
    content: { 'application/json': { schema: jsonSchema(schema, 'output'), ...(example === undefined ? {} : { example }) } },
  };
}

/** A JSON request body described by a zod schema (as `input`), with an example. */
export function jsonRequestBody(schema: z.ZodType, example?: unknown, description?: string): NonNullable<Operation['requestBody']> {
  return {
    required: true,
    ...(description === undefined ? {} : { description }),
    content: { 'application/json': { schema: jsonSchema(schema, 'input'), ...(example === undefined ? {} : { example }) } },
  };
}

/**
 * A JSON Pointer segment for a `$ref` fragment (`#/paths/<segment>`): `~` and `/` escaped (RFC 6901 §3),
 * then percent-encoded as a URI fragment requires (RFC 6901 §6: `{version}` is `%7Bversion%7D`).
 */
export function pointerSegment(text: string): string {
  return encodeURIComponent(text.replaceAll('~', '~0').replaceAll('/', '~1'));
}

/**
 * Answers both servers give in the same shape: OIP server metadata and health (inference_rest.md),
 * OpenAI's model list. Each server answers them for itself (a model service, or the gateway).
 */
export const protocolSchemas = {
  /** OIP `$metadata_server_response`. */
  serverMetadata: z.object({ name: z.string(), version: z.string(), extensions: z.array(z.string()) }),
  /** OIP `GET /v2/health/live`. */
  live: z.object({ live: z.boolean() }),
  /** OIP `GET /v2/health/ready`: 200 ready, 503 not. */
  ready: z.object({ ready: z.boolean() }),
  /** OpenAI's model object. */
  openAiModel: z.object({ id: z.string(), object: z.literal('model'), created: z.number().int(), owned_by: z.string() }),
};

/** OpenAI `GET /v1/models`. */
export const modelListSchema = z.object({ object: z.literal('list'), data: z.array(protocolSchemas.openAiModel) });
