import * as tfc from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-layers';

/** Hyper-parameters of one classifier recipe (one row of the variants table). */
export interface Recipe {
  hidden: number[];
  /** L2 weight penalty on hidden kernels (0 disables). */
  l2: number;
  /** Dropout after each hidden layer (0 disables). */
  dropout: number;
  /** Dropout on the concatenated input features (0 disables). */
  inputDropout: number;
  learningRate: number;
  labelSmoothing: number;
  batchSize: number;
  maxEpochs: number;
  /** Epochs without a validation improvement before stopping. */
  patience: number;
  /** Independently trained members averaged inside the one saved model. */
  members: number;
  /**
   * Where lexical features enter: `input` concatenated to the embedding before the first hidden
   * layer; `project` through their own Dense `lexicalUnits` relu first (far fewer multiply-adds for
   * a vocabulary of thousands); `wide` straight into the softmax layer beside the last hidden layer
   * (wide & deep: linear in the lexical features, cheapest).
   */
  lexicalJoin: 'input' | 'project' | 'wide';
  lexicalUnits: number;
  /**
   * Train each member on TREC's 50 fine labels (more supervision, notably inside ENTY) and collapse
   * them to the coarse classes with a fixed, non-trainable 0/1 Dense layer: summing fine
   * probabilities per coarse class keeps the served output a distribution over the 6 labels.
   */
  fineTargets: boolean;
}

/** The model's inputs; their order is the order in metadata `inputs` and in `predict`. */
export interface InputSpec {
  name: 'embedding' | 'lexical';
  size: number;
}

/** A servable model plus one trainable model per ensemble member, sharing the same layer objects. */
export interface Ensemble {
  model: tf.LayersModel;
  /** Per member, the model to train: its output is the fine softmax when `fineToCoarse` is given. */
  members: tf.LayersModel[];
}

/**
 * Builds K identical MLP branches over the concatenated inputs and one model averaging their
 * softmax outputs. Members are trained one by one through `members[k]` (they share layers with
 * `model`), so each is an independent learner, yet the saved artefact is a single layers model.
 * Initialisers are seeded per layer so every run starts from the same weights.
 */
export function buildEnsemble(
  inputs: readonly InputSpec[],
  recipe: Recipe,
  classes: number,
  seed: number,
  fineToCoarse?: readonly number[],
): Ensemble {
  const symbolic = inputs.map((input) => tf.input({ shape: [input.size], name: input.name }));
  const [embedding, lexical] = symbolic as [tf.SymbolicTensor, tf.SymbolicTensor | undefined];
  const concat = (parts: tf.SymbolicTensor[], name: string): tf.SymbolicTensor =>
    parts.length === 1 ? parts[0]! : (tf.layers.concatenate({ name }).apply(parts) as tf.SymbolicTensor);
  // `input` joins once for all members; the other modes join inside each member.
  const shared = lexical !== undefined && recipe.lexicalJoin === 'input' ? concat([embedding, lexical], 'features') : embedding;
  const outputs: tf.SymbolicTensor[] = [];
  const trainable: tf.SymbolicTensor[] = [];
  for (let k = 0; k < recipe.members; k++) {
    const prefix = recipe.members === 1 ? '' : `m${k}_`;
    const layerSeed = (i: number): number => seed * 1000 + k * 10 + i;
    const dense = (units: number, name: string, i: number, activation: 'relu' | 'softmax', l2: number) =>
      tf.layers.dense({
        units,
        activation,
        name: `${prefix}${name}`,
        kernelInitializer: tf.initializers.glorotUniform({ seed: layerSeed(i) }),
        kernelRegularizer: l2 > 0 ? tf.regularizers.l2({ l2 }) : undefined,
      });
    // No dropout `seed`: tfjs would then draw the same mask on every step. Masks come from
    // Math.random, which the trainer replaces with a seeded generator (see main.ts).
    const dropout = (x: tf.SymbolicTensor, rate: number, name: string): tf.SymbolicTensor =>
      rate > 0 ? (tf.layers.dropout({ rate, name: `${prefix}${name}` }).apply(x) as tf.SymbolicTensor) : x;
    let x = shared;
    if (lexical !== undefined && recipe.lexicalJoin === 'project') {
      const projected = dense(recipe.lexicalUnits, 'lexical_dense', 8, 'relu', recipe.l2).apply(lexical) as tf.SymbolicTensor;
      x = concat([embedding, dropout(projected, recipe.dropout, 'lexical_dropout')], `${prefix}features`);
    }
    x = dropout(x, recipe.inputDropout, 'input_dropout');
    recipe.hidden.forEach((units, i) => {
      x = dropout(dense(units, `dense_${i + 1}`, i, 'relu', recipe.l2).apply(x) as tf.SymbolicTensor, recipe.dropout, `dropout_${i + 1}`);
    });
    if (lexical !== undefined && recipe.lexicalJoin === 'wide') x = concat([x, lexical], `${prefix}wide_deep`);
    const coarseName = recipe.members === 1 ? 'topic' : 'topic_member';
    if (fineToCoarse === undefined) {
      const output = dense(classes, coarseName, 9, 'softmax', 0).apply(x) as tf.SymbolicTensor;
      outputs.push(output);
      trainable.push(output);
    } else {
      const fine = dense(fineToCoarse.length, 'fine_topic', 9, 'softmax', 0).apply(x) as tf.SymbolicTensor;
      const collapse = tf.layers.dense({ units: classes, useBias: false, trainable: false, name: `${prefix}${coarseName}` });
      outputs.push(collapse.apply(fine) as tf.SymbolicTensor);
      const kernel = new Float32Array(fineToCoarse.length * classes);
      fineToCoarse.forEach((c, f) => {
        kernel[f * classes + c] = 1;
      });
      const weight = tfc.tensor2d(kernel, [fineToCoarse.length, classes]);
      collapse.setWeights([weight]);
      weight.dispose();
      trainable.push(fine);
    }
  }
  const members = trainable.map((output, k) => tf.model({ inputs: symbolic, outputs: output, name: `member_${k}` }));
  const output =
    outputs.length === 1
      ? (outputs[0] as tf.SymbolicTensor)
      : (tf.layers.average({ name: 'topic' }).apply(outputs) as tf.SymbolicTensor);
  return { model: tf.model({ inputs: symbolic, outputs: output, name: 'question_topic' }), members };
}
