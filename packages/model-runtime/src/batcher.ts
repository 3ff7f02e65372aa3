import type { PredictOptions } from './model-runtime.js';

/** Settings for {@link DynamicBatcher}. */
export interface BatcherOptions {
  /** Most rows per engine call; 1 turns batching off. Larger requests run as several calls. */
  maxBatchSize: number;
  /** How long the oldest waiting request may wait for company before its batch runs. */
  maxBatchDelayMs: number;
  /** Most rows waiting; beyond it requests are refused at once instead of queueing without bound. */
  maxQueue: number;
  /** Most rows one client may have waiting (default: `maxQueue`), so one client cannot fill the queue. */
  maxQueuePerClient?: number;
  /**
   * Rows per part a request is cut into (default: `maxBatchSize`). A part never merges past
   * `maxBatchSize`, but one part always runs, so with batching off (`maxBatchSize` 1) a larger
   * part size still runs a large request in a few engine calls rather than one per row.
   */
  maxPartRows?: number;
  /**
   * Most work units (each row's, from {@link SubmitOptions.work}: e.g. encoder positions) per
   * engine call, and so per part (default: unbounded). Bounds how long one call keeps every other
   * client waiting; a single row heavier than this still runs, alone.
   */
  maxBatchWork?: number;
  /**
   * Most work units waiting (default: unbounded). A request of more than one part may fill only
   * {@link BULK_QUEUE_SHARE} of it, so requests of one part always find room beside bulk work.
   */
  maxQueueWork?: number;
  /** Most work units one client may have waiting (default: `maxQueueWork`). */
  maxQueueWorkPerClient?: number;
  /** What a work unit is, for refusal messages (default `work units`). */
  workUnit?: string;
}

/**
 * The share of `maxQueueWork` that requests of more than one part may fill: the rest is kept for
 * requests of one part, so that bulk work, however much of it arrives, never refuses everyone.
 */
export const BULK_QUEUE_SHARE = 0.75;

/** Hooks for metrics; all optional. */
export interface BatcherObserver {
  /** Rows waiting after a change. */
  queueLength?(rows: number): void;
  /** Each part's time in the queue when its batch starts. */
  queued?(seconds: number): void;
  /** Each engine call's size in rows and in request parts. */
  batch?(rows: number, parts: number): void;
  /**
   * Rows never computed because their request was abandoned (`cancelled`) or ran out of time
   * (`deadline`): dropped from the queue, or skipped by the engine inside a call already started.
   */
  dropped?(rows: number, reason: DropReason): void;
}

export type DropReason = 'cancelled' | 'deadline';

/** How the batcher counts, cuts and joins the rows of inputs and outputs. */
export interface RowCodec<T> {
  rows(value: T): number;
  slice(value: T, start: number, end: number): T;
  concat(values: readonly T[]): T;
}

/** Rows of a plain array. */
export function arrayRows<E>(): RowCodec<readonly E[]> {
  return {
    rows: (value) => value.length,
    slice: (value, start, end) => value.slice(start, end),
    concat: (values) => values.flat<readonly (readonly E[])[]>(),
  };
}

/** Thrown by {@link DynamicBatcher.submit} when the queue, or the client's share of it, is full. */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
  constructor(
    readonly limit: number,
    /** `server`: the whole queue is full; `client`: this client's share is. */
    readonly scope: 'server' | 'client',
    /** What `limit` counts: `rows`, or the batcher's work unit. */
    readonly unit = 'rows',
  ) {
    super(
      scope === 'server'
        ? `server overloaded: ${limit} ${unit} already queued`
        : `too many queued ${unit} from this client (limit ${limit}); retry later`,
    );
  }
}

/** Thrown for requests still queued when the batcher is closed. */
export class BatcherClosedError extends Error {
  override readonly name = 'BatcherClosedError';
  constructor() {
    super('batcher is closed');
  }
}

