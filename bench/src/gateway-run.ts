// `bench gateway`: how much the gateway costs as a proxy. A trivial upstream, and in front of it,
// side by side in one run: the gateway with every stage on, a bare Express 5 +
// http-proxy-middleware proxy (the libraries the gateway is built on) and a bare node:http proxy
// (the Node floor). Each is loaded at the same concurrency in interleaved rounds.
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { summariseProfile } from './cpu-profile.js';
import { renderGatewayMarkdown } from './gateway-report.js';
import { gitDescription, loadSummary, machine, progress, runSuite, timestampedResults } from './harness.js';
import { runLoad, type LoadResult } from './load.js';
import { freePort, loadAverage, waitForHttp, type ManagedProcess, type ProcessSupervisor } from './processes.js';
import type { GatewayResults, ProxyFigures } from './results.js';
import { REPO_ROOT, type GatewaySettings } from './settings.js';
import { round } from './stats.js';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const SCRIPTS = path.join(HERE, 'gateway');
/** What every proxy forwards: an OIP infer call with a small body. */
const PATH = '/v2/models/m/infer';
const BODY = '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}';

/** The gateway's settings for the run: every stage on, none of them refusing the load itself. */
function gatewaySetup(keysFile: string): Record<string, string> {
  return {
    GATEWAY_LOG_LEVEL: 'info',
    GATEWAY_API_KEYS_FILE: keysFile,
    GATEWAY_CORS_ORIGINS: 'http://localhost:5173',
    // One client (the load generator, one key) with 32 connections: the limits are on but above it.
    GATEWAY_CLIENT_MAX_CONCURRENCY: '64',
    GATEWAY_ADMIN_PORT: '0',
  };
}

const SETUP_TEXT =
  'GATEWAY_LOG_LEVEL=info (access log, sampled at 100 lines/s), metrics, request ids, CORS allow-list, an API keys file ' +
  '(the load sends its key; per-key token bucket 100000/s), per-client concurrency limit 64, body budget, trusted-proxy and path checks';

async function writeKeysFile(dir: string): Promise<{ file: string; key: string }> {
  const key = `mdk_${randomBytes(24).toString('base64url')}`;
  const file = path.join(dir, 'keys.json');
  const sha256 = createHash('sha256').update(key).digest('hex');
  await writeFile(file, JSON.stringify({ keys: [{ id: 'bench', sha256, models: ['*'], ratePerSecond: 100_000, burst: 100_000 }] }));
  return { file, key };
}

