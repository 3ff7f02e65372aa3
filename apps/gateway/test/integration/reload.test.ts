import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, capturedLogger, post, replaceFile, startGateway, waitFor, type TestGateway } from './harness.js';
import { startUpstream, type Echo, type FakeUpstream } from './upstream.js';

const MODEL = 'question-topic';
/** The gateway looks at the file at least this often (the poll; fs.watch is usually sooner). */
const WITHIN_MS = 5000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes the models file as an editor or a deployment does (see `replaceFile`). */
function writeModels(file: string, content: unknown): void {
  replaceFile(file, typeof content === 'string' ? content : JSON.stringify(content));
}

function weights(v1: FakeUpstream, v2: FakeUpstream, w1: number, w2: number, extra: Record<string, unknown> = {}) {
  return {
    [MODEL]: {
      backends: [
        { name: 'v1', upstream: v1.url, weight: w1 },
        { name: 'v2', upstream: v2.url, weight: w2 },
      ],
      aliases: [{ method: 'POST', path: '/predict_topic' }],
      ...extra,
    },
  };
}

describe('reloading the models file without a restart', () => {
  let dir: string;
  let file: string;
  let v1: FakeUpstream;
  let v2: FakeUpstream;
  let gateway: TestGateway;
  const { logger, lines } = capturedLogger();

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gateway-models-'));
    file = path.join(dir, 'models.json');
    [v1, v2] = await Promise.all([startUpstream('v1'), startUpstream('v2')]);
    writeModels(file, weights(v1, v2, 100, 0));
    gateway = await startGateway({}, { GATEWAY_MODELS_FILE: file }, { start: true, logger });
  });
  after(async () => {
    await gateway.close();
    await Promise.all([v1.close(), v2.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('moves every new request to 0/100 within 5 s under load, fails none, lets requests in flight finish where they started, and keeps the unchanged pools', async () => {
    const before = gateway.upstreams.routing;
    const v1Pool = before.models.get(MODEL)?.byName.get('v1')?.pool;
    // One request held by v1 across the reload.
    v1.mode = { kind: 'slow', delayMs: 1500, match: 'in-flight' };
    const inFlight = post(`${gateway.url}/predict_topic`, { text: 'in-flight' });
    await sleep(100);

    const answers: { status: number; backend: string | null; at: number }[] = [];
    let stop = false;
    const load = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (!stop) {
          const res = await post(`${gateway.url}/predict_topic`, { text: 'q' });
          answers.push({ status: res.status, backend: res.headers.get('x-modeldock-backend'), at: Date.now() });
        }
      }),
    );
    await sleep(200);
    const editedAt = Date.now();
    writeModels(file, weights(v1, v2, 0, 100));
    const tookMs = await waitFor(() => gateway.upstreams.routing.version === before.version + 1, WITHIN_MS);
    assert.ok(tookMs !== undefined, 'the new weights were applied within 5 s');
    await sleep(300);
    stop = true;
    await load;

    const held = await inFlight;
    assert.equal(held.status, 200);
    assert.equal((held.json as Echo).served, 'v1', 'the request in flight finished on the backend it started on');
    assert.deepEqual(answers.filter((a) => a.status !== 200), [], 'no request failed');
    const appliedAt = editedAt + tookMs;
    const after = answers.filter((a) => a.at > appliedAt + 100);
    assert.ok(after.length > 0);
    assert.deepEqual(new Set(after.map((a) => a.backend)), new Set(['v2']), 'every request after the reload went to v2');
    assert.ok(answers.some((a) => a.at < editedAt && a.backend === 'v1'));
    const v1Now = gateway.upstreams.routing.models.get(MODEL)?.byName.get('v1')?.pool;
    assert.equal(v1Now, v1Pool, 'a backend whose upstreams did not change keeps its pool and its state');
    assert.equal(v1Now?.ready, true);
    assert.ok(lines.some((line) => /"models file reloaded"/.test(line) && /v1=0/.test(line) && /v2=100/.test(line)));
    v1.mode = { kind: 'echo' };
  });

  it('refuses an invalid file with its message and keeps the running configuration', async () => {
    const version = gateway.upstreams.routing.version;
    const refusedBefore = gateway.reloads.filter((r) => r === 'refused').length;
    writeModels(file, {
      [MODEL]: {
        backends: [
          { name: 'v1', upstream: v1.url, weight: -10 },
          { name: 'v2', upstream: v2.url, weight: 100 },
        ],
        shadow: { backend: 'v3', percent: 10 },
      },
    });
    assert.ok((await waitFor(() => gateway.reloads.filter((r) => r === 'refused').length > refusedBefore, WITHIN_MS)) !== undefined);
    assert.equal(gateway.upstreams.routing.version, version);
    const refusal = lines.find((line) => /models file not usable; keeping the running configuration/.test(line));
    assert.ok(refusal !== undefined);
    const reason = JSON.parse(refusal).reason as string;
    assert.match(reason, /question-topic\.backends\.0\.weight: must not be negative/);
    assert.match(reason, /question-topic\.shadow\.backend: 'v3' is not one of the backends \(v1, v2\)/);
    const res = await post(`${gateway.url}/predict_topic`, { text: 'q' });
    assert.equal(res.headers.get('x-modeldock-backend'), 'v2', 'the running configuration still routes');
    const metrics = (await call(`${gateway.adminUrl}/metrics`)).text;
    assert.match(metrics, /gateway_models_reloads_total\{result="refused"[^}]*\} [1-9]/);
    assert.match(metrics, /gateway_models_reloads_total\{result="applied"[^}]*\} [1-9]/);

    writeModels(file, '{"question-topic": {"backends": [');
    assert.ok((await waitFor(() => gateway.reloads.filter((r) => r === 'refused').length > refusedBefore + 1, WITHIN_MS)) !== undefined);
    assert.equal(gateway.upstreams.routing.version, version, 'half a file is refused too');
  });

  it('reads the file again on request (SIGHUP) and changes nothing when it is the same', async () => {
    writeModels(file, weights(v1, v2, 50, 50));
    gateway.models?.reload();
    const version = gateway.upstreams.routing.version;
    assert.equal(gateway.reloads.at(-1), 'applied');
    gateway.models?.reload();
    assert.equal(gateway.reloads.at(-1), 'unchanged');
    assert.equal(gateway.upstreams.routing.version, version);
  });

  it('adds a backend on new upstreams: probed at once, its share going to the others until it is ready', async () => {
    const v3 = await startUpstream('v3');
    try {
      v3.ready = false;
      writeModels(file, {
        [MODEL]: {
          backends: [
            { name: 'v2', upstream: v2.url, weight: 1 },
            { name: 'v3', upstream: v3.url, weight: 99 },
          ],
          aliases: [{ method: 'POST', path: '/predict_topic' }],
        },
      });
      gateway.models?.reload();
      for (let i = 0; i < 20; i++) {
        const res = await post(`${gateway.url}/predict_topic`, { text: 'q' });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('x-modeldock-backend'), 'v2');
      }
      v3.ready = true;
      const ready = await waitFor(async () => (await call(`${gateway.url}/models`)).json.models[0].backends[1].ready === true, WITHIN_MS);
      assert.ok(ready !== undefined, 'the new backend became ready with the next probe');
      const seen = new Set<string | null>();
      for (let i = 0; i < 20; i++) seen.add((await post(`${gateway.url}/predict_topic`, { text: 'q' })).headers.get('x-modeldock-backend'));
      assert.ok(seen.has('v3'));
    } finally {
      await v3.close();
    }
  });
});
