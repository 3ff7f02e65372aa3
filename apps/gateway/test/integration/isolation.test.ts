import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { call, post, rawRequest, send, useStack } from './harness.js';
import type { Echo } from './upstream.js';

/**
 * The second hardening round: one client must not take the gateway or a replica from the others
 * through parsing cost, declared sizes, connections, a replica ejected for the client's own work,
 * forwarded addresses, or paths another hop reads differently. Each test fails on the gateway before it.
 */
describe('one client cannot cost the others', () => {
  const stack = useStack(['a', 'b'], ({ a, b }) => ({
    a: { upstream: a.url, aliases: [{ method: 'POST', path: '/predict_topic' }] },
    b: { upstream: b.url },
  }));

  describe('POST /v1/embeddings: a bounded scan for the model, never a parse of the whole body', () => {
    it('refuses a body nested too deep before its model as soon as the depth is passed, without waiting for the rest', async () => {
      const head = 'POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n';
      // 64 KiB of the body, then nothing more: the answer cannot depend on the rest.
      const res = await rawRequest(stack.gateway.url, [head, '{"input":' + '['.repeat(64 * 1024 - 9)], 3000);
      assert.equal(res.status, 400);
      assert.deepEqual(JSON.parse(res.body), {
        error: { message: 'malformed JSON body: JSON nested deeper than 32 levels', type: 'invalid_request_error', param: null, code: 'invalid_input' },
      });
      assert.ok(res.closed, 'the connection is closed rather than reading the rest');
    });

    it('refuses a flood of [ at its first byte', async () => {
      const res = await call(`${stack.gateway.url}/v1/embeddings`, { method: 'POST', body: '['.repeat(1024 * 1024 - 1) });
      assert.equal(res.status, 400);
      assert.equal(res.json.error.message, 'malformed JSON body: the body must be a JSON object');
    });

    it('routes by the first top-level model, ignoring nested and escaped ones, and forwards the body byte for byte', async () => {
      const body = '{"input":{"model":"b"},"x":"\\"model\\":\\"b\\"","mod\\u0065l":"a","model":"b"}';
      const res = await call(`${stack.gateway.url}/v1/embeddings`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 200);
      assert.equal(res.json.served, 'a');
      assert.equal(res.json.body, body);
    });

    it('answers GET and other methods with 405 in OpenAI shape, as the model servers do', async () => {
      for (const [method, path] of [
        ['GET', '/v1/embeddings'],
        ['PUT', '/v1/embeddings'],
        ['POST', '/v1/models'],
      ] as const) {
        const res = await call(`${stack.gateway.url}${path}`, { method });
        assert.equal(res.status, 405, `${method} ${path}`);
        assert.equal(res.json.error.code, 'method_not_allowed');
        assert.equal(res.json.error.type, 'invalid_request_error');
      }
    });
  });

  describe('paths: what is forwarded is byte for byte what was checked', () => {
    /** Method, target, and which replica answers it. */
    const forwarded: [string, string, 'a' | 'b'][] = [
      ['POST', '/v2/models/a/versions/1/infer?x=%2F&y=a\\b&z=..', 'a'],
      ['GET', '/v2/models/%61/ready', 'a'],
      ['POST', '/V1/Models/a/versions/007:PREDICT?q=%5c', 'a'],
      ['GET', '/v1/models/b/labels/stable/metadata', 'b'],
      ['POST', '/v1/embeddings?user=%2e%2e', 'b'],
      ['POST', '/predict_topic?a=1&a=2', 'a'],
      ['GET', '/models/b/v2/health/ready?z=%2F', 'b'],
      ['POST', '/Models/a/v2/models/a/infer', 'a'],
      ['POST', '/models/a/predict_topic', 'a'],
    ];

    it('sends every route family to the replica with exactly the path it was given', async () => {
      for (const [method, target, replica] of forwarded) {
        const res = await send(stack.gateway.url, { method, target, body: method === 'POST' ? '{"model":"b"}' : undefined });
        assert.equal(res.status, 200, `${method} ${target}: ${res.text}`);
        const echo = res.json as Echo;
        assert.equal(echo.served, replica, target);
        const expected = target.startsWith('/models/') || target.startsWith('/Models/') ? target.replace(/^\/models\/[^/]+/i, '') : target;
        assert.equal(echo.url, expected, `${method} ${target}`);
      }
    });

    it('refuses backslashes, fragments, encoded separators, dot and empty segments in every route family with a 400', async () => {
      const hits = stack.replicas.a.hits + stack.replicas.b.hits;
      const refused = [
        '/v2/models/a/versions/1\\..\\..\\..\\..\\metrics',
        '/v2/models/a/infer#x',
        '/v2/models/a%2finfer',
        '/v2/models/a/versions/%2e%2e/infer',
        '/v1/models/a\\metadata',
        '/v1/models/a/versions/1/%2E%2e/metadata',
        '/v1/embeddings#frag',
        '/v1/embeddings/..',
        '/predict_topic\\',
        '/predict_topic#x',
        '/models/a/v2/models/a/..%5cinfer',
        '/models/a//v2/health/ready',
        '/models/a/./v2/health/ready',
        '/models/b/v2/health/ready#',
      ];
      for (const target of refused) {
        const res = await send(stack.gateway.url, { method: 'POST', target, body: '{"model":"b"}' });
        assert.equal(res.status, 400, target);
        assert.match(res.json.error, / in the request (path|target)$/, target);
      }
      assert.equal(stack.replicas.a.hits + stack.replicas.b.hits, hits, 'nothing reached a replica');
    });
  });

  describe('errors and Node’s own answers', () => {
    it('echoes at most a short prefix of a client’s model name', async () => {
      const long = 'x'.repeat(200_000);
      const res = await post(`${stack.gateway.url}/v1/embeddings`, { model: long, input: 'y' });
      assert.equal(res.status, 404);
      assert.equal(res.json.error.message, `model '${'x'.repeat(64)}…' not found`);
      const path = await call(`${stack.gateway.url}/v2/models/${'y'.repeat(8000)}/infer`, { method: 'POST', body: '{}' });
      assert.equal(path.status, 404);
      assert.ok(path.text.length < 200, `a ${path.text.length}-byte error body`);
      const route = await call(`${stack.gateway.url}/${'z'.repeat(8000)}`);
      assert.equal(route.json.error, `no route for GET /${'z'.repeat(63)}…`);
    });

    it('answers a request without Host and an unsupported Expect in JSON', async () => {
      const noHost = await rawRequest(stack.gateway.url, ['GET /healthz HTTP/1.1\r\n\r\n']);
      assert.equal(noHost.status, 400);
      assert.deepEqual(JSON.parse(noHost.body), { error: 'missing Host header' });
      const expect = await rawRequest(stack.gateway.url, ['POST /predict_topic HTTP/1.1\r\nHost: x\r\nExpect: later\r\nContent-Length: 2\r\n\r\n{}']);
      assert.equal(expect.status, 417);
      assert.deepEqual(JSON.parse(expect.body), { error: 'only Expect: 100-continue is supported' });
    });
  });
});

