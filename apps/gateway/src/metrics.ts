import { Counter, Gauge, Histogram, LATENCY_BUCKETS, childCache, type Registry } from '@modeldock/service-kit';
import type { Upstreams } from './upstreams.js';

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
    request(model: string, backend: string, status: string): CounterChild;
    requestDuration(model: string, backend: string): HistogramChild;
    fallback(model: string, backend: string): CounterChild;
    upstream(model: string, upstream: string, status: string): CounterChild;
    upstreamDuration(model: string, upstream: string): HistogramChild;
    key(key: string, model: string): CounterChild;
  };
  /** Client-facing outcome per model and backend, including the gateway's own 503/504 answers once a backend was chosen. */
  readonly requests: Counter<'model' | 'backend' | 'status'>;
  readonly requestDuration: Histogram<'model' | 'backend'>;
  /** Requests the weights gave to a backend with no ready replica, served by the model's other backends. */
  readonly backendFallbacks: Counter<'model' | 'backend'>;
  /** Shadow copies compared with the served answer, per row: `agree`, `disagree` (top labels) or `incomparable`. */
  readonly shadowComparisons: Counter<'model' | 'backend' | 'shadow' | 'result'>;
  /** Cosine between the served answer's rows and the shadow's (embeddings, scores without labels). */
  readonly shadowCosine: Histogram<'model' | 'backend' | 'shadow'>;
  /** Shadow requests by the status the shadow answered (`error`, `timeout` or `too_large` without one). */
  readonly shadowRequests: Counter<'model' | 'shadow' | 'status'>;
  readonly shadowDuration: Histogram<'model' | 'shadow'>;
  /** Copies not sent, by reason: `concurrency`, `bytes`, `answer_too_large`, `unready`. */
  readonly shadowDropped: Counter<'model' | 'reason'>;
  /** Reloads of the models file: `applied`, `refused` (the running configuration kept) or `unchanged`. */
  readonly modelsReloads: Counter<'result'>;
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

/** Cosine buckets: fine near 1, where a shadow that computes the same thing lands. */
const COSINE_BUCKETS = [0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999];

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
  /** Every backend of the configuration in force. */
  const backends = () => [...upstreams.routing.models.values()].flatMap((model) => model.backends);
  new Gauge({
    name: 'gateway_upstream_healthy',
    help: 'Whether a replica passes its readiness check (1) or not (0).',
    labelNames: ['model', 'backend', 'upstream'] as const,
    registers,
    collect() {
      this.reset();
      for (const { name, pool } of backends()) {
        for (const endpoint of pool.endpoints) this.set({ model: pool.name, backend: name, upstream: endpoint.id }, endpoint.healthy ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'gateway_upstream_outstanding_requests',
    help: 'Requests in flight to a replica.',
    labelNames: ['model', 'backend', 'upstream'] as const,
    registers,
    collect() {
      this.reset();
      for (const { name, pool } of backends()) {
        for (const endpoint of pool.endpoints) this.set({ model: pool.name, backend: name, upstream: endpoint.id }, endpoint.outstanding);
      }
    },
  });
  new Gauge({
    name: 'gateway_backend_weight',
    help: "A backend's configured weight (its share is the weight over the sum of its model's weights).",
    labelNames: ['model', 'backend'] as const,
    registers,
    collect() {
      this.reset();
      for (const { name, pool, weight } of backends()) this.set({ model: pool.name, backend: name }, weight);
    },
  });
  new Gauge({
    name: 'gateway_backend_ready',
    help: 'Whether a backend has a ready replica (1) or not (0); one without gives its share to the others.',
    labelNames: ['model', 'backend'] as const,
    registers,
    collect() {
      this.reset();
      for (const { name, pool } of backends()) this.set({ model: pool.name, backend: name }, pool.ready ? 1 : 0);
    },
  });
  new Gauge({
    name: 'gateway_models_config_version',
    help: 'Reloads of the models file applied since start (0: the configuration read at start).',
    registers,
    collect() {
      this.set(upstreams.routing.version);
    },
  });
  const metrics = {
    requests: new Counter({
      name: 'gateway_requests_total',
      help: 'Proxied requests answered, by model, backend and status.',
      labelNames: ['model', 'backend', 'status'] as const,
      registers,
    }),
    requestDuration: new Histogram({
      name: 'gateway_request_duration_seconds',
      help: 'Time from request arrival to the end of the response, retries included, by model and backend.',
      labelNames: ['model', 'backend'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    backendFallbacks: new Counter({
      name: 'gateway_backend_fallbacks_total',
      help: 'Requests the weights gave to a backend with no ready replica, served by the same model\'s other backends instead.',
      labelNames: ['model', 'backend'] as const,
      registers,
    }),
    shadowComparisons: new Counter({
      name: 'gateway_shadow_comparisons_total',
      help: 'Rows of shadow answers compared with the served answer by top label: agree, disagree, or incomparable (answers of another form).',
      labelNames: ['model', 'backend', 'shadow', 'result'] as const,
      registers,
    }),
    shadowCosine: new Histogram({
      name: 'gateway_shadow_cosine',
      help: "Cosine similarity between a row of the served answer and the shadow's (embeddings, scores without labels).",
      labelNames: ['model', 'backend', 'shadow'] as const,
      buckets: COSINE_BUCKETS,
      registers,
    }),
    shadowRequests: new Counter({
      name: 'gateway_shadow_requests_total',
      help: 'Copies sent to a shadow backend, by the status it answered (error, timeout or too_large when none was read).',
      labelNames: ['model', 'shadow', 'status'] as const,
      registers,
    }),
    shadowDuration: new Histogram({
      name: 'gateway_shadow_request_duration_seconds',
      help: 'Time from sending a copy to a shadow backend until its answer was read or failed.',
      labelNames: ['model', 'shadow'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    modelsReloads: new Counter({
      name: 'gateway_models_reloads_total',
      help: 'Reloads of the models file (on change or SIGHUP), by result: applied, refused (not valid: the running configuration kept) or unchanged.',
      labelNames: ['result'] as const,
      registers,
    }),
    shadowDropped: new Counter({
      name: 'gateway_shadow_dropped_total',
      help: 'Copies for a shadow backend not sent, by reason: concurrency or bytes (over the GATEWAY_SHADOW_* bounds), answer_too_large, unready (no ready replica).',
      labelNames: ['model', 'reason'] as const,
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
  const { requests, requestDuration, upstreamRequests, upstreamDuration, keyRequests, backendFallbacks } = metrics;
  return {
    ...metrics,
    series: {
      request: childCache(([model = '', backend = '', status = '']) => requests.labels(model, backend, status)),
      requestDuration: childCache(([model = '', backend = '']) => requestDuration.labels(model, backend)),
      fallback: childCache(([model = '', backend = '']) => backendFallbacks.labels(model, backend)),
      upstream: childCache(([model = '', upstream = '', status = '']) => upstreamRequests.labels(model, upstream, status)),
      upstreamDuration: childCache(([model = '', upstream = '']) => upstreamDuration.labels(model, upstream)),
      key: childCache(([key = '', model = '']) => keyRequests.labels(key, model)),
    },
  };
}
