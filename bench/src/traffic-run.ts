// `pnpm bench traffic`: the result cache under traffic that repeats itself (issue 15). Each scenario
// runs the model server behind the gateway twice in one run, with the cache off and then on, under
// the same load: 16 clients, one request in flight each.
import os from 'node:os';
import path from 'node:path';
import { gitDescription, loadSummary, machine, progress, runSuite, timestampedResults } from './harness.js';
import { runLoad } from './load.js';
import { seededRandom } from './model-inputs.js';
import { listBenchModels, type BenchModel } from './models.js';
import type { ProcessSupervisor } from './processes.js';
import { loadQuestions } from './questions.js';
import type { TargetCheck, TrafficPoint, TrafficResults, TrafficScenario } from './results.js';
import { startGateway, startModel } from './services.js';
import { REPO_ROOT, type TrafficSettings } from './settings.js';
import { round } from './stats.js';
import { renderTrafficMarkdown } from './traffic-report.js';

/** The Zipf exponent of the question traffic: a few questions very often, a long tail once. */
export const ZIPF_S = 1.1;
/** Share of the texts of an embedding request that were already sent earlier in the run. */
export const RESENT_SHARE = 0.3;
/** Texts per embedding request (a pipeline embedding documents in batches). */
const EMBEDDING_TEXTS = 16;
/** Requests made before each load point (more than any point sends), so building them costs the load nothing. */
const BODIES = 60_000;

/**
 * A sampler of ranks 0..n-1 with P(k) ∝ 1 / (k + 1)^s (Zipf), from `random` in [0, 1): inverse of
 * the cumulative distribution by binary search.
 */
export function zipfSampler(n: number, s: number, random: () => number): () => number {
  const cumulative = new Float64Array(n);
  let total = 0;
  for (let k = 0; k < n; k += 1) cumulative[k] = total += 1 / (k + 1) ** s;
  return () => {
    const target = random() * total;
    let low = 0;
    let high = n - 1;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((cumulative[mid] as number) < target) low = mid + 1;
      else high = mid;
    }
    return low;
  };
}

/** `items` in an order of `random`'s (Fisher-Yates), so popularity does not follow the file's order. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * Batches of `size` texts in the order they will be sent, where each text is, with probability
 * `resent`, one already placed earlier (uniformly), and otherwise the next unseen one of `fresh`.
 */
export function resendingBatches(fresh: (i: number) => string, count: number, size: number, resent: number, random: () => number): string[][] {
  const seen: string[] = [];
  let next = 0;
  return Array.from({ length: count }, () =>
    Array.from({ length: size }, () => {
      if (seen.length > 0 && random() < resent) return seen[Math.floor(random() * seen.length)] as string;
      const text = fresh(next++);
      seen.push(text);
      return text;
    }),
  );
}

