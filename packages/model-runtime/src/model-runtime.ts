/**
 * The contract every model implementation meets, whatever it computes: the service's data plane
 * only ever talks to this (MLServer's `MLModel`: load / predict / unload / ready).
 */
export interface ModelRuntime {
  readonly name: string;
  /** Digits, as TF Serving requires. */
  readonly version: string;
  /** Output class names, in the order of each probability row. */
  readonly labels: readonly string[];
  /** Describes the model for metadata endpoints (encoder, backend, evaluation...). */
  readonly info: Readonly<Record<string, unknown>>;
  /** True once loaded and warmed up, false again after `unload`. */
  ready(): boolean;
  /** Loads weights and answers one warm-up batch, so the first real request is not the slow one. */
  load(): Promise<void>;
  /** One probability row per text, in input order. */
  predict(texts: readonly string[]): Promise<number[][]>;
  /** Frees every tensor the model holds. */
  unload(): Promise<void>;
}
