import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a fake replica does with a non-readiness request. */
export type UpstreamMode =
  | { kind: 'echo' }
  | { kind: 'status'; status: number; headers?: Record<string, string> }
  /** Holds the request this long before echoing (only requests whose body contains `match`, if given). */
  | { kind: 'slow'; delayMs: number; match?: string }
  /** Like a model service admitting long work: answers `102 Processing` at once, then echoes after `delayMs`. */
  | { kind: 'processing'; delayMs: number }
  /** Closes the connection without answering ("socket hang up" at the gateway); `times` then echoes again. */
  | { kind: 'reset'; times?: number }
  /** Like a model service: answers one request at a time, each after `perRequestMs`, in arrival order. */
  | { kind: 'queue'; perRequestMs: number }
  /** Accepts the request and never answers (a black hole). */
  | { kind: 'blackhole' }
  /** Sends the head and the start of a body, then never sends more. */
  | { kind: 'stall-body' }
  /** Answers this JSON (a model's answer), after `delayMs` if given. */
  | { kind: 'json'; body: unknown; delayMs?: number };

/** What the fake replica saw and answered, as JSON. */
export interface Echo {
  served: string;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A tiny real replica on 127.0.0.1, port chosen by the OS. */
export interface FakeUpstream {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  /** `127.0.0.1:<port>`, what the gateway puts in x-served-by. */
  readonly id: string;
  /** Readiness answer: 200, 503, or (`'hang'`) none at all. */
  ready: boolean | 'hang';
  mode: UpstreamMode;
  /** Non-readiness requests received. */
  hits: number;
  /** The last non-readiness request received whole. */
  last: Echo | undefined;
  /** Answered to `GET /openapi.json`, when set (a model service's document). */
  openapi?: unknown;
  close(): Promise<void>;
}

export const READY_PATH = '/v2/health/ready';

/** Starts a fake replica that answers READY_PATH with 200/503 and echoes everything else. */
export async function startUpstream(name: string): Promise<FakeUpstream> {
  const pending = new Set<NodeJS.Timeout>();
  /** When the 'queue' mode's last accepted request will be answered. */
  let queueFreeAt = 0;
  const upstream: FakeUpstream = {
    name,
    port: 0,
    url: '',
    id: '',
    ready: true,
    mode: { kind: 'echo' },
    hits: 0,
    last: undefined,
    close: async () => {
      for (const timer of pending) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === READY_PATH) {
      if (upstream.ready !== 'hang') res.writeHead(upstream.ready ? 200 : 503).end();
      return;
    }
    upstream.hits++;
    if (req.url === '/openapi.json' && upstream.openapi !== undefined) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(upstream.openapi));
      return;
    }
    const mode = upstream.mode;
    if (mode.kind === 'blackhole') return;
    if (mode.kind === 'stall-body') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"partial":');
      return;
    }
    if (mode.kind === 'reset') {
      if (mode.times !== undefined && --mode.times <= 0) upstream.mode = { kind: 'echo' };
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const echo: Echo = {
        served: name,
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      upstream.last = echo;
      const answer = () => {
        if (mode.kind === 'json') {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(mode.body));
        } else if (mode.kind === 'status') {
          res
            .writeHead(mode.status, { 'content-type': 'application/json', ...mode.headers })
            .end(JSON.stringify({ error: `status ${mode.status}` }));
        } else {
          res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'upstream-own-id' }).end(JSON.stringify(echo));
        }
      };
      if (mode.kind === 'processing') res.writeProcessing();
      const delayMs =
        (mode.kind === 'slow' && (mode.match === undefined || echo.body.includes(mode.match))) || mode.kind === 'processing'
          ? mode.delayMs
          : mode.kind === 'json'
            ? (mode.delayMs ?? 0)
            : mode.kind === 'queue'
            ? (queueFreeAt = Math.max(queueFreeAt, Date.now()) + mode.perRequestMs) - Date.now()
            : 0;
      if (delayMs > 0) {
        const timer = setTimeout(() => {
          pending.delete(timer);
          answer();
        }, delayMs);
        pending.add(timer);
      } else {
        answer();
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return Object.assign(upstream, { port, url: `http://127.0.0.1:${port}`, id: `127.0.0.1:${port}` });
}