/** Starts `node --import tsx <script>` with BENCH_PORT (and BENCH_UPSTREAM) and waits until it proxies. */
async function startScript(supervisor: ProcessSupervisor, name: string, script: string, upstream?: string): Promise<{ proc: ManagedProcess; origin: string }> {
  const port = await freePort();
  const proc = supervisor.spawnNode(name, path.join(SCRIPTS, script), { BENCH_PORT: String(port), ...(upstream === undefined ? {} : { BENCH_UPSTREAM: upstream }) }, [
    '--import',
    'tsx',
  ]);
  const origin = `http://127.0.0.1:${port}`;
  // The upstream answers any path and method, so a GET through a proxy shows it proxies.
  await waitForHttp(proc, `${origin}${PATH}`, { timeoutMs: 15_000 });
  return { proc, origin };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length === 0 ? Number.NaN : sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function newestProfile(dir: string): string | undefined {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return files[0];
}

/** Runs `bench gateway`; resolves to the exit code. */
export function runGatewayBench(settings: GatewaySettings): Promise<number> {
  return runSuite(
    async (supervisor) => {
      const startedAt = new Date().toISOString();
      const loadStart = loadAverage();
      const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-gateway-'));
      const { file: keysFile, key } = await writeKeysFile(dir);
      const upstream = await startScript(supervisor, 'upstream', 'upstream.ts');
      progress(`upstream on ${upstream.origin}`);

      const gatewayPort = await freePort();
      const profileDir = settings.cpuProfile ? path.join(dir, 'profile') : undefined;
      const gatewayProc = supervisor.spawnNode(
        'gateway',
        settings.gatewayEntry,
        {
          GATEWAY_PORT: String(gatewayPort),
          GATEWAY_HOST: '127.0.0.1',
          GATEWAY_MODELS: JSON.stringify({ m: { upstream: upstream.origin } }),
          GATEWAY_DRAIN_TIMEOUT_MS: '3000',
          ...gatewaySetup(keysFile),
        },
        profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
      );
      const gatewayOrigin = `http://127.0.0.1:${gatewayPort}`;
      await waitForHttp(gatewayProc, `${gatewayOrigin}/readyz`, { timeoutMs: 15_000 });
      // Until the upstream's first readiness probe passed, requests are 503s.
      await waitForHttp(gatewayProc, `${gatewayOrigin}/v2/health/ready`, { timeoutMs: 5_000 });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const express = await startScript(supervisor, 'express+hpm', 'express-proxy.ts', upstream.origin);
      const node = await startScript(supervisor, 'node:http proxy', 'node-proxy.ts', upstream.origin);

      const targets: { name: string; origin: string; pid: number; headers: Record<string, string> }[] = [
        { name: 'Express 5 + http-proxy-middleware', origin: express.origin, pid: express.proc.pid, headers: {} },
        { name: 'gateway (every stage on)', origin: gatewayOrigin, pid: gatewayProc.pid, headers: { authorization: `Bearer ${key}` } },
        { name: 'node:http proxy', origin: node.origin, pid: node.proc.pid, headers: {} },
      ];
      const results = new Map<string, LoadResult[]>(targets.map((t) => [t.name, []]));
      for (let round = 0; round < settings.rounds; round++) {
        // Rotated each round, so that no proxy always runs right after another.
        const order = targets.map((_, i) => targets[(i + round) % targets.length] as (typeof targets)[number]);
        for (const target of order) {
          const result = await runLoad({
            origin: target.origin,
            path: PATH,
            connections: settings.connections,
            textsPerRequest: 1,
            warmupS: settings.warmupS,
            durationS: settings.durationS,
            maxRequests: 2_000_000,
            nextBody: () => BODY,
            headers: target.headers,
            watch: { proxy: target.pid, upstream: upstream.proc.pid },
          });
          results.get(target.name)?.push(result);
          progress(`round ${round + 1}/${settings.rounds} ${target.name}: ${loadSummary(result)}`);
        }
      }

      const proxies: ProxyFigures[] = targets.map((t) => {
        const rounds = results.get(t.name) ?? [];
        return {
          name: t.name,
          rounds,
          requestsPerS: round(median(rounds.map((r) => r.requestsPerS)), 1) ?? 0,
          p50: round(median(rounds.map((r) => r.latency.p50)), 2) ?? 0,
          p99: round(median(rounds.map((r) => r.latency.p99)), 2) ?? 0,
          cpuMicrosPerRequest: round(median(rounds.map((r) => ((r.usage.proxy?.cpuCores ?? Number.NaN) * 1e6) / r.requestsPerS)), 0),
        };
      });
      const [expressFigures, gatewayFigures, nodeFigures] = proxies as [ProxyFigures, ProxyFigures, ProxyFigures];
      let profile = null;
      if (profileDir !== undefined) {
        // The profile is written when the gateway exits after SIGTERM.
        await gatewayProc.stop();
        const file = newestProfile(profileDir);
        if (file !== undefined) profile = summariseProfile(JSON.parse(await readFile(file, 'utf8')) as Parameters<typeof summariseProfile>[0]);
        if (file !== undefined) progress(`gateway CPU profile: ${file}`);
      }
      const anomalies = proxies.flatMap((p) =>
        p.rounds.filter((r) => r.errors + r.unexpected + r.shed.count > 0).map((r) => `${p.name}: ${r.errors} errors, statuses ${JSON.stringify(r.statusCounts)}`),
      );
      const results_: GatewayResults = {
        meta: {
          suite: 'gateway',
          startedAt,
          finishedAt: new Date().toISOString(),
          mode: settings.mode,
          connections: settings.connections,
          durationS: settings.durationS,
          warmupS: settings.warmupS,
          rounds: settings.rounds,
          gatewayEntry: path.relative(path.join(HERE, '../..'), settings.gatewayEntry),
          gatewaySetup:
            settings.gatewayEntry === path.join(REPO_ROOT, 'apps/gateway/dist/main.js')
              ? SETUP_TEXT
              : `${SETUP_TEXT} (asked for; another build ignores the settings it does not know)`,
          machine: machine(),
          git: gitDescription(),
          loadGenerator: 'autocannon 8 (programmatic) in the bench process',
          loadAverage: { start: loadStart, end: loadAverage() },
        },
        proxies,
        ratio: round(gatewayFigures.requestsPerS / expressFigures.requestsPerS, 3) ?? 0,
        cpuRatio: round((expressFigures.cpuMicrosPerRequest ?? Number.NaN) / (gatewayFigures.cpuMicrosPerRequest ?? Number.NaN), 3),
        overheadP50: {
          vsExpress: round(gatewayFigures.p50 - expressFigures.p50, 2) ?? 0,
          vsNode: round(gatewayFigures.p50 - nodeFigures.p50, 2) ?? 0,
        },
        profile,
        anomalies,
      };
      return results_;
    },
    timestampedResults('gateway', renderGatewayMarkdown, settings.record),
  );
}

