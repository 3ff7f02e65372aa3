import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkRequestTarget } from '@modeldock/service-kit';
import { createRouter, parseModelRoute } from './paths.js';

const router = createRouter([
  { name: 'question-topic', aliases: [{ method: 'POST', path: '/predict_topic' }] },
  { name: 'm', aliases: [] },
]);
// As the route stage does: the target is checked first.
const route = (url: string, method = 'GET') => {
  checkRequestTarget(url);
  return parseModelRoute(method, url, router);
};
const target = (url: string, method = 'GET') => {
  const found = route(url, method);
  return found === undefined ? undefined : { model: found.model, path: found.path };
};

describe('parseModelRoute', () => {
  it('strips the /models/<model> prefix from a model path of the same model', () => {
    assert.deepEqual(target('/models/question-topic/v2/models/question-topic/infer', 'POST'), {
      model: 'question-topic',
      path: '/v2/models/question-topic/infer',
    });
    assert.deepEqual(target('/models/question-topic/predict_topic', 'POST'), { model: 'question-topic', path: '/predict_topic' });
    assert.deepEqual(target('/models/m/v2/health/ready'), { model: 'm', path: '/v2/health/ready' });
    assert.deepEqual(target('/models/m/v1/models/m:predict', 'POST'), { model: 'm', path: '/v1/models/m:predict' });
  });

  it('keeps the query string', () => {
    assert.deepEqual(target('/models/m/v2/health/ready?verbose=1'), { model: 'm', path: '/v2/health/ready?verbose=1' });
    assert.deepEqual(target('/v2/models/m?x=1'), { model: 'm', path: '/v2/models/m?x=1' });
  });

  it('passes OIP paths through unchanged', () => {
    assert.deepEqual(target('/v2/models/m/versions/2/infer', 'POST'), { model: 'm', path: '/v2/models/m/versions/2/infer' });
    assert.deepEqual(target('/v2/models/m'), { model: 'm', path: '/v2/models/m' });
    assert.deepEqual(target('/v2/models/m/versions/2/ready'), { model: 'm', path: '/v2/models/m/versions/2/ready' });
    assert.equal(route('/v2/models/m/versions/2/infer')?.template, '/v2/models/:model/versions/:version/infer');
  });

  it('passes TF Serving paths through unchanged, matching them case-insensitively', () => {
    assert.deepEqual(target('/v1/models/m:predict'), { model: 'm', path: '/v1/models/m:predict' });
    assert.deepEqual(target('/v1/models/m/versions/3:predict'), { model: 'm', path: '/v1/models/m/versions/3:predict' });
    assert.deepEqual(target('/V1/Models/m/labels/stable:classify'), { model: 'm', path: '/V1/Models/m/labels/stable:classify' });
    assert.deepEqual(target('/v1/models/m/metadata'), { model: 'm', path: '/v1/models/m/metadata' });
    assert.deepEqual(target('/v1/models/m/versions/3/metadata'), { model: 'm', path: '/v1/models/m/versions/3/metadata' });
    assert.equal(route('/V1/models/m/labels/x:REGRESS')?.template, '/v1/models/:model/labels/:label:regress');
  });

  it('keeps the model name exactly as written, after percent-decoding', () => {
    assert.equal(route('/v1/models/Question-Topic:predict')?.model, 'Question-Topic');
    assert.equal(route('/v2/models/question%2Dtopic/infer')?.model, 'question-topic');
  });

  it('routes a configured alias, for its method only', () => {
    assert.deepEqual(target('/predict_topic', 'POST'), { model: 'question-topic', path: '/predict_topic' });
    assert.deepEqual(target('/predict_topic?x=1', 'POST'), { model: 'question-topic', path: '/predict_topic?x=1' });
    assert.equal(route('/predict_topic', 'GET'), undefined);
    assert.equal(route('/models/m/predict_topic', 'POST'), undefined, "an alias of another model is not m's");
  });

  it("answers an unknown model under /models/ as that model's route, so the caller can say it does not exist", () => {
    assert.equal(route('/models/nope/anything')?.model, 'nope');
  });

  it('rejects malformed percent-encoding with a 400', () => {
    for (const url of ['/models/%ff/x', '/v2/models/%ff', '/v1/models/%E0%A4%A:predict', '/nowhere/%', '/predict_topic%zz']) {
      assert.throws(() => route(url, 'POST'), { status: 400, message: 'malformed percent-encoding in the request path' }, url);
    }
  });

  it('refuses with a 400 what a hop behind the gateway could read as another path', () => {
    const cases: [string, string][] = [
      ['/v2/models/m/versions/1\\..\\..\\metrics', 'a backslash in the request path'],
      ['/v2/models/m\\infer', 'a backslash in the request path'],
      ['/models/m/v2/models/m/versions/../../../metrics', 'a dot segment in the request path'],
      ['/v2/models/m/versions/%2e%2e/infer', 'a dot segment in the request path'],
      ['/v2/models/m/versions/.%2E/infer', 'a dot segment in the request path'],
      ['/v2/models/./infer', 'a dot segment in the request path'],
      ['/v2/models/m/..', 'a dot segment in the request path'],
      ['/v2/models/m%2finfer', "an encoded '/' or '\\' in the request path"],
      ['/v2/models/m%5Cinfer', "an encoded '/' or '\\' in the request path"],
      ['/v2/models//m/infer', 'an empty segment in the request path'],
      ['/predict_topic#frag', 'a fragment (#) in the request target'],
      ['/v2/models/m/infer?x=1#frag', 'a fragment (#) in the request target'],
    ];
    for (const [url, message] of cases) {
      assert.throws(() => route(url, 'POST'), { status: 400, message }, url);
    }
  });

  it('leaves dots inside a segment and anything in the query alone', () => {
    assert.equal(route('/v2/models/m.v2/infer', 'POST')?.model, 'm.v2');
    assert.equal(route('/v2/models/m/infer?p=..%2f\\', 'POST')?.path, '/v2/models/m/infer?p=..%2f\\');
  });

  it("exposes no other path of a model service, such as its /metrics", () => {
    for (const [method, url] of [
      ['GET', '/models/m/metrics'],
      ['GET', '/models/m/'],
      ['GET', '/models/m'],
      ['GET', '/models/m/v2/models/question-topic'],
      ['POST', '/models/m/v2/health/ready'],
      ['GET', '/v2/models/m/metrics'],
      ['GET', '/v2/models/m/infer/x'],
      ['GET', '/v1/models/m/versions/x:predict'],
      ['GET', '/v1/models/m:explain'],
      ['GET', '/'],
      ['GET', '/metrics'],
      ['GET', '/v2/models/'],
      ['GET', '/v1/models/:predict'],
      ['GET', '/v2/health/ready'],
      ['POST', '/predict_topic/x'],
    ] as const) {
      assert.equal(route(url, method), undefined, `${method} ${url}`);
    }
  });
});
