import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRng, shuffled, stratifiedSplit } from './data.js';
import { evaluate } from './evaluate.js';

describe('stratifiedSplit', () => {
  const labels = Array.from({ length: 600 }, (_, i) => (i < 30 ? 0 : 1 + (i % 5)));

  it('is the same for the same seed and different for another', () => {
    assert.deepEqual(stratifiedSplit(labels, 0.1, 42), stratifiedSplit(labels, 0.1, 42));
    assert.notDeepEqual(stratifiedSplit(labels, 0.1, 42).validation, stratifiedSplit(labels, 0.1, 7).validation);
  });

  it('keeps each class share and partitions the rows', () => {
    const { train, validation } = stratifiedSplit(labels, 0.1, 42);
    assert.equal(validation.filter((i) => labels[i] === 0).length, 3);
    assert.deepEqual([...train, ...validation].sort((a, b) => a - b), labels.map((_, i) => i));
  });
});

describe('shuffled', () => {
  it('permutes without losing items and leaves the input alone', () => {
    const items = [1, 2, 3, 4, 5, 6, 7, 8];
    const out = shuffled(items, createRng(1));
    assert.deepEqual([...out].sort(), items);
    assert.notDeepEqual(out, items);
    assert.deepEqual(items, [1, 2, 3, 4, 5, 6, 7, 8]);
  });
});

describe('evaluate', () => {
  it('builds a true×predicted confusion matrix and per-class scores', () => {
    // Rows: true 0 → pred 0, true 0 → pred 1, true 1 → pred 1.
    const probabilities = Float32Array.from([0.9, 0.1, 0.2, 0.8, 0.3, 0.7]);
    const result = evaluate(probabilities, [0, 0, 1], ['A', 'B']);
    assert.deepEqual(result.confusionMatrix, [
      [1, 1],
      [0, 1],
    ]);
    assert.equal(result.accuracy, 2 / 3);
    assert.deepEqual(result.perClass[1], { label: 'B', precision: 0.5, recall: 1, f1: 2 / 3, support: 1 });
  });
});
