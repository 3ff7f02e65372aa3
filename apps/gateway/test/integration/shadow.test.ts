import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { call, capturedLogger, post, startGateway, waitFor, type TestGateway } from './harness.js';
import { startUpstream, type Echo, type FakeUpstream } from './upstream.js';

const MODEL = 'question-topic';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An OIP classifier answer with these top labels. */
const labelsAnswer = (labels: string[]) => ({
  model_name: MODEL,
  outputs: [
    { name: 'probabilities', datatype: 'FP32', shape: [labels.length, 2], data: labels.flatMap(() => [0.3, 0.7]) },
    { name: 'label', datatype: 'BYTES', shape: [labels.length], data: labels },
  ],
});

/** question-topic served by `served` and copied, every request, to `shadow` (at weight 0). */
function shadowed(served: FakeUpstream, shadow: FakeUpstream) {
  return {
    [MODEL]: {
      backends: [
        { name: 'v1', upstream: served.url, weight: 1 },
        { name: 'v2', upstream: shadow.url, weight: 0 },
      ],
      shadow: { backend: 'v2', percent: 100 },
      aliases: [{ method: 'POST', path: '/predict_topic' }],
    },
  };
}

/** A counter's value on the admin listener (0 when absent). */
async function metric(gateway: TestGateway, series: string, labels: Record<string, string>): Promise<number> {
  const text = (await call(`${gateway.adminUrl}/metrics`)).text;
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${series}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('shadow traffic', () => {
  let served: FakeUpstream;
  let shadow: FakeUpstream;
  let gateway: TestGateway;
  const { logger, lines } = capturedLogger();

  before(async () => {
    [served, shadow] = await Promise.all([startUpstream('v1'), startUpstream('v2')]);
    gateway = await startGateway(
      shadowed(served, shadow),
      {
        // One request in flight per client: a shadow holding the client's slot would show as a 429.
        GATEWAY_CLIENT_MAX_CONCURRENCY: '1',
        GATEWAY_SHADOW_MAX_CONCURRENCY: '4',
        GATEWAY_SHADOW_TIMEOUT_MS: '1500',
        GATEWAY_SHADOW_DISAGREEMENT_LOGS_PER_MINUTE: '2',
      },
      { logger },
    );
  });
  after(async () => {
    await gateway.close();
    await Promise.all([served.close(), shadow.close()]);
  });
  beforeEach(async () => {
    served.mode = { kind: 'echo' };
    shadow.mode = { kind: 'echo' };
    // Copies of the previous test still in flight would count against this one's bounds.
    await waitFor(async () => gateway.upstreams.routing.models.get(MODEL)?.byName.get('v2')?.pool.endpoints[0]?.outstanding === 0);
  });

  it('copies a request to the shadow after the client has its answer, without the client identity or credentials', async () => {
    const hits = shadow.hits;
    const res = await post(`${gateway.url}/predict_topic`, { text: 'Who wrote Hamlet?' }, { 'x-request-id': 'shadow-test-1' });
    assert.equal(res.status, 200);
    assert.equal((res.json as Echo).served, 'v1');
    assert.equal(res.headers.get('x-modeldock-backend'), 'v1');
    assert.notEqual(await waitFor(async () => shadow.hits === hits + 1), undefined);
    const copy = shadow.last as Echo;
    assert.equal(copy.method, 'POST');
    assert.equal(copy.url, '/predict_topic');
    assert.equal(copy.body, JSON.stringify({ text: 'Who wrote Hamlet?' }));
    assert.equal(copy.headers['x-modeldock-shadow'], '1');
    assert.equal(copy.headers['x-request-id'], 'shadow-test-1');
    assert.equal(copy.headers['x-forwarded-for'], undefined, "a copy never counts against the client's share at the model");
    assert.ok(Number(copy.headers['x-modeldock-deadline-ms']) <= 1500);
  });

  it('costs the client nothing with a shadow that takes 2 s: answer, status and latency unchanged, and no slot of its concurrency held', async () => {
    shadow.mode = { kind: 'slow', delayMs: 2000 };
    const started = Date.now();
    for (let i = 0; i < 3; i++) {
      // GATEWAY_CLIENT_MAX_CONCURRENCY=1: each request is admitted while the previous one's copy is still out.
      const res = await post(`${gateway.url}/predict_topic`, { text: `q${i}` });
      assert.equal(res.status, 200);
      assert.equal((res.json as Echo).served, 'v1');
    }
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 1500, `three answers took ${elapsed} ms while each copy takes 2 s (a sanity bound, not a measurement)`);
    assert.notEqual(await waitFor(async () => (await metric(gateway, 'gateway_shadow_requests_total', { shadow: 'v2', status: 'timeout' })) >= 3), undefined);
  });

  it('costs the client nothing with a shadow that answers 500, and counts its errors', async () => {
    shadow.mode = { kind: 'status', status: 500 };
    const before = await metric(gateway, 'gateway_shadow_requests_total', { shadow: 'v2', status: '500' });
    for (let i = 0; i < 3; i++) {
      const res = await post(`${gateway.url}/predict_topic`, { text: `q${i}` });
      assert.equal(res.status, 200);
      assert.equal((res.json as Echo).served, 'v1');
    }
    assert.notEqual(await waitFor(async () => (await metric(gateway, 'gateway_shadow_requests_total', { shadow: 'v2', status: '500' })) === before + 3), undefined);
    assert.ok((await metric(gateway, 'gateway_shadow_request_duration_seconds_count', { shadow: 'v2' })) > 0);
  });

  it('drops copies beyond its concurrency and counts them, with a shadow that never answers', async () => {
    shadow.mode = { kind: 'blackhole' };
    const dropped = await metric(gateway, 'gateway_shadow_dropped_total', { reason: 'concurrency' });
    for (let i = 0; i < 8; i++) assert.equal((await post(`${gateway.url}/predict_topic`, { text: `q${i}` })).status, 200);
    assert.notEqual(await waitFor(async () => (await metric(gateway, 'gateway_shadow_dropped_total', { reason: 'concurrency' })) >= dropped + 4), undefined);
    // The hung copies are abandoned at GATEWAY_SHADOW_TIMEOUT_MS, and their bytes given back.
    assert.notEqual(await waitFor(async () => (await metric(gateway, 'gateway_shadow_requests_total', { shadow: 'v2', status: 'timeout' })) >= 7), undefined);
    assert.notEqual(await waitFor(async () => gateway.upstreams.routing.models.get(MODEL)?.byName.get('v2')?.pool.endpoints[0]?.outstanding === 0), undefined);
  });

  it('compares top labels: the agreement is exported per backend pair, and disagreements logged with the input hash and both labels only', async () => {
    served.mode = { kind: 'json', body: labelsAnswer(['NUM', 'LOC', 'HUM']) };
    shadow.mode = { kind: 'json', body: labelsAnswer(['NUM', 'ENTY', 'HUM']) };
    const secret = 'What is the PIN of account 12345?';
    for (let i = 0; i < 4; i++) assert.equal((await post(`${gateway.url}/v2/models/${MODEL}/infer`, { inputs: [secret] })).status, 200);
    const pair = { model: MODEL, backend: 'v1', shadow: 'v2' };
    assert.notEqual(await waitFor(async () => (await metric(gateway, 'gateway_shadow_comparisons_total', { ...pair, result: 'agree' })) === 8), undefined);
    assert.equal(await metric(gateway, 'gateway_shadow_comparisons_total', { ...pair, result: 'disagree' }), 4);
    const logged = lines.filter((line) => line.includes('"shadow answer disagrees"'));
    assert.equal(logged.length, 2, 'GATEWAY_SHADOW_DISAGREEMENT_LOGS_PER_MINUTE bounds the lines');
    const entry = JSON.parse(logged[0] as string);
    assert.deepEqual(entry.rows, [{ row: 1, served: 'LOC', shadow: 'ENTY' }]);
    assert.match(entry.inputSha256, /^[0-9a-f]{64}$/);
    assert.deepEqual([entry.model, entry.backend, entry.shadow], [MODEL, 'v1', 'v2']);
    assert.ok(lines.every((line) => !line.includes('PIN of account')), 'the input is never logged');
  });

  it('gives the cosine of embedding rows', async () => {
    served.mode = { kind: 'json', body: { outputs: [{ name: 'embedding', datatype: 'FP32', shape: [1, 2], data: [1, 0] }] } };
    shadow.mode = { kind: 'json', body: { outputs: [{ name: 'embedding', datatype: 'FP32', shape: [1, 2], data: [1, 1] }] } };
    assert.equal((await post(`${gateway.url}/v2/models/${MODEL}/infer`, { inputs: [] })).status, 200);
    const pair = { model: MODEL, backend: 'v1', shadow: 'v2' };
    assert.notEqual(await waitFor(async () => (await metric(gateway, 'gateway_shadow_cosine_count', pair)) === 1), undefined);
    assert.equal(await metric(gateway, 'gateway_shadow_cosine_bucket', { ...pair, le: '0.5' }), 0);
    assert.equal(await metric(gateway, 'gateway_shadow_cosine_bucket', { ...pair, le: '0.8' }), 1);
  });

  it('copies neither pinned requests, nor reads, nor failed answers', async () => {
    const hits = shadow.hits;
    assert.equal((await post(`${gateway.url}/predict_topic`, {}, { 'x-modeldock-backend': 'v1' })).status, 200);
    assert.equal((await call(`${gateway.url}/v2/models/${MODEL}`)).status, 200);
    served.mode = { kind: 'status', status: 400 };
    assert.equal((await post(`${gateway.url}/predict_topic`, {})).status, 400);
    await sleep(300);
    assert.equal(shadow.hits, hits);
  });
});

