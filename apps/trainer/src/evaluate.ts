import { argmax } from './train.js';

/** Precision, recall, F1 and support of one class. */
export interface ClassReport {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** Test-set metrics as recorded in metadata `evaluation`. */
export interface Evaluation {
  accuracy: number;
  perClass: ClassReport[];
  /** `confusion[true][predicted]`, in label order. */
  confusionMatrix: number[][];
}

/** Scores row-major class probabilities against the true labels. */
export function evaluate(probabilities: Float32Array, labels: readonly number[], names: readonly string[]): Evaluation {
  const k = names.length;
  const confusion = names.map(() => names.map(() => 0));
  labels.forEach((label, i) => {
    const predicted = argmax(probabilities.subarray(i * k, (i + 1) * k));
    confusion[label]![predicted]!++;
  });
  const correct = names.reduce((sum, _, c) => sum + confusion[c]![c]!, 0);
  const perClass = names.map((label, c) => {
    const tp = confusion[c]![c]!;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((sum, row) => sum + row[c]!, 0);
    const precision = predicted === 0 ? 0 : tp / predicted;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { label, precision, recall, f1, support };
  });
  return { accuracy: correct / labels.length, perClass, confusionMatrix: confusion };
}
