import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { pinoHttp, type HttpLogger } from 'pino-http';

export type { Logger } from 'pino';

export const REQUEST_ID_HEADER = 'x-request-id';

/** Accepts a caller's request id only if it is short and printable, so logs cannot be forged. */
const REQUEST_ID_PATTERN = /^[\w.:-]{1,128}$/;

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  service: string;
  level: LevelWithSilent;
}

/** JSON logger for one service; every line carries the service name. */
export function createLogger({ service, level }: LoggerOptions): Logger {
  return pino({ level, base: { service }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** The request id of an incoming request: the caller's `x-request-id` if sane, else a new UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const header = req.headers[REQUEST_ID_HEADER];
  const candidate = Array.isArray(header) ? header[0] : header;
  return candidate !== undefined && REQUEST_ID_PATTERN.test(candidate) ? candidate : randomUUID();
}

/**
 * Access logging with request ids: the id comes from `x-request-id` or is generated, and is echoed
 * back on the response. Bodies are never logged. 5xx log at `error`, 4xx at `info`.
 */
export function httpLogger(logger: Logger, options: { ignorePaths?: readonly string[] } = {}): HttpLogger {
  const ignored = new Set(options.ignorePaths ?? []);
  return pinoHttp({
    logger,
    genReqId: (req: IncomingMessage, res: ServerResponse) => {
      const id = requestIdOf(req);
      res.setHeader(REQUEST_ID_HEADER, id);
      return id;
    },
    customLogLevel: (_req, res, err) => (err !== undefined || res.statusCode >= 500 ? 'error' : 'info'),
    autoLogging: { ignore: (req) => ignored.has((req.url ?? '').split('?')[0] ?? '') },
    serializers: {
      req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  });
}
