import express, { type Express } from 'express';
import {
  errorHandler,
  httpLogger,
  httpMetrics,
  metricsHandler,
  notFoundHandler,
  type Logger,
  type Registry,
} from '@modeldock/service-kit';
import type { DataPlane } from './data-plane.js';
import { openInferenceRoutes, type ServerInfo } from './routes/open-inference.js';
import { seedRoutes } from './routes/seed.js';
import { tfServingRoutes } from './routes/tf-serving.js';

/** What the HTTP layer needs; tests pass fakes. */
export interface AppDependencies {
  plane: DataPlane;
  registry: Registry;
  logger: Logger;
  server: ServerInfo;
  maxBodyBytes: number;
}

/** Probes and scrapes are frequent and uninteresting in access logs. */
const QUIET_PATHS = ['/v2/health/live', '/v2/health/ready', '/metrics'];

/**
 * Builds the question-topic HTTP app. It never listens and does no work at import time; `main.ts`
 * owns the process.
 */
export function createApp({ plane, registry, logger, server, maxBodyBytes }: AppDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(httpLogger(logger, { ignorePaths: QUIET_PATHS }));
  app.use(httpMetrics(registry));
  // Every POST body is JSON whatever its content type says (curl -d sends form encoding).
  app.use(express.json({ limit: maxBodyBytes, type: () => true, strict: false }));

  app.get('/metrics', metricsHandler(registry));
  app.use(seedRoutes(plane));
  app.use(openInferenceRoutes(plane, server));
  app.use(tfServingRoutes(plane));

  app.use(notFoundHandler());
  app.use(errorHandler());
  return app;
}
