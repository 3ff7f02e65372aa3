import type { EnginePlan } from './engine-cost.js';
import type { Batch, Signature } from './signature.js';

/** The input every text kind takes: a BYTES tensor of texts, shape [n]. */
export const TEXT_INPUT = 'text';

/**
 * What is known about a model version from its `metadata.json` alone, before any weights load: the
 * main thread builds routes, validation and metadata answers from it while the engine loads (in a
 * worker thread or not).
 */
export interface ModelDescription {
  readonly name: string;
  /** Digits, as TF Serving requires. */
  readonly version: string;
  /** The kind that serves it, one of the registry's (registry.ts). */
  readonly kind: string;
  /** Named input and output tensors; the protocols' routes read it instead of naming tensors. */
  readonly signature: Signature;
  /** Classifiers: class names, in the order of each score row (enables `:classify`). */
  readonly labels?: readonly string[];
  /** Classifiers: the FP32 output `[-1, labels.length]` holding each row's class scores. */
  readonly scoresOutput?: string;
  /**
   * Text kinds: the BYTES input whose texts the engine tokenizes, so the server can bound work by
   * the kind's {@link TextMeasure} before anything is queued.
   */
  readonly textInput?: string;
  /** Facts for metadata endpoints (encoder, evaluation, ...). */
  readonly info: Readonly<Record<string, unknown>>;
}

/**
 * A description with the `metadata.json` it came from, parsed once by its kind's schema. It is
 * plain data (structured-clonable), so the engine thread gets it as is and `load()` reads the
 * kind's settings from it instead of reading the file again.
 */
export interface TypedDescription<M = unknown> extends ModelDescription {
  readonly metadata: M;
}

/** Which rows of a `predict` call are still wanted. */
export interface PredictOptions {
  /** Aborted when nobody wants any row of the call any more. */
  readonly signal?: AbortSignal;
  /** Per row: aborted when that row's request has gone or passed its deadline (a request's rows share one). */
  readonly rowSignals?: readonly (AbortSignal | undefined)[];
  /**
   * Told which rows the engine skipped because they were abandoned before their engine call ran.
   * Their output rows are zeros (or empty strings), read by nobody.
   */
  onSkipped?(rows: readonly number[]): void;
}

/**
 * The contract every model implementation meets, whatever it computes: the data plane only ever
 * talks to this (MLServer's `MLModel`: load / predict / unload / ready, plus a signature).
 */
export interface ModelRuntime extends ModelDescription {
  /** True once loaded and warmed up, false again after `unload`. */
  ready(): boolean;
  /** Loads weights and answers one warm-up batch, so the first real request is not the slow one. */
  load(): Promise<void>;
  /**
   * Computes every output of the signature for `inputs`, which hold every input of the signature
   * with `rows` rows each (validated by the caller); answers the same number of rows. Planned
   * engine calls whose rows are all abandoned (`options`) are skipped, and abandoned rows are left
   * out of the calls that still run where the engine allows it.
   */
  predict(inputs: Batch, options?: PredictOptions): Promise<Batch>;
  /** Frees every tensor the model holds. */
  unload(): Promise<void>;
  /**
   * Text models: what the engine reads of a text (after the model's own text transform), so that
   * texts with the same key get identical output rows; absent: the text itself. Cheap and pure: the
   * server calls it on the HTTP thread to key its result cache.
   */
  textKey?(text: string): string;
}

/**
 * A text kind's measure of a request's work, with the tokenizer and the call planning its engine
 * uses: what the server bounds before anything is queued (characters, pieces, padded positions),
 * cuts large requests by, and grows their deadline with.
 */
export interface TextMeasure {
  /** The text exactly as the engine's tokenizer segments it (NFKC and the like), to bound its length. */
  normalize(text: string): string;
  /** Pieces the engine would compute for `text`. */
  countPieces(text: string): number;
  /** Positions a text of `pieces` pieces takes in an engine call: its share of the work of a call. */
  positions(pieces: number): number;
  /**
   * The engine calls the engine would plan for texts of these piece counts, each within `limits`:
   * their padded positions (what engine time grows with) and estimated engine seconds.
   */
  plan(piecesPerText: readonly number[], limits: { maxPositions: number; maxRows?: number }): EnginePlan;
}
