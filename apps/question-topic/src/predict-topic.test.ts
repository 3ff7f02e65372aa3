import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import supertest from 'supertest';
import {
  createTestApp as createServerTestApp,
  FAKE_LABELS as LABELS,
  FakeClassifier as FakeRuntime,
  fakeLabel as shiftedFakeLabel,
  type TestAppOptions,
} from '@modeldock/model-server/testing';
import { checkDocument, responseChecker, type Document } from '@modeldock/api-testing';
import { predictTopicPlugin } from './predict-topic.js';

/** question-topic as it runs: the model server with the seed route, over fake classifiers. */
function createTestApp(options: TestAppOptions & { runtime?: FakeRuntime } = {}) {
  const runtimes = options.runtimes ?? [options.runtime ?? new FakeRuntime()];
  const built = createServerTestApp({ ...options, runtimes, plugins: [predictTopicPlugin] });
  return { ...built, runtime: runtimes.at(-1) as FakeRuntime };
}

const fakeLabel = (text: string) => shiftedFakeLabel(text, 0);

const QUESTIONS = ['What is your salary?', 'Who wrote Hamlet?', 'Where is Rome?'];

describe('POST /predict_topic', () => {
  it('answers real JSON with one confidence per topic for each question, in order', async () => {
    const { app } = createTestApp();
    const res = await supertest(app).post('/predict_topic').send({ rawtext_list: QUESTIONS });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.input, QUESTIONS);
    assert.equal(res.body.output.length, 3);
    res.body.output.forEach((row: Record<string, number>, i: number) => {
      assert.deepEqual(Object.keys(row), [...LABELS]);
      assert.equal(typeof row.NUM, 'number');
      assert.equal(res.body.topics[i], fakeLabel(QUESTIONS[i] as string));
    });
    assert.equal(res.body.model_version, '7');
  });

  it('accepts a body sent without a JSON content type', async () => {
    const { app } = createTestApp();
    const res = await supertest(app)
      .post('/predict_topic')
      .set('content-type', 'application/x-www-form-urlencoded')
      .send(JSON.stringify({ rawtext_list: ['Who?'] }));
    assert.equal(res.status, 200);
  });

  const badBodies: [string, unknown, RegExp][] = [
    ['a missing rawtext_list', { texts: ['x'] }, /rawtext_list/],
    ['an empty list', { rawtext_list: [] }, /must not be empty/],
    ['a string instead of a list', { rawtext_list: 'What?' }, /array of strings/],
    ['a number in the list', { rawtext_list: ['ok', 3] }, /rawtext_list\[1\]' must be a string, got 3/],
    ['null in the list', { rawtext_list: [null] }, /got null/],
    ['a blank text', { rawtext_list: ['  '] }, /blank/],
    ['too many texts', { rawtext_list: Array.from({ length: 9 }, () => 'q') }, /limit is 8/],
    ['a too-long text', { rawtext_list: ['x'.repeat(51)] }, /limit is 50/],
    ['a JSON array body', ['What?'], /JSON object/],
  ];
  for (const [what, body, message] of badBodies) {
    it(`answers 400 {error} for ${what}`, async () => {
      const { app } = createTestApp();
      const res = await supertest(app).post('/predict_topic').send(body as object);
      assert.equal(res.status, 400);
      assert.deepEqual(Object.keys(res.body), ['error']);
      assert.match(res.body.error, message);
    });
  }

  it('answers 400 for malformed JSON', async () => {
    const { app } = createTestApp();
    const res = await supertest(app).post('/predict_topic').set('content-type', 'application/json').send('{"rawtext_list": [');
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'malformed JSON body' });
  });

  it('answers 413 for a body over the limit', async () => {
    const { app } = createTestApp({ maxBodyBytes: 100 });
    const res = await supertest(app).post('/predict_topic').send({ rawtext_list: ['x'.repeat(200)] });
    assert.equal(res.status, 413);
    assert.match(res.body.error, /100 byte limit/);
  });

  it('answers 503 while the model is not ready', async () => {
    const runtime = new FakeRuntime();
    runtime.loaded = false;
    const { app } = createTestApp({ runtime });
    const res = await supertest(app).post('/predict_topic').send({ rawtext_list: ['Who?'] });
    assert.equal(res.status, 503);
    assert.match(res.body.error, /not ready/);
  });
});

