import { fileURLToPath } from 'node:url';

/** The repository root, from this file's location (bench/src/). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** How long and at which points to measure; `--quick` trades precision for a CI-sized run. */
export interface BenchSettings {
  mode: 'quick' | 'full';
  /** Measured seconds per load point. */
  durationS: number;
  /** Discarded seconds before each load point (connections, JIT, batch rhythm). */
  warmupS: number;
  engineDurationS: number;
  engineWarmupS: number;
  engineBatchSizes: readonly number[];
  /** Concurrent clients for the 1-question points. */
  clients: readonly number[];
  /** The multi-question point: `clients` clients each sending `texts` questions. */
  bulk: { clients: number; texts: number };
  /** Clients for the saturation points (batching and replica targets). */
  saturationClients: number;
  overload: { clients: number; maxQueue: number };
  /** Service log level: `warn` keeps per-request access logs out of the measurement. */
  logLevel: string;
  /** Cap on responses per load point, whatever the duration. */
  maxRequestsPerPoint: number;
  readyTimeoutMs: number;
  /** How long to wait for a trained model version to appear. */
  modelWaitMs: number;
}

const COMMON = {
  engineBatchSizes: [1, 8, 32, 128],
  bulk: { clients: 8, texts: 32 },
  saturationClients: 32,
  overload: { clients: 256, maxQueue: 64 },
  logLevel: 'warn',
  maxRequestsPerPoint: 2_000_000,
  readyTimeoutMs: 120_000,
} as const;

/** Parses the command line (`--quick`, `--log-level=<level>`). */
export function parseSettings(argv: readonly string[]): BenchSettings {
  const unknown = argv.filter((arg) => arg !== '--quick' && !arg.startsWith('--log-level='));
  if (unknown.length > 0) throw new Error(`unknown argument(s): ${unknown.join(' ')} (use --quick, --log-level=<level>)`);
  const logLevel = argv.find((arg) => arg.startsWith('--log-level='))?.split('=')[1] ?? COMMON.logLevel;
  if (argv.includes('--quick')) {
    return {
      ...COMMON,
      mode: 'quick',
      durationS: 3,
      warmupS: 1,
      engineDurationS: 2,
      engineWarmupS: 0.5,
      clients: [1, 32, 128],
      logLevel,
      modelWaitMs: 60_000,
    };
  }
  return {
    ...COMMON,
    mode: 'full',
    durationS: 15,
    warmupS: 3,
    engineDurationS: 8,
    engineWarmupS: 1,
    clients: [1, 8, 32, 128],
    logLevel,
    modelWaitMs: 15 * 60_000,
  };
}
