import type { ErrorRequestHandler, RequestHandler } from 'express';
import { HttpError, clipInput, toHttpError } from './errors.js';
import type { Logger } from './logger.js';
import { openAiErrorBody } from './openai-errors.js';

/** Options of {@link errorHandler} and {@link openAiErrorHandler}. */
export interface ErrorHandlerOptions {
  /** Where unexpected errors are logged; `req.log` (pino-http) when absent. */
  logger?: Logger;
}

function handler(body: (err: HttpError) => object, { logger }: ErrorHandlerOptions): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const httpError = toHttpError(err);
    // Only the unexpected gets a stack trace; a client's 4xx or a shed 503 is in the access log already.
    if (httpError.status >= 500 && !(err instanceof HttpError)) {
      (logger ?? req.log)?.error({ err, url: clipInput(req.originalUrl, 256) }, 'unhandled error');
    }
    res.status(httpError.status).set(httpError.headers).json(body(httpError));
  };
}

/**
 * The one terminal error handler: status from the error, else 500; body exactly
 * `{"error": "<message>"}` (OIP and TF Serving both specify it). 5xx causes are logged at `error`
 * with the original error; 4xx are the client's business and stay at `info` in the access log.
 */
export function errorHandler(options: ErrorHandlerOptions = {}): ErrorRequestHandler {
  return handler((err) => ({ error: err.message }), options);
}

/**
 * The same for OpenAI's routes, with OpenAI's error body ({@link openAiErrorBody}): mount it as the
 * error handler of the sub-app that serves them, so that every error raised on those routes, and
 * only there, takes that shape.
 */
export function openAiErrorHandler(options: ErrorHandlerOptions = {}): ErrorRequestHandler {
  return handler((err) => openAiErrorBody(err), options);
}

/** Answers every request that no route matched with a 404 `{error}`. */
export function notFoundHandler(): RequestHandler {
  return (req, _res, next) => {
    next(HttpError.notFound(`no route for ${clipInput(req.method)} ${clipInput(req.path)}`));
  };
}