/** Options of one {@link DynamicBatcher.submit}. */
export interface SubmitOptions {
  /**
   * Aborting it (the client went away, or its deadline passed: `AbortSignal.timeout` reasons are
   * `TimeoutError`s) drops the request's unstarted rows and rejects it with the signal's reason.
   */
  signal?: AbortSignal;
  /** Who asked; the queue is shared round-robin between clients. */
  client?: string;
  /** Each row's work units (e.g. its encoder positions), for the work limits; default 0 per row. */
  work?: readonly number[];
  /**
   * Told each time some of the request's rows leave the queue for an engine call: how many, and
   * how long they waited (ms). Rows not yet told of when the request fails were still queued.
   */
  onDequeue?: (rows: number, waitedMs: number) => void;
}

interface Request<I, O> {
  readonly inputs: I;
  readonly client: string;
  readonly onDequeue: SubmitOptions['onDequeue'];
  readonly signal: AbortSignal | undefined;
  readonly outputs: (O | undefined)[];
  readonly parts: number;
  done: number;
  settled: boolean;
  resolve(outputs: O): void;
  reject(error: unknown): void;
  release(): void;
}

interface Part<I, O> {
  readonly request: Request<I, O>;
  readonly index: number;
  readonly start: number;
  readonly end: number;
  /** Work units of its rows. */
  readonly work: number;
  readonly enqueuedAt: number;
}

const rowsOf = (part: Part<unknown, unknown>) => part.end - part.start;

/** Why a request was abandoned, from its signal's reason (`AbortSignal.timeout` reasons are `TimeoutError`s). */
function dropReason(reason: unknown): DropReason {
  return reason instanceof Error && reason.name === 'TimeoutError' ? 'deadline' : 'cancelled';
}

/**
 * Dynamic batching wrapped around a `predict(inputs) → outputs` function from outside it (as
 * MLServer's adaptive batching wraps a model). Requests are cut into parts of at most
 * `maxBatchSize` rows; parts that arrive within `maxBatchDelayMs` of the oldest waiting one are
 * merged into one engine call of at most `maxBatchSize` rows, and each caller gets its rows back in
 * order. One engine call runs at a time, which is also what a single-threaded backend can do.
 *
 * Fairness: each client has its own queue and batches take parts round-robin across clients, a
 * client with nothing queued first, so a client with a thousand queued rows delays another
 * client's request by the batch running, not a thousand rows. Parts and batches are bounded in
 * rows and in work units (a text's encoder positions), so one engine call stays short. Cancellation: an aborted request's queued parts are dropped, and each engine call
 * gets its rows' signals, so the engine skips the work of requests abandoned while it runs (what it
 * skipped is counted as dropped). If a merged call fails, its parts are retried one by one, so one
 * request's bad input fails only that request.
 */
export class DynamicBatcher<I, O> {
  /** Per-client queues; Map order is the round-robin order (a served client moves to the end). */
  private readonly queues = new Map<string, Part<I, O>[]>();
  private readonly clientRows = new Map<string, number>();
  private readonly clientWork = new Map<string, number>();
  /** Clients that joined with nothing queued and have not been served since: first in the round-robin order. */
  private readonly unserved = new Set<string>();
  private queuedRows = 0;
  private queuedWork = 0;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private dispatching = false;
  private readonly maxQueuePerClient: number;
  private readonly maxBatchWork: number;
  private readonly maxQueueWork: number;
  private readonly maxQueueWorkPerClient: number;

