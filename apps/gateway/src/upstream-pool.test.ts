import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '@modeldock/service-kit';
import { pino } from 'pino';
import {
  SLOW_PROBES_TO_EJECT,
  UpstreamPool,
  publicEndpointId,
  type Endpoint,
  type LookupFn,
  type PoolConfig,
  type PoolOptions,
  type ProbeFn,
} from './upstream-pool.js';

const KEY = Buffer.alloc(32, 7);
const logger = createLogger({ service: 'gateway-test', level: 'silent' });

const model = (upstream: string, readyPath = '/v2/health/ready'): PoolConfig => ({
  model: 'm',
  upstreams: upstream.split(',').map((url) => {
    const parsed = new URL(url);
    return { url: parsed.origin, hostname: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(parsed.port) };
  }),
  readyPath,
});

/** A DNS whose answers the test edits, and a readiness check that answers from a set of healthy URLs. */
function fakes() {
  const dns = new Map<string, string[] | Error>();
  const healthyUrls = new Set<string>();
  const probed: string[] = [];
  const lookup: LookupFn = async (hostname) => {
    const answer = dns.get(hostname);
    if (answer === undefined || answer instanceof Error) throw answer ?? Object.assign(new Error('nx'), { code: 'ENOTFOUND' });
    return answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  const probe: ProbeFn = async (url) => {
    probed.push(url);
    return healthyUrls.has(url) ? { healthy: true } : { healthy: false, reason: 'readiness answered 503' };
  };
  return { dns, healthyUrls, probed, lookup, probe };
}

function pool(config: PoolConfig, fake: ReturnType<typeof fakes>, options: Partial<PoolOptions> = {}) {
  return new UpstreamPool(config, { logger, lookup: fake.lookup, probe: fake.probe, healthTimeoutMs: 100, ejectionBaseMs: 50, idKey: KEY, ...options });
}

/** A pool of two replicas (10.0.0.1 and 10.0.0.2), both ready after one refresh. */
async function twoReady(options: Partial<PoolOptions> = {}) {
  const fake = fakes();
  fake.dns.set('qt', ['10.0.0.1', '10.0.0.2']);
  fake.healthyUrls.add('http://10.0.0.1:8501/v2/health/ready');
  fake.healthyUrls.add('http://10.0.0.2:8501/v2/health/ready');
  const replicas = pool(model('http://qt:8501'), fake, options);
  await replicas.refresh();
  const [first, second] = replicas.endpoints as [Endpoint, Endpoint];
  return { fake, replicas, first, second };
}

describe('UpstreamPool', () => {
  it('turns every address of a hostname into an endpoint and probes new ones before use', async () => {
    const fake = fakes();
    fake.dns.set('qt', ['10.0.0.5', '10.0.0.6']);
    fake.healthyUrls.add('http://10.0.0.5:8501/v2/health/ready');
    const replicas = pool(model('http://qt:8501'), fake);
    await replicas.resolve();
    assert.deepEqual(
      replicas.endpoints.map((e) => [e.id, e.origin, e.healthy]),
      [
        ['10.0.0.5:8501', 'http://10.0.0.5:8501', true],
        ['10.0.0.6:8501', 'http://10.0.0.6:8501', false],
      ],
    );
    assert.equal(replicas.pick()?.id, '10.0.0.5:8501');
    assert.equal(replicas.pick()?.id, '10.0.0.5:8501', 'the unready replica gets nothing');
    assert.ok(replicas.ready);
  });

  it('follows scaling: added replicas appear after a probe, removed ones disappear', async () => {
    const fake = fakes();
    fake.dns.set('qt', ['10.0.0.5']);
    fake.healthyUrls.add('http://10.0.0.5:8501/v2/health/ready');
    fake.healthyUrls.add('http://10.0.0.7:8501/v2/health/ready');
    const replicas = pool(model('http://qt:8501'), fake);
    await replicas.resolve();
    const first = replicas.endpoints[0];
    fake.dns.set('qt', ['10.0.0.5', '10.0.0.7']);
    await replicas.resolve();
    assert.deepEqual(replicas.endpoints.map((e) => [e.id, e.healthy]), [
      ['10.0.0.5:8501', true],
      ['10.0.0.7:8501', true],
    ]);
    assert.equal(replicas.endpoints[0], first, 'a known replica keeps its state object');
    fake.dns.set('qt', ['10.0.0.7']);
    await replicas.resolve();
    assert.deepEqual(replicas.endpoints.map((e) => e.id), ['10.0.0.7:8501']);
  });

  it('keeps the last known endpoints when a lookup fails', async () => {
    const fake = fakes();
    fake.dns.set('qt', ['10.0.0.5']);
    const replicas = pool(model('http://qt:8501'), fake);
    await replicas.resolve();
    fake.dns.set('qt', Object.assign(new Error('temporary'), { code: 'EAI_AGAIN' }));
    await replicas.resolve();
    assert.deepEqual(replicas.endpoints.map((e) => e.id), ['10.0.0.5:8501']);
  });

  it('unions comma-separated upstreams, formats IPv6 and drops duplicates', async () => {
    const fake = fakes();
    fake.dns.set('127.0.0.1', ['127.0.0.1']);
    fake.dns.set('localhost', ['127.0.0.1', '::1']);
    const replicas = pool(model('http://127.0.0.1:9001,http://localhost:9001,http://localhost:9002'), fake);
    await replicas.resolve();
    assert.deepEqual(replicas.endpoints.map((e) => e.origin), [
      'http://127.0.0.1:9001',
      'http://[::1]:9001',
      'http://127.0.0.1:9002',
      'http://[::1]:9002',
    ]);
  });

  it('takes a replica out on markDown and brings it back on the next passing probe', async () => {
    const fake = fakes();
    fake.dns.set('qt', ['10.0.0.5']);
    fake.healthyUrls.add('http://10.0.0.5:8501/ready');
    const replicas = pool(model('http://qt:8501', '/ready'), fake);
    await replicas.refresh();
    const [endpoint] = replicas.endpoints;
    assert.ok(endpoint?.healthy);
    replicas.markDown(endpoint, 'ECONNREFUSED');
    assert.equal(replicas.pick(), undefined);
    assert.equal(replicas.ready, false);
    assert.equal(endpoint.reason, 'ECONNREFUSED');
    await replicas.checkHealth();
    assert.equal(replicas.pick(), endpoint);
    assert.ok(fake.probed.every((url) => url === 'http://10.0.0.5:8501/ready'), 'probes use the configured readyPath');
  });

  it('answers hasCandidate without moving the round-robin cursor', async () => {
    const fake = fakes();
    fake.dns.set('qt', ['10.0.0.5', '10.0.0.6']);
    fake.healthyUrls.add('http://10.0.0.5:8501/v2/health/ready');
    fake.healthyUrls.add('http://10.0.0.6:8501/v2/health/ready');
    const replicas = pool(model('http://qt:8501'), fake);
    await replicas.resolve();
    const [a, b] = replicas.endpoints;
    assert.ok(a && b);
    assert.equal(replicas.hasCandidate(new Set([a])), true);
    assert.equal(replicas.hasCandidate(new Set([a, b])), false);
    assert.equal(replicas.pick(), a);
    assert.equal(replicas.pick(), b);
  });

  it('keeps a ready replica through a few slow probes (busy computing) but not through a 503', async () => {
    const fake = fakes();
    fake.dns.set('qt', ['10.0.0.5']);
    const url = 'http://10.0.0.5:8501/v2/health/ready';
    fake.healthyUrls.add(url);
    let answer: 'ok' | 'slow' | 'refuse' = 'ok';
    const probe: ProbeFn = async (probed) => {
      if (answer === 'slow') return { healthy: false, reason: 'no readiness answer within 100 ms', timedOut: true };
      return fake.probe(probed, 100);
    };
    const replicas = new UpstreamPool(model('http://qt:8501'), { logger, lookup: fake.lookup, probe, healthTimeoutMs: 100, ejectionBaseMs: 50, idKey: KEY });
    await replicas.resolve();
    assert.ok(replicas.ready);
    answer = 'slow';
    for (let i = 1; i < SLOW_PROBES_TO_EJECT; i += 1) {
      await replicas.checkHealth();
      assert.ok(replicas.ready, `ejected after ${i} slow probe(s)`);
    }
    await replicas.checkHealth();
    assert.equal(replicas.ready, false, `still in rotation after ${SLOW_PROBES_TO_EJECT} slow probes`);
    answer = 'ok';
    await replicas.checkHealth();
    assert.ok(replicas.ready);
    fake.healthyUrls.delete(url);
    answer = 'refuse';
    await replicas.checkHealth();
    assert.equal(replicas.ready, false, 'a 503 takes the replica out at once');
  });

  it('gives each replica an opaque public id: stable, distinct, and not its address', async () => {
    const fake = fakes();
    fake.dns.set('qt', ['10.0.0.1', '10.0.0.2']);
    const replicas = pool(model('http://qt:8501'), fake);
    await replicas.resolve();
    const ids = replicas.endpoints.map((e) => e.publicId);
    assert.equal(new Set(ids).size, 2);
    for (const id of ids) {
      assert.match(id, /^[A-Za-z0-9_-]{12}$/);
      assert.doesNotMatch(id, /10\.0|8501/);
    }
    assert.equal(replicas.endpoints[0]?.publicId, publicEndpointId(KEY, '10.0.0.1:8501'));
    assert.notEqual(publicEndpointId(Buffer.alloc(32, 8), '10.0.0.1:8501'), ids[0], 'another key (process) gives other ids');
  });

  it('never ejects the last ready replica as an outlier', async () => {
    const { replicas, first, second } = await twoReady();
    replicas.eject(first, 'timeout');
    replicas.eject(second, 'timeout');
    assert.deepEqual(
      [first.healthy, second.healthy],
      [false, true],
    );
  });

  it('holds an ejected outlier out even while its readiness passes, doubling the hold per repeat', async () => {
    const { replicas, first: endpoint } = await twoReady();
    replicas.eject(endpoint, 'timeout');
    await replicas.checkHealth();
    assert.deepEqual([endpoint.healthy, endpoint.reason], [false, 'timeout'], 'held although readiness passes');
    await new Promise((resolve) => setTimeout(resolve, 60));
    await replicas.checkHealth();
    assert.equal(endpoint.healthy, true, 'back after the 50 ms hold');
    replicas.eject(endpoint, 'timeout');
    await new Promise((resolve) => setTimeout(resolve, 60));
    await replicas.checkHealth();
    assert.equal(endpoint.healthy, false, 'a second ejection in a row holds 100 ms');
    await new Promise((resolve) => setTimeout(resolve, 60));
    await replicas.checkHealth();
    assert.equal(endpoint.healthy, true);
    replicas.recordSuccess(endpoint);
    assert.equal(endpoint.ejections, 0);
  });

  it('counts a burst of failures of one incident once: the hold is neither doubled nor extended, and the log says the hold applied', async () => {
    const lines: { msg: string; holdMs?: number }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { msg: string }));
        done();
      },
    });
    const { replicas, first: endpoint } = await twoReady({ logger: pino({ level: 'info' }, sink), ejectionBaseMs: 5000 });
    for (let i = 0; i < 8; i++) replicas.eject(endpoint, 'ECONNRESET');
    const heldFor = endpoint.heldUntil - performance.now();
    assert.equal(endpoint.ejections, 1);
    assert.ok(heldFor > 4000 && heldFor <= 5000, `held for ${heldFor} ms`);
    const ejected = lines.filter((line) => line.msg === 'replica ejected');
    assert.deepEqual(
      ejected.map((line) => line.holdMs),
      [5000],
    );
  });

  it('after an attempt timeout, ejects only a replica whose readiness fails too, with one probe per burst', async () => {
    const { fake, replicas, first: busy, second: broken } = await twoReady();
    fake.probed.length = 0;
    for (let i = 0; i < 5; i++) replicas.checkAfterTimeout(busy);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(fake.probed.length, 1, 'one probe for the burst');
    assert.deepEqual([busy.healthy, busy.ejections], [true, 0], 'answers readiness: its clients kept it busy, not ejected');
    assert.ok(busy.suspectUntil > performance.now(), 'but new requests prefer the other replica for a while');
    replicas.recordSuccess(busy);
    assert.equal(busy.suspectUntil, 0, 'until it answers');
    fake.healthyUrls.delete('http://10.0.0.2:8501/v2/health/ready');
    replicas.checkAfterTimeout(broken);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual([broken.healthy, broken.reason, broken.ejections], [false, 'timeout, then readiness: readiness answered 503', 1]);
  });
});
