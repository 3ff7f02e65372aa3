import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from './model-inputs.js';
import { parseCommand } from './settings.js';
import { counterSum, resendingBatches, shuffled, zipfSampler } from './traffic-run.js';

describe('zipfSampler', () => {
  it('draws rank k about in proportion to 1/(k+1)^s', () => {
    const draw = zipfSampler(1000, 1.1, seededRandom(1));
    const counts = new Array<number>(1000).fill(0);
    for (let i = 0; i < 200_000; i += 1) {
      const rank = draw();
      counts[rank] = (counts[rank] as number) + 1;
    }
    const ratio = (counts[0] as number) / (counts[9] as number);
    // P(1)/P(10) = 10^1.1 ≈ 12.6
    assert.ok(ratio > 10 && ratio < 16, `rank 1 / rank 10 = ${ratio}`);
    assert.ok((counts[999] as number) < (counts[0] as number) / 500);
  });
});

describe('resendingBatches', () => {
  it('re-sends about the asked share of texts, each one sent before, and never repeats a fresh one', () => {
    const batches = resendingBatches((i) => `text ${i}`, 2000, 16, 0.3, seededRandom(2));
    const seen = new Set<string>();
    let resent = 0;
    for (const batch of batches) {
      assert.equal(batch.length, 16);
      for (const text of batch) {
        if (seen.has(text)) resent += 1;
        seen.add(text);
      }
    }
    const share = resent / (2000 * 16);
    assert.ok(share > 0.28 && share < 0.32, `re-sent share ${share}`);
  });

  it('shuffles deterministically', () => {
    assert.deepEqual(shuffled([1, 2, 3, 4, 5], seededRandom(3)), shuffled([1, 2, 3, 4, 5], seededRandom(3)));
    assert.deepEqual(shuffled([1, 2, 3, 4, 5], seededRandom(3)).sort(), [1, 2, 3, 4, 5]);
  });
});

describe('counterSum', () => {
  it('sums a metric over its label sets and ignores its neighbours', () => {
    const metrics = [
      '# HELP modeldock_cache_hits_total Rows answered from the result cache.',
      'modeldock_cache_hits_total{model="m",version="1"} 3',
      'modeldock_cache_hits_total{model="m",version="2"} 4',
      'modeldock_cache_hits_total_other 100',
      'modeldock_cache_bytes 2048',
    ].join('\n');
    assert.equal(counterSum(metrics, 'modeldock_cache_hits_total'), 7);
    assert.equal(counterSum(metrics, 'modeldock_cache_bytes'), 2048);
    assert.equal(counterSum(metrics, 'absent'), 0);
  });
});

describe('bench traffic options', () => {
  it('runs 16 clients with a 64 MiB cache, shorter in the quick mode', () => {
    const full = parseCommand(['traffic']);
    const quick = parseCommand(['traffic', '--quick', '--record']);
    assert.ok(full.kind === 'traffic' && quick.kind === 'traffic');
    assert.equal(full.settings.clients, 16);
    assert.equal(full.settings.cacheBytes, 64 * 1024 * 1024);
    assert.ok(quick.settings.durationS < full.settings.durationS);
    assert.equal(quick.settings.record, true);
  });
});
