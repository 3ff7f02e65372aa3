// A client that leaves while its batch is in the engine: the engine thread skips the planned calls
// still to come (real model, worker engine, real sockets) and the texts count as dropped.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startServerProcess, type ServerProcess } from '@modeldock/model-server/testing';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const MODEL_DIR = fileURLToPath(new URL('../../../../models/sentence-embedding', import.meta.url));

const WORDS = 'the quick brown fox jumps over a lazy dog near the river bank while birds sing'.split(' ');
const sentence = (words: number, shift: number) => Array.from({ length: words }, (_, j) => WORDS[(shift + j) % WORDS.length]).join(' ');
/**
 * One request part (28 texts) that the engine plans as three calls: 8 short texts (tens of
 * milliseconds), 12 of ~90 pieces and 8 of 128 (each about a second on wasm).
 */
const TEXTS = [
  ...Array.from({ length: 8 }, (_, i) => `Question ${i}?`),
  ...Array.from({ length: 12 }, (_, i) => sentence(80, i)),
  ...Array.from({ length: 8 }, (_, i) => sentence(120, i)),
];

const LABELS = '[^}]*model="sentence-embedding"[^}]*';
const metric = (text: string, pattern: string) => Number(new RegExp(`^${pattern} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('cancellation reaches the engine thread (sentence-embedding, real model, wasm)', () => {
  let server: ServerProcess;
  let base: string;

  before(async () => {
    server = startServerProcess(MAIN, { MODEL_DIR, MODEL_PORT: '0', MODEL_HOST: '127.0.0.1', MODEL_BACKEND: 'wasm' });
    ({ base } = await server.ready);
  });

  after(() => server?.kill());

  const metrics = async () => (await fetch(`${base}/metrics`)).text();
  const counts = async () => {
    const text = await metrics();
    return {
      batches: metric(text, `modeldock_batch_size_count\\{${LABELS}\\}`),
      calls: metric(text, `modeldock_engine_call_duration_seconds_count\\{${LABELS}\\}`),
      dropped: metric(text, `modeldock_dropped_rows_total\\{${LABELS}reason="cancelled"[^}]*\\}`),
    };
  };

  it('skips the planned calls of a batch whose client left after it started, and counts their texts as dropped', async () => {
    const before = await counts();
    const controller = new AbortController();
    const request = fetch(`${base}/v2/models/sentence-embedding/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [TEXTS.length], data: TEXTS }] }),
      signal: controller.signal,
    }).catch(() => 'aborted');
    // Leave once the batch is in the engine (so nothing is left in the queue to drop there).
    for (let i = 0; i < 1000 && (await counts()).batches === before.batches; i += 1) await pause(5);
    controller.abort();
    assert.equal(await request, 'aborted');
    let after = await counts();
    for (let i = 0; i < 600 && after.calls === before.calls; i += 1) {
      await pause(50);
      after = await counts();
    }
    assert.equal(after.calls, before.calls + 1, 'the batch ran as one engine call of the data plane');
    const dropped = after.dropped - before.dropped;
    // The first planned call (8 texts) was already running; the last (8 texts) never started.
    assert.ok(dropped >= 8 && dropped <= TEXTS.length - 8, `dropped ${dropped} texts`);
    const ready = await fetch(`${base}/v2/health/ready`);
    assert.equal(ready.status, 200);
  });
});
