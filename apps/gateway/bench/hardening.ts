// Reproductions of the gateway findings of the hardening issue, as measurements rather than tests.
// Starts a built gateway (dist/main.js, or the one given) as a child process in front of fake
// replicas on 127.0.0.1, and prints one line of numbers per scenario. Every loop is bounded.
//
//   node --import tsx apps/gateway/bench/hardening.ts [path/to/gateway/main.js] [scenario ...]
//
// Scenarios: stalled-body, black-hole, uploads, slow-headers, fairness, log-flood (default: all).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, request, type RequestListener, type ServerResponse } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const mainJs = args[0]?.endsWith('.js') === true ? (args.shift() as string) : fileURLToPath(new URL('../dist/main.js', import.meta.url));
const only = new Set(args);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createTcpServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A fake replica; `handle(req, res)` answers everything but the readiness path. */
async function replica(handle: RequestListener, { ready = (): boolean => true } = {}) {
  const server = createServer((req, res) => {
    if (req.url === '/v2/health/ready') {
      res.writeHead(ready() ? 200 : 503).end();
      return;
    }
    handle(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

const echo: RequestListener = (req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
};

/** Starts the gateway with `env`; resolves once it answers /healthz. */
async function gateway(models: Record<string, { upstream: string }>, env: Record<string, string> = {}) {
  const port = await freePort();
  const adminPort = await freePort();
  const child = spawn(process.execPath, [mainJs], {
    env: {
      PATH: process.env.PATH ?? '',
      GATEWAY_PORT: String(port),
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_ADMIN_PORT: String(adminPort),
      GATEWAY_MODELS: JSON.stringify(models),
      GATEWAY_HEALTH_INTERVAL_MS: '200',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let logBytes = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    logBytes += chunk.length;
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      await sleep(100);
    }
  }
  await sleep(500); // a readiness round
  return {
    url,
    pid: child.pid,
    logBytes: () => logBytes,
    rssMiB: (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024,
    stop: async () => {
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
  };
}

/** One request; resolves with status (0 on a transport error) and elapsed ms; never throws. */
interface Sent {
  status: number;
  ms: number;
  error?: string;
}

function send(
  url: string,
  { method = 'POST', body = '{}', timeoutMs = 60_000, localAddress }: { method?: string; body?: string; timeoutMs?: number; localAddress?: string } = {},
): Promise<Sent> {
  const started = performance.now();
  return new Promise((resolve) => {
    const target = new URL(url);
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method,
        localAddress,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
        res.on('error', (err) => resolve({ status: 0, error: err.name, ms: performance.now() - started }));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ status: 0, error: err.name === 'AbortError' ? 'client-timeout' : err.code, ms: performance.now() - started }),
    );
    req.end(body);
  });
}

async function uploads(env: Record<string, string>): Promise<string> {
  const up = await replica(echo);
  const gw = await gateway({ m: { upstream: up.url } }, env);
  const before = gw.rssMiB();
  const size = 1024 * 1024 - 1024;
  const chunk = Buffer.alloc(64 * 1024, 120);
  const sockets: Socket[] = [];
  const refused = new Map<string, number>();
  for (let i = 0; i < 200; i++) {
    const socket = connect(Number(new URL(gw.url).port), '127.0.0.1');
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => {
      const status = /^HTTP\/1\.1 (\d+)/.exec(d.toString('latin1'))?.[1];
      if (status !== undefined) refused.set(status, (refused.get(status) ?? 0) + 1);
    });
    sockets.push(socket);
    socket.write(`POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${size + 10}\r\n\r\n`);
    for (let sent = 0; sent < size; sent += chunk.length) socket.write(chunk.subarray(0, Math.min(chunk.length, size - sent)));
  }
  let peak = before;
  for (let i = 0; i < 20; i++) {
    await sleep(250);
    peak = Math.max(peak, gw.rssMiB());
  }
  for (const socket of sockets) socket.destroy();
  await gw.stop();
  up.close();
  return `gateway RSS ${before.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB while 200 × 1 MiB uploads stall (5 s); answers: ${JSON.stringify(Object.fromEntries(refused))}`;
}

const scenarios: Record<string, () => Promise<string>> = {
  /** An upstream sends its head and part of a body, then stalls. How long until the client's response ends? */
  'stalled-body': async () => {
    const up = await replica((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"partial":');
    });
    const gw = await gateway({ m: { upstream: up.url } });
    const r = await send(`${gw.url}/v2/models/m/infer`, { timeoutMs: 40_000 });
    await gw.stop();
    up.close();
    return `client response ended after ${(r.ms / 1000).toFixed(1)} s (${r.error ?? r.status}; capped at 40 s)`;
  },

  /** Two replicas, one a black hole (accepts, never answers). Per-request latency over 20 sequential requests. */
  'black-hole': async () => {
    const good = await replica(echo);
    const hole = await replica(() => {});
    const gw = await gateway(
      { m: { upstream: `${good.url},${hole.url}` } },
      { GATEWAY_TIMEOUT_MS: '3000', GATEWAY_ATTEMPT_TIMEOUT_MS: '1000', GATEWAY_HEALTH_TIMEOUT_MS: '500' },
    );
    const results: Sent[] = [];
    for (let i = 0; i < 20; i++) results.push(await send(`${gw.url}/v2/models/m/infer`));
    await gw.stop();
    good.close();
    hole.close();
    const slow = results.filter((r) => r.ms > 500);
    const failed = results.filter((r) => r.status !== 200);
    return (
      `20 requests (timeout 3 s, attempt 1 s): ${failed.length} failed, ${slow.length} took > 0.5 s; ` +
      `ms per request: ${results.map((r) => Math.round(r.ms)).join(' ')}`
    );
  },

  /** 200 connections each send ~1 MiB of body and stall. Gateway RSS before and while they hold. */
  uploads: () => uploads({}),
  /** The same with the per-client limit off, so that only the body budget stands in the way. */
  'uploads-no-client-limit': () => uploads({ GATEWAY_CLIENT_MAX_CONCURRENCY: '0' }),


  /** A client sends half a header section and stops. When does the gateway give up on it? */
  'slow-headers': async () => {
    const up = await replica(echo);
    const gw = await gateway({ m: { upstream: up.url } });
    const started = performance.now();
    const socket = connect(Number(new URL(gw.url).port), '127.0.0.1');
    let answer = '';
    socket.on('data', (d: Buffer) => {
      answer += d.toString('latin1');
    });
    socket.on('error', () => {});
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const closed = await Promise.race([once(socket, 'close').then(() => true), sleep(40_000).then(() => false)]);
    const ms = performance.now() - started;
    socket.destroy();
    await gw.stop();
    up.close();
    const status = /^HTTP\/1\.1 (\d+)/.exec(answer)?.[1] ?? 'none';
    return closed ? `connection closed after ${(ms / 1000).toFixed(1)} s, answer ${status} ${answer.split('\r\n\r\n')[1] ?? ''}` : 'still open after 40 s (capped)';
  },

  /**
   * One replica that computes one request at a time (20 ms each) with a queue of 32, answering
   * 503 beyond it, like a model service. Client A (127.0.0.2) floods with 64 concurrent requests,
   * client B (127.0.0.3) sends 4 at a time, for 6 s. Who gets the capacity?
   */
  fairness: async () => {
    const queue: ServerResponse[] = [];
    let busy = false;
    const work = () => {
      if (busy || queue.length === 0) return;
      busy = true;
      const res = queue.shift() as ServerResponse;
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        busy = false;
        work();
      }, 20);
    };
    const up = await replica((req, res) => {
      req.resume();
      req.on('end', () => {
        if (queue.length >= 32) {
          res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' }).end('{"error":"queue full"}');
          return;
        }
        queue.push(res);
        work();
      });
    });
    const gw = await gateway({ m: { upstream: up.url } }, { GATEWAY_MAX_RETRIES: '0' });
    const counts = { A: new Map<number, number>(), B: new Map<number, number>() };
    const until = performance.now() + 6000;
    const client = (name: 'A' | 'B', localAddress: string) => async () => {
      while (performance.now() < until) {
        const r = await send(`${gw.url}/v2/models/m/infer`, { localAddress, timeoutMs: 10_000 });
        counts[name].set(r.status, (counts[name].get(r.status) ?? 0) + 1);
        if (r.status !== 200) await sleep(5);
      }
    };
    await Promise.all([
      ...Array.from({ length: 64 }, client('A', '127.0.0.2')),
      ...Array.from({ length: 4 }, client('B', '127.0.0.3')),
    ]);
    await gw.stop();
    up.close();
    const ok = (name: 'A' | 'B') => counts[name].get(200) ?? 0;
    const total = (name: 'A' | 'B') => [...counts[name].values()].reduce((a, b) => a + b, 0);
    const fmt = (name: 'A' | 'B') => `${name}: ${JSON.stringify(Object.fromEntries(counts[name]))} (${((100 * ok(name)) / Math.max(1, total(name))).toFixed(0)} % ok)`;
    const share = (100 * ok('B')) / Math.max(1, ok('A') + ok('B'));
    return `${fmt('A')}; ${fmt('B')}; B's share of the replica's answers ${share.toFixed(0)} %`;
  },

  /** 3,000 requests for a model with no ready replica (503s), 16 at a time: bytes the gateway logs. */
  'log-flood': async () => {
    const up = await replica(echo, { ready: () => false });
    const gw = await gateway({ m: { upstream: up.url } });
    const before = gw.logBytes();
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < 3000) {
          next++;
          await send(`${gw.url}/v2/models/m/infer`);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    await sleep(300);
    const bytes = gw.logBytes() - before;
    await gw.stop();
    up.close();
    return `3000 requests answered 503 in ${seconds.toFixed(1)} s; gateway wrote ${(bytes / 1024).toFixed(0)} KiB of logs (${(bytes / 3000).toFixed(0)} B per request)`;
  },
};

for (const [name, run] of Object.entries(scenarios)) {
  if (only.size > 0 && !only.has(name)) continue;
  console.log(`${name}: ${await run()}`);
}
