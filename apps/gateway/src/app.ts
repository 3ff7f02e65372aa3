import { readFileSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import {
  HttpError,
  createRegistry,
  createTrustedProxies,
  errorHandler,
  httpRequestRecorder,
  metricsHandler,
  openAiErrorHandler,
  type Logger,
  type Registry,
} from '@modeldock/service-kit';
import type { Tracer } from '@opentelemetry/api';
import express, { type Express, type RequestHandler } from 'express';
import type { Asset } from '@modeldock/playground';
import { createApiDocument } from './api-document.js';
import { hashKey, type KeyStore } from './api-keys.js';
import type { GatewayConfig } from './config.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.js';
import { LogSampler, accessLog } from './stages/access-log/index.js';
import { ClientLimiter, admit, clientAddress } from './stages/admit/index.js';
import { authorize } from './stages/authorize/index.js';
import { BodyBudget, body } from './stages/body/index.js';
import { cors } from './stages/cors/index.js';
import { createForwarder, createShadower, forward } from './stages/forward/index.js';
import { identify, presentedKey } from './stages/identify/index.js';
import { pipeline } from './stages/pipeline.js';
import { gatewayAnswers, local, ownApiPaths } from './stages/local/index.js';
import { OPENAI_PATHS, publicRoutes, route, routeOf, routePath } from './stages/route/index.js';
import { createModelDocuments, type DocumentPool } from './model-documents.js';
import { selectBackend } from './stages/select-backend/index.js';
import { trace } from './stages/trace/index.js';
import { modelReady, type Routing } from './routing.js';
import type { Upstreams } from './upstreams.js';

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
  /** The API keys (from `GATEWAY_API_KEYS_FILE`); undefined: access control off. */
  keys?: KeyStore;
  /** Defaults to a fresh registry with process metrics. */
  registry?: Registry;
  lifecycle?: Lifecycle;
  /** Tracing on (`OTEL_*`): the request's and each attempt's spans; undefined: no tracing work at all. */
  tracer?: Tracer;
  /** The playground's files (`loadPlaygroundAssets()`); none by default. */
  assets?: readonly Asset[];
}

/** The public app (clients) and the admin app (operators: metrics, replica detail). */
export interface GatewayApps {
  readonly app: Express;
  readonly admin: Express;
  /** Request-body bytes buffered right now, for tests and measurements. */
  readonly bodyBudget: BodyBudget;
  /** The registry both apps' metrics are in (the public server adds its connection counts). */
  readonly registry: Registry;
  readonly metrics: GatewayMetrics;
}

/** Deepest JSON nesting the gateway scans before it finds `model` (the model servers allow the same). */
const MAX_JSON_DEPTH = 32;

/** Largest model service document the gateway reads (theirs are tens of kilobytes). */
const MAX_MODEL_DOCUMENT_BYTES = 8 * 1024 * 1024;

/** The gateway's own version, from its package.json when it ships beside `dist/`. */
export function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Each model's replicas as the API document's source fetches from them: those of its weighted
 * backends first, so a model's document is the one most of its traffic gets.
 */
function documentPools(routing: Routing): DocumentPool[] {
  return [...routing.models.values()].map((model) => ({
    name: model.name,
    endpoints: [...model.weighted, ...model.backends.filter((backend) => backend.weight === 0)].flatMap((backend) => backend.pool.endpoints),
  }));
}

/** Requires the admin key (its SHA-256 configured) on every admin request, compared in constant time. */
function adminKey(sha256Hex: string): RequestHandler {
  const expected = Buffer.from(sha256Hex, 'hex');
  return (req, _res, next) => {
    const presented = presentedKey(req);
    if (presented === undefined) throw HttpError.unauthorized('the admin key is required: Authorization: Bearer <key>');
    if (!timingSafeEqual(hashKey(presented), expected)) throw HttpError.unauthorized('the admin key is not valid', true);
    next();
  };
}

/**
 * The gateway's apps. Public: a pipeline of named stages, each one middleware from its own folder
 * under `stages/` (hono's `middleware/<name>`): request id + access log → trace (while tracing is on)
 * → CORS → route → identify → authorize → the gateway's own answers → admit → body → select backend
 * → forward. A stage ends a
 * request by throwing an HttpError; OpenAI's routes run the same stages in a sub-app whose error
 * handler answers in OpenAI's shape, every other route reaches the app's, answering `{"error"}`. Admin:
 * `/metrics` and the replica detail. Neither listens nor starts timers; see `main.ts`.
 */
