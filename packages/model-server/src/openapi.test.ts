import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkDocument, deref, responseChecker, type Document } from '@modeldock/api-testing';
import supertest from 'supertest';
import { createTestApp, FAKE_LABELS, FakeClassifier, FakeEmbedder, FakeNumeric, type TestAppOptions } from './testing.js';

interface OperationDoc {
  parameters?: { name: string; schema: { enum?: string[] } }[];
  requestBody?: { content: { 'application/json': { schema: Record<string, unknown>; example?: unknown } } };
  responses: Record<string, { content?: { 'application/json'?: { schema: Record<string, unknown>; example?: unknown } } } | { $ref: string }>;
}

const SERVERS: Record<string, () => TestAppOptions> = {
  'a classifier with two versions and labels': () => ({
    runtimes: [new FakeClassifier('1'), new FakeClassifier('2', 1)],
    defaultVersion: '1',
    versionLabels: { stable: '1', canary: '2' },
  }),
  'an embedding model': () => ({ runtimes: [new FakeEmbedder()] }),
  'a numeric model with two inputs and two outputs': () => ({ runtimes: [new FakeNumeric()] }),
};

async function documentOf(options: TestAppOptions): Promise<{ app: ReturnType<typeof createTestApp>['app']; document: Document }> {
  const { app } = createTestApp(options);
  const res = await supertest(app).get('/openapi.json');
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'] ?? '', /application\/json/);
  return { app, document: res.body as Document };
}

/** Every operation of the document with a concrete path: each path parameter takes every value of its enum. */
function operations(document: Document): { method: string; path: string; operation: OperationDoc }[] {
  const found: { method: string; path: string; operation: OperationDoc }[] = [];
  for (const [template, raw] of Object.entries(document.paths)) {
    const item = deref(document, raw) as Record<string, unknown> & { parameters?: OperationDoc['parameters'] };
    let paths = [template];
    for (const parameter of item.parameters ?? []) {
      paths = paths.flatMap((path) => (parameter.schema.enum ?? []).map((value) => path.replace(`{${parameter.name}}`, value)));
    }
    for (const method of ['get', 'post']) {
      const operation = item[method] as OperationDoc | undefined;
      if (operation !== undefined) for (const path of paths) found.push({ method, path, operation });
    }
  }
  return found;
}