describe('Open Inference Protocol', () => {
  const inferBody = (data: unknown, shape: number[] = [Array.isArray(data) ? data.length : 1]) => ({
    id: 'req-1',
    inputs: [{ name: 'text', shape, datatype: 'BYTES', data }],
  });

  it('GET /v2 describes the server', async () => {
    const res = await supertest(createTestApp().app).get('/v2');
    assert.equal(res.status, 200);
    assert.equal(res.body.name, 'modeldock-question-topic');
    assert.deepEqual(res.body.extensions, []);
  });

  it('GET /v2/health/live and /v2/health/ready answer 200 when ready', async () => {
    const { app } = createTestApp();
    assert.equal((await supertest(app).get('/v2/health/live')).status, 200);
    assert.equal((await supertest(app).get('/v2/health/ready')).status, 200);
  });

  it('readiness is 503 when the model is not loaded and while draining', async () => {
    const runtime = new FakeRuntime();
    runtime.loaded = false;
    const notLoaded = createTestApp({ runtime });
    assert.equal((await supertest(notLoaded.app).get('/v2/health/ready')).status, 503);
    assert.equal((await supertest(notLoaded.app).get('/v2/models/question-topic/ready')).status, 503);
    assert.equal((await supertest(notLoaded.app).get('/v2/health/live')).status, 200);
    const draining = createTestApp();
    draining.plane.startDraining();
    assert.equal((await supertest(draining.app).get('/v2/health/ready')).status, 503);
  });

  for (const path of ['/v2/models/question-topic', '/v2/models/question-topic/versions/7']) {
    it(`GET ${path} gives model metadata`, async () => {
      const res = await supertest(createTestApp().app).get(path);
      assert.equal(res.status, 200);
      assert.equal(res.body.name, 'question-topic');
      assert.deepEqual(res.body.versions, ['7']);
      assert.deepEqual(res.body.inputs, [{ name: 'text', datatype: 'BYTES', shape: [-1] }]);
      assert.deepEqual(res.body.outputs[0], { name: 'probabilities', datatype: 'FP32', shape: [-1, 6] });
      assert.deepEqual(res.body.parameters.labels, [...LABELS]);
      assert.equal(res.body.parameters.backend, 'none');
    });
  }

  for (const path of ['/v2/models/question-topic/ready', '/v2/models/question-topic/versions/7/ready']) {
    it(`GET ${path} answers 200 {name, ready}`, async () => {
      const res = await supertest(createTestApp().app).get(path);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { name: 'question-topic', ready: true });
    });
  }

  for (const path of ['/v2/models/question-topic/infer', '/v2/models/question-topic/versions/7/infer']) {
    it(`POST ${path} returns FP32 [n, 6] probabilities and a BYTES label per text`, async () => {
      const res = await supertest(createTestApp().app).post(path).send(inferBody(QUESTIONS));
      assert.equal(res.status, 200);
      assert.equal(res.body.model_name, 'question-topic');
      assert.equal(res.body.model_version, '7');
      assert.equal(res.body.id, 'req-1');
      const [probabilities, label] = res.body.outputs;
      assert.equal(probabilities.name, 'probabilities');
      assert.equal(probabilities.datatype, 'FP32');
      assert.deepEqual(probabilities.shape, [3, 6]);
      assert.equal(probabilities.data.length, 18);
      assert.deepEqual(label, { name: 'label', datatype: 'BYTES', shape: [3], data: QUESTIONS.map(fakeLabel) });
    });
  }

  it('accepts [n, 1] nested data and returns only the requested outputs', async () => {
    const res = await supertest(createTestApp().app)
      .post('/v2/models/question-topic/infer')
      .send({ ...inferBody([['Who?'], ['Why?']], [2, 1]), outputs: [{ name: 'label' }] });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.outputs, [{ name: 'label', datatype: 'BYTES', shape: [2], data: ['Who?', 'Why?'].map(fakeLabel) }]);
  });

  const badRequests: [string, unknown, RegExp][] = [
    ['no inputs', { inputs: [] }, /non-empty array/],
    ['two inputs', { inputs: [inferBody(['a']).inputs[0], inferBody(['b']).inputs[0]] }, /takes 1 input tensor/],
    ['a non-BYTES datatype', { inputs: [{ name: 'text', shape: [1], datatype: 'FP32', data: [1] }] }, /BYTES/],
    ['a shape that does not match the data', inferBody(['a', 'b'], [3]), /shape \[3\] \(3 elements\) but 2 elements/],
    ['a 3-d shape', inferBody(['a'], [1, 1, 1]), /must have shape \[n\]/],
    ['numbers as data', inferBody([1, 2]), /must be a string/],
    ['an unknown output', { ...inferBody(['a']), outputs: [{ name: 'logits' }] }, /unknown output 'logits'/],
    ['binary data', { inputs: [{ ...inferBody(['a']).inputs[0], parameters: { binary_data_size: 3 } }] }, /binary/],
  ];
  for (const [what, body, message] of badRequests) {
    it(`POST .../infer answers 400 {error} for ${what}`, async () => {
      const res = await supertest(createTestApp().app).post('/v2/models/question-topic/infer').send(body as object);
      assert.equal(res.status, 400);
      assert.match(res.body.error, message);
    });
  }

  it('answers 404 {error} for an unknown model or version', async () => {
    const { app } = createTestApp();
    const unknownModel = await supertest(app).post('/v2/models/other/infer').send(inferBody(['a']));
    assert.equal(unknownModel.status, 404);
    assert.deepEqual(unknownModel.body, { error: "model 'other' not found" });
    const unknownVersion = await supertest(app).get('/v2/models/question-topic/versions/99');
    assert.equal(unknownVersion.status, 404);
    assert.match(unknownVersion.body.error, /version '99'/);
  });
});

