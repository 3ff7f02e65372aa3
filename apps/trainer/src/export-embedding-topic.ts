/**
 * Trains and exports `embedding-topic`, the bring-your-own example model: a small Keras-style TF.js
 * layers model from a 512-d USE-lite sentence embedding (FP32 [-1, 512], input `embedding`) to the
 * six TREC topic probabilities (FP32 [-1, 6], output `probabilities`). It is served by the generic
 * `tfjs` kind, which knows nothing about text: clients send embeddings.
 *
 *   pnpm --filter @modeldock/trainer run train:embedding-topic [-- --version 1 --seed 42 --overwrite]
 */
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  USE_LITE_PACKAGE,
  createModelRuntime,
  loadSentenceEncoder,
  localModelHandler,
  rowsOf,
  selectBackend,
} from '@modeldock/model-runtime';
import { LABELS, createRng, readTrec, shuffled, stratifiedSplit } from './data.js';
import { embedDataset } from './embeddings.js';
import { evaluate, type Evaluation } from './evaluate.js';
import { installTransposeFirstMatMul } from './wasm-matmul.js';
import { encoderPackageVersion, trainingProvenance } from './provenance.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MODEL_NAME = 'embedding-topic';
const VALIDATION_FRACTION = 0.1;
const DIMENSION = 512;
/** Hyper-parameters, fixed in code (nothing is tuned on TREC_10). */
const RECIPE = { hidden: 128, dropout: 0.3, l2: 1e-4, learningRate: 1e-3, batchSize: 32, maxEpochs: 60, patience: 8 } as const;

const USAGE = `Usage: pnpm --filter @modeldock/trainer run train:embedding-topic [-- options]

Trains embedding-topic (USE-lite embedding [-1, 512] -> six TREC topic probabilities [-1, 6]) on
data/trec/train_5500.label with a seeded, stratified validation split, scores it once on TREC_10, and
writes models/embedding-topic/<version>/ (model.json, weights.bin, metadata.json, REPORT.md).

Options:
  --version <digits>  version folder to write (default 1)
  --seed <integer>    seed of the split, the initial weights, dropout and shuffling (default 42)
  --out-dir <dir>     model directory to write into (default models/embedding-topic)
  --overwrite         replace an existing version (refused otherwise)
  -h, --help          show this help`;

class UsageError extends Error {}

function parseCli(argv: readonly string[]) {
  // `pnpm run x -- --flag` forwards the `--` itself; drop it so both spellings work.
  const args = argv.filter((arg, i) => !(i === 0 && arg === '--'));
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        version: { type: 'string', default: '1' },
        seed: { type: 'string', default: '42' },
        'out-dir': { type: 'string' },
        overwrite: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (!/^\d+$/.test(values.version)) throw new UsageError(`--version must be digits, got '${values.version}'`);
  const seed = Number(values.seed);
  if (!/^-?\d+$/.test(values.seed) || !Number.isSafeInteger(seed)) throw new UsageError(`--seed must be an integer, got '${values.seed}'`);
  return { ...values, seed, outDir: path.resolve(values['out-dir'] ?? path.join(ROOT, 'models', MODEL_NAME)) };
}

/** Embedding → Dense relu → Dropout → Dense softmax, every initialiser seeded. */
function buildModel(seed: number): tfl.LayersModel {
  const input = tfl.input({ shape: [DIMENSION], name: 'embedding' });
  const hidden = tfl.layers
    .dense({
      units: RECIPE.hidden,
      activation: 'relu',
      kernelInitializer: tfl.initializers.heNormal({ seed }),
      kernelRegularizer: tfl.regularizers.l2({ l2: RECIPE.l2 }),
      name: 'hidden',
    })
    .apply(input) as tfl.SymbolicTensor;
  const dropped = tfl.layers.dropout({ rate: RECIPE.dropout, seed: seed + 1, name: 'dropout' }).apply(hidden) as tfl.SymbolicTensor;
  const output = tfl.layers
    .dense({ units: LABELS.length, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 2 }), name: 'probabilities' })
    .apply(dropped) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: output, name: MODEL_NAME });
}

