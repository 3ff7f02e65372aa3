import { STATUS_CODES, createServer, type RequestListener, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { HttpError, type Logger } from '@modeldock/service-kit';
import type { GatewayConfig } from './config.js';

/** The settings of the public server that bound what one client can hold. */
export type ServerLimits = Pick<
  GatewayConfig,
  'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'maxConnections' | 'maxHeaderBytes'
>;

/** What a request Node's parser rejected gets: the same `{"error"}` body as everything else. */
function clientErrorAnswer(err: NodeJS.ErrnoException, limits: ServerLimits, headersDone: boolean): HttpError | undefined {
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

/**
 * An HTTP server for `listener` with every client-facing limit set: header and whole-request
 * deadlines (408), keep-alive idle timeout, header size (431), connection cap. Node's own answers
 * to requests its parser rejects (a bare 400/408/431 without body) are replaced by JSON ones with
 * `Connection: close`, through the `clientError` event.
 */
export function createLimitedServer(listener: RequestListener, limits: ServerLimits, logger: Logger): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      maxHeaderSize: limits.maxHeaderBytes,
      // Node checks the two deadlines on this interval (30 s by default), which would let a slow client overstay by that much.
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    },
    listener,
  );
  server.maxConnections = limits.maxConnections;
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
