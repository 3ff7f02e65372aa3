import type { IncomingMessage } from 'node:http';
import { HttpError } from '@modeldock/service-kit';

const EMPTY = Buffer.alloc(0);

/** True when the request carries a body at all (RFC 9112 §6.3: Content-Length or Transfer-Encoding). */
export function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
}

/** Outcome of {@link BodyBudget.tryReserve}. */
export type Reservation = 'ok' | 'client-share' | 'full';

/**
 * One budget of request-body bytes held in memory across every request at once, with a share per
 * client. Each request's limit alone does not bound the gateway: 200 clients each sending 1 MiB and
 * stalling would hold 200 MiB. Bytes are reserved as they arrive, never by a declared
 * `Content-Length`, which costs a client nothing to send; and one client can hold at most its share,
 * so the rest stays free for others.
 */
export class BodyBudget {
  #used = 0;
  readonly #byClient = new Map<string, number>();

  constructor(
    readonly limitBytes: number,
    readonly clientShareBytes: number,
  ) {}

  /** Bytes currently reserved, all clients together. */
  get used(): number {
    return this.#used;
  }

  /** Bytes `client` holds right now. */
  usedBy(client: string): number {
    return this.#byClient.get(client) ?? 0;
  }

  /** Reserves `bytes` for `client` if they fit both its share and the whole budget. */
  tryReserve(client: string, bytes: number): Reservation {
    const held = this.usedBy(client);
    if (held + bytes > this.clientShareBytes) return 'client-share';
    if (this.#used + bytes > this.limitBytes) return 'full';
    this.#used += bytes;
    this.#byClient.set(client, held + bytes);
    return 'ok';
  }

  release(client: string, bytes: number): void {
    if (bytes === 0) return;
    this.#used = Math.max(0, this.#used - bytes);
    const left = this.usedBy(client) - bytes;
    if (left > 0) this.#byClient.set(client, left);
    else this.#byClient.delete(client);
  }
}

/** Everything {@link readRawBody} needs besides the request. */
export interface BodyReadOptions {
  readonly limitBytes: number;
  readonly budget: BodyBudget;
  /** Who the bytes count against (see `ClientIdentity`). */
  readonly client: string;
  /** Called with a function that gives the reserved bytes back; the caller runs it when the request ends. */
  readonly onRelease: (release: () => void) => void;
  /** Sees every chunk as it arrives; throwing an HttpError ends the read with that error. */
  readonly onChunk?: (chunk: Buffer) => void;
}

/**
 * Collects the request body as raw bytes, never decoded, so it can be sent again to another replica
 * when the first attempt fails. Rejects with a 413 as soon as the declared or received size passes
 * `limitBytes`, with a 429 when a chunk would take the client past its share of `budget`, with a 503
 * when the budget as a whole is spent, and with whatever `onChunk` throws, all without reading the
 * rest.
 */
export function readRawBody(req: IncomingMessage, options: BodyReadOptions): Promise<Buffer> {
  if (!hasBody(req)) return Promise.resolve(EMPTY);
  const { limitBytes, budget, client, onRelease, onChunk } = options;
  const declaredHeader = req.headers['content-length'];
  // A declaration is only trusted to refuse: reserving by it would let a header hold memory never sent.
  if (declaredHeader !== undefined && Number(declaredHeader) > limitBytes) return Promise.reject(HttpError.payloadTooLarge(limitBytes));
  let reserved = 0;
  onRelease(() => {
    budget.release(client, reserved);
    reserved = 0;
  });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const refuse = (err: unknown) => {
      cleanup();
      // Node discards the unread remainder once the response is sent.
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    const onData = (chunk: Buffer) => {
      if (reserved + chunk.length > limitBytes) {
        refuse(HttpError.payloadTooLarge(limitBytes));
        return;
      }
      const reservation = budget.tryReserve(client, chunk.length);
      if (reservation !== 'ok') {
        refuse(
          reservation === 'full'
            ? HttpError.overloaded('the gateway is receiving too many request bodies at once; retry shortly')
            : HttpError.tooManyRequests(`this client is sending more than ${budget.clientShareBytes} bytes of request bodies at once`),
        );
        return;
      }
      reserved += chunk.length;
      chunks.push(chunk);
      try {
        onChunk?.(chunk);
      } catch (err) {
        refuse(err);
      }
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, reserved));
    };
    const onError = () => refuse(new HttpError(400, 'request body could not be read', 'request_aborted'));
    const onClose = () => refuse(new HttpError(400, 'request aborted', 'request_aborted'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
