import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from './config.js';

describe('loadConfig', () => {
  it('defaults to the models file in the checkout: every model pnpm start runs (by name, as deploy:gen writes them), with their aliases', () => {
    const config = loadConfig({});
    assert.equal(config.port, 8080);
    // Safe by default: nothing outside this machine reaches a gateway started without settings.
    assert.equal(config.host, '127.0.0.1');
    assert.deepEqual([config.adminPort, config.adminHost], [9081, '127.0.0.1']);
    assert.deepEqual(config.models, [
      {
        name: 'embedding-topic',
        backends: [{ name: 'default', weight: 1, upstreams: [{ url: 'http://127.0.0.1:8503', hostname: '127.0.0.1', port: 8503 }] }],
        shadow: undefined,
        readyPath: '/v2/health/ready',
        timeoutMs: 30_000,
        attemptTimeoutMs: 15_000,
        maxTimeoutMs: 120_000,
        aliases: [],
      },
      {
        name: 'question-topic',
        backends: [{ name: 'default', weight: 1, upstreams: [{ url: 'http://127.0.0.1:8501', hostname: '127.0.0.1', port: 8501 }] }],
        shadow: undefined,
        readyPath: '/v2/health/ready',
        timeoutMs: 30_000,
        attemptTimeoutMs: 15_000,
        maxTimeoutMs: 120_000,
        aliases: [{ method: 'POST', path: '/predict_topic' }],
      },
      {
        name: 'sentence-embedding',
        backends: [{ name: 'default', weight: 1, upstreams: [{ url: 'http://127.0.0.1:8502', hostname: '127.0.0.1', port: 8502 }] }],
        shadow: undefined,
        readyPath: '/v2/health/ready',
        timeoutMs: 30_000,
        attemptTimeoutMs: 15_000,
        maxTimeoutMs: 120_000,
        aliases: [],
      },
    ]);
    assert.deepEqual(
      [config.resolveIntervalMs, config.healthIntervalMs, config.timeoutMs, config.maxRetries, config.maxBodyBytes],
      [2000, 1000, 30_000, 2, 1024 * 1024],
    );
    assert.deepEqual(
      [config.maxInflightBodyBytes, config.headersTimeoutMs, config.requestTimeoutMs, config.keepAliveTimeoutMs, config.maxConnections],
      [64 * 1024 * 1024, 10_000, 30_000, 5000, 1024],
    );
    assert.deepEqual(config.clientLimits, { maxConcurrency: 16, maxBodyBytes: 8 * 1024 * 1024, maxConnections: 128, ratePerSecond: 0, burst: 1 });
    assert.deepEqual(config.trustedProxies, []);
  });

  it('reads models from GATEWAY_MODELS with comma-separated upstreams and per-model settings', () => {
    const config = loadConfig({
      GATEWAY_MODELS: JSON.stringify({
        'question-topic': { upstream: 'http://question-topic:8501' },
        sentiment: { upstream: 'http://127.0.0.1:9001, http://localhost:9002', readyPath: '/ready', timeoutMs: 500, maxTimeoutMs: 9000 },
        ipv6: { upstream: ['http://[::1]:9003'] },
      }),
      GATEWAY_TIMEOUT_MS: '1234',
      GATEWAY_MAX_TIMEOUT_MS: '1000',
      GATEWAY_MAX_RETRIES: '0',
    });
    const [topic, sentiment, ipv6] = config.models;
    assert.deepEqual(topic?.backends[0]?.upstreams, [{ url: 'http://question-topic:8501', hostname: 'question-topic', port: 8501 }]);
    assert.equal(topic?.timeoutMs, 1234, 'a model without timeoutMs gets GATEWAY_TIMEOUT_MS');
    assert.equal(topic?.maxTimeoutMs, 1234, 'a longest deadline shorter than the ordinary one is the ordinary one');
    assert.deepEqual(
      sentiment?.backends[0]?.upstreams.map((u) => u.url),
      ['http://127.0.0.1:9001', 'http://localhost:9002'],
    );
    assert.equal(sentiment?.readyPath, '/ready');
    assert.equal(sentiment?.timeoutMs, 500);
    assert.equal(sentiment?.maxTimeoutMs, 9000);
    assert.equal(ipv6?.backends[0]?.upstreams[0]?.hostname, '::1');
    assert.equal(config.maxRetries, 0);
  });

  it('reads models from GATEWAY_MODELS_FILE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-config-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'models.json');
    writeFileSync(file, JSON.stringify({ 'question-topic': { upstream: 'http://qt:8501' } }));
    assert.equal(loadConfig({ GATEWAY_MODELS_FILE: file }).models[0]?.backends[0]?.upstreams[0]?.hostname, 'qt');
  });

  it('returns a deeply frozen object', () => {
    const config = loadConfig({});
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.models[0]?.backends[0]?.upstreams[0]));
  });

  it('names the variable in every error', () => {
    assert.throws(() => loadConfig({ GATEWAY_MODELS: '{not json' }), /GATEWAY_MODELS: not valid JSON/);
    assert.throws(() => loadConfig({ GATEWAY_MODELS_FILE: '/nonexistent/models.json' }), /GATEWAY_MODELS_FILE: cannot read/);
    assert.throws(() => loadConfig({ GATEWAY_MODELS: '{}', GATEWAY_MODELS_FILE: '/x' }), /not both/);
    assert.throws(() => loadConfig({ GATEWAY_PORT: 'eighty', GATEWAY_MAX_RETRIES: '-1' }), /GATEWAY_PORT.*GATEWAY_MAX_RETRIES/);
  });

  it('rejects upstreams that are not plain http://host:port', () => {
    for (const upstream of ['https://qt:8501', 'http://qt:8501/base', 'qt:8501', '', 'http://user:pw@qt:8501']) {
      assert.throws(
        () => loadConfig({ GATEWAY_MODELS: JSON.stringify({ qt: { upstream } }) }),
        /GATEWAY_MODELS\.qt\.upstream/,
        upstream,
      );
    }
  });

  it('rejects unknown model settings, bad model names and an empty model list', () => {
    assert.throws(() => loadConfig({ GATEWAY_MODELS: JSON.stringify({ qt: { upstream: 'http://qt:1', retries: 3 } }) }), /retries/);
    assert.throws(() => loadConfig({ GATEWAY_MODELS: JSON.stringify({ 'a/b': { upstream: 'http://qt:1' } }) }), /model names/);
    assert.throws(() => loadConfig({ GATEWAY_MODELS: '{}' }), /at least one model/);
  });

  it('reads aliases per model, upper-casing the method', () => {
    const config = loadConfig({
      GATEWAY_MODELS: JSON.stringify({ a: { upstream: 'http://a:1', aliases: [{ method: 'post', path: '/classify_it' }] } }),
    });
    assert.deepEqual(config.models[0]?.aliases, [{ method: 'POST', path: '/classify_it' }]);
  });

  it('rejects an alias claimed by two models, or one shadowing a gateway route', () => {
    const alias = { method: 'POST', path: '/predict' };
    assert.throws(
      () => loadConfig({ GATEWAY_MODELS: JSON.stringify({ a: { upstream: 'http://a:1', aliases: [alias] }, b: { upstream: 'http://b:1', aliases: [alias] } }) }),
      /GATEWAY_MODELS\.b\.aliases\.0: POST \/predict is already an alias of 'a'/,
    );
    for (const path of ['/v2/models/x/infer', '/models/a', '/healthz', '/V1/embeddings', 'predict', '/p?x=1', '/%7e', '/a//b', '/a/../b', '/a/.']) {
      assert.throws(
        () => loadConfig({ GATEWAY_MODELS: JSON.stringify({ a: { upstream: 'http://a:1', aliases: [{ method: 'POST', path }] } }) }),
        /aliases\.0\.path/,
        path,
      );
    }
  });

  it('validates the server limits together', () => {
    assert.throws(() => loadConfig({ GATEWAY_HEADERS_TIMEOUT_MS: '5000', GATEWAY_REQUEST_TIMEOUT_MS: '1000' }), /GATEWAY_HEADERS_TIMEOUT_MS/);
    assert.throws(() => loadConfig({ GATEWAY_MAX_INFLIGHT_BODY_BYTES: '10', GATEWAY_MAX_BODY_BYTES: '100' }), /GATEWAY_MAX_INFLIGHT_BODY_BYTES/);
    assert.throws(() => loadConfig({ GATEWAY_CLIENT_MAX_CONCURRENCY: '-1', GATEWAY_MAX_HEADER_BYTES: '10' }), /HEADER_BYTES.*CONCURRENCY/);
    assert.deepEqual(loadConfig({ GATEWAY_CLIENT_RATE_PER_SECOND: '5' }).clientLimits, {
      maxConcurrency: 16,
      maxBodyBytes: 8 * 1024 * 1024,
      maxConnections: 128,
      ratePerSecond: 5,
      burst: 10,
    });
    assert.throws(() => loadConfig({ GATEWAY_CLIENT_MAX_BODY_BYTES: '100' }), /GATEWAY_CLIENT_MAX_BODY_BYTES/);
    assert.throws(() => loadConfig({ GATEWAY_CLIENT_MAX_CONNECTIONS: '2000' }), /GATEWAY_CLIENT_MAX_CONNECTIONS/);
    assert.equal(
      loadConfig({ GATEWAY_MAX_INFLIGHT_BODY_BYTES: String(4 * 1024 * 1024) }).clientLimits.maxBodyBytes,
      1024 * 1024,
      'a share is at least one largest body',
    );
  });

  it('reads the trusted proxies as CIDR blocks, naming a bad one', () => {
    assert.deepEqual(loadConfig({ GATEWAY_TRUSTED_PROXIES: '10.0.0.0/8, fd00::/8' }).trustedProxies, ['10.0.0.0/8', 'fd00::/8']);
    assert.throws(() => loadConfig({ GATEWAY_TRUSTED_PROXIES: '10.0.0.0/8,ingress' }), /GATEWAY_TRUSTED_PROXIES: 'ingress' is not an IP address or CIDR block/);
  });

  it('requires an admin key when the admin listener is not on loopback', () => {
    assert.throws(() => loadConfig({ GATEWAY_ADMIN_HOST: '0.0.0.0' }), /GATEWAY_ADMIN_HOST: 0\.0\.0\.0 is not loopback, so GATEWAY_ADMIN_API_KEY_SHA256 is required/);
    const sha = 'a'.repeat(64);
    assert.equal(loadConfig({ GATEWAY_ADMIN_HOST: '0.0.0.0', GATEWAY_ADMIN_API_KEY_SHA256: sha.toUpperCase() }).adminKeySha256, sha);
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.equal(loadConfig({ GATEWAY_ADMIN_HOST: host }).adminKeySha256, undefined, host);
    assert.throws(() => loadConfig({ GATEWAY_ADMIN_API_KEY_SHA256: 'nothex' }), /GATEWAY_ADMIN_API_KEY_SHA256/);
  });

  it('reads CORS origins, refusing what is not exactly an origin', () => {
    assert.deepEqual(loadConfig({ GATEWAY_CORS_ORIGINS: 'https://app.example.com, http://localhost:5173' }).corsOrigins, ['https://app.example.com', 'http://localhost:5173']);
    assert.deepEqual(loadConfig({}).corsOrigins, []);
    for (const bad of ['https://app.example.com/', 'app.example.com', '*', 'ftp://x.example']) {
      assert.throws(() => loadConfig({ GATEWAY_CORS_ORIGINS: bad }), /GATEWAY_CORS_ORIGINS/, bad);
    }
  });
});
