import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { launchChromium } from '@modeldock/api-testing';
import type { Browser } from 'playwright-core';
import { call, startGateway, type TestGateway } from './harness.js';
import { startUpstream, type FakeUpstream } from './upstream.js';

const KEY = 'mdk_browser-page-key';

/** A page server on 127.0.0.1: its origin is `http://127.0.0.1:<port>`, another origin than the gateway's. */
async function pageServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>page</title>');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('CORS: an allow-list of origins', () => {
  let dir: string;
  let upstream: FakeUpstream;
  let gateway: TestGateway;
  let allowed: { server: Server; origin: string };
  let other: { server: Server; origin: string };

  before(async () => {
    [allowed, other] = await Promise.all([pageServer(), pageServer()]);
    dir = mkdtempSync(path.join(os.tmpdir(), 'gateway-keys-'));
    const file = path.join(dir, 'keys.json');
    writeFileSync(file, JSON.stringify({ keys: [{ id: 'page', sha256: createHash('sha256').update(KEY).digest('hex'), models: ['m'] }] }));
    upstream = await startUpstream('m');
    gateway = await startGateway({ m: { upstream: upstream.url } }, { GATEWAY_API_KEYS_FILE: file, GATEWAY_CORS_ORIGINS: `${allowed.origin}, https://app.example.com` });
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
    for (const page of [allowed, other]) page.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const preflight = (origin: string) =>
    call(`${gateway.url}/v1/embeddings`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });

  it('answers a preflight from a listed origin with the methods, headers and max age, without a key', async () => {
    const res = await preflight(allowed.origin);
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), allowed.origin);
    assert.equal(res.headers.get('access-control-allow-methods'), 'GET, HEAD, POST');
    assert.equal(res.headers.get('access-control-allow-headers'), 'authorization, content-type, x-api-key, x-request-id, x-modeldock-backend');
    assert.equal(res.headers.get('access-control-max-age'), '600');
    assert.match(res.headers.get('vary') ?? '', /Origin/);
  });

  it('gives an origin not on the list nothing: no CORS header, and its preflight is refused like any request without a key', async () => {
    const res = await preflight(other.origin);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    assert.equal(res.headers.get('vary'), 'Origin');
  });

  it('marks every answer to a listed origin, errors included, and never answers CORS on the admin listener', async () => {
    const refused = await call(`${gateway.url}/v2/models/m/infer`, { method: 'POST', body: '{}', headers: { origin: allowed.origin } });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('access-control-allow-origin'), allowed.origin);
    assert.match(refused.headers.get('access-control-expose-headers') ?? '', /x-request-id/);
    const admin = await call(`${gateway.adminUrl}/metrics`, { method: 'OPTIONS', headers: { origin: allowed.origin, 'access-control-request-method': 'GET' } });
    assert.equal(admin.headers.get('access-control-allow-origin'), null);
  });

  describe('in a real browser (headless Chromium)', () => {
    let browser: Browser;
    before(async () => {
      browser = await launchChromium();
    });
    after(async () => {
      await browser.close();
    });

    /** Calls POST /v1/embeddings with the key from a page on `origin`; what the page's script sees. */
    async function callFrom(origin: string): Promise<{ ok: boolean; status?: number; requestId?: string | null; model?: string; error?: string }> {
      const page = await browser.newPage();
      try {
        await page.goto(origin);
        return await page.evaluate(
          async ({ url, key }) => {
            try {
              const res = await fetch(`${url}/v1/embeddings`, {
                method: 'POST',
                headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
                body: JSON.stringify({ model: 'm', input: 'hello' }),
              });
              const body = (await res.json()) as { url?: string };
              return { ok: true, status: res.status, requestId: res.headers.get('x-request-id'), model: body.url };
            } catch (err) {
              return { ok: false, error: String(err) };
            }
          },
          { url: gateway.url, key: KEY },
        );
      } finally {
        await page.close();
      }
    }

    it('lets a page on a listed origin call /v1/embeddings with a key, and read the answer and its request id', async () => {
      const seen = await callFrom(allowed.origin);
      assert.equal(seen.ok, true, seen.error);
      assert.equal(seen.status, 200);
      assert.equal(seen.model, '/v1/embeddings');
      assert.match(seen.requestId ?? '', /^[0-9a-f-]{36}$/);
    });

    it('keeps the answer from a page on another origin', async () => {
      const hits = upstream.hits;
      const seen = await callFrom(other.origin);
      assert.equal(seen.ok, false);
      assert.match(seen.error ?? '', /Failed to fetch/);
      assert.equal(upstream.hits, hits, 'the preflight failed, so the request itself was never sent');
    });
  });
});
