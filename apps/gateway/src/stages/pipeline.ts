import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Runs `stages` in order as one middleware: each calls `next()` to hand over to the following one,
 * or ends the request (an answer, or an error thrown or passed to `next`, which goes to the
 * enclosing app's error handler). The same contract as mounting each stage with `use`, without a
 * router layer (path matching, parameter processing) per stage per request.
 */
export function pipeline(stages: readonly RequestHandler[]): RequestHandler {
  return (req: Request, res: Response, done: NextFunction) => {
    let index = 0;
    const fail = (err: unknown) => done(err ?? new Error('a stage failed without an error'));
    const next: NextFunction = (err?: unknown) => {
      if (err !== undefined && err !== null && err !== 'route' && err !== 'router') {
        done(err);
        return;
      }
      const stage = stages[index++];
      if (stage === undefined) {
        done();
        return;
      }
      try {
        const result: unknown = stage(req, res, next);
        if (result instanceof Promise) result.then(undefined, fail);
      } catch (err) {
        fail(err);
      }
    };
    next();
  };
}
