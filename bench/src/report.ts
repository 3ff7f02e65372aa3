import { renderBulkMarkdown } from './bulk-report.js';
import type { LoadResult } from './load.js';
import { renderGatewayMarkdown } from './gateway-report.js';
import { renderModelsMarkdown } from './models-report.js';
import { fmt, pct } from './stats.js';
import { targetsTable } from './targets-table.js';
import { renderTrafficMarkdown } from './traffic-report.js';
import {
  isBulkResults,
  isGatewayResults,
  isModelsResults,
  isTrafficResults,
  type AnyResults,
  type BenchResults,
  type LoadPoint,
  type Overhead,
  type TargetCheck,
} from './results.js';
import type { BenchSettings } from './settings.js';

type Measured = Omit<BenchResults, 'meta' | 'targets' | 'anomalies'>;

const loadName = (r: LoadResult): string => `${r.connections} × ${r.textsPerRequest} q`;
const same = (x: LoadResult, y: LoadResult): boolean => x.connections === y.connections && x.textsPerRequest === y.textsPerRequest;

/** Gateway minus direct latency for each load measured both ways. */
export function overheads(direct: readonly LoadPoint[], gateway: readonly LoadPoint[]): Overhead[] {
  return gateway.flatMap((g) => {
    const d = direct.find((p) => same(p.result, g.result));
    if (d === undefined) return [];
    return [{
      load: loadName(g.result),
      directP50: d.result.latency.p50,
      gatewayP50: g.result.latency.p50,
      p50: g.result.latency.p50 - d.result.latency.p50,
      directP99: d.result.latency.p99,
      gatewayP99: g.result.latency.p99,
      p99: g.result.latency.p99 - d.result.latency.p99,
    }];
  });
}

function at(points: readonly LoadPoint[], connections: number, texts = 1): LoadPoint | undefined {
  return points.find((p) => p.result.connections === connections && p.result.textsPerRequest === texts);
}

/** Errors where the brief expects none: any below the queue limit; anything but 503/429 above it. */
export function findAnomalies(m: Measured): string[] {
  const below = [
    ...m.direct.batchingOff, ...m.direct.batchingOn, ...m.gateway.points, ...m.replicas.two,
    ...(m.replicas.twoDirect === null ? [] : [m.replicas.twoDirect]),
  ];
  const out: string[] = [];
  for (const p of below) {
    const r = p.result;
    const bad = r.errors + r.unexpected + r.shed.count;
    if (bad > 0) out.push(`${p.setup}, ${loadName(r)}: ${r.errors} socket errors/timeouts, statuses ${JSON.stringify(r.statusCounts)}`);
    if (r.ok === 0) out.push(`${p.setup}, ${loadName(r)}: no successful response`);
  }
  const o = m.overload.point.result;
  if (o.errors + o.unexpected > 0) out.push(`overload: ${o.errors} socket errors/timeouts, statuses ${JSON.stringify(o.statusCounts)}`);
  if (o.ok === 0) out.push('overload: no successful response');
  return out;
}

