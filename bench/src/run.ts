import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { listModelVersions, TEXT_INPUT, textBatch } from '@modeldock/model-runtime';
import { measureEngine } from './engine.js';
import { committableLog, dateParts, gitDescription, loadSummary as summary, machine, progress, resultsExist, runSuite, writeResultFiles } from './harness.js';
import { runLoad, type LoadResult } from './load.js';
import { loadAverage, type ProcessSupervisor } from './processes.js';
import { createQuestionCycle, loadQuestions } from './questions.js';
import { evaluateTargets, findAnomalies, overheads, renderMarkdown } from './report.js';
import type { BenchResults, LoadPoint, ProcessFigures } from './results.js';
import { engineActivity, scrapeEngineCounters, type EngineCounters } from './service-metrics.js';
import { GATEWAY_ENTRY, questionTopicModels, SERVICE_ENTRY, startGateway, startService, type Running } from './services.js';
import { REPO_ROOT, type BenchSettings } from './settings.js';

const MODEL_DIR = path.join(REPO_ROOT, 'models/question-topic');
const QUESTIONS_FILE = path.join(REPO_ROOT, 'data/trec/TREC_10.label');
const ROUTE = '/predict_topic';

async function waitForModelVersion(waitMs: number): Promise<string> {
  const deadline = performance.now() + waitMs;
  let announced = false;
  for (;;) {
    const versions = existsSync(MODEL_DIR) ? await listModelVersions(MODEL_DIR) : [];
    const ready = versions.filter((v) => existsSync(path.join(MODEL_DIR, v, 'metadata.json')));
    const latest = ready.at(-1);
    if (latest !== undefined) return latest;
    if (performance.now() > deadline) throw new Error(`no trained model (version folder with metadata.json) in ${MODEL_DIR}`);
    if (!announced) progress(`waiting for a trained model in ${MODEL_DIR} ...`);
    announced = true;
    await new Promise((resolve) => setTimeout(resolve, 5000));
  }
}

/** The seed route's body: `{"rawtext_list": [...]}` with the next `texts` questions. */
function topicBody(nextTexts: (n: number) => string[], texts: number): () => string {
  return () => JSON.stringify({ rawtext_list: nextTexts(texts) });
}

function describeLoad(connections: number, texts: number): string {
  return `${connections} client${connections === 1 ? '' : 's'} × ${texts} q`;
}