describe('TensorFlow Serving REST', () => {
  it('GET /v1/models/question-topic reports the version status', async () => {
    const res = await supertest(createTestApp().app).get('/v1/models/question-topic');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.model_version_status, [
      { version: '7', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } },
    ]);
    const versioned = await supertest(createTestApp().app).get('/v1/models/question-topic/versions/7');
    assert.equal(versioned.status, 200);
  });

  it('GET .../metadata gives the serving signature', async () => {
    const res = await supertest(createTestApp().app).get('/v1/models/question-topic/metadata');
    assert.equal(res.status, 200);
    const signature = res.body.metadata.signature_def.signature_def.serving_default;
    assert.equal(signature.inputs.text.dtype, 'DT_STRING');
    assert.equal(signature.outputs.probabilities.tensor_shape.dim[1].size, '6');
  });

  it(':predict answers the row format with one object per instance', async () => {
    const res = await supertest(createTestApp().app)
      .post('/v1/models/question-topic/versions/7:predict')
      .send({ instances: ['Who?', { text: 'Where?' }] });
    assert.equal(res.status, 200);
    assert.equal(res.body.predictions.length, 2);
    assert.equal(res.body.predictions[0].probabilities.length, 6);
    assert.deepEqual(
      res.body.predictions.map((p: { label: string }) => p.label),
      ['Who?', 'Where?'].map(fakeLabel),
    );
  });

  it(':predict answers the columnar format, plain or named', async () => {
    for (const inputs of [['Who?', 'Where?'], { text: ['Who?', 'Where?'] }]) {
      const res = await supertest(createTestApp().app).post('/v1/models/question-topic:predict').send({ inputs });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.outputs.label, ['Who?', 'Where?'].map(fakeLabel));
      assert.equal(res.body.outputs.probabilities.length, 2);
    }
  });

  it('matches routes case-insensitively', async () => {
    const res = await supertest(createTestApp().app).post('/V1/Models/question-topic/VERSIONS/7:PREDICT').send({ instances: ['Who?'] });
    assert.equal(res.status, 200);
  });

  it(':classify answers "results" with label/score pairs per example', async () => {
    const res = await supertest(createTestApp().app)
      .post('/v1/models/question-topic:classify')
      .send({ examples: [{ text: 'Who?' }, { text: ['Where is it?'] }] });
    assert.equal(res.status, 200);
    assert.equal(res.body.results.length, 2);
    assert.deepEqual(
      res.body.results[0].map((pair: [string, number]) => pair[0]),
      [...LABELS],
    );
  });

  it('answers 400 for both or neither of instances and inputs, and for :regress', async () => {
    const { app } = createTestApp();
    const both = await supertest(app).post('/v1/models/question-topic:predict').send({ instances: ['a'], inputs: ['a'] });
    assert.equal(both.status, 400);
    const neither = await supertest(app).post('/v1/models/question-topic:predict').send({});
    assert.equal(neither.status, 400);
    const regress = await supertest(app).post('/v1/models/question-topic:regress').send({ examples: [{ text: 'a' }] });
    assert.equal(regress.status, 400);
    assert.match(regress.body.error, /classifier/);
  });

  it('answers 404 for an unknown model, version or label, and 405 for a wrong method', async () => {
    const { app } = createTestApp();
    assert.equal((await supertest(app).get('/v1/models/nope')).status, 404);
    assert.equal((await supertest(app).post('/v1/models/question-topic/versions/3:predict').send({ instances: ['a'] })).status, 404);
    assert.equal((await supertest(app).get('/v1/models/question-topic/labels/stable')).status, 404);
    const wrongMethod = await supertest(app).get('/v1/models/question-topic:predict');
    assert.equal(wrongMethod.status, 405);
    assert.match(wrongMethod.body.error, /not allowed/);
  });
});

