import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { checkDocument, launchChromium, matchPath, type Document } from '@modeldock/api-testing';
import { loadPlaygroundAssets, type Asset } from '@modeldock/playground';
import { call, startGateway, type TestGateway } from './harness.js';
import { startUpstream, type FakeUpstream } from './upstream.js';

/** GET with `Accept-Encoding: gzip`, the bytes as sent (Node's fetch would decompress them). */
function getGzip(url: string): Promise<{ encoding: string | undefined; vary: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ encoding: res.headers['content-encoding'], vary: res.headers.vary, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

const json = (schema: unknown, example?: unknown) => ({ content: { 'application/json': { schema, ...(example === undefined ? {} : { example }) } } });

/** A model service's document, as the model server writes one (a stand-in: the model server's own tests check the real one). */
function serviceDocument(model: string, extra: Record<string, unknown> = {}, embeds = false) {
  const infer = { post: { tags: ['Open Inference Protocol v2'], summary: `infer ${model}`, responses: { '200': { description: 'ok', ...json({ type: 'object' }) } } } };
  const embeddings = {
    post: {
      tags: ['OpenAI embeddings'],
      summary: embeds ? `${model} embeds` : `${model} does not embed`,
      requestBody: json({ type: 'object', properties: { model: { const: model } } }, { model, input: ['a'] }),
      responses: embeds ? { '200': { description: 'ok', ...json({ type: 'object' }, { object: 'list' }) } } : { '400': { description: 'not an embedding model' } },
    },
  };
  return {
    openapi: '3.1.0',
    info: { title: model, version: '1' },
    tags: [{ name: 'Open Inference Protocol v2' }],
    paths: {
      '/v2': { get: { responses: { '200': { description: 'server metadata' } } } },
      [`/v2/models/${model}/infer`]: infer,
      [`/v2/models/${model}/versions/{version}/infer`]: {
        parameters: [{ name: 'version', in: 'path', required: true, schema: { type: 'string', enum: ['1', '2'] } }],
        ...infer,
      },
      '/v1/embeddings': embeddings,
      '/metrics': { get: { responses: { '200': { description: 'metrics' } } } },
      ...extra,
    },
  };
}

const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');

describe('GET /openapi.json: one document from configuration and the model services’ own', () => {
  let a: FakeUpstream;
  let b: FakeUpstream;
  let gateway: TestGateway;
  let assets: Asset[];

  before(async () => {
    [a, b] = await Promise.all([startUpstream('a'), startUpstream('b')]);
    a.openapi = serviceDocument('a', { '/predict_topic': { post: { summary: 'seed', responses: { '200': { description: 'ok' } } } } });
    b.openapi = serviceDocument('b', {}, true);
    assets = await loadPlaygroundAssets();
    gateway = await startGateway(
      { a: { upstream: a.url, aliases: [{ method: 'POST', path: '/predict_topic' }] }, b: { upstream: b.url } },
      { GATEWAY_OPENAPI_REFRESH_MS: '1' },
      { assets },
    );
  });
  after(async () => {
    await gateway.close();
    await Promise.all([a.close(), b.close()]);
  });

  it('is a valid OpenAPI 3.1 document with each model’s paths as the router routes them', async () => {
    const res = await call(`${gateway.url}/openapi.json`);
    assert.equal(res.status, 200);
    const document = res.json as Document & { paths: Record<string, Record<string, { tags?: string[]; responses: Record<string, unknown> }>> };
    await checkDocument(document);
    for (const model of ['a', 'b']) {
      assert.ok(document.paths[`/v2/models/${model}/infer`]?.post, `${model}'s infer`);
      assert.deepEqual(document.paths[`/models/${model}/v2/models/${model}/infer`], { $ref: `#/paths/~1v2~1models~1${model}~1infer` });
      assert.ok(matchPath(document, `/models/${model}/v2/models/${model}/versions/2/infer`)?.item.post, 'versioned, through the prefix');
      assert.equal(document.paths[`/models/${model}/metrics`], undefined, 'never routed');
      assert.ok(document.paths[`/models/${model}/v2`]?.get, 'the service’s own /v2, under its prefix');
    }
    assert.equal(document.paths['/metrics'], undefined);
    assert.deepEqual(document.paths['/v2']?.get?.tags, ['Gateway'], '/v2 is the gateway’s own');
    assert.ok(document.paths['/predict_topic']?.post, 'the configured alias');
    assert.equal(document.paths['/models/b/predict_topic'], undefined, 'an alias belongs to one model');
    const embeddings = document.paths['/v1/embeddings']?.post as unknown as { requestBody: { content: Record<string, { schema: { anyOf: unknown[] } }> }; responses: Record<string, unknown> };
    assert.equal(embeddings.requestBody.content['application/json']?.schema.anyOf.length, 2, 'one request schema per model');
    assert.ok(embeddings.responses['200'], 'b embeds');
    const limited = document.paths['/v2/models/a/infer']?.post?.responses['429'];
    assert.deepEqual(limited, { $ref: '#/components/responses/Gateway429' });
    assert.deepEqual(Object.keys((document.components?.responses?.Gateway429 as { headers: object }).headers), ['Retry-After', 'RateLimit-Policy', 'RateLimit']);
    assert.equal(document.paths['/v2/models/a/infer']?.post?.responses['401'], undefined, 'no 401 without access control');
  });

  it('is sent gzip-compressed to a client that accepts it, the same document', async () => {
    const plain = await call(`${gateway.url}/openapi.json`, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(plain.headers.get('content-encoding'), null);
    for (let i = 0; i < 2; i++) {
      const gz = await getGzip(`${gateway.url}/openapi.json`);
      assert.equal(gz.encoding, 'gzip');
      assert.match(gz.vary ?? '', /Accept-Encoding/i);
      assert.deepEqual(JSON.parse(gunzipSync(gz.body).toString('utf8')), plain.json);
      assert.ok(gz.body.length < Buffer.byteLength(plain.text) / 2, `${gz.body.length} B compressed of ${Buffer.byteLength(plain.text)}`);
    }
  });

  // Model routes are checked against real model services in test/api; these fakes answer any path.
  it('describes every route the gateway answers itself, and the configured aliases', async () => {
    const document = (await call(`${gateway.url}/openapi.json`)).json as Document;
    const { routes } = (await call(`${gateway.adminUrl}/routes`)).json as { routes: { path: string; methods: string[] }[] };
    const concrete = routes.filter((route) => !route.path.includes('{'));
    assert.ok(concrete.length >= 8 + assets.length, `${concrete.length} routes`);
    for (const route of concrete) {
      const match = matchPath(document, route.path);
      assert.ok(match !== undefined && route.methods.some((method) => match.item[method.toLowerCase()] !== undefined), `${route.methods.join('|')} ${route.path} is not described`);
    }
    for (const asset of assets) assert.ok(routes.some((route) => route.path === asset.path), `${asset.path} is a public route`);
  });

  it('fetches a model service’s document again once stale, and keeps the last one while no replica answers', async () => {
    a.openapi = serviceDocument('a', { '/v2/models/a/ready': { get: { responses: { '200': { description: 'ready' } } } } });
    const updated = (await call(`${gateway.url}/openapi.json`)).json as Document;
    assert.ok(updated.paths['/v2/models/a/ready'], 'the new path');
    a.openapi = { not: 'a document' };
    const kept = (await call(`${gateway.url}/openapi.json`)).json as Document;
    assert.ok(kept.paths['/v2/models/a/ready'], 'a broken answer keeps the last document');
  });
});

describe('the playground’s pages', () => {
  let gateway: TestGateway;
  let upstream: FakeUpstream;
  let assets: Asset[];
  before(async () => {
    upstream = await startUpstream('m');
    assets = await loadPlaygroundAssets();
    gateway = await startGateway({ m: { upstream: upstream.url } }, {}, { assets });
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
  });

  it('answers / and /docs from memory, with a policy that allows this origin only, ETag and gzip', async () => {
    for (const page of ['/', '/docs', '/docs/', '/playground/playground.js', '/playground/style.css']) {
      const res = await call(`${gateway.url}${page}`);
      assert.equal(res.status, 200, page);
      assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    }
    const home = await call(`${gateway.url}/`);
    assert.match(home.headers.get('content-type') ?? '', /text\/html/);
    assert.match(home.text, /<label for="model">Model<\/label>/);
    const etag = home.headers.get('etag') ?? '';
    assert.equal((await call(`${gateway.url}/`, { headers: { 'if-none-match': etag } })).status, 304);
    const gz = await getGzip(`${gateway.url}/`);
    assert.equal(gz.encoding, 'gzip');
    assert.equal(gunzipSync(gz.body).toString('utf8'), home.text);
    assert.equal(upstream.hits, 0, 'nothing reaches a model');
  });
});

describe('the API document and pages with access control on', () => {
  const KEY = 'mdk_api-doc-key';
  let dir: string;
  let a: FakeUpstream;
  let b: FakeUpstream;
  let gateway: TestGateway;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gateway-api-'));
    const file = path.join(dir, 'keys.json');
    writeFileSync(file, JSON.stringify({ keys: [{ id: 'only-a', sha256: sha256(KEY), models: ['a'] }] }));
    [a, b] = await Promise.all([startUpstream('a'), startUpstream('b')]);
    a.openapi = serviceDocument('a');
    b.openapi = serviceDocument('b', {}, true);
    gateway = await startGateway({ a: { upstream: a.url }, b: { upstream: b.url } }, { GATEWAY_API_KEYS_FILE: file }, { assets: await loadPlaygroundAssets() });
  });
  after(async () => {
    await gateway.close();
    await Promise.all([a.close(), b.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('needs a key for the document, and lists only the key’s models, with the security schemes', async () => {
    assert.equal((await call(`${gateway.url}/openapi.json`)).status, 401);
    const res = await call(`${gateway.url}/openapi.json`, { headers: { 'x-api-key': KEY } });
    assert.equal(res.status, 200);
    const document = res.json as Document & { security: unknown; components: { securitySchemes: object } };
    await checkDocument(document);
    assert.ok(document.paths['/v2/models/a/infer']);
    assert.equal(Object.keys(document.paths).filter((p) => p.includes('/b')).length, 0, 'nothing of model b');
    assert.deepEqual(Object.keys(document.components.securitySchemes), ['bearer', 'apiKey']);
    assert.deepEqual(document.security, [{ bearer: [] }, { apiKey: [] }]);
    const infer = document.paths['/v2/models/a/infer']?.post as { responses: Record<string, unknown> };
    assert.ok(infer.responses['401'] && infer.responses['403']);
    assert.deepEqual((document.paths['/healthz']?.get as { security: unknown }).security, [], 'health needs no key');
    assert.deepEqual((document.paths['/']?.get as { security: unknown }).security, [], 'nor does the playground');
  });

  it('asks for the key in the page, keeps it in the tab only, and lists the key’s models (headless Chromium)', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', (message) => {
        // The first call is refused with a 401: Chromium reports every refused resource on the console.
        if (message.type() === 'error' && !/status of 401/.test(message.text())) errors.push(message.text());
      });
      page.on('pageerror', (error) => errors.push(String(error)));
      await page.goto(`${gateway.url}/`);
      const key = page.getByLabel('API key');
      await key.waitFor();
      assert.match((await page.locator('#key-status').textContent()) ?? '', /needs an API key/);
      assert.equal(await page.evaluate('document.activeElement.id'), 'api-key', 'the key field has the focus');
      await key.fill(KEY);
      await key.press('Enter');
      await page.waitForFunction("document.getElementById('model').options.length > 0");
      assert.deepEqual(await page.locator('#model option').allTextContents(), ['a'], 'only the key’s models');
      assert.equal(await page.evaluate("sessionStorage.getItem('modeldock.apiKey')"), KEY);
      assert.equal(await page.evaluate('localStorage.length'), 0, 'never in localStorage');
      assert.equal(await key.inputValue(), '', 'the field is emptied');
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });

  it('serves the playground without a key (it holds nothing about models)', async () => {
    const res = await call(`${gateway.url}/`);
    assert.equal(res.status, 200);
    assert.equal((await call(`${gateway.url}/docs`)).status, 200);
    assert.equal((await call(`${gateway.url}/v1/models`)).status, 401, 'what the page asks for next needs the key');
  });
});
