import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type * as tf from '@tensorflow/tfjs-core';
import {
  MAX_CALL_POSITIONS,
  createModelRuntime,
  createWorkerRuntime,
  loadSentenceEncoder,
  planEngineCalls,
  rowsOf,
  selectBackend,
  textBatch,
  type Batch,
  type ModelRuntime,
  type SentenceEncoder,
  type WorkerRuntime,
} from '../../src/index.js';

const VERSION_DIR = fileURLToPath(new URL('../../../../models/sentence-embedding/1', import.meta.url));

const WORDS = 'the quick brown fox jumps over a lazy dog near the river bank while birds sing'.split(' ');
const sentence = (words: number, shift: number) => Array.from({ length: words }, (_, j) => WORDS[(shift + j) % WORDS.length]).join(' ');

/** 8 short, 8 medium and 8 long texts: the engine plans them as three calls, shortest first. */
const TEXTS = [
  ...Array.from({ length: 8 }, (_, i) => `Question ${i}?`),
  ...Array.from({ length: 8 }, (_, i) => sentence(30, i)),
  ...Array.from({ length: 8 }, (_, i) => sentence(120, i)),
];

/** The real encoder, with every engine call's row count recorded and a hook after each call. */
class CountingEncoder implements SentenceEncoder {
  readonly calls: number[] = [];
  afterCall: (call: number) => void = () => {};

  constructor(private readonly encoder: SentenceEncoder) {}

  get id() {
    return this.encoder.id;
  }
  get dimension() {
    return this.encoder.dimension;
  }
  get source() {
    return this.encoder.source;
  }
  get tokenizer() {
    return this.encoder.tokenizer;
  }
  embed(texts: readonly string[]): Promise<tf.Tensor2D> {
    return this.embedPieces(texts.map((text) => this.tokenizer.encode(text)));
  }
  async embedPieces(pieces: readonly (readonly number[])[]): Promise<tf.Tensor2D> {
    const out = await this.encoder.embedPieces(pieces);
    this.calls.push(pieces.length);
    this.afterCall(this.calls.length);
    return out;
  }
  dispose(): void {}
}

function embeddingRows(outputs: Batch): number[][] {
  const embedding = outputs.tensors.embedding;
  assert.ok(embedding, 'no embedding output');
  return rowsOf(embedding);
}

function assertRowsClose(actual: number[] | undefined, expected: number[] | undefined, what: string): void {
  assert.ok(actual && expected, what);
  actual.forEach((x, j) => assert.ok(Math.abs(x - (expected[j] ?? NaN)) < 1e-4, `${what}: [${j}] ${x} vs ${expected[j]}`));
}

const isZero = (row: number[] | undefined) => row !== undefined && row.every((x) => x === 0);

describe('cancellation reaches the engine loop (sentence-embedding, wasm)', () => {
  let encoder: SentenceEncoder;
  let counting: CountingEncoder;
  let runtime: ModelRuntime;
  let threaded: WorkerRuntime;
  let plan: number[][];
  /** Every text's embedding, computed with nobody abandoning anything. */
  let reference: number[][];

  before(async () => {
    await selectBackend('wasm', 'cpu');
    encoder = await loadSentenceEncoder();
    counting = new CountingEncoder(encoder);
    runtime = await createModelRuntime(VERSION_DIR, { given: { 'sentence-encoder': counting } });
    threaded = await createWorkerRuntime({ versionDir: VERSION_DIR, backend: 'wasm', device: 'cpu' });
    await Promise.all([runtime.load(), threaded.load()]);
    plan = planEngineCalls(
      TEXTS.map((text) => encoder.tokenizer.countPieces(text)),
      MAX_CALL_POSITIONS,
    );
    counting.calls.length = 0;
    reference = embeddingRows(await runtime.predict(textBatch('text', TEXTS)));
  });

  after(async () => {
    await runtime?.unload();
    await threaded?.unload();
    encoder?.dispose();
  });

  it('plans the texts as several engine calls (the premise of the tests below)', () => {
    assert.deepEqual(
      plan.map((call) => call.length),
      [8, 8, 8],
    );
    assert.deepEqual(counting.calls, [8, 8, 8]);
  });

  it('abandoned after its first engine call, a batch computes none of the others', async () => {
    counting.calls.length = 0;
    const controller = new AbortController();
    counting.afterCall = (call) => call === 1 && controller.abort();
    const skipped: number[] = [];
    try {
      const outputs = await runtime.predict(textBatch('text', TEXTS), { signal: controller.signal, onSkipped: (rows) => skipped.push(...rows) });
      assert.deepEqual(counting.calls, [8], 'engine calls after the abandonment');
      const first = new Set(plan[0]);
      assert.deepEqual(
        skipped,
        TEXTS.map((_, row) => row).filter((row) => !first.has(row)),
      );
      const rows = embeddingRows(outputs);
      assert.equal(rows.length, TEXTS.length, 'still one row per input row');
      for (const row of first) assertRowsClose(rows[row], reference[row], `computed row ${row}`);
      for (const row of skipped) assert.ok(isZero(rows[row]), `skipped row ${row} is zeros`);
    } finally {
      counting.afterCall = () => {};
    }
  });

  it("leaves an abandoned request's rows out of the calls that still run for another request", async () => {
    counting.calls.length = 0;
    const gone = new AbortController();
    const staying = new AbortController();
    // Two requests share the batch: the even rows are one's, the odd rows the other's.
    const rowSignals = TEXTS.map((_, row) => (row % 2 === 0 ? gone.signal : staying.signal));
    counting.afterCall = (call) => call === 1 && gone.abort();
    const skipped: number[] = [];
    try {
      const rows = embeddingRows(await runtime.predict(textBatch('text', TEXTS), { rowSignals, onSkipped: (s) => skipped.push(...s) }));
      assert.deepEqual(counting.calls, [8, 4, 4]);
      const first = new Set(plan[0]);
      assert.deepEqual(
        skipped,
        TEXTS.map((_, row) => row).filter((row) => row % 2 === 0 && !first.has(row)),
      );
      for (const [row, values] of rows.entries()) {
        if (skipped.includes(row)) assert.ok(isZero(values), `skipped row ${row}`);
        else assertRowsClose(values, reference[row], `row ${row}`);
      }
    } finally {
      counting.afterCall = () => {};
    }
  });

  it('on the worker engine, skips every call of a batch abandoned before it was sent', async () => {
    const skipped: number[] = [];
    const rows = embeddingRows(
      await threaded.predict(textBatch('text', TEXTS), { signal: AbortSignal.abort(), onSkipped: (s) => skipped.push(...s) }),
    );
    assert.deepEqual(
      skipped,
      TEXTS.map((_, row) => row),
    );
    assert.ok(rows.every(isZero));
  });

  it('on the worker engine, stops before the last planned call when abandoned right after sending', async () => {
    const controller = new AbortController();
    const skipped: number[] = [];
    const answer = threaded.predict(textBatch('text', TEXTS), { signal: controller.signal, onSkipped: (s) => skipped.push(...s) });
    controller.abort();
    const rows = embeddingRows(await answer);
    // The worker sees the cancellation between engine calls: the first call always runs (it starts
    // as the message is read), the last never does.
    const [first, , last] = plan;
    assert.ok(first && last);
    for (const row of last) assert.ok(skipped.includes(row), `row ${row} of the last call was computed`);
    for (const row of first) assertRowsClose(rows[row], reference[row], `row ${row} of the first call`);
    for (const row of skipped) assert.ok(isZero(rows[row]), `skipped row ${row}`);
  });
});
