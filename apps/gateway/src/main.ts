import { once } from 'node:events';
import { createServer } from 'node:http';
import { createLogger, createTrustedProxies, installGracefulShutdown, loadTracingSettings, startTracing } from '@modeldock/service-kit';
import { loadPlaygroundAssets } from '@modeldock/playground';
import { watchKeysFile } from './api-keys.js';
import { createApps, readVersion, type Lifecycle } from './app.js';
import { loadConfig } from './config.js';
import { watchModelsFile } from './models-reload.js';
import { createLimitedServer } from './server.js';
import { createUpstreams } from './upstreams.js';

/** Loads the configuration, starts replica discovery, listens (public and admin), and drains on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ service: 'gateway', level: config.logLevel });
  // OpenTelemetry's own variables (OTEL_*), read as the specification says; off unless asked for.
  const tracing = await startTracing(loadTracingSettings(), { name: 'modeldock-gateway', version: readVersion(), scope: '@modeldock/gateway' }, logger);
  const upstreams = createUpstreams(config, { logger });
  upstreams.start();
  // Not awaited: /healthz must answer while a slow DNS or replica is still being found.
  upstreams.refresh().catch((err: unknown) => logger.error({ err }, 'initial upstream refresh failed'));

  // Read before listening: a keys file that cannot be used stops the start, it never opens the gateway.
  const keys = config.apiKeysFile === undefined ? undefined : watchKeysFile(config.apiKeysFile, logger);
  const lifecycle: Lifecycle = { draining: false };
  const assets = await loadPlaygroundAssets();
  const { app, admin, registry, metrics } = createApps({ config, logger, upstreams, keys, lifecycle, assets, tracer: tracing.tracer });
  // New weights, backends and shadows without a restart: the models file when it changes, both files on SIGHUP.
  const models =
    config.modelsFile === undefined
      ? undefined
      : watchModelsFile(config.modelsFile, upstreams, { logger, onReload: (result) => metrics.modelsReloads.inc({ result }) });
  process.on('SIGHUP', () => {
    logger.info({ modelsFile: config.modelsFile?.path ?? 'none (GATEWAY_MODELS)', keysFile: config.apiKeysFile ?? 'none' }, 'SIGHUP: reading the models and keys files again');
    models?.reload();
    keys?.reload();
  });
  const server = createLimitedServer(app, config, { logger, registry, trustedProxies: createTrustedProxies(config.trustedProxies) });
  // Loopback by default: metrics and replica addresses are for operators, not clients.
  const adminServer = createServer(admin);
  server.listen(config.port, config.host);
  adminServer.listen(config.adminPort, config.adminHost);
  await Promise.all([once(server, 'listening'), once(adminServer, 'listening')]);
  logger.info(
    {
      address: server.address(),
      admin: adminServer.address(),
      models: config.models.map((m) => ({
        name: m.name,
        backends: m.backends.map((b) => ({ name: b.name, weight: b.weight, upstreams: b.upstreams.map((u) => u.url) })),
        shadow: m.shadow,
        aliases: m.aliases,
      })),
      accessControl: keys === undefined ? 'off' : `${keys.keys.length} API keys`,
      cors: config.corsOrigins,
    },
    'gateway listening',
  );

  installGracefulShutdown(server, {
    logger,
    drainTimeoutMs: config.drainTimeoutMs,
    // Readiness turns false first, so load balancers stop sending new work while in-flight requests finish.
    beforeClose: () => {
      lifecycle.draining = true;
    },
    afterClose: async () => {
      keys?.close();
      models?.close();
      upstreams.close();
      adminServer.closeAllConnections();
      adminServer.close();
      await tracing.shutdown();
    },
  });
}

main().catch((err: unknown) => {
  // Configuration errors name every bad variable; print them plainly and exit non-zero.
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
