import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, post, startGateway, type TestGateway } from './harness.js';
import { startUpstream, type Echo, type FakeUpstream } from './upstream.js';

const MODEL = 'question-topic';
const ALIAS = [{ method: 'POST', path: '/predict_topic' }];

/** v1 on two replicas at weight 90, v2 on one at 10, v3 (a candidate) on one at 0. */
function split(v1: FakeUpstream[], v2: FakeUpstream, v3: FakeUpstream) {
  return {
    [MODEL]: {
      backends: [
        { name: 'v1', upstream: v1.map((r) => r.url).join(','), weight: 90 },
        { name: 'v2', upstream: v2.url, weight: 10 },
        { name: 'v3', upstream: v3.url, weight: 0 },
      ],
      aliases: ALIAS,
    },
  };
}

/** Sends `n` requests, `parallel` at a time, and counts the answers by `x-modeldock-backend`. */
async function spread(gateway: TestGateway, n: number, parallel = 16): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  let sent = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (sent < n) {
        sent++;
        const res = await post(`${gateway.url}/predict_topic`, { text: 'q' });
        assert.equal(res.status, 200);
        const backend = res.headers.get('x-modeldock-backend') ?? 'missing';
        seen.set(backend, (seen.get(backend) ?? 0) + 1);
      }
    }),
  );
  return seen;
}

describe('backends: a weighted split, pinning, and a backend without a ready replica', () => {
  let v1: FakeUpstream[];
  let v2: FakeUpstream;
  let v3: FakeUpstream;
  let gateway: TestGateway;

  before(async () => {
    [v1, v2, v3] = await Promise.all([Promise.all([startUpstream('v1-a'), startUpstream('v1-b')]), startUpstream('v2'), startUpstream('v3')]);
    gateway = await startGateway(split(v1, v2, v3));
  });
  after(async () => {
    await gateway.close();
    await Promise.all([...v1, v2, v3].map((r) => r.close()));
  });

  it('splits 90/10 within ±3 points over 2,000 requests, names the backend in every answer, and sends none to weight 0', async () => {
    const seen = await spread(gateway, 2000);
    assert.equal((seen.get('v1') ?? 0) + (seen.get('v2') ?? 0), 2000, JSON.stringify([...seen]));
    const share = (seen.get('v2') ?? 0) / 2000;
    assert.ok(Math.abs(share - 0.1) <= 0.03, `v2 served ${(share * 100).toFixed(1)} %`);
    assert.equal(v3.hits, 0);
    assert.ok(v1.every((r) => r.hits > 0), 'least outstanding spreads v1 over both its replicas');
  });

  it('pins a backend by name, at weight 0 too, and keeps the pin out of the request forwarded', async () => {
    for (const name of ['v3', 'v2', 'v1']) {
      const res = await post(`${gateway.url}/predict_topic`, { text: 'q' }, { 'x-modeldock-backend': name });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-modeldock-backend'), name);
      const echo = res.json as Echo;
      assert.ok(echo.served.startsWith(name), `${name} was served by ${echo.served}`);
      assert.equal(echo.headers['x-modeldock-backend'], undefined);
    }
  });

  it('answers 400 {error} naming the backends for a pin the model does not have, before any replica is bothered', async () => {
    const hits = [...v1, v2, v3].reduce((sum, r) => sum + r.hits, 0);
    const res = await post(`${gateway.url}/v2/models/${MODEL}/infer`, {}, { 'x-modeldock-backend': 'v9' });
    assert.equal(res.status, 400);
    assert.deepEqual(res.json, { error: "model 'question-topic' has no backend 'v9' (x-modeldock-backend); its backends: v1, v2, v3" });
    assert.equal([...v1, v2, v3].reduce((sum, r) => sum + r.hits, 0), hits);
  });

  it("gives a backend's share to the others while it has no ready replica, and the metrics say so", async () => {
    v2.ready = false;
    await gateway.upstreams.refresh();
    try {
      const seen = await spread(gateway, 200);
      assert.deepEqual([...seen], [['v1', 200]]);
      const models = await call(`${gateway.url}/models`);
      assert.deepEqual(models.json.models[0].backends, [
        { name: 'v1', weight: 90, ready: true, readyReplicas: 2 },
        { name: 'v2', weight: 10, ready: false, readyReplicas: 0 },
        { name: 'v3', weight: 0, ready: true, readyReplicas: 1 },
      ]);
      assert.equal(models.json.models[0].ready, true);
      assert.doesNotMatch(models.text, /127\.0\.0\.1/);
      const metrics = (await call(`${gateway.adminUrl}/metrics`)).text;
      const fallbacks = /gateway_backend_fallbacks_total\{model="question-topic",backend="v2"[^}]*\} (\d+)/.exec(metrics);
      assert.ok(Number(fallbacks?.[1]) > 0, 'requests the weights gave v2 are counted');
      assert.match(metrics, /gateway_backend_ready\{model="question-topic",backend="v2"[^}]*\} 0/);
      assert.match(metrics, /gateway_backend_weight\{model="question-topic",backend="v1"[^}]*\} 90/);
      const pinned = await post(`${gateway.url}/predict_topic`, {}, { 'x-modeldock-backend': 'v2' });
      assert.equal(pinned.status, 503, 'a pinned backend without a ready replica is not replaced by another');
      assert.equal(pinned.headers.get('x-modeldock-backend'), 'v2');
    } finally {
      v2.ready = true;
      await gateway.upstreams.refresh();
    }
  });

  it('counts requests per model and backend', async () => {
    const metrics = (await call(`${gateway.adminUrl}/metrics`)).text;
    for (const backend of ['v1', 'v2', 'v3']) {
      assert.match(metrics, new RegExp(`gateway_requests_total\\{model="question-topic",backend="${backend}",status="200"[^}]*\\} [1-9]`));
      assert.match(metrics, new RegExp(`gateway_request_duration_seconds_count\\{[^}]*model="question-topic",backend="${backend}"[^}]*\\} [1-9]`));
    }
  });

  it('lists every backend with its weight, readiness and addresses on the admin listener', async () => {
    const listing = await call(`${gateway.adminUrl}/models`);
    const model = listing.json.models[0];
    assert.deepEqual(
      model.backends.map((b: { name: string; weight: number; upstreams: string[] }) => [b.name, b.weight, b.upstreams]),
      [
        ['v1', 90, v1.map((r) => r.url)],
        ['v2', 10, [v2.url]],
        ['v3', 0, [v3.url]],
      ],
    );
    assert.deepEqual(
      model.endpoints.map((e: { id: string; backend: string }) => [e.backend, e.id]),
      [...v1.map((r) => ['v1', r.id]), ['v2', v2.id], ['v3', v3.id]],
    );
  });
});

