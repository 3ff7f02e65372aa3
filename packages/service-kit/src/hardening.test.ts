import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express from 'express';
import supertest from 'supertest';
import { errorHandler } from './error-handler.js';
import { toHttpError } from './errors.js';
import { jsonDepthExceeds, limitJsonDepth } from './json-depth.js';
import { createLogSampler } from './logger.js';

describe('jsonDepthExceeds', () => {
  it('measures nesting without recursion, even 100,000 levels deep', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100_000; i += 1) deep = [deep];
    assert.equal(jsonDepthExceeds(deep, 32), true);
    assert.equal(jsonDepthExceeds({ a: [1, { b: [2] }] }, 4), false);
    assert.equal(jsonDepthExceeds({ a: [1, { b: [2] }] }, 3), true);
    assert.equal(jsonDepthExceeds('text', 1), false);
  });

  it('answers a deeply nested JSON body with a 400 {error}', async () => {
    const app = express();
    app.use(express.json({ type: () => true, limit: '1mb' }), limitJsonDepth(16));
    app.post('/', (_req, res) => {
      res.json({ ok: true });
    });
    app.use(errorHandler());
    const body = `${'['.repeat(50_000)}${']'.repeat(50_000)}`;
    const res = await supertest(app).post('/').set('content-type', 'application/json').send(body);
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'JSON body is nested deeper than 16 levels' });
  });
});

describe('toHttpError', () => {
  it('maps a malformed percent-encoding (URIError) to 400', () => {
    let error: unknown;
    try {
      decodeURIComponent('%ff');
    } catch (caught) {
      error = caught;
    }
    assert.equal(toHttpError(error).status, 400);
  });
});

describe('createLogSampler', () => {
  it('lets a bounded number of lines through per interval and reports what it suppressed', () => {
    let now = 0;
    const sampler = createLogSampler(2, 1000, () => now);
    const taken = Array.from({ length: 10 }, () => sampler.take('503').log);
    assert.deepEqual(taken.filter(Boolean).length, 2);
    assert.equal(sampler.take('429').log, true, 'keys are independent');
    now = 1000;
    assert.deepEqual(sampler.take('503'), { log: true, suppressed: 8 });
  });
});
