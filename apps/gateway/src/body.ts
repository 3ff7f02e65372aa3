import type { IncomingMessage } from 'node:http';
import { HttpError } from '@modeldock/service-kit';

const EMPTY = Buffer.alloc(0);

/** True when the request carries a body at all (RFC 9112 §6.3: Content-Length or Transfer-Encoding). */
export function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
}

/**
 * Collects the request body as raw bytes, never parsed or decoded, so it can be sent again to
 * another replica when the first attempt fails. Rejects with a 413 as soon as the declared or
 * received size passes `limitBytes`, without reading the rest.
 */
export function readRawBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  if (!hasBody(req)) return Promise.resolve(EMPTY);
  const declared = Number(req.headers['content-length']);
  if (declared > limitBytes) return Promise.reject(HttpError.payloadTooLarge(limitBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limitBytes) {
        cleanup();
        // Node discards the unread remainder once the response is sent.
        reject(HttpError.payloadTooLarge(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received));
    };
    const onError = () => {
      cleanup();
      reject(new HttpError(400, 'request body could not be read', 'request_aborted'));
    };
    const onClose = () => {
      cleanup();
      reject(new HttpError(400, 'request aborted', 'request_aborted'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