/** The sum of a counter of a model server's /metrics over its label sets. */
export function counterSum(metrics: string, name: string): number {
  let sum = 0;
  for (const match of metrics.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(match[1]);
  return sum;
}

async function scrape(origin: string): Promise<string> {
  try {
    return await (await fetch(`${origin}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  } catch {
    return '';
  }
}

interface ScenarioSpec {
  name: string;
  model: BenchModel;
  path: string;
  route: string;
  traffic: string;
  textsPerRequest: number;
  /** The request bodies, in the order they are sent. */
  bodies: string[];
}

/** Starts the model (cache `cacheBytes`) and the gateway, runs the load, and reads what the cache did. */
async function measurePoint(settings: TrafficSettings, supervisor: ProcessSupervisor, spec: ScenarioSpec, cacheBytes: number): Promise<TrafficPoint> {
  const server = await startModel(supervisor, spec.model, {
    name: `${spec.model.name}-cache-${cacheBytes > 0 ? 'on' : 'off'}`,
    logLevel: settings.logLevel,
    readyTimeoutMs: settings.readyTimeoutMs,
    // Every load client comes from 127.0.0.1: one client's share of the queue would cap the whole run.
    settings: { CACHE_BYTES: String(cacheBytes), MAX_QUEUE_PER_CLIENT: '8192', MAX_QUEUE_POSITIONS_PER_CLIENT: '131072' },
  });
  const gateway = await startGateway(supervisor, {
    name: 'gateway',
    models: { [spec.model.name]: { upstreams: [server.origin], aliases: spec.model.aliases } },
    logLevel: settings.logLevel,
    readyTimeoutMs: settings.readyTimeoutMs,
  });
  let next = 0;
  let before = '';
  try {
    const result = await runLoad({
      origin: gateway.origin,
      path: spec.path,
      connections: settings.clients,
      textsPerRequest: spec.textsPerRequest,
      warmupS: settings.warmupS,
      durationS: settings.durationS,
      maxRequests: spec.bodies.length,
      nextBody: () => spec.bodies[next++ % spec.bodies.length] as string,
      watch: { service: server.proc.pid, gateway: gateway.proc.pid },
      onMeasureStart: async () => {
        before = await scrape(server.origin);
      },
    });
    const after = await scrape(server.origin);
    const delta = (name: string) => counterSum(after, name) - counterSum(before, name);
    const [hits, misses, coalesced] = ['modeldock_cache_hits_total', 'modeldock_cache_misses_total', 'modeldock_cache_coalesced_rows_total'].map(delta) as [number, number, number];
    const rows = hits + misses + coalesced;
    return {
      cache: cacheBytes > 0 ? 'on' : 'off',
      cacheBytes,
      result,
      hits,
      misses,
      coalesced,
      savedShare: cacheBytes > 0 && rows > 0 ? round((hits + coalesced) / rows, 3) : null,
      heldBytes: counterSum(after, 'modeldock_cache_bytes'),
    };
  } finally {
    await gateway.proc.stop();
    await server.proc.stop();
  }
}

async function measureScenario(settings: TrafficSettings, supervisor: ProcessSupervisor, spec: ScenarioSpec): Promise<TrafficScenario> {
  const points: TrafficPoint[] = [];
  for (const cacheBytes of [0, settings.cacheBytes]) {
    progress(`${spec.name}: cache ${cacheBytes > 0 ? `on (${cacheBytes} bytes)` : 'off'}, ${settings.clients} clients`);
    const point = await measurePoint(settings, supervisor, spec, cacheBytes);
    progress(`  ${loadSummary(point.result)}${point.savedShare === null ? '' : `; ${Math.round(point.savedShare * 100)} % of rows not computed`}`);
    points.push(point);
  }
  const [off, on] = points as [TrafficPoint, TrafficPoint];
  return {
    name: spec.name,
    model: spec.model.name,
    route: spec.route,
    traffic: spec.traffic,
    off,
    on,
    speedup: round(on.result.requestsPerS / off.result.requestsPerS, 2) ?? 0,
  };
}

async function measureTraffic(settings: TrafficSettings, supervisor: ProcessSupervisor): Promise<TrafficResults> {
  const startedAt = new Date();
  const loadStart = os.loadavg()[0] ?? 0;
  const models = await listBenchModels(path.join(REPO_ROOT, 'models'));
  const find = (name: string) => {
    const model = models.find((m) => m.name === name);
    if (model === undefined) throw new Error(`no ${name} model under models/`);
    return model;
  };
  const random = seededRandom(15);
  const questions = shuffled([...new Set(await loadQuestions(path.join(REPO_ROOT, 'data/trec/train_5500.label')))], random);
  const rank = zipfSampler(questions.length, ZIPF_S, random);
  const zipf: ScenarioSpec = {
    name: `TREC questions, Zipf s = ${ZIPF_S}`,
    model: find('question-topic'),
    path: '/predict_topic',
    route: 'POST /predict_topic, one question per request, through the gateway',
    traffic: `each question drawn from the ${questions.length} distinct TREC training questions with P(rank k) ∝ 1/k^${ZIPF_S}`,
    textsPerRequest: 1,
    bodies: Array.from({ length: BODIES }, () => JSON.stringify({ rawtext_list: [questions[rank()]] })),
  };
  const pool = [...questions, ...(await loadQuestions(path.join(REPO_ROOT, 'data/trec/TREC_10.label')))];
  // Past the pool, each text again with a number: still a text nobody sent before.
  const fresh = (i: number) => (i < pool.length ? (pool[i] as string) : `${pool[i % pool.length] as string} (${Math.floor(i / pool.length)})`);
  const embedding: ScenarioSpec = {
    name: `embeddings, ${Math.round(RESENT_SHARE * 100)} % of texts re-sent`,
    model: find('sentence-embedding'),
    path: '/v1/embeddings',
    route: `POST /v1/embeddings, ${EMBEDDING_TEXTS} texts per request, through the gateway`,
    traffic: `each text, with probability ${RESENT_SHARE}, one sent earlier in the run (uniformly), else a new one`,
    textsPerRequest: EMBEDDING_TEXTS,
    bodies: resendingBatches(fresh, BODIES / EMBEDDING_TEXTS, EMBEDDING_TEXTS, RESENT_SHARE, random).map((input) =>
      JSON.stringify({ model: 'sentence-embedding', input }),
    ),
  };

  const scenarios: TrafficScenario[] = [];
  for (const spec of [zipf, embedding]) scenarios.push(await measureScenario(settings, supervisor, spec));

  const anomalies: string[] = [];
  for (const scenario of scenarios) {
    for (const point of [scenario.off, scenario.on]) {
      const failed = point.result.errors + point.result.unexpected + point.result.shed.count;
      if (failed > 0) anomalies.push(`${scenario.name}, cache ${point.cache}: ${failed} requests failed or were shed`);
    }
  }
  const zipfScenario = scenarios[0] as TrafficScenario;
  const targets: TargetCheck[] = [
    {
      name: 'Result cache on the Zipf traffic',
      target: '≥ 2× req/s with the cache on',
      value: `${zipfScenario.speedup}× (${zipfScenario.on.result.requestsPerS.toFixed(1)} vs ${zipfScenario.off.result.requestsPerS.toFixed(1)} req/s)`,
      pass: zipfScenario.speedup >= 2,
    },
  ];
  return {
    meta: {
      suite: 'traffic',
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      mode: settings.mode,
      durationS: settings.durationS,
      warmupS: settings.warmupS,
      clients: settings.clients,
      machine: machine(),
      git: gitDescription(),
      loadGenerator: 'autocannon (programmatic) in the bench process',
      loadAverage: { start: round(loadStart) ?? 0, end: round(os.loadavg()[0] ?? 0) ?? 0 },
    },
    scenarios,
    targets,
    anomalies,
  };
}

/** Runs `bench traffic`, writes traffic-<timestamp>.{json,md}; resolves to the exit code. */
export async function runTraffic(settings: TrafficSettings): Promise<number> {
  return runSuite((supervisor) => measureTraffic(settings, supervisor), timestampedResults('traffic', renderTrafficMarkdown, settings.record));
}
