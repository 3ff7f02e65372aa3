import type { RequestListener, Server } from 'node:http';
import type { Socket } from 'node:net';
import { Counter, Gauge, createHttpServer, plainAddress, type Logger, type Registry, type TrustedProxies } from '@modeldock/service-kit';
import type { GatewayConfig } from './config.js';

/** The settings of the public server that bound what one client can hold. */
export type ServerLimits = Pick<
  GatewayConfig,
  'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'maxConnections' | 'maxHeaderBytes'
> & { readonly clientLimits: Pick<GatewayConfig['clientLimits'], 'maxConnections'> };

/** What the public server needs besides its limits. */
export interface ServerOptions {
  logger: Logger;
  /** Connections from a trusted proxy carry many clients: only the global cap applies to them. */
  trustedProxies: TrustedProxies;
  /** Where `gateway_client_connections_refused_total` and `gateway_client_addresses_connected` go. */
  registry?: Registry;
}

/**
 * An HTTP server for `listener` with every client-facing limit set: header and whole-request
 * deadlines (408), keep-alive idle timeout, header size (431), JSON bodies for Node's own answers
 * (service-kit's `createHttpServer`), the global connection cap, and each address's share of it,
 * counted when a connection opens: one address re-opening slow connections as each gets its 408
 * cannot hold all of the cap, and beyond its share only its own new connections are closed.
 */
export function createLimitedServer(listener: RequestListener, limits: ServerLimits, options: ServerOptions): Server {
  const server = createHttpServer(listener, limits, options.logger);
  server.maxConnections = limits.maxConnections;
  const share = limits.clientLimits.maxConnections;
  const open = new Map<string, number>();
  const registers = options.registry === undefined ? [] : [options.registry];
  const refused = new Counter({
    name: 'gateway_client_connections_refused_total',
    help: "Connections closed at once because their address had GATEWAY_CLIENT_MAX_CONNECTIONS open already.",
    registers,
  });
  new Gauge({
    name: 'gateway_client_addresses_connected',
    help: 'Client addresses (trusted proxies excluded) with connections open.',
    registers,
    collect() {
      this.set(open.size);
    },
  });
  if (share > 0) {
    server.on('connection', (socket: Socket) => {
      const address = plainAddress(socket.remoteAddress ?? '');
      if (options.trustedProxies.trusts(address)) return;
      const count = (open.get(address) ?? 0) + 1;
      if (count > share) {
        refused.inc();
        socket.destroy();
        return;
      }
      open.set(address, count);
      socket.once('close', () => {
        const left = (open.get(address) ?? 1) - 1;
        if (left > 0) open.set(address, left);
        else open.delete(address);
      });
    });
  }
  return server;
}
