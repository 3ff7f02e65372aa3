import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Tokenizer } from '@tensorflow-models/universal-sentence-encoder';
import {
  createModelRuntime,
  createWorkerRuntime,
  defaultEncoderDirectory,
  describeModel,
  loadSentenceEncoder,
  localModelHandler,
  modelKind,
  rowsOf,
  selectBackend,
  type Batch,
  type ModelRuntime,
  type WorkerRuntime,
} from '../../src/index.js';

const VERSION_DIR = fileURLToPath(new URL('../../../../models/embedding-topic/1', import.meta.url));
const DIMENSION = 512;

/** Deterministic unit-length pseudo-embeddings (what USE-lite emits is L2-normalised too). */
function embeddings(rows: number, seed: number): Float32Array {
  const out = new Float32Array(rows * DIMENSION);
  let state = seed;
  for (let i = 0; i < out.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 32 - 0.5;
  }
  for (let r = 0; r < rows; r++) {
    const row = out.subarray(r * DIMENSION, (r + 1) * DIMENSION);
    const norm = Math.hypot(...row);
    row.forEach((x, j) => (row[j] = x / norm));
  }
  return out;
}

function batchOf(data: Float32Array): Batch {
  const rows = data.length / DIMENSION;
  return { rows, tensors: { embedding: { datatype: 'FP32', shape: [rows, DIMENSION], data } } };
}

async function probabilities(model: ModelRuntime, data: Float32Array): Promise<number[][]> {
  const outputs = await model.predict(batchOf(data));
  const scores = outputs.tensors.probabilities;
  assert.ok(scores, 'no probabilities output');
  assert.equal(scores.datatype, 'FP32');
  assert.deepEqual(scores.shape, [data.length / DIMENSION, 6]);
  return rowsOf(scores);
}

