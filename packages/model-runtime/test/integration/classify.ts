import assert from 'node:assert/strict';
import { rowsOf, textBatch, type ModelRuntime } from '../../src/index.js';

/** A text classifier's probability rows, one per text (tests read rows, the runtime answers tensors). */
export async function classify(model: ModelRuntime, texts: string[]): Promise<number[][]> {
  const outputs = await model.predict(textBatch('text', texts));
  const probabilities = outputs.tensors.probabilities;
  assert.ok(probabilities, 'no probabilities output');
  return rowsOf(probabilities);
}
