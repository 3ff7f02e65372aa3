import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import {
  REQUEST_ID_HEADER,
  HttpError,
  clipInput,
  createRegistry,
  createTrustedProxies,
  metricsHandler,
  refuseAmbiguousTargets,
  toHttpError,
  type Logger,
  type Registry,
} from '@modeldock/service-kit';
import express, { type ErrorRequestHandler, type Express, type Request, type RequestHandler, type Response } from 'express';
import { LogSampler, accessLog } from './access-log.js';
import { BodyBudget, hasBody, readRawBody } from './body.js';
import { ClientLimiter, clientAddress, type ClientIdentity } from './client-limits.js';
import type { GatewayConfig } from './config.js';
import { createGatewayMetrics, requestMetrics, type GatewayMetrics } from './metrics.js';
import { createForwarder, type Forward } from './proxy.js';
import { ModelScanner } from './model-scan.js';
import { createRouter, parseModelRoute } from './route.js';
import type { UpstreamPool, Upstreams } from './upstream-pool.js';

/** Whether the gateway is still taking work; `main.ts` sets `draining` on SIGTERM. */
export interface Lifecycle {
  draining: boolean;
}

/** Everything the HTTP layer needs; `main.ts` builds it from the configuration, tests from literals. */
export interface AppDeps {
  config: GatewayConfig;
  logger: Logger;
  /** Owns the background resolve/readiness timers; whoever created it calls `close()`. */
  upstreams: Upstreams;
  /** Defaults to a fresh registry with process metrics. */
  registry?: Registry;
  /** Who a request counts against for the per-client limits; the client's address by default (see `GATEWAY_TRUSTED_PROXIES`). */
  clientIdentity?: ClientIdentity;
  lifecycle?: Lifecycle;
}

/** The public app (clients) and the admin app (operators: metrics, replica detail). */
export interface GatewayApps {
  readonly app: Express;
  readonly admin: Express;
  /** Request-body bytes buffered right now, for tests and measurements. */
  readonly bodyBudget: BodyBudget;
  /** The registry both apps' metrics are in (the public server adds its connection counts). */
  readonly registry: Registry;
}

/** Deepest JSON nesting the gateway scans before it finds `model` (the model servers allow the same). */
const MAX_JSON_DEPTH = 32;

/** OIP server metadata name. */
const SERVER_NAME = 'modeldock-gateway';

/** The gateway's own version, from its package.json when it ships beside `dist/`. */
function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * OpenAI's error body (`{"error": {"message", "type", "param", "code"}}`), which its clients parse
 * on `/v1/embeddings` and `/v1/models`; every other route keeps `{"error": "<message>"}`.
 */
function openAiError(err: HttpError, param: string | null = null) {
  const type = err.status === 429 ? 'rate_limit_error' : err.status >= 500 ? 'server_error' : 'invalid_request_error';
  return { error: { message: err.message, type, param, code: err.code } };
}

/** Marks a response as one of the OpenAI routes, so errors take OpenAI's shape. */
function useOpenAiErrors(res: Response): void {
  (res.locals as { openAi?: boolean }).openAi = true;
}

/**
 * The one terminal error handler: status from the error, else 500; body `{"error": "<message>"}`
 * (OpenAI's shape on the OpenAI routes); 5xx details are logged, not returned. A response already
 * under way can only be cut off.
 */
function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const httpError = toHttpError(err);
    if (httpError.status >= 500 && !(err instanceof HttpError)) {
      logger.error({ err, reqId: res.getHeader(REQUEST_ID_HEADER), url: req.originalUrl }, 'unhandled error');
    }
    const body = (res.locals as { openAi?: boolean }).openAi === true ? openAiError(httpError) : { error: httpError.message };
    res.status(httpError.status).set(httpError.headers).json(body);
  };
}

/** Everything a proxied request goes through once its model is known. */
interface Pipeline {
  (req: Request, res: Response, pool: UpstreamPool, path: string, readBody?: Buffer): Promise<void>;
}

