import express, { type Express } from 'express';
import {
  errorHandler,
  httpLogger,
  httpMetrics,
  limitJsonDepth,
  metricsHandler,
  notFoundHandler,
  type Logger,
  type Registry,
} from '@modeldock/service-kit';
import type { DataPlane } from './data-plane.js';
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
  const options = { server };
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(httpLogger(logger, { ignorePaths: QUIET_PATHS }));
  app.use(httpMetrics(registry));
  // Every POST body is JSON whatever its content type says (curl -d sends form encoding).
  app.use(express.json({ limit: maxBodyBytes, type: () => true, strict: false }));
  app.use(limitJsonDepth(deps.maxJsonDepth ?? 32));

  app.get('/metrics', metricsHandler(registry));
  for (const plugin of [...(deps.plugins ?? []), ...BUILT_IN_PLUGINS]) {
    if (plugin.appliesTo?.(plane.model) ?? true) app.use(plugin.routes(plane, options));
  }

  app.use(notFoundHandler());
  app.use(openAiErrorHandler());
  app.use(errorHandler());
  return app;
}
