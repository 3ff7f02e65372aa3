// Bulk requests (issue 16.1): what OpenAI accepts (2,048 inputs) is admitted by its estimated engine
// time, runs as parts in the fair queue, and gets a deadline that grows with its work, told to the
// gateway with 102 Processing when the gateway offers to wait for it.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { describe, it } from 'node:test';
import supertest from 'supertest';
import { schemas } from './index.js';
import { createTestApp, FakeEmbedder, fakeEmbedding, listening, type TestAppOptions } from './testing.js';

/** Texts of varied lengths (1 to 30 fake pieces), each distinct. */
const texts = (count: number, offset = 0) => Array.from({ length: count }, (_, i) => `${i + offset} ${'w'.repeat((i * 7) % 110)}`);

/** An embedder app that admits OpenAI's 2,048 inputs, with engine calls of at most 64 positions. */
function bulkApp(options: TestAppOptions = {}) {
  const runtime = new FakeEmbedder();
  const app = createTestApp({
    runtimes: [runtime],
    maxBatchSize: 32,
    maxBatchPositions: 64,
    maxQueue: 10_000,
    maxQueuePerClient: 10_000,
    maxBodyBytes: 1 << 20,
    ...options,
    limits: { maxRows: 2048, maxTextLength: 200, maxRequestPositions: 100_000, maxTensorElements: 1_000_000, ...options.limits },
  });
  return { ...app, runtime };
}

const embed = (input: unknown, extra: Record<string, unknown> = {}) => ({ model: 'sentence-embedding', input, ...extra });


