import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import supertest from 'supertest';
import { schemas } from './index.js';
import { createTestApp, fakeEmbedding, FakeClassifier, FakeEmbedder } from './testing.js';

const embedder = () => createTestApp({ runtimes: [new FakeEmbedder()] });

function decodeBase64(text: string): number[] {
  const bytes = Buffer.from(text, 'base64');
  return Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
}

describe('POST /v1/embeddings', () => {
  it('embeds a list of strings as float arrays, in order, with usage', async () => {
    const res = await supertest(embedder().app).post('/v1/embeddings').send({ model: 'sentence-embedding', input: ['How old are you?', 'Hi'] });
    assert.equal(res.status, 200);
    schemas.embeddingsResponse.parse(res.body);
    assert.equal(res.body.model, 'sentence-embedding');
    assert.deepEqual(res.body.data.map((d: { index: number }) => d.index), [0, 1]);
    assert.deepEqual(res.body.data[1].embedding, fakeEmbedding('Hi'));
    assert.ok(res.body.usage.prompt_tokens > 0);
    assert.equal(res.body.usage.total_tokens, res.body.usage.prompt_tokens);
  });

  it('embeds a single string, and encodes base64 as little-endian float32', async () => {
    const res = await supertest(embedder().app)
      .post('/v1/embeddings')
      .send({ model: 'sentence-embedding', input: 'How old are you?', encoding_format: 'base64' });
    assert.equal(res.status, 200);
    assert.equal(res.body.data.length, 1);
    assert.equal(typeof res.body.data[0].embedding, 'string');
    assert.deepEqual(decodeBase64(res.body.data[0].embedding), fakeEmbedding('How old are you?'));
  });

  it('accepts dimensions equal to the model’s and refuses any other with an OpenAI error body', async () => {
    const { app } = embedder();
    assert.equal((await supertest(app).post('/v1/embeddings').send({ model: 'sentence-embedding', input: 'a', dimensions: 4 })).status, 200);
    const res = await supertest(app).post('/v1/embeddings').send({ model: 'sentence-embedding', input: 'a', dimensions: 3 });
    assert.equal(res.status, 400);
    schemas.openAiError.parse(res.body);
    assert.match(res.body.error.message, /4 dimensions/);
    assert.equal(res.body.error.type, 'invalid_request_error');
  });

  const bad: [string, unknown, number, RegExp][] = [
    ['an unknown model', { model: 'gpt-4', input: 'a' }, 404, /model 'gpt-4' not found/],
    ['a missing input', { model: 'sentence-embedding' }, 400, /input/],
    ['token arrays', { model: 'sentence-embedding', input: [[1, 2, 3]] }, 400, /input/],
    ['an empty list', { model: 'sentence-embedding', input: [] }, 400, /must not be empty/],
    ['a blank string', { model: 'sentence-embedding', input: ' ' }, 400, /blank/],
    ['an unknown encoding', { model: 'sentence-embedding', input: 'a', encoding_format: 'hex' }, 400, /encoding_format/],
    ['malformed JSON', '{"model": ', 400, /malformed JSON/],
  ];
  for (const [what, body, status, message] of bad) {
    it(`answers ${status} with an OpenAI error body for ${what}`, async () => {
      const request = supertest(embedder().app).post('/v1/embeddings').set('content-type', 'application/json');
      const res = await request.send(typeof body === 'string' ? body : JSON.stringify(body));
      assert.equal(res.status, status);
      schemas.openAiError.parse(res.body);
      assert.match(res.body.error.message, message);
      if (status === 404) assert.equal(res.body.error.param, 'model');
    });
  }

  it('answers 400 with param "model" for a model that does not embed, saying what can (404 "no route" before)', async () => {
    const { app } = createTestApp({ runtimes: [new FakeClassifier()] });
    const res = await supertest(app).post('/v1/embeddings').send({ model: 'question-topic', input: 'a' });
    assert.equal(res.status, 400);
    schemas.openAiError.parse(res.body);
    assert.equal(res.body.error.param, 'model');
    assert.equal(res.body.error.type, 'invalid_request_error');
    assert.match(res.body.error.message, /model 'question-topic' \(text-classifier\) does not produce embeddings: embedding models take text and have one FP32 \[n, d\] output/);
    const get = await supertest(app).get('/v1/embeddings');
    assert.equal(get.status, 405, 'GET /v1/embeddings is a 405 on every model server, as the README says');
    schemas.openAiError.parse(get.body);
  });
});

describe('GET /v1/models', () => {
  it('lists the served model OpenAI-style', async () => {
    const res = await supertest(embedder().app).get('/v1/models');
    assert.equal(res.status, 200);
    schemas.modelListResponse.parse(res.body);
    assert.deepEqual(res.body.data.map((m: { id: string }) => m.id), ['sentence-embedding']);
  });

  it('answers GET /v1/models/<name> for both APIs: TF Serving status and OpenAI model in one body (status only before)', async () => {
    const { app } = embedder();
    const status = await supertest(app).get('/v1/models/sentence-embedding');
    assert.equal(status.status, 200);
    schemas.modelStatusResponse.parse(status.body);
    const listed = (await supertest(app).get('/v1/models')).body.data[0];
    assert.deepEqual(
      { id: status.body.id, object: status.body.object, created: status.body.created, owned_by: status.body.owned_by },
      listed,
      'the same model object as in the list',
    );
    assert.deepEqual(status.body.model_version_status, [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }]);
  });

  it('leaves the rest of /v1/models/<name>... to TF Serving, with plain {error} bodies', async () => {
    const { app } = embedder();
    const missing = await supertest(app).get('/v1/models/other');
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { error: "model 'other' not found" });
  });
});

describe('the embedding model over OIP and TF Serving', () => {
  it('OIP infer answers FP32 [n, 4] equal to the OpenAI route', async () => {
    const { app } = embedder();
    const texts = ['How old are you?', 'What is your age?'];
    const oip = await supertest(app)
      .post('/v2/models/sentence-embedding/infer')
      .send({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], data: texts }] });
    assert.equal(oip.status, 200);
    schemas.inferenceResponse.parse(oip.body);
    assert.deepEqual(oip.body.outputs[0].shape, [2, 4]);
    const openai = await supertest(app).post('/v1/embeddings').send({ model: 'sentence-embedding', input: texts });
    assert.deepEqual(oip.body.outputs[0].data, openai.body.data.flatMap((d: { embedding: number[] }) => d.embedding));
  });

  it('TF Serving :predict answers one vector per instance', async () => {
    const res = await supertest(embedder().app).post('/v1/models/sentence-embedding:predict').send({ instances: ['Hi', 'Yo yo'] });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.predictions, [fakeEmbedding('Hi'), fakeEmbedding('Yo yo')]);
    const classify = await supertest(embedder().app).post('/v1/models/sentence-embedding:classify').send({ examples: [{ text: 'a' }] });
    assert.equal(classify.status, 400);
    assert.match(classify.body.error, /not a classifier/);
  });
});
