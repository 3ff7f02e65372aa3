// Property-based fuzzing of every route of the model server (fixed seed, bounded runs): whatever
// a client sends, the answer is never a 5xx and never a hang, and every 4xx body is exactly
// `{"error": string}` (OpenAI's error object on the two OpenAI-compatible paths).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import supertest from 'supertest';
import { createTestApp, FakeClassifier, FakeEmbedder, FakeNumeric } from './testing.js';

const SEED = 20261125;
const RUNS = 250;

const segment = fc.oneof(
  fc.constantFrom('question-topic', 'sentence-embedding', 'numeric', 'versions', '7', '1', 'ready', 'infer', 'metadata', '%ff', '%', '%E0%A4%A', '..', ''),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
);
const path = fc.oneof(
  fc.constantFrom(
    '/v2',
    '/v2/health/live',
    '/v2/health/ready',
    '/v2/models/question-topic/infer',
    '/v2/models/sentence-embedding/versions/1/infer',
    '/v2/models/numeric/infer',
    '/v1/models/question-topic:predict',
    '/v1/models/question-topic:classify',
    '/v1/models/numeric/versions/1:predict',
    '/v1/models/sentence-embedding:regress',
    '/v1/embeddings',
    '/v1/models',
    '/metrics',
  ),
  fc.tuple(fc.constantFrom('/v2/models/', '/v1/models/', '/models/', '/'), fc.array(segment, { maxLength: 4 }), fc.constantFrom('', ':predict', ':classify', '/infer', '/ready')).map(
    ([prefix, parts, suffix]) => `${prefix}${parts.join('/')}${suffix}`,
  ),
);
const tensor = fc.record(
  {
    name: fc.oneof(fc.constantFrom('text', 'x', 'k', 'embedding'), fc.jsonValue()),
    datatype: fc.oneof(fc.constantFrom('BYTES', 'FP32', 'INT32', 'BOOL', 'FP64'), fc.jsonValue()),
    shape: fc.oneof(fc.array(fc.integer({ min: -2, max: 5 }), { maxLength: 4 }), fc.jsonValue()),
    data: fc.oneof(fc.array(fc.oneof(fc.string({ maxLength: 20 }), fc.double(), fc.integer(), fc.boolean()), { maxLength: 12 }), fc.jsonValue()),
    parameters: fc.jsonValue(),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  fc.jsonValue({ maxDepth: 6 }),
  fc.record({ id: fc.jsonValue(), inputs: fc.array(tensor, { maxLength: 3 }), outputs: fc.array(fc.record({ name: fc.jsonValue() }), { maxLength: 3 }) }, { requiredKeys: ['inputs'] }),
  fc.record({ instances: fc.jsonValue(), inputs: fc.jsonValue(), examples: fc.jsonValue(), context: fc.jsonValue() }, { requiredKeys: [] }),
  fc.record({
    model: fc.oneof(fc.constantFrom('sentence-embedding', 'question-topic'), fc.jsonValue()),
    input: fc.oneof(fc.string({ maxLength: 40 }), fc.array(fc.string({ maxLength: 40 }), { maxLength: 5 }), fc.jsonValue()),
    encoding_format: fc.oneof(fc.constantFrom('float', 'base64'), fc.jsonValue()),
    dimensions: fc.jsonValue(),
  }, { requiredKeys: [] }),
  fc.string({ maxLength: 200 }),
);
/** Nesting of arrays and objects up to 300 levels (the limit is 32), as raw text around a leaf. */
const deep = fc
  .tuple(fc.array(fc.constantFrom('[', '{"k":'), { minLength: 1, maxLength: 300 }), fc.constantFrom('1', '"x"', 'null', '[]', '{}'))
  .map(([opens, leaf]) => `${opens.join('')}${leaf}${opens.map((open) => (open === '[' ? ']' : '}')).reverse().join('')}`);
/** Arrays and objects thousands of members wide (some past the 64 KiB body limit of these apps). */
const wide = fc
  .tuple(fc.integer({ min: 100, max: 20_000 }), fc.constantFrom('0', '1.5e38', '1e999', '"a"', 'null', '[1,2,3]', '{"a":1}'), fc.boolean())
  .map(([count, item, asObject]) =>
    asObject ? `{${Array.from({ length: count }, (_, i) => `"k${i}":${item}`).join(',')}}` : `[${Array(count).fill(item).join(',')}]`,
  );
/** Deep or wide JSON alone, or where each protocol puts client data. */
const heavyBody = fc.tuple(fc.oneof(deep, wide), fc.constantFrom('$', '{"inputs":[{"name":"x","datatype":"FP32","shape":[2,3],"data":$}]}', '{"inputs":[{"name":$,"datatype":"BYTES","shape":[1],"data":["a"]}]}', '{"instances":$}', '{"inputs":{"x":$,"k":[1]}}', '{"model":"sentence-embedding","input":$}', '{"rawtext_list":$}')).map(([value, at]) => at.replace('$', value));

const request = fc.record({ method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'), path, body: fc.oneof({ weight: 3, arbitrary: body }, { weight: 1, arbitrary: heavyBody }) });

const OPENAI_PATHS = new Set(['/v1/embeddings', '/v1/models']);

for (const [name, runtime] of [
  ['a text classifier', () => new FakeClassifier()],
  ['an embedding model', () => new FakeEmbedder()],
  ['a numeric model', () => new FakeNumeric()],
] as const) {
  describe(`fuzzing every route of ${name}`, () => {
    it('never answers 5xx or hangs, and every 4xx body is an error body', async () => {
      const { app } = createTestApp({ runtimes: [runtime()], maxBodyBytes: 64 * 1024 });
      await fc.assert(
        fc.asyncProperty(request, async ({ method, path: url, body: payload }) => {
          const agent = supertest(app);
          const call = method === 'GET' ? agent.get(url) : method === 'POST' ? agent.post(url) : method === 'PUT' ? agent.put(url) : agent.delete(url);
          const res = await call
            .timeout(5000)
            .set('content-type', 'application/json')
            .send(typeof payload === 'string' ? payload : JSON.stringify(payload));
          assert.ok(res.status < 500, `${method} ${url} answered ${res.status}: ${res.text.slice(0, 200)}`);
          if (res.status >= 400) {
            const bare = url.split('?')[0]?.replace(/\/$/, '') ?? '';
            if (OPENAI_PATHS.has(bare)) {
              assert.equal(typeof res.body?.error?.message, 'string', `${method} ${url}: ${res.text.slice(0, 200)}`);
            } else {
              assert.deepEqual(Object.keys(res.body ?? {}), ['error'], `${method} ${url}: ${res.text.slice(0, 200)}`);
              assert.equal(typeof res.body.error, 'string');
            }
          }
        }),
        { seed: SEED, numRuns: RUNS },
      );
    });
  });
}
