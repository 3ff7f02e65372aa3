// Reproductions of the gateway findings of the hardening issue, as measurements rather than tests.
// Starts a built gateway (dist/main.js, or the one given) as a child process in front of fake
// replicas on 127.0.0.1, and prints one line of numbers per scenario. Every loop is bounded.
//
//   node --import tsx apps/gateway/bench/hardening.ts [path/to/gateway/main.js] [scenario ...]
//
// Scenarios: stalled-body, black-hole, uploads, slow-headers, fairness, log-flood, and the second
// round's json-flood, declared-length, connection-flood, client-timeouts, client-timeouts-silent
// (default: all). Those five report, while one client attacks: another client's share of 200s, the
// gateway's /healthz p50/max, the gateway's event-loop delay (perf_hooks monitorEventLoopDelay,
// 1 ms resolution, in the gateway process through --import) and its RSS.
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

/**
 * Loaded into the gateway with --import (the same for any build, so before and after are measured
 * alike): records the event loop's delay at 1 ms resolution and, on SIGUSR2, prints p50/p99/max in
 * ms on stderr and starts over.
 */
const LOOP_DELAY_PROBE = `data:text/javascript,${encodeURIComponent(`
import { monitorEventLoopDelay } from 'node:perf_hooks';
const histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();
const ms = (ns) => Math.round(ns / 1e4) / 100;
process.on('SIGUSR2', () => {
  process.stderr.write('loop-delay ' + JSON.stringify({ p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) }) + '\\n');
  histogram.reset();
});
`)}`;

interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

/** Starts the gateway with `env`; resolves once it answers /healthz. */
async function gateway(models: Record<string, { upstream: string; attemptTimeoutMs?: number }>, env: Record<string, string> = {}) {
  const port = await freePort();
  const adminPort = await freePort();
  const child = spawn(process.execPath, ['--import', LOOP_DELAY_PROBE, mainJs], {
    env: {
      PATH: process.env.PATH ?? '',
      GATEWAY_PORT: String(port),
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_ADMIN_PORT: String(adminPort),
      GATEWAY_MODELS: JSON.stringify(models),
      GATEWAY_HEALTH_INTERVAL_MS: '200',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logBytes = 0;
  const logLines: string[] = [];
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    logBytes += chunk.length;
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    // Only the lines a scenario looks for; a flood of access lines is counted, not kept.
    for (const line of lines) if (line.includes('"replica ejected"')) logLines.push(line);
  });
  const delays: ((delay: LoopDelay) => void)[] = [];
  child.stderr.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.startsWith('loop-delay ')) delays.shift()?.(JSON.parse(line.slice(11)) as LoopDelay);
      else if (line !== '') process.stderr.write(`${line}\n`);
    }
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
    adminUrl: `http://127.0.0.1:${adminPort}`,
    pid: child.pid,
    logBytes: () => logBytes,
    /** Log lines of ejections (JSON). */
    ejections: () => logLines.map((line) => JSON.parse(line) as { holdMs?: number; reason?: string; endpoint?: string }),
    /** The event-loop delay since the last call (the first call only starts the window). */
    loopDelay: (): Promise<LoopDelay> =>
      new Promise((resolve) => {
        delays.push(resolve);
        child.kill('SIGUSR2');
      }),
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
  {
    method = 'POST',
    body = '{}',
    timeoutMs = 60_000,
    localAddress,
    headers = {},
  }: { method?: string; body?: string; timeoutMs?: number; localAddress?: string; headers?: Record<string, string> } = {},
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
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
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


const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number);
};

type Gateway = Awaited<ReturnType<typeof gateway>>;

/**
 * Runs `attack` for `seconds` while a victim client (127.0.0.9, `victimConcurrency` loops of
 * `victim()`) works and /healthz is probed every 100 ms (5 s timeout, as compose and Kubernetes
 * probe); returns the numbers every second-round scenario reports.
 */
