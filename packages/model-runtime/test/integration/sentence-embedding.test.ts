import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  createModelRuntime,
  createWorkerRuntime,
  describeModel,
  loadSentenceEncoder,
  modelKind,
  rowsOf,
  selectBackend,
  textBatch,
  type ModelRuntime,
  type SentenceEncoder,
  type WorkerRuntime,
} from '../../src/index.js';

const VERSION_DIR = fileURLToPath(new URL('../../../../models/sentence-embedding/1', import.meta.url));

async function embed(model: ModelRuntime, texts: string[]): Promise<number[][]> {
  const outputs = await model.predict(textBatch('text', texts));
  const embedding = outputs.tensors.embedding;
  assert.ok(embedding, 'no embedding output');
  assert.deepEqual(embedding.shape, [texts.length, 512]);
  return rowsOf(embedding);
}

const dot = (a: number[], b: number[]) => a.reduce((sum, value, i) => sum + value * (b[i] as number), 0);

describe('sentence-embedding model (USE-lite, wasm)', () => {
  let encoder: SentenceEncoder;
  let runtime: ModelRuntime;
  let threaded: WorkerRuntime;

  before(async () => {
    await selectBackend('wasm', 'cpu');
    encoder = await loadSentenceEncoder();
    runtime = await createModelRuntime(VERSION_DIR, { given: { 'sentence-encoder': encoder } });
    threaded = await createWorkerRuntime({ versionDir: VERSION_DIR, backend: 'wasm', device: 'cpu' });
    await Promise.all([runtime.load(), threaded.load()]);
  });

  after(async () => {
    await runtime?.unload();
    await threaded?.unload();
    encoder?.dispose();
  });

  it('declares its signature from metadata alone: text BYTES [n] to embedding FP32 [n, 512]', async () => {
    const description = await describeModel(VERSION_DIR);
    assert.equal(description.kind, 'sentence-embedding');
    assert.deepEqual(modelKind(description.kind).resources, ['sentence-encoder']);
    assert.ok(modelKind(description.kind).measure, 'a text kind measures its requests');
    assert.equal(description.textInput, 'text');
    assert.deepEqual(description.signature, {
      inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }],
      outputs: [{ name: 'embedding', datatype: 'FP32', shape: [-1, 512] }],
    });
  });

  it('answers unit-length rows', async () => {
    for (const row of await embed(runtime, ['How old are you?', 'Paris is in France.'])) {
      assert.ok(Math.abs(Math.hypot(...row) - 1) < 1e-5);
    }
  });

  it('ranks a paraphrase above an unrelated question', async () => {
    const [question, paraphrase, unrelated] = await embed(runtime, [
      'How old are you?',
      'What is your age?',
      'Where can I buy a bicycle?',
    ]);
    assert.ok(question && paraphrase && unrelated);
    assert.ok(dot(question, paraphrase) > dot(question, unrelated) + 0.1, `${dot(question, paraphrase)} vs ${dot(question, unrelated)}`);
  });

  it('gives a text the same vector alone and inside a batch (within 1e-4), on the worker and the main thread', async () => {
    const texts = ['Who wrote Hamlet?', 'A much longer sentence about the weather in the mountains of Peru.', 'Hi'];
    const batch = await embed(threaded, texts);
    for (const [i, text] of texts.entries()) {
      const [alone] = await embed(runtime, [text]);
      alone?.forEach((value, j) => assert.ok(Math.abs(value - (batch[i]?.[j] ?? NaN)) < 1e-4, `${text}[${j}]`));
    }
  });

  it('does not leak tensors over repeated predictions', async () => {
    await embed(runtime, ['warm up']);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 25; i += 1) await embed(runtime, [`Sentence number ${i}`, 'Another one']);
    assert.equal(tf.memory().numTensors, before);
  });
});
