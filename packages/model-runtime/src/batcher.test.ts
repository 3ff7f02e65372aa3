import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BULK_QUEUE_SHARE, DynamicBatcher, QueueFullError, BatcherClosedError, arrayRows, type BatcherObserver, type BatcherOptions } from './batcher.js';
import type { PredictOptions } from './model-runtime.js';

const codecs = { input: arrayRows<number>(), output: arrayRows<number>() };

function batcherOf(predict: (items: readonly number[]) => Promise<number[]>, options: BatcherOptions, observer?: BatcherObserver) {
  return new DynamicBatcher<readonly number[], readonly number[]>(predict, options, codecs, observer);
}

/** An engine that doubles numbers, records each call, and can be held until released. */
function engine() {
  const calls: number[][] = [];
  let gate: Promise<void> = Promise.resolve();
  let open: () => void = () => {};
  return {
    calls,
    hold() {
      gate = new Promise((resolve) => (open = resolve));
    },
    release: () => open(),
    predict: async (items: readonly number[]) => {
      calls.push([...items]);
      await gate;
      if (items.includes(-1)) throw new Error('bad input -1');
      return items.map((n) => n * 2);
    },
  };
}

describe('DynamicBatcher', () => {
  it('merges requests that arrive within the delay into one call and splits results in order', async () => {
    const e = engine();
    const batcher = batcherOf(e.predict, { maxBatchSize: 16, maxBatchDelayMs: 20, maxQueue: 100 });
    const results = await Promise.all([batcher.submit([1, 2]), batcher.submit([3]), batcher.submit([4, 5, 6])]);
    assert.deepEqual(results, [[2, 4], [6], [8, 10, 12]]);
    assert.deepEqual(e.calls, [[1, 2, 3, 4, 5, 6]]);
  });

  it('runs at once when a full batch is waiting, without waiting for the delay', async () => {
    const e = engine();
    const batcher = batcherOf(e.predict, { maxBatchSize: 2, maxBatchDelayMs: 60_000, maxQueue: 100 });
    assert.deepEqual(await Promise.all([batcher.submit([1]), batcher.submit([2])]), [[2], [4]]);
  });

  it('never exceeds maxBatchSize, cutting a larger request into parts', async () => {
    const e = engine();
    e.hold();
    const batcher = batcherOf(e.predict, { maxBatchSize: 3, maxBatchDelayMs: 0, maxQueue: 100 });
    const first = batcher.submit([0]);
    await new Promise((resolve) => setImmediate(resolve));
    const rest = [batcher.submit([1, 2]), batcher.submit([3, 4]), batcher.submit([5, 6, 7, 8]), batcher.submit([9])];
    e.release();
    await first;
    assert.deepEqual(await Promise.all(rest), [[2, 4], [6, 8], [10, 12, 14, 16], [18]]);
    assert.deepEqual(e.calls, [[0], [1, 2], [3, 4], [5, 6, 7], [8, 9]]);
  });

  it('with batching off, runs each request alone, in parts of maxPartRows', async () => {
    const e = engine();
    const batcher = batcherOf(e.predict, { maxBatchSize: 1, maxPartRows: 3, maxBatchDelayMs: 0, maxQueue: 100 });
    await Promise.all([batcher.submit([1, 2, 3, 4]), batcher.submit([5])]);
    assert.deepEqual(e.calls, [[1, 2, 3], [4], [5]]);
  });

  it('with maxBatchSize 1 runs every request alone (batching off)', async () => {
    const e = engine();
    const batcher = batcherOf(e.predict, { maxBatchSize: 1, maxBatchDelayMs: 5, maxQueue: 100 });
    await Promise.all([batcher.submit([1]), batcher.submit([2]), batcher.submit([3])]);
    assert.deepEqual(e.calls, [[1], [2], [3]]);
  });

  it("isolates a bad input: only its request fails, batch-mates get their answers", async () => {
    const e = engine();
    const batcher = batcherOf(e.predict, { maxBatchSize: 8, maxBatchDelayMs: 10, maxQueue: 100 });
    const settled = await Promise.allSettled([batcher.submit([1]), batcher.submit([-1, 2]), batcher.submit([3])]);
    assert.deepEqual(settled[0], { status: 'fulfilled', value: [2] });
    assert.equal(settled[1]?.status, 'rejected');
    assert.match(String((settled[1]).reason), /bad input -1/);
    assert.deepEqual(settled[2], { status: 'fulfilled', value: [6] });
  });

  it('refuses at once with QueueFullError when the queue is full', async () => {
    const e = engine();
    e.hold();
    const batcher = batcherOf(e.predict, { maxBatchSize: 1, maxBatchDelayMs: 0, maxQueue: 2 });
    const running = batcher.submit([1]);
    await new Promise((resolve) => setImmediate(resolve));
    const queued = [batcher.submit([2]), batcher.submit([3])];
    await assert.rejects(batcher.submit([4]), QueueFullError);
    assert.equal(batcher.queueLength, 2);
    e.release();
    assert.deepEqual(await Promise.all([running, ...queued]), [[2], [4], [6]]);
  });

  it('reports queue length, queue time and batch sizes to its observer', async () => {
    const e = engine();
    const seen = { lengths: [] as number[], queued: 0, batches: [] as number[] };
    const batcher = batcherOf(e.predict,
      { maxBatchSize: 8, maxBatchDelayMs: 5, maxQueue: 100 },
      {
        queueLength: (n) => seen.lengths.push(n),
        queued: () => (seen.queued += 1),
        batch: (texts) => seen.batches.push(texts),
      },
    );
    await Promise.all([batcher.submit([1, 2]), batcher.submit([3])]);
    assert.deepEqual(seen.batches, [3]);
    assert.equal(seen.queued, 2);
    assert.deepEqual(seen.lengths, [2, 3, 0]);
  });

  it('drops the unstarted parts of an abandoned request and counts them', async () => {
    const e = engine();
    e.hold();
    const dropped: [number, string][] = [];
    const batcher = batcherOf(e.predict, { maxBatchSize: 2, maxBatchDelayMs: 0, maxQueue: 100 }, {
      dropped: (rows, reason) => dropped.push([rows, reason]),
    });
    const controller = new AbortController();
    const big = batcher.submit([1, 2, 3, 4, 5, 6], { signal: controller.signal });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(e.calls, [[1, 2]]);
    controller.abort(new Error('client went away'));
    await assert.rejects(big, /client went away/);
    assert.equal(batcher.queueLength, 0);
    assert.deepEqual(dropped, [[4, 'cancelled']]);
    e.release();
    await batcher.idle();
    // The running call finished; nothing after it ran for nobody.
    assert.deepEqual(e.calls, [[1, 2]]);
  });

  it("tells a request each time some of its rows leave the queue, with how long they waited", async () => {
    const e = engine();
    e.hold();
    let now = 0;
    const batcher = new DynamicBatcher<readonly number[], readonly number[]>(e.predict, { maxBatchSize: 2, maxBatchDelayMs: 0, maxQueue: 100 }, codecs, {}, () => now);
    const dequeued: [number, number][] = [];
    const done = batcher.submit([1, 2, 3], { onDequeue: (rows, waitedMs) => dequeued.push([rows, waitedMs]) });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(dequeued, [[2, 0]]);
    now = 40;
    e.release();
    await done;
    assert.deepEqual(dequeued, [[2, 0], [1, 40]]);
  });

  it('counts a deadline (TimeoutError) separately and refuses an already-aborted request', async () => {
    const e = engine();
    e.hold();
    const dropped: string[] = [];
    const batcher = batcherOf(e.predict, { maxBatchSize: 1, maxBatchDelayMs: 0, maxQueue: 100 }, {
      dropped: (_rows, reason) => dropped.push(reason),
    });
    const first = batcher.submit([1]);
    await new Promise((resolve) => setImmediate(resolve));
    const late = batcher.submit([2], { signal: AbortSignal.timeout(5) });
    // AbortSignal.timeout's timer does not keep the process alive; a server's sockets would.
    const alive = setTimeout(() => {}, 1000);
    await assert.rejects(late, { name: 'TimeoutError' });
    clearTimeout(alive);
    assert.deepEqual(dropped, ['deadline']);
    const gone = new AbortController();
    gone.abort(new Error('gone'));
    await assert.rejects(batcher.submit([3], { signal: gone.signal }), /gone/);
    e.release();
    assert.deepEqual(await first, [2]);
    assert.deepEqual(e.calls, [[1]]);
  });

  it("gives the engine each row's signal and counts the rows it skips inside a running call as dropped", async () => {
    const computed: number[] = [];
    let open: () => void = () => {};
    const rest = new Promise<void>((resolve) => (open = resolve));
    // An engine that computes row by row (one planned call each) and skips abandoned rows.
    const predict = async (items: readonly number[], options: PredictOptions) => {
      const skipped: number[] = [];
      const out: number[] = [];
      for (const [row, item] of items.entries()) {
        if (row > 0) await rest;
        if (options.rowSignals?.[row]?.aborted === true) {
          skipped.push(row);
          out.push(0);
          continue;
        }
        computed.push(item);
        out.push(item * 2);
      }
      options.onSkipped?.(skipped);
      return out;
    };
    const dropped: [number, string][] = [];
    const batcher = new DynamicBatcher<readonly number[], readonly number[]>(predict, { maxBatchSize: 8, maxBatchDelayMs: 0, maxQueue: 100 }, codecs, {
      dropped: (rows, reason) => dropped.push([rows, reason]),
    });
    const cancelled = new AbortController();
    const expired = new AbortController();
    const a = batcher.submit([1, 2], { signal: cancelled.signal, client: 'a' });
    const b = batcher.submit([3, 4], { signal: expired.signal, client: 'b' });
    const c = batcher.submit([5, 6], { client: 'c' });
    while (computed.length === 0) await new Promise((resolve) => setImmediate(resolve));
    cancelled.abort(new Error('client went away'));
    expired.abort(new DOMException('deadline passed', 'TimeoutError'));
    await assert.rejects(a, /client went away/);
    await assert.rejects(b, { name: 'TimeoutError' });
    open();
    assert.deepEqual(await c, [10, 12]);
    await batcher.idle();
    assert.deepEqual(computed, [1, 5, 6], 'only the first row ran before the abandonments');
    assert.deepEqual(
      dropped.sort(([, x], [, y]) => x.localeCompare(y)),
      [
        [1, 'cancelled'],
        [2, 'deadline'],
      ],
    );
  });

  it('puts a client with nothing queued ahead of a client already served', async () => {
    const e = engine();
    e.hold();
    const batcher = batcherOf(e.predict, { maxBatchSize: 2, maxBatchDelayMs: 0, maxQueue: 100 });
    const flood = batcher.submit([1, 1, 1, 1, 1, 1], { client: 'a' });
    await new Promise((resolve) => setImmediate(resolve));
    // a's first part is in the engine; b arrives and goes before a's next part.
    const other = batcher.submit([7], { client: 'b' });
    e.release();
    await Promise.all([flood, other]);
    assert.deepEqual(e.calls, [[1, 1], [7], [1, 1], [1, 1]]);
  });

  it('shares batches round-robin between clients', async () => {
    const e = engine();
    e.hold();
    const batcher = batcherOf(e.predict, { maxBatchSize: 2, maxBatchDelayMs: 0, maxQueue: 100 });
    const blocker = batcher.submit([0], { client: 'x' });
    await new Promise((resolve) => setImmediate(resolve));
    const flood = batcher.submit([1, 1, 1, 1, 1, 1, 1, 1], { client: 'a' });
    const other = batcher.submit([7], { client: 'b' });
    e.release();
    await Promise.all([blocker, flood, other]);
    // a's eight rows are four parts of two; b waits for one of them, not for all four.
    assert.deepEqual(e.calls, [[0], [1, 1], [7], [1, 1], [1, 1], [1, 1]]);
  });

  it("limits each client's share of the queue", async () => {
    const e = engine();
    e.hold();
    const batcher = batcherOf(e.predict, { maxBatchSize: 1, maxBatchDelayMs: 0, maxQueue: 100, maxQueuePerClient: 3 });
    const running = batcher.submit([0], { client: 'a' });
    await new Promise((resolve) => setImmediate(resolve));
    const queued = batcher.submit([1, 2, 3], { client: 'a' });
    await assert.rejects(batcher.submit([4], { client: 'a' }), (error: unknown) => error instanceof QueueFullError && error.scope === 'client');
    const fromB = batcher.submit([5], { client: 'b' });
    e.release();
    assert.deepEqual(await Promise.all([running, queued, fromB]), [[0], [2, 4, 6], [10]]);
  });

  it('fails queued requests on close and refuses new ones', async () => {
    const e = engine();
    e.hold();
    const batcher = batcherOf(e.predict, { maxBatchSize: 1, maxBatchDelayMs: 0, maxQueue: 10 });
    const running = batcher.submit([1]);
    await new Promise((resolve) => setImmediate(resolve));
    const queued = batcher.submit([2]);
    const closing = batcher.close();
    await assert.rejects(queued, BatcherClosedError);
    await assert.rejects(batcher.submit([3]), BatcherClosedError);
    e.release();
    assert.deepEqual(await running, [2]);
    await closing;
  });

  it('reads requests that arrive before the engine call starts into the same batch', async () => {
    const e = engine();
    const batcher = batcherOf(e.predict, { maxBatchSize: 2, maxBatchDelayMs: 0, maxQueue: 100 });
    // The first submit alone already meets the zero delay; the call still starts only after
    // pending I/O (here: the next submits in the same tick), so all three share it up to the cap.
    const results = await Promise.all([batcher.submit([1]), batcher.submit([2]), batcher.submit([3])]);
    assert.deepEqual(results, [[2], [4], [6]]);
    assert.deepEqual(e.calls, [[1, 2], [3]]);
  });
});

