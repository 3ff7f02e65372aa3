import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { call, post, startGateway, useStack, type TestGateway } from './harness.js';
import { startUpstream, type Echo, type FakeUpstream } from './upstream.js';

const MODEL = 'question-topic';
const SEED_ALIAS = [{ method: 'POST', path: '/predict_topic' }];

async function closeAll(gateway: TestGateway | undefined, upstreams: FakeUpstream[]): Promise<void> {
  await gateway?.close();
  await Promise.all(upstreams.map((upstream) => upstream.close()));
}

describe('routing and proxying', () => {
  let replicas: FakeUpstream[] = [];
  let other: FakeUpstream;
  let gateway: TestGateway;

  before(async () => {
    replicas = await Promise.all(['a', 'b', 'c'].map((name) => startUpstream(name)));
    other = await startUpstream('other');
    gateway = await startGateway(
      {
        [MODEL]: { upstream: replicas.map((r) => r.url).join(','), aliases: SEED_ALIAS },
        other: { upstream: other.url },
      },
      { GATEWAY_MAX_BODY_BYTES: '1024' },
    );
  });
  after(() => closeAll(gateway, [...replicas, other]));

  it('spreads requests over every replica and names the one that answered', async () => {
    const servedBy = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const res = await post(`${gateway.url}/predict_topic`, { text: `q${i}` });
      assert.equal(res.status, 200);
      const id = res.headers.get('x-served-by') ?? 'missing';
      assert.equal(
        (res.json as Echo).served,
        replicas.find((r) => gateway.servedBy(r.id) === id)?.name,
        'x-served-by names the replica that answered',
      );
      servedBy.set(id, (servedBy.get(id) ?? 0) + 1);
    }
    // Sequential requests leave every replica idle, so least-outstanding falls back to round robin.
    assert.deepEqual(
      [...servedBy.entries()].sort(),
      replicas.map((r) => [gateway.servedBy(r.id), 10]).sort(),
    );
  });

  it('strips the /models/<model> prefix', async () => {
    const infer = await post(`${gateway.url}/models/${MODEL}/v2/models/${MODEL}/infer?trace=1`, { inputs: [] });
    assert.equal(infer.status, 200);
    assert.equal(infer.json.url, `/v2/models/${MODEL}/infer?trace=1`);
    const seed = await post(`${gateway.url}/models/${MODEL}/predict_topic`, { text: 'q' });
    assert.equal(seed.json.url, '/predict_topic');
    const ready = await call(`${gateway.url}/models/other/v2/health/live`);
    assert.equal(ready.json.url, '/v2/health/live');
    assert.equal(ready.json.served, 'other');
  });

  it('passes OIP and TF Serving paths through unchanged', async () => {
    const oip = await post(`${gateway.url}/v2/models/other/infer`, { inputs: [] });
    assert.equal(oip.json.served, 'other');
    assert.equal(oip.json.url, '/v2/models/other/infer');
    const metadata = await call(`${gateway.url}/v2/models/${MODEL}`);
    assert.equal(metadata.json.url, `/v2/models/${MODEL}`);
    const tf = await post(`${gateway.url}/v1/models/${MODEL}/versions/3:predict`, { instances: ['q'] });
    assert.equal(tf.json.url, `/v1/models/${MODEL}/versions/3:predict`);
    assert.ok(replicas.some((r) => r.name === tf.json.served));
  });

  it('matches TF Serving paths case-insensitively', async () => {
    const res = await post(`${gateway.url}/V1/Models/other:predict`, { instances: ['q'] });
    assert.equal(res.status, 200);
    assert.equal(res.json.served, 'other');
    assert.equal(res.json.url, '/V1/Models/other:predict');
  });

  it('sends a configured alias (POST /predict_topic) to its model', async () => {
    const res = await post(`${gateway.url}/predict_topic`, { text: 'q' });
    assert.ok(replicas.some((r) => r.name === res.json.served));
    assert.equal(res.json.url, '/predict_topic');
  });

  it('forwards the body byte for byte, declared or chunked', async () => {
    const body = JSON.stringify({ text: 'naïve café ✓ '.repeat(40) });
    const declared = await call(`${gateway.url}/v2/models/other/infer`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(declared.json.body, body);
    assert.equal(declared.json.headers['content-length'], String(Buffer.byteLength(body)));
    assert.equal(declared.json.headers['content-type'], 'application/json');

    const parts = ['{"text":', '"split', ' across chunks"}'];
    const chunked = await call(`${gateway.url}/v2/models/other/infer`, {
      method: 'POST',
      body: new ReadableStream({
        start(controller) {
          for (const part of parts) controller.enqueue(new TextEncoder().encode(part));
          controller.close();
        },
      }),
      duplex: 'half',
    });
    assert.equal(chunked.json.body, parts.join(''));
    assert.equal(chunked.json.headers['transfer-encoding'], undefined, 'the buffered body is re-sent with a length');
    assert.equal(chunked.json.headers['content-length'], String(parts.join('').length));
  });

  it('passes x-request-id through to the replica and back, generating one when absent', async () => {
    const given = await post(`${gateway.url}/predict_topic`, { text: 'q' }, { 'x-request-id': 'trace-42' });
    assert.equal(given.json.headers['x-request-id'], 'trace-42');
    assert.equal(given.headers.get('x-request-id'), 'trace-42', "the gateway's id wins over the replica's own");
    const generated = await post(`${gateway.url}/predict_topic`, { text: 'q' });
    const id = generated.headers.get('x-request-id');
    assert.match(id ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(generated.json.headers['x-request-id'], id);
  });

  it('answers 404 {error} for an unknown model', async () => {
    for (const path of ['/models/nope/predict_topic', '/v2/models/nope/infer', '/v1/models/nope:predict']) {
      const res = await post(`${gateway.url}${path}`, {});
      assert.equal(res.status, 404, path);
      assert.deepEqual(res.json, { error: "model 'nope' not found" });
    }
    const unrouted = await call(`${gateway.url}/nowhere`);
    assert.equal(unrouted.status, 404);
    assert.match(unrouted.json.error, /no route/);
  });

  it('answers 413 {error} for a body over the limit, declared or streamed', async () => {
    const hitsBefore = replicas.reduce((sum, r) => sum + r.hits, 0);
    const declared = await call(`${gateway.url}/predict_topic`, { method: 'POST', body: 'x'.repeat(4096) });
    assert.equal(declared.status, 413);
    assert.match(declared.json.error, /1024 byte limit/);
    const streamed = await call(`${gateway.url}/predict_topic`, {
      method: 'POST',
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new Uint8Array(800));
          controller.enqueue(new Uint8Array(800));
          controller.close();
        },
      }),
      duplex: 'half',
    });
    assert.equal(streamed.status, 413);
    assert.equal(replicas.reduce((sum, r) => sum + r.hits, 0), hitsBefore, 'nothing reached a replica');
  });

  it('GET /healthz answers while alive', async () => {
    const res = await call(`${gateway.url}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { status: 'ok' });
  });

  it('GET /readyz is 200 while the gateway can serve', async () => {
    const res = await call(`${gateway.url}/readyz`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { status: 'ready' });
  });

  it('public GET /models lists each model, its readiness and ready replica count, the weight and readiness of its backends, and no address', async () => {
    const res = await call(`${gateway.url}/models`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, {
      models: [
        { name: MODEL, ready: true, readyReplicas: 3, backends: [{ name: 'default', weight: 1, ready: true, readyReplicas: 3 }] },
        { name: 'other', ready: true, readyReplicas: 1, backends: [{ name: 'default', weight: 1, ready: true, readyReplicas: 1 }] },
      ],
    });
    assert.doesNotMatch(res.text, /127\.0\.0\.1/);
  });

  it('admin GET /models lists every model with its endpoints and their health', async () => {
    const res = await call(`${gateway.adminUrl}/models`);
    assert.equal(res.status, 200);
    const topic = res.json.models.find((m: { name: string }) => m.name === MODEL);
    assert.equal(topic.ready, true);
    assert.deepEqual(topic.upstreams, replicas.map((r) => r.url));
    assert.deepEqual(topic.aliases, SEED_ALIAS);
    assert.deepEqual(
      topic.endpoints.map((e: { id: string; publicId: string; healthy: boolean }) => [e.id, e.publicId, e.healthy]),
      replicas.map((r) => [r.id, gateway.servedBy(r.id), true]),
    );
  });

  it('admin GET /metrics exposes per-replica counts, latency, health and outstanding requests', async () => {
    await post(`${gateway.url}/v2/models/other/infer`, {});
    const { text, status } = await call(`${gateway.adminUrl}/metrics`);
    assert.equal(status, 200);
    const labels = `model="other",upstream="${other.id}"`;
    const gauges = `model="other",backend="default",upstream="${other.id}"`;
    assert.match(text, new RegExp(`gateway_upstream_requests_total\\{${labels},status="200"[^}]*\\} [1-9]`));
    assert.match(text, new RegExp(`gateway_upstream_request_duration_seconds_count\\{[^}]*${labels}[^}]*\\} [1-9]`));
    assert.match(text, new RegExp(`gateway_upstream_healthy\\{${gauges}[^}]*\\} 1`));
    assert.match(text, new RegExp(`gateway_upstream_outstanding_requests\\{${gauges}[^}]*\\} 0`));
    assert.match(text, /gateway_requests_total\{model="other",backend="default",status="200"[^}]*\} [1-9]/);
    assert.match(text, /gateway_retries_total/);
    assert.match(text, /http_requests_total\{method="POST",route="\/predict_topic",status="200"/);
  });
});

describe('failover', () => {
  let replicas: FakeUpstream[] = [];
  let gateway: TestGateway | undefined;

  beforeEach(async () => {
    replicas = await Promise.all(['a', 'b', 'c'].map((name) => startUpstream(name)));
    gateway = await startGateway({ [MODEL]: { upstream: replicas.map((r) => r.url).join(','), aliases: SEED_ALIAS } });
  });
  afterEach(async () => {
    await closeAll(gateway, replicas);
    gateway = undefined;
  });

  async function postMany(count: number) {
    const url = `${gateway?.url}/predict_topic`;
    return Promise.all(Array.from({ length: count }, (_, i) => post(url, { text: `q${i}` })));
  }

  it('loses no request when a replica is killed before its health check notices', async () => {
    const [a, b] = replicas as [FakeUpstream, FakeUpstream, FakeUpstream];
    // Warm a kept-alive connection to every replica first, so the kill also resets reused sockets.
    await postMany(6);
    await b.close();
    const answers = await postMany(30);
    assert.deepEqual(
      answers.map((r) => r.status),
      answers.map(() => 200),
    );
    assert.ok(answers.every((r) => r.headers.get('x-served-by') !== gateway?.servedBy(b.id)));
    const models = await call(`${gateway?.adminUrl}/models`);
    const endpoints = models.json.models[0].endpoints as { id: string; healthy: boolean; reason: string }[];
    assert.deepEqual(endpoints.find((e) => e.id === b.id), {
      id: b.id,
      publicId: gateway?.servedBy(b.id),
      backend: 'default',
      healthy: false,
      outstanding: 0,
      reason: 'ECONNREFUSED',
    });
    assert.equal(endpoints.find((e) => e.id === a.id)?.healthy, true);
  });

  it('retries a connection reset before any response on another replica', async () => {
    const b = replicas[1] as FakeUpstream;
    b.mode = { kind: 'reset' };
    const answers = await postMany(12);
    assert.ok(answers.every((r) => r.status === 200));
    assert.ok(b.hits > 0, 'the resetting replica was tried');
    assert.ok(answers.every((r) => r.headers.get('x-served-by') !== gateway?.servedBy(b.id)));
    const metrics = await call(`${gateway?.adminUrl}/metrics`);
    assert.match(metrics.text, /gateway_retries_total\{model="question-topic",reason="econnreset"[^}]*\} [1-9]/);
  });

  it('retries a reset kept-alive connection even when no other replica is left', async () => {
    const [a, b, c] = replicas as [FakeUpstream, FakeUpstream, FakeUpstream];
    await Promise.all([a.close(), c.close()]);
    await gateway?.upstreams.refresh();
    // Opens the connection the next request will reuse.
    assert.equal((await post(`${gateway?.url}/predict_topic`, {})).status, 200);
    b.mode = { kind: 'reset', times: 1 };
    const res = await post(`${gateway?.url}/predict_topic`, {});
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-served-by'), gateway?.servedBy(b.id));
    assert.equal(b.hits, 3, 'the reset attempt was repeated on the same replica over a new connection');
  });

  it('retries an upstream 503 on another replica', async () => {
    const b = replicas[1] as FakeUpstream;
    b.mode = { kind: 'status', status: 503 };
    const answers = await postMany(12);
    assert.ok(answers.every((r) => r.status === 200));
    assert.ok(b.hits > 0, 'the 503 replica was tried');
    assert.ok(answers.every((r) => r.headers.get('x-served-by') !== gateway?.servedBy(b.id)));
    const metrics = await call(`${gateway?.adminUrl}/metrics`);
    assert.match(metrics.text, /gateway_retries_total\{model="question-topic",reason="status_503"[^}]*\} [1-9]/);
    assert.match(metrics.text, new RegExp(`gateway_upstream_requests_total\\{model="question-topic",upstream="${b.id}",status="503"`));
  });

  it('passes the last 503 on when retries are used up', async () => {
    for (const replica of replicas) replica.mode = { kind: 'status', status: 503 };
    const res = await post(`${gateway?.url}/predict_topic`, { text: 'q' });
    assert.equal(res.status, 503);
    assert.deepEqual(res.json, { error: 'status 503' });
    assert.equal(replicas.reduce((sum, r) => sum + r.hits, 0), 3, 'one try plus GATEWAY_MAX_RETRIES=2 retries');
  });

  it('answers 503 {error} with Retry-After when every replica is down', async () => {
    await Promise.all(replicas.map((r) => r.close()));
    const res = await post(`${gateway?.url}/predict_topic`, { text: 'q' });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.deepEqual(res.json, { error: "no ready replica for model 'question-topic'" });
    // The gateway itself can still serve (other models, its own routes): readiness stays 200.
    const ready = await call(`${gateway?.url}/readyz`);
    assert.equal(ready.status, 200);
    const models = await call(`${gateway?.url}/models`);
    assert.deepEqual(models.json.models, [{ name: MODEL, ready: false, readyReplicas: 0, backends: [{ name: 'default', weight: 1, ready: false, readyReplicas: 0 }] }]);
  });

  it('answers 503 at once when no replica passes its readiness check', async () => {
    for (const replica of replicas) replica.ready = false;
    await gateway?.upstreams.refresh();
    const res = await post(`${gateway?.url}/predict_topic`, { text: 'q' });
    assert.equal(res.status, 503);
    assert.equal(replicas.reduce((sum, r) => sum + r.hits, 0), 0, 'no replica was bothered');
  });
});

describe('deadlines and disconnects', () => {
  let slow: FakeUpstream;
  let gateway: TestGateway;

  before(async () => {
    slow = await startUpstream('slow');
    slow.mode = { kind: 'slow', delayMs: 10_000 };
    gateway = await startGateway(
      { slow: { upstream: slow.url, timeoutMs: 100, aliases: SEED_ALIAS }, patient: { upstream: slow.url } },
    );
  });
  after(() => closeAll(gateway, [slow]));

  it('answers 504 {error} when the replica does not answer in time', async () => {
    const started = Date.now();
    const res = await post(`${gateway.url}/predict_topic`, { text: 'q' });
    assert.equal(res.status, 504);
    assert.deepEqual(res.json, { error: 'upstream did not answer within 100 ms' });
    assert.ok(Date.now() - started < 5000, 'the gateway answered long before the replica would have');
    const models = await call(`${gateway.adminUrl}/models`);
    assert.equal(models.json.models[0].endpoints[0].outstanding, 0, 'the abandoned attempt no longer counts');
  });

  it('stops waiting for the replica when the client goes away', async () => {
    const outstanding = async () => {
      const models = await call(`${gateway.adminUrl}/models`);
      return models.json.models.find((m: { name: string }) => m.name === 'patient').endpoints[0].outstanding as number;
    };
    const controller = new AbortController();
    const request = post(`${gateway.url}/models/patient/v2/models/patient/infer`, {}, {}, controller.signal);
    while ((await outstanding()) === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    await assert.rejects(request, { name: 'AbortError' });
    let left = await outstanding();
    for (let i = 0; i < 100 && left !== 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      left = await outstanding();
    }
    assert.equal(left, 0, 'the upstream request was abandoned, not left to run for 30 s');
  });
});

describe('work that needs longer than an attempt (102 Processing)', () => {
  // One model per case: a replica that times out may be ejected, which must not touch the next case.
  const deadlines = { attemptTimeoutMs: 100, timeoutMs: 200, maxTimeoutMs: 1500 };
  const stack = useStack(['long', 'silent', 'late'], ({ long, silent, late }) => ({
    long: { upstream: long.url, ...deadlines },
    silent: { upstream: silent.url, ...deadlines },
    late: { upstream: late.url, ...deadlines },
  }));
  const infer = (model: string, headers: Record<string, string> = {}) =>
    post(`${stack.gateway.url}/models/${model}/v2/models/${model}/infer`, { inputs: [] }, headers);

  it('waits past the attempt and request deadlines, up to the longest one, for a replica that answered 102', async () => {
    const { long } = stack.replicas;
    long.mode = { kind: 'processing', delayMs: 600 };
    const res = await infer('long', { 'x-modeldock-deadline-max-ms': '99999999' });
    assert.equal(res.status, 200);
    const echo = res.json as Echo;
    // The replica is told the attempt's deadline and the longest one on offer, never what the client wrote.
    const attempt = Number(echo.headers['x-modeldock-deadline-ms']);
    const offer = Number(echo.headers['x-modeldock-deadline-max-ms']);
    assert.ok(attempt > 0 && attempt < 100, `attempt ${attempt}`);
    assert.ok(offer > 1000 && offer < 1500, `offer ${offer}`);
    assert.equal(long.hits, 1, 'answered by the replica it waited for, not retried');
  });

  it('gives up at the attempt deadline on a replica that answered nothing, as before', async () => {
    stack.replicas.silent.mode = { kind: 'slow', delayMs: 600 };
    const started = Date.now();
    const res = await infer('silent');
    assert.equal(res.status, 504);
    assert.ok(Date.now() - started < 500, `answered after ${Date.now() - started} ms`);
  });

  it('answers 504 at the longest deadline when even the replica that answered 102 is too slow', async () => {
    stack.replicas.late.mode = { kind: 'processing', delayMs: 5000 };
    const started = Date.now();
    const res = await infer('late');
    assert.equal(res.status, 504);
    assert.deepEqual(res.json, { error: 'upstream did not answer within 1500 ms' });
    assert.ok(Date.now() - started < 4000, `answered after ${Date.now() - started} ms`);
  });
});

describe('replica discovery', () => {
  const started: FakeUpstream[] = [];
  let gateway: TestGateway | undefined;
  afterEach(async () => {
    await closeAll(gateway, started.splice(0));
    gateway = undefined;
  });

  it('resolves a hostname upstream (localhost) into IP endpoints', async () => {
    const replica = await startUpstream('local');
    started.push(replica);
    gateway = await startGateway({ [MODEL]: { upstream: `http://localhost:${replica.port}`, aliases: SEED_ALIAS } });
    const res = await post(`${gateway.url}/predict_topic`, { text: 'q' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-served-by'), gateway.servedBy(replica.id));
  });

  it('brings a replica into rotation once its readiness check passes, on the background timers', async () => {
    const [ready, warming] = await Promise.all([startUpstream('ready'), startUpstream('warming')]);
    started.push(ready, warming);
    warming.ready = false;
    gateway = await startGateway(
      { [MODEL]: { upstream: `${ready.url},${warming.url}`, aliases: SEED_ALIAS } },
      { GATEWAY_HEALTH_INTERVAL_MS: '10', GATEWAY_RESOLVE_INTERVAL_MS: '10' },
      { start: true },
    );
    const before = await Promise.all([1, 2, 3, 4].map(() => post(`${gateway?.url}/predict_topic`, {})));
    const g = gateway;
    assert.ok(before.every((r) => r.headers.get('x-served-by') === g.servedBy(ready.id)));
    warming.ready = true;
    let servedBy = new Set<string>();
    for (let i = 0; i < 200 && !servedBy.has(warming.id); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      const res = await post(`${gateway.url}/predict_topic`, {});
      servedBy = new Set([...servedBy, res.headers.get('x-served-by') ?? '']);
    }
    assert.ok(servedBy.has(g.servedBy(warming.id)), 'the replica joined once ready');
  });
});
