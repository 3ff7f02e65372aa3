import * as tfc from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { shuffled } from './data.js';
import type { Recipe } from './model.js';
import { createBar } from './progress.js';

/** Inputs (one row-major tensor per model input, in model order) and integer labels. */
export interface Split {
  inputs: tfc.Tensor2D[];
  labels: number[];
}

/** What training one member did, for metadata. */
export interface MemberResult {
  epochsRun: number;
  bestEpoch: number;
  validationAccuracy: number;
  validationLoss: number;
}

/** One-hot targets with label smoothing folded in (categorical cross-entropy on them is the smoothed loss). */
export function smoothedTargets(labels: readonly number[], classes: number, smoothing: number): tfc.Tensor2D {
  const data = new Float32Array(labels.length * classes).fill(smoothing / classes);
  labels.forEach((label, i) => {
    data[i * classes + label] = 1 - smoothing + smoothing / classes;
  });
  return tfc.tensor2d(data, [labels.length, classes]);
}

/** Predicted class probabilities as a plain row-major array. */
export async function predictProbabilities(model: tfl.LayersModel, inputs: tfc.Tensor2D[]): Promise<Float32Array> {
  const output = model.predict(inputs.length === 1 ? inputs[0]! : inputs, { batchSize: 512 }) as tfc.Tensor;
  try {
    return (await output.data()) as Float32Array;
  } finally {
    output.dispose();
  }
}

/** Accuracy and mean cross-entropy of probabilities against labels. */
export function scoreProbabilities(probabilities: Float32Array, labels: readonly number[], classes: number) {
  let correct = 0;
  let loss = 0;
  labels.forEach((label, i) => {
    const row = probabilities.subarray(i * classes, (i + 1) * classes);
    if (argmax(row) === label) correct++;
    loss -= Math.log(Math.max(row[label] ?? 0, 1e-7));
  });
  return { accuracy: correct / labels.length, loss: loss / labels.length };
}

/** Sums fine-class probabilities into their coarse classes (what the saved model's last layer does). */
export function collapse(probabilities: Float32Array, fineToCoarse: readonly number[]): Float32Array {
  const fine = fineToCoarse.length;
  const coarse = Math.max(...fineToCoarse) + 1;
  const rows = probabilities.length / fine;
  const out = new Float32Array(rows * coarse);
  for (let i = 0; i < rows; i++) {
    fineToCoarse.forEach((c, f) => {
      out[i * coarse + c] = (out[i * coarse + c] ?? 0) + (probabilities[i * fine + f] ?? 0);
    });
  }
  return out;
}

/** Index of the largest value (first one on ties, like tf.argMax). */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let j = 1; j < row.length; j++) if ((row[j] ?? -Infinity) > (row[best] ?? -Infinity)) best = j;
  return best;
}

/**
 * Trains one model with Adam: our own seeded shuffle and batching every epoch (fit's
 * `shuffle: true` uses Math.random and `validationSplit` would take the unshuffled tail), validation after
 * every epoch, and early stopping that restores the best weights (tfjs's callback does not).
 * "Best" is coarse validation accuracy, ties broken by lower validation loss; with `fineToCoarse`
 * the model predicts fine labels (train labels are fine indices) and is scored after collapsing.
 */
export async function trainMember(
  model: tfl.LayersModel,
  train: Split,
  validation: Split,
  recipe: Recipe,
  classes: number,
  rng: () => number,
  label: string,
  fineToCoarse?: readonly number[],
): Promise<MemberResult> {
  const optimizer = tfc.train.adam(recipe.learningRate);
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const targets = smoothedTargets(train.labels, classes, recipe.labelSmoothing);
  const order = train.labels.map((_, i) => i);
  let best: { epoch: number; accuracy: number; loss: number; weights: tfc.Tensor[] } | undefined;
  let epoch = 0;
  const bar = createBar(label, recipe.maxEpochs, ' epochs');
  try {
    for (epoch = 1; epoch <= recipe.maxEpochs; epoch++) {
      // Batches are gathered one at a time: gathering a whole shuffled copy of a wide lexical
      // matrix every epoch costs more than the training step itself.
      const permutation = shuffled(order, rng);
      for (let start = 0; start < permutation.length; start += recipe.batchSize) {
        const indices = tfc.tensor1d(permutation.slice(start, start + recipe.batchSize), 'int32');
        const xs = train.inputs.map((x) => tfc.gather(x, indices));
        const ys = tfc.gather(targets, indices);
        try {
          await model.trainOnBatch(xs.length === 1 ? xs[0]! : xs, ys);
        } finally {
          tfc.dispose([indices, ys, ...xs]);
        }
      }
      const probabilities = await predictProbabilities(model, validation.inputs);
      const score =
        fineToCoarse === undefined
          ? scoreProbabilities(probabilities, validation.labels, classes)
          : scoreProbabilities(collapse(probabilities, fineToCoarse), validation.labels, Math.max(...fineToCoarse) + 1);
      if (best === undefined || score.accuracy > best.accuracy || (score.accuracy === best.accuracy && score.loss < best.loss)) {
        tfc.dispose(best?.weights ?? []);
        best = { epoch, accuracy: score.accuracy, loss: score.loss, weights: model.getWeights().map((w) => w.clone()) };
      }
      bar.update(epoch, { info: `val ${(score.accuracy * 100).toFixed(1)}% best ${(best.accuracy * 100).toFixed(1)}%@${best.epoch}` });
      if (epoch - best.epoch >= recipe.patience) break;
    }
  } finally {
    bar.stop();
    targets.dispose();
    // model.dispose() does not free an optimizer passed to compile; its Adam moments would leak.
    optimizer.dispose();
  }
  if (best === undefined) throw new Error('no epoch ran');
  model.setWeights(best.weights);
  tfc.dispose(best.weights);
  return {
    epochsRun: Math.min(epoch, recipe.maxEpochs),
    bestEpoch: best.epoch,
    validationAccuracy: best.accuracy,
    validationLoss: best.loss,
  };
}
