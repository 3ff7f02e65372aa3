import type { TrustedProxies } from '@modeldock/service-kit';

/** Fields of the OIP server metadata response. */
export interface ServerInfo {
  name: string;
  version: string;
}

/** What every protocol's routes share besides the data plane. */
export interface RouteOptions {
  server: ServerInfo;
  /** Peers whose `X-Forwarded-For` names the client (for the fair share of the queue). */
  trustedProxies: TrustedProxies;
}
