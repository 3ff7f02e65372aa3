import { fmt } from './stats.js';
import type { GatewayResults } from './results.js';

/** The markdown of a `bench gateway` run: the comparison, every round, and the gateway's profile if taken. */
export function renderGatewayMarkdown(res: GatewayResults): string {
  const m = res.meta;
  const [expressFigures, gatewayFigures] = res.proxies;
  const lines = [
    `# Gateway efficiency ${m.startedAt.slice(0, 10)}`,
    '',
    `${m.machine.cpuModel}, ${m.machine.cores} cores, Node ${m.machine.node}; git ${m.git}. ${m.connections} connections, ` +
      `${m.rounds} interleaved rounds of ${m.warmupS} s warm-up + ${m.durationS} s measured per proxy; ${m.loadGenerator}. ` +
      `Load average ${fmt(m.loadAverage.start, 2)} at start, ${fmt(m.loadAverage.end, 2)} at end. Gateway build: \`${m.gatewayEntry}\`; ` +
      `on: ${m.gatewaySetup}. Upstream: a node:http server answering a fixed 31-byte JSON body.`,
    '',
    '| Proxy | Req/s (median) | p50 ms | p99 ms | vs Express + hpm | CPU µs per request | vs Express + hpm (CPU) |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...res.proxies.map(
      (p) =>
        `| ${p.name} | ${fmt(p.requestsPerS)} | ${fmt(p.p50, 2)} | ${fmt(p.p99, 2)} | ` +
        `${expressFigures === undefined ? '–' : fmt(p.requestsPerS / expressFigures.requestsPerS, 2)} | ${fmt(p.cpuMicrosPerRequest, 0)} | ` +
        `${expressFigures?.cpuMicrosPerRequest == null || p.cpuMicrosPerRequest == null ? '–' : fmt(expressFigures.cpuMicrosPerRequest / p.cpuMicrosPerRequest, 2)} |`,
    ),
    '',
    `Gateway / Express + http-proxy-middleware: **${fmt(res.ratio, 3)}** in req/s (target ≥ 0.90: ${res.ratio >= 0.9 ? 'pass' : '**miss**'}), ` +
      `${fmt(res.cpuRatio, 3)} in CPU time per request. ` +
      `Gateway p50 overhead: ${fmt(res.overheadP50.vsExpress, 2)} ms over Express + hpm, ${fmt(res.overheadP50.vsNode, 2)} ms over the node:http proxy` +
      `${gatewayFigures === undefined ? '' : ` (gateway p50 ${fmt(gatewayFigures.p50, 2)} ms)`}.`,
    '',
    '### Every round',
    '',
    '| Proxy | Round | Req/s | p50 ms | p99 ms | Proxy CPU | Upstream CPU | Load gen CPU | Other CPU | Errors / non-2xx |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...res.proxies.flatMap((p) =>
      p.rounds.map(
        (r, i) =>
          `| ${p.name} | ${i + 1} | ${fmt(r.requestsPerS)} | ${fmt(r.latency.p50, 2)} | ${fmt(r.latency.p99, 2)} | ${fmt(r.usage.proxy?.cpuCores, 2)} | ` +
          `${fmt(r.usage.upstream?.cpuCores, 2)} | ${fmt(r.usage.loadgen?.cpuCores, 2)} | ${fmt(r.otherCpuCores, 2)} | ${r.errors + r.unexpected + r.shed.count} |`,
      ),
    ),
    '',
  ];
  if (res.profile !== null) {
    lines.push(
      `### Where the gateway's CPU time went (\`node --cpu-prof\`, ${fmt(res.profile.totalMs / 1000, 1)} s busy over the process's life, idle left out)`,
      '',
      '| Origin | Self ms | % |',
      '|---|---:|---:|',
      ...res.profile.origins.map((o) => `| ${o.name} | ${fmt(o.selfMs, 0)} | ${fmt(o.percent, 1)} |`),
      '',
      '| Function | Self ms | % |',
      '|---|---:|---:|',
      ...res.profile.functions.map((f) => `| \`${f.name.replace(/\|/g, '\\|')}\` | ${fmt(f.selfMs, 0)} | ${fmt(f.percent, 1)} |`),
      '',
    );
  }
  if (res.anomalies.length > 0) lines.push('### Unexpected errors', '', ...res.anomalies.map((a) => `- ${a}`), '');
  return lines.join('\n');
}
