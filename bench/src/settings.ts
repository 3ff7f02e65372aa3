import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from this file's location (bench/src/). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** How long and at which points to measure; `--quick` trades precision for a CI-sized run. */
export interface BenchSettings {
  mode: 'quick' | 'full';
  /** Write to bench/results/ (to commit) instead of the ignored bench/results/local/. */
  record: boolean;
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

/** How `bench gateway` compares the gateway with a bare Express + http-proxy-middleware and a node:http proxy. */
export interface GatewaySettings {
  mode: 'quick' | 'full';
  connections: number;
  warmupS: number;
  durationS: number;
  /** Interleaved rounds over the three proxies; each proxy's figures are medians over them. */
  rounds: number;
  /** The gateway's main.js (another build, e.g. main's, for a before/after). */
  gatewayEntry: string;
  /** Run the gateway under `node --cpu-prof` and summarise where its time went. */
  cpuProfile: boolean;
  /** Write to bench/results/ (to commit) rather than the ignored local folder. */
  record: boolean;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** How `bench models` measures every model under models/: start-up, memory and throughput per model. */
export interface ModelsSettings {
  mode: 'quick' | 'full';
  /** Write to bench/results/ (to commit) instead of the ignored bench/results/local/. */
  record: boolean;
  /** Spawn → ready samples per model (each start after the first is stopped again at once). */
  startups: number;
  /** Rows (texts, or vectors) per call / request; 1 and 32 answer issue 8. */
  batchSizes: readonly number[];
  engineDurationS: number;
  engineWarmupS: number;
  /** Concurrent clients of every gateway load point ("a few": each model server batches them). */
  clients: number;
  durationS: number;
  warmupS: number;
  logLevel: string;
  maxRequestsPerPoint: number;
  readyTimeoutMs: number;
}

export const USAGE = `Usage: pnpm bench [options]
       pnpm bench models [options]
       pnpm bench gateway [--quick] [--record] [--cpu-prof] [--gateway=<main.js>]
       pnpm bench bulk [options]
       pnpm bench traffic [options]
       pnpm bench report <results.json> [--docs]

Runs the load benchmarks against services started on 127.0.0.1 and writes
bench/results/local/<date>.json and .md (ignored by git; see bench/README.md).

Options:
  --quick              CI-sized run (~2-3 min): shorter points, fewer loads
  --record             write to bench/results/ instead, to commit (a run the
                       docs will cite)
  --log-level=<level>  log level of the services and the gateway
                       (${LOG_LEVELS.join(', ')}; default ${COMMON.logLevel})
  -h, --help           print this help and exit

models                 start-up, memory and throughput of every model under
                       models/ (in-process and through the gateway); writes
                       models-<timestamp>.json and .md (--quick, --record and
                       --log-level apply; full ~3 min, quick ~1 min)

bulk                   a second client's single-text latency alone and while
                       2,048-input embedding requests run, and the largest
                       request admitted (sentence-embedding behind the
                       gateway); writes bulk-<timestamp>.json and .md
                       (full ~3 min, quick ~1.5 min)

traffic                the result cache on traffic that repeats itself, off vs
                       on in one run: TREC questions drawn with Zipf (s = 1.1)
                       and embeddings with 30 % of texts re-sent, 16 clients,
                       through the gateway; writes traffic-<timestamp>.json
                       and .md (full ~2 min, quick ~1 min)

gateway                the gateway (every stage on) against a bare Express 5 +
                       http-proxy-middleware proxy and a bare node:http proxy
                       on a trivial upstream, 32 connections, interleaved
                       rounds; --cpu-prof profiles the gateway, --gateway=
                       measures another build; writes
                       bench/results/gateway-<timestamp>.json and .md
report <results.json>  re-render the markdown tables of a committed run into
                       the .md next to it, without running anything
  --docs               also replace its generated section in docs/benchmarks.md
                       (a models run: the "Models" section)

A leading "--" (as in \`pnpm bench -- --quick\`) is ignored.`;

/** How `bench bulk` measures a bulk embeddings client beside a second client. */
export interface BulkSettings {
  mode: 'quick' | 'full';
  record: boolean;
  /** Seconds the second client runs alone first. */
  baselineS: number;
  /** 2,048-input requests, one after the other. */
  rounds: number;
  logLevel: string;
  readyTimeoutMs: number;
}

/** Parses the options of `bench bulk` (the same flags as a run). */
export function parseBulkSettings(argv: readonly string[]): BulkSettings {
  const { quick, record, logLevel } = parseRunOptions(argv);
  return { mode: quick ? 'quick' : 'full', record, baselineS: quick ? 5 : 15, rounds: quick ? 1 : 3, logLevel, readyTimeoutMs: COMMON.readyTimeoutMs };
}

/** How `bench traffic` measures the result cache on traffic that repeats itself. */
export interface TrafficSettings {
  mode: 'quick' | 'full';
  record: boolean;
  /** Concurrent clients, one request in flight each. */
  clients: number;
  durationS: number;
  warmupS: number;
  /** The model server's result cache with the cache on. */
  cacheBytes: number;
  logLevel: string;
  readyTimeoutMs: number;
}

/** Parses the options of `bench traffic` (the same flags as a run). */
export function parseTrafficSettings(argv: readonly string[]): TrafficSettings {
  const { quick, record, logLevel } = parseRunOptions(argv);
  const common = { record, clients: 16, cacheBytes: 64 * 1024 * 1024, logLevel, readyTimeoutMs: COMMON.readyTimeoutMs };
  return quick ? { ...common, mode: 'quick', durationS: 5, warmupS: 1 } : { ...common, mode: 'full', durationS: 15, warmupS: 3 };
}

/** A command line the bench cannot use: printed as one line, exit code 2. */
export class UsageError extends Error {}

/** What the command line asks for. */
export type BenchCommand =
  | { kind: 'help' }
  | { kind: 'run'; settings: BenchSettings }
  | { kind: 'models'; settings: ModelsSettings }
  | { kind: 'gateway'; settings: GatewaySettings }
  | { kind: 'bulk'; settings: BulkSettings }
  | { kind: 'traffic'; settings: TrafficSettings }
  | { kind: 'report'; file: string; docs: boolean };

/**
 * Parses the command line: `[--quick] [--log-level=<level>]`, `models [--quick] [--log-level=<level>]`,
 * `report <file.json> [--docs]` or `--help`.
 */
export function parseCommand(argv: readonly string[]): BenchCommand {
  // pnpm passes `--` through when the user separates script arguments with it.
  const args = argv.filter((arg) => arg !== '--');
  if (args.includes('--help') || args.includes('-h')) return { kind: 'help' };
  if (args[0] === 'report') {
    const rest = args.slice(1);
    const files = rest.filter((arg) => !arg.startsWith('-'));
    const flags = rest.filter((arg) => arg.startsWith('-'));
    const unknown = flags.filter((flag) => flag !== '--docs');
    if (unknown.length > 0) throw new UsageError(`unknown option for report: ${unknown.join(' ')} (only --docs)`);
    if (files.length !== 1 || files[0] === undefined) throw new UsageError('report needs exactly one results file: bench report <results.json>');
    return { kind: 'report', file: files[0], docs: flags.includes('--docs') };
  }
  if (args[0] === 'models') return { kind: 'models', settings: parseModelsSettings(args.slice(1)) };
  if (args[0] === 'gateway') return { kind: 'gateway', settings: parseGatewaySettings(args.slice(1)) };
  if (args[0] === 'bulk') return { kind: 'bulk', settings: parseBulkSettings(args.slice(1)) };
  if (args[0] === 'traffic') return { kind: 'traffic', settings: parseTrafficSettings(args.slice(1)) };
  return { kind: 'run', settings: parseSettings(args) };
}

/** The options every run takes: `--quick`, `--record`, `--log-level=<level>` or `--log-level <level>`. */
function parseRunOptions(argv: readonly string[]): { quick: boolean; record: boolean; logLevel: string } {
  let quick = false;
  let record = false;
  let logLevel: string = COMMON.logLevel;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (arg === '--') continue;
    if (arg === '--quick') {
      quick = true;
    } else if (arg === '--record') {
      record = true;
    } else if (arg === '--log-level' || arg.startsWith('--log-level=')) {
      const value = arg === '--log-level' ? argv[++i] : arg.slice('--log-level='.length);
      if (value === undefined || !(LOG_LEVELS as readonly string[]).includes(value)) {
        throw new UsageError(`--log-level needs one of ${LOG_LEVELS.join(', ')}${value === undefined ? '' : ` (got "${value}")`}`);
      }
      logLevel = value;
    } else {
      throw new UsageError(`unknown argument: ${arg} (options: --quick, --record, --log-level=<level>, --help)`);
    }
  }
  return { quick, record, logLevel };
}

/** Parses the run options (`--quick`, `--record`, `--log-level=<level>` or `--log-level <level>`). */
export function parseSettings(argv: readonly string[]): BenchSettings {
  const { quick, record, logLevel } = parseRunOptions(argv);
  if (quick) {
    return {
      ...COMMON,
      mode: 'quick',
      record,
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
    record,
    durationS: 15,
    warmupS: 3,
    engineDurationS: 8,
    engineWarmupS: 1,
    clients: [1, 8, 32, 128],
    logLevel,
    modelWaitMs: 15 * 60_000,
  };
}

/** Parses the options of `bench models` (the same flags as a run). */
export function parseModelsSettings(argv: readonly string[]): ModelsSettings {
  const { quick, record, logLevel } = parseRunOptions(argv);
  const common = { batchSizes: [1, 32], clients: 4, logLevel, record, maxRequestsPerPoint: COMMON.maxRequestsPerPoint, readyTimeoutMs: COMMON.readyTimeoutMs };
  if (quick) return { ...common, mode: 'quick', startups: 1, engineDurationS: 2, engineWarmupS: 0.5, durationS: 3, warmupS: 1 };
  return { ...common, mode: 'full', startups: 3, engineDurationS: 8, engineWarmupS: 1, durationS: 10, warmupS: 2 };
}

/** Parses the options of `bench gateway`: `--quick`, `--record`, `--cpu-prof`, `--gateway=<main.js>`. */
export function parseGatewaySettings(argv: readonly string[]): GatewaySettings {
  let quick = false;
  let record = false;
  let cpuProfile = false;
  let gatewayEntry = path.join(REPO_ROOT, 'apps/gateway/dist/main.js');
  for (const arg of argv) {
    if (arg === '--quick') quick = true;
    else if (arg === '--record') record = true;
    else if (arg === '--cpu-prof') cpuProfile = true;
    else if (arg.startsWith('--gateway=') && arg.length > '--gateway='.length) {
      gatewayEntry = path.resolve(process.env.INIT_CWD ?? process.cwd(), arg.slice('--gateway='.length));
    } else throw new UsageError(`unknown argument for gateway: ${arg} (options: --quick, --record, --cpu-prof, --gateway=<main.js>)`);
  }
  const common = { connections: 32, gatewayEntry, cpuProfile, record };
  return quick ? { ...common, mode: 'quick', warmupS: 1, durationS: 4, rounds: 2 } : { ...common, mode: 'full', warmupS: 2, durationS: 10, rounds: 3 };
}
