import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  createModelRuntime,
  listModelVersions,
  loadSentenceEncoder,
  selectBackend,
  type ModelRuntime,
  type SentenceEncoder,
} from '../../src/index.js';
import { classify } from './classify.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const MODEL_DIR = `${REPO}models/question-topic`;

/** TREC_10 (the held-out test set), as `[label, question]`. */
function readTrecTest(): [string, string][] {
  return readFileSync(`${REPO}data/trec/TREC_10.label`, 'latin1')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const space = line.indexOf(' ');
      return [line.slice(0, line.indexOf(':')), line.slice(space + 1)];
    });
}

describe('question-topic model on the wasm backend', () => {
  let encoder: SentenceEncoder;
  let runtime: ModelRuntime;
  let versionDir: string;

  before(async () => {
    const choice = await selectBackend('wasm', 'cpu');
    assert.equal(choice.backend, 'wasm');
    const version = (await listModelVersions(MODEL_DIR)).at(-1);
    assert.ok(version, `no trained model in ${MODEL_DIR}`);
    versionDir = `${MODEL_DIR}/${version}`;
    encoder = await loadSentenceEncoder();
    runtime = await createModelRuntime(versionDir, { given: { 'sentence-encoder': encoder } });
    await runtime.load();
  });

  after(async () => {
    await runtime?.unload();
    encoder?.dispose();
  });

  it('is ready after load (warm-up answered)', () => {
    assert.equal(runtime.ready(), true);
    assert.deepEqual(runtime.labels, ['ABBR', 'DESC', 'ENTY', 'HUM', 'LOC', 'NUM']);
  });

  it('classifies the seed example as NUM with probabilities that sum to 1', async () => {
    const [row] = await classify(runtime, ['What is your salary?']);
    assert.ok(row);
    assert.equal(row.length, 6);
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-4);
    assert.equal((runtime.labels ?? [])[row.indexOf(Math.max(...row))], 'NUM');
  });

  it('gives a text the same answer alone and inside a batch, wherever it sits', async () => {
    const texts = ['Who wrote Hamlet?', 'Where is Rome?', 'What does NASA stand for?', '???'];
    const batch = await classify(runtime, texts);
    for (const [i, text] of texts.entries()) {
      const [alone] = await classify(runtime, [text]);
      alone?.forEach((p, j) => assert.ok(Math.abs(p - (batch[i]?.[j] ?? NaN)) < 1e-4, `${text} differs in a batch`));
    }
  });

  it('does not leak tensors over repeated predictions', async () => {
    await classify(runtime, ['warm', 'up']);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 25; i += 1) await classify(runtime, ['What is your salary?', `Question ${i} about Paris?`, '']);
    assert.equal(tf.memory().numTensors, before);
  });

  it('reproduces the test accuracy recorded in its metadata on TREC_10', async () => {
    const recorded = (runtime.info.evaluation as { testAccuracy?: number } | null)?.testAccuracy;
    assert.equal(typeof recorded, 'number', 'metadata.evaluation.testAccuracy missing');
    const test = readTrecTest();
    assert.equal(test.length, 500);
    let correct = 0;
    for (let i = 0; i < test.length; i += 50) {
      const chunk = test.slice(i, i + 50);
      const rows = await classify(runtime, chunk.map(([, question]) => question));
      rows.forEach((row, j) => {
        if ((runtime.labels ?? [])[row.indexOf(Math.max(...row))] === chunk[j]?.[0]) correct += 1;
      });
    }
    const accuracy = correct / test.length;
    assert.ok(Math.abs(accuracy - (recorded as number)) <= 0.004, `measured ${accuracy}, recorded ${recorded}`);
    assert.ok(accuracy >= 0.9, `test accuracy ${accuracy} is under the 90 % floor`);
  });
});