function assertClose(actual: number[][], expected: number[][], tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: row count`);
  actual.forEach((row, i) => row.forEach((x, j) => assert.ok(Math.abs(x - (expected[i]?.[j] ?? NaN)) <= tolerance, `${what}: [${i}][${j}] ${x} vs ${expected[i]?.[j]}`)));
}

/** A temporary model directory `<tmp>/<name>/1/` with links to `files` and the given metadata. */
async function versionDirWith(root: string, name: string, sourceDir: string, files: readonly string[], metadata: object): Promise<string> {
  const dir = path.join(root, name, '1');
  await mkdir(dir, { recursive: true });
  await Promise.all(files.map((file) => symlink(path.join(sourceDir, file), path.join(dir, file))));
  await writeFile(path.join(dir, 'metadata.json'), JSON.stringify(metadata));
  return dir;
}

describe('the tfjs kind with a layers model (embedding-topic, wasm)', () => {
  let inline: ModelRuntime;
  let threaded: WorkerRuntime;
  let scratch: string;
  let metadata: Record<string, unknown>;

  before(async () => {
    await selectBackend('wasm', 'cpu');
    scratch = await mkdtemp(path.join(tmpdir(), 'tfjs-kind-'));
    metadata = JSON.parse(await readFile(path.join(VERSION_DIR, 'metadata.json'), 'utf8')) as Record<string, unknown>;
    inline = await createModelRuntime(VERSION_DIR);
    // An encoder directory that does not exist: loading would fail if this kind asked for the encoder.
    threaded = await createWorkerRuntime({ versionDir: VERSION_DIR, backend: 'wasm', device: 'cpu', encoderDir: path.join(scratch, 'no-encoder') });
    await Promise.all([inline.load(), threaded.load()]);
  });

  after(async () => {
    await inline?.unload();
    await threaded?.unload();
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  it('describes the signature, labels and evaluation from metadata.json without loading weights', async () => {
    const description = await describeModel(VERSION_DIR);
    assert.equal(description.kind, 'tfjs');
    assert.equal(description.name, 'embedding-topic');
    assert.deepEqual(modelKind(description.kind).resources, []);
    assert.equal(modelKind(description.kind).measure, undefined);
    assert.deepEqual(description.signature, {
      inputs: [{ name: 'embedding', datatype: 'FP32', shape: [-1, 512] }],
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 6] }],
    });
    assert.deepEqual(description.labels, ['ABBR', 'DESC', 'ENTY', 'HUM', 'LOC', 'NUM']);
    assert.equal(description.scoresOutput, 'probabilities');
    assert.equal(description.textInput, undefined);
    assert.equal(typeof (description.info.evaluation as { testAccuracy?: unknown }).testAccuracy, 'number');
  });

  it('runs on the worker engine without the sentence encoder', () => {
    assert.equal(threaded.ready(), true);
    assert.equal(threaded.info.engine, 'worker');
    assert.equal(threaded.backend?.backend, 'wasm');
  });

  it('answers probability rows that sum to 1', async () => {
    const rows = await probabilities(inline, embeddings(3, 1));
    for (const row of rows) assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
  });

  it('answers on the worker thread exactly what it answers on the main thread', async () => {
    const data = embeddings(7, 2);
    const [fromWorker, fromMain] = await Promise.all([probabilities(threaded, data), probabilities(inline, data)]);
    assertClose(fromWorker, fromMain, 1e-6, 'worker vs main');
  });

  it('gives a row the same answer alone and inside a batch', async () => {
    const data = embeddings(32, 3);
    const batch = await probabilities(inline, data);
    for (const i of [0, 13, 31]) {
      const [alone] = await probabilities(inline, data.slice(i * DIMENSION, (i + 1) * DIMENSION));
      assertClose([alone ?? []], [batch[i] ?? []], 1e-5, `row ${i}`);
    }
  });

  it('does not leak tensors over 25 predictions', async () => {
    const data = embeddings(4, 4);
    await probabilities(inline, data);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 25; i++) await probabilities(inline, data);
    assert.equal(tf.memory().numTensors, before);
  });

  it('fails load with a clear message when the signature does not match the model', async () => {
    const files = ['model.json', 'weights.bin'];
    const signature = metadata.signature as { inputs: object[]; outputs: object[] };
    const wrongInput = await versionDirWith(scratch, 'wrong-input', VERSION_DIR, files, {
      ...metadata,
      signature: { ...signature, inputs: [{ name: 'embedding', datatype: 'FP32', shape: [-1, 511] }] },
    });
    await assert.rejects((await createModelRuntime(wrongInput)).load(), /input 'embedding' is \[-1, 511\], the model's is \[-1, 512\]/);
    const wrongOutput = await versionDirWith(scratch, 'wrong-output', VERSION_DIR, files, {
      ...metadata,
      labels: undefined,
      signature: { ...signature, outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 7] }] },
    });
    await assert.rejects((await createModelRuntime(wrongOutput)).load(), /output 'probabilities' is \[-1, 7\]/);
    const twoInputs = await versionDirWith(scratch, 'two-inputs', VERSION_DIR, files, {
      ...metadata,
      signature: { ...signature, inputs: [...signature.inputs, { name: 'extra', datatype: 'FP32', shape: [-1, 3] }] },
    });
    await assert.rejects((await createModelRuntime(twoInputs)).load(), /the layers model has 1 inputs and 1 outputs; metadata declares 2 and 1/);
    const wrongDatatype = await versionDirWith(scratch, 'wrong-datatype', VERSION_DIR, files, {
      ...metadata,
      signature: { ...signature, inputs: [{ name: 'embedding', datatype: 'INT32', shape: [-1, 512] }] },
    });
    await assert.rejects((await createModelRuntime(wrongDatatype)).load(), /input 'embedding' is INT32, the model's is float32/);
    const threadedWrong = await createWorkerRuntime({ versionDir: wrongInput, backend: 'wasm', device: 'cpu' });
    await assert.rejects(threadedWrong.load(), /engine worker failed to load the model: .*input 'embedding' is \[-1, 511\]/);
  });

  it('refuses metadata whose labels do not fit an output, before loading', async () => {
    const mislabelled = await versionDirWith(scratch, 'mislabelled', VERSION_DIR, [], { ...metadata, labels: ['A', 'B', 'C'] });
    await assert.rejects(describeModel(mislabelled), /labels need an FP32 output \[-1, <number of labels>\] of scores/);
  });
});

describe('the tfjs kind with a two-input layers model (INT32 token ids and FP32 features, wasm)', () => {
  let scratch: string;
  let versionDir: string;
  let model: tfl.LayersModel;
  let runtime: ModelRuntime;
  const metadata = {
    kind: 'tfjs',
    name: 'two-inputs',
    version: '1',
    signature: {
      inputs: [
        { name: 'tokens', datatype: 'INT32', shape: [-1, 4] },
        { name: 'features', datatype: 'FP32', shape: [-1, 3] },
      ],
      outputs: [{ name: 'scores', datatype: 'FP32', shape: [-1, 2] }],
    },
    labels: ['no', 'yes'],
  };

  before(async () => {
    await selectBackend('wasm', 'cpu');
    scratch = await mkdtemp(path.join(tmpdir(), 'tfjs-two-'));
    // A Keras-style functional model, saved as tensorflowjs_converter saves layers models.
    const tokens = tfl.input({ shape: [4], dtype: 'int32', name: 'tokens' });
    const features = tfl.input({ shape: [3], name: 'features' });
    const embedded = tfl.layers.flatten().apply(tfl.layers.embedding({ inputDim: 10, outputDim: 3, embeddingsInitializer: tfl.initializers.randomUniform({ seed: 1 }) }).apply(tokens));
    const joined = tfl.layers.concatenate().apply([embedded as tfl.SymbolicTensor, features]);
    const scores = tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }).apply(joined);
    model = tfl.model({ inputs: [tokens, features], outputs: scores as tfl.SymbolicTensor });
    versionDir = path.join(scratch, 'two-inputs', '1');
    await model.save(localModelHandler(path.join(versionDir, 'model.json')));
    await writeFile(path.join(versionDir, 'metadata.json'), JSON.stringify(metadata));
    runtime = await createModelRuntime(versionDir);
    await runtime.load();
  });

  after(async () => {
    await runtime?.unload();
    model?.dispose();
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  it('feeds each declared input to the model input in the same position', async () => {
    const ids = Int32Array.from([1, 2, 3, 4, 9, 0, 0, 7]);
    const values = Float32Array.from([0.5, -1, 2, 0, 0.25, -0.75]);
    const outputs = await runtime.predict({
      rows: 2,
      tensors: {
        tokens: { datatype: 'INT32', shape: [2, 4], data: ids },
        features: { datatype: 'FP32', shape: [2, 3], data: values },
      },
    });
    const scores = outputs.tensors.scores;
    assert.ok(scores);
    assert.deepEqual(scores.shape, [2, 2]);
    const expected = tf.tidy(() => (model.predict([tf.tensor2d(ids, [2, 4], 'int32'), tf.tensor2d(values, [2, 3])]) as tf.Tensor).arraySync() as number[][]);
    assertClose(rowsOf(scores), expected, 1e-6, 'kind vs model.predict');
    assert.deepEqual(runtime.labels, ['no', 'yes']);
  });

  it('refuses metadata that lists the inputs in another order than the model', async () => {
    const swapped = path.join(scratch, 'swapped', '1');
    await mkdir(swapped, { recursive: true });
    await Promise.all(['model.json', 'weights.bin'].map((file) => symlink(path.join(versionDir, file), path.join(swapped, file))));
    const [first, second] = metadata.signature.inputs;
    await writeFile(path.join(swapped, 'metadata.json'), JSON.stringify({ ...metadata, signature: { ...metadata.signature, inputs: [second, first] } }));
    await assert.rejects((await createModelRuntime(swapped)).load(), /input 'features' is \[-1, 3\], the model's is \[-1, 4\]/);
  });
});

describe('the tfjs kind with a graph model (USE-lite, wasm)', () => {
  const encoderDir = defaultEncoderDirectory();
  const OUTPUT_NODE = 'module_apply_default/Encoder_en/hidden_layers/l2_normalize';
  let scratch: string;
  let versionDir: string;
  let runtime: ModelRuntime;

  before(async () => {
    await selectBackend('wasm', 'cpu');
    scratch = await mkdtemp(path.join(tmpdir(), 'tfjs-graph-'));
    const files = (await readdir(encoderDir)).filter((file) => file === 'model.json' || file.startsWith('group'));
    versionDir = await versionDirWith(scratch, 'use-lite', encoderDir, files, {
      kind: 'tfjs',
      name: 'use-lite',
      version: '1',
      signature: {
        inputs: [
          { name: 'indices', datatype: 'INT32', shape: [-1, 2] },
          { name: 'values', datatype: 'INT32', shape: [-1] },
        ],
        outputs: [{ name: 'embedding', node: OUTPUT_NODE, datatype: 'FP32', shape: [-1, 512] }],
      },
    });
    runtime = await createModelRuntime(versionDir);
    await runtime.load();
  });

  after(async () => {
    await runtime?.unload();
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  it('embeds a tokenized sentence exactly as the sentence encoder does, leaking no tensors', async () => {
    const sentence = 'How far is it from Denver to Aspen?';
    const vocabulary = JSON.parse(await readFile(path.join(encoderDir, 'vocab.json'), 'utf8')) as [string, number][];
    const pieces = new Tokenizer(vocabulary).encode(sentence);
    const indices = Int32Array.from(pieces.flatMap((_, j) => [0, j]));
    const outputs = await runtime.predict({
      rows: pieces.length,
      tensors: {
        indices: { datatype: 'INT32', shape: [pieces.length, 2], data: indices },
        values: { datatype: 'INT32', shape: [pieces.length], data: Int32Array.from(pieces) },
      },
    });
    const embedding = outputs.tensors.embedding;
    assert.ok(embedding, 'no embedding output');
    assert.equal(embedding.datatype, 'FP32');
    assert.deepEqual(embedding.shape, [1, 512]);

    const encoder = await loadSentenceEncoder();
    try {
      const expected = await encoder.embed([sentence]);
      const values = Array.from(await expected.data());
      expected.dispose();
      assertClose(rowsOf(embedding), [values], 1e-5, 'graph kind vs encoder');
    } finally {
      encoder.dispose();
    }
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      await runtime.predict({
        rows: pieces.length,
        tensors: {
          indices: { datatype: 'INT32', shape: [pieces.length, 2], data: indices },
          values: { datatype: 'INT32', shape: [pieces.length], data: Int32Array.from(pieces) },
        },
      });
    }
    assert.equal(tf.memory().numTensors, before, 'the graph path leaks tensors');
  });

  it('fails load with the graph’s input names when metadata names an input it lacks', async () => {
    const files = (await readdir(encoderDir)).filter((file) => file === 'model.json' || file.startsWith('group'));
    const wrong = await versionDirWith(scratch, 'use-lite-wrong', encoderDir, files, {
      kind: 'tfjs',
      name: 'use-lite-wrong',
      version: '1',
      signature: {
        inputs: [{ name: 'tokens', datatype: 'INT32', shape: [-1] }],
        outputs: [{ name: 'embedding', node: OUTPUT_NODE, datatype: 'FP32', shape: [-1, 512] }],
      },
    });
    await assert.rejects((await createModelRuntime(wrong)).load(), /the graph has no input 'tokens' \(inputs: indices, values\)/);
  });

  it('fails load, naming the warm-up, when metadata names an output node the graph lacks', async () => {
    const files = (await readdir(encoderDir)).filter((file) => file === 'model.json' || file.startsWith('group'));
    const wrong = await versionDirWith(scratch, 'use-lite-no-output', encoderDir, files, {
      kind: 'tfjs',
      name: 'use-lite-no-output',
      version: '1',
      signature: {
        inputs: [
          { name: 'indices', datatype: 'INT32', shape: [-1, 2] },
          { name: 'values', datatype: 'INT32', shape: [-1] },
        ],
        outputs: [{ name: 'embedding', node: 'no/such/node', datatype: 'FP32', shape: [-1, 512] }],
      },
    });
    await assert.rejects((await createModelRuntime(wrong)).load(), /use-lite-no-output\/1: the warm-up prediction failed: .*no\/such\/node/);
  });
});
