import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientLimiter } from './limiter.js';

describe('ClientLimiter', () => {
  it('caps requests in flight per client, independently of other clients', () => {
    const limiter = new ClientLimiter(2);
    const first = limiter.acquire('a', undefined);
    const second = limiter.acquire('a', undefined);
    assert.ok(first.ok && second.ok);
    assert.deepEqual(limiter.acquire('a', undefined), { ok: false, reason: 'concurrency', retryAfterSeconds: 1, tokens: undefined, inFlight: 2 });
    assert.equal(limiter.acquire('b', undefined).ok, true, 'another client still gets in');
    first.release();
    first.release();
    assert.equal(limiter.acquire('a', undefined).ok, true, 'a slot freed once, however often release is called');
    assert.equal(limiter.acquire('a', undefined).ok, false);
  });

  it('refills a token bucket at the configured rate', () => {
    let now = 0;
    const limiter = new ClientLimiter(0, () => now);
    const take = () => {
      const admission = limiter.acquire('a', { ratePerSecond: 2, burst: 2 });
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
    const limiter = new ClientLimiter(4);
    for (let i = 0; i < 1000; i++) {
      const admission = limiter.acquire(`10.0.${i >> 8}.${i & 255}`, undefined);
      if (admission.ok) admission.release();
    }
    assert.equal(limiter.tracked, 0);
  });

  it('admits everything when both limits are off', () => {
    const limiter = new ClientLimiter(0);
    for (let i = 0; i < 100; i++) assert.equal(limiter.acquire('a', undefined).ok, true);
  });

  it('reports the tokens left for the RateLimit header, and follows a bucket that changed', () => {
    let now = 0;
    const limiter = new ClientLimiter(0, () => now);
    const first = limiter.acquire('key', { ratePerSecond: 10, burst: 5 });
    assert.equal(first.tokens, 4);
    now = 50;
    assert.equal(limiter.acquire('key', { ratePerSecond: 10, burst: 5 }).tokens, 3.5);
    // The key's file now gives it a smaller bucket: what it holds is cut to the new size.
    assert.equal(limiter.acquire('key', { ratePerSecond: 10, burst: 2 }).tokens, 1);
  });
});
