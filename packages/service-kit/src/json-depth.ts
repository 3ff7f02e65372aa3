import type { RequestHandler } from 'express';
import { HttpError } from './errors.js';

/**
 * The nesting depth of a parsed JSON value, computed without recursion and giving up as soon as
 * it exceeds `limit` (deeply nested input must not cost a stack frame per level anywhere).
 */
export function jsonDepthExceeds(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop() as [unknown, number];
    if (typeof item !== 'object' || item === null) continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(item) ? item : Object.values(item)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * Refuses parsed JSON bodies nested deeper than `maxDepth` with a 400: recursive code (serialisers,
 * validators, error messages) would otherwise overflow its stack on them.
 */
export function limitJsonDepth(maxDepth: number): RequestHandler {
  return (req, _res, next) => {
    const body = req.body as unknown;
    if (body !== undefined && jsonDepthExceeds(body, maxDepth)) {
      next(HttpError.invalidInput(`JSON body is nested deeper than ${maxDepth} levels`));
      return;
    }
    next();
  };
}
