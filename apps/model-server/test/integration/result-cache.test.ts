// The result cache of a real model server process (sentence-embedding on wasm, MODEL_CACHE_BYTES set):
// repeated texts skip the engine and answer the bytes it computed, identical texts in flight are
// computed once, and Cache-Control: no-cache goes to the engine.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startServerProcess, type ServerProcess } from '@modeldock/model-server/testing';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const MODEL_DIR = fileURLToPath(new URL('../../../../models/sentence-embedding', import.meta.url));

/** A counter of the server's /metrics, summed over its label sets. */
async function counter(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^${name}\\{[^}]*\\} (\\d+)`, 'gm'))].reduce((sum, match) => sum + Number(match[1]), 0);
}

describe('the result cache of a sentence-embedding server (real model, wasm)', () => {
  let server: ServerProcess;
  let base: string;

  before(async () => {
    server = startServerProcess(MAIN, { MODEL_DIR, MODEL_PORT: '0', MODEL_HOST: '127.0.0.1', MODEL_BACKEND: 'wasm', MODEL_CACHE_BYTES: '4000000' });
    ({ base } = await server.ready);
  });

  after(() => server?.kill());

  const embed = (input: string[], headers: Record<string, string> = {}) =>
    fetch(`${base}/v1/embeddings`, { method: 'POST', headers, body: JSON.stringify({ model: 'sentence-embedding', input, encoding_format: 'float' }) });

  it('answers a repeated request from the cache with the bytes the engine computed, and no-cache from the engine', async () => {
    const texts = ['Who wrote Hamlet?', 'Where is the Eiffel Tower?', 'How old are you?'];
    const first = await (await embed(texts)).text();
    const misses = await counter(base, 'modeldock_cache_misses_total');
    const again = await (await embed(texts)).text();
    assert.equal(again, first);
    assert.equal(await counter(base, 'modeldock_cache_hits_total'), 3);
    assert.equal(await counter(base, 'modeldock_cache_misses_total'), misses);
    // The same texts in the same engine call compute the same bits.
    const fresh = await (await embed(texts, { 'cache-control': 'no-cache' })).text();
    assert.equal(fresh, first);
    assert.equal(await counter(base, 'modeldock_cache_misses_total'), misses + 3);
  });

  it('computes identical texts sent at the same time once', async () => {
    const texts = Array.from({ length: 64 }, (_, i) => `question number ${i} about the coalescing of identical rows`);
    const before = await counter(base, 'modeldock_cache_misses_total');
    const answers = await Promise.all([embed(texts), embed(texts), embed(texts.slice(0, 8))]);
    const [a, b, c] = await Promise.all(answers.map((res) => res.json() as Promise<{ data: { embedding: number[] }[] }>));
    assert.deepEqual(b, a);
    assert.deepEqual(c?.data, a?.data.slice(0, 8));
    assert.equal((await counter(base, 'modeldock_cache_misses_total')) - before, 64);
    assert.equal(await counter(base, 'modeldock_cache_coalesced_rows_total'), 64 + 8);
  });
});