describe('connections: each address has a share of the cap', () => {
  const stack = useStack(['m'], ({ m }) => ({ m: { upstream: m.url } }), { GATEWAY_CLIENT_MAX_CONNECTIONS: '4', GATEWAY_MAX_CONNECTIONS: '8' });

  it("closes an address's connections beyond its share at once, while other addresses still connect and are served", async () => {
    const { port } = new URL(stack.gateway.url);
    const sockets: Socket[] = [];
    const closed: boolean[] = [];
    for (let i = 0; i < 6; i++) {
      const socket = connect({ port: Number(port), host: '127.0.0.1', localAddress: '127.0.0.2' });
      socket.on('error', () => {});
      await once(socket, 'connect');
      const index = sockets.push(socket) - 1;
      closed[index] = false;
      socket.once('close', () => {
        closed[index] = true;
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    try {
      assert.deepEqual(closed, [false, false, false, false, true, true]);
      // The remaining global capacity (8) is still there for another address...
      const other = await send(`${stack.gateway.url}/v2/models/m/infer`, { method: 'POST', body: '{}', localAddress: '127.0.0.3' });
      assert.equal(other.status, 200);
      // ...and the first address's open connections still work.
      const first = sockets[0] as Socket;
      const answer = new Promise<string>((resolve) => first.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1'))));
      first.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.match(await answer, /^HTTP\/1\.1 200/);
      const metrics = await call(`${stack.gateway.adminUrl}/metrics`);
      assert.match(metrics.text, /gateway_client_connections_refused_total\{[^}]*\} 2/);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });
});

describe('trusted proxies: X-Forwarded-For is believed only from them', () => {
  const stack = useStack(['m'], ({ m }) => ({ m: { upstream: m.url } }), { GATEWAY_TRUSTED_PROXIES: '127.0.0.2/32', GATEWAY_CLIENT_MAX_CONCURRENCY: '1' });

  const infer = (localAddress: string, forwardedFor: string) =>
    send(`${stack.gateway.url}/v2/models/m/infer`, { method: 'POST', body: '{}', localAddress, headers: { 'x-forwarded-for': forwardedFor } });

  it('gives a direct client rotating X-Forwarded-For one share, and drops its header', async () => {
    stack.replicas.m.mode = { kind: 'slow', delayMs: 200 };
    const answers = await Promise.all([infer('127.0.0.3', '198.51.100.1'), infer('127.0.0.3', '198.51.100.2')]);
    stack.replicas.m.mode = { kind: 'echo' };
    assert.deepEqual(answers.map((r) => r.status).sort(), [200, 429]);
    const echo = (await infer('127.0.0.3', '198.51.100.1')).json as Echo;
    assert.equal(echo.headers['x-forwarded-for'], '127.0.0.3', 'only the peer the gateway saw');
  });

  it("tells a trusted proxy's clients apart by their forwarded address, and appends the proxy", async () => {
    stack.replicas.m.mode = { kind: 'slow', delayMs: 200 };
    const answers = await Promise.all([infer('127.0.0.2', '198.51.100.1'), infer('127.0.0.2', '198.51.100.2')]);
    stack.replicas.m.mode = { kind: 'echo' };
    assert.deepEqual(
      answers.map((r) => r.status),
      [200, 200],
    );
    const echo = (await infer('127.0.0.2', '203.0.113.9, 198.51.100.1')).json as Echo;
    assert.equal(echo.headers['x-forwarded-for'], '203.0.113.9, 198.51.100.1, 127.0.0.2');
  });
});

describe('replica faults only: a timeout or a queue-caused answer is not held against a healthy replica', () => {
  const stack = useStack(
    ['first', 'second'],
    ({ first, second }) => ({ m: { upstream: `${first.url},${second.url}`, attemptTimeoutMs: 200 } }),
    { GATEWAY_HEALTH_TIMEOUT_MS: '200', GATEWAY_EJECTION_MS: '5000' },
  );

  const endpoints = async () => {
    const models = await call(`${stack.gateway.adminUrl}/models`);
    const listed = models.json as { models: { endpoints: { healthy: boolean }[] }[] };
    return (listed.models[0]?.endpoints ?? []).map((e) => e.healthy);
  };

  it("relays a replica's queue-caused 503 and 504 as they are: no retry elsewhere, no ejection", async () => {
    for (const status of [503, 504]) {
      for (const replica of [stack.replicas.first, stack.replicas.second]) {
        replica.mode = { kind: 'status', status, headers: { 'x-modeldock-timeout-cause': 'queue', 'retry-after': '1' } };
      }
      const hits = stack.replicas.first.hits + stack.replicas.second.hits;
      const res = await post(`${stack.gateway.url}/v2/models/m/infer`, {});
      assert.equal(res.status, status);
      assert.equal(res.headers.get('x-modeldock-timeout-cause'), 'queue');
      assert.equal(stack.replicas.first.hits + stack.replicas.second.hits - hits, 1, `a queue-caused ${status} is not retried on the other replica`);
    }
    stack.replicas.first.mode = { kind: 'echo' };
    stack.replicas.second.mode = { kind: 'echo' };
    assert.deepEqual(await endpoints(), [true, true]);
  });

  it('keeps a replica whose queue made a request time out while it went on answering, retrying the request elsewhere', async () => {
    // A burst of one client's requests queues at `first`, which answers one every 120 ms: the later ones
    // waits past the 200 ms attempt, while the replica is plainly working and answers readiness.
    stack.replicas.first.mode = { kind: 'queue', perRequestMs: 120 };
    const answers = await Promise.all(Array.from({ length: 10 }, () => post(`${stack.gateway.url}/v2/models/m/infer`, {})));
    await new Promise((resolve) => setTimeout(resolve, 300));
    stack.replicas.first.mode = { kind: 'echo' };
    assert.deepEqual(
      answers.map((r) => r.status),
      answers.map(() => 200),
    );
    const retried = await call(`${stack.gateway.adminUrl}/metrics`);
    assert.match(retried.text, /gateway_retries_total\{[^}]*reason="etimedout"[^}]*\} [1-9]/, 'some request did time out at first');
    assert.deepEqual(await endpoints(), [true, true], 'not ejected: it kept answering, readiness too');
  });
});
