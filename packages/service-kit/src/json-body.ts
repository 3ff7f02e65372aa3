import type { Request, RequestHandler } from 'express';
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { HttpError } from './errors.js';

/** Options for {@link jsonBody}. */
export interface JsonBodyOptions {
  /** Largest body accepted in bytes, encoded and decoded (413 beyond). */
  limit: number;
  /** Deepest nesting of arrays and objects accepted (400 beyond). */
  maxDepth: number;
}

const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Tracks the nesting depth of JSON text as its bytes arrive, without parsing it: brackets outside
 * strings open and close levels. Multi-byte UTF-8 sequences never contain ASCII bytes, so scanning
 * bytes is exact. Malformed text is left to `JSON.parse`; only depth is decided here.
 */
export class JsonDepthScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(private readonly maxDepth: number) {}

  /** Scans the next bytes; false as soon as the nesting goes deeper than the limit. */
  write(chunk: Uint8Array): boolean {
    let { depth, inString, escaped } = this;
    const { maxDepth } = this;
    for (let i = 0; i < chunk.length; i += 1) {
      const byte = chunk[i] as number;
      if (inString) {
        if (escaped) escaped = false;
        else if (byte === BACKSLASH) escaped = true;
        else if (byte === QUOTE) inString = false;
      } else if (byte === QUOTE) {
        inString = true;
      } else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
        depth += 1;
        if (depth > maxDepth) return false;
      } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) {
        depth -= 1;
      }
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    return true;
  }
}

/** How long parses (and the synchronous route work that follows each) may hold the event loop in one turn. */
const PARSE_SLICE_MS = 10;

/**
 * Parses run in arrival order, in slices of at most about {@link PARSE_SLICE_MS} per event-loop
 * turn: a `JSON.parse` of a body at the size limit takes milliseconds (about 11 ms per MiB of short
 * strings), and sixteen finishing in one poll phase must not hold probes and other clients'
 * requests behind all sixteen. Small bodies still parse many to a turn; between slices the loop
 * polls sockets again.
 */
function createParseQueue(): (job: () => void) => void {
  const jobs: (() => void)[] = [];
  const runSlice = () => {
    const started = performance.now();
    do jobs.shift()?.();
    while (jobs.length > 0 && performance.now() - started < PARSE_SLICE_MS);
    if (jobs.length > 0) setImmediate(runSlice);
  };
  return (job) => {
    jobs.push(job);
    if (jobs.length === 1) setImmediate(runSlice);
  };
}

/** RFC 9112 §6.3: a request has a body when it has Transfer-Encoding or a Content-Length. */
function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || req.headers['content-length'] !== undefined;
}

function decoderFor(encoding: string): Transform | undefined | 'unsupported' {
  switch (encoding) {
    case '':
    case 'identity':
      return undefined;
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return 'unsupported';
  }
}

/** The declared charset, lower case; JSON must be UTF-8 (RFC 8259 §8.1). */
function charsetOf(req: Request): string | undefined {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '');
  return match?.[1]?.toLowerCase();
}

/** What makes a body unacceptable before any of it is read, if anything. */
function refusalBeforeReading(req: Request, limit: number, decoder: ReturnType<typeof decoderFor>): HttpError | undefined {
  const charset = charsetOf(req);
  if (decoder === 'unsupported') return HttpError.unsupportedMediaType('unsupported content-encoding; send gzip, deflate, br or none');
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') return HttpError.unsupportedMediaType('JSON bodies must be UTF-8');
  if (Number(req.headers['content-length'] ?? 0) > limit) return HttpError.payloadTooLarge(limit);
  return undefined;
}

/**
 * Reads a JSON request body (any content type: `curl -d` sends form encoding) into `req.body`,
 * checking size and depth while the bytes arrive rather than after parsing: bytes are counted as
 * they come (413 past `limit`, or at once for a larger declared length), and nesting deeper than
 * `maxDepth` is refused (400) at the byte that opens the level too many, so a body of a million `[`
 * costs a few bytes of scanning and nothing is built. Bodies within both limits are parsed in
 * bounded slices of event-loop time. gzip, deflate and br bodies are decoded first; both the encoded and the decoded
 * bytes count against `limit`. A body refused part-way is still read and discarded, up to `limit`
 * more bytes, so that the client reads its answer; beyond that the connection is closed.
 */
export function jsonBody(options: JsonBodyOptions): RequestHandler {
  const { limit, maxDepth } = options;
  const enqueue = createParseQueue();
  return (req, res, next) => {
    if (!hasBody(req)) {
      next();
      return;
    }
    const decoder = decoderFor((req.headers['content-encoding'] ?? '').trim().toLowerCase());
    const early = refusalBeforeReading(req, limit, decoder);
    if (early !== undefined || decoder === 'unsupported') {
      // Nothing of it will be read: close rather than take a body of any declared size.
      res.setHeader('connection', 'close');
      req.resume();
      next(early);
      return;
    }

    const scanner = new JsonDepthScanner(maxDepth);
    const chunks: Buffer[] = [];
    let rawBytes = 0;
    let bodyBytes = 0;
    let settled = false;

    const refuse = (error: HttpError) => {
      settled = true;
      chunks.length = 0;
      if (decoder !== undefined) {
        req.unpipe(decoder);
        decoder.destroy();
      }
      // Keep reading what the client is still sending (up to another `limit` bytes), so that it
      // reads this answer rather than a reset connection.
      let discarded = 0;
      req.removeAllListeners('data');
      req.on('data', (chunk: Buffer) => {
        discarded += chunk.length;
        if (discarded > limit) req.destroy();
      });
      req.resume();
      next(error);
    };
    const onBytes = (chunk: Buffer) => {
      if (settled) return;
      bodyBytes += chunk.length;
      if (bodyBytes > limit) refuse(HttpError.payloadTooLarge(limit));
      else if (!scanner.write(chunk)) refuse(HttpError.invalidInput(`JSON body is nested deeper than ${maxDepth} levels`));
      else chunks.push(chunk);
    };
    const onEnd = () => {
      if (settled) return;
      settled = true;
      const bytes = Buffer.concat(chunks, bodyBytes);
      chunks.length = 0;
      enqueue(() => {
        // The client may have gone while the parse waited its turn: nobody would read the answer.
        if (req.socket.destroyed) return;
        const text = bytes.toString('utf8');
        let body: unknown = {};
        try {
          // A byte-order mark is not JSON, but tolerated (RFC 8259 §8.1).
          if (text.trim() !== '') body = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
        } catch {
          next(HttpError.invalidInput('malformed JSON body'));
          return;
        }
        req.body = body;
        next();
      });
    };

    if (decoder === undefined) {
      req.on('data', onBytes);
      req.on('end', onEnd);
    } else {
      // The encoded bytes count too: a stream that decodes to little must not be endless.
      req.on('data', (chunk: Buffer) => {
        rawBytes += chunk.length;
        if (!settled && rawBytes > limit) refuse(HttpError.payloadTooLarge(limit));
      });
      decoder.on('data', onBytes);
      decoder.on('end', onEnd);
      decoder.on('error', () => {
        if (!settled) refuse(HttpError.invalidInput('request body does not match its content-encoding'));
      });
      req.pipe(decoder);
    }
    req.on('close', () => {
      // The client left before sending the whole body: nobody will read an answer.
      if (!settled && !req.complete) {
        settled = true;
        chunks.length = 0;
        next(HttpError.clientClosedRequest());
      }
    });
  };
}
