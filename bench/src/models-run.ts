// `bench models`: start-up, memory and throughput of every model under models/, each in its own
// process behind one gateway, as `pnpm start` runs them.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { measureEngine } from './engine.js';
import { committableLog, gitDescription, loadSummary, machine, progress, runSuite, timestampedResults } from './harness.js';
import { runLoad } from './load.js';
import { bodyCycle, inputBatch, modelRequest, seededRandom, type RowSources } from './model-inputs.js';
import { findModelsAnomalies, renderModelsMarkdown } from './models-report.js';
import { listBenchModels, serverEntry, type BenchModel } from './models.js';
import { loadAverage, type ProcessSupervisor } from './processes.js';
import { createQuestionCycle, loadQuestions } from './questions.js';
import type { ModelFigures, ModelLoadPoint, ModelsResults, StartupSample } from './results.js';
import { engineActivity, scrapeEngineCounters, type EngineCounters } from './service-metrics.js';
import { GATEWAY_ENTRY, startGateway, startModel, type Running } from './services.js';
import { REPO_ROOT, type ModelsSettings } from './settings.js';

const MODELS_DIR = path.join(REPO_ROOT, 'models');
const QUESTIONS_FILE = path.join(REPO_ROOT, 'data/trec/TREC_10.label');
/** Seed of the random unit vectors sent to numeric models: every run sends the same ones. */
const VECTOR_SEED = 512;
/**
 * Every load client comes from 127.0.0.1, so the server's per-client queue share would cap the
 * run; a few clients × 32 rows stay far below the queue itself.
 */
const SERVER_SETTINGS = { MAX_QUEUE_PER_CLIENT: '100000' } as const;
/** Distinct request bodies per gateway point, made before it starts (at 32 vectors a body, ~20 MB of JSON). */
const BODIES_PER_POINT = 128;

const PROTOCOL_NAMES = { openai: 'OpenAI', oip: 'OIP' } as const;

/** Spawn → ready of `start()`, `runs` times; every instance but the last is stopped at once. */
async function sampleStartups(runs: number, start: (run: number) => Promise<Running>): Promise<{ running: Running; samples: StartupSample[] }> {
  const samples: StartupSample[] = [];
  for (let run = 1; ; run++) {
    const running = await start(run);
    samples.push({ readyMs: running.readyMs, idleRssMiB: running.idleRssMiB, loadAverage: loadAverage() });
    if (run >= runs) return { running, samples };
    await running.proc.stop();
  }
}

