/**
 * In-process latency of a bring-your-own `tfjs` model (default: models/embedding-topic/<latest>)
 * at batch 1 and 32, on the main thread and on the worker engine, wasm backend. Bounded: a few
 * warm-up calls, then `--iterations` timed calls per case (default 200).
 *
 *   cd bench && node --import tsx src/tfjs-latency.ts [--model-dir ../models/embedding-topic] [--iterations 200]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createModelRuntime, createWorkerRuntime, listModelVersions, selectBackend, type Batch, type ModelRuntime } from '@modeldock/model-runtime';
import { inputBatch, seededRandom } from './model-inputs.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const { values } = parseArgs({
  options: { 'model-dir': { type: 'string', default: path.join(ROOT, 'models/embedding-topic') }, iterations: { type: 'string', default: '200' } },
});
const iterations = Math.min(10_000, Math.max(1, Number(values.iterations)));
const modelDir = path.resolve(values['model-dir']);
const versionDir = path.join(modelDir, (await listModelVersions(modelDir)).at(-1) ?? '');

const sources = { nextTexts: (n: number) => Array.from({ length: n }, (_, i) => `Question number ${i}?`), random: seededRandom(512) };

/** A batch of `rows` rows of every declared input (random unit vectors for FP32 ones). */
function batchFor(model: ModelRuntime, rows: number): Batch {
  return inputBatch(model, rows, sources);
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

async function measure(label: string, model: ModelRuntime, rows: number): Promise<void> {
  const batch = batchFor(model, rows);
  for (let i = 0; i < 10; i++) await model.predict(batch);
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const started = process.hrtime.bigint();
    await model.predict(batch);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  times.sort((a, b) => a - b);
  const median = quantile(times, 0.5);
  console.log(
    `${label.padEnd(12)} batch ${String(rows).padStart(2)}: median ${median.toFixed(3)} ms, p90 ${quantile(times, 0.9).toFixed(3)} ms, ` +
      `${((rows * 1000) / median).toFixed(0)} rows/s (${iterations} calls)`,
  );
}

await selectBackend('wasm', 'cpu');
const inline = await createModelRuntime(versionDir);
await inline.load();
const threaded = await createWorkerRuntime({ versionDir, backend: 'wasm', device: 'cpu' });
await threaded.load();
console.log(`${inline.name}/${inline.version} (${inline.kind}), wasm, node ${process.versions.node}`);
try {
  for (const rows of [1, 32]) {
    await measure('main thread', inline, rows);
    await measure('worker', threaded, rows);
  }
} finally {
  await inline.unload();
  await threaded.unload();
}
