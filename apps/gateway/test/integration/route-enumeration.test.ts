import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { send, startGateway, type TestGateway } from './harness.js';
import { startUpstream, type FakeUpstream } from './upstream.js';

/** Every public path that reaches model `m` (and its alias), in each route family. */
function modelPaths(m: string): string[] {
  const oip = [`/v2/models/${m}`, `/v2/models/${m}/ready`, `/v2/models/${m}/infer`, `/v2/models/${m}/versions/1`, `/v2/models/${m}/versions/1/ready`, `/v2/models/${m}/versions/1/infer`];
  const tfServing = [
    `/v1/models/${m}`,
    `/v1/models/${m}/metadata`,
    `/v1/models/${m}:predict`,
    `/v1/models/${m}:classify`,
    `/v1/models/${m}:regress`,
    `/v1/models/${m}/versions/1`,
    `/v1/models/${m}/versions/1:predict`,
    `/v1/models/${m}/versions/1/metadata`,
    `/v1/models/${m}/labels/stable`,
    `/v1/models/${m}/labels/stable:classify`,
  ];
  const server = ['/v2', '/v2/health/live', '/v2/health/ready', '/v1/models', '/v1/embeddings'];
  const prefixed = [...oip, ...tfServing, ...server, '/predict_topic'].map((p) => `/models/${m}${p}`);
  return [...oip, ...tfServing, ...prefixed];
}

/** Spellings of one path: as is, with a trailing slash, in upper case, and both. */
function spellings(p: string): string[] {
  // `//` is not a spelling of `/`: an empty segment is a 400 for every client, before routing.
  return p === '/' ? [p] : [p, `${p}/`, p.toUpperCase(), `${p.toUpperCase()}/`];
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

describe('access control covers every route: 401 without a key', () => {
  let dir: string;
  let upstreams: FakeUpstream[];
  let gateway: TestGateway;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gateway-keys-'));
    const file = path.join(dir, 'keys.json');
    writeFileSync(file, JSON.stringify({ keys: [{ id: 'k', sha256: createHash('sha256').update('mdk_k').digest('hex'), models: ['*'] }] }));
    upstreams = await Promise.all([startUpstream('m'), startUpstream('other')]);
    gateway = await startGateway(
      {
        m: { upstream: upstreams[0]?.url ?? '', aliases: [{ method: 'POST', path: '/predict_topic' }, { method: 'GET', path: '/topics' }] },
        other: { upstream: upstreams[1]?.url ?? '' },
      },
      { GATEWAY_API_KEYS_FILE: file, GATEWAY_CLIENT_MAX_CONCURRENCY: '0' },
    );
  });
  after(async () => {
    await gateway.close();
    await Promise.all(upstreams.map((u) => u.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses every model route, alias, gateway route and unknown path, in every method and spelling, and none reaches a replica', async () => {
    const paths = [
      ...modelPaths('m'),
      ...modelPaths('other'),
      ...modelPaths('nope'),
      '/predict_topic',
      '/topics',
      '/v1/embeddings',
      '/v1/models',
      '/v2',
      '/models',
      '/metrics',
      '/',
      '/anything/else',
    ];
    const targets = [...new Set(paths.flatMap(spellings))].flatMap((p) => [p, `${p}?x=1`]);
    let checked = 0;
    const failures: string[] = [];
    for (const target of targets) {
      await Promise.all(
        METHODS.map(async (method) => {
          const res = await send(gateway.url, { method, target, body: method === 'POST' || method === 'PUT' ? '{"model":"m"}' : undefined });
          checked++;
          if (res.status !== 401 || res.headers.get('www-authenticate') !== 'Bearer realm="modeldock"') failures.push(`${method} ${target}: ${res.status}`);
        }),
      );
    }
    assert.deepEqual(failures, []);
    assert.ok(checked > 2000, `${checked} requests`);
    assert.deepEqual(
      upstreams.map((u) => u.hits),
      [0, 0],
      'nothing reached a replica',
    );
    // The route count the issue asks for, in the test output.
    console.log(`# route enumeration: ${targets.length} targets × ${METHODS.length} methods = ${checked} requests, all 401`);
  });

  it('keeps the health routes public in every spelling', async () => {
    for (const target of ['/healthz', '/readyz', '/v2/health/live', '/v2/health/ready'].flatMap(spellings)) {
      for (const method of ['GET', 'HEAD']) {
        const res = await send(gateway.url, { method, target });
        assert.equal(res.status, 200, `${method} ${target}`);
      }
    }
  });
});
