import type { EnginePoint } from './engine.js';
import type { MachineDescription } from './harness.js';
import type { LoadResult } from './load.js';
import type { LatencySummary } from './stats.js';
import type { EngineActivity } from './service-metrics.js';

/** One measured load point and what the service's engine did meanwhile. */
export interface LoadPoint {
  /** e.g. `direct, batching on`, `gateway, 2 replicas`. */
  setup: string;
  result: LoadResult;
  /** Summed over the replicas behind the point, when they expose metrics. */
  activity: EngineActivity;
}

/** A started process's start-up and memory figures. */
export interface ProcessFigures {
  name: string;
  readyMs: number;
  idleRssMiB: number;
  peakRssUnderLoadMiB: number | null;
  /** Last lines the process logged (warn and above), for diagnosing errors. */
  logTail: string[];
}

/** Gateway minus direct latency at one load. */
export interface Overhead {
  load: string;
  directP50: number;
  gatewayP50: number;
  p50: number;
  directP99: number;
  gatewayP99: number;
  p99: number;
}

/** One target from the brief, evaluated. */
export interface TargetCheck {
  name: string;
  target: string;
  value: string;
  pass: boolean;
}

/** Everything a run writes to `bench/results/<date>.json`. */
export interface BenchResults {
  meta: {
    startedAt: string;
    finishedAt: string;
    mode: 'quick' | 'full';
    durationS: number;
    warmupS: number;
    logLevel: string;
    machine: MachineDescription;
    backend: string;
    modelVersion: string;
    git: string;
    loadGenerator: string;
    /** 1-minute load average when the run started and ended. */
    loadAverage: { start: number; end: number };
  };
  engine: EnginePoint[];
  direct: { batchingOff: LoadPoint[]; batchingOn: LoadPoint[] };
  gateway: { points: LoadPoint[]; overhead: Overhead[] };
  replicas: { one: LoadPoint; two: LoadPoint[]; twoDirect: LoadPoint | null; speedup: number };
  processes: ProcessFigures[];
  overload: { maxQueue: number; point: LoadPoint };
  targets: TargetCheck[];
  /** Errors where none were expected; non-empty makes the run exit non-zero. */
  anomalies: string[];
}

/** One spawn → ready sample. */
export interface StartupSample {
  readyMs: number;
  /** RSS right after readiness. */
  idleRssMiB: number;
  /** 1-minute load average right after readiness. */
  loadAverage: number;
}

/** An in-process engine point and the machine's load when it ended. */
export interface ModelEnginePoint extends EnginePoint {
  loadAverage: number;
}

/** A load point through the gateway and the machine's load when it ended. */
export interface ModelLoadPoint extends LoadPoint {
  loadAverage: number;
}

/** Everything `bench models` measured for one model. */
export interface ModelFigures {
  name: string;
  /** The version measured in-process (the newest). */
  version: string;
  /** Every version its server loaded (model-settings.json `versions`); absent in runs before it was recorded. */
  servedVersions?: string[];
  kind: string;
  /** `apps/<name>` that served it (`model-server` is the generic one). */
  server: string;
  /** How it was loaded through the gateway, e.g. `OpenAI POST /v1/embeddings`. */
  route: string;
  startups: StartupSample[];
  /** Highest RSS sampled (every 500 ms) while its gateway points ran. */
  peakRssUnderLoadMiB: number | null;
  engine: ModelEnginePoint[];
  gateway: ModelLoadPoint[];
  /** Last lines the process logged (warn and above). */
  logTail: string[];
}

/** Everything `bench models` writes to `bench/results/models-<timestamp>.json`. */
export interface ModelsResults {
  meta: {
    suite: 'models';
    startedAt: string;
    finishedAt: string;
    mode: 'quick' | 'full';
    engineDurationS: number;
    durationS: number;
    warmupS: number;
    clients: number;
    logLevel: string;
    machine: MachineDescription;
    backend: string;
    git: string;
    loadGenerator: string;
    loadAverage: { start: number; end: number };
  };
  models: ModelFigures[];
  gateway: { startups: StartupSample[]; peakRssUnderLoadMiB: number | null; logTail: string[] };
  /** Errors where none were expected; non-empty makes the run exit non-zero. */
  anomalies: string[];
}

/** One proxy measured by `bench gateway`, over every round. */
export interface ProxyFigures {
  /** e.g. `gateway (every stage on)`, `Express 5 + http-proxy-middleware`. */
  name: string;
  /** One load point per round, in round order. */
  rounds: LoadResult[];
  /** Medians over the rounds. */
  requestsPerS: number;
  p50: number;
  p99: number;
  /** The proxy's CPU time per answered request, µs (median over the rounds): what other load on the machine skews least. */
  cpuMicrosPerRequest: number | null;
}

