// Regression tests for the hardening findings against a model replica: each would fail on the
// server as it was (no output de-duplication, limits before normalisation, no deadlines, no
// cancellation, one shared queue, 500s from malformed paths and nesting, error-level shed logs).
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import supertest from 'supertest';
import { createTestApp, FakeClassifier, listening, rawRequest } from './testing.js';

const infer = (texts: unknown[], extra: Record<string, unknown> = {}) => ({
  inputs: [{ name: 'text', datatype: 'BYTES', shape: [texts.length], data: texts }],
  ...extra,
});


const metricValue = (text: string, pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 0);

describe('OIP outputs', () => {
  it('answers 400 for an output requested twice, so a response is never larger than with each output once', async () => {
    const outputs = Array.from({ length: 8000 }, () => ({ name: 'probabilities' }));
    const res = await supertest(createTestApp({ maxBodyBytes: 1 << 20 }).app)
      .post('/v2/models/question-topic/infer')
      .send(infer(['Who?'], { outputs: outputs.slice(0, 2) }));
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: "output 'probabilities' is requested twice" });
    const many = await supertest(createTestApp({ maxBodyBytes: 1 << 20 }).app)
      .post('/v2/models/question-topic/infer')
      .send(infer(['Who?'], { outputs }));
    assert.equal(many.status, 400);
  });

  it('answers 400 for an unknown output without echoing a nested value', async () => {
    let nested: unknown = 'x';
    for (let i = 0; i < 20; i += 1) nested = [nested];
    const res = await supertest(createTestApp().app)
      .post('/v2/models/question-topic/infer')
      .send(infer(['Who?'], { outputs: [{ name: nested }] }));
    assert.equal(res.status, 400);
    assert.deepEqual(Object.keys(res.body), ['error']);
  });
});

describe('work limits after Unicode normalisation', () => {
  it('counts a text’s length after NFKC (U+FDFA becomes 18 characters)', async () => {
    const text = '\uFDFA'.repeat(10); // 10 characters raw, 180 after NFKC; the limit is 50
    const res = await supertest(createTestApp().app).post('/v2/models/question-topic/infer').send(infer([text]));
    assert.equal(res.status, 400);
    assert.match(res.body.error, /180 characters after Unicode normalisation; the limit is 50/);
  });

  it('bounds the encoder pieces of one text and of a whole request', async () => {
    const { app } = createTestApp({ limits: { maxTextLength: 1000, maxTextPieces: 20, maxRequestPositions: 60 } });
    const long = await supertest(app).post('/v2/models/question-topic/infer').send(infer(['word '.repeat(30)]));
    assert.equal(long.status, 400);
    assert.match(long.body.error, /encoder pieces \(tokens\); the limit is 20/);
    const many = await supertest(app).post('/v2/models/question-topic/infer').send(infer(Array(4).fill('word '.repeat(12))));
    assert.equal(many.status, 400);
    assert.match(many.body.error, /needs 64 padded encoder positions \(about 1 s of engine time\); the limit is 60: send fewer or shorter texts per request/);
    const raw = await supertest(app).post('/v2/models/question-topic/infer').send(infer(['x'.repeat(1001)]));
    assert.match(raw.body.error, /1001 characters; the limit is 1000/);
  });
});

describe('deadlines and cancellation', () => {
  it('drops the queued texts of a request whose client has gone, and counts them', async () => {
    const runtime = new FakeClassifier();
    const { app, registry } = createTestApp({ runtimes: [runtime], maxBatchSize: 2, limits: { maxRows: 64, maxRequestPositions: 10_000 } });
    await listening(app, async ({ base }) => {
      runtime.hold();
      const controller = new AbortController();
      const abandoned = fetch(`${base}/v2/models/question-topic/infer`, {
        method: 'POST',
        body: JSON.stringify(infer(Array.from({ length: 40 }, (_, i) => `question ${i}`))),
        signal: controller.signal,
      }).catch(() => 'aborted');
      // Wait until the first part of the request is in the engine, then leave.
      for (let i = 0; i < 100 && runtime.calls.length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
      controller.abort();
      assert.equal(await abandoned, 'aborted');
      for (let i = 0; i < 100; i += 1) {
        const text = await registry.metrics();
        if (/modeldock_dropped_rows_total\{[^}]*reason="cancelled"\} 8/.test(text)) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      runtime.release();
      await new Promise((resolve) => setTimeout(resolve, 20));
      // The running part (32 texts) finished; the other 8 were never computed.
      assert.equal(runtime.calls.length, 1);
      assert.equal(metricValue(await registry.metrics(), /modeldock_dropped_rows_total\{[^}]*reason="cancelled"\} (\d+)/), 8);
    });
  });

  it('answers 504 once the x-modeldock-deadline-ms deadline passes in the queue, and never computes it', async () => {
    const runtime = new FakeClassifier();
    const { app, registry } = createTestApp({ runtimes: [runtime], maxBatchSize: 1 });
    runtime.hold();
    const first = supertest(app).post('/v2/models/question-topic/infer').send(infer(['first'])).then((res) => res.status);
    for (let i = 0; i < 100 && runtime.calls.length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
    const late = await supertest(app).post('/v2/models/question-topic/infer').set('x-modeldock-deadline-ms', '30').send(infer(['late']));
    assert.equal(late.status, 504);
    assert.deepEqual(Object.keys(late.body), ['error']);
    runtime.release();
    assert.equal(await first, 200);
    assert.equal(runtime.calls.length, 1);
    assert.equal(metricValue(await registry.metrics(), /modeldock_dropped_rows_total\{[^}]*reason="deadline"\} (\d+)/), 1);
  });

  it('answers 400 for a malformed deadline header', async () => {
    const res = await supertest(createTestApp().app)
      .post('/v2/models/question-topic/infer')
      .set('x-modeldock-deadline-ms', 'soon')
      .send(infer(['Who?']));
    assert.equal(res.status, 400);
  });
});