/** Runs every scenario in order; the supervisor stops whatever is left if one throws. */
async function run(settings: BenchSettings, supervisor: ProcessSupervisor): Promise<BenchResults> {
  const startedAt = new Date();
  const loadAtStart = loadAverage();
  for (const entry of [SERVICE_ENTRY, GATEWAY_ENTRY]) {
    if (!existsSync(entry)) throw new Error(`${entry} is missing: build first (root \`pnpm bench\` does)`);
  }
  const version = await waitForModelVersion(settings.modelWaitMs);
  const questions = await loadQuestions(QUESTIONS_FILE);
  const nextTexts = createQuestionCycle(questions);
  if (loadAtStart > os.availableParallelism() / 2) {
    progress(`warning: load average ${loadAtStart} on ${os.availableParallelism()} cores; other work will skew the numbers (see the "other CPU" column)`);
  }
  progress(`${settings.mode} mode, model version ${version}, ${questions.length} TREC questions, ${settings.durationS} s per point`);
  const processes: ProcessFigures[] = [];
  const peakRss = new Map<number, number>();

  const measure = async (
    setup: string,
    target: Running,
    services: readonly Running[],
    connections: number,
    texts: number,
    watch: Record<string, Running> = {},
  ): Promise<LoadPoint> => {
    let before: (EngineCounters | undefined)[] = [];
    const result = await runLoad({
      origin: target.origin,
      path: ROUTE,
      connections,
      textsPerRequest: texts,
      warmupS: settings.warmupS,
      durationS: settings.durationS,
      maxRequests: settings.maxRequestsPerPoint,
      nextBody: topicBody(nextTexts, texts),
      watch: Object.fromEntries(Object.entries(watch).map(([name, r]) => [name, r.proc.pid])),
      onMeasureStart: async () => {
        before = await Promise.all(services.map((s) => scrapeEngineCounters(s.origin)));
      },
    });
    const after = await Promise.all(services.map((s) => scrapeEngineCounters(s.origin)));
    for (const [name, r] of Object.entries(watch)) {
      const peak = result.usage[name]?.peakRssMiB;
      if (peak != null) peakRss.set(r.proc.pid, Math.max(peakRss.get(r.proc.pid) ?? 0, peak));
    }
    const activity = engineActivity(sumCounters(before), sumCounters(after), result.durationS);
    progress(`  ${setup}, ${describeLoad(connections, texts)}: ${summary(result)}`);
    return { setup, result, activity };
  };
  const record = (name: string, r: Running): void => {
    processes.push({ name, readyMs: r.readyMs, idleRssMiB: r.idleRssMiB, peakRssUnderLoadMiB: null, logTail: [] });
    progress(`${name} ready in ${(r.readyMs / 1000).toFixed(2)} s (${r.origin}, RSS ${r.idleRssMiB.toFixed(0)} MiB)`);
  };
  const stop = async (...running: Running[]): Promise<void> => {
    for (const r of running) {
      const figures = processes.find((p) => p.name === r.proc.name);
      await r.proc.stop();
      if (figures !== undefined) {
        figures.peakRssUnderLoadMiB = peakRss.get(r.proc.pid) ?? null;
        // Results are committed: keep log lines, not this machine's paths.
        figures.logTail = committableLog(r.proc.tail());
      }
    }
  };
  const loads: [number, number][] = [...settings.clients.map((c): [number, number] => [c, 1]), [settings.bulk.clients, settings.bulk.texts]];

  // 1. The raw in-process limit.
  progress('1/6 engine in-process (runtime.predict, wasm)');
  const engine = await measureEngine({
    versionDir: path.join(MODEL_DIR, version),
    batchSizes: settings.engineBatchSizes,
    durationS: settings.engineDurationS,
    warmupS: settings.engineWarmupS,
    maxCalls: 100_000,
    nextBatch: (n) => textBatch(TEXT_INPUT, nextTexts(n)),
    progress: (m) => progress(`  ${m}`),
  });

  // 2a. Service direct, batching off.
  progress('2/6 service direct, batching off (QT_MAX_BATCH_SIZE=1)');
  const off = await startService(supervisor, { name: 'service-batching-off', logLevel: settings.logLevel, readyTimeoutMs: settings.readyTimeoutMs, maxBatchSize: 1 });
  record('service-batching-off', off);
  const batchingOff: LoadPoint[] = [];
  for (const [c, t] of loads) batchingOff.push(await measure('direct, batching off', off, [off], c, t, { service: off }));
  await stop(off);

  // 2b + 3. Batching on: each load direct, then through a one-replica gateway, back to back.
  progress('3/6 service batching on (defaults): direct vs gateway (1 replica)');
  const a = await startService(supervisor, { name: 'service-a', logLevel: settings.logLevel, readyTimeoutMs: settings.readyTimeoutMs });
  record('service-a', a);
  const gw1 = await startGateway(supervisor, { name: 'gateway-1-replica', models: questionTopicModels([a.origin]), logLevel: settings.logLevel, readyTimeoutMs: settings.readyTimeoutMs });
  record('gateway-1-replica', gw1);
  const batchingOn: LoadPoint[] = [];
  const viaGateway: LoadPoint[] = [];
  for (const [c, t] of loads) {
    batchingOn.push(await measure('direct, batching on', a, [a], c, t, { service: a }));
    viaGateway.push(await measure('gateway, 1 replica', gw1, [a], c, t, { service: a, gateway: gw1 }));
  }
  await stop(gw1);

  // 4. Two replicas behind the gateway.
  progress('4/6 two replicas behind the gateway');
  const b = await startService(supervisor, { name: 'service-b', logLevel: settings.logLevel, readyTimeoutMs: settings.readyTimeoutMs });
  record('service-b', b);
  const gw2 = await startGateway(supervisor, { name: 'gateway-2-replicas', models: questionTopicModels([a.origin, b.origin]), logLevel: settings.logLevel, readyTimeoutMs: settings.readyTimeoutMs });
  record('gateway-2-replicas', gw2);
  const sat = settings.saturationClients;
  const one = viaGateway.find((p) => p.result.connections === sat && p.result.textsPerRequest === 1);
  if (one === undefined) throw new Error(`no one-replica point at ${sat} clients`);
  const two: LoadPoint[] = [await measure('gateway, 2 replicas', gw2, [a, b], sat, 1, { serviceA: a, serviceB: b, gateway: gw2 })];
  if (settings.mode === 'full') {
    two.push(await measure('gateway, 2 replicas', gw2, [a, b], settings.bulk.clients, settings.bulk.texts, { serviceA: a, serviceB: b, gateway: gw2 }));
  }
  await stop(gw2);
  // Diagnostic: the same two replicas with no gateway (half the clients each, two load generators in this process).
  let twoDirect: LoadPoint | null = null;
  if (settings.mode === 'full') {
    twoDirect = await measureTwoDirect(a, b, sat, settings, nextTexts);
    progress(`  direct to 2 replicas, ${describeLoad(sat, 1)}: ${summary(twoDirect.result)}`);
  }
  await stop(a, b);

  // 6. Overload: a small queue and many clients.
  progress(`5/6 overload: QT_MAX_QUEUE=${settings.overload.maxQueue}, ${settings.overload.clients} clients`);
  const small = await startService(supervisor, { name: 'service-small-queue', logLevel: settings.logLevel, readyTimeoutMs: settings.readyTimeoutMs, maxQueue: settings.overload.maxQueue });
  record('service-small-queue', small);
  const overloadPoint = await measure('direct, small queue', small, [small], settings.overload.clients, 1, { service: small });
  await stop(small);

  progress('6/6 report');
  const speedup = (two[0]?.result.requestsPerS ?? 0) / one.result.requestsPerS;
  const partial = {
    engine: engine.points,
    direct: { batchingOff, batchingOn },
    gateway: { points: viaGateway, overhead: overheads(batchingOn, viaGateway) },
    replicas: { one, two, twoDirect, speedup },
    processes,
    overload: { maxQueue: settings.overload.maxQueue, point: overloadPoint },
  };
  return {
    meta: {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      mode: settings.mode,
      durationS: settings.durationS,
      warmupS: settings.warmupS,
      logLevel: settings.logLevel,
      machine: machine(),
      backend: engine.backend,
      modelVersion: version,
      git: gitDescription(),
      loadAverage: { start: loadAtStart, end: loadAverage() },
      loadGenerator: 'autocannon 8 (programmatic) in the bench process: one Node process, separate from the services and the gateway, sharing the same cores',
    },
    ...partial,
    targets: evaluateTargets(partial, settings),
    anomalies: findAnomalies(partial),
  };
}

