import type { RequestHandler } from 'express';
import { HttpError } from './errors.js';

/**
 * What a request target must not contain, because some hop between a client and a replica would
 * read it differently from whoever checked it: http-proxy's URL parsing turns `\` into `/` and drops
 * a `#...` fragment, its path join collapses `//`, and a normalising proxy resolves `..` (also spelt
 * `%2e%2e`) and may decode `%2f`/`%5c` into separators.
 */
const AMBIGUOUS_PATH: readonly [RegExp, string][] = [
  [/\\/, 'a backslash'],
  [/%(2f|5c)/i, "an encoded '/' or '\\'"],
  [/\/\//, 'an empty segment'],
  [/\/(\.|%2e){1,2}(\/|$)/i, 'a dot segment'],
];

/**
 * Refuses, with a 400, a request target whose path some hop could read differently (see
 * {@link AMBIGUOUS_PATH}), a fragment, or malformed percent-encoding. The query is left as it came
 * and only checked for a fragment. `url` is the raw target (`req.originalUrl`).
 */
export function checkRequestTarget(url: string): void {
  if (url.includes('#')) throw HttpError.invalidInput('a fragment (#) in the request target');
  const queryStart = url.indexOf('?');
  const pathname = queryStart === -1 ? url : url.slice(0, queryStart);
  for (const [pattern, what] of AMBIGUOUS_PATH) {
    if (pattern.test(pathname)) throw HttpError.invalidInput(`${what} in the request path`);
  }
  // Checked once for the whole path, so a bad escape anywhere is a 400 rather than whatever a later hop makes of it.
  try {
    decodeURIComponent(pathname);
  } catch {
    throw HttpError.invalidInput('malformed percent-encoding in the request path');
  }
}

/** Middleware: {@link checkRequestTarget} before any route, so an ambiguous path is nobody's route. */
export function refuseAmbiguousTargets(): RequestHandler {
  return (req, _res, next) => {
    checkRequestTarget(req.originalUrl);
    next();
  };
}
