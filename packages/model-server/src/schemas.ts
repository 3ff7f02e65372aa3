/**
 * The request and response bodies of every protocol the model server speaks, defined once with
 * zod: routes parse requests with them, tests check responses against them, and API documentation
 * can be generated from them. Tensor contents stay `unknown` here; they are validated against the
 * model's signature (tensors.ts), which bounds their size first.
 */
import { DATATYPES } from '@modeldock/model-runtime';
import { modelListSchema, openAiErrorBodySchema, protocolSchemas } from '@modeldock/service-kit';
import { z } from 'zod';

const parameters = z.record(z.string(), z.unknown());
const tensorMetadata = z.object({ name: z.string(), datatype: z.enum(DATATYPES), shape: z.array(z.number().int()) });

/** OIP `$metadata_server_response` (the gateway answers the same shape). */
export const serverMetadataResponse = protocolSchemas.serverMetadata;

/** OIP `GET /v2/health/live` (the status code is the answer; the body says the same). */
export const liveResponse = protocolSchemas.live;

/** OIP `GET /v2/health/ready`: 200 ready, 503 not. */
export const readyResponse = protocolSchemas.ready;

/** OIP `GET /v2/models/<m>[/versions/<v>]/ready`: 200 ready, 503 not. */
export const modelReadyResponse = z.object({ name: z.string(), ready: z.boolean() });

/** OIP `$metadata_model_response`. */
export const modelMetadataResponse = z.object({
  name: z.string(),
  versions: z.array(z.string()).optional(),
  platform: z.string(),
  inputs: z.array(tensorMetadata),
  outputs: z.array(tensorMetadata),
  parameters: parameters.optional(),
});

/** OIP `$request_input`: a tensor in a request. */
export const requestInput = z.object({
  name: z.string().max(128),
  shape: z.array(z.number()).max(8),
  datatype: z.string().max(16),
  parameters: parameters.optional(),
  data: z.unknown(),
});

/** OIP `$request_output`: an output the client asks for. */
export const requestOutput = z.object({ name: z.string().max(128), parameters: parameters.optional() });

/** OIP `$inference_request`. */
export const inferenceRequest = z.object({
  id: z.string().max(256).optional(),
  parameters: parameters.optional(),
  inputs: z.array(requestInput).min(1, 'must be a non-empty array').max(16),
  outputs: z.array(requestOutput).min(1, 'must be a non-empty array of {name}').max(16).optional(),
});

/** OIP `$response_output`. */
export const responseOutput = z.object({
  name: z.string(),
  shape: z.array(z.number().int()),
  datatype: z.enum(DATATYPES),
  parameters: parameters.optional(),
  data: z.array(z.union([z.number(), z.string(), z.boolean()])),
});

/** OIP `$inference_response`. */
export const inferenceResponse = z.object({
  model_name: z.string(),
  model_version: z.string().optional(),
  id: z.string().optional(),
  parameters: parameters.optional(),
  outputs: z.array(responseOutput),
});

/** TF Serving `:predict`: exactly one of `instances` (row format) or `inputs` (columnar). */
export const predictRequest = z
  .object({ signature_name: z.string().optional(), instances: z.unknown().optional(), inputs: z.unknown().optional() })
  .refine((body) => (body.instances === undefined) !== (body.inputs === undefined), "request must have exactly one of 'instances' or 'inputs'");

/** TF Serving `GET /v1/models/<m>[/versions/<v>|/labels/<l>]/metadata`: the model's one signature. */
export const tfTensorInfo = z.object({
  name: z.string(),
  dtype: z.string(),
  tensor_shape: z.object({ dim: z.array(z.object({ size: z.string(), name: z.string() })), unknown_rank: z.boolean() }),
});
export const tfMetadataResponse = z.object({
  model_spec: z.object({ name: z.string(), signature_name: z.string(), version: z.string(), version_label: z.string().optional() }),
  metadata: z.object({
    signature_def: z.object({
      signature_def: z.record(
        z.string(),
        z.object({ inputs: z.record(z.string(), tfTensorInfo), outputs: z.record(z.string(), tfTensorInfo), method_name: z.string() }),
      ),
    }),
  }),
});

/** TF Serving `:predict` answers: `predictions` (row format) or `outputs` (columnar), as the request was. */
export const predictResponse = z.union([z.object({ predictions: z.array(z.unknown()) }), z.object({ outputs: z.unknown() })]);

/** TF Serving `:classify` answer: per example, `[label, score]` for every class. */
export const classifyResponse = z.object({ results: z.array(z.array(z.tuple([z.string(), z.number()]))) });

/** TF Serving `:classify` / `:regress`: tf.Example-like feature maps, optionally with shared `context`. */
export const classifyRequest = z.object({
  signature_name: z.string().optional(),
  context: z.record(z.string(), z.unknown()).optional(),
  examples: z.array(z.record(z.string(), z.unknown()), "'examples' must be an array of objects").min(1).max(4096),
});

/**
 * OpenAI `POST /v1/embeddings` request. `input` is a string, a list of strings, or token ids (a
 * list of integers, or a list of such lists); its contents are checked by the route, which bounds
 * their number first.
 */
export const embeddingsRequest = z.object({
  input: z.union([z.string(), z.array(z.unknown())], 'must be a string or an array of strings'),
  model: z.string().max(128),
  encoding_format: z.enum(['float', 'base64']).default('float'),
  dimensions: z.number().int().positive().optional(),
  user: z.string().max(256).optional(),
});

/** OpenAI `POST /v1/embeddings` response. */
export const embeddingsResponse = z.object({
  object: z.literal('list'),
  data: z.array(z.object({ object: z.literal('embedding'), index: z.number().int(), embedding: z.union([z.array(z.number()), z.string()]) })),
  model: z.string(),
  usage: z.object({ prompt_tokens: z.number().int(), total_tokens: z.number().int() }),
});

/** OpenAI's model object (`GET /v1/models` lists them, `GET /v1/models/<id>` answers one). */
export const openAiModel = protocolSchemas.openAiModel;

/** OpenAI `GET /v1/models` response (the gateway answers the same shape). */
export const modelListResponse = modelListSchema;

/**
 * `GET /v1/models/<name>`, claimed by two APIs: TF Serving's model status (`model_version_status`)
 * and OpenAI's model object, in one answer; each API's clients ignore the other's fields.
 */
export const modelStatusResponse = openAiModel.extend({
  model_version_status: z.array(
    z.object({
      version: z.string(),
      state: z.enum(['START', 'LOADING', 'AVAILABLE', 'UNLOADING', 'END']),
      status: z.object({ error_code: z.string(), error_message: z.string() }),
    }),
  ),
});

/** OpenAI error body (only on the OpenAI-compatible routes; everything else answers `{"error": string}`). */
export const openAiError = openAiErrorBodySchema;