/** Rows of a row-major n×DIMENSION matrix, as a tensor. */
function gatherRows(matrix: Float32Array, rows: readonly number[]): tfc.Tensor2D {
  const out = new Float32Array(rows.length * DIMENSION);
  rows.forEach((row, i) => out.set(matrix.subarray(row * DIMENSION, (row + 1) * DIMENSION), i * DIMENSION));
  return tfc.tensor2d(out, [rows.length, DIMENSION]);
}

function accuracyOf(probabilities: Float32Array, labels: readonly number[]): number {
  return evaluate(probabilities, labels, LABELS).accuracy;
}

async function predictAll(model: tfl.LayersModel, x: tfc.Tensor2D): Promise<Float32Array> {
  const output = model.predict(x, { batchSize: 512 }) as tfc.Tensor;
  try {
    return (await output.data()) as Float32Array;
  } finally {
    output.dispose();
  }
}

/**
 * Adam on seeded shuffles, validation accuracy after every epoch (ties: lower validation loss),
 * early stopping that restores the best epoch's weights.
 */
async function train(model: tfl.LayersModel, x: tfc.Tensor2D, labels: number[], validation: { x: tfc.Tensor2D; labels: number[] }, seed: number) {
  const optimizer = tfc.train.adam(RECIPE.learningRate);
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const targets = tfc.tidy(() => tfc.cast(tfc.oneHot(tfc.tensor1d(labels, 'int32'), LABELS.length), 'float32'));
  const rng = createRng(seed);
  const order = labels.map((_, i) => i);
  let best: { epoch: number; accuracy: number; loss: number; weights: tfc.Tensor[] } | undefined;
  let epoch = 0;
  try {
    for (epoch = 1; epoch <= RECIPE.maxEpochs; epoch++) {
      const permutation = shuffled(order, rng);
      for (let start = 0; start < permutation.length; start += RECIPE.batchSize) {
        const indices = tfc.tensor1d(permutation.slice(start, start + RECIPE.batchSize), 'int32');
        const xs = tfc.gather(x, indices);
        const ys = tfc.gather(targets, indices);
        try {
          await model.trainOnBatch(xs, ys);
        } finally {
          tfc.dispose([indices, xs, ys]);
        }
      }
      const probabilities = await predictAll(model, validation.x);
      const accuracy = accuracyOf(probabilities, validation.labels);
      const loss = validation.labels.reduce((sum, label, i) => sum - Math.log(Math.max(probabilities[i * LABELS.length + label] ?? 0, 1e-7)), 0) / validation.labels.length;
      if (best === undefined || accuracy > best.accuracy || (accuracy === best.accuracy && loss < best.loss)) {
        tfc.dispose(best?.weights ?? []);
        best = { epoch, accuracy, loss, weights: model.getWeights().map((w) => w.clone()) };
      }
      console.log(`epoch ${epoch}: validation ${(accuracy * 100).toFixed(2)}% (loss ${loss.toFixed(4)}), best ${(best.accuracy * 100).toFixed(2)}% at ${best.epoch}`);
      if (epoch - best.epoch >= RECIPE.patience) break;
    }
  } finally {
    targets.dispose();
    optimizer.dispose();
  }
  if (best === undefined) throw new Error('no epoch ran');
  model.setWeights(best.weights);
  tfc.dispose(best.weights);
  return { epochsRun: Math.min(epoch, RECIPE.maxEpochs), bestEpoch: best.epoch, validationAccuracy: best.accuracy, validationLoss: best.loss };
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** Scores the written version exactly as it is served: through the `tfjs` kind, from its files. */
async function evaluateServed(dir: string, embeddings: Float32Array, labels: readonly number[]): Promise<Evaluation> {
  const runtime = await createModelRuntime(dir);
  await runtime.load();
  try {
    const probabilities = new Float32Array(labels.length * LABELS.length);
    for (let start = 0; start < labels.length; start += 64) {
      const rows = Math.min(64, labels.length - start);
      const data = embeddings.slice(start * DIMENSION, (start + rows) * DIMENSION);
      const outputs = await runtime.predict({ rows, tensors: { embedding: { datatype: 'FP32', shape: [rows, DIMENSION], data } } });
      const scores = outputs.tensors.probabilities;
      if (scores === undefined) throw new Error('the served model answered no probabilities');
      probabilities.set(rowsOf(scores).flat(), start * LABELS.length);
    }
    return evaluate(probabilities, labels, LABELS);
  } finally {
    await runtime.unload();
  }
}

function renderReport(metadata: {
  version: string;
  evaluation: { validationAccuracy: number; testAccuracy: number; perClass: Evaluation['perClass']; confusionMatrix: { matrix: number[][] } };
  training: { seed: number; epochsRun: number; bestEpoch: number; parameters: number; weightBytes: number; split: { train: number; validation: number }; seconds: number };
}): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const { evaluation, training } = metadata;
  return `# embedding-topic, version ${metadata.version}

The bring-your-own example model: a Keras-style TF.js layers model that maps a 512-d Universal
Sentence Encoder (lite) embedding of an English question to the six TREC coarse topics. It is served
by the generic \`tfjs\` kind, which knows nothing about text: clients send the embeddings.

- Input \`embedding\` FP32 [-1, 512] → Dense ${RECIPE.hidden} relu (L2 ${RECIPE.l2}) → Dropout ${RECIPE.dropout} → Dense 6 softmax → output \`probabilities\` FP32 [-1, 6]
- ${training.parameters.toLocaleString('en-US')} parameters, weights.bin ${(training.weightBytes / 1024).toFixed(0)} KiB
- Trained on data/trec/train_5500.label: ${training.split.train} questions, ${training.split.validation} held out for validation (stratified, seed ${training.seed}).
  Adam ${RECIPE.learningRate}, batch ${RECIPE.batchSize}, early stopping on validation accuracy (patience ${RECIPE.patience}): best epoch ${training.bestEpoch} of ${training.epochsRun}, ${training.seconds} s.
- Hyper-parameters are fixed in \`apps/trainer/src/export-embedding-topic.ts\`; TREC_10 was scored once, at the end, and chose nothing.

| | accuracy |
|---|---|
| validation (${training.split.validation} questions) | ${pct(evaluation.validationAccuracy)} |
| TREC_10 test (500 questions, through the \`tfjs\` kind) | ${pct(evaluation.testAccuracy)} |

| topic | precision | recall | F1 | support |
|---|---|---|---|---|
${evaluation.perClass.map((c) => `| ${c.label} | ${c.precision.toFixed(3)} | ${c.recall.toFixed(3)} | ${c.f1.toFixed(3)} | ${c.support} |`).join('\n')}

Confusion matrix on TREC_10 (rows true, columns predicted; ${LABELS.join(', ')}):

${evaluation.confusionMatrix.matrix.map((row) => `    ${row.map((n) => String(n).padStart(4)).join('')}`).join('\n')}

Re-create it with \`pnpm --filter @modeldock/trainer run train:embedding-topic -- --overwrite\`.
`;
}

