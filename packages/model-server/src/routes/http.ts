import type { Request, Response } from 'express';
import { DEADLINE_HEADER, DEADLINE_MAX_HEADER, HttpError } from '@modeldock/service-kit';
import type { z } from 'zod';
import type { InferenceContext } from '../data-plane.js';

export { DEADLINE_HEADER, DEADLINE_MAX_HEADER };

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

/** `:name` and the optional `:version` of a model path. */
export function modelParams(params: Record<string, string | string[] | undefined>): [string, string | undefined] {
  const { name, version } = params as { name: string; version?: string };
  return [name, version];
}

/**
 * Who asked, for the fair share of the queue: the last `x-forwarded-for` entry, which the proxy in
 * front (the gateway) appends with the address it saw (entries before it are whatever the client
 * sent, so they are never trusted), else the peer's address.
 */
export function clientOf(req: Request): string {
  const forwarded = req.headers['x-forwarded-for'];
  const last = (Array.isArray(forwarded) ? forwarded.at(-1) : forwarded)?.split(',').at(-1)?.trim();
  if (last !== undefined && last !== '' && last.length <= 64) return last;
  return req.socket.remoteAddress ?? '';
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
 * server says so at once with `102 Processing`. `Cache-Control: no-cache` keeps the result cache out of it.
 */
export function inferenceContext(req: Request, res: Response, protocol: string): InferenceContext {
  const arrivedAt = performance.now();
  const ms = deadlineHeader(req, DEADLINE_HEADER);
  const maxMs = deadlineHeader(req, DEADLINE_MAX_HEADER);
  const gone = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) gone.abort(new Error('client closed the request'));
  });
  return {
    protocol,
    client: clientOf(req),
    signal: gone.signal,
    arrivedAt,
    ...(ms === undefined ? {} : { deadline: { ms, ...(maxMs === undefined ? {} : { maxMs }) } }),
    noCache: noCache(req),
    extend: () => {
      if (!res.headersSent) res.writeProcessing();
    },
  };
}