describe('backends: pinning with access control on', () => {
  let dir: string;
  let v1: FakeUpstream;
  let v2: FakeUpstream;
  let gateway: TestGateway;
  const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');
  const KEYS = { tester: 'mdk_tester-secret', user: 'mdk_user-secret' };

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gateway-pin-'));
    const file = path.join(dir, 'keys.json');
    writeFileSync(
      file,
      JSON.stringify({
        keys: [
          { id: 'tester', sha256: sha256(KEYS.tester), models: [MODEL], pinBackends: true },
          { id: 'user', sha256: sha256(KEYS.user), models: [MODEL] },
        ],
      }),
    );
    [v1, v2] = await Promise.all([startUpstream('v1'), startUpstream('v2')]);
    gateway = await startGateway(
      { [MODEL]: { backends: [{ name: 'v1', upstream: v1.url, weight: 100 }, { name: 'v2', upstream: v2.url, weight: 0 }], aliases: ALIAS } },
      { GATEWAY_API_KEYS_FILE: file },
    );
  });
  after(async () => {
    await gateway.close();
    await Promise.all([v1.close(), v2.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets a key with pinBackends choose a backend', async () => {
    const res = await post(`${gateway.url}/predict_topic`, {}, { authorization: `Bearer ${KEYS.tester}`, 'x-modeldock-backend': 'v2' });
    assert.equal(res.status, 200);
    assert.equal((res.json as Echo).served, 'v2');
  });

  it('refuses a pin from a key without it with 403, telling nothing about the backends, and counts the refusal', async () => {
    const hits = v2.hits;
    for (const pin of ['v2', 'nope']) {
      const res = await post(`${gateway.url}/predict_topic`, {}, { authorization: `Bearer ${KEYS.user}`, 'x-modeldock-backend': pin });
      assert.equal(res.status, 403);
      assert.deepEqual(res.json, { error: 'this API key may not choose a backend (x-modeldock-backend); its requests take the weighted split' });
    }
    assert.equal(v2.hits, hits);
    const unpinned = await post(`${gateway.url}/predict_topic`, {}, { authorization: `Bearer ${KEYS.user}` });
    assert.equal((unpinned.json as Echo).served, 'v1');
    const metrics = (await call(`${gateway.adminUrl}/metrics`)).text;
    assert.match(metrics, /gateway_key_refusals_total\{key="user",model="question-topic",reason="pin"[^}]*\} 2/);
  });
});