async function main(argv: readonly string[]): Promise<void> {
  const startedAt = Date.now();
  const cli = parseCli(argv);
  if (cli.help) {
    console.log(USAGE);
    return;
  }
  const dir = path.join(cli.outDir, cli.version);
  if ((await exists(dir)) && !cli.overwrite) throw new UsageError(`${path.relative(ROOT, dir) || dir} exists; pass --overwrite to replace it`);

  const backend = await selectBackend('wasm', 'cpu');
  installTransposeFirstMatMul();
  const [trainSet, testSet, encoder] = await Promise.all([
    readTrec(path.join(ROOT, 'data/trec/train_5500.label')),
    readTrec(path.join(ROOT, 'data/trec/TREC_10.label')),
    loadSentenceEncoder(),
  ]);
  const cacheDir = path.join(ROOT, '.cache');
  // Clients send the embedding of the question as it is: no text transform.
  const trainEmbeddings = await embedDataset(encoder, trainSet, 'raw', cacheDir);
  const testEmbeddings = await embedDataset(encoder, testSet, 'raw', cacheDir);
  encoder.dispose();

  const labels = trainSet.examples.map((e) => e.label);
  const split = stratifiedSplit(labels, VALIDATION_FRACTION, cli.seed);
  console.log(`backend ${backend.backend}; train ${split.train.length}, validation ${split.validation.length}, test ${testSet.examples.length} (never used for selection)`);
  // Dropout draws from Math.random when it has no seed of its own; seed it so runs repeat.
  Math.random = createRng(cli.seed + 3);
  const model = buildModel(cli.seed);
  const x = gatherRows(trainEmbeddings, split.train);
  const validation = { x: gatherRows(trainEmbeddings, split.validation), labels: split.validation.map((row) => labels[row]!) };
  let result;
  try {
    result = await train(model, x, split.train.map((row) => labels[row]!), validation, cli.seed);
  } finally {
    tfc.dispose([x, validation.x]);
  }
  const parameters = model.countParams();

  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const saved = await model.save(localModelHandler(path.join(dir, 'model.json')));
  model.dispose();

  const encoderVersion = await encoderPackageVersion();
  const provenance = trainingProvenance(trainSet, testSet, encoderVersion);
  const signature = {
    inputs: [{ name: 'embedding', datatype: 'FP32', shape: [-1, DIMENSION] }],
    outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, LABELS.length] }],
  };
  const base = {
    kind: 'tfjs',
    name: MODEL_NAME,
    version: cli.version,
    signature,
    labels: [...LABELS],
    description:
      'TREC question topic from a Universal Sentence Encoder (lite) embedding: send the 512-d embedding of an English question, ' +
      `get one probability per topic (${LABELS.join(', ')}).`,
  };
  // Written before scoring, so the score below comes from the files exactly as served.
  await writeFile(path.join(dir, 'metadata.json'), `${JSON.stringify(base, null, 2)}\n`);
  const testLabels = testSet.examples.map((e) => e.label);
  const evaluation = await evaluateServed(dir, testEmbeddings, testLabels);
  const metadata = {
    ...base,
    evaluation: {
      dataset: 'TREC_10 (500 questions)',
      validationAccuracy: result.validationAccuracy,
      testAccuracy: evaluation.accuracy,
      perClass: evaluation.perClass,
      confusionMatrix: { rows: 'true', columns: 'predicted', labels: [...LABELS], matrix: evaluation.confusionMatrix },
    },
    createdAt: new Date().toISOString(),
    training: {
      command: `pnpm --filter @modeldock/trainer run train:embedding-topic -- --version ${cli.version} --seed ${cli.seed}`,
      seed: cli.seed,
      recipe: RECIPE,
      parameters,
      weightBytes: saved.modelArtifactsInfo.weightDataBytes ?? 0,
      epochsRun: result.epochsRun,
      bestEpoch: result.bestEpoch,
      validationLoss: result.validationLoss,
      split: { fraction: VALIDATION_FRACTION, stratified: true, seed: cli.seed, train: split.train.length, validation: split.validation.length },
      data: provenance.data,
      embeddings: { encoder: encoder.id, dimension: DIMENSION, source: `${USE_LITE_PACKAGE}@${encoderVersion}`, textTransform: 'raw' },
      backend: backend.backend,
      libraries: provenance.libraries,
      seconds: Math.round((Date.now() - startedAt) / 1000),
    },
  };
  await writeFile(path.join(dir, 'metadata.json'), `${JSON.stringify(metadata, null, 2)}\n`);
  await writeFile(path.join(dir, 'REPORT.md'), renderReport(metadata));
  console.log(
    `wrote ${path.relative(ROOT, dir)}: validation ${(result.validationAccuracy * 100).toFixed(2)}%, ` +
      `TREC_10 ${(evaluation.accuracy * 100).toFixed(2)}%, ${parameters} parameters, in ${metadata.training.seconds}s`,
  );
}

try {
  await main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  console.error(`train:embedding-topic: ${error.message} (see --help)`);
  process.exitCode = 2;
}
