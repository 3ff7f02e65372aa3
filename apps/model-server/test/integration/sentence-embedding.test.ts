// The generic model server serving models/sentence-embedding as a real process over real sockets,
// driven by the official OpenAI client (v6) and by OIP.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { startServerProcess, type ServerProcess } from '@modeldock/model-server/testing';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const MODEL_DIR = fileURLToPath(new URL('../../../../models/sentence-embedding', import.meta.url));

const cosine = (a: number[], b: number[]) => {
  const dot = a.reduce((sum, value, i) => sum + value * (b[i] as number), 0);
  return dot / (Math.hypot(...a) * Math.hypot(...b));
};

describe('sentence-embedding served by the generic model server (real model, wasm)', () => {
  let server: ServerProcess;
  let base: string;
  let client: OpenAI;

  before(async () => {
    server = startServerProcess(MAIN, { MODEL_DIR, MODEL_PORT: '0', MODEL_HOST: '127.0.0.1', MODEL_BACKEND: 'wasm' });
    ({ base } = await server.ready);
    client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
  });

  after(() => server?.kill());

  it('loads only what the kind needs and reports it ready', () => {
    const ready = server.logs.find((line) => line.msg === 'model loaded and warm: ready');
    assert.equal(ready?.kind, 'sentence-embedding');
  });

  it('answers the official client with its default (base64) encoding: 512-d vectors ranking a paraphrase first', async () => {
    const res = await client.embeddings.create({
      model: 'sentence-embedding',
      input: ['How old are you?', 'What is your age?', 'Where can I buy a bicycle?'],
    });
    assert.equal(res.data.length, 3);
    const [question, paraphrase, unrelated] = res.data.map((item) => item.embedding);
    for (const vector of [question, paraphrase, unrelated]) assert.equal(vector?.length, 512);
    assert.ok(question && paraphrase && unrelated);
    assert.ok(cosine(question, paraphrase) > cosine(question, unrelated), 'paraphrase ranks above the unrelated question');
    assert.ok(res.usage.prompt_tokens > 0);
  });

  it('answers float encoding with the same vectors, and OIP infer with FP32 [n, 512] equal to them', async () => {
    const texts = ['Who wrote Hamlet?', 'Where is the Eiffel Tower?'];
    const [floats, base64] = await Promise.all([
      client.embeddings.create({ model: 'sentence-embedding', input: texts, encoding_format: 'float' }),
      client.embeddings.create({ model: 'sentence-embedding', input: texts }),
    ]);
    const oip = (await (
      await fetch(`${base}/v2/models/sentence-embedding/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], data: texts }] }),
      })
    ).json()) as { outputs: { name: string; datatype: string; shape: number[]; data: number[] }[] };
    const [embedding] = oip.outputs;
    assert.deepEqual([embedding?.name, embedding?.datatype, embedding?.shape], ['embedding', 'FP32', [2, 512]]);
    floats.data.forEach((item, row) => {
      item.embedding.forEach((value, j) => {
        assert.ok(Math.abs(value - (embedding?.data[row * 512 + j] ?? NaN)) < 1e-6);
        assert.ok(Math.abs(value - (base64.data[row]?.embedding[j] ?? NaN)) < 1e-6);
      });
    });
  });

  it('gives a text the same vector alone and inside a batch (within 1e-4)', async () => {
    const texts = ['A question about the weather in Peru?', 'Hi', 'What is the capital of Australia?'];
    const batch = await client.embeddings.create({ model: 'sentence-embedding', input: texts, encoding_format: 'float' });
    for (const [i, text] of texts.entries()) {
      const alone = await client.embeddings.create({ model: 'sentence-embedding', input: text, encoding_format: 'float' });
      alone.data[0]?.embedding.forEach((value, j) => assert.ok(Math.abs(value - (batch.data[i]?.embedding[j] ?? NaN)) < 1e-4));
    }
  });

  it('lists the model, refuses other dimensions, and maps errors to the client’s exceptions', async () => {
    const models = await client.models.list();
    assert.deepEqual(models.data.map((model) => model.id), ['sentence-embedding']);
    // GET /v1/models/<id> is TF Serving's status route too; the answer carries both APIs' fields.
    const model = await client.models.retrieve('sentence-embedding');
    assert.deepEqual([model.id, model.object, model.owned_by, model.created], ['sentence-embedding', 'model', 'modeldock', models.data[0]?.created]);
    await assert.rejects(
      client.embeddings.create({ model: 'sentence-embedding', input: 'a', dimensions: 256 }),
      (error: unknown) => error instanceof OpenAI.BadRequestError && /512 dimensions/.test(error.message),
    );
    await assert.rejects(
      client.embeddings.create({ model: 'text-embedding-3-small', input: 'a' }),
      (error: unknown) => error instanceof OpenAI.NotFoundError,
    );
    await assert.rejects(
      client.embeddings.create({ model: 'sentence-embedding', input: '\uFDFA'.repeat(200) }),
      (error: unknown) => error instanceof OpenAI.BadRequestError && /after Unicode normalisation/.test(error.message),
    );
  });
});
