import { Router, type ErrorRequestHandler } from 'express';
import type { Batch, ModelDescription, ModelRuntime, Tensor } from '@modeldock/model-runtime';
import { HttpError, openAiErrorBody, toHttpError } from '@modeldock/service-kit';
import type { z } from 'zod';
import type { DataPlane } from '../data-plane.js';
import { embeddingsRequest, type embeddingsResponse, type modelListResponse, type openAiError, type openAiModel } from '../schemas.js';
import { textTensor } from '../tensors.js';
import { inferenceContext, parseBody } from './http.js';
import type { RouteOptions } from './options.js';

/** The model's embedding output, when it is a text model with one FP32 `[-1, d]` output and no labels. */
export function embeddingOutput(
  runtime: Pick<ModelDescription, 'signature' | 'textInput' | 'labels'>,
): { name: string; dimension: number } | undefined {
  const [output, ...others] = runtime.signature.outputs;
  if (runtime.textInput === undefined || runtime.labels !== undefined || output === undefined || others.length > 0) return undefined;
  const dimension = output.shape[1];
  if (output.datatype !== 'FP32' || output.shape.length !== 2 || dimension === undefined || dimension < 1) return undefined;
  return { name: output.name, dimension };
}

/** The served model as OpenAI describes one (`created`: when this server loaded it). */
export function openAiModelObject(plane: DataPlane): z.input<typeof openAiModel> {
  return { id: plane.name, object: 'model', created: plane.created, owned_by: 'modeldock' };
}

/** The OpenAI-compatible paths (exactly: TF Serving's `/v1/models/<name>...` is not one of them). */
const OPENAI_PATHS = new Set(['/v1/models', '/v1/embeddings']);

/**
 * OpenAI's error body on the OpenAI-compatible routes (its clients read `error.message`), with
 * the same statuses as everywhere else; errors on any other path pass on.
 */
export function openAiErrorHandler(): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent || !OPENAI_PATHS.has(req.path.replace(/\/$/, ''))) {
      next(err);
      return;
    }
    const httpError = toHttpError(err);
    if (httpError.status >= 500 && !(err instanceof HttpError)) req.log?.error({ err }, 'unhandled error');
    // The one mapping every modeldock server uses for OpenAI's error shape (the gateway's too).
    const body: z.input<typeof openAiError> = openAiErrorBody(httpError);
    res.status(httpError.status).set(httpError.headers).json(body);
  };
}

/** OpenAI's model list: the one model this server serves. */
export function modelListBody(plane: DataPlane): z.input<typeof modelListResponse> {
  return { object: 'list', data: [openAiModelObject(plane)] };
}

/** The embeddings answer for `rows` texts: each row of the embedding output, as floats or base64; `usage` counts the encoder's pieces. */
export function embeddingsBody(
  runtime: ModelRuntime,
  outputs: Batch,
  request: { rows: number; pieces: number; encoding: 'float' | 'base64' },
): z.input<typeof embeddingsResponse> {
  const output = embeddingOutput(runtime);
  if (output === undefined) throw new Error(`model '${runtime.name}' has no embedding output`);
  const values = (outputs.tensors[output.name] as Tensor).data as Float32Array;
  return {
    object: 'list',
    data: Array.from({ length: request.rows }, (_, index) => {
      const row = values.subarray(index * output.dimension, (index + 1) * output.dimension);
      return { object: 'embedding', index, embedding: request.encoding === 'base64' ? base64Floats(row) : Array.from(row) };
    }),
    model: runtime.name,
    usage: { prompt_tokens: request.pieces, total_tokens: request.pieces },
  };
}

/** Float32 little-endian bytes, base64: what OpenAI's `encoding_format: "base64"` carries (and its clients decode). */
function base64Floats(values: Float32Array): string {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes.toString('base64');
}

/**
 * OpenAI-compatible `POST /v1/embeddings` and `GET /v1/models`, on every model server (a model that
 * does not embed answers embeddings with a 400 saying so, and the wrong method with a 405). `input` is
 * a string or a list of strings; `encoding_format` is `float` or `base64` (the official client
 * asks for base64 by default and decodes it); `dimensions` is accepted only when it is the
 * model's; `usage` counts the encoder's pieces.
 */
export function openAiRoutes(plane: DataPlane, options: RouteOptions): Router {
  const router = Router();

  router.get('/v1/models', (_req, res) => {
    res.json(modelListBody(plane));
  });

  router.post('/v1/embeddings', async (req, res) => {
    const request = parseBody(embeddingsRequest, req.body);
    const runtime = plane.resolve(request.model);
    const output = embeddingOutput(runtime);
    if (output === undefined) {
      throw HttpError.modelNotSupported(
        `model '${runtime.name}' (${runtime.kind}) does not produce embeddings: embedding models take text and have one FP32 [n, d] output, ` +
          "such as the 'sentence-embedding' kind; GET /v1/models lists the served models",
      );
    }
    if (request.dimensions !== undefined && request.dimensions !== output.dimension) {
      throw HttpError.invalidInput(`model '${runtime.name}' has ${output.dimension} dimensions; 'dimensions' must be ${output.dimension} or absent`);
    }
    const texts = typeof request.input === 'string' ? [request.input] : request.input;
    const { inputs, pieces } = plane.decode(runtime, [textTensor(runtime, texts, 'input')]);
    const outputs = await plane.infer(runtime, inputs, inferenceContext(req, res, 'openai', options));
    res.json(embeddingsBody(runtime, outputs, { rows: texts.length, pieces, encoding: request.encoding_format }));
  });

  router.all(['/v1/models', '/v1/embeddings'], (req) => {
    throw HttpError.methodNotAllowed(req.method, req.path);
  });
  return router;
}
