import type { RequestHandler } from 'express';
import { OPENAPI_VERSION, errorComponents, type OpenApiDocument, type Paths } from '@modeldock/service-kit';
import { mergePaths, runExample, type ApiContext, type ApiExample } from './api/context.js';
import { OIP_TAG } from './api/open-inference.js';
import { OPENAI_TAG } from './api/openai.js';
import { TF_SERVING_TAG } from './api/tf-serving.js';
import type { DataPlane } from './data-plane.js';
import { BUILT_IN_PLUGINS, type ModelServerPlugin } from './plugins.js';
import type { ServerInfo } from './routes/options.js';

/** Where every model server (and the gateway) serves its OpenAPI document. */
export const OPENAPI_PATH = '/openapi.json';

const SERVICE_TAG = 'Service';

/** The server's own routes: this document and the Prometheus metrics. */
function servicePaths(): Paths {
  const tags = [SERVICE_TAG];
  return {
    [OPENAPI_PATH]: {
      get: { tags, summary: 'This document (OpenAPI 3.1)', responses: { '200': { description: 'The document.', content: { 'application/json': { schema: { type: 'object' } } } } } },
    },
    '/metrics': {
      get: {
        tags,
        summary: 'Prometheus metrics (never routed by the gateway)',
        responses: { '200': { description: 'Prometheus text format 0.0.4.', content: { 'text/plain': { schema: { type: 'string' } } } } },
      },
    },
  };
}

/**
 * The OpenAPI 3.1 document of a model server: every route of every plug-in that serves this model,
 * described from its signature (inputs, outputs, datatypes, shapes, labels, versions and version
 * labels, the work limits), with the model's real answers to an example request once it has given
 * them. `x-modeldock-model` summarises the model for tools (the gateway's playground reads it).
 */
export function openApiDocument(context: ApiContext, plugins: readonly ModelServerPlugin[]): OpenApiDocument {
  const { plane, server } = context;
  const model = plane.model;
  const own = plugins.filter((plugin) => plugin.openapi !== undefined && !BUILT_IN_PLUGINS.includes(plugin));
  const labels = Object.entries(plane.versionLabels).map(([label, version]) => `${label} → ${version}`);
  return {
    openapi: OPENAPI_VERSION,
    info: {
      title: `${plane.name} (modeldock model service)`,
      version: server.version,
      description:
        `Model '${plane.name}' (${model.kind}), versions ${plane.versions.map((runtime) => runtime.version).join(', ')}, default ${model.version}` +
        `${labels.length === 0 ? '' : `, labels ${labels.join(', ')}`}. Errors are {"error": "<message>"} (OpenAI's shape on /v1/embeddings and /v1/models). ` +
        `Limits per request: ${plane.limits.maxRows} rows, ${plane.limits.maxTextLength} characters per text.`,
    },
    tags: [
      { name: OIP_TAG, description: 'KServe v2 / Open Inference Protocol REST (inference_rest.md).' },
      { name: TF_SERVING_TAG, description: 'TensorFlow Serving’s REST API (routes are case-insensitive; versions are digits).' },
      { name: OPENAI_TAG, description: 'OpenAI-compatible model list and embeddings.' },
      ...own.map((plugin) => ({ name: plugin.name, description: `Routes of ${plane.name}’s own.` })),
      { name: SERVICE_TAG, description: 'The service itself.' },
    ],
    paths: mergePaths([...plugins.map((plugin) => plugin.openapi?.(context) ?? {}), servicePaths()]),
    components: { responses: errorComponents() },
    'x-modeldock-model': {
      name: plane.name,
      kind: model.kind,
      versions: plane.versions.map((runtime) => runtime.version),
      defaultVersion: model.version,
      versionLabels: { ...plane.versionLabels },
      ...(model.labels === undefined ? {} : { labels: [...model.labels] }),
    },
  };
}

/**
 * `GET /openapi.json`: the document, built once the model is warm with its real answer to the
 * example request (computed once, then the text is kept); before that, or while the example cannot
 * be run (a full queue), the document without example answers (built once too).
 */
export function openApiHandler(plane: DataPlane, plugins: readonly ModelServerPlugin[], server: ServerInfo): RequestHandler {
  let text: string | undefined;
  let withoutExamples: string | undefined;
  let example: Promise<ApiExample> | undefined;
  return async (req, res) => {
    if (text === undefined && plane.ready()) {
      example ??= runExample(plane);
      try {
        text = JSON.stringify(openApiDocument({ plane, server, example: await example }, plugins));
      } catch (err) {
        example = undefined;
        req.log?.warn({ err }, 'the API document’s example request failed; answering without examples');
      }
    }
    withoutExamples ??= text === undefined ? JSON.stringify(openApiDocument({ plane, server, example: undefined }, plugins)) : undefined;
    res.type('application/json').send(text ?? withoutExamples);
  };
}