/** The brief's targets, evaluated on the measured numbers. */
export function evaluateTargets(m: Measured, settings: BenchSettings): TargetCheck[] {
  const sat = settings.saturationClients;
  const checks: TargetCheck[] = [];

  const on = at(m.direct.batchingOn, sat);
  const off = at(m.direct.batchingOff, sat);
  if (on !== undefined && off !== undefined) {
    const ratio = on.result.requestsPerS / off.result.requestsPerS;
    const tail = on.result.latency.p99 / on.result.latency.p50;
    checks.push({
      name: `Batching on vs off at ${sat} clients`,
      target: '≥ 1.8× req/s, p99 ≤ 3× p50',
      value: `${fmt(ratio, 2)}× (${fmt(on.result.requestsPerS)} vs ${fmt(off.result.requestsPerS)} req/s); p99/p50 = ${fmt(tail, 2)} (${fmt(on.result.latency.p99)} / ${fmt(on.result.latency.p50)} ms)`,
      pass: ratio >= 1.8 && tail <= 3,
    });
  }

  const raw = Math.max(...m.engine.map((e) => e.textsPerS));
  const rawBatch = m.engine.find((e) => e.textsPerS === raw)?.batchSize;
  const best = [...m.direct.batchingOn].sort((x, y) => y.result.textsPerS - x.result.textsPerS)[0];
  if (best !== undefined) {
    const share = best.result.textsPerS / raw;
    checks.push({
      name: 'Service throughput vs raw in-process limit (one process)',
      target: '≥ 80 %',
      value: `${pct(share)} (${fmt(best.result.textsPerS)} texts/s at ${loadName(best.result)} vs ${fmt(raw)} in-process at batch ${rawBatch})`,
      pass: share >= 0.8,
    });
  }

  checks.push({
    name: `2 replicas vs 1 behind the gateway at ${sat} clients`,
    target: '≥ 1.7×',
    value: `${fmt(m.replicas.speedup, 2)}× (${fmt(m.replicas.two[0]?.result.requestsPerS)} vs ${fmt(m.replicas.one.result.requestsPerS)} req/s)`,
    pass: m.replicas.speedup >= 1.7,
  });

  const low = m.gateway.overhead.find((o) => o.load === '1 × 1 q');
  if (low !== undefined) {
    checks.push({
      name: 'Gateway overhead at p50 (1 client)',
      target: '≤ 1 ms',
      value: `${fmt(low.p50, 2)} ms (${fmt(low.gatewayP50, 2)} vs ${fmt(low.directP50, 2)} ms direct); p99 ${fmt(low.p99, 2)} ms`,
      pass: low.p50 <= 1,
    });
  }

  const below = findAnomalies({ ...m, overload: { ...m.overload, point: { ...m.overload.point, result: { ...m.overload.point.result, errors: 0, unexpected: 0, ok: 1 } } } });
  const o = m.overload.point.result;
  // "Fast" means a refusal never waits for the model: its p99 is below an accepted request's median.
  const fast = o.shed.count > 0 && o.shed.p99 < o.latency.p50;
  checks.push({
    name: 'Errors: none below the queue limit; above it only fast 503/429',
    target: '0 errors; shed p99 < accepted p50',
    value:
      `${below.length === 0 ? 'no errors in any point below the limit' : `${below.length} point(s) with errors`}; ` +
      `overload: ${o.shed.count} shed (p99 ${fmt(o.shed.p99)} ms), ${o.ok} ok (p50 ${fmt(o.latency.p50)} ms), ${o.errors + o.unexpected} other`,
    pass: below.length === 0 && o.errors + o.unexpected === 0 && fast,
  });
  return checks;
}

function loadRows(points: readonly LoadPoint[], cpuKeys: readonly string[]): string[] {
  return points.map((p) => {
    const r = p.result;
    const cpu = cpuKeys.map((k) => fmt(r.usage[k]?.cpuCores, 2)).join(' / ');
    return `| ${p.setup} | ${r.connections} | ${r.textsPerRequest} | ${fmt(r.requestsPerS)} | ${fmt(r.textsPerS)} | ${fmt(r.latency.p50)} | ${fmt(r.latency.p90)} | ${fmt(r.latency.p99)} | ${r.errors + r.unexpected + r.shed.count} | ${fmt(p.activity.meanBatch)} | ${pct(p.activity.engineBusy)} | ${cpu} | ${fmt(r.otherCpuCores, 2)} |`;
  });
}

