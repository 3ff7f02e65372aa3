import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { call, post, rawRequest, send, startGateway, useStack, type TestGateway } from './harness.js';
import { startUpstream, type Echo, type FakeUpstream } from './upstream.js';

const ALIAS = [{ method: 'POST', path: '/predict_topic' }];

/** One regression test per gateway finding of the hardening issue; each fails on the gateway before it. */
describe('gateway hardening', () => {
  describe('upstream faults', () => {
    let good: FakeUpstream;
    let bad: FakeUpstream;
    let gateway: TestGateway;

    before(async () => {
      [good, bad] = await Promise.all([startUpstream('good'), startUpstream('bad')]);
      gateway = await startGateway(
        { m: { upstream: `${good.url},${bad.url}`, attemptTimeoutMs: 300, aliases: ALIAS } },
        { GATEWAY_UPSTREAM_IDLE_TIMEOUT_MS: '300', GATEWAY_EJECTION_MS: '2000', GATEWAY_HEALTH_TIMEOUT_MS: '100' },
      );
    });
    after(async () => {
      await gateway.close();
      await Promise.all([good.close(), bad.close()]);
    });

    const endpointOf = async (replica: FakeUpstream) => {
      const models = await call(`${gateway.adminUrl}/models`);
      return models.json.models[0].endpoints.find((e: { id: string }) => e.id === replica.id) as { healthy: boolean; reason?: string };
    };

    it('ends the client response with an error when the upstream body stalls, instead of hanging', async () => {
      good.mode = { kind: 'stall-body' };
      bad.mode = { kind: 'stall-body' };
      const started = Date.now();
      const res = await fetch(`${gateway.url}/v2/models/m/infer`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(10_000) });
      assert.equal(res.status, 200, 'the head was passed on');
      await assert.rejects(res.text(), (err: Error) => err.name !== 'TimeoutError', 'the body ends in an error, not the client deadline');
      assert.ok(Date.now() - started < 5000);
      good.mode = { kind: 'echo' };
      bad.mode = { kind: 'echo' };
      // Past the ejection hold, then a readiness round brings both back.
      await new Promise((resolve) => setTimeout(resolve, 2100));
      await gateway.upstreams.refresh();
    });

    it('ejects a black-hole replica whose readiness hangs too, retrying the request elsewhere', async () => {
      bad.mode = { kind: 'blackhole' };
      bad.ready = 'hang';
      const hitsBefore = bad.hits;
      const answers = [];
      for (let i = 0; i < 10; i++) answers.push(await post(`${gateway.url}/predict_topic`, { i }));
      assert.deepEqual(
        answers.map((a) => a.status),
        answers.map(() => 200),
      );
      // The readiness check after the first timeout takes up to 100 ms; a second request may reach it meanwhile.
      assert.ok(bad.hits - hitsBefore <= 2, `the black hole got ${bad.hits - hitsBefore} requests, then left the rotation`);
      assert.deepEqual(await endpointOf(bad), {
        ...(await endpointOf(bad)),
        healthy: false,
        reason: 'timeout, then readiness: no readiness answer within 100 ms',
      });
      // Held out for the ejection time even though its readiness passes, then back.
      bad.ready = true;
      await gateway.upstreams.refresh();
      assert.equal((await endpointOf(bad)).healthy, false, 'still held');
      bad.mode = { kind: 'echo' };
      await new Promise((resolve) => setTimeout(resolve, 2100));
      await gateway.upstreams.refresh();
      assert.equal((await endpointOf(bad)).healthy, true);
    });

    it('keeps a replica that times out but answers readiness in rotation, new requests preferring the others for a while', async () => {
      bad.mode = { kind: 'blackhole' };
      const hitsBefore = bad.hits;
      const answers = [];
      for (let i = 0; i < 6; i++) answers.push(await post(`${gateway.url}/predict_topic`, { i }));
      bad.mode = { kind: 'echo' };
      assert.deepEqual(
        answers.map((a) => a.status),
        answers.map(() => 200),
      );
      assert.equal(bad.hits - hitsBefore, 1, 'one request timed out there, then the others went to the good replica');
      assert.equal((await endpointOf(bad)).healthy, true, 'not ejected: its readiness answered');
      // Past the 2 s of suspicion; it answers again.
      await new Promise((resolve) => setTimeout(resolve, 2100));
    });

    it('answers 504 when every replica times out, and tells each attempt its deadline', async () => {
      const echo = await post(`${gateway.url}/predict_topic`, {}, { 'x-modeldock-deadline-ms': '999999' });
      const deadline = Number((echo.json as Echo).headers['x-modeldock-deadline-ms']);
      assert.equal(deadline, 270, 'the 300 ms attempt minus a tenth, so the replica answers before the gateway gives up');
      good.mode = { kind: 'blackhole' };
      bad.mode = { kind: 'blackhole' };
      const res = await post(`${gateway.url}/predict_topic`, {});
      assert.equal(res.status, 504);
      assert.deepEqual(res.json, { error: 'upstream did not answer within 300 ms' });
      good.mode = { kind: 'echo' };
      bad.mode = { kind: 'echo' };
      // Past the ejection hold, then a readiness round brings both back.
      await new Promise((resolve) => setTimeout(resolve, 2100));
      await gateway.upstreams.refresh();
    });
  });

  describe('client limits', () => {
    let upstream: FakeUpstream;
    let gateway: TestGateway;

    before(async () => {
      upstream = await startUpstream('m');
      gateway = await startGateway(
        { m: { upstream: upstream.url, aliases: ALIAS } },
        {
          GATEWAY_MAX_BODY_BYTES: '4096',
          GATEWAY_MAX_INFLIGHT_BODY_BYTES: '6000',
          GATEWAY_HEADERS_TIMEOUT_MS: '300',
          GATEWAY_REQUEST_TIMEOUT_MS: '600',
          GATEWAY_MAX_HEADER_BYTES: '2048',
        },
      );
    });
    after(async () => {
      await gateway.close();
      await upstream.close();
    });

    const head = (length: number) =>
      `POST /predict_topic HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

    it('reserves body bytes as they arrive, not by declared length', async () => {
      // Three uploads declare 4000 bytes each, send 10 and stall: before, 12,000 declared bytes held the 6000-byte budget.
      const stalled = [1, 2, 3].map(() => rawRequest(gateway.url, [head(4000), 'x'.repeat(10)], 2000, '127.0.0.2'));
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.equal(gateway.apps.bodyBudget.used, 30, 'only the bytes received are held');
      assert.equal((await send(`${gateway.url}/predict_topic`, { method: 'POST', body: 'y'.repeat(200), localAddress: '127.0.0.3' })).status, 200);
      assert.deepEqual(
        (await Promise.all(stalled)).map((r) => r.status),
        [408, 408, 408],
      );
    });

    it("refuses a client past its share of the body budget with 429, others keep theirs, and a full budget with 503", async () => {
      // Budget 6000, a client's share 4096 (the largest body).
      const first = rawRequest(gateway.url, [head(4000), 'x'.repeat(3000)], 2000, '127.0.0.2');
      await new Promise((resolve) => setTimeout(resolve, 100));
      const over = await rawRequest(gateway.url, [head(4000), 'x'.repeat(3000)], 2000, '127.0.0.2');
      assert.equal(over.status, 429, "a second 3000 bytes would take 127.0.0.2 past its 4096");
      assert.equal(JSON.parse(over.body).error, 'this client is sending more than 4096 bytes of request bodies at once');
      assert.match(over.headers, /retry-after: 1/i);
      assert.equal((await send(`${gateway.url}/predict_topic`, { method: 'POST', body: 'y'.repeat(2000), localAddress: '127.0.0.3' })).status, 200);
      const second = rawRequest(gateway.url, [head(4000), 'x'.repeat(2900)], 2000, '127.0.0.4');
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(gateway.apps.bodyBudget.used, 5900);
      const full = await send(`${gateway.url}/predict_topic`, { method: 'POST', body: 'y'.repeat(200), localAddress: '127.0.0.3' });
      assert.equal(full.status, 503);
      assert.equal(full.headers.get('retry-after'), '1');
      assert.deepEqual(Object.keys(full.json), ['error']);
      assert.deepEqual(
        (await Promise.all([first, second])).map((r) => r.status),
        [408, 408],
      );
      for (let i = 0; i < 100 && gateway.apps.bodyBudget.used > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(gateway.apps.bodyBudget.used, 0, 'released when the stalled requests ended');
      const metrics = await call(`${gateway.adminUrl}/metrics`);
      assert.match(metrics.text, /gateway_body_budget_rejections_total\{reason="client_share"[^}]*\} 1/);
      assert.match(metrics.text, /gateway_body_budget_rejections_total\{reason="full"[^}]*\} 1/);
    });

    it('answers slow headers with a JSON 408 and closes the connection', async () => {
      const res = await rawRequest(gateway.url, ['GET /healthz HTTP/1.1\r\nHost: x\r\n'], 5000);
      assert.equal(res.status, 408);
      assert.deepEqual(JSON.parse(res.body), { error: 'request not received within 300 ms' });
      assert.match(res.headers, /connection: close/i);
      assert.ok(res.closed && res.elapsedMs < 3000, `closed after ${res.elapsedMs} ms`);
    });

    it('answers a slow upload with a JSON 408', async () => {
      const res = await rawRequest(gateway.url, [head(100), '{"a":'], 5000);
      assert.equal(res.status, 408);
      assert.deepEqual(JSON.parse(res.body), { error: 'request not received within 600 ms' });
      assert.ok(res.closed && res.elapsedMs < 3000, `closed after ${res.elapsedMs} ms`);
    });

    it("answers Node's parser errors with JSON: 431 for oversized headers, 400 for duplicate lengths or garbage", async () => {
      const big = await rawRequest(gateway.url, [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4096)}\r\n\r\n`]);
      assert.equal(big.status, 431);
      assert.deepEqual(JSON.parse(big.body), { error: 'request header fields too large' });
      const duplicate = await rawRequest(gateway.url, [
        'POST /predict_topic HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
      ]);
      assert.equal(duplicate.status, 400);
      assert.deepEqual(JSON.parse(duplicate.body), { error: 'malformed HTTP request' });
      const garbage = await rawRequest(gateway.url, ['\x00\x01 nonsense\r\n\r\n']);
      assert.equal(garbage.status, 400);
      assert.match(garbage.headers, /content-type: application\/json/i);
    });

    it('answers malformed percent-encoding with 400 {error}, never 500', async () => {
      for (const path of ['/models/%ff/x', '/v2/models/%ff', '/v2/models/%ff/infer', '/v1/models/%E0%A4%A:predict', '/x/%']) {
        const res = await call(`${gateway.url}${path}`);
        assert.equal(res.status, 400, path);
        assert.deepEqual(res.json, { error: 'malformed percent-encoding in the request path' }, path);
      }
    });

    it('limits requests in flight per client: the excess gets 429 + Retry-After, counted in a metric', async () => {
      const limited = await startGateway({ m: { upstream: upstream.url, aliases: ALIAS } }, { GATEWAY_CLIENT_MAX_CONCURRENCY: '2' });
      upstream.mode = { kind: 'slow', delayMs: 300 };
      const answers = await Promise.all(Array.from({ length: 5 }, () => post(`${limited.url}/predict_topic`, {})));
      upstream.mode = { kind: 'echo' };
      const statuses = answers.map((a) => a.status).sort();
      assert.deepEqual(statuses, [200, 200, 429, 429, 429]);
      const refused = answers.find((a) => a.status === 429);
      assert.equal(refused?.headers.get('retry-after'), '1');
      assert.deepEqual(refused?.json, { error: 'too many requests in flight from this client (limit 2)' });
      const metrics = await call(`${limited.adminUrl}/metrics`);
      assert.match(metrics.text, /gateway_client_limited_total\{reason="concurrency"[^}]*\} 3/);
      assert.equal((await post(`${limited.url}/predict_topic`, {})).status, 200, 'admitted again once the others finished');
      await limited.close();
    });
  });

  describe('public surface', () => {
    const stack = useStack(['a', 'b'], ({ a, b }) => ({
      a: { upstream: a.url, aliases: [{ method: 'POST', path: '/classify_it' }] },
      b: { upstream: b.url },
    }));

    it("never reaches a model service's /metrics or other internal paths", async () => {
      const hits = stack.replicas.a.hits;
      for (const path of ['/metrics', '/models/a/metrics', '/models/a/', '/v2/models/a/metrics', '/models/a/v2/models/b', '/models/a/debug']) {
        const res = await call(`${stack.gateway.url}${path}`);
        assert.equal(res.status, 404, path);
        assert.equal(typeof res.json.error, 'string', path);
      }
      assert.equal(stack.replicas.a.hits, hits, 'nothing reached the replica');
      const metrics = await call(`${stack.gateway.adminUrl}/metrics`);
      assert.match(metrics.text, /gateway_requests_total/, 'the gateway metrics live on the admin listener');
    });

    it('names the replica that answered with an opaque id, never its address', async () => {
      const res = await post(`${stack.gateway.url}/v2/models/a/infer`, {});
      const servedBy = res.headers.get('x-served-by') ?? '';
      assert.equal(servedBy, stack.gateway.servedBy(stack.replicas.a.id));
      assert.doesNotMatch(servedBy, /127|:\d|\./);
      assert.doesNotMatch(servedBy, new RegExp(String(stack.replicas.a.port)));
    });

    it('routes configured aliases, and only for their method', async () => {
      const res = await post(`${stack.gateway.url}/classify_it`, { x: 1 });
      assert.equal(res.json.served, 'a');
      assert.equal(res.json.url, '/classify_it');
      assert.equal((await call(`${stack.gateway.url}/classify_it`)).status, 404);
      assert.equal((await post(`${stack.gateway.url}/predict_topic`, {})).status, 404, 'no alias is built in');
    });

    it('answers the OIP server routes itself', async () => {
      const hits = stack.replicas.a.hits + stack.replicas.b.hits;
      const meta = await call(`${stack.gateway.url}/v2`);
      assert.deepEqual(meta.json, { name: 'modeldock-gateway', version: '1.0.0', extensions: [] });
      assert.equal((await call(`${stack.gateway.url}/v2/health/live`)).status, 200);
      assert.equal((await call(`${stack.gateway.url}/v2/health/ready`)).status, 200);
      assert.equal(stack.replicas.a.hits + stack.replicas.b.hits, hits);
    });

    it("stays ready while one model is down, and that model's outage does not affect another", async () => {
      stack.replicas.b.ready = false;
      await stack.gateway.upstreams.refresh();
      try {
        assert.equal((await call(`${stack.gateway.url}/readyz`)).status, 200);
        assert.equal((await call(`${stack.gateway.url}/v2/health/ready`)).status, 200);
        assert.equal((await post(`${stack.gateway.url}/v2/models/a/infer`, {})).status, 200);
        assert.equal((await post(`${stack.gateway.url}/v2/models/b/infer`, {})).status, 503);
        const models = await call(`${stack.gateway.url}/models`);
        assert.deepEqual(models.json.models, [
          { name: 'a', ready: true, readyReplicas: 1, backends: [{ name: 'default', weight: 1, ready: true, readyReplicas: 1 }] },
          { name: 'b', ready: false, readyReplicas: 0, backends: [{ name: 'default', weight: 1, ready: false, readyReplicas: 0 }] },
        ]);
        stack.gateway.lifecycle.draining = true;
        const draining = await call(`${stack.gateway.url}/v2/health/ready`);
        assert.equal(draining.status, 503, 'a draining gateway is not ready');
        assert.equal(typeof draining.json.error, 'string');
      } finally {
        stack.gateway.lifecycle.draining = false;
        stack.replicas.b.ready = true;
        await stack.gateway.upstreams.refresh();
      }
    });

    it('routes POST /v1/embeddings by the body\'s model, with OpenAI error bodies', async () => {
      const ok = await post(`${stack.gateway.url}/v1/embeddings`, { model: 'b', input: 'hello' });
      assert.equal(ok.status, 200);
      assert.equal(ok.json.served, 'b');
      assert.equal(ok.json.url, '/v1/embeddings');
      assert.deepEqual(JSON.parse(ok.json.body), { model: 'b', input: 'hello' }, 'the body is forwarded byte for byte');

      const unknown = await post(`${stack.gateway.url}/v1/embeddings`, { model: 'nope', input: 'x' });
      assert.equal(unknown.status, 404);
      assert.deepEqual(unknown.json, {
        error: { message: "model 'nope' not found", type: 'invalid_request_error', param: 'model', code: 'model_not_found' },
      });
      for (const body of [{ input: 'x' }, { model: 3 }, { model: '' }]) {
        const missing = await post(`${stack.gateway.url}/v1/embeddings`, body);
        assert.equal(missing.status, 400, JSON.stringify(body));
        assert.equal(missing.json.error.code, 'model_not_found');
        assert.equal(missing.json.error.param, 'model');
      }
      for (const body of [[1], 'text']) {
        const notObject = await post(`${stack.gateway.url}/v1/embeddings`, body);
        assert.equal(notObject.status, 400, JSON.stringify(body));
        assert.deepEqual(notObject.json.error, {
          message: 'malformed JSON body: the body must be a JSON object',
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_input',
        });
      }
      const malformed = await call(`${stack.gateway.url}/v1/embeddings`, { method: 'POST', body: '{"model":' });
      assert.equal(malformed.status, 400);
      assert.equal(malformed.json.error.type, 'invalid_request_error');
      assert.equal(typeof malformed.json.error.message, 'string');
    });

    it('answers GET /v1/models from configuration, and still proxies TF Serving /v1/models/<name>', async () => {
      const list = await call(`${stack.gateway.url}/v1/models`);
      assert.equal(list.status, 200);
      assert.equal(list.json.object, 'list');
      assert.deepEqual(
        list.json.data.map((m: { id: string; object: string; owned_by: string; created: number }) => [m.id, m.object, m.owned_by, Number.isInteger(m.created)]),
        [
          ['a', 'model', 'modeldock', true],
          ['b', 'model', 'modeldock', true],
        ],
      );
      const tf = await call(`${stack.gateway.url}/v1/models/a/metadata`);
      assert.equal(tf.json.served, 'a');
      assert.equal(tf.json.url, '/v1/models/a/metadata');
    });
  });

  describe('logs', () => {
    it('logs refusals at info without stack traces, and caps a flood', async () => {
      const lines: string[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
          done();
        },
      });
      const logger = pino({ level: 'info' }, sink);
      const upstream = await startUpstream('m');
      upstream.ready = false;
      const gateway = await startGateway({ m: { upstream: upstream.url } }, { GATEWAY_LOG_LINES_PER_SECOND: '20' }, { logger });
      try {
        lines.length = 0;
        const flood = 300;
        for (let i = 0; i < flood / 30; i++) {
          await Promise.all(
            Array.from({ length: 30 }, (_, j) => (j % 2 === 0 ? post(`${gateway.url}/v2/models/m/infer`, {}) : call(`${gateway.url}/nope`))),
          );
        }
        const access = lines.map((line) => JSON.parse(line) as { level: number; msg: string; err?: unknown; res?: { statusCode: number } });
        const completed = access.filter((l) => l.msg === 'request completed');
        assert.ok(completed.length > 0 && completed.length <= 40, `access lines for ${flood} requests: ${completed.length}`);
        assert.ok(completed.every((l) => l.level === 30 && l.err === undefined), 'refusals (404, 503) at info, no error object');
        assert.ok(lines.every((line) => !line.includes('"stack"')));
        assert.ok(lines.join('\n').length < 20_000, `log bytes: ${lines.join('\n').length}`);
      } finally {
        await gateway.close();
        await upstream.close();
      }
    });
  });
});
