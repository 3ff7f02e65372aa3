/**
 * Measures what the transpose-first wasm matmul buys: the same seeded training epochs with the
 * stock kernels and with the patched ones. `node dist/bench-matmul.js [epochs] [lexicalSize]`.
 */
import * as tfc from '@tensorflow/tfjs-core';
import { selectBackend } from '@modeldock/model-runtime';
import { LABELS, createRng } from './data.js';
import { buildEnsemble, type InputSpec } from './model.js';
import { trainMember } from './train.js';
import { VARIANTS } from './variants.js';
import { installTransposeFirstMatMul } from './wasm-matmul.js';

const epochs = Number(process.argv[2] ?? 2);
const lexicalSize = Number(process.argv[3] ?? 0);
await selectBackend('wasm', 'cpu');
const rows = 4906;
const rng = createRng(1);
const inputs: InputSpec[] = [{ name: 'embedding', size: 512 }];
if (lexicalSize > 0) inputs.push({ name: 'lexical', size: lexicalSize });
const random = (n: number, size: number) => tfc.tensor2d(Float32Array.from({ length: n * size }, () => rng() - 0.5), [n, size]);
const labels = Array.from({ length: rows }, () => Math.floor(rng() * LABELS.length));
const train = { inputs: inputs.map((i) => random(rows, i.size)), labels };
const validation = { inputs: inputs.map((i) => random(500, i.size)), labels: labels.slice(0, 500) };
const recipe = { ...VARIANTS[0]!.recipe, maxEpochs: epochs, patience: epochs, batchSize: Number(process.argv[4] ?? 32) };
for (const fast of [false, true]) {
  const restore = fast ? installTransposeFirstMatMul() : () => {};
  const ensemble = buildEnsemble(inputs, recipe, LABELS.length, 1);
  const started = performance.now();
  await trainMember(ensemble.members[0]!, train, validation, recipe, LABELS.length, createRng(2), fast ? 'transpose-first' : 'stock');
  const seconds = (performance.now() - started) / 1000;
  console.log(`${fast ? 'transpose-first' : 'stock'} matmul: ${(seconds / epochs).toFixed(2)} s/epoch (input ${inputs.map((i) => i.size).join('+')}, hidden ${recipe.hidden.join('×')}, batch ${recipe.batchSize})`);
  ensemble.model.dispose();
  restore();
}