describe('batching through the HTTP layer', () => {
  it('merges concurrent requests and gives each caller its own rows', async () => {
    const { app, runtime } = createTestApp({ maxBatchSize: 8 });
    const texts = ['a', 'bb', 'ccc', 'dddd', 'eeeee', 'ffffff'];
    const responses = await Promise.all(
      texts.map((text) => supertest(app).post('/predict_topic').send({ rawtext_list: [text] })),
    );
    responses.forEach((res, i) => {
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.topics, [fakeLabel(texts[i] as string)]);
    });
    assert.ok(runtime.calls.length < texts.length, `expected merged calls, got ${runtime.calls.length}`);
  });

  it("fails only the request whose input breaks the engine, not its batch-mates'", async () => {
    const { app } = createTestApp({ maxBatchSize: 8 });
    const texts = ['fine one', 'explode now', 'fine two'];
    const responses = await Promise.all(
      texts.map((text) => supertest(app).post('/predict_topic').send({ rawtext_list: [text] })),
    );
    assert.deepEqual(
      responses.map((res) => res.status),
      [200, 500, 200],
    );
    assert.deepEqual(responses[1]?.body, { error: 'internal server error' });
  });

  it('answers 503 with Retry-After at once when the queue is full', async () => {
    const { app } = createTestApp({ maxBatchSize: 1, maxQueue: 2 });
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => supertest(app).post('/predict_topic').send({ rawtext_list: ['q'] })),
    );
    const statuses = responses.map((res) => res.status);
    assert.ok(statuses.includes(503), `expected some 503s, got ${statuses.join(',')}`);
    assert.ok(statuses.includes(200));
    const shed = responses.find((res) => res.status === 503);
    assert.equal(shed?.headers['retry-after'], '1');
    assert.match(shed?.body.error, /overloaded/);
  });
});

