import { Counter, Gauge, Histogram, LATENCY_BUCKETS, httpMetrics, type Registry } from '@modeldock/service-kit';
import type { RequestHandler } from 'express';
import type { Upstreams } from './upstream-pool.js';

/** The gateway's own series, next to service-kit's per-route `http_*` ones. */
export interface GatewayMetrics {
  /** Client-facing outcome per model, including the gateway's own 413/503/504 answers. */
  readonly requests: Counter<'model' | 'status'>;
  readonly requestDuration: Histogram<'model'>;
  /** One per attempt: `status` is the upstream's HTTP status, or `error` / `aborted` when it gave none. */
  readonly upstreamRequests: Counter<'model' | 'upstream' | 'status'>;
  readonly upstreamDuration: Histogram<'model' | 'upstream'>;
  readonly retries: Counter<'model' | 'reason'>;
  /** Responses cut off because their body stopped moving, by who stalled. */
  readonly stalledResponses: Counter<'model' | 'side'>;
  /** Requests refused by the per-client limits (429), by which limit. */
  readonly clientLimited: Counter<'reason'>;
  /** Request bodies refused by the in-flight body budget: `full` (503) or the client's `client_share` (429). */
  readonly bodyBudgetRejections: Counter<'reason'>;
}

/**
 * Registers the gateway metrics. Health and outstanding gauges are read from the pools at scrape
 * time rather than updated per request, so they cost nothing on the hot path and drop replicas
 * that DNS no longer returns.
 */
export function createGatewayMetrics(
  registry: Registry,
  upstreams: Upstreams,
  gauges: { bodyBytesInFlight: () => number; clientsTracked: () => number },
): GatewayMetrics {
  const registers = [registry];
  new Gauge({
    name: 'gateway_request_body_bytes_in_flight',
    help: 'Request body bytes buffered by the gateway right now (bounded by GATEWAY_MAX_INFLIGHT_BODY_BYTES).',
    registers,
    collect() {
      this.set(gauges.bodyBytesInFlight());
    },
  });
  new Gauge({
    name: 'gateway_clients_tracked',
    help: 'Clients with in-flight requests or rate state in the per-client limiter.',
    registers,
    collect() {
      this.set(gauges.clientsTracked());
    },
  });
  new Gauge({
    name: 'gateway_upstream_healthy',
    help: 'Whether a replica passes its readiness check (1) or not (0).',
    labelNames: ['model', 'upstream'] as const,
    registers,
    collect() {
      this.reset();
      for (const pool of upstreams.pools.values()) {
        for (const endpoint of pool.endpoints) this.set({ model: pool.name, upstream: endpoint.id }, endpoint.healthy ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'gateway_upstream_outstanding_requests',
    help: 'Requests in flight to a replica.',
    labelNames: ['model', 'upstream'] as const,
    registers,
    collect() {
      this.reset();
      for (const pool of upstreams.pools.values()) {
        for (const endpoint of pool.endpoints) this.set({ model: pool.name, upstream: endpoint.id }, endpoint.outstanding);
      }
    },
  });
  return {
    requests: new Counter({
      name: 'gateway_requests_total',
      help: 'Proxied requests answered, by model and status.',
      labelNames: ['model', 'status'] as const,
      registers,
    }),
    requestDuration: new Histogram({
      name: 'gateway_request_duration_seconds',
      help: 'Time from request arrival to the end of the response, retries included.',
      labelNames: ['model'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    upstreamRequests: new Counter({
      name: 'gateway_upstream_requests_total',
      help: 'Attempts sent to a replica, by the status it answered (or error/aborted).',
      labelNames: ['model', 'upstream', 'status'] as const,
      registers,
    }),
    upstreamDuration: new Histogram({
      name: 'gateway_upstream_request_duration_seconds',
      help: 'Time from sending an attempt to a replica until its response ended or failed.',
      labelNames: ['model', 'upstream'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    retries: new Counter({
      name: 'gateway_retries_total',
      help: 'Attempts repeated on another replica, by reason.',
      labelNames: ['model', 'reason'] as const,
      registers,
    }),
    stalledResponses: new Counter({
      name: 'gateway_stalled_responses_total',
      help: 'Responses cut off because the body stopped moving for GATEWAY_UPSTREAM_IDLE_TIMEOUT_MS, by side (upstream or client).',
      labelNames: ['model', 'side'] as const,
      registers,
    }),
    clientLimited: new Counter({
      name: 'gateway_client_limited_total',
      help: 'Requests refused with 429 by the per-client limits, by limit (concurrency or rate).',
      labelNames: ['reason'] as const,
      registers,
    }),
    bodyBudgetRejections: new Counter({
      name: 'gateway_body_budget_rejections_total',
      help: "Requests refused by the in-flight request body budget: reason full (503) or client_share (429, the client's share spent).",
      labelNames: ['reason'] as const,
      registers,
    }),
  };
}

/**
 * `http_requests_total` and `http_request_duration_seconds` as every modeldock service exports them.
 * The gateway routes by its own parser rather than Express templates, so the template comes from
 * `res.locals.route` (`unmatched` if none).
 */
export function requestMetrics(registry: Registry): RequestHandler {
  return httpMetrics(registry, { routeOf: (_req, res) => (res.locals as { route?: string }).route ?? 'unmatched' });
}
