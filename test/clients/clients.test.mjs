// The OpenAI embeddings API as the clients people use call it, each with its default settings (only the
// base URL, a placeholder key and the model name are given), through the gateway of a real `pnpm start`
// stack (gateway + sentence-embedding on the wasm backend) started on free ports for this test.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { OpenAIEmbeddings } from '@langchain/openai';
import { startStack } from '@modeldock/scripts/stack';
import { embed, embedMany } from 'ai';
import OpenAI from 'openai';

const MODEL = 'sentence-embedding';
const DIMENSION = 512;
const API_KEY = 'unused';

/** Distinct English questions (the TREC training set), as many as asked for. */
function questions(count) {
  const lines = readFileSync(new URL('../../data/trec/train_5500.label', import.meta.url), 'latin1').split('\n');
  const texts = [...new Set(lines.map((line) => line.slice(line.indexOf(' ') + 1).trim()).filter((t) => t !== ''))];
  assert.ok(texts.length >= count, `only ${texts.length} questions`);
  return texts.slice(0, count);
}

const dot = (a, b) => a.reduce((sum, x, i) => sum + x * b[i], 0);

/** Every vector is a unit-length embedding of the model's dimension. */
function assertEmbeddings(vectors, count) {
  assert.equal(vectors.length, count);
  for (const v of vectors) {
    assert.equal(v.length, DIMENSION);
    assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-3, `norm ${Math.hypot(...v)}`);
  }
}

function assertClose(actual, expected, what) {
  assert.equal(actual.length, expected.length, what);
  const worst = Math.max(...actual.map((x, i) => Math.abs(x - expected[i])));
  assert.ok(worst < 1e-4, `${what}: differs by ${worst}`);
}

describe('real clients with their default settings, through the gateway', () => {
  let stack;
  let baseURL;
  /** The embedding of `questions(1)[0]` as the openai client gets it, the reference for the others. */
  let reference;

  before(async () => {
    stack = await startStack({ only: [MODEL] });
    baseURL = `${stack.gateway}/v1`;
    const client = new OpenAI({ baseURL, apiKey: API_KEY });
    reference = (await client.embeddings.create({ model: MODEL, input: questions(1)[0] })).data[0].embedding;
  });

  after(() => stack?.stop());

  describe('openai', () => {
    it('embeddings.create: one vector per input, in order, paraphrases closer than other questions', async () => {
      const client = new OpenAI({ baseURL, apiKey: API_KEY });
      const res = await client.embeddings.create({ model: MODEL, input: ['How old are you?', 'What is your age?', 'Where is Rome?'] });
      assert.equal(res.object, 'list');
      assert.equal(res.model, MODEL);
      assert.deepEqual(res.data.map((d) => d.index), [0, 1, 2]);
      const [age, age2, rome] = res.data.map((d) => d.embedding);
      assertEmbeddings([age, age2, rome], 3);
      assert.ok(dot(age, age2) > dot(age, rome) + 0.2, `paraphrase ${dot(age, age2)} vs other ${dot(age, rome)}`);
      assert.ok(res.usage.prompt_tokens > 0);
    });

    it('embeddings.create with 2,048 inputs (what OpenAI accepts)', async () => {
      const client = new OpenAI({ baseURL, apiKey: API_KEY });
      const input = questions(2048);
      const res = await client.embeddings.create({ model: MODEL, input });
      assertEmbeddings(res.data.map((d) => d.embedding), input.length);
      assert.deepEqual(res.data.map((d) => d.index), input.map((_, i) => i));
      assertClose(res.data[0].embedding, reference, 'the first row against the same text alone');
    });

    it('models.retrieve answers the model as OpenAI describes one', async () => {
      const client = new OpenAI({ baseURL, apiKey: API_KEY });
      const model = await client.models.retrieve(MODEL);
      assert.equal(model.id, MODEL);
      assert.equal(model.object, 'model');
      assert.equal(typeof model.created, 'number');
      assert.equal(typeof model.owned_by, 'string');
    });
  });

  describe('LangChain (@langchain/openai OpenAIEmbeddings)', () => {
    const embeddings = () => new OpenAIEmbeddings({ model: MODEL, apiKey: API_KEY, configuration: { baseURL } });

    it('embedQuery answers the same vector as the openai client', async () => {
      const vector = await embeddings().embedQuery(questions(1)[0]);
      assertEmbeddings([vector], 1);
      assertClose(vector, reference, 'embedQuery');
    });

    it('embedDocuments of a few documents', async () => {
      const docs = questions(5);
      const vectors = await embeddings().embedDocuments(docs);
      assertEmbeddings(vectors, docs.length);
      assertClose(vectors[0], reference, 'the first document');
    });

    it('embedDocuments of 1,000 documents (batches of 512)', async () => {
      const docs = questions(1000);
      const vectors = await embeddings().embedDocuments(docs);
      assertEmbeddings(vectors, docs.length);
      assertClose(vectors[0], reference, 'the first document');
    });
  });

  describe('Vercel AI SDK (ai + @ai-sdk/openai-compatible)', () => {
    const model = () => createOpenAICompatible({ name: 'modeldock', baseURL, apiKey: API_KEY }).embeddingModel(MODEL);

    it('embed answers the same vector as the openai client', async () => {
      const { embedding } = await embed({ model: model(), value: questions(1)[0] });
      assertEmbeddings([embedding], 1);
      assertClose(embedding, reference, 'embed');
    });

    it('embedMany of a few values', async () => {
      const values = questions(5);
      const { embeddings } = await embedMany({ model: model(), values });
      assertEmbeddings(embeddings, values.length);
      assertClose(embeddings[0], reference, 'the first value');
    });

    it('embedMany of 2,048 values (one call: maxEmbeddingsPerCall 2,048)', async () => {
      const values = questions(2048);
      const { embeddings } = await embedMany({ model: model(), values });
      assertEmbeddings(embeddings, values.length);
      assertClose(embeddings[0], reference, 'the first value');
    });
  });
});
