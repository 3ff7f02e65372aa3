import { once } from 'node:events';
import { renameSync, writeFileSync } from 'node:fs';
import { createServer, request, type OutgoingHttpHeaders } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before } from 'node:test';
import type { Asset } from '@modeldock/playground';
import { pino } from 'pino';
import { createLogger, createTrustedProxies, type Logger } from '@modeldock/service-kit';
import type { Tracer } from '@opentelemetry/api';
import { watchKeysFile } from '../../src/api-keys.js';
import { createApps, type GatewayApps, type Lifecycle } from '../../src/app.js';
import { loadConfig, type AliasConfig } from '../../src/config.js';
import { watchModelsFile, type ModelsWatch, type ReloadResult } from '../../src/models-reload.js';
import { createLimitedServer } from '../../src/server.js';
import { publicEndpointId } from '../../src/upstream-pool.js';
import { createUpstreams, type Upstreams } from '../../src/upstreams.js';
import { startUpstream, type FakeUpstream } from './upstream.js';

/** A gateway built with createApps, its public and admin servers on 127.0.0.1, ports chosen by the OS. */
export interface TestGateway {
  readonly url: string;
  readonly adminUrl: string;
  readonly upstreams: Upstreams;
  readonly apps: GatewayApps;
  readonly lifecycle: Lifecycle;
  /** The models file's watch, when the gateway was started with `GATEWAY_MODELS_FILE`. */
  readonly models: ModelsWatch | undefined;
  /** What each reload of the models file did, in order. */
  readonly reloads: ReloadResult[];
  /** The opaque `x-served-by` id of the replica at `127.0.0.1:<port>`. */
  servedBy(address: string): string;
  close(): Promise<void>;
}

/** The key for replicas' public ids in tests, so expected ids can be computed. */
const ID_KEY = Buffer.alloc(32, 1);

/** A model entry of the GATEWAY_MODELS JSON. */
export interface ModelEntry {
  upstream?: string;
  backends?: { name: string; upstream: string; weight: number }[];
  shadow?: { backend: string; percent: number };
  timeoutMs?: number;
  attemptTimeoutMs?: number;
  maxTimeoutMs?: number;
  readyPath?: string;
  aliases?: AliasConfig[];
}

/**
 * Starts a gateway for `models` (the GATEWAY_MODELS shape; with `GATEWAY_MODELS_FILE` in `env`,
 * the file instead, watched as main.ts watches it) after one deterministic resolve and readiness
 * round. `start: true` also runs the background timers.
 */
