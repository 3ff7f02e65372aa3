import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHttpError } from './errors.js';
import { createLogSampler } from './logger.js';

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
