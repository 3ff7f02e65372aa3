// Inputs for any model, read from its signature: the bench names no model's tensors, so a model
// added under models/ is measured without code here.
import { elementCount, emptyValues, type Batch, type ModelDescription, type Tensor, type TensorSpec } from '@modeldock/model-runtime';
import { embeddingOutput } from '@modeldock/model-server';

/** Where the rows come from: questions for text inputs, a seeded generator for numeric ones. */
export interface RowSources {
  nextTexts: (n: number) => string[];
  /** Uniform in [0, 1). */
  random: () => number;
}

/** How the bench loads a model over HTTP: its route and the next request body of `rows` rows. */
export interface ModelRequest {
  protocol: 'openai' | 'oip';
  path: string;
  body: (rows: number) => string;
}

/** A seeded PRNG (mulberry32): the same vectors on every run, no dependency. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The shape of `rows` rows of `spec`: the batch dimension is `rows`, any other free dimension 1. */
export function shapeFor(spec: TensorSpec, rows: number): number[] {
  return spec.shape.map((dim, i) => (i === 0 ? rows : dim === -1 ? 1 : dim));
}

/**
 * `rows` rows of one input: texts for BYTES; for FP32 each row a random unit vector (what an
 * embedding-fed model such as embedding-topic receives: L2-normalised sentence embeddings); small
 * integers for INT32, 0/1 for BOOL.
 */
export function inputTensor(spec: TensorSpec, rows: number, sources: RowSources): Tensor {
  const shape = shapeFor(spec, rows);
  if (spec.datatype === 'BYTES') {
    const texts = sources.nextTexts(elementCount(shape));
    return { datatype: 'BYTES', shape, data: texts };
  }
  const data = emptyValues(spec.datatype, elementCount(shape)) as Float32Array | Int32Array | Uint8Array;
  if (data instanceof Float32Array) {
    const width = rows === 0 ? 0 : data.length / rows;
    for (let row = 0; row < rows; row++) {
      const vector = data.subarray(row * width, (row + 1) * width);
      let norm = 0;
      for (let i = 0; i < width; i++) {
        const value = sources.random() * 2 - 1;
        vector[i] = value;
        norm += value * value;
      }
      const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
      for (let i = 0; i < width; i++) vector[i] = (vector[i] as number) * scale;
    }
  } else {
    const limit = data instanceof Int32Array ? 100 : 2;
    for (let i = 0; i < data.length; i++) data[i] = Math.floor(sources.random() * limit);
  }
  return { datatype: spec.datatype, shape, data };
}

/** `rows` rows of every input of the model's signature, for `runtime.predict`. */
export function inputBatch(model: Pick<ModelDescription, 'signature'>, rows: number, sources: RowSources): Batch {
  return { rows, tensors: Object.fromEntries(model.signature.inputs.map((spec) => [spec.name, inputTensor(spec, rows, sources)])) };
}

/**
 * Whether the model server answers the OpenAI embeddings route for this model: a text model with
 * no labels and one FP32 `[-1, d]` output (the condition of the server's `/v1/embeddings`).
 */
export function isEmbeddingModel(model: Pick<ModelDescription, 'signature' | 'textInput' | 'labels'>): boolean {
  return embeddingOutput(model) !== undefined;
}

/** Float32 values as JSON numbers with float32's precision (a client sends no more digits than that). */
function jsonValues(tensor: Tensor): (string | number | boolean)[] {
  switch (tensor.datatype) {
    case 'BYTES':
      return tensor.data as string[];
    case 'FP32':
      return Array.from(tensor.data as Float32Array, (v) => Number(v.toPrecision(7)));
    case 'BOOL':
      return Array.from(tensor.data as Uint8Array, (v) => v !== 0);
    default:
      return Array.from(tensor.data as Int32Array);
  }
}

/**
 * How to load `model` over HTTP, as a client would: OpenAI `POST /v1/embeddings` (`{"model", "input": [...]}`)
 * for an embedding model, otherwise OIP `POST /v2/models/<name>/infer` with every input of its
 * signature (texts as BYTES, vectors as FP32 `[n, d]`).
 */
export function modelRequest(model: Pick<ModelDescription, 'name' | 'signature' | 'textInput' | 'labels'>, sources: RowSources): ModelRequest {
  if (isEmbeddingModel(model)) {
    return {
      protocol: 'openai',
      path: '/v1/embeddings',
      body: (rows) => JSON.stringify({ model: model.name, input: sources.nextTexts(rows) }),
    };
  }
  return {
    protocol: 'oip',
    path: `/v2/models/${encodeURIComponent(model.name)}/infer`,
    body: (rows) =>
      JSON.stringify({
        inputs: model.signature.inputs.map((spec) => {
          const tensor = inputTensor(spec, rows, sources);
          return { name: spec.name, shape: tensor.shape, datatype: tensor.datatype, data: jsonValues(tensor) };
        }),
      }),
  };
}

/**
 * `size` bodies made up front, handed out in turn: the load generator shares the cores with the
 * servers, and building a request (32 random 512-d vectors as JSON) would take CPU from them.
 */
export function bodyCycle(make: () => string, size: number): () => string {
  const bodies = Array.from({ length: Math.max(1, size) }, make);
  let next = 0;
  return () => {
    const body = bodies[next] as string;
    next = (next + 1) % bodies.length;
    return body;
  };
}