async function underAttack(
  gw: Gateway,
  seconds: number,
  attack: (until: number) => Promise<unknown>,
  victim: () => Promise<Sent>,
  victimConcurrency = 4,
): Promise<string> {
  await gw.loopDelay();
  const rssBefore = gw.rssMiB();
  let rssPeak = rssBefore;
  const until = performance.now() + seconds * 1000;
  const victimAnswers: Sent[] = [];
  const health: number[] = [];
  let healthFailures = 0;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, gw.rssMiB());
  }, 250);
  await Promise.all([
    attack(until),
    ...Array.from({ length: victimConcurrency }, async () => {
      while (performance.now() < until) {
        const r = await victim();
        victimAnswers.push(r);
        if (r.status !== 200) await sleep(20);
      }
    }),
    (async () => {
      while (performance.now() < until) {
        const r = await send(`${gw.url}/healthz`, { method: 'GET', body: '', timeoutMs: 5000 });
        if (r.status === 200) health.push(r.ms);
        else healthFailures++;
        await sleep(100);
      }
    })(),
  ]);
  clearInterval(sampler);
  const delay = await gw.loopDelay();
  const ok = victimAnswers.filter((r) => r.status === 200);
  const statuses = new Map<string, number>();
  for (const r of victimAnswers) statuses.set(String(r.error ?? r.status), (statuses.get(String(r.error ?? r.status)) ?? 0) + 1);
  return (
    `victim 200 ${ok.length}/${victimAnswers.length} (${((100 * ok.length) / Math.max(1, victimAnswers.length)).toFixed(0)} %, ` +
    `${JSON.stringify(Object.fromEntries(statuses))}, p50 ${percentile(ok.map((r) => r.ms), 50).toFixed(0)} ms); ` +
    `/healthz p50 ${percentile(health, 50).toFixed(1)} ms, max ${Math.max(0, ...health).toFixed(0)} ms, ${healthFailures} failed; ` +
    `event-loop delay p50 ${delay.p50} / p99 ${delay.p99} / max ${delay.max} ms; RSS ${rssBefore.toFixed(0)} → peak ${rssPeak.toFixed(0)} MiB`
  );
}

/** Opens a connection from `localAddress` and writes `text`; never throws. */
function openSocket(port: number, localAddress: string, text: string): Socket {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => {});
  socket.write(text);
  return socket;
}

/**
 * A replica like a model service: one request at a time, queued fairly between clients (the last
 * `x-forwarded-for` entry, which the gateway appends). A request costs `costMs(req)`. With
 * `honoursDeadline`, a request whose `x-modeldock-deadline-ms` passes while it waits is answered 504
 * with `x-modeldock-timeout-cause: queue` (the model server's side of the contract).
 */
async function fairReplica(costMs: (body: string) => number, honoursDeadline: boolean) {
  type Job = { res: ServerResponse; cost: number; deadlineAt: number };
  const queues = new Map<string, Job[]>();
  let busy = false;
  const next = () => {
    if (busy) return;
    for (const [client, jobs] of queues) {
      const job = jobs.shift();
      if (jobs.length === 0) queues.delete(client);
      else {
        // Round robin: this client goes to the back.
        queues.delete(client);
        queues.set(client, jobs);
      }
      if (job === undefined) continue;
      if (job.res.destroyed) return next();
      if (honoursDeadline && performance.now() > job.deadlineAt) {
        job.res.writeHead(504, { 'content-type': 'application/json', 'x-modeldock-timeout-cause': 'queue' }).end('{"error":"deadline passed in the queue"}');
        return next();
      }
      busy = true;
      setTimeout(() => {
        if (!job.res.destroyed) job.res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        busy = false;
        next();
      }, job.cost);
      return;
    }
  };
  return replica((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const client = String(req.headers['x-forwarded-for'] ?? '').split(',').pop()?.trim() ?? '';
      const deadline = Number(req.headers['x-modeldock-deadline-ms'] ?? 60_000);
      const jobs = queues.get(client) ?? [];
      jobs.push({ res, cost: costMs(Buffer.concat(chunks).toString('utf8')), deadlineAt: performance.now() + deadline });
      queues.set(client, jobs);
      next();
    });
  });
}

