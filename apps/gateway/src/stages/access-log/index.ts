import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { REQUEST_ID_HEADER, requestIdOf, type HttpRequestRecorder, type Logger } from '@modeldock/service-kit';
import type { RequestHandler } from 'express';
import { createState } from '../state.js';

type Level = 'debug' | 'info' | 'warn' | 'error';

/**
 * Caps log lines per second. Past the cap lines are dropped and counted per kind; the first line
 * of the next second reports how many of each were dropped. A flood of 429s or shed 503s then
 * costs a bounded number of bytes instead of a line each.
 */
export class LogSampler {
  #windowStart = 0;
  #written = 0;
  #suppressed = new Map<string, number>();

  constructor(
    private readonly logger: Logger,
    private readonly linesPerSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Logs `obj`/`msg` at `level` unless this second's budget is spent; `kind` groups what was
   * dropped. `obj` may be a function, called only for a line that is written.
   */
  log(level: Level, kind: string, obj: object | (() => object), msg: string): void {
    const now = this.now();
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#written = 0;
      if (this.#suppressed.size > 0) {
        this.logger.warn({ suppressed: Object.fromEntries(this.#suppressed) }, 'log lines suppressed in the last interval');
        this.#suppressed = new Map();
      }
    }
    if (this.#written >= this.linesPerSecond) {
      this.#suppressed.set(kind, (this.#suppressed.get(kind) ?? 0) + 1);
      return;
    }
    this.#written++;
    this.logger[level](typeof obj === 'function' ? obj() : obj, msg);
  }
}

/**
 * The level of a finished request: 5xx the gateway could not avoid at `error`; expected refusals
 * (4xx, 429, shed or not-ready 503) at `info`. No stack traces: they describe the client, not a bug.
 */
export function levelFor(status: number): Level {
  if (status >= 500 && status !== 503) return 'error';
  return 'info';
}

/** Options of {@link accessLog}. */
export interface AccessLogOptions {
  sampler: LogSampler;
  /** Paths never logged (probes); their requests are still counted. */
  ignorePaths?: readonly string[];
  /** Counts every finished request in `http_requests_total` / `http_request_duration_seconds`. */
  record: HttpRequestRecorder;
}

/**
 * The first stage: request id and access log. The id comes from `x-request-id` (if sane) or is
 * generated, and is echoed back; the request's state is created here; every finished request is
 * one line through the sampler, with the key id when there is one. Bodies and keys are never logged.
 */
export function accessLog({ sampler, ignorePaths = [], record }: AccessLogOptions): RequestHandler {
  const ignored = new Set(ignorePaths);
  return (req: IncomingMessage, res: ServerResponse, next) => {
    const id = requestIdOf(req);
    res.setHeader(REQUEST_ID_HEADER, id);
    const started = performance.now();
    const state = createState(req, res, id, started);
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const logged = !ignored.has(query === -1 ? url : url.slice(0, query));
    state.onClose(() => {
      const elapsedMs = state.closedAt - started;
      const route = state.route;
      if (res.writableFinished) record(req.method ?? '', route.kind === 'none' ? 'unmatched' : route.template, res.statusCode, elapsedMs / 1000);
      if (!logged) return;
      const status = res.headersSent ? res.statusCode : 0;
      const level = status === 0 ? 'info' : levelFor(status);
      sampler.log(
        level,
        `${level} ${status}`,
        () => ({
          req: { id, method: req.method, url: url.length > 256 ? `${url.slice(0, 256)}…` : url },
          res: { statusCode: status === 0 ? undefined : status },
          key: state.client?.key?.id,
          responseTime: Math.round(elapsedMs),
          aborted: status === 0 || !res.writableFinished ? true : undefined,
        }),
        status === 0 ? 'request aborted' : 'request completed',
      );
    });
    next();
  };
}
