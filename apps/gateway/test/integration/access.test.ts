import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { call, post, replaceFile, send, startGateway, type TestGateway } from './harness.js';
import { startUpstream, type Echo, type FakeUpstream } from './upstream.js';

const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');
const KEYS = { teamA: 'mdk_team-a-secret-1', all: 'mdk_all-models-secret-2', limited: 'mdk_limited-secret-3', later: 'mdk_added-later-4' };
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes the keys file as an editor or a deployment would (see `replaceFile`). */
function writeKeys(file: string, entries: unknown[] | string): void {
  replaceFile(file, typeof entries === 'string' ? entries : JSON.stringify({ keys: entries }));
}

const ENTRIES = [
  { id: 'team-a', sha256: sha256(KEYS.teamA), models: ['a'] },
  { id: 'all', sha256: sha256(KEYS.all), models: ['*'] },
  { id: 'limited', sha256: sha256(KEYS.limited), models: ['*'], ratePerSecond: 1, burst: 2 },
];

describe('access control: API keys scoped to models', () => {
  let dir: string;
  let file: string;
  let a: FakeUpstream;
  let b: FakeUpstream;
  let gateway: TestGateway;
  const lines: string[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gateway-keys-'));
    file = path.join(dir, 'keys.json');
    writeKeys(file, ENTRIES);
    [a, b] = await Promise.all([startUpstream('a'), startUpstream('b')]);
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    gateway = await startGateway(
      { a: { upstream: a.url, aliases: [{ method: 'POST', path: '/predict_topic' }] }, b: { upstream: b.url } },
      { GATEWAY_API_KEYS_FILE: file, GATEWAY_LOG_LINES_PER_SECOND: '10000' },
      { logger: pino({ level: 'debug' }, sink), keysPollMs: 200 },
    );
  });
  after(async () => {
    await gateway.close();
    await Promise.all([a.close(), b.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets a valid key through, as a Bearer token or x-api-key, and never forwards it', async () => {
    const viaBearer = await post(`${gateway.url}/v2/models/a/infer`, {}, bearer(KEYS.teamA));
    assert.equal(viaBearer.status, 200);
    const echo = viaBearer.json as Echo;
    assert.equal(echo.headers.authorization, undefined);
    assert.equal(echo.headers['x-api-key'], undefined);
    const viaHeader = await post(`${gateway.url}/predict_topic`, {}, { 'x-api-key': KEYS.teamA });
    assert.equal(viaHeader.status, 200);
    assert.equal((viaHeader.json as Echo).headers['x-api-key'], undefined);
  });

  it('answers no key or an unknown key with 401, WWW-Authenticate: Bearer and {"error"} (OpenAI shape on its routes)', async () => {
    const missing = await post(`${gateway.url}/v2/models/a/infer`, {});
    assert.equal(missing.status, 401);
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="modeldock"');
    assert.deepEqual(missing.json, { error: 'an API key is required: Authorization: Bearer <key> or x-api-key: <key>' });
    const unknown = await post(`${gateway.url}/v2/models/a/infer`, {}, bearer('mdk_not-a-key'));
    assert.equal(unknown.status, 401);
    assert.equal(unknown.headers.get('www-authenticate'), 'Bearer realm="modeldock", error="invalid_token"');
    assert.deepEqual(unknown.json, { error: 'the API key is not valid' });
    const openAi = await post(`${gateway.url}/v1/embeddings`, { model: 'a', input: 'x' }, bearer('mdk_not-a-key'));
    assert.equal(openAi.status, 401);
    assert.deepEqual(openAi.json, {
      error: { message: 'the API key is not valid', type: 'authentication_error', param: null, code: 'invalid_api_key' },
    });
  });

  it('answers a model outside the key’s scope with 403, known model or not, whatever route names it', async () => {
    const hits = b.hits;
    for (const [target, body] of [
      ['/v2/models/b/infer', '{}'],
      ['/models/b/v2/health/ready', undefined],
      ['/v1/models/b:predict', '{}'],
      ['/v2/models/nope/infer', '{}'],
    ] as const) {
      const res = await send(gateway.url, { method: body === undefined ? 'GET' : 'POST', target, body, headers: bearer(KEYS.teamA) });
      assert.equal(res.status, 403, target);
      assert.match(res.json.error, /^this API key may not use model '(b|nope)'$/);
    }
    const openAi = await post(`${gateway.url}/v1/embeddings`, { model: 'b', input: 'x' }, bearer(KEYS.teamA));
    assert.equal(openAi.status, 403);
    assert.equal(openAi.json.error.type, 'permission_error');
    assert.equal(b.hits, hits, 'nothing reached the model the key may not use');
    // A key for every model learns that a model does not exist; a scoped one does not.
    assert.equal((await post(`${gateway.url}/v2/models/nope/infer`, {}, bearer(KEYS.all))).status, 404);
  });

  it('lists only the models the key may use in GET /v1/models and GET /models', async () => {
    const scoped = await call(`${gateway.url}/v1/models`, { headers: bearer(KEYS.teamA) });
    assert.deepEqual(
      scoped.json.data.map((m: { id: string }) => m.id),
      ['a'],
    );
    const all = await call(`${gateway.url}/models`, { headers: bearer(KEYS.all) });
    assert.deepEqual(
      all.json.models.map((m: { name: string }) => m.name),
      ['a', 'b'],
    );
    assert.equal((await call(`${gateway.url}/v1/models`)).status, 401);
  });

  it('keeps the gateway’s health routes public', async () => {
    for (const target of ['/healthz', '/readyz', '/v2/health/live', '/v2/health/ready']) {
      assert.equal((await call(`${gateway.url}${target}`)).status, 200, target);
    }
  });

  it('sends RateLimit-Policy and RateLimit on every answer of a limited route, 429 + Retry-After beyond the bucket, and refills it', async () => {
    const first = await post(`${gateway.url}/v2/models/a/infer`, {}, bearer(KEYS.limited));
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('ratelimit-policy'), '"rate";q=2;w=2, "concurrency";q=16;qu="concurrent-requests"');
    assert.match(first.headers.get('ratelimit') ?? '', /^"rate";r=1;t=1, "concurrency";r=15$/);
    const second = await post(`${gateway.url}/v2/models/a/infer`, {}, bearer(KEYS.limited));
    assert.match(second.headers.get('ratelimit') ?? '', /^"rate";r=0;t=[12], /);
    const refused = await post(`${gateway.url}/v2/models/a/infer`, {}, bearer(KEYS.limited));
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.match(refused.headers.get('ratelimit') ?? '', /^"rate";r=0;t=2, /);
    assert.deepEqual(refused.json, { error: "request rate over this client's limit (1/s)" });
    const openAi = await post(`${gateway.url}/v1/embeddings`, { model: 'a', input: 'x' }, bearer(KEYS.limited));
    assert.equal(openAi.status, 429);
    assert.deepEqual(openAi.json.error, { message: "request rate over this client's limit (1/s)", type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' });
    // Other keys have their own buckets.
    assert.equal((await post(`${gateway.url}/v2/models/a/infer`, {}, bearer(KEYS.all))).status, 200);
    await sleep(1100);
    assert.equal((await post(`${gateway.url}/v2/models/a/infer`, {}, bearer(KEYS.limited))).status, 200, 'refilled after a second');
  });

  it('counts requests and refusals per key id and model, never the key', async () => {
    const metrics = await call(`${gateway.adminUrl}/metrics`);
    assert.match(metrics.text, /gateway_key_requests_total\{[^}]*key="team-a"[^}]*model="a"[^}]*\} [1-9]/);
    assert.match(metrics.text, /gateway_key_refusals_total\{[^}]*key="limited"[^}]*reason="rate"[^}]*\} [1-9]/);
    assert.match(metrics.text, /gateway_key_refusals_total\{[^}]*key=""[^}]*reason="no_key"[^}]*\} [1-9]/);
    for (const key of Object.values(KEYS)) assert.ok(!metrics.text.includes(key) && !metrics.text.includes(sha256(key)));
  });

  it('reloads the keys file within 5 s without a restart, and keeps the previous keys when the new file is broken', async () => {
    assert.equal((await post(`${gateway.url}/v2/models/a/infer`, {}, bearer(KEYS.later))).status, 401);
    writeKeys(file, [...ENTRIES, { id: 'later', sha256: sha256(KEYS.later), models: ['b'] }]);
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      await sleep(100);
      status = (await post(`${gateway.url}/v2/models/b/infer`, {}, bearer(KEYS.later))).status;
    }
    assert.equal(status, 200, 'the added key works within 5 s');
    const from = lines.length;
    writeKeys(file, '{"keys": [ broken');
    await sleep(1000);
    assert.equal((await post(`${gateway.url}/v2/models/b/infer`, {}, bearer(KEYS.later))).status, 200, 'previous keys kept');
    const complaint = lines.slice(from).map((line) => JSON.parse(line) as { msg: string; reason?: string }).find((l) => l.msg.startsWith('API keys file not usable'));
    assert.equal(complaint?.reason, 'not valid JSON');
    writeKeys(file, ENTRIES);
    for (let i = 0; i < 50 && status !== 401; i++) {
      await sleep(100);
      status = (await post(`${gateway.url}/v2/models/b/infer`, {}, bearer(KEYS.later))).status;
    }
    assert.equal(status, 401, 'a removed key stops working');
  });

  it('never writes a key or its hash in a log line', () => {
    assert.ok(lines.length > 0);
    const text = lines.join('\n');
    for (const key of Object.values(KEYS)) {
      assert.ok(!text.includes(key), 'a key in the logs');
      assert.ok(!text.includes(sha256(key)), 'a key hash in the logs');
    }
    assert.ok(!text.includes('mdk_not-a-key'));
  });
});

describe('admin listener with an admin key', () => {
  it('requires the admin key on every admin route, compared by its hash', async () => {
    const upstream = await startUpstream('m');
    const gateway = await startGateway({ m: { upstream: upstream.url } }, { GATEWAY_ADMIN_API_KEY_SHA256: sha256('mdk_admin') });
    try {
      for (const target of ['/metrics', '/models', '/healthz']) {
        assert.equal((await call(`${gateway.adminUrl}${target}`)).status, 401, target);
        assert.equal((await call(`${gateway.adminUrl}${target}`, { headers: bearer('mdk_wrong') })).status, 401, target);
        assert.equal((await call(`${gateway.adminUrl}${target}`, { headers: bearer('mdk_admin') })).status, 200, target);
      }
    } finally {
      await gateway.close();
      await upstream.close();
    }
  });
});