function createPipeline(
  config: GatewayConfig,
  forward: Forward,
  metrics: GatewayMetrics,
  limiter: ClientLimiter,
  budget: BodyBudget,
  clientIdentity: ClientIdentity,
): {
  admit: (req: Request, res: Response) => void;
  body: (req: Request, res: Response, onChunk?: (chunk: Buffer) => void) => Promise<Buffer>;
  proxy: Pipeline;
} {
  /** Per-client fairness, decided before any body byte is read. */
  const admit = (req: Request, res: Response) => {
    const admission = limiter.acquire(clientIdentity(req));
    if (!admission.ok) {
      metrics.clientLimited.inc({ reason: admission.reason });
      // The body is not wanted; reading it just to keep the connection would cost the flood's bytes.
      if (hasBody(req)) res.setHeader('connection', 'close');
      throw HttpError.tooManyRequests(
        admission.reason === 'concurrency'
          ? `too many requests in flight from this client (limit ${config.clientLimits.maxConcurrency})`
          : `request rate over this client's limit (${config.clientLimits.ratePerSecond}/s)`,
        admission.retryAfterSeconds,
      );
    }
    res.once('close', admission.release);
  };

  const body = async (req: Request, res: Response, onChunk?: (chunk: Buffer) => void) => {
    try {
      return await readRawBody(req, {
        limitBytes: config.maxBodyBytes,
        budget,
        client: clientIdentity(req),
        onRelease: (release) => res.once('close', release),
        onChunk,
      });
    } catch (err) {
      // The unread rest of a refused body is not worth receiving just to keep the connection.
      if (err instanceof HttpError && err.code !== 'request_aborted') res.setHeader('connection', 'close');
      if (err instanceof HttpError && (err.status === 503 || err.status === 429)) {
        metrics.bodyBudgetRejections.inc({ reason: err.status === 503 ? 'full' : 'client_share' });
      }
      throw err;
    }
  };

  const proxy: Pipeline = async (req, res, pool, path, readBody) => {
    const started = performance.now();
    res.once('close', () => {
      // A client that left before any answer gets no status; do not count it as the default 200.
      metrics.requests.inc({ model: pool.name, status: res.headersSent ? String(res.statusCode) : 'aborted' });
      metrics.requestDuration.observe({ model: pool.name }, (performance.now() - started) / 1000);
    });
    const buffered = readBody ?? (await body(req, res));
    await forward(req, res, {
      pool,
      path,
      body: buffered,
      hadBody: hasBody(req),
      // accessLog already chose the id (the caller's x-request-id if sane, else generated) and echoed it.
      requestId: String(res.getHeader(REQUEST_ID_HEADER)),
    });
  };
  return { admit, body, proxy };
}

function setRoute(res: Response, template: string): void {
  (res.locals as { route?: string }).route = template;
}

/**
 * The gateway's apps. Public: each model's inference, metadata and health routes (OIP, TF
 * Serving, OpenAI embeddings, configured aliases, `/models/<model>/...`), the OIP server routes and
 * `/v1/models` answered by the gateway itself, `/healthz`, `/readyz` and a model listing without
 * addresses. Admin: `/metrics` and the replica detail. Neither listens nor starts timers; see `main.ts`.
 */