describe('shadow traffic: bounded bytes', () => {
  let served: FakeUpstream;
  let shadow: FakeUpstream;
  let gateway: TestGateway;

  before(async () => {
    [served, shadow] = await Promise.all([startUpstream('v1'), startUpstream('v2')]);
    gateway = await startGateway(shadowed(served, shadow), { GATEWAY_SHADOW_MAX_ANSWER_BYTES: '2048', GATEWAY_SHADOW_MAX_BYTES: '4096' },
    );
  });
  after(async () => {
    await gateway.close();
    await Promise.all([served.close(), shadow.close()]);
  });

  it('does not keep a served answer over GATEWAY_SHADOW_MAX_ANSWER_BYTES, and drops a copy over GATEWAY_SHADOW_MAX_BYTES', async () => {
    const big = await post(`${gateway.url}/v2/models/${MODEL}/infer`, { text: 'x'.repeat(3000) });
    assert.equal(big.status, 200);
    assert.ok((big.json as Echo).body.length > 3000, 'the client gets its whole answer');
    assert.notEqual(await waitFor(async () => (await metric(gateway, 'gateway_shadow_dropped_total', { reason: 'answer_too_large' })) === 1), undefined);
    // A copy held by a slow shadow keeps its body and the served answer (about 2.5 KiB of the 4 KiB);
    // the next one's cannot be held as well.
    shadow.mode = { kind: 'slow', delayMs: 1000 };
    const hits = shadow.hits;
    for (let i = 0; i < 2; i++) assert.equal((await post(`${gateway.url}/v2/models/${MODEL}/infer`, { text: 'y'.repeat(1000) })).status, 200);
    assert.notEqual(await waitFor(async () => (await metric(gateway, 'gateway_shadow_dropped_total', { reason: 'bytes' })) === 1), undefined);
    assert.notEqual(await waitFor(async () => (await metric(gateway, 'gateway_shadow_requests_total', { shadow: 'v2', status: '200' })) === 1), undefined);
    assert.equal(shadow.hits, hits + 1);
  });
});
