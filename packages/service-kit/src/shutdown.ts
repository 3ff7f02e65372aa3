import type { Server } from 'node:http';
import type { Logger } from 'pino';

/** Options for {@link installGracefulShutdown}. */
export interface GracefulShutdownOptions {
  logger: Logger;
  /** How long in-flight requests may take to finish before their connections are cut. */
  drainTimeoutMs: number;
  /** Runs first, e.g. to turn readiness off so load balancers stop sending work. */
  beforeClose?: () => void;
  /** Runs after the server has drained, e.g. to free the model. */
  afterClose?: () => Promise<void> | void;
  signals?: readonly NodeJS.Signals[];
  /** Replaceable in tests. */
  exit?: (code: number) => void;
}

/**
 * Stops accepting connections, lets in-flight requests finish (up to the drain timeout), runs the
 * clean-up and exits. Idle keep-alive connections are closed at once so a proxy holding them
 * reconnects elsewhere instead of sending new work here.
 *
 * @returns a function that starts the same shutdown programmatically; it resolves when done.
 */
export function installGracefulShutdown(server: Server, options: GracefulShutdownOptions): () => Promise<void> {
  const { logger, drainTimeoutMs, beforeClose, afterClose } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let shuttingDown: Promise<void> | undefined;

  const shutdown = (reason: string): Promise<void> => {
    shuttingDown ??= (async () => {
      logger.info({ reason, drainTimeoutMs }, 'shutting down: draining in-flight requests');
      beforeClose?.();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Connections that were busy become idle as their responses finish; close those promptly too.
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      const deadline = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), drainTimeoutMs).unref());
      const outcome = await Promise.race([closed.then(() => 'drained' as const), deadline]);
      clearInterval(sweep);
      if (outcome === 'timeout') {
        logger.warn('drain timeout reached: closing remaining connections');
        server.closeAllConnections();
      }
      let code = 0;
      try {
        await afterClose?.();
      } catch (err) {
        logger.error({ err }, 'clean-up failed');
        code = 1;
      }
      logger.info({ outcome }, 'stopped');
      exit(code);
    })();
    return shuttingDown;
  };

  for (const signal of options.signals ?? ['SIGTERM', 'SIGINT']) {
    process.once(signal, () => void shutdown(signal));
  }
  return () => shutdown('requested');
}
