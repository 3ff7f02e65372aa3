import { setImmediate as nextTurn } from 'node:timers/promises';
import { Router, type ErrorRequestHandler, type Response } from 'express';
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

/** One item of an embeddings answer: the row as floats, or their little-endian float32 bytes in base64. */
function embeddingItem(row: Float32Array, index: number, base64: boolean): z.input<typeof embeddingsResponse>['data'][number] {
  return { object: 'embedding', index, embedding: base64 ? base64Floats(row) : Array.from(row) };
}

/**
 * The embeddings answer for `rows` texts as one object (the API document's example; the route
 * streams the same answer in chunks, see sendEmbeddings); `usage` counts the encoder's pieces.
 */
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
    data: Array.from({ length: request.rows }, (_, index) =>
      embeddingItem(values.subarray(index * output.dimension, (index + 1) * output.dimension), index, request.encoding === 'base64'),
    ),
    model: runtime.name,
    usage: { prompt_tokens: request.pieces, total_tokens: request.pieces },
  };
}

/**
 * What a client does about a request over a size limit, in the terms of the clients people use:
 * each of them sends fewer inputs per request when told to.
 */
export const OPENAI_BATCH_HINT =
  "send fewer inputs per request (LangChain's OpenAIEmbeddings: `batchSize`; the AI SDK: `maxEmbeddingsPerCall`; the openai client: fewer items in 'input')";

/** Rows of an embeddings answer serialised per turn of the event loop (~10 ms of float formatting). */
const ROWS_PER_CHUNK = 64;

/**
 * OpenAI also accepts token ids (a list of integers, or a list of such lists). They are ids of the
 * client's tokenizer (tiktoken's, for OpenAI's models), which this model's encoder does not share,
 * so they cannot be turned back into what the encoder reads: a 400 that says what to send instead.
 */
function isTokenIds(input: readonly unknown[]): boolean {
  const [first] = input;
  return Number.isInteger(first) || (Array.isArray(first) && (first.length === 0 || Number.isInteger(first[0])));
}

/** Float32 little-endian bytes, base64: what OpenAI's `encoding_format: "base64"` carries (and its clients decode). */
function base64Floats(values: Float32Array): string {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes.toString('base64');
}

/**
 * Writes an embeddings answer as `res.json` would write the whole object, a few rows per turn of
 * the event loop: 2,048 rows of 512 floats are ~20 MB of JSON, whose formatting in one go would
 * stall every other client of this process for a quarter of a second or more.
 */
async function sendEmbeddings(
  res: Response,
  answer: { rows: number; row: (index: number) => Float32Array; base64: boolean; model: string; pieces: number },
): Promise<void> {
  const item = (index: number) => embeddingItem(answer.row(index), index, answer.base64);
  const tail: Omit<z.input<typeof embeddingsResponse>, 'object' | 'data'> = {
    model: answer.model,
    usage: { prompt_tokens: answer.pieces, total_tokens: answer.pieces },
  };
  const closing = `],"model":${JSON.stringify(tail.model)},"usage":${JSON.stringify(tail.usage)}}`;
  const chunk = (start: number) => {
    const end = Math.min(answer.rows, start + ROWS_PER_CHUNK);
    const items = Array.from({ length: end - start }, (_, i) => JSON.stringify(item(start + i))).join(',');
    return `${start === 0 ? '{"object":"list","data":[' : ','}${items}${end === answer.rows ? closing : ''}`;
  };
  res.type('json');
  if (answer.rows <= ROWS_PER_CHUNK) {
    res.send(chunk(0));
    return;
  }
  for (let start = 0; start < answer.rows; start += ROWS_PER_CHUNK) {
    if (res.destroyed) return;
    if (res.write(chunk(start))) {
      await nextTurn();
      continue;
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.once('drain', done);
      res.once('close', done);
    });
  }
  res.end();
}

/**
 * OpenAI-compatible `POST /v1/embeddings` and `GET /v1/models`, on every model server (a model that
 * does not embed answers embeddings with a 400 saying so, and the wrong method with a 405). `input`
 * is a string or a list of up to 2,048 strings, as OpenAI accepts (token ids get a 400 that says
 * why); `encoding_format` is `float` or `base64` (the official client asks for base64 by default
 * and decodes it); `dimensions` is accepted only when it is the model's; `usage` counts the
 * encoder's pieces.
 */
export function openAiRoutes(plane: DataPlane, options: RouteOptions): Router {
  const router = Router();

  router.get('/v1/models', (_req, res) => {
    res.json(modelListBody(plane));
  });

  router.post('/v1/embeddings', async (req, res) => {
    const context = inferenceContext(req, res, 'openai', options);
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
    if (isTokenIds(texts)) {
      throw HttpError.invalidInput(
        "'input' holds token ids, which this model cannot read (its encoder has its own tokenizer): send the texts as strings " +
          '(LangChain for Python sends token ids unless check_embedding_ctx_length=False)',
      );
    }
    const decoded = plane.decode(runtime, [textTensor(runtime, texts, 'input')], { hint: OPENAI_BATCH_HINT });
    const outputs = await plane.infer(runtime, decoded, context);
    const values = (outputs.tensors[output.name] as Tensor).data as Float32Array;
    await sendEmbeddings(res, {
      rows: outputs.rows,
      row: (index) => values.subarray(index * output.dimension, (index + 1) * output.dimension),
      base64: request.encoding_format === 'base64',
      model: runtime.name,
      pieces: decoded.pieces,
    });
  });

  router.all(['/v1/models', '/v1/embeddings'], (req) => {
    throw HttpError.methodNotAllowed(req.method, req.path);
  });
  return router;
}