export function createApps({
  config,
  logger,
  upstreams,
  registry = createRegistry({ service: 'gateway' }),
  clientIdentity,
  lifecycle = { draining: false },
}: AppDeps): GatewayApps {
  const trustedProxies = createTrustedProxies(config.trustedProxies);
  const identify = clientIdentity ?? clientAddress(trustedProxies);
  const budget = new BodyBudget(config.maxInflightBodyBytes, config.clientLimits.maxBodyBytes);
  const limiter = new ClientLimiter(config.clientLimits);
  const metrics = createGatewayMetrics(registry, upstreams, {
    bodyBytesInFlight: () => budget.used,
    clientsTracked: () => limiter.tracked,
  });
  const forward = createForwarder({
    agent: upstreams.agent,
    maxRetries: config.maxRetries,
    metrics,
    upstreamIdleTimeoutMs: config.upstreamIdleTimeoutMs,
    trustedProxies,
  });
  const pipeline = createPipeline(config, forward, metrics, limiter, budget, identify);
  const router = createRouter(config.models);
  const pools = [...upstreams.pools.values()];
  const sampler = new LogSampler(logger, config.logLinesPerSecond);
  const version = readVersion();
  /** `created` of every model in `/v1/models`: when this configuration was loaded. */
  const created = Math.floor(Date.now() / 1000);
  const probes = ['/healthz', '/readyz', '/v2/health/live', '/v2/health/ready'];

  const app = express();
  app.disable('x-powered-by');
  app.use(accessLog(sampler, { ignorePaths: probes }));
  app.use(requestMetrics(registry));
  // Before any route: a path some hop behind the gateway would read differently is nobody's route.
  app.use(refuseAmbiguousTargets());

  const gatewayRoute = (template: string, handler: RequestHandler): [string, RequestHandler] => [
    template,
    (req, res, next) => {
      setRoute(res, template);
      return handler(req, res, next);
    },
  ];

  app.get(
    ...gatewayRoute('/healthz', (_req, res) => {
      res.json({ status: 'ok' });
    }),
  );
  // "Can the gateway serve?", never "is every model up": one model's outage must not take the
  // others offline. Per-model availability is in GET /models.
  const readiness =
    (body: object): RequestHandler =>
    (_req, res) => {
      if (lifecycle.draining) throw HttpError.overloaded('the gateway is shutting down');
      res.json(body);
    };
  const ready = readiness({ status: 'ready' });
  app.get(...gatewayRoute('/readyz', ready));
  // OIP server-level routes (inference_rest.md "Health" and "Server Metadata"), answered here so
  // that `/v2/...` means this server, the gateway, whatever models sit behind it.
  app.get(
    ...gatewayRoute('/v2', (_req, res) => {
      res.json({ name: SERVER_NAME, version, extensions: [] });
    }),
  );
  app.get(
    ...gatewayRoute('/v2/health/live', (_req, res) => {
      res.json({ live: true });
    }),
  );
  app.get(...gatewayRoute('/v2/health/ready', readiness({ ready: true })));

  app.get(
    ...gatewayRoute('/models', (_req, res) => {
      res.json({
        models: pools.map((pool) => ({
          name: pool.name,
          ready: pool.ready,
          readyReplicas: pool.endpoints.filter((endpoint) => endpoint.healthy).length,
        })),
      });
    }),
  );

  // OpenAI: the model list comes from configuration, so it answers even while a model is down.
  app.get(
    ...gatewayRoute('/v1/models', (_req, res) => {
      useOpenAiErrors(res);
      res.json({ object: 'list', data: pools.map((pool) => ({ id: pool.name, object: 'model', created, owned_by: 'modeldock' })) });
    }),
  );

  // OpenAI embeddings carry the model in the body: a bounded scan finds it while the bytes arrive
  // (never a parse of the whole body here; the replica parses and validates it).
  app.post(
    ...gatewayRoute('/v1/embeddings', async (req, res) => {
      useOpenAiErrors(res);
      pipeline.admit(req, res);
      const scanner = new ModelScanner(MAX_JSON_DEPTH);
      const body = await pipeline.body(req, res, (chunk) => {
        const scan = scanner.write(chunk);
        if (scan.state === 'invalid') throw HttpError.invalidInput(`malformed JSON body: ${scan.reason}`);
      });
      const scan = scanner.end();
      if (scan.state === 'invalid') throw HttpError.invalidInput(`malformed JSON body: ${scan.reason}`);
      if (scan.state !== 'found' || scan.model === '') {
        res.status(400).json(openAiError(new HttpError(400, "you must provide a 'model' string", 'model_not_found'), 'model'));
        return;
      }
      const pool = upstreams.pools.get(scan.model);
      if (pool === undefined) {
        res.status(404).json(openAiError(HttpError.modelNotFound(scan.model), 'model'));
        return;
      }
      const query = req.originalUrl.indexOf('?');
      await pipeline.proxy(req, res, pool, '/v1/embeddings' + (query === -1 ? '' : req.originalUrl.slice(query)), body);
    }),
  );
  // The OpenAI routes with another method: 405, as the model servers answer.
  for (const path of ['/v1/embeddings', '/v1/models']) {
    app.all(path, (req, res) => {
      useOpenAiErrors(res);
      setRoute(res, path);
      throw HttpError.methodNotAllowed(req.method, path);
    });
  }

  // Every other public path names its model in the path (or is a configured alias).
  app.use(async (req, res, next) => {
    const route = parseModelRoute(req.method, req.originalUrl, router);
    if (route === undefined) {
      next();
      return;
    }
    setRoute(res, route.template);
    const pool = upstreams.pools.get(route.model);
    if (pool === undefined) throw HttpError.modelNotFound(route.model);
    pipeline.admit(req, res);
    await pipeline.proxy(req, res, pool, route.path);
  });

  app.use((req, _res, next) => {
    next(HttpError.notFound(`no route for ${clipInput(req.method)} ${clipInput(req.path)}`));
  });
  app.use(errorHandler(logger));

  const admin = express();
  admin.disable('x-powered-by');
  admin.get('/metrics', metricsHandler(registry));
  admin.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  admin.get('/readyz', ready);
  admin.get('/models', (_req, res) => {
    res.json({
      draining: lifecycle.draining,
      bodyBytesInFlight: budget.used,
      models: pools.map((pool) => ({
        name: pool.name,
        ready: pool.ready,
        upstreams: pool.config.upstreams.map((upstream) => upstream.url),
        readyPath: pool.config.readyPath,
        timeoutMs: pool.config.timeoutMs,
        attemptTimeoutMs: pool.config.attemptTimeoutMs,
        maxTimeoutMs: pool.config.maxTimeoutMs,
        aliases: pool.config.aliases,
        endpoints: pool.endpoints.map(({ id, publicId, healthy, outstanding, reason }) => ({
          id,
          publicId,
          healthy,
          outstanding,
          reason,
        })),
      })),
    });
  });
  admin.use((req, _res, next) => {
    next(HttpError.notFound(`no route for ${req.method} ${req.path}`));
  });
  admin.use(errorHandler(logger));

  return { app, admin, bodyBudget: budget, registry };
}
