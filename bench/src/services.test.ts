import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { healthyReplicas, questionTopicModels } from './services.js';

describe('healthyReplicas', () => {
  const body = JSON.stringify({ models: [{ name: 'a', ready: true, readyReplicas: 2 }, { name: 'b', ready: false, readyReplicas: 0 }] });

  it("reads one model's ready replicas from the gateway's /models listing", () => {
    assert.equal(healthyReplicas(body, 'a'), 2);
    assert.equal(healthyReplicas(body, 'b'), 0);
  });

  it('counts 0 for a model it does not list, or a body that is not the listing', () => {
    assert.equal(healthyReplicas(body, 'c'), 0);
    assert.equal(healthyReplicas('<html>', 'a'), 0);
    assert.equal(healthyReplicas('{}', 'a'), 0);
  });
});

describe('questionTopicModels', () => {
  it('routes the seed route to question-topic over every replica', () => {
    assert.deepEqual(questionTopicModels(['http://127.0.0.1:1', 'http://127.0.0.1:2']), {
      'question-topic': { upstreams: ['http://127.0.0.1:1', 'http://127.0.0.1:2'], aliases: [{ method: 'POST', path: '/predict_topic' }] },
    });
  });
});
