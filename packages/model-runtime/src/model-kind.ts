import type { z } from 'zod';
import type { ModelDescription, ModelRuntime, TextMeasure, TypedDescription } from './model-runtime.js';
import type { ResourceName, SharedResources } from './shared-resources.js';

/** What the process gives a kind's runtime: the shared resources the kind declared, and facts for metadata. */
export interface ModelDependencies {
  /** Loaded once per engine and shared between versions; a model never disposes them. */
  readonly resources: Partial<SharedResources>;
  /** Facts about the process to expose in metadata (e.g. the chosen backend). */
  readonly info?: Readonly<Record<string, unknown>>;
}

/** What a kind derives from its metadata; the registry adds name, version, kind and the metadata itself. */
export type KindDescription = Omit<ModelDescription, 'name' | 'version' | 'kind'>;

/**
 * One model kind, self-contained: its metadata schema, the shared resources its engine needs, its
 * per-request work measure and its runtime. A kind file imports this contract and the shared
 * modules, never the registry or another kind.
 */
export interface ModelKindImplementation<M> {
  /** Validates `metadata.json` (already parsed JSON); `kind`, `name` and `version` are checked by the registry. */
  readonly metadataSchema: z.ZodType<M>;
  /** Shared resources the engine loads once for every version of this kind (e.g. the sentence encoder). */
  readonly resources: readonly ResourceName[];
  /** Signature, labels and facts from the parsed metadata: no I/O, no weights. */
  describe(metadata: M): KindDescription;
  /** Text kinds: how the server measures a request's work. Absent for kinds whose inputs are tensors. */
  readonly measure?: TextMeasureDeclaration;
  /**
   * Text kinds whose engine does not read a text as it comes (a text transform): what it reads of
   * it, so that texts with the same key get identical output rows. Default: the text itself.
   */
  textKey?(metadata: M): (text: string) => string;
  /** The runtime for a described version; `load()` reads the weights. */
  create(description: TypedDescription<M>, versionDir: string, deps: ModelDependencies): ModelRuntime;
}

/**
 * A text kind's work measure and what it needs, loaded on the HTTP thread (a tokenizer, never the
 * weights). Kinds fed by the same tokenizer share one declaration, so a server measures once.
 */
export interface TextMeasureDeclaration {
  readonly resources: readonly ResourceName[];
  create(resources: Partial<SharedResources>): TextMeasure;
}
