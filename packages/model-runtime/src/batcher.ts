/** Settings for {@link DynamicBatcher}. */
export interface BatcherOptions {
  /** Most texts per engine call; 1 turns batching off (every request runs alone). */
  maxBatchSize: number;
  /** How long the oldest waiting request may wait for company before its batch runs. */
  maxBatchDelayMs: number;
  /** Most texts waiting; beyond it requests are refused at once instead of queueing without bound. */
  maxQueue: number;
}

/** Hooks for metrics; all optional. */
export interface BatcherObserver {
  /** Texts waiting after a change. */
  queueLength?(texts: number): void;
  /** Each request's time in the queue when its batch starts. */
  queued?(seconds: number): void;
  /** Each engine call's size in texts and in requests. */
  batch?(texts: number, requests: number): void;
}

/** Thrown by {@link DynamicBatcher.submit} when the queue is full. */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
  constructor(readonly maxQueue: number) {
    super(`server overloaded: ${maxQueue} texts already queued`);
  }
}

/** Thrown for requests still queued when the batcher is closed. */
export class BatcherClosedError extends Error {
  override readonly name = 'BatcherClosedError';
  constructor() {
    super('batcher is closed');
  }
}

interface Pending<I, O> {
  items: readonly I[];
  enqueuedAt: number;
  resolve(outputs: O[]): void;
  reject(error: unknown): void;
}

/**
 * Dynamic batching wrapped around a `predict(items) → outputs` function, from outside it (as
 * MLServer's adaptive batching wraps a model): requests that arrive within `maxBatchDelayMs` of the
 * oldest waiting one are merged into one engine call of at most `maxBatchSize` items, and each
 * caller gets its own slice back, in order. One engine call runs at a time, which is also what a
 * single-threaded backend can do; requests arriving meanwhile form the next batch. A request larger
 * than `maxBatchSize` runs as its own call, never split, so its rows stay one computation.
 *
 * If a merged call fails, its requests are retried one by one, so one request's bad input fails
 * only that request.
 */
export class DynamicBatcher<I, O> {
  private readonly queue: Pending<I, O>[] = [];
  private queuedItems = 0;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private dispatching = false;

  constructor(
    private readonly predict: (items: readonly I[]) => Promise<O[]>,
    private readonly options: BatcherOptions,
    private readonly observer: BatcherObserver = {},
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(options.maxBatchSize >= 1)) throw new RangeError('maxBatchSize must be at least 1');
    if (!(options.maxBatchDelayMs >= 0)) throw new RangeError('maxBatchDelayMs must be non-negative');
    if (!(options.maxQueue >= 1)) throw new RangeError('maxQueue must be at least 1');
  }

  /** Texts waiting for an engine call (not counting the one running). */
  get queueLength(): number {
    return this.queuedItems;
  }

  /** Queues `items` and resolves with their outputs in order; rejects with QueueFullError at once when full. */
  submit(items: readonly I[]): Promise<O[]> {
    if (this.closed) return Promise.reject(new BatcherClosedError());
    if (items.length === 0) return Promise.resolve([]);
    // A request bigger than the whole queue could never be admitted; let it in when the queue is empty.
    if (this.queuedItems > 0 && this.queuedItems + items.length > this.options.maxQueue) {
      return Promise.reject(new QueueFullError(this.options.maxQueue));
    }
    return new Promise<O[]>((resolve, reject) => {
      this.queue.push({ items, enqueuedAt: this.now(), resolve, reject });
      this.queuedItems += items.length;
      this.observer.queueLength?.(this.queuedItems);
      this.schedule();
    });
  }

  /** Refuses new work, fails what is still queued, and waits for the running call. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    for (const pending of this.queue.splice(0)) pending.reject(new BatcherClosedError());
    this.queuedItems = 0;
    await this.running;
  }

  /** Resolves when nothing is queued or running (used to drain on shutdown). */
  async idle(): Promise<void> {
    while (this.running !== undefined || this.queue.length > 0) {
      await (this.running ?? new Promise((resolve) => setTimeout(resolve, this.options.maxBatchDelayMs)));
    }
  }

  private schedule(): void {
    if (this.running !== undefined || this.dispatching || this.queue.length === 0) return;
    const oldest = this.queue[0] as Pending<I, O>;
    const waited = this.now() - oldest.enqueuedAt;
    if (this.queuedItems >= this.options.maxBatchSize || waited >= this.options.maxBatchDelayMs) {
      clearTimeout(this.timer);
      this.timer = undefined;
      // Start after the event loop's poll phase: a single-threaded backend blocks the loop for the
      // whole engine call, so requests already waiting in sockets are read first, to join this
      // batch or be refused by the queue limit, instead of waiting unseen behind it.
      this.dispatching = true;
      setImmediate(() => {
        this.dispatching = false;
        if (this.closed || this.queue.length === 0) return;
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

  private takeBatch(): Pending<I, O>[] {
    const batch: Pending<I, O>[] = [];
    let size = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0] as Pending<I, O>;
      if (batch.length > 0 && size + next.items.length > this.options.maxBatchSize) break;
      batch.push(next);
      size += next.items.length;
      this.queue.shift();
    }
    this.queuedItems -= size;
    return batch;
  }

  private async runNext(): Promise<void> {
    const batch = this.takeBatch();
    const started = this.now();
    const items = batch.flatMap((pending) => pending.items);
    this.observer.queueLength?.(this.queuedItems);
    this.observer.batch?.(items.length, batch.length);
    for (const pending of batch) this.observer.queued?.((started - pending.enqueuedAt) / 1000);
    try {
      const outputs = await this.predict(items);
      if (outputs.length !== items.length) throw new Error(`predict returned ${outputs.length} rows for ${items.length}`);
      let offset = 0;
      for (const pending of batch) {
        pending.resolve(outputs.slice(offset, offset + pending.items.length));
        offset += pending.items.length;
      }
    } catch (error) {
      if (batch.length === 1) {
        batch[0]?.reject(error);
        return;
      }
      // Isolate the culprit: each request alone, so the others still get their answers.
      for (const pending of batch) {
        await this.predict(pending.items).then(
          (outputs) => pending.resolve(outputs),
          (reason: unknown) => pending.reject(reason),
        );
      }
    }
  }
}
