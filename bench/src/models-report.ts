import { fmt, pct, percentile } from './stats.js';
import type { ModelFigures, ModelsResults, StartupSample } from './results.js';

/** Errors where none are expected: every gateway point runs far below the queue limits. */
export function findModelsAnomalies(models: readonly ModelFigures[]): string[] {
  const out: string[] = [];
  for (const model of models) {
    for (const p of model.gateway) {
      const r = p.result;
      const where = `${model.name}, ${r.connections} clients × ${r.textsPerRequest} rows`;
      if (r.errors + r.unexpected + r.shed.count > 0) out.push(`${where}: ${r.errors} socket errors/timeouts, statuses ${JSON.stringify(r.statusCounts)}`);
      if (r.ok === 0) out.push(`${where}: no successful response`);
    }
  }
  return out;
}

/** Median, min and max spawn → ready seconds of the samples. */
export function startupSeconds(samples: readonly StartupSample[]): { median: number; min: number; max: number } {
  const sorted = samples.map((s) => s.readyMs / 1000).sort((a, b) => a - b);
  return { median: percentile(sorted, 50), min: sorted[0] ?? Number.NaN, max: sorted.at(-1) ?? Number.NaN };
}

/** A load average cell: one value, or the range over several samples. */
export function loadRange(values: readonly number[]): string {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return '–';
  const min = Math.min(...finite);
  const max = Math.max(...finite);
  return min === max ? fmt(min, 2) : `${fmt(min, 2)}–${fmt(max, 2)}`;
}

/** Every batch size measured in the run (in-process and through the gateway), ascending. */
export function batchSizes(res: ModelsResults): number[] {
  const all = res.models.flatMap((m) => [...m.engine.map((e) => e.batchSize), ...m.gateway.map((g) => g.result.textsPerRequest)]);
  return [...new Set(all)].sort((a, b) => a - b);
}

/** The versions a model's server loaded, e.g. `v1, v2` (runs before they were recorded: the measured one). */
function servedVersions(m: ModelFigures): string {
  return (m.servedVersions ?? [m.version]).map((v) => `v${v}`).join(', ');
}

/**
 * The memory table of deploy/README.md (`bench report <models json> --docs` writes it there): every process of
 * a `bench models` run, the versions it loaded, its RSS right after start-up and its peak under load.
 */
export function renderMemoryTable(res: ModelsResults): string {
  const { meta } = res;
  return [
    `\`pnpm bench models\` (${meta.mode}, ${meta.startedAt.slice(0, 10)}, git ${meta.git}): ${meta.machine.cpuModel}, Node ${meta.machine.node}, backend ${meta.backend}, each process as \`pnpm start\` runs it; RSS from \`/proc/<pid>/status\`.`,
    '',
    '| process | serves | RSS after start-up (MiB) | peak RSS under load (MiB) |',
    '|---|---|---:|---:|',
    ...res.models.map((m) => `| ${m.name} | ${servedVersions(m)} | ${fmt(m.startups.at(-1)?.idleRssMiB, 0)} | ${fmt(m.peakRssUnderLoadMiB, 0)} |`),
    `| gateway | every model's routes | ${fmt(res.gateway.startups.at(-1)?.idleRssMiB, 0)} | ${fmt(res.gateway.peakRssUnderLoadMiB, 0)} |`,
    '',
  ].join('\n');
}

function startupRow(name: string, kind: string, server: string, samples: readonly StartupSample[], peak: number | null): string {
  const s = startupSeconds(samples);
  const idle = samples.at(-1)?.idleRssMiB;
  return `| ${name} | ${kind} | ${server} | ${fmt(s.median, 2)} | ${fmt(s.min, 2)} | ${fmt(s.max, 2)} | ${samples.length} | ${fmt(idle, 0)} | ${fmt(peak, 0)} | ${loadRange(samples.map((x) => x.loadAverage))} |`;
}