describe('queue time and cause, for the gateway (x-modeldock-queue-ms, x-modeldock-timeout-cause)', () => {
  const waitForEngine = async (runtime: FakeClassifier) => {
    for (let i = 0; i < 100 && runtime.calls.length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
  };

  it('answers 504 with cause queue when the deadline passes while the rows wait, and every answer says how long they waited', async () => {
    const runtime = new FakeClassifier();
    const { app } = createTestApp({ runtimes: [runtime], maxBatchSize: 1 });
    runtime.hold();
    // then() sends it now (supertest sends lazily).
    const first = supertest(app).post('/v2/models/question-topic/infer').send(infer(['first'])).then((res) => res);
    await waitForEngine(runtime);
    const late = await supertest(app).post('/v2/models/question-topic/infer').set('x-modeldock-deadline-ms', '40').send(infer(['late']));
    assert.equal(late.status, 504);
    assert.equal(late.headers['x-modeldock-timeout-cause'], 'queue');
    assert.ok(Number(late.headers['x-modeldock-queue-ms']) >= 30, late.headers['x-modeldock-queue-ms']);
    runtime.release();
    const ok = await first;
    assert.equal(ok.status, 200);
    assert.match(ok.headers['x-modeldock-queue-ms'] ?? '', /^\d+$/);
    assert.equal(ok.headers['x-modeldock-timeout-cause'], undefined);
  });

  it('answers 504 without a cause when the rows were all in the engine (the replica may be at fault)', async () => {
    const runtime = new FakeClassifier();
    const { app } = createTestApp({ runtimes: [runtime] });
    runtime.hold();
    const slow = await supertest(app).post('/v2/models/question-topic/infer').set('x-modeldock-deadline-ms', '40').send(infer(['slow']));
    runtime.release();
    assert.equal(slow.status, 504);
    assert.equal(slow.headers['x-modeldock-timeout-cause'], undefined);
    assert.match(slow.headers['x-modeldock-queue-ms'] ?? '', /^\d+$/);
  });

  it('marks the full-queue 503 and the fair-share 429 as caused by the queue (OIP and TF Serving)', async () => {
    const runtime = new FakeClassifier();
    const { app } = createTestApp({ runtimes: [runtime], maxBatchSize: 1, maxQueue: 2, maxQueuePerClient: 1 });
    runtime.hold();
    const send = (client: string, text: string) =>
      supertest(app).post('/v2/models/question-topic/infer').set('x-forwarded-for', client).send(infer([text])).then((res) => res.status);
    const held = [send('10.0.0.1', 'a')];
    await waitForEngine(runtime);
    held.push(send('10.0.0.1', 'b'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const share = await supertest(app).post('/v1/models/question-topic:predict').set('x-forwarded-for', '10.0.0.1').send({ instances: ['c'] });
    assert.equal(share.status, 429);
    assert.equal(share.headers['x-modeldock-timeout-cause'], 'queue');
    const other = send('10.0.0.2', 'd');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const full = await supertest(app).post('/v2/models/question-topic/infer').set('x-forwarded-for', '10.0.0.3').send(infer(['e']));
    assert.equal(full.status, 503);
    assert.equal(full.headers['x-modeldock-timeout-cause'], 'queue');
    assert.equal(full.headers['x-modeldock-queue-ms'], '0');
    runtime.release();
    assert.deepEqual(await Promise.all(held), [200, 200]);
    assert.equal(await other, 200);
  });
});

describe('fair sharing of the queue', () => {
  it('answers 429 to a client over its share while another client is still served', async () => {
    const runtime = new FakeClassifier();
    const { app } = createTestApp({ runtimes: [runtime], maxBatchSize: 1, maxQueue: 64, maxQueuePerClient: 3 });
    runtime.hold();
    const flood = Array.from({ length: 8 }, () =>
      supertest(app).post('/v2/models/question-topic/infer').set('x-forwarded-for', '10.0.0.1').send(infer(['q'])),
    );
    const requests = flood.map((request) =>
      request.then((res) => ({ status: res.status, retryAfter: res.headers['retry-after'] })),
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    const other = supertest(app)
      .post('/v2/models/question-topic/infer')
      .set('x-forwarded-for', '10.0.0.2')
      .send(infer(['mine']))
      .then((res) => res.status);
    runtime.release();
    const statuses = await Promise.all(requests);
    // The flood: one running and three queued (its share) answered, the other four refused at once.
    assert.ok(statuses.filter((s) => s.status === 429).length >= 3, JSON.stringify(statuses));
    assert.ok(statuses.filter((s) => s.status === 429).every((s) => s.retryAfter === '1'));
    assert.equal(await other, 200);
  });
});

describe('no 5xx from client input', () => {
  for (const path of ['/v2/models/%ff', '/v2/models/%ff/infer', '/v1/models/%ff:predict', '/v2/models/question-topic/versions/%E0%A4%A/ready']) {
    it(`answers 4xx {error} for GET/POST ${path}`, async () => {
      const { app } = createTestApp();
      for (const res of [await supertest(app).get(path), await supertest(app).post(path).send(infer(['a']))]) {
        assert.ok(res.status >= 400 && res.status < 500, `${res.status}`);
        assert.deepEqual(Object.keys(res.body), ['error']);
      }
    });
  }

  it('answers 400 for deeply nested JSON in datatype, outputs[].name and data', async () => {
    const deep = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
    const bodies = [
      `{"inputs":[{"name":"text","shape":[1],"datatype":${deep(5000)},"data":["a"]}]}`,
      `{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":["a"]}],"outputs":[{"name":${deep(5000)}}]}`,
      `{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":${deep(5000)}}]}`,
    ];
    for (const body of bodies) {
      const res = await supertest(createTestApp({ maxBodyBytes: 1 << 20 }).app)
        .post('/v2/models/question-topic/infer')
        .set('content-type', 'application/json')
        .send(body);
      assert.equal(res.status, 400);
      assert.match(res.body.error, /nested deeper than 32 levels/);
    }
  });
});

describe('logs under a flood', () => {
  it('logs shed 503s at info without stack traces, and a bounded number of lines', async () => {
    const lines: { level: number; err?: unknown; res?: { statusCode: number } }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as (typeof lines)[number]);
        done();
      },
    });
    const runtime = new FakeClassifier();
    const { app, registry } = createTestApp({ runtimes: [runtime], maxBatchSize: 1, maxQueue: 1, logger: pino({ level: 'info' }, sink) });
    runtime.hold();
    const responses = Array.from({ length: 120 }, () => supertest(app).post('/v2/models/question-topic/infer').send(infer(['q'])).then((res) => res.status));
    // Release the engine once the flood has been refused (bounded wait), not after a fixed time.
    for (let i = 0; i < 200; i += 1) {
      if (metricValue(await registry.metrics(), /modeldock_inference_rejected_total\{[^}]*reason="overloaded"[^}]*\} (\d+)/) >= 110) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    runtime.release();
    const statuses = await Promise.all(responses);
    const shed = statuses.filter((status) => status === 503).length;
    assert.ok(shed > 100, `expected a flood of 503s, got ${shed}`);
    const shedLines = lines.filter((line) => line.res?.statusCode === 503);
    assert.ok(shedLines.length <= 20, `${shedLines.length} lines for ${shed} shed requests`);
    assert.ok(shedLines.every((line) => line.level === 30 && line.err === undefined), 'shed 503s log at info without errors');
  });
});

