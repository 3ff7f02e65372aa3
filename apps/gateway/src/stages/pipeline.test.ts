import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { pipeline } from './pipeline.js';

/** Runs `handler` on an empty request; resolves with what it passed to its `next`. */
function run(handler: RequestHandler): Promise<unknown> {
  return new Promise((resolve) => {
    const next: NextFunction = (err?: unknown) => resolve(err ?? 'done');
    void handler({} as Request, {} as Response, next);
  });
}

describe('pipeline', () => {
  it('runs the stages in order and calls next once after the last', async () => {
    const seen: string[] = [];
    const stage =
      (name: string): RequestHandler =>
      (_req, _res, next) => {
        seen.push(name);
        next();
      };
    assert.equal(await run(pipeline([stage('a'), stage('b'), stage('c')])), 'done');
    assert.deepEqual(seen, ['a', 'b', 'c']);
  });

  it('stops at the first error, thrown, rejected or passed to next', async () => {
    const boom = new Error('boom');
    const after: RequestHandler = () => assert.fail('no stage runs after an error');
    const thrown: RequestHandler = () => {
      throw boom;
    };
    const rejected: RequestHandler = async () => {
      await Promise.resolve();
      throw boom;
    };
    const passed: RequestHandler = (_req, _res, next) => next(boom);
    for (const failing of [thrown, rejected, passed]) assert.equal(await run(pipeline([failing, after])), boom);
  });

  it('lets an async stage hand over after awaiting', async () => {
    const seen: string[] = [];
    const slow: RequestHandler = async (_req, _res, next) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      seen.push('slow');
      next();
    };
    const last: RequestHandler = (_req, _res, next) => {
      seen.push('last');
      next();
    };
    assert.equal(await run(pipeline([slow, last])), 'done');
    assert.deepEqual(seen, ['slow', 'last']);
  });
});
