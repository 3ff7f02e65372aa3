import type { BulkResults, BulkRound } from './results.js';
import { fmt, type LatencySummary } from './stats.js';

/** The tables of a `bench bulk` run. */
export function renderBulkMarkdown(res: BulkResults): string {
  const row = (label: string, l: LatencySummary) => `| ${label} | ${l.count} | ${fmt(l.p50)} | ${fmt(l.p90)} | ${fmt(l.p99)} | ${fmt(l.max)} |`;
  const bulkRow = (label: string, r: BulkRound) =>
    `| ${label} | ${r.inputs} | ${r.pieces} | ${r.positions} | ${r.engineS} | ${r.deadlineS} | ${r.status} | ${r.seconds} | ${fmt(r.second.p50)} | ${fmt(r.second.p99)} |`;
  return [
    `# Bulk embeddings (${res.meta.mode}), ${res.meta.startedAt}`,
    '',
    `${res.meta.machine.cpuModel} × ${res.meta.machine.cores}, Node ${res.meta.machine.node}, commit ${res.meta.git}; load average ${res.meta.loadAverage.start} at the start, ${res.meta.loadAverage.end} at the end.`,
    `sentence-embedding on wasm behind the gateway, default settings; the bulk client and the second client have addresses of their own.`,
    '',
    '## The second client: one text per request, one request at a time (ms)',
    '',
    '| while | requests | p50 | p90 | p99 | max |',
    '|---|---:|---:|---:|---:|---:|',
    row('alone', res.baseline),
    row(`2,048-input requests ran (every round)`, res.during),
    row(`the largest admitted request ran`, res.largest.second),
    '',
    '## The bulk requests',
    '',
    '| request | inputs | pieces | padded positions | estimated engine s (one wasm core) | deadline s | status | seconds | second client p50 ms | p99 ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...res.rounds.map((r, i) => bulkRow(`TREC questions, round ${i + 1}`, r)),
    bulkRow('200+-piece texts (the largest admitted)', res.largest),
    '',
    `One more such text: ${res.overLimit.status}, "${res.overLimit.message}"`,
    '',
    res.anomalies.length === 0 ? 'No unexpected errors.' : `Unexpected: ${res.anomalies.join('; ')}`,
    '',
  ].join('\n');
}
