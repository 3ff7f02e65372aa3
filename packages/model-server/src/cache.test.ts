// The result cache and the coalescing of identical rows (issue 15.5): rows answered from the cache
// skip the queue and the engine, never validation or limits, and answer exactly what the engine did.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Batch } from '@modeldock/model-runtime';
import supertest from 'supertest';
import { ResultCache, rowKeys } from './result-cache.js';
import { createTestApp, FakeClassifier, FakeEmbedder, fakeLabel, FakeNumeric, listening, type TestAppOptions } from './testing.js';

const infer = (texts: unknown[]) => ({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [texts.length], data: texts }] });
const metric = (text: string, name: string, labels = '') => Number(new RegExp(`^${name}\\{${labels}[^}]*\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
/** Every text the fake engine computed, in order. */
const computed = (runtime: FakeClassifier | FakeEmbedder) => runtime.calls.flatMap((call) => call.tensors.text?.data as string[]);

function cachedApp(options: TestAppOptions = {}) {
  const runtime = new FakeClassifier('1');
  return { runtime, ...createTestApp({ runtimes: [runtime], cacheBytes: 1 << 20, ...options }) };
}


const waitFor = async (condition: () => boolean) => {
  for (let i = 0; i < 200 && !condition(); i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
};

describe('the result cache', () => {
  it('answers a repeated text from the cache, computing only what it has not seen, and counts hits and misses', async () => {
    const { app, runtime, registry } = cachedApp();
    assert.equal((await supertest(app).post('/v2/models/question-topic/infer').send(infer(['a', 'bb']))).status, 200);
    const res = await supertest(app).post('/v2/models/question-topic/infer').send(infer(['bb', 'ccc', 'a']));
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.outputs[1].data, ['bb', 'ccc', 'a'].map((text) => fakeLabel(text)));
    assert.deepEqual(computed(runtime), ['a', 'bb', 'ccc']);
    const metrics = await registry.metrics();
    assert.equal(metric(metrics, 'modeldock_cache_hits_total', 'model="question-topic",version="1"'), 2);
    assert.equal(metric(metrics, 'modeldock_cache_misses_total', 'model="question-topic",version="1"'), 3);
    assert.ok(metric(metrics, 'modeldock_cache_bytes') > 0);
  });

  it('answers byte for byte what the engine answered, on every protocol', async () => {
    const embedder = new FakeEmbedder();
    const { app } = createTestApp({ runtimes: [embedder], cacheBytes: 1 << 20 });
    const requests: [string, unknown][] = [
      ['/v1/embeddings', { model: 'sentence-embedding', input: ['How old are you?', 'Hi'] }],
      ['/v1/embeddings', { model: 'sentence-embedding', input: ['How old are you?', 'Hi'], encoding_format: 'base64' }],
      ['/v2/models/sentence-embedding/infer', infer(['How old are you?', 'Hi'])],
      ['/v1/models/sentence-embedding:predict', { instances: ['How old are you?', 'Hi'] }],
    ];
    for (const [path, body] of requests) {
      const first = await supertest(app).post(path).send(body as object);
      const again = await supertest(app).post(path).send(body as object);
      const fresh = await supertest(app).post(path).set('cache-control', 'no-cache').send(body as object);
      assert.equal(first.status, 200);
      assert.equal(again.text, first.text, `${path}: cached answer differs`);
      assert.equal(fresh.text, first.text, `${path}: uncached answer differs`);
    }
    // Computed once, then from the cache, and again for each no-cache request.
    assert.deepEqual(computed(embedder).filter((text) => text === 'Hi').length, 1 + requests.length);
  });

  it('keeps versions apart: the same text is computed by each version', async () => {
    const v1 = new FakeClassifier('1', 0);
    const v2 = new FakeClassifier('2', 1);
    const { app, registry } = createTestApp({ runtimes: [v1, v2], cacheBytes: 1 << 20 });
    const one = await supertest(app).post('/v2/models/question-topic/versions/1/infer').send(infer(['abc']));
    const two = await supertest(app).post('/v2/models/question-topic/versions/2/infer').send(infer(['abc']));
    assert.deepEqual([one.body.outputs[1].data, two.body.outputs[1].data], [[fakeLabel('abc', 0)], [fakeLabel('abc', 1)]]);
    assert.deepEqual([computed(v1), computed(v2)], [['abc'], ['abc']]);
    const again = await supertest(app).post('/v2/models/question-topic/versions/2/infer').send(infer(['abc']));
    assert.deepEqual(again.body.outputs[1].data, [fakeLabel('abc', 1)]);
    assert.equal(metric(await registry.metrics(), 'modeldock_cache_hits_total', 'model="question-topic",version="2"'), 1);
  });

  it('keeps models apart: one key in two scopes is two entries', () => {
    const cache = new ResultCache(1 << 20);
    const row = (value: number): Batch => ({ rows: 1, tensors: { y: { datatype: 'FP32', shape: [1], data: Float32Array.of(value) } } });
    cache.set('question-topic\u00001', 'Where is Rome?', row(1));
    cache.set('other-model\u00001', 'Where is Rome?', row(2));
    assert.deepEqual(
      ['question-topic\u00001', 'other-model\u00001', 'other-model\u00002'].map((scope) => cache.get(scope, 'Where is Rome?')?.tensors.y?.data[0]),
      [1, 2, undefined],
    );
  });

  it('is bypassed by Cache-Control: no-cache, which still leaves its fresh rows for later requests', async () => {
    const { app, runtime, registry } = cachedApp();
    await supertest(app).post('/v2/models/question-topic/infer').send(infer(['a']));
    const fresh = await supertest(app).post('/v2/models/question-topic/infer').set('Cache-Control', 'max-age=0, No-Cache').send(infer(['a', 'b']));
    assert.equal(fresh.status, 200);
    assert.deepEqual(computed(runtime), ['a', 'a', 'b']);
    await supertest(app).post('/v2/models/question-topic/infer').send(infer(['b']));
    assert.deepEqual(computed(runtime), ['a', 'a', 'b']);
    assert.equal(metric(await registry.metrics(), 'modeldock_cache_hits_total', 'model="question-topic"'), 1);
  });

  it('evicts the least recently used rows to stay within its bytes', async () => {
    // Room for about two rows of this model.
    const { app, runtime, registry } = cachedApp({ cacheBytes: 700 });
    for (const text of ['one', 'two', 'one', 'six']) await supertest(app).post('/v2/models/question-topic/infer').send(infer([text]));
    // 'two' was the least recently used when 'six' came; 'one' was used again, so it stayed.
    await supertest(app).post('/v2/models/question-topic/infer').send(infer(['one']));
    await supertest(app).post('/v2/models/question-topic/infer').send(infer(['two']));
    assert.deepEqual(computed(runtime), ['one', 'two', 'six', 'two']);
    const metrics = await registry.metrics();
    assert.ok(metric(metrics, 'modeldock_cache_evictions_total', 'model="question-topic"') >= 2);
    const bytes = metric(metrics, 'modeldock_cache_bytes');
    assert.ok(bytes > 0 && bytes <= 700, `${bytes} bytes held`);
  });

  it('answers cached rows while the queue is full, and never skips validation or limits', async () => {
    const { app, runtime } = cachedApp({ maxQueue: 1, maxBatchSize: 1 });
    await supertest(app).post('/v2/models/question-topic/infer').send(infer(['cached']));
    runtime.hold();
    const running = supertest(app).post('/v2/models/question-topic/infer').set('x-forwarded-for', '10.0.0.1').send(infer(['first'])).then((res) => res.status);
    await waitFor(() => computed(runtime).includes('first'));
    const queued = supertest(app).post('/v2/models/question-topic/infer').set('x-forwarded-for', '10.0.0.2').send(infer(['second'])).then((res) => res.status);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const shed = await supertest(app).post('/v2/models/question-topic/infer').set('x-forwarded-for', '10.0.0.3').send(infer(['third']));
    assert.equal(shed.status, 503);
    const hit = await supertest(app).post('/v2/models/question-topic/infer').set('x-forwarded-for', '10.0.0.3').send(infer(['cached']));
    assert.equal(hit.status, 200);
    const tooLong = await supertest(app).post('/v2/models/question-topic/infer').send(infer(['cached', 'x'.repeat(51)]));
    assert.equal(tooLong.status, 400);
    runtime.release();
    assert.deepEqual(await Promise.all([running, queued]), [200, 200]);
  });

  it('keys a tensor model’s rows by their bytes', async () => {
    const model = new FakeNumeric();
    const { app } = createTestApp({ runtimes: [model], cacheBytes: 1 << 20 });
    const body = (k: number[]) => ({
      inputs: [
        { name: 'x', datatype: 'FP32', shape: [k.length, 3], data: k.map(() => [1, 2, 3]) },
        { name: 'k', datatype: 'INT32', shape: [k.length], data: k },
      ],
    });
    const first = await supertest(app).post('/v2/models/numeric/infer').send(body([2]));
    const again = await supertest(app).post('/v2/models/numeric/infer').send(body([2, 3]));
    assert.equal(first.status, 200);
    assert.deepEqual(again.body.outputs[0].data, [12, 18]);
    assert.deepEqual(model.calls.map((call) => Array.from(call.tensors.k?.data as Int32Array)), [[2], [3]]);
    const keys = (k: number[]) =>
      rowKeys(model, { rows: k.length, tensors: { x: { datatype: 'FP32', shape: [k.length, 3], data: new Float32Array(3 * k.length) }, k: { datatype: 'INT32', shape: [k.length], data: Int32Array.from(k) } } });
    const [same, alsoSame] = keys([1, 1]);
    const [one, two] = keys([1, 2]);
    assert.equal(same, alsoSame);
    assert.notEqual(one, two);
  });
});

describe('coalescing identical rows', () => {
  it('computes a text once for every request that asks while it is queued or computing, and counts it', async () => {
    const { app, runtime, registry } = cachedApp({ maxBatchSize: 1 });
    runtime.hold();
    const blocker = supertest(app).post('/v2/models/question-topic/infer').set('x-forwarded-for', '10.0.0.9').send(infer(['blocker']));
    const blocked = blocker.then((res) => res.status);
    await waitFor(() => computed(runtime).includes('blocker'));
    const requests = [
      supertest(app).post('/v2/models/question-topic/infer').set('x-forwarded-for', '10.0.0.1').send(infer(['x', 'y', 'x'])),
      supertest(app).post('/v2/models/question-topic/infer').set('x-forwarded-for', '10.0.0.2').send(infer(['x'])),
      supertest(app).post('/v2/models/question-topic/infer').set('x-forwarded-for', '10.0.0.3').send(infer(['y', 'x'])),
    ].map((request) => request.then((res) => ({ status: res.status, labels: res.body.outputs?.[1]?.data as string[] })));
    await new Promise((resolve) => setTimeout(resolve, 20));
    runtime.release();
    const answers = await Promise.all(requests);
    assert.equal(await blocked, 200);
    assert.deepEqual(answers, [
      { status: 200, labels: ['x', 'y', 'x'].map((t) => fakeLabel(t)) },
      { status: 200, labels: [fakeLabel('x')] },
      { status: 200, labels: ['y', 'x'].map((t) => fakeLabel(t)) },
    ]);
    assert.deepEqual(computed(runtime).sort(), ['blocker', 'x', 'y']);
    assert.equal(metric(await registry.metrics(), 'modeldock_cache_coalesced_rows_total', 'model="question-topic"'), 4);
  });

  it('keeps computing a row others wait for when the request that started it goes away', async () => {
    const { app, runtime } = cachedApp({ maxBatchSize: 1 });
    await listening(app, async ({ base }) => {
      runtime.hold();
      const blocker = fetch(`${base}/v2/models/question-topic/infer`, { method: 'POST', body: JSON.stringify(infer(['blocker'])) });
      await waitFor(() => computed(runtime).includes('blocker'));
      const leaving = new AbortController();
      const first = fetch(`${base}/v2/models/question-topic/infer`, {
        method: 'POST',
        headers: { 'x-forwarded-for': '10.0.0.1' },
        body: JSON.stringify(infer(['shared'])),
        signal: leaving.signal,
      }).catch(() => 'left');
      await new Promise((resolve) => setTimeout(resolve, 20));
      const second = fetch(`${base}/v2/models/question-topic/infer`, {
        method: 'POST',
        headers: { 'x-forwarded-for': '10.0.0.2' },
        body: JSON.stringify(infer(['shared'])),
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      leaving.abort();
      assert.equal(await first, 'left');
      await new Promise((resolve) => setTimeout(resolve, 20));
      runtime.release();
      const res = await second;
      assert.equal(res.status, 200);
      assert.deepEqual(((await res.json()) as { outputs: { data: unknown[] }[] }).outputs[1]?.data, [fakeLabel('shared')]);
      assert.equal((await blocker).status, 200);
      assert.deepEqual(computed(runtime), ['blocker', 'shared']);
    });
  });

  it('says the queue caused the 504 of a request waiting on a row another request had queued', async () => {
    const { app, runtime } = cachedApp({ maxBatchSize: 1 });
    runtime.hold();
    const blocker = supertest(app).post('/v2/models/question-topic/infer').set('x-forwarded-for', '10.0.0.9').send(infer(['blocker'])).then((res) => res.status);
    await waitFor(() => computed(runtime).includes('blocker'));
    const first = supertest(app).post('/v2/models/question-topic/infer').set('x-forwarded-for', '10.0.0.1').send(infer(['shared'])).then((res) => res.status);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const late = await supertest(app)
      .post('/v2/models/question-topic/infer')
      .set('x-forwarded-for', '10.0.0.2')
      .set('x-modeldock-deadline-ms', '30')
      .send(infer(['shared']));
    assert.equal(late.status, 504);
    assert.equal(late.headers['x-modeldock-timeout-cause'], 'queue');
    runtime.release();
    assert.deepEqual(await Promise.all([blocker, first]), [200, 200]);
  });

  it('drops a row when every request waiting for it has gone', async () => {
    const { app, runtime, registry } = cachedApp({ maxBatchSize: 1 });
    await listening(app, async ({ base }) => {
      runtime.hold();
      const blocker = fetch(`${base}/v2/models/question-topic/infer`, { method: 'POST', body: JSON.stringify(infer(['blocker'])) });
      await waitFor(() => computed(runtime).includes('blocker'));
      const leaving = [new AbortController(), new AbortController()];
      const gone = leaving.map((controller, i) =>
        fetch(`${base}/v2/models/question-topic/infer`, {
          method: 'POST',
          headers: { 'x-forwarded-for': `10.0.0.${i + 1}` },
          body: JSON.stringify(infer(['nobody'])),
          signal: controller.signal,
        }).catch(() => 'left'),
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
      for (const controller of leaving) controller.abort();
      assert.deepEqual(await Promise.all(gone), ['left', 'left']);
      await new Promise((resolve) => setTimeout(resolve, 30));
      runtime.release();
      assert.equal((await blocker).status, 200);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(computed(runtime), ['blocker']);
      assert.match(await registry.metrics(), /modeldock_dropped_rows_total\{[^}]*reason="cancelled"\} 1/);
    });
  });
});
