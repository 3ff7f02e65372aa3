import { targetsTable } from './targets-table.js';
import type { TrafficPoint, TrafficResults } from './results.js';
import { fmt, pct } from './stats.js';

const pointRow = (scenario: string, p: TrafficPoint): string => {
  const r = p.result;
  const cpu = ['service', 'gateway', 'loadgen'].map((name) => fmt(r.usage[name]?.cpuCores, 2)).join(' / ');
  return `| ${scenario} | ${p.cache} | ${fmt(r.requestsPerS)} | ${fmt(r.textsPerS)} | ${fmt(r.latency.p50)} | ${fmt(r.latency.p99)} | ${p.cache === 'off' ? '–' : `${p.hits} / ${p.misses} / ${p.coalesced}`} | ${pct(p.savedShare)} | ${r.errors + r.unexpected + r.shed.count} | ${cpu} | ${fmt(r.otherCpuCores, 2)} |`;
};

/** The tables of a `bench traffic` run. */
export function renderTrafficMarkdown(res: TrafficResults): string {
  const m = res.meta;
  return [
    `# Traffic with repeats, result cache off vs on (${m.mode}), ${m.startedAt}`,
    '',
    `${m.machine.cpuModel} × ${m.machine.cores}, ${m.machine.memoryGiB} GiB, Node ${m.machine.node}; git ${m.git}. ${m.clients} clients, one request in flight each, ${m.durationS} s per point after ${m.warmupS} s warm-up (the cache starts empty at each point's start). Load: ${m.loadGenerator}, on the same cores. Load average ${m.loadAverage.start} at start, ${m.loadAverage.end} at end.`,
    '',
    '## Targets',
    '',
    ...targetsTable(res.targets),
    '',
    '## Scenarios',
    '',
    ...res.scenarios.flatMap((s) => [`- **${s.name}** (${s.model}): ${s.route}; ${s.traffic}. Speed-up with the cache: ${s.speedup}×.`]),
    '',
    'Latency in ms (2xx). Rows: from the cache / computed / answered by a computation already in flight, in the measured window; saved = rows not computed. CPU in cores: service / gateway / load generator.',
    '',
    '| Scenario | Cache | Req/s | Texts/s | p50 | p99 | Rows hit / computed / coalesced | Saved | Failed | CPU | Other CPU |',
    '|---|---|---:|---:|---:|---:|---|---:|---:|---|---:|',
    ...res.scenarios.flatMap((s) => [pointRow(s.name, s.off), pointRow(s.name, s.on)]),
    '',
    ...(res.anomalies.length > 0 ? ['## Unexpected errors', '', ...res.anomalies.map((a) => `- ${a}`), ''] : []),
  ].join('\n');
}
