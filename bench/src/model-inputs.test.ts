import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ModelDescription, TensorSpec } from '@modeldock/model-runtime';
import { bodyCycle, inputBatch, inputTensor, isEmbeddingModel, modelRequest, seededRandom, shapeFor, type RowSources } from './model-inputs.js';

const texts = (): RowSources['nextTexts'] => {
  let i = 0;
  return (n) => Array.from({ length: n }, () => `question ${i++}?`);
};
const sources = (): RowSources => ({ nextTexts: texts(), random: seededRandom(1) });

type Described = Pick<ModelDescription, 'name' | 'signature' | 'textInput' | 'labels'>;
const EMBEDDER: Described = {
  name: 'sentence-embedding',
  textInput: 'text',
  signature: { inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }], outputs: [{ name: 'embedding', datatype: 'FP32', shape: [-1, 512] }] },
};
const TEXT_CLASSIFIER: Described = {
  name: 'question-topic',
  textInput: 'text',
  labels: ['A', 'B'],
  signature: {
    inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }],
    outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 2] }, { name: 'label', datatype: 'BYTES', shape: [-1] }],
  },
};
const VECTOR_CLASSIFIER: Described = {
  name: 'embedding topic',
  labels: ['A', 'B'],
  signature: { inputs: [{ name: 'embedding', datatype: 'FP32', shape: [-1, 512] }], outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 2] }] },
};

describe('seededRandom', () => {
  it('repeats its sequence for a seed, differs between seeds, and stays in [0, 1)', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const c = seededRandom(8);
    const xs = Array.from({ length: 1000 }, () => a());
    assert.deepEqual(xs, Array.from({ length: 1000 }, () => b()));
    assert.notDeepEqual(xs.slice(0, 10), Array.from({ length: 10 }, () => c()));
    assert.ok(xs.every((x) => x >= 0 && x < 1));
  });
});

describe('inputTensor', () => {
  it('gives each FP32 row unit length, with the batch dimension set to the rows', () => {
    const spec: TensorSpec = { name: 'embedding', datatype: 'FP32', shape: [-1, 512] };
    const tensor = inputTensor(spec, 3, sources());
    assert.deepEqual(tensor.shape, [3, 512]);
    const data = tensor.data as Float32Array;
    assert.equal(data.length, 3 * 512);
    for (let row = 0; row < 3; row++) {
      const norm = Math.hypot(...data.subarray(row * 512, (row + 1) * 512));
      assert.ok(Math.abs(norm - 1) < 1e-5, `row ${row} has norm ${norm}`);
    }
    assert.notDeepEqual(data.subarray(0, 512), data.subarray(512, 1024));
  });

  it('takes the next texts for a BYTES input, and gives free inner dimensions size 1', () => {
    const s = sources();
    assert.deepEqual(inputTensor({ name: 'text', datatype: 'BYTES', shape: [-1] }, 2, s).data, ['question 0?', 'question 1?']);
    assert.deepEqual(shapeFor({ name: 'x', datatype: 'INT32', shape: [-1, -1, 4] }, 5), [5, 1, 4]);
    const ints = inputTensor({ name: 'ids', datatype: 'INT32', shape: [-1, 8] }, 2, s);
    assert.ok(ints.data instanceof Int32Array && ints.data.length === 16);
  });
});

describe('inputBatch', () => {
  it('holds every input of the signature with the requested rows', () => {
    const batch = inputBatch(VECTOR_CLASSIFIER, 4, sources());
    assert.equal(batch.rows, 4);
    assert.deepEqual(Object.keys(batch.tensors), ['embedding']);
    assert.deepEqual(batch.tensors.embedding?.shape, [4, 512]);
  });
});

describe('isEmbeddingModel', () => {
  it('is true only for a text model with one FP32 [-1, d] output and no labels', () => {
    assert.equal(isEmbeddingModel(EMBEDDER), true);
    assert.equal(isEmbeddingModel(TEXT_CLASSIFIER), false);
    assert.equal(isEmbeddingModel(VECTOR_CLASSIFIER), false);
  });
});

describe('modelRequest', () => {
  it('loads an embedding model over OpenAI /v1/embeddings with its name and the next texts', () => {
    const request = modelRequest(EMBEDDER, sources());
    assert.equal(request.protocol, 'openai');
    assert.equal(request.path, '/v1/embeddings');
    assert.deepEqual(JSON.parse(request.body(2)), { model: 'sentence-embedding', input: ['question 0?', 'question 1?'] });
  });

  it('loads a text classifier over OIP infer with a BYTES tensor', () => {
    const request = modelRequest(TEXT_CLASSIFIER, sources());
    assert.equal(request.path, '/v2/models/question-topic/infer');
    assert.deepEqual(JSON.parse(request.body(1)), { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['question 0?'] }] });
  });

  it('loads a vector model over OIP infer with FP32 [n, d] unit vectors, its name escaped in the path', () => {
    const request = modelRequest(VECTOR_CLASSIFIER, sources());
    assert.equal(request.protocol, 'oip');
    assert.equal(request.path, '/v2/models/embedding%20topic/infer');
    const body = JSON.parse(request.body(2)) as { inputs: { name: string; shape: number[]; datatype: string; data: number[] }[] };
    const [input] = body.inputs;
    assert.equal(body.inputs.length, 1);
    assert.deepEqual([input?.name, input?.shape, input?.datatype], ['embedding', [2, 512], 'FP32']);
    assert.equal(input?.data.length, 1024);
    assert.ok(Math.abs(Math.hypot(...(input?.data.slice(0, 512) ?? [])) - 1) < 1e-5);
  });

  it('sends different rows in successive requests', () => {
    const request = modelRequest(VECTOR_CLASSIFIER, sources());
    assert.notEqual(request.body(1), request.body(1));
  });
});

describe('bodyCycle', () => {
  it('makes its bodies once and hands them out in turn', () => {
    let made = 0;
    const next = bodyCycle(() => `body ${made++}`, 3);
    assert.equal(made, 3);
    assert.deepEqual(Array.from({ length: 7 }, () => next()), ['body 0', 'body 1', 'body 2', 'body 0', 'body 1', 'body 2', 'body 0']);
    assert.equal(made, 3);
  });
});