describe('GET /openapi.json', () => {
  for (const [what, options] of Object.entries(SERVERS)) {
    it(`is a valid OpenAPI 3.1 document for ${what}`, async () => {
      const { document } = await documentOf(options());
      await checkDocument(document);
      assert.equal(document.openapi, '3.1.0');
    });

    it(`documents answers that ${what} really gives: every example request, sent, answers as its response schema says`, async () => {
      const { app, document } = await documentOf(options());
      const checker = responseChecker(document);
      let checked = 0;
      for (const { method, path, operation } of operations(document)) {
        if (path === '/metrics') continue;
        const body = operation.requestBody?.content['application/json'].example;
        const res = method === 'get' ? await supertest(app).get(path) : await supertest(app).post(path).send(body as object);
        // The documented success, or for a route that only refuses (`:regress`) its first documented status.
        const expected = Number(Object.keys(operation.responses).find((status) => status.startsWith('2')) ?? Object.keys(operation.responses)[0]);
        assert.equal(res.status, expected, `${method.toUpperCase()} ${path}: ${res.text.slice(0, 300)}`);
        assert.deepEqual(checker.check(method, path, res.status, res.body), [], `${method.toUpperCase()} ${path}`);
        checked += 1;
      }
      assert.ok(checked >= 10, `checked ${checked} operations`);
    });
  }

  it('shows the model’s real answer to the example request once the model is warm, and no answer before', async () => {
    const runtime = new FakeClassifier('1');
    runtime.loaded = false;
    const { app } = createTestApp({ runtimes: [runtime] });
    const infer = '/v2/models/question-topic/infer';
    const cold = (await supertest(app).get('/openapi.json')).body as Document;
    const coldOperation = cold.paths[infer]?.post as OperationDoc;
    assert.equal((coldOperation.responses['200'] as { content: { 'application/json': { example?: unknown } } }).content['application/json'].example, undefined);

    runtime.loaded = true;
    const warm = (await supertest(app).get('/openapi.json')).body as Document;
    const operation = warm.paths[infer]?.post as OperationDoc;
    const documented = (operation.responses['200'] as { content: { 'application/json': { example?: unknown } } }).content['application/json'].example;
    const real = await supertest(app).post(infer).send(operation.requestBody?.content['application/json'].example as object);
    assert.deepEqual(documented, real.body);
    assert.equal(runtime.calls.length, 2, 'the example ran once, then the request');
    await supertest(app).get('/openapi.json');
    assert.equal(runtime.calls.length, 2, 'the document is kept once it has its example');
  });

  it('describes the signature: input and output names, datatypes, shapes, labels, versions and version labels', async () => {
    const { document } = await documentOf(SERVERS['a classifier with two versions and labels']?.() ?? {});
    const versioned = deref(document, document.paths['/v2/models/question-topic/versions/{version}/infer'] ?? {}) as { parameters: OperationDoc['parameters']; post: OperationDoc };
    assert.deepEqual(versioned.parameters?.[0]?.schema.enum, ['1', '2']);
    const labelled = deref(document, document.paths['/v1/models/question-topic/labels/{label}:classify'] ?? {}) as { parameters: OperationDoc['parameters'] };
    assert.deepEqual(labelled.parameters?.[0]?.schema.enum, ['stable', 'canary']);
    const request = JSON.stringify(versioned.post.requestBody?.content['application/json'].schema);
    assert.match(request, /"name":\{"type":"string","const":"text"\}/);
    assert.match(request, /"datatype":\{"type":"string","const":"BYTES"\}/);
    const response = JSON.stringify((versioned.post.responses['200'] as { content: { 'application/json': { schema: unknown } } }).content['application/json'].schema);
    assert.match(response, /"const":"probabilities"/);
    assert.match(response, /"prefixItems":\[\{"type":"integer","minimum":1,"maximum":8\},\{"type":"number","const":6\}\]/, 'probabilities are [rows, 6]');
    assert.ok(response.includes(JSON.stringify(FAKE_LABELS)), 'the label output and parameters name the classes');
    assert.deepEqual((document as unknown as Record<string, unknown>)['x-modeldock-model'], {
      name: 'question-topic',
      kind: 'text-classifier',
      versions: ['1', '2'],
      defaultVersion: '1',
      versionLabels: { stable: '1', canary: '2' },
      labels: [...FAKE_LABELS],
    });
  });

  it('gives versions whose signatures differ paths of their own, each described with its signature', async () => {
    const { document } = await documentOf({ runtimes: [new FakeClassifier('1'), new FakeEmbedder('2', 'question-topic')], defaultVersion: '1' });
    await checkDocument(document);
    assert.equal(document.paths['/v2/models/question-topic/versions/{version}/infer'], undefined);
    const second = JSON.stringify(document.paths['/v2/models/question-topic/versions/2/infer']);
    assert.match(second, /"const":"embedding"/);
    assert.doesNotMatch(second, /probabilities/);
    assert.match(JSON.stringify(document.paths['/v2/models/question-topic/versions/1/infer']), /"const":"probabilities"/);
  });

  it('describes a numeric model’s rows with every input by name and TF Serving’s :classify as a refusal', async () => {
    const { document } = await documentOf(SERVERS['a numeric model with two inputs and two outputs']?.() ?? {});
    const predict = document.paths['/v1/models/numeric:predict']?.post as OperationDoc;
    assert.deepEqual(predict.requestBody?.content['application/json'].example, {
      instances: [
        { x: [0, 0, 0], k: 0 },
        { x: [0, 0, 0], k: 0 },
      ],
    });
    assert.deepEqual(Object.keys((document.paths['/v1/models/numeric:classify']?.post as OperationDoc).responses), ['400', '404']);
  });
});
