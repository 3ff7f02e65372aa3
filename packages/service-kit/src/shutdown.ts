import type { Server } from 'node:http';
import type { Logger } from 'pino';

/** Options for {@link installGracefulShutdown}. */
export interface GracefulShutdownOptions {
  logger: Logger;
  /** How long in-flight requests may take to finish before their connections are cut. */
  drainTimeoutMs: number;
  /**
   * How long idle keep-alive connections stay open after the signal. A client may already have
   * sent a request on one that the server has not read yet; closing it at once would reset that
   * request. During the linger such requests are served, with `Connection: close`.
   */
  idleLingerMs?: number;
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
 * clean-up and exits. Responses during the drain carry `Connection: close` and idle keep-alive
 * connections are closed after a short linger, so a proxy holding them reconnects elsewhere.
 *
 * @returns a function that starts the same shutdown programmatically; it resolves when done.
 */
export function installGracefulShutdown(server: Server, options: GracefulShutdownOptions): () => Promise<void> {
  const { logger, drainTimeoutMs, beforeClose, afterClose, idleLingerMs = 1000 } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let shuttingDown: Promise<void> | undefined;

  const shutdown = (reason: string): Promise<void> => {
    shuttingDown ??= (async () => {
      logger.info({ reason, drainTimeoutMs }, 'shutting down: draining in-flight requests');
      beforeClose?.();
      // Every response from now on asks the client to drop the connection, so no new work arrives on it.
      server.prependListener('request', (_req, res) => res.setHeader('connection', 'close'));
      // Node 19+ closes idle connections inside close(); the linger above needs them kept for a moment.
      const closeIdle = server.closeIdleConnections.bind(server);
      server.closeIdleConnections = () => {};
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      let sweep: NodeJS.Timeout | undefined;
      // Timers run before the poll phase, so after a long synchronous stretch (an inference batch) a
      // timer would see sockets whose requests are buffered but unread as idle. setImmediate runs
      // after the poll phase has read them.
      const closeIdleAfterPoll = () => setImmediate(closeIdle);
      const linger = setTimeout(() => {
        closeIdleAfterPoll();
        sweep = setInterval(closeIdleAfterPoll, 100);
      }, idleLingerMs);
      const deadline = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), drainTimeoutMs).unref());
      const outcome = await Promise.race([closed.then(() => 'drained' as const), deadline]);
      clearTimeout(linger);
      clearInterval(sweep);
      if (outcome === 'timeout') {
        logger.warn('drain timeout reached: closing remaining connections');
        server.closeAllConnections();
      }
      server.closeIdleConnections = closeIdle;
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