  constructor(
    /** One engine call; `options` carries each row's signal and hears which rows the engine skipped. */
    private readonly predict: (inputs: I, options: PredictOptions) => Promise<O>,
    private readonly options: BatcherOptions,
    private readonly codecs: { input: RowCodec<I>; output: RowCodec<O> },
    private readonly observer: BatcherObserver = {},
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(options.maxBatchSize >= 1)) throw new RangeError('maxBatchSize must be at least 1');
    if (!(options.maxBatchDelayMs >= 0)) throw new RangeError('maxBatchDelayMs must be non-negative');
    if (!(options.maxQueue >= 1)) throw new RangeError('maxQueue must be at least 1');
    this.maxQueuePerClient = options.maxQueuePerClient ?? options.maxQueue;
    if (!(this.maxQueuePerClient >= 1)) throw new RangeError('maxQueuePerClient must be at least 1');
    this.maxBatchWork = options.maxBatchWork ?? Infinity;
    this.maxQueueWork = options.maxQueueWork ?? Infinity;
    this.maxQueueWorkPerClient = options.maxQueueWorkPerClient ?? this.maxQueueWork;
    if (!(this.maxBatchWork > 0 && this.maxQueueWork > 0 && this.maxQueueWorkPerClient > 0)) throw new RangeError('work limits must be positive');
  }

  /** Work units waiting for an engine call (not counting the one running). */
  get queuedWorkUnits(): number {
    return this.queuedWork;
  }

  /** Rows waiting for an engine call (not counting the one running). */
  get queueLength(): number {
    return this.queuedRows;
  }

  /**
   * Queues `inputs` and resolves with their outputs in order. Rejects at once with QueueFullError
   * when the queue or the client's share is full, and with the signal's reason when aborted.
   */
  submit(inputs: I, options: SubmitOptions = {}): Promise<O> {
    if (this.closed) return Promise.reject(new BatcherClosedError());
    const { signal, client = '' } = options;
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
    const rows = this.codecs.input.rows(inputs);
    if (rows === 0) return Promise.reject(new RangeError('nothing to predict'));
    if (options.work !== undefined && options.work.length !== rows) return Promise.reject(new RangeError('one work count per row'));
    const cuts = this.cut(rows, options.work);
    const work = cuts.reduce((sum, cut) => sum + cut.work, 0);
    const refusal = this.refusal(client, rows, work, cuts.length > 1);
    if (refusal !== undefined) return Promise.reject(refusal);
    return new Promise<O>((resolve, reject) => {
      const onAbort = () => this.abandon(request, signal?.reason);
      const request: Request<I, O> = {
        inputs,
        client,
        onDequeue: options.onDequeue,
        signal,
        outputs: new Array<O | undefined>(cuts.length).fill(undefined),
        parts: cuts.length,
        done: 0,
        settled: false,
        resolve,
        reject,
        release: () => signal?.removeEventListener('abort', onAbort),
      };
      const enqueuedAt = this.now();
      const waiting = this.queues.get(client);
      const queue = waiting ?? [];
      cuts.forEach((cut, index) => queue.push({ request, index, ...cut, enqueuedAt }));
      if (waiting === undefined) this.joinFirst(client, queue);
      this.account(client, rows, work);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.observer.queueLength?.(this.queuedRows);
      this.schedule();
    });
  }

  /**
   * A client with nothing queued joins the round-robin order ahead of every client already served
   * (behind other newcomers, in the order they came), as FQ-CoDel serves new flows first: a client
   * sending a request now and then waits for the call running, not for another client's next part.
   */
  private joinFirst(client: string, queue: Part<I, O>[]): void {
    const entries = [...this.queues];
    this.queues.clear();
    for (const [other, parts] of entries) if (this.unserved.has(other)) this.queues.set(other, parts);
    this.queues.set(client, queue);
    for (const [other, parts] of entries) if (!this.unserved.has(other)) this.queues.set(other, parts);
    this.unserved.add(client);
  }

  /**
   * A request's rows cut into parts of at most `maxPartRows` rows and `maxBatchWork` work units
   * (a row heavier than that is a part of its own).
   */
  private cut(rows: number, work: readonly number[] | undefined): { start: number; end: number; work: number }[] {
    const size = this.options.maxPartRows ?? this.options.maxBatchSize;
    const cuts: { start: number; end: number; work: number }[] = [];
    let start = 0;
    let sum = 0;
    for (let row = 0; row < rows; row += 1) {
      const weight = work?.[row] ?? 0;
      if (row > start && (row - start >= size || sum + weight > this.maxBatchWork)) {
        cuts.push({ start, end: row, work: sum });
        start = row;
        sum = 0;
      }
      sum += weight;
    }
    cuts.push({ start, end: rows, work: sum });
    return cuts;
  }

  /**
   * Why a request of `rows` rows and `work` units cannot be queued now, if it cannot. A request
   * larger than a whole limit could never be admitted, so it is let in when nothing of that limit
   * is queued; a request of several parts (`bulk`) fills at most {@link BULK_QUEUE_SHARE} of the
   * queue's work.
   */
  private refusal(client: string, rows: number, work: number, bulk: boolean): QueueFullError | undefined {
    const unit = this.options.workUnit ?? 'work units';
    const over = (queued: number, adding: number, limit: number) => queued > 0 && queued + adding > limit;
    if (over(this.queuedRows, rows, this.options.maxQueue)) return new QueueFullError(this.options.maxQueue, 'server');
    const workLimit = bulk ? Math.floor(this.maxQueueWork * BULK_QUEUE_SHARE) : this.maxQueueWork;
    if (work > 0 && over(this.queuedWork, work, workLimit)) return new QueueFullError(workLimit, 'server', unit);
    if (over(this.clientRows.get(client) ?? 0, rows, this.maxQueuePerClient)) return new QueueFullError(this.maxQueuePerClient, 'client');
    if (work > 0 && over(this.clientWork.get(client) ?? 0, work, this.maxQueueWorkPerClient)) {
      return new QueueFullError(this.maxQueueWorkPerClient, 'client', unit);
    }
    return undefined;
  }

  /** Refuses new work, fails what is still queued, and waits for the running call. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const requests = new Set([...this.queues.values()].flat().map((part) => part.request));
    this.queues.clear();
    this.unserved.clear();
    this.clientRows.clear();
    this.clientWork.clear();
    this.queuedRows = 0;
    this.queuedWork = 0;
    for (const request of requests) this.fail(request, new BatcherClosedError());
    await this.running;
  }

  /** Resolves when nothing is queued or running (used to drain on shutdown). */
  async idle(): Promise<void> {
    while (this.running !== undefined || this.queuedRows > 0) {
      await (this.running ?? new Promise((resolve) => setTimeout(resolve, Math.max(1, this.options.maxBatchDelayMs))));
    }
  }

  /** Drops every queued part of `request` and rejects it. */
  private abandon(request: Request<I, O>, reason: unknown): void {
    if (request.settled) return;
    const dropped = this.removeQueued(request);
    if (dropped > 0) this.observer.dropped?.(dropped, dropReason(reason));
    this.fail(request, reason);
  }

  private removeQueued(request: Request<I, O>): number {
    const queue = this.queues.get(request.client);
    if (queue === undefined) return 0;
    const kept = queue.filter((part) => part.request !== request);
    const parts = queue.filter((part) => part.request === request);
    const removed = parts.reduce((sum, part) => sum + rowsOf(part), 0);
    if (removed === 0) return 0;
    if (kept.length === 0) {
      this.queues.delete(request.client);
      this.unserved.delete(request.client);
    } else {
      this.queues.set(request.client, kept);
    }
    this.account(request.client, -removed, -parts.reduce((sum, part) => sum + part.work, 0));
    this.observer.queueLength?.(this.queuedRows);
    return removed;
  }

  private account(client: string, rows: number, work: number): void {
    this.queuedRows += rows;
    this.queuedWork += work;
    const left = (this.clientRows.get(client) ?? 0) + rows;
    if (left > 0) this.clientRows.set(client, left);
    else this.clientRows.delete(client);
    const leftWork = (this.clientWork.get(client) ?? 0) + work;
    if (leftWork > 0 && left > 0) this.clientWork.set(client, leftWork);
    else this.clientWork.delete(client);
  }

  private fail(request: Request<I, O>, error: unknown): void {
    if (request.settled) return;
    request.settled = true;
    request.release();
    request.reject(error);
  }

  private oldestWait(): number {
    let oldest = Infinity;
    for (const queue of this.queues.values()) oldest = Math.min(oldest, queue[0]?.enqueuedAt ?? Infinity);
    return this.now() - oldest;
  }

  private schedule(): void {
    if (this.running !== undefined || this.dispatching || this.queuedRows === 0) return;
    const waited = this.oldestWait();
    if (this.queuedRows >= this.options.maxBatchSize || waited >= this.options.maxBatchDelayMs) {
      clearTimeout(this.timer);
      this.timer = undefined;
      // Start after the event loop's poll phase: a single-threaded backend blocks the loop for the
      // whole engine call, so requests already waiting in sockets are read first, to join this
      // batch or be refused by the queue limit, instead of waiting unseen behind it.
      this.dispatching = true;
      setImmediate(() => {
        this.dispatching = false;
        if (this.closed || this.queuedRows === 0) return;
        this.running = this.runNext().finally(() => {
          this.running = undefined;
          this.schedule();
        });
      });
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, this.options.maxBatchDelayMs - waited);
    }
  }

  /** Up to `maxBatchSize` rows and `maxBatchWork` work units, taking each client's next part in turn. */
  private takeBatch(): Part<I, O>[] {
    const batch: Part<I, O>[] = [];
    let size = 0;
    let work = 0;
    let progress = true;
    while (progress && size < this.options.maxBatchSize && work < this.maxBatchWork) {
      progress = false;
      for (const client of [...this.queues.keys()]) {
        const queue = this.queues.get(client) as Part<I, O>[];
        const next = queue[0] as Part<I, O>;
        if (batch.length > 0 && (size + rowsOf(next) > this.options.maxBatchSize || work + next.work > this.maxBatchWork)) continue;
        queue.shift();
        this.queues.delete(client);
        this.unserved.delete(client);
        if (queue.length > 0) this.queues.set(client, queue);
        this.account(client, -rowsOf(next), -next.work);
        batch.push(next);
        size += rowsOf(next);
        work += next.work;
        progress = true;
        if (size >= this.options.maxBatchSize || work >= this.maxBatchWork) break;
      }
    }
    return batch;
  }

  private async runNext(): Promise<void> {
    const batch = this.takeBatch();
    if (batch.length === 0) return;
    const started = this.now();
    const { input, output } = this.codecs;
    this.observer.queueLength?.(this.queuedRows);
    this.observer.batch?.(
      batch.reduce((sum, part) => sum + rowsOf(part), 0),
      batch.length,
    );
    for (const part of batch) {
      this.observer.queued?.((started - part.enqueuedAt) / 1000);
      part.request.onDequeue?.(rowsOf(part), started - part.enqueuedAt);
    }
    const slices = batch.map((part) => input.slice(part.request.inputs, part.start, part.end));
    try {
      const outputs = await this.predict(input.concat(slices), this.callOptions(batch));
      const expected = slices.reduce((sum, slice) => sum + input.rows(slice), 0);
      if (output.rows(outputs) !== expected) throw new Error(`predict returned ${output.rows(outputs)} rows for ${expected}`);
      let offset = 0;
      for (const part of batch) {
        this.complete(part, output.slice(outputs, offset, offset + rowsOf(part)));
        offset += rowsOf(part);
      }
    } catch (error) {
      if (batch.length === 1) {
        this.failPart(batch[0] as Part<I, O>, error);
        return;
      }
      // Isolate the culprit: each part alone, so the others still get their answers.
      for (const [i, part] of batch.entries()) {
        if (part.request.settled) continue;
        await this.predict(slices[i] as I, this.callOptions([part])).then(
          (outputs) => this.complete(part, outputs),
          (reason: unknown) => this.failPart(part, reason),
        );
      }
    }
  }

  /** Each row's signal for an engine call over `parts`, and the count of what the engine skipped. */
  private callOptions(parts: readonly Part<I, O>[]): PredictOptions {
    const owners = parts.flatMap((part) => Array.from({ length: rowsOf(part) }, () => part.request));
    return {
      rowSignals: owners.map((request) => request.signal),
      onSkipped: (rows) => {
        const counts = new Map<DropReason, number>();
        for (const row of rows) {
          const reason = dropReason(owners[row]?.signal?.reason);
          counts.set(reason, (counts.get(reason) ?? 0) + 1);
        }
        for (const [reason, count] of counts) this.observer.dropped?.(count, reason);
      },
    };
  }

  private complete(part: Part<I, O>, outputs: O): void {
    const request = part.request;
    if (request.settled) return;
    request.outputs[part.index] = outputs;
    request.done += 1;
    if (request.done === request.parts) {
      request.settled = true;
      request.release();
      request.resolve(this.codecs.output.concat(request.outputs as O[]));
    }
  }

  private failPart(part: Part<I, O>, error: unknown): void {
    if (part.request.settled) return;
    this.removeQueued(part.request);
    this.fail(part.request, error);
  }
}
