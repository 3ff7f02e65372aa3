import * as tfc from '@tensorflow/tfjs-core';
import {
  createLexicalFeaturizer,
  fitLexicalFeatures,
  type LexicalFeatureOptions,
  type LexicalFeatureSpec,
} from '@modeldock/model-runtime';
import type { InputSpec } from './model.js';

/** The WordNet head-word lexicon a version-2 lexical spec carries (the runtime's index does not re-export the type). */
export type SemanticLexicon = NonNullable<LexicalFeatureOptions['semantic']>;

/** Model inputs for a set of rows: the embedding first, then lexical features when a spec is given. */
export function buildInputs(
  embeddings: Float32Array,
  dimension: number,
  rows: readonly number[],
  texts: readonly string[],
  spec: LexicalFeatureSpec | null,
): tfc.Tensor2D[] {
  const picked = new Float32Array(rows.length * dimension);
  rows.forEach((row, i) => picked.set(embeddings.subarray(row * dimension, (row + 1) * dimension), i * dimension));
  const inputs = [tfc.tensor2d(picked, [rows.length, dimension])];
  if (spec !== null) {
    const featurizer = createLexicalFeaturizer(spec);
    inputs.push(tfc.tensor2d(featurizer.transform(rows.map((row) => texts[row] ?? '')), [rows.length, featurizer.size]));
  }
  return inputs;
}

/** Fits lexical features on the training rows only (validation and test must not shape the vocabulary). */
export function fitOnRows(
  texts: readonly string[],
  rows: readonly number[],
  options: LexicalFeatureOptions | null,
): LexicalFeatureSpec | null {
  return options === null ? null : fitLexicalFeatures(rows.map((row) => texts[row] ?? ''), options);
}

/** The input list for metadata and model construction. */
export function inputSpecs(dimension: number, spec: LexicalFeatureSpec | null): InputSpec[] {
  return spec === null
    ? [{ name: 'embedding', size: dimension }]
    : [
        { name: 'embedding', size: dimension },
        { name: 'lexical', size: spec.vocabulary.length },
      ];
}
