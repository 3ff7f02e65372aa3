/**
 * Inference cost per text of model versions side by side, through the serving runtime on wasm:
 * `node dist/compare-latency.js [--versions 1,2] [--batch 32] [--rounds 40]`. Calls alternate
 * between versions on the same batches, so load from other processes on a shared machine hits
 * every version alike; the median per round is reported.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TEXT_INPUT, createEngine, describeModel, selectBackend, textBatch } from '@modeldock/model-runtime';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const { values } = parseArgs({
  options: {
    versions: { type: 'string', default: '1,2' },
    batch: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '40' },
    'model-dir': { type: 'string', default: path.join(ROOT, 'models/question-topic') },
  },
});
const batch = Number(values.batch);
const rounds = Number(values.rounds);
if (!(batch >= 1 && rounds >= 1)) throw new Error('--batch and --rounds must be positive');

const backend = await selectBackend('wasm', 'cpu');
const texts = (await readFile(path.join(ROOT, 'data/trec/TREC_10.label'), 'latin1'))
  .split(/\r?\n/)
  .filter((line) => line.trim() !== '')
  .map((line) => line.replace(/^\S+ /, ''));
const versions = values.versions.split(',');
// One engine, as the server's: the versions share the sentence encoder their kind declares.
const engine = await createEngine(
  await Promise.all(
    versions.map(async (version) => {
      const versionDir = path.join(values['model-dir'], version);
      return { versionDir, description: await describeModel(versionDir) };
    }),
  ),
);
const runtimes = [];
for (const [i, runtime] of engine.runtimes.entries()) {
  const started = performance.now();
  await runtime.load();
  runtimes.push({ version: versions[i] as string, runtime, loadMs: performance.now() - started, perText: [] as number[] });
}
for (let round = 0; round < rounds + 3; round++) {
  const start = (round * batch) % (texts.length - batch);
  const chunk = texts.slice(start, start + batch);
  for (const entry of round % 2 === 0 ? runtimes : [...runtimes].reverse()) {
    const t0 = performance.now();
    await entry.runtime.predict(textBatch(TEXT_INPUT, chunk));
    // The first rounds warm caches and the wasm heap; they are not counted.
    if (round >= 3) entry.perText.push((performance.now() - t0) / batch);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const base = median(runtimes[0]!.perText);
console.log(`backend ${backend.backend}, batch ${batch}, ${rounds} rounds per version (alternating)`);
for (const { version, perText, loadMs } of runtimes) {
  const m = median(perText);
  console.log(
    `v${version}: median ${m.toFixed(2)} ms/text (${(m * batch).toFixed(1)} ms/batch), ` +
      `${(m / base).toFixed(2)}× v${runtimes[0]!.version}; load + warm-up ${Math.round(loadMs)} ms`,
  );
}
for (const { runtime } of runtimes) await runtime.unload();
engine.dispose();
