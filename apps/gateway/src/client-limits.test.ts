import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientLimiter } from './client-limits.js';

describe('ClientLimiter', () => {
  it('caps requests in flight per client, independently of other clients', () => {
    const limiter = new ClientLimiter({ maxConcurrency: 2, ratePerSecond: 0, burst: 1 });
    const first = limiter.acquire('a');
    const second = limiter.acquire('a');
    assert.ok(first.ok && second.ok);
    assert.deepEqual(limiter.acquire('a'), { ok: false, reason: 'concurrency', retryAfterSeconds: 1 });
    assert.equal(limiter.acquire('b').ok, true, 'another client still gets in');
    first.release();
    first.release();
    assert.equal(limiter.acquire('a').ok, true, 'a slot freed once, however often release is called');
    assert.equal(limiter.acquire('a').ok, false);
  });

  it('refills a token bucket at the configured rate', () => {
    let now = 0;
    const limiter = new ClientLimiter({ maxConcurrency: 0, ratePerSecond: 2, burst: 2 }, () => now);
    const take = () => {
      const admission = limiter.acquire('a');
      if (admission.ok) admission.release();
      return admission.ok ? 'ok' : admission.reason;
    };
    assert.deepEqual([take(), take(), take()], ['ok', 'ok', 'rate']);
    now = 499;
    assert.equal(take(), 'rate');
    now = 501;
    assert.deepEqual([take(), take()], ['ok', 'rate']);
    now = 10_000;
    assert.deepEqual([take(), take(), take()], ['ok', 'ok', 'rate'], 'never more than the burst after idling');
  });

  it('forgets idle clients, so many addresses do not grow its state', () => {
    const limiter = new ClientLimiter({ maxConcurrency: 4, ratePerSecond: 0, burst: 1 });
    for (let i = 0; i < 1000; i++) {
      const admission = limiter.acquire(`10.0.${i >> 8}.${i & 255}`);
      if (admission.ok) admission.release();
    }
    assert.equal(limiter.tracked, 0);
  });

  it('admits everything when both limits are off', () => {
    const limiter = new ClientLimiter({ maxConcurrency: 0, ratePerSecond: 0, burst: 1 });
    for (let i = 0; i < 100; i++) assert.equal(limiter.acquire('a').ok, true);
  });
});
