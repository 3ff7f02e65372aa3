import express, { type Express } from 'express';
import {
  errorHandler,
  httpLogger,
  createTrustedProxies,
  httpMetrics,
  jsonBody,
  metricsHandler,
  notFoundHandler,
  refuseAmbiguousTargets,
  type Logger,
  type Registry,
  type TrustedProxies,
} from '@modeldock/service-kit';
import { DEFAULT_TRUSTED_PROXIES } from './config.js';
import type { DataPlane } from './data-plane.js';
import { OPENAPI_PATH, openApiHandler } from './openapi.js';
import { BUILT_IN_PLUGINS, type ModelServerPlugin } from './plugins.js';
import { openAiErrorHandler } from './routes/openai.js';
import type { ServerInfo } from './routes/options.js';

/** What the HTTP layer needs; tests pass fakes. */
export interface AppDependencies {
  plane: DataPlane;
  registry: Registry;
  logger: Logger;
  server: ServerInfo;
  maxBodyBytes: number;
  /** Deepest JSON nesting accepted (default 32). */
  maxJsonDepth?: number;
  /** Peers whose `X-Forwarded-For` is believed (default: loopback only). */
  trustedProxies?: TrustedProxies;
  /** A model's own routes (mounted first), besides the built-in protocols. */
  plugins?: readonly ModelServerPlugin[];
}

/** Probes and scrapes are frequent and uninteresting in access logs. */
const QUIET_PATHS = ['/v2/health/live', '/v2/health/ready', '/metrics'];

/**
 * Builds a model server's HTTP app: every plug-in that applies to the served model (its own routes,
 * then OpenAI embeddings, OIP v2 and TF Serving), plus `/metrics`. It never listens and does no
 * work at import time; `runModelServer` owns the process.
 */
export function createApp(deps: AppDependencies): Express {
  const { plane, registry, logger, server, maxBodyBytes } = deps;
  const options = {
    server,
    trustedProxies: deps.trustedProxies ?? createTrustedProxies(DEFAULT_TRUSTED_PROXIES),
  };
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(httpLogger(logger, { ignorePaths: QUIET_PATHS }));
  app.use(httpMetrics(registry));
  // Before any route or body: a path some hop in front would read differently is nobody's route.
  app.use(refuseAmbiguousTargets());
  // Every body is JSON whatever its content type says (curl -d sends form encoding); size and depth
  // are checked as the bytes arrive, before anything is parsed.
  app.use(jsonBody({ limit: maxBodyBytes, maxDepth: deps.maxJsonDepth ?? 32 }));

  app.get('/metrics', metricsHandler(registry));
  const plugins = [...(deps.plugins ?? []), ...BUILT_IN_PLUGINS].filter((plugin) => plugin.appliesTo?.(plane.model) ?? true);
  for (const plugin of plugins) app.use(plugin.routes(plane, options));
  app.get(OPENAPI_PATH, openApiHandler(plane, plugins, server));

  app.use(notFoundHandler());
  app.use(openAiErrorHandler());
  app.use(errorHandler());
  return app;
}