describe('DynamicBatcher work units', () => {
  /** Work of a row: the number itself (so tests read the work off the inputs). */
  const workOf = (items: readonly number[]) => ({ work: items.map((n) => Math.abs(n)) });
  const sum = (items: readonly number[]) => items.reduce((a, b) => a + b, 0);

  it('cuts a request into parts of at most maxBatchWork, and never merges a batch past it', async () => {
    const e = engine();
    e.hold();
    const batcher = batcherOf(e.predict, { maxBatchSize: 100, maxBatchWork: 10, maxBatchDelayMs: 0, maxQueue: 100 });
    const blocker = batcher.submit([1]);
    await new Promise((resolve) => setImmediate(resolve));
    const bulk = batcher.submit([4, 4, 4, 4, 30, 2], workOf([4, 4, 4, 4, 30, 2]));
    const small = batcher.submit([3], { client: 'b', ...workOf([3]) });
    e.release();
    assert.deepEqual(await bulk, [8, 8, 8, 8, 60, 4]);
    assert.deepEqual(await small, [6]);
    await blocker;
    // Parts [4, 4] [4, 4] [30] [2]; b's row waits for one part, not for the whole request (8 + 3 > 10).
    assert.deepEqual(e.calls, [[1], [4, 4], [3], [4, 4], [30], [2]]);
    for (const call of e.calls.slice(1)) assert.ok(call.length === 1 || sum(call) <= 10, `call ${call.join(',')} over the work limit`);
  });

  it('lets a request of several parts fill only a share of the queue’s work; one-part requests still get in', async () => {
    const e = engine();
    e.hold();
    const options = { maxBatchSize: 100, maxBatchWork: 10, maxBatchDelayMs: 0, maxQueue: 1000, maxQueueWork: 100, workUnit: 'positions' };
    const batcher = batcherOf(e.predict, options);
    const blocker = batcher.submit([1]);
    await new Promise((resolve) => setImmediate(resolve));
    const first = batcher.submit(Array<number>(7).fill(10), { client: 'a', ...workOf(Array<number>(7).fill(10)) });
    // 70 queued; another bulk request of 10 would take the queue past 75 % of 100.
    await assert.rejects(batcher.submit([5, 5, 5], { client: 'b', ...workOf([5, 5, 5]) }), (error: unknown) => {
      assert.ok(error instanceof QueueFullError);
      assert.equal(error.scope, 'server');
      assert.equal(error.limit, 100 * BULK_QUEUE_SHARE);
      assert.match(error.message, /75 positions already queued/);
      return true;
    });
    // A request of one part still finds room in the rest of the queue.
    const small = batcher.submit([9], { client: 'c', ...workOf([9]) });
    await assert.rejects(batcher.submit([9, 9, 9], { client: 'd', ...workOf([9, 9, 9]) }), QueueFullError);
    assert.equal(batcher.queuedWorkUnits, 79);
    e.release();
    await Promise.all([blocker, first, small]);
    assert.equal(batcher.queuedWorkUnits, 0);
  });

  it("limits each client's share of the queue's work, and gives the work back when a request is abandoned", async () => {
    const e = engine();
    e.hold();
    const batcher = batcherOf(e.predict, { maxBatchSize: 1, maxBatchDelayMs: 0, maxQueue: 100, maxQueueWork: 1000, maxQueueWorkPerClient: 20 });
    const running = batcher.submit([1], { client: 'a' });
    await new Promise((resolve) => setImmediate(resolve));
    const abandon = new AbortController();
    const queued = batcher.submit([15], { client: 'a', signal: abandon.signal, ...workOf([15]) });
    await assert.rejects(batcher.submit([6], { client: 'a', ...workOf([6]) }), (error: unknown) => error instanceof QueueFullError && error.scope === 'client');
    const fromB = batcher.submit([6], { client: 'b', ...workOf([6]) });
    abandon.abort(new Error('gone'));
    await assert.rejects(queued, /gone/);
    const again = batcher.submit([6], { client: 'a', ...workOf([6]) });
    e.release();
    assert.deepEqual(await Promise.all([running, fromB, again]), [[2], [12], [12]]);
  });

  it('admits a request heavier than a whole limit when nothing is queued', async () => {
    const e = engine();
    const batcher = batcherOf(e.predict, { maxBatchSize: 4, maxBatchWork: 10, maxBatchDelayMs: 0, maxQueue: 100, maxQueueWork: 20 });
    assert.deepEqual(await batcher.submit([50], workOf([50])), [100]);
    await assert.rejects(batcher.submit([1, 2], { work: [1] }), RangeError);
  });
});