/** The run as markdown: one table per scenario, then the targets. */
export function renderMarkdown(res: BenchResults): string {
  const { meta } = res;
  const lines: string[] = [
    `# Benchmark ${meta.startedAt.slice(0, 19).replace('T', ' ')} UTC (${meta.mode})`,
    '',
    `${meta.machine.cpuModel}, ${meta.machine.cores} cores, ${meta.machine.memoryGiB} GiB, Node ${meta.machine.node}, ${meta.machine.kernel}; ` +
      `backend ${meta.backend}; model version ${meta.modelVersion}; git ${meta.git}. ` +
      `${meta.durationS} s per point after ${meta.warmupS} s warm-up; service/gateway log level ${meta.logLevel}. Load: ${meta.loadGenerator}. ` +
      `Load average ${meta.loadAverage.start} at start, ${meta.loadAverage.end} at end; "Other CPU" = cores used by processes outside the bench (1.0 = a whole core taken from it).`,
    '',
    '## Targets',
    '',
    ...targetsTable(res.targets),
    '',
    '## 1. Engine in-process (runtime.predict, no HTTP)',
    '',
    '| Batch | Texts/s | ms per call p50 | p99 | Calls | Other CPU |',
    '|---:|---:|---:|---:|---:|---:|',
    ...res.engine.map((e) => `| ${e.batchSize} | ${fmt(e.textsPerS)} | ${fmt(e.callLatency.p50)} | ${fmt(e.callLatency.p99)} | ${e.calls} | ${fmt(e.otherCpuCores, 2)} |`),
    '',
    '## 2–3. Service direct (batching off / on) and through the gateway (1 replica)',
    '',
    'Latency in ms (2xx only). Batch = mean texts per engine call; engine busy = share of wall time in `predict`; CPU in cores (service / load generator; gateway rows: service / gateway / load generator); other CPU = cores used by unrelated processes during the point.',
    '',
    '| Setup | Clients | Texts/req | Req/s | Texts/s | p50 | p90 | p99 | Errors | Batch | Engine busy | CPU | Other CPU |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|',
    ...loadRows(res.direct.batchingOff, ['service', 'loadgen']),
    ...loadRows(res.direct.batchingOn, ['service', 'loadgen']),
    ...loadRows(res.gateway.points, ['service', 'gateway', 'loadgen']),
    '',
    'Gateway overhead (gateway − direct, batching on, same load):',
    '',
    '| Load | p50 direct | p50 gateway | Δ p50 | p99 direct | p99 gateway | Δ p99 |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...res.gateway.overhead.map((o) => `| ${o.load} | ${fmt(o.directP50, 2)} | ${fmt(o.gatewayP50, 2)} | ${fmt(o.p50, 2)} | ${fmt(o.directP99, 2)} | ${fmt(o.gatewayP99, 2)} | ${fmt(o.p99, 2)} |`),
    '',
    '## 4. Replicas behind the gateway',
    '',
    'CPU in cores: replica A / replica B / gateway / load generator.',
    '',
    '| Setup | Clients | Texts/req | Req/s | Texts/s | p50 | p90 | p99 | Errors | Batch | Engine busy (sum) | CPU | Other CPU |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|',
    ...loadRows([res.replicas.one], ['service', '-', 'gateway', 'loadgen']),
    ...loadRows(res.replicas.two, ['serviceA', 'serviceB', 'gateway', 'loadgen']),
    ...(res.replicas.twoDirect === null ? [] : loadRows([res.replicas.twoDirect], ['serviceA', 'serviceB', '-', 'loadgen'])),
    '',
    `Speed-up, 2 replicas vs 1: ${fmt(res.replicas.speedup, 2)}×.`,
    '',
    '## 5. Start-up and memory',
    '',
    '| Process | Spawn → ready (s) | RSS idle (MiB) | Peak RSS under load (MiB) |',
    '|---|---:|---:|---:|',
    ...res.processes.map((p) => `| ${p.name} | ${fmt(p.readyMs / 1000, 2)} | ${fmt(p.idleRssMiB, 0)} | ${fmt(p.peakRssUnderLoadMiB, 0)} |`),
    '',
    `## 6. Overload (QT_MAX_QUEUE=${res.overload.maxQueue}, ${res.overload.point.result.connections} clients × 1 q)`,
    '',
    '| Responses | Count | Rate/s | p50 | p90 | p99 | max |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...overloadRows(res.overload.point.result),
    '',
  ];
  if (res.anomalies.length > 0) lines.push('## Unexpected errors', '', ...res.anomalies.map((a) => `- ${a}`), '');
  return lines.join('\n');
}

/** The markdown of any results file: a load run's tables, or a `bench models`, `bench gateway`, `bench bulk` or `bench traffic` run's. */
export function renderResults(res: AnyResults): string {
  if (isGatewayResults(res)) return renderGatewayMarkdown(res);
  if (isBulkResults(res)) return renderBulkMarkdown(res);
  if (isTrafficResults(res)) return renderTrafficMarkdown(res);
  return isModelsResults(res) ? renderModelsMarkdown(res) : renderMarkdown(res);
}

function overloadRows(r: LoadResult): string[] {
  const other = r.errors + r.unexpected;
  return [
    `| 2xx | ${r.ok} | ${fmt(r.requestsPerS)} | ${fmt(r.latency.p50)} | ${fmt(r.latency.p90)} | ${fmt(r.latency.p99)} | ${fmt(r.latency.max)} |`,
    `| 503/429 | ${r.shed.count} | ${fmt(r.shed.count / r.durationS)} | ${fmt(r.shed.p50)} | ${fmt(r.shed.p90)} | ${fmt(r.shed.p99)} | ${fmt(r.shed.max)} |`,
    `| other / socket errors | ${other} | | | | | |`,
  ];
}

/** The cells of one markdown table row (`| a | b |` → `['a', 'b']`); GFM splits on every unescaped `|`. */
export function tableCells(row: string): string[] {
  const inner = row.trim().replace(/^\|/, '').replace(/(?<!\\)\|$/, '');
  return inner.split(/(?<!\\)\|/).map((cell) => cell.trim());
}

/** Each markdown table in `markdown` as its rows (header, separator, data), in order. */
export function markdownTables(markdown: string): string[][] {
  const tables: string[][] = [];
  let current: string[] | null = null;
  for (const line of markdown.split('\n')) {
    if (line.trimStart().startsWith('|')) {
      if (current === null) tables.push((current = []));
      current.push(line);
    } else {
      current = null;
    }
  }
  return tables;
}
