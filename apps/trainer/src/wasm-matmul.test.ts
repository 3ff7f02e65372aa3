import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@modeldock/model-runtime';
import { installTransposeFirstMatMul } from './wasm-matmul.js';

describe('installTransposeFirstMatMul', () => {
  before(async () => {
    await selectBackend('wasm', 'cpu');
  });

  it('gives the stock results for every transpose combination, without leaking', async () => {
    const a = tf.randomUniform([7, 5], -1, 1, 'float32', 1);
    const b = tf.randomUniform([5, 300], -1, 1, 'float32', 2);
    const cases: [tf.Tensor2D, tf.Tensor2D, boolean, boolean][] = [
      [a as tf.Tensor2D, b as tf.Tensor2D, false, false],
      [tf.transpose(a) as tf.Tensor2D, b as tf.Tensor2D, true, false],
      [a as tf.Tensor2D, tf.transpose(b) as tf.Tensor2D, false, true],
      [tf.transpose(a) as tf.Tensor2D, tf.transpose(b) as tf.Tensor2D, true, true],
    ];
    const expected = cases.map(([x, y, ta, tb]) => tf.matMul(x, y, ta, tb));
    const restore = installTransposeFirstMatMul();
    try {
      const before = tf.memory().numTensors;
      for (const [i, [x, y, ta, tb]] of cases.entries()) {
        const actual = tf.matMul(x, y, ta, tb);
        assert.deepEqual(actual.shape, [7, 300]);
        const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(actual, expected[i]!))));
        assert.ok((await diff.data())[0]! < 1e-5, `case ${i}`);
        tf.dispose([actual, diff]);
      }
      assert.equal(tf.memory().numTensors, before);
    } finally {
      restore();
    }
    tf.dispose([a, b, ...cases.flatMap(([x, y]) => [x, y]), ...expected]);
  });
});
