import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { cleanText, PREPROCESSING_VERSION } from '@modeldock/text-preprocessing';
import { z } from 'zod';
import { DescribedModel } from '../described-model.js';
import { createLexicalFeaturizer, type LexicalFeaturizer, type LexicalFeatureSpec } from '../lexical-features.js';
import { localModelHandler } from '../local-io.js';
import type { ModelKindImplementation } from '../model-kind.js';
import { TEXT_INPUT, type ModelRuntime, type PredictOptions, type TypedDescription } from '../model-runtime.js';
import { forEachEngineCall, type SentenceEncoder } from '../sentence-encoder.js';
import { requireResource } from '../shared-resources.js';
import { textsOf, type Batch } from '../signature.js';
import { USE_LITE_TEXT_MEASURE } from '../text-measures.js';

/** What is applied to each text before the sentence encoder; recorded by the trainer. */
export const TEXT_TRANSFORMS = {
  raw: (text: string) => text,
  lowercase: (text: string) => text.toLowerCase(),
  'seed-clean': cleanText,
} as const satisfies Record<string, (text: string) => string>;

export type TextTransform = keyof typeof TEXT_TRANSFORMS;

const inputSchema = z.object({
  name: z.enum(['embedding', 'lexical']),
  size: z.number().int().positive(),
  featurizer: z.string().optional(),
});

/** The part of a text classifier's `metadata.json` that serving depends on. */
export const textClassifierMetadataSchema = z
  .object({
    labels: z.array(z.string().min(1)).min(2),
    encoder: z.object({ id: z.string(), dimension: z.number().int().positive(), source: z.string().optional() }),
    textTransform: z.enum(Object.keys(TEXT_TRANSFORMS) as [TextTransform, ...TextTransform[]]),
    preprocessingVersion: z.string().nullable().optional(),
    inputs: z.array(inputSchema).min(1),
    evaluation: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();

export type TextClassifierMetadata = z.infer<typeof textClassifierMetadataSchema>;

const DEFAULT_WARMUP = ['What is your salary?', 'Who wrote Hamlet?', 'Where is the Eiffel Tower?', ''];

/**
 * What a classifier reads of a text: the encoder reads it transformed, the lexical features (when
 * the model has them) read it as it came, so then only the text itself identifies its output.
 */
function classifierTextKey(metadata: TextClassifierMetadata): (text: string) => string {
  return metadata.inputs.some((input) => input.name === 'lexical') ? (text) => text : TEXT_TRANSFORMS[metadata.textTransform];
}

/** The `text-classifier` kind: USE embedding (plus optional lexical features) into a TF.js layers head. */
export const textClassifierKind: ModelKindImplementation<TextClassifierMetadata> = {
  metadataSchema: textClassifierMetadataSchema,
  resources: ['sentence-encoder'],
  measure: USE_LITE_TEXT_MEASURE,
  textKey: classifierTextKey,
  describe: (metadata) => ({
    labels: Object.freeze([...metadata.labels]),
    scoresOutput: 'probabilities',
    textInput: TEXT_INPUT,
    signature: {
      inputs: [{ name: TEXT_INPUT, datatype: 'BYTES', shape: [-1] }],
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [-1, metadata.labels.length] },
        { name: 'label', datatype: 'BYTES', shape: [-1] },
      ],
    },
    info: Object.freeze({
      kind: 'text-classifier',
      encoder: metadata.encoder,
      textTransform: metadata.textTransform,
      preprocessingVersion: metadata.preprocessingVersion ?? null,
      features: metadata.inputs.map(({ name, size }) => ({ name, size })),
      evaluation: metadata.evaluation ?? null,
    }),
  }),
  create: (description, versionDir, deps) =>
    new TextClassifier(description, versionDir, requireResource(deps.resources, 'sentence-encoder', `${description.name} (a text classifier)`), deps.info),
};

/**
 * A sentence-embedding text classifier, loaded from a version directory (`model.json`,
 * `weights.bin`, featurizer files). Preprocessing is whatever the trainer recorded in its
 * metadata, so serving cannot drift from training.
 */
class TextClassifier extends DescribedModel<TextClassifierMetadata> implements ModelRuntime {
  /** The class names, in the order of each probability row. */
  private readonly classes: readonly string[];
  private readonly transform: (text: string) => string;
  readonly textKey: (text: string) => string;
  private model: LayersModel | undefined;
  private featurizer: LexicalFeaturizer | undefined;

  constructor(
    description: TypedDescription<TextClassifierMetadata>,
    private readonly versionDir: string,
    /** Shared between model versions; the runtime does not dispose it. */
    private readonly encoder: SentenceEncoder,
    info?: Readonly<Record<string, unknown>>,
  ) {
    super(description, info);
    this.classes = description.labels ?? [];
    this.transform = TEXT_TRANSFORMS[description.metadata.textTransform];
    this.textKey = classifierTextKey(description.metadata);
  }

