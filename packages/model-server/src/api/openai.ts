import { errorResponse, jsonRequestBody, jsonResponse, type Paths } from '@modeldock/service-kit';
import { embeddingOutput, embeddingsBody, modelListBody } from '../routes/openai.js';
import * as schemas from '../schemas.js';
import { EXAMPLE_TEXTS, type ApiContext } from './context.js';
import { INFERENCE_HEADERS, inferenceErrors } from './open-inference.js';
import { embeddingsRequest, embeddingsResponse } from './signature-schemas.js';

export const OPENAI_TAG = 'OpenAI embeddings';

/**
 * OpenAI's `GET /v1/models` and `POST /v1/embeddings` (errors in OpenAI's shape). A model without an
 * embedding output answers every embeddings request with a 400 naming `model`.
 */
export function openAiApi({ plane, example }: ApiContext): Paths {
  const tags = [OPENAI_TAG];
  const runtime = plane.model;
  const output = embeddingOutput(runtime);
  const request = { model: plane.name, input: [...EXAMPLE_TEXTS] };
  return {
    '/v1/models': {
      get: { tags, summary: 'The served model, as OpenAI lists models', responses: { '200': jsonResponse('The model list.', schemas.modelListResponse, modelListBody(plane)) } },
    },
    '/v1/embeddings': {
      post:
        output === undefined
          ? {
              tags,
              summary: `Not an embedding model: answers 400 (param 'model')`,
              requestBody: jsonRequestBody(embeddingsRequest(runtime, plane.limits), request),
              responses: { '400': errorResponse(400, 'openai'), '404': errorResponse(404, 'openai') },
            }
          : {
              tags,
              summary: `Embeddings: ${output.dimension} floats per text`,
              description: "`encoding_format: \"base64\"` answers little-endian float32 bytes, base64 (what OpenAI's clients ask for); `usage` counts the encoder's pieces.",
              requestBody: jsonRequestBody(embeddingsRequest(runtime, plane.limits), request),
              responses: {
                '200': jsonResponse(
                  'One embedding per text, in order.',
                  embeddingsResponse(runtime),
                  example === undefined ? undefined : embeddingsBody(runtime, example.outputs, { rows: EXAMPLE_TEXTS.length, pieces: example.pieces, encoding: 'float' }),
                  INFERENCE_HEADERS,
                ),
                ...inferenceErrors('openai'),
              },
            },
    },
  };
}
