import type { Request, Response } from 'express';
import { DEADLINE_HEADER, DEADLINE_MAX_HEADER, HttpError, QUEUE_TIME_HEADER, TIMEOUT_CAUSE_HEADER, forwardedClient, type TrustedProxies } from '@modeldock/service-kit';
import type { z } from 'zod';
import type { InferenceContext } from '../data-plane.js';
import type { RouteOptions } from './options.js';

/** The parsed JSON body as an object, or a 400 saying what it was instead. */
export function jsonObjectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw HttpError.invalidInput('request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/**
 * Parses a request body with a zod schema; a 400 names the first problem's field. Schemas leave
 * tensor contents as `unknown` (they are checked against the model's signature afterwards), so
 * zod never walks client data of unbounded size.
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(jsonObjectBody(body));
  if (parsed.success) return parsed.data;
  const [issue] = parsed.error.issues;
  const field = issue === undefined || issue.path.length === 0 ? 'body' : `'${issue.path.join('.')}'`;
  throw HttpError.invalidInput(`${field}: ${issue?.message ?? 'invalid'}`);
}

/**
 * `:name` and the optional `:version` of a model path, the version as written in the path: Express
 * decodes parameters, which would make `versions/%31` version 1 here while TF Serving's routes
 * (matched on the raw path) answer 404. A version is digits; both protocols answer 404 otherwise.
 */
export function modelParams(req: Request): [string, string | undefined] {
  const { name, version } = req.params as { name: string; version?: string };
  if (version === undefined) return [name, undefined];
  return [name, /\/versions\/([^/]*)/i.exec(req.path)?.[1] ?? version];
}

/**
 * Who asked, for the fair share of the queue: the TCP peer, unless it is a trusted proxy (the
 * gateway), in which case `X-Forwarded-For` read from the right names the client (each proxy appends
 * the peer it saw; entries a client wrote itself are never reached). A direct client rotating the
 * header is still one client.
 */
export function clientOf(req: Request, trusted: TrustedProxies): string {
  return forwardedClient(req.socket.remoteAddress ?? '', req.headers['x-forwarded-for'], trusted);
}

/** A deadline header's milliseconds, or undefined when absent; a 400 when malformed. */
function deadlineHeader(req: Request, name: string): number | undefined {
  const header = req.headers[name];
  if (header === undefined) return undefined;
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || !/^\d{1,9}$/.test(value)) throw HttpError.invalidInput(`${name} must be a number of milliseconds`);
  return Number(value);
}

/** Whether a request's `Cache-Control` says `no-cache` (RFC 9111 §5.2.1.4: no stored answer without revalidation). */
function noCache(req: Request): boolean {
  const header = req.headers['cache-control'];
  return header !== undefined && header.split(',').some((directive) => directive.trim().toLowerCase() === 'no-cache');
}

/**
 * The inference context of an HTTP exchange: its signal aborts when the client goes away before
 * the answer, so queued work is dropped instead of computed for nobody. The deadline is the data
 * plane's, from the request's work; the gateway's `x-modeldock-deadline-ms` shortens it, and when
 * the gateway offers to wait longer (`x-modeldock-deadline-max-ms`) for work that needs it, the
 * server says so at once with `102 Processing`. `Cache-Control: no-cache` keeps the result cache
 * out of it. Every answer says how long the request waited in the queue (`x-modeldock-queue-ms`),
 * and a 503, 429 or 504 caused by the queue says so (`x-modeldock-timeout-cause: queue`), for the gateway.
 */
export function inferenceContext(req: Request, res: Response, protocol: string, options: RouteOptions): InferenceContext {
  const arrivedAt = performance.now();
  const ms = deadlineHeader(req, DEADLINE_HEADER);
  const maxMs = deadlineHeader(req, DEADLINE_MAX_HEADER);
  const gone = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) gone.abort(new Error('client closed the request'));
  });
  return {
    protocol,
    client: clientOf(req, options.trustedProxies),
    signal: gone.signal,
    arrivedAt,
    ...(ms === undefined ? {} : { deadline: { ms, ...(maxMs === undefined ? {} : { maxMs }) } }),
    noCache: noCache(req),
    extend: () => {
      if (!res.headersSent) res.writeProcessing();
    },
    queued: ({ waitedMs, cause }) => {
      if (res.headersSent) return;
      res.setHeader(QUEUE_TIME_HEADER, String(Math.round(waitedMs)));
      if (cause !== undefined) res.setHeader(TIMEOUT_CAUSE_HEADER, cause);
    },
  };
}