/** Finding 5: a client's own slow requests time out in a healthy replica's fair queue. */
async function clientTimeouts(honoursDeadline: boolean): Promise<string> {
  const heavy = (body: string) => (body.includes('heavy') ? 600 : 20);
  const [first, second] = await Promise.all([fairReplica(heavy, honoursDeadline), fairReplica(heavy, honoursDeadline)]);
  const gw = await gateway(
    { m: { upstream: `${first.url},${second.url}` } },
    { GATEWAY_ATTEMPT_TIMEOUT_MS: '2000', GATEWAY_TIMEOUT_MS: '6000', GATEWAY_HEALTH_TIMEOUT_MS: '1000', GATEWAY_HEALTH_INTERVAL_MS: '500' },
  );
  // How long a replica is out of rotation, from the admin listing every 100 ms.
  let outMs = 0;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const listing = await fetch(`${gw.adminUrl}/models`).then((r) => r.json() as Promise<{ models: { endpoints: { healthy: boolean }[] }[] }>);
      outMs += 100 * (listing.models[0]?.endpoints.filter((e) => !e.healthy).length ?? 0);
      await sleep(100);
    }
  })();
  const attacker: Sent[] = [];
  const line = await underAttack(
    gw,
    12,
    async (until) => {
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (performance.now() < until) attacker.push(await send(`${gw.url}/v2/models/m/infer`, { body: '{"heavy":true}', localAddress: '127.0.0.2', timeoutMs: 10_000 }));
        }),
      );
    },
    () => send(`${gw.url}/v2/models/m/infer`, { localAddress: '127.0.0.9', timeoutMs: 10_000 }),
    2,
  );
  polling = false;
  await poller;
  const ejections = gw.ejections();
  await gw.stop();
  first.close();
  second.close();
  const attackerStatuses = new Map<number, number>();
  for (const r of attacker) attackerStatuses.set(r.status, (attackerStatuses.get(r.status) ?? 0) + 1);
  return (
    `${line}; ejections logged ${ejections.length} (holdMs ${ejections.map((e) => e.holdMs).join(', ') || '-'}), ` +
    `replica time out of rotation ${(outMs / 1000).toFixed(1)} s; attacker ${JSON.stringify(Object.fromEntries(attackerStatuses))}`
  );
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
  /**
   * Finding 1: one client (127.0.0.2), within its 16 requests in flight, POSTs 1 MiB of nested `[`
   * to /v1/embeddings again and again for 10 s; another client sends small valid embeddings requests.
   */
  'json-flood': async () => {
    const up = await replica(echo);
    const gw = await gateway({ m: { upstream: up.url } });
    const flood = '['.repeat(1024 * 1024 - 1);
    const line = await underAttack(
      gw,
      10,
      (until) =>
        Promise.all(
          Array.from({ length: 16 }, async () => {
            while (performance.now() < until) await send(`${gw.url}/v1/embeddings`, { body: flood, localAddress: '127.0.0.2', timeoutMs: 30_000 });
          }),
        ),
      () => send(`${gw.url}/v1/embeddings`, { body: '{"model":"m","input":"How old are you?"}', localAddress: '127.0.0.9', timeoutMs: 30_000 }),
    );
    await gw.stop();
    up.close();
    return line;
  },

  /**
   * Finding 3: 64 connections from 4 addresses send only headers declaring 1 MiB bodies and hold
   * them for 10 s (about 6 KB sent in all); another client POSTs small bodies.
   */
  'declared-length': async () => {
    const up = await replica(echo);
    const gw = await gateway({ m: { upstream: up.url } });
    const port = Number(new URL(gw.url).port);
    const sockets: Socket[] = [];
    const line = await underAttack(
      gw,
      10,
      async () => {
        for (let i = 0; i < 64; i++) {
          sockets.push(
            openSocket(
              port,
              `127.0.0.${2 + (i % 4)}`,
              'POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n',
            ),
          );
        }
        await sleep(10);
      },
      () => send(`${gw.url}/v2/models/m/infer`, { body: '{"inputs":[]}', localAddress: '127.0.0.9', timeoutMs: 30_000 }),
    );
    for (const socket of sockets) socket.destroy();
    await gw.stop();
    up.close();
    return line;
  },

  /**
   * Finding 4: one address keeps 1,100 slow-header connections open (the global cap is 1,024),
   * re-opening each as the gateway closes it; another client sends requests on fresh connections.
   */
  'connection-flood': async () => {
    const up = await replica(echo);
    const gw = await gateway({ m: { upstream: up.url } }, { GATEWAY_HEADERS_TIMEOUT_MS: '2000' });
    const port = Number(new URL(gw.url).port);
    const open = new Set<Socket>();
    let opened = 0;
    const line = await underAttack(
      gw,
      10,
      async (until) => {
        const keep = () => {
          if (performance.now() >= until) return;
          const socket = openSocket(port, '127.0.0.2', 'GET /healthz HTTP/1.1\r\nHost: x\r\n');
          opened++;
          open.add(socket);
          socket.once('close', () => {
            open.delete(socket);
            // Re-opened at once, as an attacker would; bounded by the scenario's end.
            setTimeout(keep, 5);
          });
        };
        for (let i = 0; i < 1100; i++) keep();
        while (performance.now() < until) await sleep(100);
      },
      () => send(`${gw.url}/v2/models/m/infer`, { localAddress: '127.0.0.9', timeoutMs: 30_000 }),
    );
    for (const socket of open) socket.destroy();
    await gw.stop();
    up.close();
    return `${line}; attacker opened ${opened} connections`;
  },

  /**
   * Finding 5: two fair-queue replicas; one client (16 in flight) sends requests costing 600 ms each,
   * whose waits pass the 2 s attempt timeout; another client sends 20 ms requests. The replicas
   * answer 504 + x-modeldock-timeout-cause: queue when a deadline passes in their queue.
   */
  'client-timeouts': () => clientTimeouts(true),
  /** The same with replicas that stay silent past the deadline (an older model server). */
  'client-timeouts-silent': () => clientTimeouts(false),
};

for (const [name, run] of Object.entries(scenarios)) {
  if (only.size > 0 && !only.has(name)) continue;
  console.log(`${name}: ${await run()}`);
}
