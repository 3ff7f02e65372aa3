import type { Batch, Signature } from './signature.js';

/** Model implementations, named by `kind` in a version's metadata.json (see kinds.ts). */
export const MODEL_KINDS = ['text-classifier', 'sentence-embedding', 'tfjs'] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

/**
 * What is known about a model version from its `metadata.json` alone, before any weights load: the
 * main thread builds routes, validation and metadata answers from it while the engine loads (in a
 * worker thread or not).
 */
export interface ModelDescription {
  readonly name: string;
  /** Digits, as TF Serving requires. */
  readonly version: string;
  readonly kind: ModelKind;
  /** Named input and output tensors; the protocols' routes read it instead of naming tensors. */
  readonly signature: Signature;
  /** Classifiers: class names, in the order of each score row (enables `:classify`). */
  readonly labels?: readonly string[];
  /** Classifiers: the FP32 output `[-1, labels.length]` holding each row's class scores. */
  readonly scoresOutput?: string;
  /**
   * Kinds fed by the sentence encoder: the BYTES input whose texts it tokenizes, so the server
   * can bound work by the encoder's piece count before anything is queued.
   */
  readonly textInput?: string;
  /** Whether the kind needs the shared sentence encoder loaded in its engine. */
  readonly needsEncoder: boolean;
  /** Facts for metadata endpoints (encoder, evaluation, ...). */
  readonly info: Readonly<Record<string, unknown>>;
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
   * with `rows` rows each (validated by the caller); answers the same number of rows.
   */
  predict(inputs: Batch): Promise<Batch>;
  /** Frees every tensor the model holds. */
  unload(): Promise<void>;
}
