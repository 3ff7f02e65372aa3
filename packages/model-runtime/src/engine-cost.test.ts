import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { USE_LITE_MAX_POSITIONS, estimateEngineCost, paddedPositions } from './engine-cost.js';

describe('paddedPositions', () => {
  it('pads every text to the longest one', () => {
    assert.equal(paddedPositions([16, 16, 64]), 3 * 64);
  });

  it('counts no text past the positions the graph keeps', () => {
    assert.equal(paddedPositions([5, 2048]), 2 * USE_LITE_MAX_POSITIONS);
    assert.equal(paddedPositions([]), 0);
  });
});

describe('estimateEngineCost', () => {
  it('is zero for no texts and grows with padded positions', () => {
    const model = { fixed: 0.5, perPaddedPosition: 0.01 };
    assert.equal(estimateEngineCost([], model), 0);
    assert.equal(estimateEngineCost([10, 20], model), 0.5 + 0.01 * 40);
    assert.equal(estimateEngineCost([10, 20_000], model), 0.5 + 0.01 * 256);
  });
});