/** A `bench models` run as markdown: a summary per model, then start-up and memory, in-process and gateway tables. */
export function renderModelsMarkdown(res: ModelsResults): string {
  const { meta } = res;
  const batches = batchSizes(res);
  const clients = meta.clients;
  const summaryRows = res.models.map((m) => {
    const engine = batches.map((b) => fmt(m.engine.find((e) => e.batchSize === b)?.textsPerS));
    const gateway = batches.map((b) => fmt(m.gateway.find((g) => g.result.textsPerRequest === b)?.result.textsPerS));
    return `| ${m.name} | ${fmt(startupSeconds(m.startups).median, 2)} | ${fmt(m.startups.at(-1)?.idleRssMiB, 0)} | ${fmt(m.peakRssUnderLoadMiB, 0)} | ${engine.join(' | ')} | ${gateway.join(' | ')} |`;
  });
  const engineRows = res.models.flatMap((m) =>
    m.engine.map((e) => `| ${m.name} | ${e.batchSize} | ${fmt(e.textsPerS)} | ${fmt(e.callLatency.p50)} | ${fmt(e.callLatency.p99)} | ${e.calls} | ${fmt(e.otherCpuCores, 2)} | ${fmt(e.loadAverage, 2)} |`),
  );
  const gatewayRows = res.models.flatMap((m) =>
    m.gateway.map((p) => {
      const r = p.result;
      const cpu = ['model', 'gateway', 'loadgen'].map((k) => fmt(r.usage[k]?.cpuCores, 2)).join(' / ');
      return (
        `| ${m.name} | ${m.route} | ${r.connections} | ${r.textsPerRequest} | ${fmt(r.requestsPerS)} | ${fmt(r.textsPerS)} | ${fmt(r.latency.p50)} | ${fmt(r.latency.p90)} | ${fmt(r.latency.p99)} | ` +
        `${r.errors + r.unexpected + r.shed.count} | ${fmt(p.activity.meanBatch)} | ${pct(p.activity.engineBusy)} | ${cpu} | ${fmt(r.usage.model?.peakRssMiB, 0)} | ${fmt(r.otherCpuCores, 2)} | ${fmt(p.loadAverage, 2)} |`
      );
    }),
  );
  const lines: string[] = [
    `# Models benchmark ${meta.startedAt.slice(0, 19).replace('T', ' ')} UTC (${meta.mode})`,
    '',
    `${meta.machine.cpuModel}, ${meta.machine.cores} cores, ${meta.machine.memoryGiB} GiB, Node ${meta.machine.node}, ${meta.machine.kernel}; ` +
      `backend ${meta.backend}; git ${meta.git}. Every model in its own process (its app, else the generic model server) behind one gateway, log level ${meta.logLevel}. ` +
      `In-process: ${meta.engineDurationS} s per batch size; gateway: ${meta.durationS} s per point after ${meta.warmupS} s warm-up, ${clients} concurrent clients. Load: ${meta.loadGenerator}. ` +
      `Load average ${meta.loadAverage.start} at start, ${meta.loadAverage.end} at end; "Load avg" = the 1-minute load average when each number was taken, "Other CPU" = cores used by processes outside the bench meanwhile. ` +
      'A row is one text (one 512-d FP32 vector for models fed by embeddings).',
    '',
    '## Summary',
    '',
    `Spawn → ready: median; RSS: the process measured under load, idle right after ready and its peak; rows/s: in-process \`runtime.predict\` at each batch size, and through the gateway with ${clients} clients each sending requests of that many rows.`,
    '',
    `| Model | Spawn → ready (s) | RSS idle (MiB) | Peak RSS under load (MiB) | ${batches.map((b) => `In-process rows/s, batch ${b}`).join(' | ')} | ${batches.map((b) => `Gateway rows/s, ${clients} × ${b}`).join(' | ')} |`,
    `|---|---:|---:|---:|${batches.map(() => '---:|').join('')}${batches.map(() => '---:|').join('')}`,
    ...summaryRows,
    '',
    '## 1. Start-up and memory',
    '',
    'Spawn → readiness 200 (`/v2/health/ready`: loaded and warmed up; gateway: `/models` lists every model ready), one process at a time; RSS from `/proc/<pid>/status` right after ready (the last start, the one then loaded) and its peak sampled every 500 ms under load.' +
      (res.models.some((m) => m.servedVersions !== undefined) ? ` Versions each server loaded: ${res.models.map((m) => `${m.name} ${servedVersions(m)}`).join('; ')}.` : ''),
    '',
    '| Process | Kind | Server | Spawn → ready (s), median | min | max | Starts | RSS idle (MiB) | Peak RSS under load (MiB) | Load avg |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---|',
    ...res.models.map((m) => startupRow(m.name, m.kind, `apps/${m.server}`, m.startups, m.peakRssUnderLoadMiB)),
    startupRow('gateway', '–', 'apps/gateway', res.gateway.startups, res.gateway.peakRssUnderLoadMiB),
    '',
    '## 2. In-process (runtime.predict on wasm, no HTTP)',
    '',
    '| Model | Batch | Rows/s | ms per call p50 | p99 | Calls | Other CPU | Load avg |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...engineRows,
    '',
    `## 3. Through the gateway (${clients} clients)`,
    '',
    'Latency in ms (2xx only). Batch = mean rows per engine call (the server batches concurrent requests); engine busy = share of wall time in `predict`; CPU in cores (model server / gateway / load generator).',
    '',
    '| Model | Route | Clients | Rows/req | Req/s | Rows/s | p50 | p90 | p99 | Errors | Batch | Engine busy | CPU | Peak RSS (MiB) | Other CPU | Load avg |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|',
    ...gatewayRows,
    '',
  ];
  if (res.anomalies.length > 0) lines.push('## Unexpected errors', '', ...res.anomalies.map((a) => `- ${a}`), '');
  return lines.join('\n');
}
