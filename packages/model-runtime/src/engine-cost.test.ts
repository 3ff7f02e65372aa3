import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { USE_LITE_MAX_POSITIONS, estimateEngineCost, paddedPositions, planEngineCalls, plannedPositions } from './engine-cost.js';

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

describe('planEngineCalls', () => {
  it('groups texts shortest first, each call within the padded budget', () => {
    const pieces = [128, 16, 16, 128, 16];
    const calls = planEngineCalls(pieces, 256, 1);
    assert.deepEqual(calls, [[1, 2, 4], [0, 3]]);
    for (const call of calls) assert.ok(paddedPositions(call.map((i) => pieces[i] ?? 0)) <= 256);
    assert.equal(plannedPositions(pieces, 256, 1), 3 * 16 + 2 * 128);
  });

  it('pads less than filling each call greedily', () => {
    // Greedy: one call of 32 × 128 = 4,096 positions; planned: 31 × 16 + 1 × 128 = 624.
    const pieces = [...Array<number>(31).fill(16), 128];
    assert.equal(plannedPositions(pieces, 4096, 0), 624);
    assert.equal(planEngineCalls(pieces, 4096).length, 2);
  });

  it('gives a text longer than the budget a call of its own', () => {
    assert.deepEqual(planEngineCalls([500, 3], 100), [[1], [0]]);
    assert.deepEqual(planEngineCalls([], 100), []);
  });
});
