/** Fields of the OIP server metadata response. */
export interface ServerInfo {
  name: string;
  version: string;
}

/** What every protocol's routes share besides the data plane. */
export interface RouteOptions {
  server: ServerInfo;
}