/** Both replicas loaded directly at once, `connections` split evenly; results merged. */
async function measureTwoDirect(
  a: Running,
  b: Running,
  connections: number,
  settings: BenchSettings,
  nextTexts: (n: number) => string[],
): Promise<LoadPoint> {
  const half = Math.max(1, Math.floor(connections / 2));
  let before: (EngineCounters | undefined)[] = [];
  const watch = { serviceA: a.proc.pid, serviceB: b.proc.pid };
  const spec = (r: Running) => ({
    origin: r.origin, path: ROUTE, connections: half, textsPerRequest: 1, warmupS: settings.warmupS,
    durationS: settings.durationS, maxRequests: settings.maxRequestsPerPoint, nextBody: topicBody(nextTexts, 1), watch,
  });
  const [ra, rb] = await Promise.all([
    runLoad({
      ...spec(a),
      onMeasureStart: async () => {
        before = await Promise.all([scrapeEngineCounters(a.origin), scrapeEngineCounters(b.origin)]);
      },
    }),
    runLoad(spec(b)),
  ]);
  const after = await Promise.all([scrapeEngineCounters(a.origin), scrapeEngineCounters(b.origin)]);
  const merged: LoadResult = {
    ...ra,
    connections: ra.connections + rb.connections,
    ok: ra.ok + rb.ok,
    requestsPerS: ra.requestsPerS + rb.requestsPerS,
    textsPerS: ra.textsPerS + rb.textsPerS,
    // Percentiles cannot be merged exactly; the worse replica's is the honest bound.
    latency: ra.latency.p50 >= rb.latency.p50 ? ra.latency : rb.latency,
    errors: ra.errors + rb.errors,
    timeouts: ra.timeouts + rb.timeouts,
    unexpected: ra.unexpected + rb.unexpected,
    statusCounts: mergeCounts(ra.statusCounts, rb.statusCounts),
    // Both runs watched the same processes (one shared load generator), so either's usage is the whole picture.
    usage: ra.usage,
    otherCpuCores: ra.otherCpuCores,
  };
  return { setup: 'direct, 2 replicas (no gateway)', result: merged, activity: engineActivity(sumCounters(before), sumCounters(after), ra.durationS) };
}

function mergeCounts(x: Record<string, number>, y: Record<string, number>): Record<string, number> {
  const out = { ...x };
  for (const [k, v] of Object.entries(y)) out[k] = (out[k] ?? 0) + v;
  return out;
}

function sumCounters(all: readonly (EngineCounters | undefined)[]): EngineCounters | undefined {
  if (all.some((c) => c === undefined)) return undefined;
  return (all as EngineCounters[]).reduce((sum, c) => ({
    engineSeconds: sum.engineSeconds + c.engineSeconds,
    engineCalls: sum.engineCalls + c.engineCalls,
    batchTexts: sum.batchTexts + c.batchTexts,
    batches: sum.batches + c.batches,
    queueSeconds: sum.queueSeconds + c.queueSeconds,
    queued: sum.queued + c.queued,
  }));
}

async function writeResults(results: BenchResults, record: boolean): Promise<{ json: string; md: string; markdown: string }> {
  const { day, time } = dateParts(new Date());
  const base = resultsExist(day, record) ? `${day}-${time}` : day;
  const markdown = renderMarkdown(results);
  return { ...(await writeResultFiles(base, results, markdown, record)), markdown };
}

/** Runs every scenario, writes the results and prints the tables; resolves to the exit code. */
export async function runBench(settings: BenchSettings): Promise<number> {
  return runSuite((supervisor) => run(settings, supervisor), (results) => writeResults(results, settings.record));
}
