import type { EnginePoint } from './engine.js';
import type { LoadResult } from './load.js';
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
    machine: { cpuModel: string; cores: number; memoryGiB: number; node: string; kernel: string };
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
