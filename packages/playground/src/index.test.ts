import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { ASSET_HEADERS, PLAYGROUND_PATHS, loadPlaygroundAssets } from './index.js';

describe('the playground assets', () => {
  it('are every file the pages load, each answering one path, compressed and with a validator', async () => {
    const assets = await loadPlaygroundAssets();
    assert.deepEqual(assets.map((asset) => asset.path), [...PLAYGROUND_PATHS]);
    const paths = new Set(PLAYGROUND_PATHS);
    for (const asset of assets) {
      assert.ok(asset.body.length > 0, asset.path);
      assert.deepEqual(gunzipSync(asset.gzip), asset.body);
      assert.match(asset.etag, /^"[\w-]{22}"$/);
      const text = asset.body.toString('utf8');
      // Whatever a page or script loads is another asset of the playground: no other host, no missing file.
      for (const [, url] of text.matchAll(/(?:src|href)="([^"]+)"/g)) {
        if (url === 'data:,') continue;
        assert.ok(paths.has(url as string) || url === '/openapi.json', `${asset.path} loads ${url}`);
      }
      for (const [, module] of text.matchAll(/from '\.\/([\w-]+\.js)'/g)) assert.ok(paths.has(`/playground/${module}`), `${asset.path} imports ${module}`);
      assert.doesNotMatch(text, /https?:\/\//, `${asset.path} names no other host`);
    }
  });

  it('are served under a policy that lets the pages reach this origin only', () => {
    const policy = ASSET_HEADERS['content-security-policy'] ?? '';
    assert.match(policy, /default-src 'none'/);
    assert.match(policy, /connect-src 'self'/);
    assert.match(policy, /script-src 'self'(;|$)/);
  });
});