/** A POST over a real socket that records interim (1xx) responses. */
function post(port: number, path: string, body: unknown, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; interim: number[]; headers: Record<string, unknown>; body: string; ms: number }>((resolve, reject) => {
    const started = performance.now();
    const interim: number[] = [];
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, interim, headers: res.headers, body: text, ms: performance.now() - started }));
    });
    req.on('information', (info) => interim.push(info.statusCode));
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('POST /v1/embeddings with OpenAI’s 2,048 inputs', () => {
  it('answers every row in order, as the same texts answer alone', async () => {
    const { app } = bulkApp();
    const input = texts(2048);
    const res = await supertest(app).post('/v1/embeddings').send(embed(input));
    assert.equal(res.status, 200);
    schemas.embeddingsResponse.parse(res.body);
    assert.equal(res.body.data.length, 2048);
    res.body.data.forEach((row: { index: number; embedding: number[] }, i: number) => {
      assert.equal(row.index, i);
      assert.deepEqual(row.embedding, fakeEmbedding(input[i] as string));
    });
  });

  it('writes a large answer in pieces that make exactly the JSON document of the whole answer', async () => {
    const { app } = bulkApp();
    const input = texts(300);
    for (const format of ['float', 'base64'] as const) {
      const res = await supertest(app).post('/v1/embeddings').send(embed(input, { encoding_format: format }));
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      // The same document res.json would have written in one go.
      assert.equal(res.text, JSON.stringify(res.body));
      assert.equal(res.body.data.length, 300);
      assert.deepEqual(Object.keys(res.body), ['object', 'data', 'model', 'usage']);
    }
  });

  it('runs a large request as parts: another client waits for one part, not for the whole request', async () => {
    const { app, runtime } = bulkApp();
    runtime.hold();
    const bulk = supertest(app).post('/v1/embeddings').set('x-forwarded-for', '10.0.0.1').send(embed(texts(512)));
    const bulkDone = bulk.then((res) => res.status);
    for (let i = 0; i < 200 && runtime.calls.length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
    const single = supertest(app).post('/v1/embeddings').set('x-forwarded-for', '10.0.0.2').send(embed('How old are you?'));
    const singleDone = single.then((res) => res.status);
    await new Promise((resolve) => setTimeout(resolve, 20));
    runtime.release();
    assert.equal(await singleDone, 200);
    assert.equal(await bulkDone, 200);
    const mine = runtime.calls.findIndex((call) => (call.tensors.text?.data as string[]).includes('How old are you?'));
    // The first bulk part was in the engine when it arrived; its call is the next one.
    assert.equal(mine, 1, `the other client's text ran in call ${mine} of ${runtime.calls.length}`);
    // Every call of the bulk request stays within the positions of one batch (64), and all its rows ran.
    const rows = runtime.calls.reduce((sum, call) => sum + call.rows, 0);
    assert.equal(rows, 513);
    assert.ok(runtime.calls.length >= 512 / 32, `${runtime.calls.length} calls`);
  });

  it('refuses a request over the work limit with a 400 naming the limit and each client’s batch setting', async () => {
    const { app } = bulkApp({ limits: { maxRequestPositions: 1000 } });
    const res = await supertest(app).post('/v1/embeddings').send(embed(texts(200)));
    assert.equal(res.status, 400);
    schemas.openAiError.parse(res.body);
    assert.match(res.body.error.message, /the request needs \d+ padded encoder positions \(about \d+ s of engine time\); the limit is 1000/);
    for (const setting of [/batchSize/, /maxEmbeddingsPerCall/, /openai client/]) assert.match(res.body.error.message, setting);
    const rows = await supertest(app).post('/v1/embeddings').send(embed(Array<string>(2049).fill('a')));
    assert.equal(rows.status, 400);
    assert.match(rows.body.error.message, /'input' has 2049 rows; the limit is 2048: send fewer inputs per request .*batchSize.*maxEmbeddingsPerCall/);
  });

  it('refuses token ids with a 400 that says to send the texts', async () => {
    const { app } = bulkApp();
    for (const input of [[1, 2, 3], [[1, 2], [3]], [[]]]) {
      const res = await supertest(app).post('/v1/embeddings').send(embed(input));
      assert.equal(res.status, 400);
      schemas.openAiError.parse(res.body);
      assert.match(res.body.error.message, /'input' holds token ids.*send the texts as strings/);
    }
  });
});

describe('deadlines that grow with the work', () => {
  // 64 texts of 25 fake pieces: 1,600 positions, ~1.3 s of estimated engine time: a 2.6 s deadline.
  const heavy = Array.from({ length: 64 }, (_, i) => `${String(i).padStart(3, '0')} ${'w'.repeat(92)}`);

  it('gives a large request twice its estimated engine time when that is longer than the ordinary deadline', async () => {
    const { app, runtime, registry } = bulkApp({ deadlineMs: 100, maxBatchPositions: 2000 });
    runtime.hold();
    setTimeout(() => runtime.release(), 400);
    const [small, large] = await Promise.all([
      supertest(app).post('/v1/embeddings').set('x-forwarded-for', '10.0.0.3').send(embed(['a'])),
      supertest(app).post('/v1/embeddings').set('x-forwarded-for', '10.0.0.4').send(embed(heavy)),
    ]);
    // The small request had its ordinary 100 ms; the engine was held for 400 ms.
    assert.equal(small.status, 504);
    assert.equal(large.status, 200);
    const metrics = await registry.metrics();
    assert.match(metrics, /modeldock_request_deadline_seconds_bucket\{le="1",model="sentence-embedding",version="1"\} 1/);
    assert.match(metrics, /modeldock_request_deadline_seconds_bucket\{le="5",model="sentence-embedding",version="1"\} 2/);
  });

  it('caps the deadline at the maximum', async () => {
    const { app, runtime } = bulkApp({ deadlineMs: 50, maxDeadlineMs: 150, maxBatchPositions: 2000 });
    runtime.hold();
    setTimeout(() => runtime.release(), 600);
    const res = await supertest(app).post('/v1/embeddings').send(embed(heavy));
    assert.equal(res.status, 504);
  });

  it('answers 102 Processing at once when the gateway offers to wait longer for work that needs it', async () => {
    const { app, runtime } = bulkApp({ maxBatchPositions: 2000 });
    await listening(app, async ({ port }) => {
      runtime.hold();
      setTimeout(() => runtime.release(), 300);
      const offered = post(port, '/v1/embeddings', embed(heavy), { 'x-modeldock-deadline-ms': '100', 'x-modeldock-deadline-max-ms': '5000' });
      // Without the offer, the gateway's attempt deadline stands.
      const alone = post(port, '/v1/embeddings', embed(heavy.map((text) => `${text}!`)), { 'x-modeldock-deadline-ms': '100' });
      // An ordinary request is never extended, offer or not.
      const small = post(port, '/v1/embeddings', embed(['a']), { 'x-modeldock-deadline-ms': '100', 'x-modeldock-deadline-max-ms': '5000' });
      const [extended, refused, ordinary] = await Promise.all([offered, alone, small]);
      assert.deepEqual(extended.interim, [102]);
      assert.equal(extended.status, 200, extended.body);
      assert.equal(JSON.parse(extended.body).data.length, 64);
      assert.deepEqual(refused.interim, []);
      assert.equal(refused.status, 504);
      assert.equal(refused.headers['x-modeldock-timeout-cause'], 'queue');
      assert.deepEqual(ordinary.interim, []);
      assert.equal(ordinary.status, 504);
    });
  });

  it('never waits past what the gateway offered', async () => {
    const { app, runtime } = bulkApp({ maxBatchPositions: 2000 });
    await listening(app, async ({ port }) => {
      runtime.hold();
      setTimeout(() => runtime.release(), 1000);
      const res = await post(port, '/v1/embeddings', embed(heavy), { 'x-modeldock-deadline-ms': '50', 'x-modeldock-deadline-max-ms': '200' });
      assert.deepEqual(res.interim, [102]);
      assert.equal(res.status, 504);
      assert.ok(res.ms < 900, `answered after ${Math.round(res.ms)} ms`);
    });
  });
});

describe('queue bounds in work', () => {
  it('refuses bulk work past its share of the queue with 503 + queue cause, and still admits a small request', async () => {
    const { app, runtime } = bulkApp({ maxQueuePositions: 2000, maxQueuePositionsPerClient: 2000 });
    runtime.hold();
    const first = supertest(app).post('/v1/embeddings').set('x-forwarded-for', '10.0.1.1').send(embed(texts(100))).then((res) => res.status);
    for (let i = 0; i < 200 && runtime.calls.length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
    const second = await supertest(app).post('/v1/embeddings').set('x-forwarded-for', '10.0.1.2').send(embed(texts(100, 100)));
    assert.equal(second.status, 503);
    assert.equal(second.headers['x-modeldock-timeout-cause'], 'queue');
    assert.equal(second.headers['retry-after'], '1');
    assert.match(second.body.error.message, /padded encoder positions already queued/);
    const small = supertest(app).post('/v1/embeddings').set('x-forwarded-for', '10.0.1.3').send(embed(['a small one'])).then((res) => res.status);
    await new Promise((resolve) => setTimeout(resolve, 20));
    runtime.release();
    assert.deepEqual(await Promise.all([first, small]), [200, 200]);
  });
});
