import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkDocument, matchPath, responseChecker, type Document } from './index.js';

const document: Document = {
  openapi: '3.1.0',
  paths: {
    '/v1/models/m/versions/{version}:predict': {
      parameters: [{ name: 'version', in: 'path', required: true, schema: { type: 'string', enum: ['1', '2'] } }],
      post: {
        responses: {
          '200': { description: 'ok', content: { 'application/json': { schema: { type: 'object', properties: { predictions: { type: 'array' } }, required: ['predictions'] } } } },
          '400': { $ref: '#/components/responses/Error400' },
        },
      },
    },
    '/models/m/v1/models/m/versions/{version}:predict': { $ref: '#/paths/~1v1~1models~1m~1versions~1%7Bversion%7D%3Apredict' },
  },
  components: {
    responses: {
      Error400: { description: 'bad', content: { 'application/json': { schema: { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] } } } },
    },
  },
};

describe('OpenAPI checks', () => {
  it('accepts a valid 3.1 document and refuses one without its required fields', async () => {
    await checkDocument({ ...document, info: { title: 't', version: '1' } });
    await assert.rejects(checkDocument({ ...document }), /not a valid OpenAPI/);
  });

  it('matches a concrete path to its template, inside a segment, only for enum values, through a path item reference', () => {
    assert.equal(matchPath(document, '/v1/models/m/versions/2:predict')?.template, '/v1/models/m/versions/{version}:predict');
    assert.deepEqual(matchPath(document, '/v1/models/m/versions/2:predict')?.parameters, { version: '2' });
    assert.equal(matchPath(document, '/v1/models/m/versions/3:predict'), undefined);
    assert.equal(matchPath(document, '/models/m/v1/models/m/versions/1:predict')?.template, '/models/m/v1/models/m/versions/{version}:predict');
  });

  it('checks an answer against the schema of its status, following response references', () => {
    const checker = responseChecker(document);
    assert.deepEqual(checker.check('POST', '/v1/models/m/versions/1:predict', 200, { predictions: [] }), []);
    assert.equal(checker.check('POST', '/v1/models/m/versions/1:predict', 200, { outputs: [] }).length, 1);
    assert.deepEqual(checker.check('POST', '/models/m/v1/models/m/versions/1:predict', 400, { error: 'x' }), []);
    assert.match(checker.check('POST', '/v1/models/m/versions/1:predict', 404, {})[0] ?? '', /does not document status 404/);
    assert.match(checker.check('GET', '/v1/models/m/versions/1:predict', 200, {})[0] ?? '', /GET .* is not in the document/);
    assert.match(checker.check('GET', '/nowhere', 200, {})[0] ?? '', /not in the document/);
  });
});
