import type { ErrorRequestHandler, RequestHandler } from 'express';
import { HttpError, clipInput, toHttpError } from './errors.js';

/**
 * The one terminal error handler: status from the error, else 500; body exactly
 * `{"error": "<message>"}` (OIP and TF Serving both specify it). 5xx causes are logged at `error`
 * with the original error; 4xx are the client's business and stay at `info` in the access log.
 */
export function errorHandler(): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const httpError = toHttpError(err);
    // Only the unexpected gets a stack trace; a client's 4xx or a shed 503 is in the access log already.
    if (httpError.status >= 500 && !(err instanceof HttpError)) {
      req.log?.error({ err }, 'unhandled error');
    }
    res.status(httpError.status).set(httpError.headers).json({ error: httpError.message });
  };
}

/** Answers every request that no route matched with a 404 `{error}`. */
export function notFoundHandler(): RequestHandler {
  return (req, _res, next) => {
    next(HttpError.notFound(`no route for ${clipInput(req.method)} ${clipInput(req.path)}`));
  };
}
