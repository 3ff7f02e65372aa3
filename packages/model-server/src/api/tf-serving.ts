import { errorResponse, jsonRequestBody, jsonResponse, type Paths } from '@modeldock/service-kit';
import { classifyBody, predictBody, statusBody, tfMetadataBody } from '../routes/tf-serving.js';
import * as schemas from '../schemas.js';
import { EXAMPLE_TEXTS, exampleTensors, variants, pathParameters, type ApiContext } from './context.js';
import { INFERENCE_HEADERS, inferenceErrors } from './open-inference.js';
import { tfClassifyRequest, tfClassifyResponse, tfPredictRequest, tfPredictResponse } from './signature-schemas.js';
import { z } from 'zod';

export const TF_SERVING_TAG = 'TensorFlow Serving REST';

/** The example request's rows in TF Serving's row format: each row's value, or `{"<input>": value}` when the model has several inputs. */
function exampleInstances(context: ApiContext): unknown[] {
  const tensors = exampleTensors(context.plane.model);
  const rows = EXAMPLE_TEXTS.length;
  const rowOf = (data: unknown[], row: number) => {
    const width = data.length / rows;
    return width === 1 ? data[row] : data.slice(row * width, (row + 1) * width);
  };
  return Array.from({ length: rows }, (_, row): unknown => {
    const [only] = tensors;
    if (tensors.length === 1 && only !== undefined) return rowOf(only.data as unknown[], row);
    return Object.fromEntries(tensors.map((tensor) => [tensor.name, rowOf(tensor.data as unknown[], row)]));
  });
}

/**
 * TF Serving's REST routes of a model (http_rest_api_handler.cc): status, metadata, `:predict`,
 * and `:classify` for a classifier, unversioned, at a version and at a version label. `:regress`
 * (and `:classify` for a model that is not a classifier) answer, with a 400 saying which route to use.
 */
export function tfServingApi(context: ApiContext): Paths {
  const { plane, example } = context;
  const tags = [TF_SERVING_TAG];
  const paths: Paths = {};
  const classifier = plane.model.labels !== undefined && plane.model.scoresOutput !== undefined;
  const instances = exampleInstances(context);
  for (const { at, runtime, parameters, label } of variants(plane, true)) {
    const base = `/v1/models/${plane.name}${at}`;
    const which = at === '' ? `the default version (${runtime.version})` : at.startsWith('/labels') ? 'the version a label names' : 'a version';
    const labelExample = at.startsWith('/labels') ? (label ?? Object.keys(plane.versionLabels)[0]) : undefined;
    paths[base] = {
      ...pathParameters(parameters),
      get: {
        tags,
        summary: at === '' ? 'Status of every served version (with OpenAI’s model fields: OpenAI’s GET /v1/models/{id})' : `Status of ${which}`,
        responses: {
          '200': jsonResponse('Version status.', schemas.modelStatusResponse.extend({ id: z.literal(plane.name) }), at === '' ? statusBody(plane) : statusBody(plane, runtime)),
          '404': errorResponse(404),
        },
      },
    };
    paths[`${base}/metadata`] = {
      ...pathParameters(parameters),
      get: {
        tags,
        summary: `Signature of ${which} (serving_default)`,
        responses: { '200': jsonResponse('The SignatureDef.', schemas.tfMetadataResponse, tfMetadataBody(runtime, labelExample)), '404': errorResponse(404) },
      },
    };
    paths[`${base}:predict`] = {
      ...pathParameters(parameters),
      post: {
        tags,
        summary: `Predict with ${which}`,
        description: 'Row format (`instances`) answers `predictions`; columnar (`inputs`) answers `outputs`.',
        requestBody: jsonRequestBody(tfPredictRequest(runtime, plane.limits), { instances }),
        responses: {
          '200': jsonResponse(
            'Every output of the signature.',
            tfPredictResponse(runtime, plane.limits),
            // The default version's real answer: only the unversioned path is sure to give it.
            example === undefined || at !== '' ? undefined : predictBody(plane.model, example.outputs, false),
            INFERENCE_HEADERS,
          ),
          ...inferenceErrors('plain'),
        },
      },
    };
    paths[`${base}:classify`] = {
      ...pathParameters(parameters),
      post: classifier
        ? {
            tags,
            summary: `Classify with ${which}: every class and its score`,
            requestBody: jsonRequestBody(tfClassifyRequest(runtime, plane.limits), {
              examples: instances.map((row) => (typeof row === 'object' && row !== null && !Array.isArray(row) ? row : { [runtime.signature.inputs[0]?.name ?? '']: row })),
            }),
            responses: {
              '200': jsonResponse('Per example, [class, score] for every class.', tfClassifyResponse(runtime), example === undefined || at !== '' ? undefined : classifyBody(plane.model, example.outputs)),
              ...inferenceErrors('plain'),
            },
          }
        : { tags, summary: 'Not a classifier: answers 400 (use :predict)', responses: { '400': errorResponse(400), '404': errorResponse(404) } },
    };
    paths[`${base}:regress`] = {
      ...pathParameters(parameters),
      post: { tags, summary: `No regression signature: answers 400 (use ${classifier ? ':classify or ' : ''}:predict)`, responses: { '400': errorResponse(400), '404': errorResponse(404) } },
    };
  }
  return paths;
}
