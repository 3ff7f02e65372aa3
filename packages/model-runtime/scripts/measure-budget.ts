/**
 * Measures what the sentence encoder's work budget must bound (see BUDGET.md):
 *  (a) tokenizer time, upstream USE `Tokenizer` vs `createUseTokenizer`, by pieces per text;
 *  (b) USE-lite engine time on wasm (one thread) by pieces per text and texts per request, and
 *      least-squares fits of the cost. The graph keeps only each text's first 128 pieces
 *      (`ClipToMaxLength`), so the features use e = min(pieces, 128).
 *
 *  (c) the largest requests the proposed budget admits (planned padded positions <= 4,096), run as
 *      `planEngineCalls` splits them.
 *  (d) bulk requests (`--bulk` runs only this): the cost of one engine call by process CPU time
 *      (one wasm thread is one core) for TREC questions and long texts, a fit of it, and the
 *      largest bulk requests the server admits, run in the calls the batcher makes of them.
 *
 *   nice -n 5 node --import tsx scripts/measure-budget.ts [--quick] [--max-seconds=40] [--admitted-only] [--bulk]
 *
 * Not a test: it times things. Every loop is bounded by count and by `--max-seconds` per case.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { Tokenizer } from '@tensorflow-models/universal-sentence-encoder';
import { setThreadsCount, getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import {
  USE_LITE_WASM_COST,
  loadSentenceEncoder,
  planEngineCalls,
  planEngineWork,
  plannedPositions,
  selectBackend,
  type SentenceEncoder,
} from '../src/index.js';
import { createUseTokenizer, parseUseVocabulary, normalizeForEncoder, type UseTokenizer } from '../src/use-tokenizer.js';
import { defaultEncoderDirectory } from '../src/sentence-encoder.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const bulkOnly = args.includes('--bulk');
const admittedOnly = args.includes('--admitted-only') || bulkOnly;
const maxSeconds = Number(args.find((a) => a.startsWith('--max-seconds='))?.split('=')[1] ?? 40);

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** English words from the TREC questions, cycled: realistic pieces (about 1.2 per word). */
const words = readFileSync(new URL('../../../data/trec/train_5500.label', import.meta.url))
  .toString('latin1')
  .split(/\r?\n/)
  .flatMap((line) => line.slice(line.indexOf(' ') + 1).split(/\s+/))
  .filter((w) => w !== '');