describe('several served versions', () => {
  const twoVersions = () => createTestApp({ runtimes: [new FakeRuntime('6', 1), new FakeRuntime('7')] });
  const infer = { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['Who?'] }] };
  const labelOf = (body: { outputs: { name: string; data: string[] }[] }) =>
    body.outputs.find((output) => output.name === 'label')?.data[0];

  it('routes versioned requests to their version and unversioned ones to the newest', async () => {
    const { app } = twoVersions();
    const v6 = await supertest(app).post('/v2/models/question-topic/versions/6/infer').send(infer);
    assert.equal(v6.body.model_version, '6');
    assert.equal(labelOf(v6.body), shiftedFakeLabel('Who?', 1));
    const latest = await supertest(app).post('/v2/models/question-topic/infer').send(infer);
    assert.equal(latest.body.model_version, '7');
    assert.equal(labelOf(latest.body), fakeLabel('Who?'));
    const tfs = await supertest(app).post('/v1/models/question-topic/versions/6:predict').send({ instances: ['Who?'] });
    assert.equal(tfs.body.predictions[0].label, shiftedFakeLabel('Who?', 1));
    const seed = await supertest(app).post('/predict_topic').send({ rawtext_list: ['Who?'] });
    assert.equal(seed.body.model_version, '7');
  });

  it('lists every version in OIP metadata and TF Serving status, and 404s others', async () => {
    const { app } = twoVersions();
    assert.deepEqual((await supertest(app).get('/v2/models/question-topic')).body.versions, ['6', '7']);
    const status = await supertest(app).get('/v1/models/question-topic');
    assert.deepEqual(
      status.body.model_version_status.map((v: { version: string }) => v.version),
      ['7', '6'],
    );
    assert.equal((await supertest(app).get('/v2/models/question-topic/versions/5/ready')).status, 404);
  });

  it('is ready only when every served version is', async () => {
    const old = new FakeRuntime('6', 1);
    old.loaded = false;
    const { app } = createTestApp({ runtimes: [old, new FakeRuntime('7')] });
    assert.equal((await supertest(app).get('/v2/health/ready')).status, 503);
    assert.equal((await supertest(app).get('/v2/models/question-topic/versions/6/ready')).status, 503);
    assert.equal((await supertest(app).get('/v2/models/question-topic/versions/7/ready')).status, 503);
    assert.equal((await supertest(app).post('/v2/models/question-topic/versions/6/infer').send(infer)).status, 503);
  });
});

describe('GET /metrics', () => {
  it('exposes request, inference and batching metrics', async () => {
    const { app } = createTestApp();
    await supertest(app).post('/predict_topic').send({ rawtext_list: ['Who?'] });
    const res = await supertest(app).get('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.text, /http_requests_total\{method="POST",route="\/predict_topic",status="200"\} 1/);
    assert.match(res.text, /modeldock_inference_texts_total\{model="question-topic",version="7",protocol="seed"\} 1/);
    assert.match(res.text, /modeldock_batch_size_bucket/);
    assert.match(res.text, /modeldock_batch_queue_duration_seconds_bucket/);
    assert.match(res.text, /modeldock_model_ready\{model="question-topic",version="7"\} 1/);
  });
});

describe('unknown routes', () => {
  it('answer 404 {error}', async () => {
    const res = await supertest(createTestApp().app).get('/nope');
    assert.equal(res.status, 404);
    assert.deepEqual(Object.keys(res.body), ['error']);
  });
});

describe('GET /openapi.json of question-topic', () => {
  it('documents the seed route, whose example request answers as its response schema says', async () => {
    const { app } = createTestApp();
    const document = (await supertest(app).get('/openapi.json')).body as Document;
    await checkDocument(document);
    const operation = document.paths['/predict_topic']?.post as {
      requestBody: { content: { 'application/json': { example: unknown } } };
      responses: Record<string, { content: { 'application/json': { example: unknown } } }>;
    };
    const res = await supertest(app).post('/predict_topic').send(operation.requestBody.content['application/json'].example as object);
    assert.equal(res.status, 200);
    assert.deepEqual(responseChecker(document).check('POST', '/predict_topic', 200, res.body), []);
    assert.deepEqual(operation.responses['200']?.content['application/json'].example, res.body);
    assert.deepEqual(responseChecker(document).check('POST', '/predict_topic', 200, { ...res.body, topics: ['NOPE'] }).length, 1, 'topics are the labels');
  });
});
