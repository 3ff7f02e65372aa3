import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '@modeldock/service-kit';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createUpstreams, type Upstreams } from '../../src/upstream-pool.js';

/** A gateway built with createApp and listening on 127.0.0.1, port chosen by the OS. */
export interface TestGateway {
  readonly url: string;
  readonly upstreams: Upstreams;
  close(): Promise<void>;
}

/**
 * Starts a gateway for `models` (the GATEWAY_MODELS shape) after one deterministic resolve and
 * readiness round. `start: true` also runs the background timers.
 */
export async function startGateway(
  models: Record<string, { upstream: string; timeoutMs?: number; readyPath?: string }>,
  env: Record<string, string> = {},
  { start = false } = {},
): Promise<TestGateway> {
  const config = loadConfig({ GATEWAY_MODELS: JSON.stringify(models), GATEWAY_LOG_LEVEL: 'silent', ...env });
  const logger = createLogger({ service: 'gateway', level: config.logLevel });
  const upstreams = createUpstreams(config, { logger });
  await upstreams.refresh();
  if (start) upstreams.start();
  const server = createServer(createApp({ config, logger, upstreams }));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    upstreams,
    close: async () => {
      upstreams.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A response read to the end. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed body; `any` so assertions can reach into it without a cast at every step. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test convenience, see above
  json: any;
}

/** fetch, read to the end; `json` is the parsed body when it is JSON. */
export async function call(url: string, init?: RequestInit): Promise<Answer> {
  const res = await fetch(url, init);
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** POSTs a JSON body. */
export function post(url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Answer> {
  return call(url, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
    ...(signal === undefined ? {} : { signal }),
  });
}
