// `pnpm bench bulk`: what a bulk embeddings client costs everyone else. The sentence-embedding model
// behind the gateway, at their default settings, on the wasm backend: a second client's single-text
// latency alone and while a 2,048-input request runs, and the largest request the budget admits.
import { Agent, request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { loadUseTokenizer, planEngineWork, type UseTokenizer } from '@modeldock/model-runtime';
import { WORK_DEADLINE_FACTOR } from '@modeldock/model-server';
import { renderBulkMarkdown } from './bulk-report.js';
import { gitDescription, machine, progress, runSuite, timestampedResults } from './harness.js';
import { listBenchModels } from './models.js';
import type { ProcessSupervisor } from './processes.js';
import { loadQuestions } from './questions.js';
import { startGateway, startModel } from './services.js';
import type { BulkResults, BulkRound } from './results.js';
import { REPO_ROOT, type BulkSettings } from './settings.js';
import { fmt, round, summarise, type LatencySummary } from './stats.js';

const MODEL = 'sentence-embedding';
/** The largest batch of the clients' defaults (OpenAI's limit, the AI SDK's `maxEmbeddingsPerCall`). */
const BULK_INPUTS = 2048;
/** LangChain's default `batchSize`: with chunks of 128 pieces or more, the largest request admitted (65,536 positions). */
const LONG_INPUTS = 512;
/** The server's defaults (packages/model-server/src/config.ts) the request is planned with. */
const PLAN_LIMITS = { maxPositions: 1024, maxRows: 32 };

/** A client of its own: the gateway and the model server tell clients apart by address (127.0.0.x is all loopback). */
interface Client {
  readonly address: string;
  readonly agent: Agent;
}

interface Answer {
  status: number;
  ms: number;
  text: string;
}

function post(origin: string, client: Client, body: unknown): Promise<Answer> {
  const started = performance.now();
  const payload = JSON.stringify(body);
  return new Promise((resolve) => {
    const req = request(
      `${origin}/v1/embeddings`,
      { method: 'POST', agent: client.agent, localAddress: client.address, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', () => resolve({ status: 0, ms: performance.now() - started, text: '' }));
      },
    );
    req.on('error', (err) => resolve({ status: 0, ms: performance.now() - started, text: err.message }));
    req.end(payload);
  });
}

/** One text per request, one request at a time, until `done()`; each request's latency and status. */
async function singleTexts(origin: string, client: Client, texts: readonly string[], done: () => boolean, maxRequests: number): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (let i = 0; !done() && i < maxRequests; i += 1) {
    const answer = await post(origin, client, { model: MODEL, input: texts[i % texts.length] });
    answers.push({ ...answer, text: answer.status === 200 ? '' : answer.text.slice(0, 200) });
  }
  return answers;
}

/** What a request costs as the server plans it: padded positions and estimated engine seconds (one wasm core). */
function cost(tokenizer: UseTokenizer, texts: readonly string[]): { pieces: number; positions: number; engineS: number; deadlineS: number } {
  const pieces = texts.map((text) => tokenizer.countPieces(text));
  const plan = planEngineWork(pieces, PLAN_LIMITS);
  return {
    pieces: pieces.reduce((a, b) => a + b, 0),
    positions: plan.positions,
    engineS: round(plan.seconds, 1) ?? 0,
    deadlineS: round(Math.min(120, Math.max(30, WORK_DEADLINE_FACTOR * plan.seconds)), 1) ?? 0,
  };
}

function latencies(answers: readonly Answer[]): LatencySummary {
  const summary = summarise(answers.filter((a) => a.status === 200).map((a) => a.ms));
  return { count: summary.count, p50: round(summary.p50) ?? NaN, p90: round(summary.p90) ?? NaN, p99: round(summary.p99) ?? NaN, max: round(summary.max) ?? NaN };
}

/** Runs one bulk request from `bulk` while `second` sends single texts; the round and the second client's answers. */
async function bulkRound(
  origin: string,
  clients: { bulk: Client; second: Client },
  texts: readonly string[],
  singles: readonly string[],
  tokenizer: UseTokenizer,
): Promise<{ round: BulkRound; second: Answer[] }> {
  let finished = false;
  const bulk = post(origin, clients.bulk, { model: MODEL, input: texts }).finally(() => (finished = true));
  const second = await singleTexts(origin, clients.second, singles, () => finished, 100_000);
  const answer = await bulk;
  const round_ = {
    inputs: texts.length,
    ...cost(tokenizer, texts),
    status: answer.status,
    seconds: round(answer.ms / 1000, 1) ?? 0,
    second: latencies(second),
    secondFailures: second.filter((a) => a.status !== 200).length,
  };
  return { round: round_, second };
}

