import { performance } from 'node:perf_hooks';
import type { Request, RequestHandler, Response } from 'express';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Latency buckets (seconds) that resolve both sub-millisecond proxy hops and slow batches. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * prom-client's gauges that end in `_total`, which Prometheus reserves for counters (`promtool check metrics`:
 * "non-counter metrics should not have _total suffix"). Each is the sum of the same name without `_total`, which
 * stays, by type: `sum(nodejs_active_handles)` is `nodejs_active_handles_total`.
 */
const GAUGES_NAMED_AS_COUNTERS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** A registry with the process metrics (CPU, RSS, event-loop lag, GC) already registered. */
export function createRegistry(labels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry });
  for (const name of GAUGES_NAMED_AS_COUNTERS) registry.removeSingleMetric(name);
  return registry;
}

/**
 * A cache of a metric's labelled children: `make(values)` once per combination of label values,
 * kept. prom-client hashes the label object on every `inc(labels)` / `observe(labels)`, which on a
 * proxy's hot path costs more than the increment itself. The cache is bounded like the labels.
 */
export function childCache<T>(make: (values: readonly string[]) => T): (...values: string[]) => T {
  // One level of maps per label, so a lookup builds no key string.
  const root = new Map<string, unknown>();
  return (...values) => {
    let level = root;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      const value = values[i] as string;
      let nextLevel = level.get(value) as Map<string, unknown> | undefined;
      if (nextLevel === undefined) {
        nextLevel = new Map();
        level.set(value, nextLevel);
      }
      level = nextLevel;
    }
    const leaf = values[last] ?? '';
    let child = level.get(leaf) as T | undefined;
    if (child === undefined) {
      child = make(values);
      level.set(leaf, child);
    }
    return child;
  };
}

/**
 * The route template a request matched (`/v2/models/:name/infer`), or `unmatched`: never the raw
 * URL, to bound label cardinality (metrics) and name spans (tracing).
 */
export function routeTemplate(req: Request): string {
  const route = (req.route as { path?: unknown } | undefined)?.path;
  return typeof route === 'string' ? `${req.baseUrl}${route}` : 'unmatched';
}

/** Only methods a client might legitimately send become label values, so a fuzzer cannot grow the series. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Options for {@link httpMetrics}. */
export interface HttpMetricsOptions {
  /** The route label of an answered request (default: the Express route template it matched). */
  routeOf?: (req: Request, res: Response) => string;
}

/** Records one answered request in `http_requests_total` and `http_request_duration_seconds`. */
export type HttpRequestRecorder = (method: string, route: string, status: number, seconds: number) => void;

/**
 * `http_requests_total` and `http_request_duration_seconds` by method, route template and status, as
 * every modeldock process exports them; label values are bounded whatever clients send. For a
 * process that already has a hook at the end of each request (the gateway's access log).
 */
export function httpRequestRecorder(registry: Registry): HttpRequestRecorder {
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request arrival to the end of the response.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const series = childCache(([method = '', route = '', status = '']) => ({
    count: requests.labels(method, route, status),
    time: duration.labels(method, route, status),
  }));
  return (method, route, status, seconds) => {
    const one = series(KNOWN_METHODS.has(method) ? method : 'OTHER', route, String(status));
    one.count.inc();
    one.time.observe(seconds);
  };
}

/** The same as a middleware: each finished request is recorded with its route template. */
export function httpMetrics(registry: Registry, options: HttpMetricsOptions = {}): RequestHandler {
  const routeOf = options.routeOf ?? routeTemplate;
  const record = httpRequestRecorder(registry);
  return (req: Request, res: Response, next) => {
    const started = performance.now();
    res.once('finish', () => {
      record(req.method, routeOf(req, res), res.statusCode, (performance.now() - started) / 1000);
    });
    next();
  };
}

/** `GET /metrics` in the Prometheus text format. */
export function metricsHandler(registry: Registry): RequestHandler {
  return (_req, res, next) => {
    registry
      .metrics()
      .then((body) => res.type(registry.contentType).send(body))
      .catch(next);
  };
}
