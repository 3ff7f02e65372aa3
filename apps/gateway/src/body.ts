import type { IncomingMessage } from 'node:http';
import { HttpError } from '@modeldock/service-kit';

const EMPTY = Buffer.alloc(0);

/** True when the request carries a body at all (RFC 9112 §6.3: Content-Length or Transfer-Encoding). */
export function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
}

/**
 * One budget of request-body bytes held in memory across every request at once. Each request's
 * limit alone does not bound the gateway: 200 clients each sending 1 MiB and stalling would hold
 * 200 MiB. A body that does not fit is refused before more of it is read.
 */
export class BodyBudget {
  #used = 0;

  constructor(readonly limitBytes: number) {}

  /** Bytes currently reserved. */
  get used(): number {
    return this.#used;
  }

  /** Reserves `bytes` if they fit; the caller releases them when the request ends. */
  tryReserve(bytes: number): boolean {
    if (this.#used + bytes > this.limitBytes) return false;
    this.#used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
  }
}

/** Raised when the body budget is spent: 503 + Retry-After, the connection is not kept. */
function budgetSpent(): HttpError {
  return HttpError.overloaded('the gateway is receiving too many request bodies at once; retry shortly');
}

/**
 * Collects the request body as raw bytes, never parsed or decoded, so it can be sent again to
 * another replica when the first attempt fails. Rejects with a 413 as soon as the declared or
 * received size passes `limitBytes`, and with a 503 as soon as it does not fit `budget`, without
 * reading the rest. Bytes reserved in the budget are released when `req`'s response closes.
 */
export function readRawBody(req: IncomingMessage, limitBytes: number, budget: BodyBudget, onRelease: (fn: () => void) => void): Promise<Buffer> {
  if (!hasBody(req)) return Promise.resolve(EMPTY);
  const declaredHeader = req.headers['content-length'];
  const declared = declaredHeader === undefined ? undefined : Number(declaredHeader);
  if (declared !== undefined && declared > limitBytes) return Promise.reject(HttpError.payloadTooLarge(limitBytes));
  let reserved = 0;
  onRelease(() => {
    budget.release(reserved);
    reserved = 0;
  });
  const reserve = (bytes: number): boolean => {
    if (!budget.tryReserve(bytes)) return false;
    reserved += bytes;
    return true;
  };
  // A declared length is reserved whole and up front: the decision comes before any byte is buffered.
  if (declared !== undefined && !reserve(declared)) return Promise.reject(budgetSpent());
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
      if (declared === undefined && !reserve(chunk.length)) {
        cleanup();
        reject(budgetSpent());
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
