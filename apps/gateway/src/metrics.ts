import { Counter, Gauge, Histogram, LATENCY_BUCKETS, childCache, type Registry } from '@modeldock/service-kit';
import type { Upstreams } from './upstream-pool.js';

/** A labelled counter or histogram child, as the hot path uses them (see {@link GatewayMetrics.series}). */
interface CounterChild {
  inc(): void;
}
interface HistogramChild {
  observe(value: number): void;
}

/** The gateway's own series, next to service-kit's per-route `http_*` ones. */
export interface GatewayMetrics {
  /** The per-request series by label values, children cached (prom-client hashes labels on every call otherwise). */
  readonly series: {
    request(model: string, status: string): CounterChild;
    requestDuration(model: string): HistogramChild;
    upstream(model: string, upstream: string, status: string): CounterChild;
    upstreamDuration(model: string, upstream: string): HistogramChild;
    key(key: string, model: string): CounterChild;
  };
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
  /** Proxied requests per API key id (`""` without access control) and model. */
  readonly keyRequests: Counter<'key' | 'model'>;
  /** Requests refused per API key id, model (when configured, else `""`) and reason. */
  readonly keyRefusals: Counter<'key' | 'model' | 'reason'>;
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
  const metrics = {
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
    keyRequests: new Counter({
      name: 'gateway_key_requests_total',
      help: 'Requests proxied, by API key id (empty without access control; never the key) and model.',
      labelNames: ['key', 'model'] as const,
      registers,
    }),
    keyRefusals: new Counter({
      name: 'gateway_key_refusals_total',
      help: 'Requests refused, by API key id (empty when none was known), model (empty when not yet known) and reason (no_key, unknown_key, forbidden, concurrency, rate).',
      labelNames: ['key', 'model', 'reason'] as const,
      registers,
    }),
    bodyBudgetRejections: new Counter({
      name: 'gateway_body_budget_rejections_total',
      help: "Requests refused by the in-flight request body budget: reason full (503) or client_share (429, the client's share spent).",
      labelNames: ['reason'] as const,
      registers,
    }),
  };
  const { requests, requestDuration, upstreamRequests, upstreamDuration, keyRequests } = metrics;
  return {
    ...metrics,
    series: {
      request: childCache(([model = '', status = '']) => requests.labels(model, status)),
      requestDuration: childCache(([model = '']) => requestDuration.labels(model)),
      upstream: childCache(([model = '', upstream = '', status = '']) => upstreamRequests.labels(model, upstream, status)),
      upstreamDuration: childCache(([model = '', upstream = '']) => upstreamDuration.labels(model, upstream)),
      key: childCache(([key = '', model = '']) => keyRequests.labels(key, model)),
    },
  };
}
