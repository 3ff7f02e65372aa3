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

/** The route template a request matched (`/v2/models/:name/infer`), never the raw URL, to bound label cardinality. */
function routeLabel(req: Request): string {
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

/**
 * Records `http_requests_total` and `http_request_duration_seconds` by method, route template and
 * status, as every modeldock process exports them; label values are bounded whatever clients send.
 */
export function httpMetrics(registry: Registry, options: HttpMetricsOptions = {}): RequestHandler {
  const routeOf = options.routeOf ?? routeLabel;
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
  return (req: Request, res: Response, next) => {
    const stop = duration.startTimer();
    res.once('finish', () => {
      const method = KNOWN_METHODS.has(req.method) ? req.method : 'OTHER';
      const labels = { method, route: routeOf(req, res), status: String(res.statusCode) };
      requests.inc(labels);
      stop(labels);
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
