import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from './backend.js';

describe('selectBackend', () => {
  it('auto falls back to wasm and records why the native addon failed', async () => {
    const choice = await selectBackend('auto', 'cpu', {
      tensorflow: () => Promise.reject(new Error('libtensorflow.so: cannot open shared object file\nmore detail')),
    });
    assert.equal(choice.backend, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    assert.deepEqual(choice.fallbacks, [
      { provider: '@tensorflow/tfjs-node', reason: 'libtensorflow.so: cannot open shared object file' },
    ]);
  });

  it('auto with the gpu device tries tfjs-node-gpu, not tfjs-node', async () => {
    const tried: string[] = [];
    const choice = await selectBackend('auto', 'gpu', {
      tensorflow: async () => void tried.push('cpu'),
      tensorflowGpu: async () => {
        tried.push('gpu');
        throw new Error('no CUDA');
      },
    });
    assert.deepEqual(tried, ['gpu']);
    assert.equal(choice.fallbacks[0]?.provider, '@tensorflow/tfjs-node-gpu');
    assert.equal(choice.backend, 'wasm');
  });

  it('an explicit tensorflow request fails loudly instead of running elsewhere', async () => {
    await assert.rejects(selectBackend('tensorflow', 'cpu', {}), /backend 'tensorflow' unavailable.*not installed/);
  });

  it('cpu and wasm can be chosen explicitly', async () => {
    assert.equal((await selectBackend('cpu', 'cpu')).backend, 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
    assert.equal((await selectBackend('wasm', 'cpu')).backend, 'wasm');
  });
});
