import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { DescribedModel } from '../described-model.js';
import type { ModelKindImplementation } from '../model-kind.js';
import { TEXT_INPUT, type ModelRuntime, type PredictOptions, type TypedDescription } from '../model-runtime.js';
import { forEachEngineCall, type SentenceEncoder } from '../sentence-encoder.js';
import { requireResource } from '../shared-resources.js';
import { textsOf, type Batch } from '../signature.js';
import { USE_LITE_TEXT_MEASURE } from '../text-measures.js';

/** `metadata.json` of a sentence-embedding model: which encoder it serves, and how. */
export const sentenceEmbeddingMetadataSchema = z
  .object({
    encoder: z.object({ id: z.string(), dimension: z.number().int().positive(), source: z.string().optional() }),
    /** `l2`: every row has unit length, so a dot product is the cosine similarity. */
    normalization: z.enum(['l2', 'none']).default('l2'),
    description: z.string().optional(),
    evaluation: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();

export type SentenceEmbeddingMetadata = z.infer<typeof sentenceEmbeddingMetadataSchema>;

/** The output tensor: one embedding row per text. */
export const EMBEDDING_OUTPUT = 'embedding';

const WARMUP = ['How are you?', 'Where is the Eiffel Tower?', ''];

/**
 * The `sentence-embedding` kind: the shared sentence encoder's embeddings, served as a model of
 * their own (the weights are the encoder's; the version directory holds what is served and how).
 */
export const sentenceEmbeddingKind: ModelKindImplementation<SentenceEmbeddingMetadata> = {
  metadataSchema: sentenceEmbeddingMetadataSchema,
  resources: ['sentence-encoder'],
  measure: USE_LITE_TEXT_MEASURE,
  describe: (metadata) => ({
    textInput: TEXT_INPUT,
    signature: {
      inputs: [{ name: TEXT_INPUT, datatype: 'BYTES', shape: [-1] }],
      outputs: [{ name: EMBEDDING_OUTPUT, datatype: 'FP32', shape: [-1, metadata.encoder.dimension] }],
    },
    info: Object.freeze({
      kind: 'sentence-embedding',
      encoder: metadata.encoder,
      dimension: metadata.encoder.dimension,
      normalization: metadata.normalization,
      ...(metadata.description === undefined ? {} : { description: metadata.description }),
      evaluation: metadata.evaluation ?? null,
    }),
  }),
  create(description, _versionDir, deps) {
    const encoder = requireResource(deps.resources, 'sentence-encoder', `${description.name} (a sentence-embedding model)`);
    const expected = description.metadata.encoder;
    if (expected.id !== encoder.id || expected.dimension !== encoder.dimension) {
      throw new Error(`${description.name} needs encoder ${expected.id}/${expected.dimension}, loaded ${encoder.id}/${encoder.dimension}`);
    }
    return new SentenceEmbedding(description, encoder, deps.info);
  },
};

class SentenceEmbedding extends DescribedModel<SentenceEmbeddingMetadata> implements ModelRuntime {
  private readonly dimension: number;
  private readonly normalize: boolean;
  private loaded = false;

  constructor(
    description: TypedDescription<SentenceEmbeddingMetadata>,
    /** Shared between model versions; the runtime does not dispose it. */
    private readonly encoder: SentenceEncoder,
    info?: Readonly<Record<string, unknown>>,
  ) {
    super(description, info);
    this.dimension = encoder.dimension;
    this.normalize = description.metadata.normalization === 'l2';
  }

  ready(): boolean {
    return this.loaded;
  }

  async load(): Promise<void> {
    if (this.loaded) return;
    await this.embed(WARMUP);
    this.loaded = true;
  }

  async predict(inputs: Batch, options?: PredictOptions): Promise<Batch> {
    if (!this.loaded) throw new Error(`model ${this.name}/${this.version} is not loaded`);
    const texts = textsOf(inputs, TEXT_INPUT);
    return {
      rows: texts.length,
      tensors: { [EMBEDDING_OUTPUT]: { datatype: 'FP32', shape: [texts.length, this.dimension], data: await this.embed(texts, options) } },
    };
  }

  /** Each text's row; rows skipped as abandoned (`options`) stay zeros. */
  private async embed(texts: readonly string[], options?: PredictOptions): Promise<Float32Array> {
    const out = new Float32Array(texts.length * this.dimension);
    // Texts of similar length share an engine call; rows do not depend on their batch.
    await forEachEngineCall(this.encoder, texts, async (indices, raw) => {
      // USE's rows are close to unit length but not exactly; clients compare them by dot product.
      const rows = this.normalize ? tf.tidy(() => tf.div(raw, tf.maximum(tf.norm(raw, 'euclidean', 1, true), 1e-12))) : raw;
      const values = (await rows.data()) as Float32Array;
      if (rows !== raw) rows.dispose();
      raw.dispose();
      indices.forEach((index, j) => out.set(values.subarray(j * this.dimension, (j + 1) * this.dimension), index * this.dimension));
    }, options);
    return out;
  }

  unload(): Promise<void> {
    this.loaded = false;
    return Promise.resolve();
  }
}
