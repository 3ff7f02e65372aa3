import { once } from 'node:events';
import { createServer } from 'node:http';
import { createLogger, installGracefulShutdown } from '@modeldock/service-kit';
import { createApp } from './app.js';
import { loadConfig } from './config.js';
import { createUpstreams } from './upstream-pool.js';

/** Loads the configuration, starts replica discovery, listens, and drains on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ service: 'gateway', level: config.logLevel });
  const upstreams = createUpstreams(config, { logger });
  upstreams.start();
  // Not awaited: /healthz must answer while a slow DNS or replica is still being found; /readyz tells.
  upstreams.refresh().catch((err: unknown) => logger.error({ err }, 'initial upstream refresh failed'));

  const server = createServer(createApp({ config, logger, upstreams }));
  server.listen(config.port, config.host);
  await once(server, 'listening');
  logger.info(
    {
      address: server.address(),
      models: config.models.map((m) => ({ name: m.name, upstreams: m.upstreams.map((u) => u.url) })),
      defaultModel: config.defaultModel,
    },
    'gateway listening',
  );

  installGracefulShutdown(server, {
    logger,
    drainTimeoutMs: config.drainTimeoutMs,
    afterClose: () => upstreams.close(),
  });
}

main().catch((err: unknown) => {
  // Configuration errors name every bad variable; print them plainly and exit non-zero.
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