/** A text of close to `pieces` pieces, built from whole words and trimmed piece by piece. */
function textOfPieces(tokenizer: UseTokenizer, pieces: number, offset = 0): string {
  let count = Math.max(1, Math.round(pieces / 1.3));
  const make = (n: number): string => Array.from({ length: n }, (_, i) => words[(offset + i) % words.length]).join(' ');
  while (tokenizer.countPieces(make(count)) < pieces) count += Math.max(1, Math.round((pieces - tokenizer.countPieces(make(count))) / 1.5));
  while (count > 1 && tokenizer.countPieces(make(count - 1)) >= pieces) count--;
  return make(count);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

const vocabulary = parseUseVocabulary(readFileSync(`${defaultEncoderDirectory()}/vocab.json`, 'utf8'));
const ours = createUseTokenizer(vocabulary);
const upstream = new Tokenizer(vocabulary as [string, number][]);

console.log(`# measure-budget  ${new Date().toISOString()}  node ${process.version}  ${os.cpus()[0]?.model ?? '?'} x${os.cpus().length}  load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

// (a) Tokenizer.
console.log('\n## (a) tokenizer, seconds per text\n');
console.log('| input | pieces | characters after NFKC | upstream s | linear s |');
console.log('|---|---:|---:|---:|---:|');
const tokenizerCases: [string, number][] = admittedOnly ? [] : quick ? [['english', 1000], ['english', 4000]] : [['english', 1000], ['english', 4000], ['english', 18000], ['english', 36000]];
const fdfaCases = admittedOnly ? [] : quick ? [100] : [100, 400, 1000, 2000];
const runTokenizerCase = (label: string, text: string): void => {
  const pieces = ours.countPieces(text);
  let start = process.hrtime.bigint();
  const theirs = upstream.encode(text);
  const upstreamSeconds = seconds(start);
  const linearTimes: number[] = [];
  for (let i = 0; i < 3; i++) {
    start = process.hrtime.bigint();
    ours.encode(text);
    linearTimes.push(seconds(start));
  }
  if (theirs.length !== pieces) throw new Error(`${label}: piece counts differ`);
  console.log(`| ${label} | ${pieces} | ${normalizeForEncoder(text).length} | ${upstreamSeconds.toFixed(3)} | ${median(linearTimes).toFixed(4)} |`);
};
for (const [label, pieces] of tokenizerCases) runTokenizerCase(label, textOfPieces(ours, pieces));
for (const n of fdfaCases) runTokenizerCase(`U+FDFA x${n}`, '\uFDFA'.repeat(n));
{
  // NFKC reorders combining marks by insertion: quadratic in a run's length (why raw length is bounded first).
  const marks = 'a' + '\u0301\u0316'.repeat(1000);
  const start = process.hrtime.bigint();
  for (let i = 0; i < 10; i++) normalizeForEncoder(marks);
  console.log(`\nNFKC of 2,001 characters of alternating combining marks (worst-case reordering): ${((seconds(start) / 10) * 1000).toFixed(2)} ms`);
}

// (b) Engine.
setThreadsCount(1);
await selectBackend('wasm', 'cpu', {});
console.log(`\n## (b) USE-lite engine on wasm, ${getThreadsCount()} thread(s): seconds per embed call\n`);
const encoder: SentenceEncoder = await loadSentenceEncoder();

/** USE lite's `ClipToMaxLength`: positions at or past this are dropped inside the graph. */
const MAX_POSITIONS = 128;

interface Sample {
  label: string;
  texts: number;
  /** Pieces sent. */
  total: number;
  /** Σ e, e = min(pieces, 128) per text: positions the transformer sees. */
  positions: number;
  /** Σ e². */
  sumSquares: number;
  /** texts × (longest e)²: attention over a batch padded to its longest text. */
  paddedSquares: number;
  seconds: number;
}
const samples: Sample[] = [];

async function timeEmbed(texts: string[]): Promise<number> {
  const start = process.hrtime.bigint();
  const output = await encoder.embed(texts);
  await output.data();
  output.dispose();
  return seconds(start);
}

await timeEmbed(['warm up the graph', 'and its kernels']);
const uniform = (pieces: number, texts: number): number[] => Array.from({ length: texts }, () => pieces);
const perText = quick ? [16, 64, 256] : [16, 64, 256, 512, 1024, 2048];
const batches = quick ? [1, 8] : [1, 32];
const cases: number[][] = admittedOnly ? [] : [
  ...batches.flatMap((b) => perText.map((p) => uniform(p, b))),
  ...(quick
    ? [[...uniform(16, 7), 256]]
    : [
        uniform(128, 1),
        uniform(128, 32),
        uniform(32, 32),
        uniform(96, 32),
        uniform(128, 16),
        uniform(16, 128),
        uniform(64, 8),
        uniform(64, 128),
        uniform(16, 256),
        uniform(128, 64),
        [...uniform(16, 31), 128],
        [...uniform(16, 31), 2048],
        [...uniform(16, 16), ...uniform(128, 16)],
        [...uniform(32, 63), 1024],
      ]),
];
console.log('| pieces per text | texts | total pieces | positions Σmin(p,128) | runs | median s | ms per position |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
const skipped: string[] = [];
for (const plan of cases) {
  const sizes = [...new Set(plan)];
  const label = sizes.length === 1 ? `${plan[0]}` : sizes.map((p) => `${plan.filter((q) => q === p).length}×${p}`).join(' + ');
  const texts = plan.map((pieces, i) => textOfPieces(ours, pieces, i * 997));
  const counts = texts.map((t) => ours.countPieces(t));
  const total = counts.reduce((x, y) => x + y, 0);
  const effective = counts.map((count) => Math.min(count, MAX_POSITIONS));
  const longest = Math.max(...effective);
  const sample = {
    label,
    texts: texts.length,
    total,
    positions: effective.reduce((x, y) => x + y, 0),
    sumSquares: effective.reduce((x, y) => x + y * y, 0),
    paddedSquares: texts.length * longest * longest,
  };
  // Bound the run: extrapolate from the largest case so far as if cost were quadratic in the padded
  // size (the pessimistic case), and skip what would take far over the cap.
  const previous = samples.filter((s) => s.paddedSquares <= sample.paddedSquares).sort((x, y) => x.paddedSquares - y.paddedSquares).at(-1);
  if (previous && previous.seconds * (sample.paddedSquares / previous.paddedSquares) > 3 * maxSeconds) {
    skipped.push(`${label} x${texts.length}`);
    continue;
  }
  const times: number[] = [];
  const deadline = process.hrtime.bigint() + BigInt(Math.round(maxSeconds * 1e9));
  for (let run = 0; run < 5 && (run < 1 || process.hrtime.bigint() < deadline); run++) {
    times.push(await timeEmbed(texts));
    if (times[0]! > maxSeconds / 3) break;
  }
  const s = median(times);
  samples.push({ ...sample, seconds: s });
  console.log(`| ${label} | ${texts.length} | ${total} | ${sample.positions} | ${times.length} | ${s.toFixed(3)} | ${((s / sample.positions) * 1000).toFixed(3)} |`);
}
if (skipped.length > 0) console.log(`\nskipped (predicted over ${3 * maxSeconds} s): ${skipped.join(', ')}`);

/** Least squares for seconds = Σ βj·feature_j, by the normal equations; also the worst relative error. */
function fit(features: ((s: Sample) => number)[]): { beta: number[]; worst: number; predict: (s: Sample) => number } {
  const k = features.length;
  const scale = features.map((f) => Math.max(...samples.map(f)) || 1);
  const xs = samples.map((s) => features.map((f, j) => f(s) / scale[j]!));
  // Relative errors matter (cases span three orders of magnitude): weight each row by 1/seconds.
  const w = samples.map((s) => 1 / s.seconds);
  const m = [...Array(k).keys()].map((i) => [...Array(k).keys()].map((j) => xs.reduce((acc, row, r) => acc + w[r]! ** 2 * row[i]! * row[j]!, 0)));
  const v = [...Array(k).keys()].map((i) => xs.reduce((acc, row, r) => acc + w[r]! ** 2 * row[i]! * samples[r]!.seconds, 0));
  for (let i = 0; i < k; i++) {
    for (let r = i + 1; r < k; r++) {
      const f = m[r]![i]! / m[i]![i]!;
      for (let j = i; j < k; j++) m[r]![j]! -= f * m[i]![j]!;
      v[r]! -= f * v[i]!;
    }
  }
  const beta = new Array<number>(k).fill(0);
  for (let i = k - 1; i >= 0; i--) {
    let acc = v[i]!;
    for (let j = i + 1; j < k; j++) acc -= m[i]![j]! * beta[j]!;
    beta[i] = acc / m[i]![i]!;
  }
  const unscaled = beta.map((b, j) => b / scale[j]!);
  const predict = (s: Sample): number => features.reduce((acc, f, j) => acc + unscaled[j]! * f(s), 0);
  const worst = Math.max(...samples.map((s) => Math.abs(predict(s) - s.seconds) / s.seconds));
  return { beta: unscaled, worst, predict };
}
const models: [string, string[], ((s: Sample) => number)[]][] = [
  ['per text', ['1', 'Σe', 'Σe²'], [() => 1, (s) => s.positions, (s) => s.sumSquares]],
  ['attention padded to the longest text', ['1', 'Σe', 'texts·max(e)²'], [() => 1, (s) => s.positions, (s) => s.paddedSquares]],
];
const fits: Record<string, unknown> = {};
for (const [name, terms, features] of models) {
  if (samples.length < 4) break;
  const { beta, worst, predict } = fit(features);
  fits[name] = { terms, beta, worst };
  console.log(`\nfit (${name}): seconds = ${beta.map((b, j) => `${b.toExponential(3)}·${terms[j]}`).join(' + ')}  (worst relative error ${(worst * 100).toFixed(0)} %)`);
  for (const s of samples) console.log(`  ${s.label} x${s.texts}: measured ${s.seconds.toFixed(3)} s, fit ${predict(s).toFixed(3)} s`);
}
console.log(JSON.stringify({ samples, fits }));

// (c) The largest admitted requests, split as the budget plans them.
if (!bulkOnly) {
  const budget = 4096;
  const questions = readFileSync(new URL('../../../data/trec/train_5500.label', import.meta.url))
    .toString('latin1')
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
    .map((line) => line.slice(line.indexOf(' ') + 1));
  const requests: [string, string[]][] = [
    ['32 texts of 128+ pieces', Array.from({ length: 32 }, (_, i) => textOfPieces(ours, 300, i * 31))],
    ['256 TREC questions (1..256)', questions.slice(0, 256)],
    ['31 x 16 pieces + 1 x 2,000 pieces', [...Array.from({ length: 31 }, (_, i) => textOfPieces(ours, 16, i * 7)), textOfPieces(ours, 2000)]],
    ['2,000 x U+FDFA (36,001 pieces)', ['\uFDFA'.repeat(2000)]],
  ];
  console.log(`\n## (c) largest admitted requests (planned padded positions <= ${budget}), wasm, one thread\n`);
  console.log('| request | pieces | planned positions | calls | engine s (wall) | process CPU s |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const [label, texts] of requests) {
    const counts = texts.map((t) => ours.countPieces(t));
    const planned = plannedPositions(counts, budget);
    const calls = planEngineCalls(counts, budget);
    const start = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    for (const call of calls) {
      const output = await encoder.embed(call.map((i) => texts[i] ?? ''));
      await output.data();
      output.dispose();
    }
    console.log(`| ${label} | ${counts.reduce((a, b) => a + b, 0)} | ${planned}${planned > budget ? ' (rejected)' : ''} | ${calls.length} | ${seconds(start).toFixed(3)} | ${(((u) => (u.user + u.system) / 1e6)(process.cpuUsage(cpu))).toFixed(3)} |`);
  }
}

// The graph ignores pieces past the 128th: a text and the same text with more words after its
// 128th piece embed identically.
if (!bulkOnly) {
  const head = textOfPieces(ours, 200);
  const [a, b] = [head, `${head} ${textOfPieces(ours, 300, 4242)}`];
  const output = await encoder.embed([a, b]);
  const rows = (await output.array());
  output.dispose();
  const difference = Math.max(...(rows[0] ?? []).map((v, i) => Math.abs(v - (rows[1]?.[i] ?? NaN))));
  console.log(`\nmax |embedding(200 pieces) - embedding(same + ${ours.countPieces(b) - ours.countPieces(a)} more)|: ${difference}`);
}

// (d) Bulk requests: what one engine call costs in process CPU (one wasm thread: one core, whatever
// else the machine runs), and the largest bulk requests run as the server runs them: rows sorted by
// length and cut into calls of at most 32 texts and 1,024 padded positions (the batcher's limits).
if (bulkOnly) {
  const trec = [
    ...new Set(
      readFileSync(new URL('../../../data/trec/train_5500.label', import.meta.url))
        .toString('latin1')
        .split(/\r?\n/)
        .map((line) => line.slice(line.indexOf(' ') + 1).trim())
        .filter((text) => text !== ''),
    ),
  ];
  const cpuSeconds = async (texts: readonly string[]): Promise<{ cpu: number; wall: number }> => {
    const start = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    const output = await encoder.embed(texts);
    await output.data();
    output.dispose();
    const used = process.cpuUsage(cpu);
    return { cpu: (used.user + used.system) / 1e6, wall: seconds(start) };
  };
  const sortedTrec = [...trec.slice(0, 2048)].sort((a, b) => ours.countPieces(a) - ours.countPieces(b));
  const long = Array.from({ length: 512 }, (_, i) => textOfPieces(ours, 200, i * 211));
  const callCases: [string, string[]][] = [
    ...[8, 32, 64, 128, 256].map((n): [string, string[]] => [`TREC x${n}`, sortedTrec.slice(1000, 1000 + n)]),
    ...[1, 4, 8, 16, 32].map((n): [string, string[]] => [`200-piece texts x${n}`, long.slice(0, n)]),
  ];
  console.log(`\n## (d) bulk requests, wasm, one thread, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  console.log('### one engine call: process CPU seconds (median of 3)\n');
  console.log('| call | texts | padded positions | CPU s | wall s | CPU ms per position |');
  console.log('|---|---:|---:|---:|---:|---:|');
  const points: { positions: number; cpu: number }[] = [];
  for (const [label, texts] of callCases) {
    const runs = [await cpuSeconds(texts), await cpuSeconds(texts), await cpuSeconds(texts)].sort((a, b) => a.cpu - b.cpu);
    const { cpu, wall } = runs[1] as { cpu: number; wall: number };
    const positions = planEngineWork(texts.map((t) => ours.countPieces(t)), { maxPositions: Infinity }).positions;
    points.push({ positions, cpu });
    console.log(`| ${label} | ${texts.length} | ${positions} | ${cpu.toFixed(3)} | ${wall.toFixed(3)} | ${((cpu / positions) * 1000).toFixed(3)} |`);
  }
  // Least squares of cpu = c + k·positions, each point weighted by 1/cpu (relative error).
  const w = points.map((p) => 1 / p.cpu ** 2);
  const sw = w.reduce((a, b) => a + b, 0);
  const sx = points.reduce((a, p, i) => a + w[i]! * p.positions, 0);
  const sy = points.reduce((a, p, i) => a + w[i]! * p.cpu, 0);
  const sxx = points.reduce((a, p, i) => a + w[i]! * p.positions ** 2, 0);
  const sxy = points.reduce((a, p, i) => a + w[i]! * p.positions * p.cpu, 0);
  const k = (sw * sxy - sx * sy) / (sw * sxx - sx * sx);
  const c = (sy - k * sx) / sw;
  const envelope = Math.max(...points.filter((p) => p.positions >= 256).map((p) => (p.cpu - Math.max(c, 0)) / p.positions));
  console.log(`\nfit: CPU s = ${c.toFixed(4)} + ${(k * 1000).toFixed(3)} ms · padded positions; upper envelope of calls >= 256 positions: ${(envelope * 1000).toFixed(3)} ms per position`);
  console.log(`cost model in use (engine-cost.ts): ${USE_LITE_WASM_COST.fixed} s per call + ${(USE_LITE_WASM_COST.perPaddedPosition * 1000).toFixed(2)} ms per padded position`);

  const shortText = (i: number) => textOfPieces(ours, 32, i * 37);
  const requests: [string, string[]][] = [
    ['2,048 TREC questions (the client tests)', trec.slice(0, 2048)],
    ['512 texts of 200 pieces (LangChain default batch of long chunks)', long],
    ['2,048 texts of 32 pieces', Array.from({ length: 2048 }, (_, i) => shortText(i))],
  ];
  console.log('\n### the largest bulk requests, in the calls the batcher makes (<= 32 texts, <= 1,024 positions)\n');
  console.log('| request | pieces | padded positions | calls | estimated s | CPU s | wall s | longest call wall s |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const [label, texts] of requests) {
    const counts = texts.map((t) => ours.countPieces(t));
    const plan = planEngineWork(counts, { maxPositions: 1024, maxRows: 32 });
    const calls = planEngineCalls(counts, 1024, undefined, 32);
    let cpu = 0;
    let wall = 0;
    let longest = 0;
    for (const call of calls) {
      const timed = await cpuSeconds(call.map((i) => texts[i] ?? ''));
      cpu += timed.cpu;
      wall += timed.wall;
      longest = Math.max(longest, timed.wall);
    }
    console.log(
      `| ${label} | ${counts.reduce((a, b) => a + b, 0)} | ${plan.positions} | ${plan.calls} | ${plan.seconds.toFixed(1)} | ${cpu.toFixed(1)} | ${wall.toFixed(1)} | ${longest.toFixed(2)} |`,
    );
  }
  console.log(`\nload average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}
encoder.dispose();
