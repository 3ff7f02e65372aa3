import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LoadResult } from './load.js';
import { batchSizes, findModelsAnomalies, loadRange, renderModelsMarkdown, startupSeconds } from './models-report.js';
import { markdownTables, renderResults, tableCells } from './report.js';
import type { ModelFigures, ModelLoadPoint, ModelsResults } from './results.js';

const latency = (p50: number) => ({ count: 10, p50, p90: p50 * 1.2, p99: p50 * 1.5, max: p50 * 2 });

function loadPoint(rows: number, statusCounts: Record<string, number> = { 200: 100 }, errors = 0): ModelLoadPoint {
  const ok = statusCounts['200'] ?? 0;
  const shed = (statusCounts['503'] ?? 0) + (statusCounts['429'] ?? 0);
  const result: LoadResult = {
    connections: 4,
    textsPerRequest: rows,
    durationS: 10,
    ok,
    requestsPerS: ok / 10,
    textsPerS: (ok * rows) / 10,
    latency: latency(20),
    shed: { ...latency(1), count: shed },
    statusCounts,
    errors,
    timeouts: 0,
    unexpected: Object.values(statusCounts).reduce((a, b) => a + b, 0) - ok - shed,
    usage: { model: { cpuCores: 0.9, peakRssMiB: 300 }, gateway: { cpuCores: 0.1, peakRssMiB: 90 }, loadgen: { cpuCores: 0.05, peakRssMiB: 200 } },
    otherCpuCores: 0.02,
  };
  return { setup: 'gateway, OIP POST /v2/models/m/infer', result, activity: { meanBatch: rows, engineBusy: 0.9, meanQueueMs: 1 }, loadAverage: 1.5 };
}

function model(name: string, gateway: ModelLoadPoint[] = [loadPoint(1), loadPoint(32)]): ModelFigures {
  return {
    name,
    version: '1',
    kind: 'tfjs',
    server: 'model-server',
    route: `OIP POST /v2/models/${name}/infer`,
    startups: [
      { readyMs: 2500, idleRssMiB: 150, loadAverage: 1.2 },
      { readyMs: 2100, idleRssMiB: 151, loadAverage: 1.4 },
      { readyMs: 3000, idleRssMiB: 152, loadAverage: 1.3 },
    ],
    peakRssUnderLoadMiB: 300,
    engine: [1, 32].map((batchSize) => ({
      batchSize,
      calls: 100,
      textsPerS: batchSize * 50,
      callLatency: latency(batchSize),
      otherCpuCores: 0.01,
      loadAverage: 1.1,
    })),
    gateway,
    logTail: [],
  };
}

function results(models: ModelFigures[]): ModelsResults {
  return {
    meta: {
      suite: 'models',
      startedAt: '2026-11-25T21:00:00.000Z',
      finishedAt: '2026-11-25T21:04:00.000Z',
      mode: 'full',
      engineDurationS: 8,
      durationS: 10,
      warmupS: 2,
      clients: 4,
      logLevel: 'warn',
      machine: { cpuModel: 'cpu', cores: 2, memoryGiB: 4, node: 'v20', kernel: 'Linux' },
      backend: 'wasm',
      git: 'abc1234',
      loadGenerator: 'autocannon',
      loadAverage: { start: 1, end: 2 },
    },
    models,
    gateway: { startups: [{ readyMs: 400, idleRssMiB: 80, loadAverage: 1 }], peakRssUnderLoadMiB: 120, logTail: [] },
    anomalies: findModelsAnomalies(models),
  };
}

describe('renderModelsMarkdown', () => {
  it('renders a summary, start-up, in-process and gateway table, every row as wide as its header', () => {
    const tables = markdownTables(renderModelsMarkdown(results([model('a'), model('b')])));
    assert.equal(tables.length, 4);
    for (const [header, separator, ...rows] of tables) {
      assert.ok(header !== undefined && separator !== undefined);
      const width = tableCells(header).length;
      assert.equal(tableCells(separator).length, width, header);
      for (const row of rows) assert.equal(tableCells(row).length, width, row);
    }
    const [summary, startup, engine, gateway] = tables;
    assert.equal(summary?.length, 2 + 2);
    assert.equal(startup?.length, 2 + 3, 'two models and the gateway');
    assert.equal(engine?.length, 2 + 4);
    assert.equal(gateway?.length, 2 + 4);
  });

  it('puts each batch size in its own summary column, with – where a point is missing', () => {
    const partial = model('b', [loadPoint(1)]);
    const [summary] = markdownTables(renderModelsMarkdown(results([model('a'), partial])));
    const header = tableCells(summary?.[0] ?? '');
    assert.deepEqual(header.slice(4), ['In-process rows/s, batch 1', 'In-process rows/s, batch 32', 'Gateway rows/s, 4 × 1', 'Gateway rows/s, 4 × 32']);
    assert.deepEqual(tableCells(summary?.[3] ?? '').slice(4), ['50.0', '1600.0', '10.0', '–']);
  });

  it('reports the median start-up, the last idle RSS and the load average range', () => {
    const [, startup] = markdownTables(renderModelsMarkdown(results([model('a')])));
    assert.deepEqual(tableCells(startup?.[2] ?? ''), ['a', 'tfjs', 'apps/model-server', '2.50', '2.10', '3.00', '3', '152', '300', '1.20–1.40']);
  });

  it('lists unexpected errors after the tables', () => {
    const broken = model('a', [loadPoint(1, { 200: 10, 500: 2 }), loadPoint(32, { 200: 0 }, 3)]);
    const markdown = renderModelsMarkdown(results([broken]));
    assert.match(markdown, /## Unexpected errors\n\n- a, 4 clients × 1 rows: 0 socket errors\/timeouts, statuses \{"200":10,"500":2\}/);
    assert.match(markdown, /- a, 4 clients × 32 rows: no successful response/);
  });
});

describe('renderResults', () => {
  it('renders a models run with the models tables', () => {
    assert.match(renderResults(results([model('a')])), /^# Models benchmark 2026-11-25 21:00:00 UTC \(full\)/);
  });
});

describe('findModelsAnomalies', () => {
  it('counts shed responses as errors (the gateway points run far below every queue limit)', () => {
    assert.equal(findModelsAnomalies([model('a', [loadPoint(1, { 200: 5, 503: 1 })])]).length, 1);
    assert.deepEqual(findModelsAnomalies([model('a')]), []);
  });
});

describe('startupSeconds, loadRange and batchSizes', () => {
  it('summarise samples for the tables', () => {
    assert.deepEqual(startupSeconds([{ readyMs: 3000, idleRssMiB: 1, loadAverage: 1 }]), { median: 3, min: 3, max: 3 });
    assert.equal(loadRange([2, 2]), '2.00');
    assert.equal(loadRange([3.5, 1.25, Number.NaN]), '1.25–3.50');
    assert.equal(loadRange([]), '–');
    assert.deepEqual(batchSizes(results([model('a', [loadPoint(8)])])), [1, 8, 32]);
  });
});
