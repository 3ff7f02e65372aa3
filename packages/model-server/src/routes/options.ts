/** Fields of the OIP server metadata response. */
export interface ServerInfo {
  name: string;
  version: string;
}

/** What every protocol's routes share besides the data plane. */
export interface RouteOptions {
  server: ServerInfo;
  /** The longest a request may wait for its answer (the gateway's deadline header can shorten it). */
  deadlineMs: number;
}