async function measureModels(settings: ModelsSettings, supervisor: ProcessSupervisor): Promise<ModelsResults> {
  const startedAt = new Date();
  const loadAtStart = loadAverage();
  const models = await listBenchModels(MODELS_DIR);
  if (models.length === 0) throw new Error('no model under models/ (models/<name>/<version>/metadata.json)');
  for (const entry of [GATEWAY_ENTRY, ...models.map((m) => path.join(REPO_ROOT, serverEntry(m)))]) {
    if (!existsSync(entry)) throw new Error(`${path.relative(REPO_ROOT, entry)} is missing: build first (root \`pnpm bench models\` does)`);
  }
  const sources: RowSources = { nextTexts: createQuestionCycle(await loadQuestions(QUESTIONS_FILE)), random: seededRandom(VECTOR_SEED) };
  if (loadAtStart > os.availableParallelism() / 2) {
    progress(`warning: load average ${loadAtStart} on ${os.availableParallelism()} cores; other work will skew the numbers (see the "load avg" and "other CPU" columns)`);
  }
  progress(`${settings.mode} mode: ${models.map((m) => `${m.name} v${m.version} (${m.description.kind})`).join(', ')}`);

  // 1. In-process: nothing else started yet, so the engine has the bench process to itself.
  let backend = 'unknown';
  const figures = new Map<string, ModelFigures>();
  for (const model of models) {
    progress(`1/3 ${model.name}: in-process (runtime.predict, wasm)`);
    const engine = await measureEngine({
      versionDir: model.versionDir,
      batchSizes: settings.batchSizes,
      durationS: settings.engineDurationS,
      warmupS: settings.engineWarmupS,
      maxCalls: 100_000,
      nextBatch: (n) => inputBatch(model.description, n, sources),
      progress: (m) => progress(`  ${m}`),
    });
    backend = engine.backend;
    const request = modelRequest(model.description, sources);
    figures.set(model.name, {
      name: model.name,
      version: model.version,
      servedVersions: model.servedVersions,
      kind: model.description.kind,
      server: model.app ?? 'model-server',
      route: `${PROTOCOL_NAMES[request.protocol]} POST ${request.path}`,
      startups: [],
      peakRssUnderLoadMiB: null,
      engine: engine.points.map((p) => ({ ...p, loadAverage: p.loadAverage ?? loadAverage() })),
      gateway: [],
      logTail: [],
    });
  }

  // 2. Start-up and idle memory: one model at a time, so no start-up competes with another.
  const running = new Map<string, Running>();
  for (const model of models) {
    const { running: r, samples } = await sampleStartups(settings.startups, (run) =>
      startModel(supervisor, model, {
        name: settings.startups > 1 && run < settings.startups ? `${model.name}-start-${run}` : model.name,
        logLevel: settings.logLevel,
        readyTimeoutMs: settings.readyTimeoutMs,
        settings: SERVER_SETTINGS,
      }),
    );
    running.set(model.name, r);
    const f = figures.get(model.name) as ModelFigures;
    f.startups = samples;
    progress(`2/3 ${model.name} ready in ${samples.map((s) => (s.readyMs / 1000).toFixed(2)).join(', ')} s (RSS ${r.idleRssMiB.toFixed(0)} MiB, ${r.origin})`);
  }
  const upstreams = (model: BenchModel): string => (running.get(model.name) as Running).origin;
  const { running: gateway, samples: gatewayStartups } = await sampleStartups(settings.startups, (run) =>
    startGateway(supervisor, {
      name: settings.startups > 1 && run < settings.startups ? `gateway-start-${run}` : 'gateway',
      models: Object.fromEntries(models.map((m) => [m.name, { upstreams: [upstreams(m)], aliases: m.aliases }])),
      logLevel: settings.logLevel,
      readyTimeoutMs: settings.readyTimeoutMs,
    }),
  );
  progress(`2/3 gateway ready in ${gatewayStartups.map((s) => (s.readyMs / 1000).toFixed(2)).join(', ')} s (RSS ${gateway.idleRssMiB.toFixed(0)} MiB)`);

  // 3. Through the gateway, one model at a time (the others idle), as a client calls it.
  let gatewayPeak: number | null = null;
  for (const model of models) {
    const server = running.get(model.name) as Running;
    const f = figures.get(model.name) as ModelFigures;
    const request = modelRequest(model.description, sources);
    progress(`3/3 ${model.name} through the gateway: ${f.route}, ${settings.clients} clients`);
    for (const rows of settings.batchSizes) {
      let before: EngineCounters | undefined;
      const result = await runLoad({
        origin: gateway.origin,
        path: request.path,
        connections: settings.clients,
        textsPerRequest: rows,
        warmupS: settings.warmupS,
        durationS: settings.durationS,
        maxRequests: settings.maxRequestsPerPoint,
        nextBody: bodyCycle(() => request.body(rows), BODIES_PER_POINT),
        watch: { model: server.proc.pid, gateway: gateway.proc.pid },
        onMeasureStart: async () => {
          before = await scrapeEngineCounters(server.origin);
        },
      });
      const after = await scrapeEngineCounters(server.origin);
      const point: ModelLoadPoint = {
        setup: `gateway, ${f.route}`,
        result,
        activity: engineActivity(before, after, result.durationS),
        loadAverage: loadAverage(),
      };
      f.gateway.push(point);
      f.peakRssUnderLoadMiB = maxOf(f.peakRssUnderLoadMiB, result.usage.model?.peakRssMiB);
      gatewayPeak = maxOf(gatewayPeak, result.usage.gateway?.peakRssMiB);
      progress(`  ${settings.clients} clients × ${rows} rows: ${loadSummary(result)} (load avg ${point.loadAverage})`);
    }
  }

  await gateway.proc.stop();
  for (const model of models) {
    const r = running.get(model.name) as Running;
    await r.proc.stop();
    (figures.get(model.name) as ModelFigures).logTail = committableLog(r.proc.tail());
  }
  const measured = [...figures.values()];
  return {
    meta: {
      suite: 'models',
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      mode: settings.mode,
      engineDurationS: settings.engineDurationS,
      durationS: settings.durationS,
      warmupS: settings.warmupS,
      clients: settings.clients,
      logLevel: settings.logLevel,
      machine: machine(),
      backend,
      git: gitDescription(),
      loadGenerator: 'autocannon 8 (programmatic) in the bench process: one Node process, separate from the model servers and the gateway, sharing the same cores',
      loadAverage: { start: loadAtStart, end: loadAverage() },
    },
    models: measured,
    gateway: { startups: gatewayStartups, peakRssUnderLoadMiB: gatewayPeak, logTail: committableLog(gateway.proc.tail()) },
    anomalies: findModelsAnomalies(measured),
  };
}

function maxOf(current: number | null, value: number | null | undefined): number | null {
  if (value == null) return current;
  return current === null ? value : Math.max(current, value);
}

/** Runs `bench models`, writes models-<timestamp>.{json,md} (bench/results/local, or bench/results with --record); resolves to the exit code. */
export async function runModels(settings: ModelsSettings): Promise<number> {
  return runSuite((supervisor) => measureModels(settings, supervisor), timestampedResults('models', renderModelsMarkdown, settings.record));
}