describe('client identity for the fair share', () => {
  it('trusts only the last x-forwarded-for entry, the one the gateway appends', async () => {
    const runtime = new FakeClassifier();
    const { app } = createTestApp({ runtimes: [runtime], maxBatchSize: 1, maxQueue: 64, maxQueuePerClient: 2 });
    runtime.hold();
    // The same client behind the gateway, pretending to be many by varying the first entry.
    const requests = Array.from({ length: 6 }, (_, i) =>
      supertest(app)
        .post('/v2/models/question-topic/infer')
        .set('x-forwarded-for', `10.9.9.${i}, 192.0.2.7`)
        .send(infer(['q']))
        .then((res) => res.status),
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    runtime.release();
    const statuses = await Promise.all(requests);
    assert.ok(statuses.filter((status) => status === 429).length >= 3, statuses.join(','));
  });
});

describe('request targets a hop in front could read differently', () => {
  const targets: [string, RegExp][] = [
    ['/v2/models/question-topic/versions/1\\..\\..\\..\\..\\metrics', /a backslash in the request path/],
    ['/v2/models/question-topic%2fversions%2f7/ready', /an encoded '\/' or '.' in the request path/],
    ['/v2/models/question-topic/versions/7%5c..%5cready', /an encoded/],
    ['/v2/models/question-topic/versions/7/../../../../metrics', /a dot segment in the request path/],
    ['/v2/models/question-topic/%2e%2e/question-topic/ready', /a dot segment/],
    ['/v2/models/question-topic/./ready', /a dot segment/],
    ['/v2/models/question-topic/ready#x', /a fragment/],
  ];
  it('answers 400 {error} before routing (404, or 200 for a fragment, before)', async () => {
    await listening(createTestApp().app, async ({ base }) => {
      for (const [target, message] of targets) {
        const answer = await rawRequest(Number(new URL(base).port), `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        assert.match(answer, /^HTTP\/1\.1 400 /, target);
        const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: string };
        assert.match(body.error, message, target);
      }
    });
  });
});

describe('forwarded addresses from untrusted peers', () => {
  it('gives a direct client rotating X-Forwarded-For one share of the queue', async () => {
    const runtime = new FakeClassifier();
    // Loopback (where supertest connects from) is not a trusted proxy here.
    const { app } = createTestApp({ runtimes: [runtime], maxBatchSize: 1, maxQueue: 64, maxQueuePerClient: 2, trustedProxies: ['10.0.0.0/8'] });
    runtime.hold();
    const requests = Array.from({ length: 6 }, (_, i) =>
      supertest(app).post('/v2/models/question-topic/infer').set('x-forwarded-for', `198.51.100.${i}`).send(infer(['q'])).then((res) => res.status),
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    runtime.release();
    const statuses = await Promise.all(requests);
    assert.ok(statuses.filter((status) => status === 429).length >= 3, statuses.join(','));
  });
});

describe('small surface findings', () => {
  it('echoes at most a short prefix of a long model name', async () => {
    const res = await supertest(createTestApp().app).get(`/v2/models/${'m'.repeat(8000)}`);
    assert.equal(res.status, 404);
    assert.ok(res.text.length < 200, `${res.text.length} bytes`);
    const tfs = await supertest(createTestApp().app).get(`/v1/models/${'m'.repeat(8000)}/metadata`);
    assert.equal(tfs.status, 404);
    assert.ok(tfs.text.length < 200, `${tfs.text.length} bytes`);
  });

  it('resolves versions the same way on OIP and TF Serving: digits as written, %31 is not 1', async () => {
    const { app } = createTestApp();
    assert.equal((await supertest(app).get('/v2/models/question-topic/versions/7/ready')).status, 200);
    assert.equal((await supertest(app).get('/v1/models/question-topic/versions/7')).status, 200);
    for (const path of ['/v2/models/question-topic/versions/%37/ready', '/v1/models/question-topic/versions/%37', '/v2/models/question-topic/versions/seven', '/v1/models/question-topic/versions/seven/metadata']) {
      const res = await supertest(app).get(path);
      assert.equal(res.status, 404, path);
      assert.match(res.body.error, /^version '(%37|seven)' of model 'question-topic' not found$/, path);
    }
  });

  it('answers 400 for a signature_name other than serving_default (ignored before)', async () => {
    const { app } = createTestApp();
    const bad = await supertest(app).post('/v1/models/question-topic:predict').send({ signature_name: 'nope', instances: ['Who?'] });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /signature_name 'nope' not found; the model's only signature is 'serving_default'/);
    const classify = await supertest(app).post('/v1/models/question-topic:classify').send({ signature_name: 'nope', examples: [{ text: 'Who?' }] });
    assert.equal(classify.status, 400);
    for (const name of ['serving_default', '']) {
      const res = await supertest(app).post('/v1/models/question-topic:predict').send({ signature_name: name, instances: ['Who?'] });
      assert.equal(res.status, 200, name);
    }
  });
});
