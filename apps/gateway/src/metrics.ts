import { Counter, Gauge, Histogram, LATENCY_BUCKETS, type Registry } from '@modeldock/service-kit';
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
}

/**
 * Registers the gateway metrics. Health and outstanding gauges are read from the pools at scrape
 * time rather than updated per request, so they cost nothing on the hot path and drop replicas
 * that DNS no longer returns.
 */
export function createGatewayMetrics(registry: Registry, upstreams: Upstreams): GatewayMetrics {
  const registers = [registry];
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
  };
}