  ready(): boolean {
    return this.model !== undefined;
  }

  async load(): Promise<void> {
    if (this.model !== undefined) return;
    const metadata = this.description.metadata;
    const encoder = this.encoder;
    if (metadata.encoder.id !== encoder.id || metadata.encoder.dimension !== encoder.dimension) {
      throw new Error(
        `model ${this.name}/${this.version} needs encoder ${metadata.encoder.id}/${metadata.encoder.dimension}, ` +
          `loaded ${encoder.id}/${encoder.dimension}`,
      );
    }
    if (metadata.textTransform === 'seed-clean' && metadata.preprocessingVersion !== PREPROCESSING_VERSION) {
      throw new Error(
        `model trained with preprocessing ${String(metadata.preprocessingVersion)}, this build has ${PREPROCESSING_VERSION}`,
      );
    }
    const model = await loadLayersModel(localModelHandler(path.join(this.versionDir, 'model.json')));
    const lexical = metadata.inputs.find((input) => input.name === 'lexical');
    if (lexical !== undefined) {
      if (lexical.featurizer === undefined) throw new Error('lexical input without a featurizer file');
      const spec = JSON.parse(
        await readFile(path.join(this.versionDir, lexical.featurizer), 'utf8'),
      ) as LexicalFeatureSpec;
      this.featurizer = createLexicalFeaturizer(spec);
      if (this.featurizer.size !== lexical.size) {
        throw new Error(`featurizer size ${this.featurizer.size} != declared ${lexical.size}`);
      }
    }
    const outputUnits = model.outputs[0]?.shape.at(-1);
    if (outputUnits !== this.classes.length) {
      model.dispose();
      throw new Error(`model outputs ${String(outputUnits)} scores for ${this.classes.length} labels`);
    }
    this.model = model;
    await this.run(DEFAULT_WARMUP);
  }

  async predict(inputs: Batch, options?: PredictOptions): Promise<Batch> {
    if (this.model === undefined) throw new Error(`model ${this.name}/${this.version} is not loaded`);
    const rows = await this.run(textsOf(inputs, TEXT_INPUT), options);
    const width = this.classes.length;
    const probabilities = new Float32Array(rows.length * width);
    // Rows skipped as abandoned stay zeros with an empty label: nobody reads them.
    rows.forEach((row, i) => {
      if (row !== undefined) probabilities.set(row, i * width);
    });
    return {
      rows: rows.length,
      tensors: {
        probabilities: { datatype: 'FP32', shape: [rows.length, width], data: probabilities },
        label: { datatype: 'BYTES', shape: [rows.length], data: Array.from(rows, (row) => (row === undefined ? '' : (this.classes[argMax(row)] as string))) },
      },
    };
  }

  /** Each text's probability row; rows skipped as abandoned (`options`) stay holes. */
  private async run(texts: readonly string[], options?: PredictOptions): Promise<(number[] | undefined)[]> {
    const rows = new Array<number[] | undefined>(texts.length);
    // Texts of similar length share an engine call; rows do not depend on their batch.
    await forEachEngineCall(this.encoder, texts.map(this.transform), async (indices, embeddings) => {
      const chunk = await this.classifyChunk(
        indices.map((i) => texts[i] as string),
        embeddings,
      );
      indices.forEach((index, j) => (rows[index] = chunk[j] as number[]));
    }, options);
    return rows;
  }

  /** The probability rows of `texts` from their embeddings (disposed here) and lexical features. */
  private async classifyChunk(texts: readonly string[], embeddings: tf.Tensor2D): Promise<number[][]> {
    const model = this.model;
    if (model === undefined) {
      embeddings.dispose();
      throw new Error('not loaded');
    }
    let probabilities: tf.Tensor;
    try {
      probabilities = tf.tidy(() => {
        const inputs = this.description.metadata.inputs.map((input) => {
          if (input.name === 'embedding') return embeddings;
          const featurizer = this.featurizer as LexicalFeaturizer;
          return tf.tensor2d(featurizer.transform(texts), [texts.length, featurizer.size]);
        });
        return model.predict(inputs.length === 1 ? (inputs[0] as tf.Tensor) : inputs) as tf.Tensor;
      });
    } finally {
      embeddings.dispose();
    }
    const flat = await probabilities.data();
    probabilities.dispose();
    const width = this.classes.length;
    return Array.from({ length: texts.length }, (_, row) => Array.from(flat.subarray(row * width, (row + 1) * width)));
  }

  unload(): Promise<void> {
    this.model?.dispose();
    this.model = undefined;
    this.featurizer = undefined;
    return Promise.resolve();
  }
}

function argMax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i += 1) if ((row[i] as number) > (row[best] as number)) best = i;
  return best;
}
