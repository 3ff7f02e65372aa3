import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DynamicBatcher, QueueFullError, BatcherClosedError } from './batcher.js';

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
    const batcher = new DynamicBatcher(e.predict, { maxBatchSize: 16, maxBatchDelayMs: 20, maxQueue: 100 });
    const results = await Promise.all([batcher.submit([1, 2]), batcher.submit([3]), batcher.submit([4, 5, 6])]);
    assert.deepEqual(results, [[2, 4], [6], [8, 10, 12]]);
    assert.deepEqual(e.calls, [[1, 2, 3, 4, 5, 6]]);
  });

  it('runs at once when a full batch is waiting, without waiting for the delay', async () => {
    const e = engine();
    const batcher = new DynamicBatcher(e.predict, { maxBatchSize: 2, maxBatchDelayMs: 60_000, maxQueue: 100 });
    assert.deepEqual(await Promise.all([batcher.submit([1]), batcher.submit([2])]), [[2], [4]]);
  });

  it('never exceeds maxBatchSize, and never splits one request', async () => {
    const e = engine();
    e.hold();
    const batcher = new DynamicBatcher(e.predict, { maxBatchSize: 3, maxBatchDelayMs: 0, maxQueue: 100 });
    const first = batcher.submit([0]);
    await new Promise((resolve) => setImmediate(resolve));
    const rest = [batcher.submit([1, 2]), batcher.submit([3, 4]), batcher.submit([5, 6, 7, 8]), batcher.submit([9])];
    e.release();
    await first;
    assert.deepEqual(await Promise.all(rest), [[2, 4], [6, 8], [10, 12, 14, 16], [18]]);
    assert.deepEqual(e.calls, [[0], [1, 2], [3, 4], [5, 6, 7, 8], [9]]);
  });

  it('with maxBatchSize 1 runs every request alone (batching off)', async () => {
    const e = engine();
    const batcher = new DynamicBatcher(e.predict, { maxBatchSize: 1, maxBatchDelayMs: 5, maxQueue: 100 });
    await Promise.all([batcher.submit([1]), batcher.submit([2]), batcher.submit([3])]);
    assert.deepEqual(e.calls, [[1], [2], [3]]);
  });

  it("isolates a bad input: only its request fails, batch-mates get their answers", async () => {
    const e = engine();
    const batcher = new DynamicBatcher(e.predict, { maxBatchSize: 8, maxBatchDelayMs: 10, maxQueue: 100 });
    const settled = await Promise.allSettled([batcher.submit([1]), batcher.submit([-1, 2]), batcher.submit([3])]);
    assert.deepEqual(settled[0], { status: 'fulfilled', value: [2] });
    assert.equal(settled[1]?.status, 'rejected');
    assert.match(String((settled[1]).reason), /bad input -1/);
    assert.deepEqual(settled[2], { status: 'fulfilled', value: [6] });
  });

  it('refuses at once with QueueFullError when the queue is full', async () => {
    const e = engine();
    e.hold();
    const batcher = new DynamicBatcher(e.predict, { maxBatchSize: 1, maxBatchDelayMs: 0, maxQueue: 2 });
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
    const batcher = new DynamicBatcher(
      e.predict,
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

  it('fails queued requests on close and refuses new ones', async () => {
    const e = engine();
    e.hold();
    const batcher = new DynamicBatcher(e.predict, { maxBatchSize: 1, maxBatchDelayMs: 0, maxQueue: 10 });
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
    const batcher = new DynamicBatcher(e.predict, { maxBatchSize: 2, maxBatchDelayMs: 0, maxQueue: 100 });
    // The first submit alone already meets the zero delay; the call still starts only after
    // pending I/O (here: the next submits in the same tick), so all three share it up to the cap.
    const results = await Promise.all([batcher.submit([1]), batcher.submit([2]), batcher.submit([3])]);
    assert.deepEqual(results, [[2], [4], [6]]);
    assert.deepEqual(e.calls, [[1, 2], [3]]);
  });
});
