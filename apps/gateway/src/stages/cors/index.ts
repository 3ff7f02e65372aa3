import type { IncomingMessage, ServerResponse } from 'node:http';
import { BACKEND_HEADER } from '@modeldock/service-kit';
import type { RequestHandler } from 'express';

/** Options of {@link cors}. */
export interface CorsOptions {
  /** Exact origins (`https://app.example.com`) whose pages may call the gateway. Empty: CORS off. */
  origins: readonly string[];
  /** How long a browser may cache a preflight answer, in seconds. */
  maxAgeSeconds?: number;
}

/** What a page may send: the gateway's methods and the headers its clients use. */
const ALLOW_METHODS = 'GET, HEAD, POST';
const ALLOW_HEADERS = `authorization, content-type, x-api-key, x-request-id, ${BACKEND_HEADER}`;
/** Response headers a page's script may read besides the safelisted ones. */
const EXPOSE_HEADERS = `x-request-id, x-served-by, ${BACKEND_HEADER}, ratelimit, ratelimit-policy, retry-after`;

/**
 * CORS (Fetch standard, "CORS protocol") for an allow-list of origins. A preflight (`OPTIONS` with
 * `Origin` and `Access-Control-Request-Method`) from a listed origin is answered here, 204 with the
 * allowed methods, headers and `Access-Control-Max-Age`, before any key is asked for (browsers send
 * none with a preflight). Any other request from a listed origin gets `Access-Control-Allow-Origin`
 * and the exposed headers, on every answer, errors included, so the page can read why it failed.
 * An origin not on the list gets nothing: its preflight goes on like any request (and is refused
 * there), and the browser keeps the answer from the page. `Vary: Origin` on every answer, since
 * they differ by origin. Only the public app uses this stage; the admin listener never answers CORS.
 */
export function cors({ origins, maxAgeSeconds = 600 }: CorsOptions): RequestHandler {
  const allowed = new Set(origins);
  const maxAge = String(maxAgeSeconds);
  return (req: IncomingMessage, res: ServerResponse, next) => {
    res.setHeader('vary', 'Origin');
    const origin = req.headers.origin;
    if (origin === undefined || !allowed.has(origin)) {
      next();
      return;
    }
    res.setHeader('access-control-allow-origin', origin);
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
      res.setHeader('vary', 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
      res.setHeader('access-control-allow-methods', ALLOW_METHODS);
      res.setHeader('access-control-allow-headers', ALLOW_HEADERS);
      res.setHeader('access-control-max-age', maxAge);
      res.writeHead(204).end();
      return;
    }
    res.setHeader('access-control-expose-headers', EXPOSE_HEADERS);
    next();
  };
}