export async function startGateway(
  models: Record<string, ModelEntry>,
  env: Record<string, string> = {},
  {
    start = false,
    logger: givenLogger,
    keysPollMs = 200,
    assets,
    tracer,
  }: { start?: boolean; logger?: Logger; keysPollMs?: number; assets?: readonly Asset[]; tracer?: Tracer } = {},
): Promise<TestGateway> {
  const config = loadConfig({
    ...(env.GATEWAY_MODELS_FILE === undefined ? { GATEWAY_MODELS: JSON.stringify(models) } : {}),
    GATEWAY_LOG_LEVEL: 'silent',
    ...env,
  });
  const logger = givenLogger ?? createLogger({ service: 'gateway', level: config.logLevel });
  const upstreams = createUpstreams(config, { logger, idKey: ID_KEY });
  await upstreams.refresh();
  if (start) upstreams.start();
  const lifecycle: Lifecycle = { draining: false };
  const keys = config.apiKeysFile === undefined ? undefined : watchKeysFile(config.apiKeysFile, logger, keysPollMs);
  const apps = createApps({ config, logger, upstreams, keys, lifecycle, assets, tracer });
  const reloads: ReloadResult[] = [];
  const modelsWatch =
    config.modelsFile === undefined
      ? undefined
      : watchModelsFile(config.modelsFile, upstreams, {
          logger,
          onReload: (result) => {
            reloads.push(result);
            apps.metrics.modelsReloads.inc({ result });
          },
        });
  const server = createLimitedServer(apps.app, config, { logger, registry: apps.registry, trustedProxies: createTrustedProxies(config.trustedProxies) });
  const admin = createServer(apps.admin);
  server.listen(0, '127.0.0.1');
  admin.listen(0, '127.0.0.1');
  await Promise.all([once(server, 'listening'), once(admin, 'listening')]);
  const { port } = server.address() as AddressInfo;
  const { port: adminPort } = admin.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    upstreams,
    apps,
    lifecycle,
    models: modelsWatch,
    reloads,
    servedBy: (address) => publicEndpointId(ID_KEY, address),
    close: async () => {
      keys?.close();
      modelsWatch?.close();
      upstreams.close();
      for (const s of [server, admin]) s.closeAllConnections();
      await Promise.all([server, admin].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}

/** A logger at `level` whose lines (JSON text) the test reads in `lines`. */
export function capturedLogger(level = 'info'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: pino({ level }, sink), lines };
}

/** Fake replicas by name and the gateway in front of them; see {@link useStack}. */
export interface Stack<N extends string> {
  readonly replicas: Readonly<Record<N, FakeUpstream>>;
  readonly gateway: TestGateway;
}

/**
 * For the surrounding `describe`: starts fake replicas called `names` and a gateway for
 * `models(replicas)` in `before`, closes them all in `after`. The fields are set once `before` ran.
 */
export function useStack<N extends string>(
  names: readonly N[],
  models: (replicas: Readonly<Record<N, FakeUpstream>>) => Record<string, ModelEntry>,
  env: Record<string, string> = {},
): Stack<N> {
  const stack = {} as { replicas: Record<N, FakeUpstream>; gateway: TestGateway };
  before(async () => {
    const started = await Promise.all(names.map((name) => startUpstream(name)));
    stack.replicas = Object.fromEntries(names.map((name, i) => [name, started[i]])) as Record<N, FakeUpstream>;
    stack.gateway = await startGateway(models(stack.replicas), env);
  });
  after(async () => {
    await stack.gateway.close();
    await Promise.all(Object.values<FakeUpstream>(stack.replicas).map((replica) => replica.close()));
  });
  return stack;
}

/** A response read to the end. */
/** Waits, at most `ms`, polling every 50 ms, until `done()`; resolves to the time it took, or undefined if it never was. */
export async function waitFor(done: () => boolean | Promise<boolean>, ms = 5000): Promise<number | undefined> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (await done()) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return undefined;
}

/** Writes `file` as an editor or a deployment does: a new file renamed over the old, so no half of it is ever read. */
export function replaceFile(file: string, text: string): void {
  writeFileSync(`${file}.new`, text);
  renameSync(`${file}.new`, file);
}

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

/** What a raw socket received: the parsed status line and body, and whether the server closed it. */
export interface RawAnswer {
  status: number | undefined;
  headers: string;
  body: string;
  closed: boolean;
  elapsedMs: number;
}

/**
 * One request with node:http, for what fetch cannot do: a chosen source address (`localAddress`,
 * e.g. 127.0.0.2, to be another client), a raw request target (backslashes, `#`), any headers.
 */
export function send(
  url: string,
  { method = 'GET', target, body, headers = {}, localAddress }: { method?: string; target?: string; body?: string; headers?: OutgoingHttpHeaders; localAddress?: string } = {},
): Promise<Answer> {
  const parsed = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: parsed.hostname,
        port: parsed.port,
        method,
        path: target ?? parsed.pathname + parsed.search,
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers, 'content-length': Buffer.byteLength(body) },
        localAddress,
        agent: false,
        signal: AbortSignal.timeout(10_000),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') responseHeaders.set(name, value);
          resolve({ status: res.statusCode ?? 0, headers: responseHeaders, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Writes `chunks` to a fresh TCP connection to `url` (bytes exactly as given, for requests fetch
 * cannot send: stalled, malformed, oversized) and reads until the server closes or `waitMs` passes.
 */
export async function rawRequest(url: string, chunks: readonly (string | Buffer)[], waitMs = 5000, localAddress?: string): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  const started = Date.now();
  const socket = connect({ port: Number(port), host: hostname, ...(localAddress === undefined ? {} : { localAddress }) });
  await once(socket, 'connect');
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  socket.on('error', () => {});
  for (const chunk of chunks) socket.write(chunk);
  const closed = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), waitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  socket.destroy();
  const text = Buffer.concat(received).toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  const head = split === -1 ? text : text.slice(0, split);
  const status = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1];
  return {
    status: status === undefined ? undefined : Number(status),
    headers: head,
    body: split === -1 ? '' : text.slice(split + 4),
    closed,
    elapsedMs: Date.now() - started,
  };
}
