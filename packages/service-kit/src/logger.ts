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

/** Statuses that are expected under load (shed, throttled, not ready): never `error`, and sampled. */
const EXPECTED_UNDER_LOAD = new Set([429, 503]);

/**
 * A per-key budget of log lines per interval: beyond it lines are dropped and counted, and the next
 * line that gets through says how many were suppressed. A flood of identical failures therefore
 * writes a bounded number of lines.
 */
export function createLogSampler(perInterval: number, intervalMs = 1000, now: () => number = Date.now) {
  const windows = new Map<string, { start: number; count: number; suppressed: number }>();
  return {
    /** Whether to log this line; `suppressed` is how many were dropped since the last one logged. */
    take(key: string): { log: boolean; suppressed: number } {
      const at = now();
      let window = windows.get(key);
      if (window === undefined || at - window.start >= intervalMs) {
        const suppressed = window?.suppressed ?? 0;
        window = { start: at, count: 0, suppressed: 0 };
        windows.set(key, window);
        window.count += 1;
        return { log: true, suppressed };
      }
      if (window.count < perInterval) {
        window.count += 1;
        const suppressed = window.suppressed;
        window.suppressed = 0;
        return { log: true, suppressed };
      }
      window.suppressed += 1;
      return { log: false, suppressed: 0 };
    },
  };
}

/** Options for {@link httpLogger}. */
export interface HttpLoggerOptions {
  /** Paths never access-logged (probes, scrapes). */
  ignorePaths?: readonly string[];
  /** Most access-log lines per second for each 4xx status and for 429/503 (default 20). */
  sampledPerSecond?: number;
}

/**
 * Access logging with request ids: the id comes from `x-request-id` or is generated, and is echoed
 * back on the response. Bodies are never logged. Unexpected 5xx log at `error`; 4xx and the
 * statuses of a server shedding load (429, 503) at `info`, at most `sampledPerSecond` lines a
 * second per status, so a flood writes bounded logs.
 */
export function httpLogger(logger: Logger, options: HttpLoggerOptions = {}): HttpLogger {
  const ignored = new Set(options.ignorePaths ?? []);
  const sampler = createLogSampler(options.sampledPerSecond ?? 20);
  const suppressedBy = new WeakMap<ServerResponse, number>();
  return pinoHttp({
    logger,
    genReqId: (req: IncomingMessage, res: ServerResponse) => {
      const id = requestIdOf(req);
      res.setHeader(REQUEST_ID_HEADER, id);
      return id;
    },
    customLogLevel: (_req, res, err) => {
      const status = res.statusCode;
      if (status >= 400 && (status < 500 || EXPECTED_UNDER_LOAD.has(status))) {
        const { log, suppressed } = sampler.take(String(status));
        if (!log) return 'silent';
        if (suppressed > 0) suppressedBy.set(res, suppressed);
        return 'info';
      }
      return err !== undefined || status >= 500 ? 'error' : 'info';
    },
    // pino-http treats every status >= 500 as an error with a synthetic stack; a shed 503 is expected.
    customErrorObject: (_req, res, _err, value: Record<string, unknown>) => {
      if (!EXPECTED_UNDER_LOAD.has(res.statusCode)) return value;
      return Object.fromEntries(Object.entries(value).filter(([key]) => key !== 'err'));
    },
    customErrorMessage: (_req, res, err) =>
      EXPECTED_UNDER_LOAD.has(res.statusCode) ? 'request completed' : `request errored: ${err.message}`,
    customProps: (_req, res) => {
      const suppressed = suppressedBy.get(res);
      return suppressed === undefined ? {} : { suppressedSimilar: suppressed };
    },
    autoLogging: { ignore: (req) => ignored.has((req.url ?? '').split('?')[0] ?? '') },
    serializers: {
      req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  });
}