/** Where a CPU profile spent its samples: the top functions by self time, and by origin. */
export interface ProfileSummary {
  totalMs: number;
  /** `function (file:line)` and its share of self time, in %. */
  functions: { name: string; selfMs: number; percent: number }[];
  /** Self time by origin: a package under node_modules, `node:` internals, the gateway's own code, GC, idle. */
  origins: { name: string; selfMs: number; percent: number }[];
}

/** Everything `bench gateway` writes to `bench/results/gateway-<timestamp>.json`. */
export interface GatewayResults {
  meta: {
    suite: 'gateway';
    startedAt: string;
    finishedAt: string;
    mode: 'quick' | 'full';
    connections: number;
    durationS: number;
    warmupS: number;
    rounds: number;
    /** The gateway build measured (`apps/gateway/dist/main.js` unless given). */
    gatewayEntry: string;
    /** What was on in the gateway. */
    gatewaySetup: string;
    machine: MachineDescription;
    git: string;
    loadGenerator: string;
    loadAverage: { start: number; end: number };
  };
  proxies: ProxyFigures[];
  /** Gateway req/s over the Express + http-proxy-middleware proxy's (medians). */
  ratio: number;
  /** The Express proxy's CPU per request over the gateway's: the same comparison in CPU time. */
  cpuRatio: number | null;
  /** Gateway p50 minus the Express proxy's and the bare Node proxy's, ms. */
  overheadP50: { vsExpress: number; vsNode: number };
  profile: ProfileSummary | null;
  anomalies: string[];
}

/** A bulk request and the second client's requests while it ran. */
export interface BulkRound {
  inputs: number;
  pieces: number;
  positions: number;
  /** Estimated engine seconds on one wasm core, and the deadline the server gives it. */
  engineS: number;
  deadlineS: number;
  status: number;
  seconds: number;
  second: LatencySummary;
  secondFailures: number;
}

/** Everything `bench bulk` writes to `bulk-<timestamp>.json`. */
export interface BulkResults {
  meta: {
    suite: 'bulk';
    startedAt: string;
    finishedAt: string;
    mode: 'quick' | 'full';
    machine: MachineDescription;
    git: string;
    /** 1-minute load average when the run started and ended. */
    loadAverage: { start: number; end: number };
  };
  /** The second client alone. */
  baseline: LatencySummary;
  /** 2,048 TREC questions per request, the second client beside each. */
  rounds: BulkRound[];
  /** The second client over every round. */
  during: LatencySummary;
  /** The largest request admitted (LangChain's default batch of long texts), the second client beside it. */
  largest: BulkRound;
  /** One more long text than the largest: refused. */
  overLimit: { status: number; message: string };
  anomalies: string[];
}

/** One load with the result cache off or on, and what the cache did during its measured window. */
export interface TrafficPoint {
  cache: 'off' | 'on';
  /** `<prefix>CACHE_BYTES` of the model server. */
  cacheBytes: number;
  result: LoadResult;
  /** Rows answered from the cache, computed, and answered by a computation already in flight. */
  hits: number;
  misses: number;
  coalesced: number;
  /** (hits + coalesced) over every row; null with the cache off. */
  savedShare: number | null;
  /** Bytes the cache held at the end. */
  heldBytes: number;
}

/** One traffic scenario, measured with the cache off and on in the same run. */
export interface TrafficScenario {
  name: string;
  model: string;
  /** e.g. `POST /predict_topic`, through the gateway. */
  route: string;
  /** How the texts are drawn. */
  traffic: string;
  off: TrafficPoint;
  on: TrafficPoint;
  /** Requests per second with the cache over without. */
  speedup: number;
}

/** Everything `bench traffic` writes to `traffic-<timestamp>.json`. */
export interface TrafficResults {
  meta: {
    suite: 'traffic';
    startedAt: string;
    finishedAt: string;
    mode: 'quick' | 'full';
    durationS: number;
    warmupS: number;
    clients: number;
    machine: MachineDescription;
    git: string;
    loadGenerator: string;
    loadAverage: { start: number; end: number };
  };
  scenarios: TrafficScenario[];
  targets: TargetCheck[];
  anomalies: string[];
}

/** Every results file a bench suite writes. */
export type AnyResults = BenchResults | ModelsResults | GatewayResults | BulkResults | TrafficResults;

/** Whether a parsed results file is a `bench models` run (its meta says so; a load run's does not). */
export function isModelsResults(results: AnyResults): results is ModelsResults {
  return 'suite' in results.meta && results.meta.suite === 'models';
}

/** Whether a parsed results file is a `bench gateway` run. */
export function isGatewayResults(results: AnyResults): results is GatewayResults {
  return 'suite' in results.meta && results.meta.suite === 'gateway';
}

/** Whether a parsed results file is a `bench bulk` run. */
export function isBulkResults(results: AnyResults): results is BulkResults {
  return 'suite' in results.meta && results.meta.suite === 'bulk';
}

/** Whether a parsed results file is a `bench traffic` run. */
export function isTrafficResults(results: AnyResults): results is TrafficResults {
  return 'suite' in results.meta && results.meta.suite === 'traffic';
}
