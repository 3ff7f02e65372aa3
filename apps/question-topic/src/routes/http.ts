import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { HttpError } from '@modeldock/service-kit';

/**
 * Express 5 forwards rejected promises to the error handler by itself; this wrapper only gives
 * async handlers one explicit type.
 */
export function asyncHandler(handler: (req: Request, res: Response, next: NextFunction) => Promise<void>): RequestHandler {
  return (req, res, next) => handler(req, res, next);
}

/** The parsed JSON body as an object, or a 400 saying what it was instead. */
export function jsonObjectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw HttpError.invalidInput('request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}
