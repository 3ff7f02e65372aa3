import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseModels } from './models-file.js';

const DEFAULTS = { timeoutMs: 30_000, attemptTimeoutMs: 15_000, maxTimeoutMs: 120_000 };
const parse = (models: unknown) => parseModels(JSON.stringify(models), 'GATEWAY_MODELS_FILE', DEFAULTS);
/** The example: v1 and v2 of question-topic, 90/10, every request copied to v2. */
const ROLLOUT = {
  'question-topic': {
    backends: [
      { name: 'v1', upstream: 'http://question-topic:8501', weight: 90 },
      { name: 'v2', upstream: 'http://question-topic-v2:8501', weight: 10 },
    ],
    shadow: { backend: 'v2', percent: 100 },
    aliases: [{ method: 'POST', path: '/predict_topic' }],
  },
};

function refused(models: unknown, message: RegExp): void {
  assert.throws(() => parse(models), (err: Error) => {
    assert.match(err.message, /^invalid configuration: /);
    assert.match(err.message, message);
    return true;
  });
}

/** question-topic with these backends (and shadow). */
function topic(backends: unknown, shadow?: unknown): unknown {
  return { 'question-topic': { backends, ...(shadow === undefined ? {} : { shadow }) } };
}

describe('parseModels', () => {
  it('reads the single-upstream form as one backend named default, with weight 1', () => {
    const [model] = parse({ m: { upstream: 'http://m:1,http://m2:1' } });
    assert.deepEqual(
      model?.backends.map((b) => [b.name, b.weight, b.upstreams.map((u) => u.url)]),
      [['default', 1, ['http://m:1', 'http://m2:1']]],
    );
    assert.equal(model?.shadow, undefined);
  });

  it('reads backends with their weights and the shadow', () => {
    const [model] = parse(ROLLOUT);
    assert.deepEqual(
      model?.backends.map((b) => [b.name, b.weight, b.upstreams.map((u) => u.url)]),
      [
        ['v1', 90, ['http://question-topic:8501']],
        ['v2', 10, ['http://question-topic-v2:8501']],
      ],
    );
    assert.deepEqual(model?.shadow, { backend: 'v2', percent: 100 });
    assert.deepEqual(model?.aliases, [{ method: 'POST', path: '/predict_topic' }]);
  });

  it('takes 0/100 and a shadow on the backend at 0 (the last step of a rollout, watched from the old version)', () => {
    const [model] = parse(topic([{ name: 'v1', upstream: 'http://a:1', weight: 0 }, { name: 'v2', upstream: 'http://b:1', weight: 100 }], { backend: 'v1', percent: 5 }));
    assert.deepEqual(model?.shadow, { backend: 'v1', percent: 5 });
  });

  it('refuses negative weights, naming the backend', () => {
    refused(topic([{ name: 'v1', upstream: 'http://a:1', weight: -1 }, { name: 'v2', upstream: 'http://b:1', weight: 10 }]), /GATEWAY_MODELS_FILE\.question-topic\.backends\.0\.weight: must not be negative/);
  });

  it('refuses weights that are all 0: nothing could be served', () => {
    refused(topic([{ name: 'v1', upstream: 'http://a:1', weight: 0 }, { name: 'v2', upstream: 'http://b:1', weight: 0 }]), /question-topic\.backends: every weight is 0/);
  });

  it('refuses a missing weight or a weight that is not a number', () => {
    refused(topic([{ name: 'v1', upstream: 'http://a:1' }]), /backends\.0\.weight: required/);
    refused(topic([{ name: 'v1', upstream: 'http://a:1', weight: '90' }]), /backends\.0\.weight: must be a number/);
  });

  it('refuses a backend name used twice', () => {
    refused(topic([{ name: 'v1', upstream: 'http://a:1', weight: 1 }, { name: 'v1', upstream: 'http://b:1', weight: 1 }]), /backends\.1\.name: 'v1' names another backend already/);
  });

  it('refuses two backends over the same upstream: their split would change nothing', () => {
    refused(topic([{ name: 'v1', upstream: 'http://a:1', weight: 1 }, { name: 'v2', upstream: 'http://a:1/', weight: 1 }]), /backends\.1\.upstream: http:\/\/a:1 is backend 'v1' already/);
  });

  it('refuses a backend without upstream, and names that are not plain', () => {
    refused(topic([{ name: 'v1', weight: 1 }]), /backends\.0\.upstream: required: where its replicas are/);
    refused(topic([{ name: 'v 1', upstream: 'http://a:1', weight: 1 }]), /backends\.0\.name: letters, digits/);
    refused(topic([{ upstream: 'http://a:1', weight: 1 }]), /backends\.0\.name: required/);
    refused(topic([]), /backends: list at least one backend/);
  });

  it('refuses a shadow naming an unknown backend, or one that serves every request already', () => {
    const backends = [{ name: 'v1', upstream: 'http://a:1', weight: 90 }, { name: 'v2', upstream: 'http://b:1', weight: 10 }];
    refused(topic(backends, { backend: 'v3', percent: 10 }), /question-topic\.shadow\.backend: 'v3' is not one of the backends \(v1, v2\)/);
    refused(topic([{ name: 'v1', upstream: 'http://a:1', weight: 0 }, { name: 'v2', upstream: 'http://b:1', weight: 1 }], { backend: 'v2', percent: 10 }), /shadow\.backend: 'v2' serves every request already/);
    refused(topic(backends, { backend: 'v2', percent: 101 }), /shadow\.percent: must be 0 to 100/);
    refused(topic(backends, { backend: 'v2' }), /shadow\.percent: required/);
    refused({ m: { upstream: 'http://a:1', shadow: { backend: 'default', percent: 10 } } }, /m\.shadow: a shadow needs `backends`/);
  });

  it('refuses both upstream and backends, or neither', () => {
    refused({ m: { upstream: 'http://a:1', backends: [{ name: 'v1', upstream: 'http://b:1', weight: 1 }] } }, /m\.backends: set `upstream` \(one backend\) or `backends`, not both/);
    refused({ m: { aliases: [] } }, /m: needs `upstream`/);
  });

  it('refuses an alias of two models whichever form they use', () => {
    const alias = [{ method: 'POST', path: '/predict_topic' }];
    refused({ ...ROLLOUT, other: { upstream: 'http://o:1', aliases: alias } }, /other\.aliases\.0: POST \/predict_topic is already an alias of 'question-topic'/);
  });

  it('names every problem at once', () => {
    assert.throws(
      () => parse(topic([{ name: 'v1', upstream: 'http://a:1', weight: -5 }, { name: 'v1', weight: 2 }], { backend: 'v9', percent: 1 })),
      /weight: must not be negative.*names another backend.*upstream: required.*'v9' is not one of/,
    );
  });
});
