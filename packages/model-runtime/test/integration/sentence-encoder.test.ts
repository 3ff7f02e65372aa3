import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { localModelHandler, loadSentenceEncoder, selectBackend, type SentenceEncoder } from '../../src/index.js';

describe('USE-lite sentence encoder from the npm package files', () => {
  let encoder: SentenceEncoder;
  before(async () => {
    await selectBackend('wasm', 'cpu');
    encoder = await loadSentenceEncoder();
  });
  after(() => encoder?.dispose());

  it('embeds each text as a unit-length 512-d row', async () => {
    const embeddings = await encoder.embed(['What is your salary?', 'Who wrote Hamlet?']);
    assert.deepEqual(embeddings.shape, [2, 512]);
    const norms = tf.tidy(() => tf.sqrt(tf.sum(tf.square(embeddings), 1)).arraySync() as number[]);
    embeddings.dispose();
    norms.forEach((norm) => assert.ok(Math.abs(norm - 1) < 1e-3));
  });

  it('keeps a row for empty texts, even at the end of a batch', async () => {
    const trailing = await encoder.embed(['hello', '']);
    const leading = await encoder.embed(['', 'hello']);
    assert.deepEqual(trailing.shape, [2, 512]);
    const [a, b] = [(await trailing.array())[1], (await leading.array())[0]];
    trailing.dispose();
    leading.dispose();
    a?.forEach((value, i) => assert.ok(Math.abs(value - (b?.[i] ?? NaN)) < 1e-5));
  });

  it('places similar questions closer than unrelated ones', async () => {
    const e = await encoder.embed(['How old is the president?', 'What is the age of the president?', 'Where do penguins live?']);
    const [same, different] = tf.tidy(() => {
      const sim = tf.matMul(e, e, false, true).arraySync() as number[][];
      return [sim[0]?.[1] ?? 0, sim[0]?.[2] ?? 0];
    });
    e.dispose();
    assert.ok(same > different, `${same} <= ${different}`);
  });
});

describe('localModelHandler', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'modeldock-io-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('saves a layers model to model.json + weights.bin and loads it back identically', async () => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [4], activation: 'softmax' })] });
    const file = path.join(dir, 'model.json');
    await model.save(localModelHandler(file));
    const loaded = await tfl.loadLayersModel(localModelHandler(file));
    const x = tf.tensor2d([[1, 2, 3, 4]]);
    const [expected, actual] = [model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
    assert.deepEqual(await actual.data(), await expected.data());
    tf.dispose([x, expected, actual]);
    model.dispose();
    loaded.dispose();
  });
});
