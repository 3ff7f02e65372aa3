import { concatBatches, sliceBatch, type Batch } from '@modeldock/model-runtime';
import type { ResultCache } from './result-cache.js';

/** Rows computed together (one batcher submission) for every request that waits on any of them. */
interface Submission {
  readonly controller: AbortController;
  /** Requests still waiting on one of its rows; at 0 the computation is abandoned. */
  waiting: number;
  /** Its rows' flight ids, removed from the flights map when it settles or is abandoned. */
  readonly ids: string[];
}

/** One row being computed: whoever asks for the same row meanwhile waits for it instead of computing it again. */
interface Flight {
  readonly row: Promise<Batch>;
  readonly submission: Submission;
  resolve(row: Batch): void;
  reject(error: unknown): void;
}

/** What the cached path counts, per scope (model version). */
export interface CachedInferenceObserver {
  hits(scope: string, rows: number): void;
  misses(scope: string, rows: number): void;
  /** Rows answered by a computation another request (or this one, for a repeated row) started. */
  coalesced(scope: string, rows: number): void;
}

/** One request through the cache: its rows' keys, and how to compute the rows nobody has. */
export interface CachedRequest {
  /** The model version, e.g. `name\u0000version`. */
  scope: string;
  keys: readonly string[];
  /** Skip cached rows and rows in flight (`Cache-Control: no-cache`); what it computes is still cached. */
  bypass: boolean;
  /** Aborted when the request's client has gone or its deadline passed. */
  signal: AbortSignal;
  /** Computes the request's rows `rows` (a batcher submission), abandoned when `signal` aborts. */
  compute: (rows: readonly number[], signal: AbortSignal) => Promise<Batch>;
  /** Told how many of its rows wait on computations other requests started. */
  joined?: (rows: number) => void;
}

/** A promise that rejects with `signal`'s reason when it aborts first. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Answers requests from the result cache where it can and computes each missing row once, whoever
 * asks: a row already queued or being computed for another request (or earlier in the same
 * request) is waited for, not computed again. A computation is abandoned only when every request
 * waiting on it has gone (its client left or its deadline passed), never because one of them did.
 * Computed rows are cached as they arrive.
 */
export function createCachedInference(cache: ResultCache, observer: CachedInferenceObserver): (request: CachedRequest) => Promise<Batch> {
  const flights = new Map<string, Flight>();

  const abandon = (submission: Submission, reason: unknown) => {
    for (const id of submission.ids) if (flights.get(id)?.submission === submission) flights.delete(id);
    submission.controller.abort(reason);
  };

  return async ({ scope, keys, bypass, signal, compute, joined }) => {
    const rows = new Array<Batch | Promise<Batch>>(keys.length);
    const submission: Submission = { controller: new AbortController(), waiting: 0, ids: [] };
    const waitedOn = new Set<Submission>();
    const created: Flight[] = [];
    const computed: number[] = [];
    let hits = 0;
    let coalesced = 0;
    let fromOthers = 0;
    keys.forEach((key, i) => {
      const id = `${scope}\u0000${key}`;
      const cached = bypass ? undefined : cache.get(scope, key);
      if (cached !== undefined) {
        rows[i] = cached;
        hits += 1;
        return;
      }
      // With no-cache, only a repeat of a row this request computes itself is shared.
      const flight = flights.get(id);
      if (flight !== undefined && (!bypass || flight.submission === submission)) {
        rows[i] = flight.row;
        waitedOn.add(flight.submission);
        coalesced += 1;
        if (flight.submission !== submission) fromOthers += 1;
        return;
      }
      let settle: Pick<Flight, 'resolve' | 'reject'> = { resolve: () => {}, reject: () => {} };
      const row = new Promise<Batch>((resolve, reject) => (settle = { resolve, reject }));
      // Nobody may be left to await it (every requester gone): never an unhandled rejection.
      row.catch(() => {});
      const fresh: Flight = { row, submission, ...settle };
      flights.set(id, fresh);
      submission.ids.push(id);
      created.push(fresh);
      computed.push(i);
      rows[i] = row;
    });
    observer.hits(scope, hits);
    observer.misses(scope, computed.length);
    observer.coalesced(scope, coalesced);
    joined?.(fromOthers);

    if (computed.length > 0) {
      waitedOn.add(submission);
      compute(computed, submission.controller.signal).then(
        (outputs) => {
          computed.forEach((index, j) => {
            const row = sliceBatch(outputs, j, j + 1);
            cache.set(scope, keys[index] as string, row);
            created[j]?.resolve(row);
          });
          for (const id of submission.ids) if (flights.get(id)?.submission === submission) flights.delete(id);
        },
        (error: unknown) => {
          for (const id of submission.ids) if (flights.get(id)?.submission === submission) flights.delete(id);
          for (const flight of created) flight.reject(error);
        },
      );
    }

    for (const waited of waitedOn) waited.waiting += 1;
    let done = false;
    const leave = () => {
      if (done) return;
      done = true;
      for (const waited of waitedOn) if (--waited.waiting === 0) abandon(waited, signal.reason);
    };
    signal.addEventListener('abort', leave, { once: true });
    const all = Promise.all(rows.map((row) => Promise.resolve(row)));
    all.catch(() => {});
    try {
      const answer = await untilAborted(all, signal);
      done = true;
      return concatBatches(answer);
    } finally {
      signal.removeEventListener('abort', leave);
      // Failed for another reason (a computation it waited on failed): it waits on nothing any more.
      leave();
    }
  };
}
