import { performance } from 'node:perf_hooks';
import {
  REQUEST_ID_HEADER,
  HttpError,
  createRegistry,
  errorHandler,
  httpLogger,
  httpMetrics,
  metricsHandler,
  notFoundHandler,
  type Logger,
  type Registry,
} from '@modeldock/service-kit';
import express, { type Express, type RequestHandler } from 'express';
import { hasBody, readRawBody } from './body.js';
import type { GatewayConfig } from './config.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.js';
import { createForwarder, type Forward } from './proxy.js';
import { parseModelRoute } from './route.js';
import type { Upstreams } from './upstream-pool.js';

/** Everything the HTTP layer needs; `main.ts` builds it from the configuration, tests from literals. */
export interface AppDeps {
  config: GatewayConfig;
  logger: Logger;
  /** Owns the background resolve/readiness timers; whoever created it calls `close()`. */
  upstreams: Upstreams;
  /** Defaults to a fresh registry with process metrics. */
  registry?: Registry;
}

/**
 * Paths proxied to a model, as Express route templates (they also label `http_requests_total`).
 * Express matches case-insensitively, which TF Serving's REST paths require.
 */
const MODEL_PATHS = [
  '/models/:model',
  '/models/:model/*splat',
  '/v2/models/:model',
  '/v2/models/:model/*splat',
  // Not `:model`: TF Serving appends `:predict` to the last segment, which `:model` would swallow.
  '/v1/models/*splat',
];

function proxyRoute(config: GatewayConfig, upstreams: Upstreams, forward: Forward, metrics: GatewayMetrics): RequestHandler {
  return async (req, res) => {
    const route = parseModelRoute(req.originalUrl, config.defaultModel);
    if (route === undefined) throw HttpError.notFound(`no route for ${req.method} ${req.path}`);
    const pool = upstreams.pools.get(route.model);
    if (pool === undefined) throw HttpError.modelNotFound(route.model);

    const started = performance.now();
    res.once('close', () => {
      // A client that left before any answer gets no status; do not count it as the default 200.
      metrics.requests.inc({ model: pool.name, status: res.headersSent ? String(res.statusCode) : 'aborted' });
      metrics.requestDuration.observe({ model: pool.name }, (performance.now() - started) / 1000);
    });
    let body: Buffer;
    try {
      body = await readRawBody(req, config.maxBodyBytes);
    } catch (err) {
      // The unread rest of an oversized body is not worth receiving just to keep the connection.
      if (err instanceof HttpError && err.status === 413) res.setHeader('connection', 'close');
      throw err;
    }
    await forward(req, res, {
      pool,
      path: route.path,
      body,
      hadBody: hasBody(req),
      // httpLogger already chose the id (the caller's x-request-id if sane, else generated) and echoed it.
      requestId: String(res.getHeader(REQUEST_ID_HEADER)),
    });
  };
}

/**
 * The gateway's Express app: model routes proxied to replicas, plus `/healthz`, `/readyz`,
 * `/metrics` and `/models`. Never listens and starts no timers; see `main.ts`.
 */
export function createApp({ config, logger, upstreams, registry = createRegistry({ service: 'gateway' }) }: AppDeps): Express {
  const metrics = createGatewayMetrics(registry, upstreams);
  const forward = createForwarder({ agent: upstreams.agent, maxRetries: config.maxRetries, metrics });
  const pools = [...upstreams.pools.values()];

  const app = express();
  app.disable('x-powered-by');
  app.use(httpLogger(logger, { ignorePaths: ['/healthz', '/readyz', '/metrics'] }));
  app.use(httpMetrics(registry));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  // Ready when every model can be served; a model with no ready replica would only answer 503s.
  app.get('/readyz', (_req, res) => {
    const models = Object.fromEntries(
      pools.map((pool) => [
        pool.name,
        { ready: pool.ready, healthy: pool.endpoints.filter((e) => e.healthy).length, endpoints: pool.endpoints.length },
      ]),
    );
    const notReady = pools.filter((pool) => !pool.ready).map((pool) => pool.name);
    if (notReady.length === 0) {
      res.json({ status: 'ready', models });
    } else {
      res.status(503).json({ error: `no ready replica for: ${notReady.join(', ')}`, models });
    }
  });

  app.get('/metrics', metricsHandler(registry));

  app.get('/models', (_req, res) => {
    res.json({
      defaultModel: config.defaultModel,
      models: pools.map((pool) => ({
        name: pool.name,
        ready: pool.ready,
        upstreams: pool.config.upstreams.map((upstream) => upstream.url),
        readyPath: pool.config.readyPath,
        timeoutMs: pool.config.timeoutMs,
        endpoints: pool.endpoints.map(({ id, healthy, outstanding, reason }) => ({ id, healthy, outstanding, reason })),
      })),
    });
  });

  const proxied = proxyRoute(config, upstreams, forward, metrics);
  app.all(MODEL_PATHS, proxied);
  // The seed service's route, kept so its clients keep working through the gateway.
  app.post('/predict_topic', proxied);

  app.use(notFoundHandler());
  app.use(errorHandler());
  return app;
}