export function createApps({
  config,
  logger,
  upstreams,
  keys,
  registry = createRegistry({ service: 'gateway' }),
  lifecycle = { draining: false },
  tracer,
  assets = [],
}: AppDeps): GatewayApps {
  const trustedProxies = createTrustedProxies(config.trustedProxies);
  const budget = new BodyBudget(config.maxInflightBodyBytes, config.clientLimits.maxBodyBytes);
  const limiter = new ClientLimiter(config.clientLimits.maxConcurrency);
  const metrics = createGatewayMetrics(registry, upstreams, {
    bodyBytesInFlight: () => budget.used,
    clientsTracked: () => limiter.tracked,
  });
  const { ratePerSecond, burst, maxConcurrency } = config.clientLimits;
  const version = readVersion();
  // The API document is built from configuration and the model services' own documents, fetched
  // when someone asks for it (never on the proxy path) and kept. A model's document comes from a
  // ready replica of any of its backends.
  const documents = createModelDocuments(() => documentPools(upstreams.routing), {
    refreshMs: config.apiDocumentRefreshMs,
    timeoutMs: config.apiDocumentTimeoutMs,
    maxBytes: MAX_MODEL_DOCUMENT_BYTES,
    onError: (model, reason) => logger.warn({ model, reason }, 'model service API document not fetched'),
  });
  /** The document's builder for the models configuration last asked about (a reload changes its routes). */
  let built: { routing: Routing; document: (models: readonly string[]) => Promise<string> } | undefined;
  const answers = gatewayAnswers({
    version,
    draining: () => lifecycle.draining,
    assets,
    apiDocument: (routing, models) => {
      if (built?.routing !== routing) {
        const own = ownApiPaths(assets, keys !== undefined);
        const configs = [...routing.models.values()].map((model) => model.config);
        built = {
          routing,
          document: createApiDocument({ version, models: configs, routeOf: routeOf(routing.router, answers), own, accessControl: keys !== undefined }, documents),
        };
      }
      return built.document(models);
    },
  });

  const stages: RequestHandler[] = [
    accessLog({
      sampler: new LogSampler(logger, config.logLinesPerSecond),
      ignorePaths: ['/healthz', '/readyz', '/v2/health/live', '/v2/health/ready'],
      record: httpRequestRecorder(registry),
    }),
    ...(tracer === undefined ? [] : [trace({ tracer })]),
    ...(config.corsOrigins.length > 0 ? [cors({ origins: config.corsOrigins })] : []),
    route({ models: upstreams, answers }),
    identify({ keys, clientAddress: clientAddress(trustedProxies) }),
    authorize({ enabled: keys !== undefined, metrics }),
    local(),
    admit({
      limiter,
      maxConcurrency,
      defaultRate: ratePerSecond > 0 ? { ratePerSecond, burst } : undefined,
      metrics,
    }),
    body({ budget, maxBodyBytes: config.maxBodyBytes, maxJsonDepth: MAX_JSON_DEPTH, metrics }),
    selectBackend({ metrics }),
    forward({
      forwarder: createForwarder({
        agent: upstreams.agent,
        maxRetries: config.maxRetries,
        metrics,
        upstreamIdleTimeoutMs: config.upstreamIdleTimeoutMs,
        trustedProxies,
      }),
      metrics,
      shadower: createShadower({ agent: upstreams.agent, limits: config.shadow, metrics, logger }),
    }),
  ];
  const run = pipeline(stages);
  // OpenAI's clients parse OpenAI's error body: its routes are a sub-app with that error handler.
  const openAi = express.Router();
  openAi.use(run);
  openAi.use(openAiErrorHandler({ logger }));

  const app = express();
  app.disable('x-powered-by');
  app.use((req, res, next) => (OPENAI_PATHS.has(routePath(req.url)) ? openAi : run)(req, res, next));
  app.use(errorHandler({ logger }));

  const admin = express();
  admin.disable('x-powered-by');
  if (config.adminKeySha256 !== undefined) admin.use(adminKey(config.adminKeySha256));
  admin.get('/metrics', metricsHandler(registry));
  admin.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  admin.get('/readyz', (_req, res) => {
    if (lifecycle.draining) throw HttpError.overloaded('the gateway is shutting down');
    res.json({ status: 'ready' });
  });
  admin.get('/models', (_req, res) => {
    const routing = upstreams.routing;
    res.json({
      draining: lifecycle.draining,
      bodyBytesInFlight: budget.used,
      configVersion: routing.version,
      models: [...routing.models.values()].map((model) => ({
        name: model.name,
        ready: modelReady(model),
        upstreams: model.config.backends.flatMap((backend) => backend.upstreams.map((upstream) => upstream.url)),
        readyPath: model.config.readyPath,
        timeoutMs: model.config.timeoutMs,
        attemptTimeoutMs: model.config.attemptTimeoutMs,
        maxTimeoutMs: model.config.maxTimeoutMs,
        aliases: model.config.aliases,
        shadow: model.config.shadow,
        backends: model.backends.map(({ name, weight, pool }) => ({
          name,
          weight,
          ready: pool.ready,
          upstreams: pool.config.upstreams.map((upstream) => upstream.url),
        })),
        endpoints: model.backends.flatMap(({ name, pool }) =>
          pool.endpoints.map(({ id, publicId, healthy, outstanding, reason }) => ({ id, publicId, backend: name, healthy, outstanding, reason })),
        ),
      })),
    });
  });
  // Every public route's shape, from the router and the configuration (the API document's coverage test reads it).
  admin.get('/routes', (_req, res) => {
    res.json({ routes: publicRoutes([...upstreams.routing.models.values()].map((model) => model.config), answers) });
  });
  admin.use((req, _res, next) => {
    next(HttpError.notFound(`no route for ${req.method} ${req.path}`));
  });
  admin.use(errorHandler({ logger }));

  return { app, admin, bodyBudget: budget, registry, metrics };
}
