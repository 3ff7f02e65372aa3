import { QUEUE_TIME_HEADER, errorResponse, jsonRequestBody, jsonResponse, type Header, type Paths } from '@modeldock/service-kit';
import { inferenceBody, modelMetadata, serverMetadata } from '../routes/open-inference.js';
import * as schemas from '../schemas.js';
import { exampleTensors, variants, pathParameters, type ApiContext } from './context.js';
import { oipInferRequest, oipInferResponse, oipMetadataResponse } from './signature-schemas.js';

export const OIP_TAG = 'Open Inference Protocol v2';

/** Headers of every inference answer of a model server. */
export const INFERENCE_HEADERS: Record<string, Header> = {
  [QUEUE_TIME_HEADER]: { description: 'Milliseconds the request’s rows waited in the batching queue.', schema: { type: 'integer', minimum: 0 } },
};

/**
 * The OIP routes of a model server (inference_rest.md): server metadata and health, and the
 * model's metadata, readiness and infer, unversioned and versioned, from its signature.
 */
export function openInferenceApi({ plane, server, example }: ApiContext): Paths {
  const tags = [OIP_TAG];
  const readiness = (schema: typeof schemas.readyResponse | typeof schemas.modelReadyResponse, ready: unknown) => ({
    '200': jsonResponse('Ready.', schema, ready),
    '503': jsonResponse('Not ready (loading, warming up or draining).', schema),
  });
  const paths: Paths = {
    '/v2': { get: { tags, summary: 'Server metadata', responses: { '200': jsonResponse('This server.', schemas.serverMetadataResponse, serverMetadata({ server })) } } },
    '/v2/health/live': { get: { tags, summary: 'Liveness', responses: { '200': jsonResponse('The process runs.', schemas.liveResponse, { live: true }) } } },
    '/v2/health/ready': {
      get: { tags, summary: 'Readiness: every served version is warm and the server is not draining', responses: readiness(schemas.readyResponse, { ready: true }) },
    },
  };
  const versions = plane.versions.map((runtime) => runtime.version);
  for (const { at, runtime, parameters } of variants(plane, false)) {
    const base = `/v2/models/${plane.name}${at}`;
    const which = at === '' ? `the default version (${runtime.version})` : 'a version';
    const notFound = { '404': errorResponse(404) };
    paths[base] = {
      ...pathParameters(parameters),
      get: {
        tags,
        summary: `Model metadata of ${which}: signature, versions, labels`,
        responses: { '200': jsonResponse('The model.', oipMetadataResponse(runtime, versions), modelMetadata(plane, runtime)), ...notFound },
      },
    };
    paths[`${base}/ready`] = {
      ...pathParameters(parameters),
      get: { tags, summary: `Readiness of ${which}`, responses: { ...readiness(schemas.modelReadyResponse, { name: plane.name, ready: true }), ...notFound } },
    };
    const outputs = runtime.signature.outputs.map((spec) => spec.name);
    paths[`${base}/infer`] = {
      ...pathParameters(parameters),
      post: {
        tags,
        summary: `Inference with ${which}`,
        description: `Inputs: ${runtime.signature.inputs.map((spec) => `'${spec.name}' ${spec.datatype}`).join(', ')}; outputs: ${outputs.map((name) => `'${name}'`).join(', ')}. At most ${plane.limits.maxRows} rows.`,
        requestBody: jsonRequestBody(oipInferRequest(runtime, plane.limits), {
          inputs: exampleTensors(plane.model).map(({ name, datatype, shape, data }) => ({ name, datatype, shape, data })),
        }),
        responses: {
          '200': jsonResponse(
            'The outputs, flat in row-major order.',
            oipInferResponse(runtime, versions, plane.limits),
            // The default version's real answer: only the unversioned path is sure to give it.
            example === undefined || at !== '' ? undefined : inferenceBody(plane.model, outputs, example.outputs, undefined),
            INFERENCE_HEADERS,
          ),
          ...inferenceErrors('plain'),
        },
      },
    };
  }
  return paths;
}

/** The errors an inference route of a model server answers with. */
export function inferenceErrors(body: 'plain' | 'openai') {
  return Object.fromEntries([400, 404, 413, 415, 429, 503, 504].map((status) => [String(status), errorResponse(status, body)]));
}