/** Texts of at least `pieces` pieces, built from the questions' words, each different. */
function longTexts(tokenizer: UseTokenizer, words: readonly string[], count: number, pieces: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const out: string[] = [];
    for (let w = i * 37; tokenizer.countPieces(out.join(' ')) < pieces; w += 1) out.push(words[w % words.length] as string);
    return out.join(' ');
  });
}

async function measureBulk(settings: BulkSettings, supervisor: ProcessSupervisor): Promise<BulkResults> {
  const startedAt = new Date();
  const loadStart = os.loadavg()[0] ?? 0;
  const model = (await listBenchModels(path.join(REPO_ROOT, 'models'))).find((m) => m.name === MODEL);
  if (model === undefined) throw new Error(`no ${MODEL} model under models/`);
  progress(`starting ${MODEL} (wasm, default settings) and the gateway`);
  const server = await startModel(supervisor, model, { name: MODEL, logLevel: settings.logLevel, readyTimeoutMs: settings.readyTimeoutMs });
  const gateway = await startGateway(supervisor, {
    name: 'gateway',
    models: { [MODEL]: { upstreams: [server.origin] } },
    logLevel: settings.logLevel,
    readyTimeoutMs: settings.readyTimeoutMs,
  });
  const tokenizer = await loadUseTokenizer();
  const train = [...new Set(await loadQuestions(path.join(REPO_ROOT, 'data/trec/train_5500.label')))];
  const singles = await loadQuestions(path.join(REPO_ROOT, 'data/trec/TREC_10.label'));
  const clients = { bulk: { address: '127.0.0.2', agent: new Agent({ keepAlive: true }) }, second: { address: '127.0.0.3', agent: new Agent({ keepAlive: true }) } };
  const anomalies: string[] = [];

  progress(`second client alone, ${settings.baselineS} s`);
  const until = performance.now() + settings.baselineS * 1000;
  const baseline = await singleTexts(gateway.origin, clients.second, singles, () => performance.now() > until, 100_000);
  if (baseline.some((a) => a.status !== 200)) anomalies.push(`second client alone: ${baseline.filter((a) => a.status !== 200).length} failures`);

  const rounds: BulkRound[] = [];
  const during: Answer[] = [];
  for (let r = 0; r < settings.rounds; r += 1) {
    const texts = Array.from({ length: BULK_INPUTS }, (_, i) => train[(r * 311 + i) % train.length] as string);
    progress(`round ${r + 1}/${settings.rounds}: ${BULK_INPUTS} TREC questions in one request, the second client beside it`);
    const { round: result, second } = await bulkRound(gateway.origin, clients, texts, singles, tokenizer);
    during.push(...second);
    progress(`  bulk ${result.status} in ${result.seconds} s; second client p50 ${fmt(result.second.p50)} p99 ${fmt(result.second.p99)} ms (${result.second.count} requests)`);
    if (result.status !== 200) anomalies.push(`bulk round ${r + 1}: status ${result.status}`);
    if (result.secondFailures > 0) anomalies.push(`bulk round ${r + 1}: ${result.secondFailures} failures of the second client`);
    rounds.push(result);
  }

  const words = train.join(' ').split(/\s+/);
  const long = longTexts(tokenizer, words, LONG_INPUTS + 1, 200);
  progress(`the largest admitted: ${LONG_INPUTS} texts of 200+ pieces`);
  const { round: largest } = await bulkRound(gateway.origin, clients, long.slice(0, LONG_INPUTS), singles, tokenizer);
  progress(`  ${largest.status} in ${largest.seconds} s; second client p50 ${fmt(largest.second.p50)} p99 ${fmt(largest.second.p99)} ms`);
  if (largest.status !== 200) anomalies.push(`largest admitted request: status ${largest.status}`);
  const over = await post(gateway.origin, clients.bulk, { model: MODEL, input: long });
  if (over.status !== 400) anomalies.push(`one text over the largest: status ${over.status}, expected 400`);
  let message = over.text;
  try {
    message = (JSON.parse(over.text) as { error: { message: string } }).error.message;
  } catch {
    // Not the OpenAI error shape: keep the text.
  }
  for (const client of Object.values(clients)) client.agent.destroy();
  return {
    meta: {
      suite: 'bulk',
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      mode: settings.mode,
      machine: machine(),
      git: gitDescription(),
      loadAverage: { start: round(loadStart) ?? 0, end: round(os.loadavg()[0] ?? 0) ?? 0 },
    },
    baseline: latencies(baseline),
    rounds,
    during: latencies(during),
    largest,
    overLimit: { status: over.status, message },
    anomalies,
  };
}

/** Runs `bench bulk`, writes bulk-<timestamp>.{json,md}; resolves to the exit code. */
export async function runBulk(settings: BulkSettings): Promise<number> {
  return runSuite((supervisor) => measureBulk(settings, supervisor), timestampedResults('bulk', renderBulkMarkdown, settings.record));
}
