import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseModelRoute } from './route.js';

const route = (url: string) => parseModelRoute(url, 'question-topic');

describe('parseModelRoute', () => {
  it('strips the /models/<model> prefix', () => {
    assert.deepEqual(route('/models/question-topic/v2/models/question-topic/infer'), {
      model: 'question-topic',
      path: '/v2/models/question-topic/infer',
    });
    assert.deepEqual(route('/models/question-topic/predict_topic'), { model: 'question-topic', path: '/predict_topic' });
    assert.deepEqual(route('/models/question-topic'), { model: 'question-topic', path: '/' });
  });

  it('keeps the query string', () => {
    assert.deepEqual(route('/models/m/v2/health/ready?verbose=1'), { model: 'm', path: '/v2/health/ready?verbose=1' });
    assert.deepEqual(route('/v2/models/m?x=1'), { model: 'm', path: '/v2/models/m?x=1' });
  });

  it('passes OIP paths through unchanged', () => {
    assert.deepEqual(route('/v2/models/m/versions/2/infer'), { model: 'm', path: '/v2/models/m/versions/2/infer' });
    assert.deepEqual(route('/v2/models/m'), { model: 'm', path: '/v2/models/m' });
  });

  it('passes TF Serving paths through unchanged, matching them case-insensitively', () => {
    assert.deepEqual(route('/v1/models/m:predict'), { model: 'm', path: '/v1/models/m:predict' });
    assert.deepEqual(route('/v1/models/m/versions/3:predict'), { model: 'm', path: '/v1/models/m/versions/3:predict' });
    assert.deepEqual(route('/V1/Models/m/labels/stable:classify'), { model: 'm', path: '/V1/Models/m/labels/stable:classify' });
    assert.deepEqual(route('/v1/models/m/metadata'), { model: 'm', path: '/v1/models/m/metadata' });
  });

  it('keeps the model name exactly as written', () => {
    assert.equal(route('/v1/models/Question-Topic:predict')?.model, 'Question-Topic');
  });

  it('sends the seed route to the default model', () => {
    assert.deepEqual(route('/predict_topic'), { model: 'question-topic', path: '/predict_topic' });
  });

  it('matches nothing else', () => {
    for (const url of ['/', '/models', '/models/', '/v2/models/', '/v1/models/:predict', '/v2/health/ready', '/predict_topic/x']) {
      assert.equal(route(url), undefined, url);
    }
  });
});
