// "The KEDA query names a metric the model server really exports", checked against a real one: the generic model
// server is started (embedding-topic on wasm, on a free port) and every ScaledObject query of every overlay is
// read against its /metrics. A renamed metric, a label the server does not set, or a gauge that has no sample
// until the first request (a query over it returns nothing, which KEDA reports as an error with
// ignoreNullValues "false") fails here, not in a cluster.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { startServerProcess, type ServerProcess } from '@modeldock/model-server/testing';
import { K8S, REPO, ofKind, render } from './render.js';

/** The model the server serves; its own query is evaluated. */
const SERVED = 'embedding-topic';
const MAIN = path.join(REPO, 'apps/model-server/dist/main.js');
/** Labels Prometheus adds to every scraped sample (ServiceMonitor targets); the server does not set them. */
const TARGET_LABELS = new Set(['namespace', 'service', 'pod', 'job', 'instance', 'endpoint', 'container']);

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (the subset prom-client writes: no escaped quotes in label values). */
function parseExposition(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line) ?? assert.fail(`not an exposition line: ${line}`);
      const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
      return { name: match[1] as string, labels, value: Number(match[3]) };
    });
}

/** Each `metric{label="value",...}` selector of a PromQL query. */
function selectors(query: string): { metric: string; matchers: Record<string, string> }[] {
  return [...query.matchAll(/([a-zA-Z_:][\w:]*)\{([^}]*)\}/g)].map((m) => ({
    metric: m[1] as string,
    matchers: Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]])),
  }));
}

const queries = ['cpu', 'dev', 'gpu'].flatMap((overlay) =>
  ofKind<IScaledObject & { metadata: { name: string } }>(render(path.join(K8S, 'overlays', overlay)), 'ScaledObject').flatMap((o) =>
    o.spec.triggers.filter((t) => t.type === 'prometheus').map((t) => ({ where: `${overlay} ScaledObject/${o.metadata.name}`, model: o.metadata.name, query: t.metadata.query ?? '' })),
  ),
);

describe("the KEDA queries against a running model server's /metrics", () => {
  let server: ServerProcess | undefined;
  let samples: Sample[] = [];

  before(async () => {
    server = startServerProcess(MAIN, {
      MODEL_DIR: path.join(REPO, 'models', SERVED),
      MODEL_NAME: SERVED,
      MODEL_PORT: '0',
      MODEL_HOST: '127.0.0.1',
      MODEL_BACKEND: 'wasm',
      // 'info': readiness is read from the log.
      MODEL_LOG_LEVEL: 'info',
    }, 120_000);
    const { base } = await server.ready;
    const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);
    samples = parseExposition(await res.text());
  });
  after(() => server?.kill());

  it('has a query for every model of the KEDA overlays', () => {
    assert.ok(queries.length > 0);
    assert.ok(queries.some((q) => q.model === SERVED));
  });

  it('names only metrics the server exports, matched on labels the server sets (or Prometheus adds)', () => {
    for (const { where, query } of queries) {
      for (const { metric, matchers } of selectors(query)) {
        const series = samples.filter((s) => s.name === metric);
        assert.ok(series.length > 0, `${where}: ${metric} is not exported`);
        for (const label of Object.keys(matchers).filter((l) => !TARGET_LABELS.has(l))) {
          assert.ok(series.every((s) => label in s.labels), `${where}: ${metric} has no label ${label}`);
        }
      }
    }
  });

  it("evaluates the served model's query to 0 rows while it is idle, not to no data", () => {
    for (const { where, query } of queries.filter((q) => q.model === SERVED)) {
      const terms = selectors(query).map(({ metric, matchers }) =>
        samples.filter((s) => s.name === metric && Object.entries(matchers).every(([label, value]) => TARGET_LABELS.has(label) || s.labels[label] === value)),
      );
      for (const [i, term] of terms.entries()) assert.ok(term.length > 0, `${where}: term ${i + 1} of ${query} matches no series`);
      assert.equal(terms.flat().reduce((sum, s) => sum + s.value, 0), 0, where);
    }
  });
});
