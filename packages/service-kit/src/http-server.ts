import { STATUS_CODES, createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { HttpError } from './errors.js';
import type { Logger } from './logger.js';

/** What a server lets one client hold: header and whole-request deadlines, idle keep-alive, header size. */
export interface HttpServerLimits {
  /** Node's `headersTimeout`: the whole header section must arrive within this (408). */
  readonly headersTimeoutMs: number;
  /** Node's `requestTimeout`: headers and body must arrive within this (408). */
  readonly requestTimeoutMs: number;
  /** Idle keep-alive connections are closed after this. */
  readonly keepAliveTimeoutMs: number;
  /** Node's `maxHeaderSize`; beyond it 431. */
  readonly maxHeaderBytes: number;
}

/** The `{"error"}` answer to a request Node's parser rejected, or undefined when the socket is simply gone. */
function clientErrorAnswer(err: NodeJS.ErrnoException, limits: HttpServerLimits, headersDone: boolean): HttpError | undefined {
  switch (err.code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return undefined;
    case 'HPE_HEADER_OVERFLOW':
      return HttpError.headersTooLarge();
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      // Node reports both deadlines with one code; a response object exists once the headers were parsed.
      return HttpError.requestTimeout(headersDone ? limits.requestTimeoutMs : limits.headersTimeoutMs);
    default:
      return HttpError.invalidInput('malformed HTTP request');
  }
}

/** A complete `{"error"}` response that also closes the connection. */
function answerAndClose(res: ServerResponse, error: HttpError): void {
  const body = JSON.stringify({ error: error.message });
  res.shouldKeepAlive = false;
  res.writeHead(error.status, {
    ...error.headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  res.end(body);
}

/**
 * An HTTP server for `listener` with the client-facing limits set, where every answer is JSON,
 * Node's own included: requests its parser rejects (400 malformed, 408 slow, 431 oversized headers),
 * an HTTP/1.1 request without `Host` (RFC 9112 §3.2: 400) and an `Expect` other than `100-continue`
 * (417) get a `{"error"}` body with `Connection: close` instead of Node's empty answers.
 */
export function createHttpServer(listener: RequestListener, limits: HttpServerLimits, logger: Logger): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      maxHeaderSize: limits.maxHeaderBytes,
      // Node checks the two deadlines on this interval (30 s by default), which would let a slow client overstay by that much.
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
      // Node's own 400 for a missing Host has no body; the listener below answers it in JSON.
      requireHostHeader: false,
    },
    (req: IncomingMessage, res: ServerResponse) => {
      if (req.headers.host === undefined && req.httpVersionMajor === 1 && req.httpVersionMinor >= 1) {
        answerAndClose(res, HttpError.invalidInput('missing Host header'));
        return;
      }
      listener(req, res);
    },
  );
  // Without a listener Node answers a bare 417.
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => answerAndClose(res, HttpError.expectationFailed()));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // A response already started on this socket cannot be replaced; nor can a socket already gone.
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage ?? undefined;
    const answer = clientErrorAnswer(err, limits, inFlight !== undefined);
    if (answer === undefined || !socket.writable || inFlight?.headersSent === true) {
      socket.destroy();
      return;
    }
    logger.debug({ code: err.code, status: answer.status }, 'rejected a malformed or slow request');
    const body = JSON.stringify({ error: answer.message });
    socket.end(
      `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ''}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
    // Half-open clients must not keep the socket (and its buffers) after the answer.
    setTimeout(() => socket.destroy(), 1000).unref();
  });
  return server;
}
