// The metrics as Prometheus reads them, from real processes: a `pnpm start` stack of the test's own on free ports
// (every model of models/ and the gateway), after a valid and an invalid request to every model.
// - `promtool check metrics` (Prometheus' own linter) finds nothing in the /metrics of every model service the
//   gateway routes to, nor in the gateway's (on its admin listener: the public one has none).
// - Every query of the Grafana dashboard (deploy/grafana/modeldock.json) parses as PromQL (`promtool check rules`)
//   and reads only series that these processes export, matched on labels they set. Metrics that another piece of
//   work will add are listed in NOT_YET_EXPORTED: the dashboard may name them, and the test fails once one is
//   exported, so that the list only ever holds what is really missing.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startStack } from '@modeldock/scripts/stack';
import { exportedSeries, promtool } from './prometheus.mjs';
import { dashboardExpressions, dashboardPanels, metricNames, rulesFile, selectors, withVariablesFilled } from './promql.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DASHBOARD = path.join(ROOT, 'deploy/grafana/modeldock.json');
const REQUEST_TIMEOUT_MS = 60_000;

/**
 * Series the dashboard reads before any process exports them, with the work that adds them (none now: the result
 * cache and the shadow comparison of issue 15 are exported); a dashboard panel for work still to come lists its
 * series here, and the test fails once one is exported.
 */
const NOT_YET_EXPORTED = new Map(
  // [series name, the work that adds it], e.g. ['modeldock_cache_hits_total', 'result cache (issue 15)'].
  [],
);

/** Labels Prometheus gives every sample it scrapes (prometheus-operator's target labels); no process sets them. */
const TARGET_LABELS = new Set(['job', 'instance', 'namespace', 'pod', 'container', 'endpoint']);

/** A request body for the OIP infer route of a model, from its metadata: one row of each input. */
function oneRow(metadata) {
  return {
    inputs: metadata.inputs.map((input) => {
      if (input.datatype === 'BYTES') return { name: input.name, datatype: 'BYTES', shape: [1], data: ['Who wrote Hamlet?'] };
      const row = input.shape.slice(1);
      const size = row.reduce((a, b) => a * b, 1);
      return { name: input.name, datatype: input.datatype, shape: [1, ...row], data: Array.from({ length: size }, () => 0) };
    }),
  };
}

async function call(url, init = {}) {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  return { status: res.status, text: await res.text() };
}

describe('metrics as Prometheus reads them', () => {
  let stack;
  /** Each process's /metrics: `{ name, url, text }`, the gateway's first. */
  const scraped = [];
  /** Series name → label sets of its samples, over every process. */
  const exported = new Map();

  before(async () => {
    stack = await startStack();
    const listing = JSON.parse((await call(`${stack.admin}/models`)).text);
    for (const model of listing.models) {
      const base = `${stack.gateway}/v2/models/${model.name}`;
      const metadata = JSON.parse((await call(base)).text);
      const post = (body) => call(`${base}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.equal((await post(JSON.stringify(oneRow(metadata)))).status, 200, `a valid request to ${model.name}`);
      assert.equal((await post('{"inputs": []}')).status, 400, `an invalid request to ${model.name}`);
    }
    assert.equal((await call(`${stack.gateway}/metrics`)).status, 404, 'the public listener has no /metrics');
    const targets = [
      { name: 'gateway (admin listener)', url: `${stack.admin}/metrics` },
      ...listing.models.flatMap((model) => model.upstreams.map((upstream) => ({ name: model.name, url: `${upstream}/metrics` }))),
    ];
    for (const target of targets) {
      const res = await call(target.url);
      assert.equal(res.status, 200, `${target.url}: ${res.text}`);
      scraped.push({ ...target, text: res.text });
      for (const [name, labelSets] of exportedSeries(res.text)) exported.set(name, [...(exported.get(name) ?? []), ...labelSets]);
    }
  });
  after(() => stack?.stop());

  it('scrapes the gateway and every model service the gateway routes to', () => {
    assert.ok(scraped.length >= 4, `only ${scraped.map((s) => s.name).join(', ')}`);
    for (const model of ['question-topic', 'sentence-embedding', 'embedding-topic']) assert.ok(scraped.some((s) => s.name === model), model);
  });

  it('promtool check metrics finds no problem in any /metrics', () => {
    const problems = scraped.flatMap(({ name, text }) => {
      const { status, output } = promtool(['check', 'metrics'], text);
      return status === 0 && output === '' ? [] : [`${name} (exit ${status}):\n${output}`];
    });
    assert.ok(problems.length === 0, problems.join('\n'));
  });

  describe('the Grafana dashboard', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
    const expressions = dashboardExpressions(dashboard);

    it('has queries, each reading at least one metric', () => {
      assert.ok(expressions.length > 0);
      for (const { where, expr } of expressions) assert.ok(metricNames(expr).length > 0, `${where}: ${expr}`);
    });

    it('asks the Prometheus datasource chosen in its datasource variable, in every panel and query', () => {
      const variable = dashboard.templating.list.find((v) => v.type === 'datasource');
      assert.equal(variable?.query, 'prometheus');
      const uses = dashboardPanels(dashboard)
        .filter((panel) => panel.type !== 'row')
        .flatMap((panel) => [panel, ...panel.targets].map((used) => ({ title: panel.title, datasource: used.datasource })));
      for (const { title, datasource } of uses) assert.deepEqual(datasource, { type: 'prometheus', uid: `\${${variable.name}}` }, title);
    });

    it('parses as PromQL: promtool check rules accepts every query as a recording rule', () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'modeldock-dashboard-'));
      try {
        const file = path.join(dir, 'dashboard-rules.yml');
        writeFileSync(file, rulesFile(expressions.map(({ expr }) => withVariablesFilled(expr))));
        const { status, output } = promtool(['check', 'rules', file]);
        assert.equal(status, 0, output);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('reads only series the processes export, or ones listed as not yet exported', () => {
      const missing = expressions.flatMap(({ where, expr }) =>
        metricNames(expr)
          .filter((name) => !exported.has(name) && !NOT_YET_EXPORTED.has(name))
          .map((name) => `${where}: ${name} is not exported`),
      );
      assert.ok(missing.length === 0, missing.join('\n'));
    });

    it('matches each series only on labels its samples carry (or Prometheus adds)', () => {
      const wrong = expressions.flatMap(({ where, expr }) =>
        selectors(expr).flatMap(({ metric, labels }) => {
          const samples = exported.get(metric) ?? [];
          return labels
            .filter((label) => !TARGET_LABELS.has(label))
            .filter((label) => samples.some((sample) => !sample.has(label)))
            .map((label) => `${where}: ${metric} has samples without the label ${label}`);
        }),
      );
      assert.ok(wrong.length === 0, wrong.join('\n'));
    });

    it('lists as not yet exported only what no process exports and the dashboard reads', () => {
      const read = new Set(expressions.flatMap(({ expr }) => metricNames(expr)));
      for (const [name, work] of NOT_YET_EXPORTED) {
        assert.ok(!exported.has(name), `${name} is exported now (${work}): remove it from NOT_YET_EXPORTED`);
        assert.ok(read.has(name), `${name} is not read by the dashboard: remove it from NOT_YET_EXPORTED`);
      }
    });

    const missing = [...NOT_YET_EXPORTED.keys()];
    it('exports every series the dashboard reads', { todo: missing.length > 0 && `read by the dashboard, exported by nothing yet: ${missing.join(', ')}` }, () => {
      assert.deepEqual([...NOT_YET_EXPORTED.keys()].filter((name) => !exported.has(name)), []);
    });
  });
});
