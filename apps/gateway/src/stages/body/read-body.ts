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
  readonly onChunk?: ((chunk: Buffer) => void) | undefined;
  /** Whether the request has a body, when the caller knows already. */
  readonly hasBody?: boolean;
}

/**
 * Collects the request body as raw bytes, never decoded, so it can be sent again to another replica
 * when the first attempt fails, and calls `done` once: with the body, or with a 413 as soon as the
 * declared or received size passes `limitBytes`, a 429 when a chunk would take the client past its
 * share of `budget`, a 503 when the budget as a whole is spent, or whatever `onChunk` throws, all
 * without reading the rest. A callback rather than a promise: this runs for every request.
 */
export function readRawBody(req: IncomingMessage, options: BodyReadOptions, done: (err: Error | undefined, body: Buffer) => void): void {
  if (!(options.hasBody ?? hasBody(req))) {
    done(undefined, EMPTY);
    return;
  }
  const { limitBytes, budget, client, onRelease, onChunk } = options;
  const declaredHeader = req.headers['content-length'];
  // A declaration is only trusted to refuse: reserving by it would let a header hold memory never sent.
  if (declaredHeader !== undefined && Number(declaredHeader) > limitBytes) {
    done(HttpError.payloadTooLarge(limitBytes), EMPTY);
    return;
  }
  let reserved = 0;
  onRelease(() => {
    budget.release(client, reserved);
    reserved = 0;
  });
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
    done(err instanceof Error ? err : new Error(String(err)), EMPTY);
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
    done(undefined, chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, reserved));
  };
  const onError = () => refuse(HttpError.requestAborted('request body could not be read'));
  const onClose = () => refuse(HttpError.requestAborted());
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onError);
  req.on('close', onClose);
}
