// Reproduces the hardening findings against model replicas (question-topic and embedding-topic, wasm)
// and prints what each costs now. Loopback only, every loop bounded in count and time; the services
// are started here on free ports.
//
//   cd bench && node --import tsx src/repro-hardening.ts [--root <checkout>] [scenario ...]
//
// `--root` runs another checkout's built apps (to measure before and after a change). Scenarios:
// round1 (the first hardening round), deep-flood, wide-flood, queue-cause, paths, xff, tensors,
// surface (default: all).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { rawRequest } from '@modeldock/model-server/testing';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from './settings.js';

const SCENARIOS = ['round1', 'deep-flood', 'wide-flood', 'queue-cause', 'paths', 'xff', 'tensors', 'surface'] as const;
type Scenario = (typeof SCENARIOS)[number];

const args = process.argv.slice(2);
const rootAt = args.indexOf('--root');
const root = rootAt === -1 ? REPO_ROOT : path.resolve(args.splice(rootAt, 2)[1] ?? REPO_ROOT);
const unknown = args.filter((arg) => !(SCENARIOS as readonly string[]).includes(arg));
if (unknown.length > 0) {
  console.error(`repro-hardening: unknown scenario ${unknown.join(', ')} (known: ${SCENARIOS.join(', ')})`);
  process.exit(2);
}
const selected = new Set<Scenario>(args.length === 0 ? SCENARIOS : (args as Scenario[]));

/** The question-topic replica trusts only 127.0.0.1 as a proxy: the xff scenario's clients come from 127.0.0.2 and .3. */
const TRUSTED_PROXY = '127.0.0.1/32';
const MAX_BODY_BYTES = 1024 * 1024;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function rssMiB(pid: number): number {
  const out = spawnSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).stdout;
  return Math.round(Number(out.trim()) / 1024);
}

interface Answer {
  status: number;
  bytes: number;
  ms: number;
  text: string;
  headers: Headers;
}

async function post(base: string, route: string, body: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${base}${route}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers }, signal });
  const text = await res.text();
  return { status: res.status, bytes: text.length, ms: Math.round(performance.now() - started), text, headers: res.headers };
}

/** A POST over node:http from a chosen loopback source address (fetch cannot pick one). */
function postFrom(localAddress: string, base: string, route: string, body: string, headers: Record<string, string>, timeoutMs: number) {
  const started = performance.now();
  return new Promise<{ status: number; ms: number }>((resolve) => {
    const req = httpRequest(`${base}${route}`, { method: 'POST', localAddress, headers: { 'content-type': 'application/json', ...headers }, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, ms: performance.now() - started }));
    req.end(body);
  });
}

const infer = (texts: string[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [texts.length], data: texts }], ...extra });

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number);
};

interface Service {
  base: string;
  port: number;
  child: ChildProcess;
  logBytes: () => number;
}

async function startService(entry: string, env: Record<string, string>, prefix: string): Promise<Service> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(root, entry)], {
    env: { ...process.env, ...env, [`${prefix}PORT`]: String(port), [`${prefix}HOST`]: '127.0.0.1', [`${prefix}BACKEND`]: 'wasm' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let logBytes = 0;
  child.stdout?.on('data', (chunk: Buffer) => {
    logBytes += chunk.length;
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 900; i += 1) {
    const ok = await fetch(`${base}/v2/health/ready`).then((r) => r.ok, () => false);
    if (ok) return { base, port, child, logBytes: () => logBytes };
    if (child.exitCode !== null) break;
    await sleep(200);
  }
  child.kill('SIGKILL');
  throw new Error(`${entry} did not become ready`);
}

/** The in-process event-loop delay (perf_hooks monitorEventLoopDelay via prom-client) since the previous scrape, in ms. */
async function eventLoopDelay(base: string): Promise<{ p50: number; p99: number; max: number }> {
  const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(30_000) })).text();
  const value = (name: string) => Math.round(Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) * 1000);
  return { p50: value('nodejs_eventloop_lag_p50_seconds'), p99: value('nodejs_eventloop_lag_p99_seconds'), max: value('nodejs_eventloop_lag_max_seconds') };
}

const rows: [string, string][] = [];
function note(finding: string, result: string): void {
  rows.push([finding, result]);
  console.log(`${finding}: ${result}`);
}

/** The first hardening round's reproductions. */
async function round1(qt: Service): Promise<void> {
  const { base } = qt;
  const outputs = Array.from({ length: 8000 }, () => ({ name: 'probabilities' }));
  const repeated = await post(base, '/v2/models/question-topic/infer', infer(['Who?'], { outputs }));
  note('OIP outputs x8000 (206 KB request)', `${repeated.status} in ${repeated.ms} ms, ${repeated.bytes} B answer, RSS ${rssMiB(qt.child.pid ?? 0)} MiB`);

  const grown = await post(base, '/v2/models/question-topic/infer', infer(Array<string>(8).fill('\uFDFA'.repeat(2000))));
  note('8 texts of 2,000 x U+FDFA (NFKC x18)', `${grown.status} in ${grown.ms} ms: ${grown.text.slice(0, 120)}`);

  const documentedMax = await post(base, '/v2/models/question-topic/infer', infer(Array.from({ length: 256 }, (_, i) => `${'word '.repeat(399)}w${i}`)));
  note('256 texts x 2,000 characters', `${documentedMax.status} in ${documentedMax.ms} ms: ${documentedMax.text.slice(0, 140)}`);

  const largest = await post(base, '/v2/models/question-topic/infer', infer(Array.from({ length: 32 }, (_, i) => `${'word '.repeat(180)}w${i}`)));
  note('largest admitted: 32 texts of 128+ pieces (4,096 positions)', `${largest.status} in ${largest.ms} ms (gateway deadline 30,000 ms)`);

  const big = infer(Array.from({ length: 256 }, (_, i) => `How many people lived in city number ${i} in the year 1900?`));
  const abandonedAt = performance.now();
  await Promise.all(
    Array.from({ length: 20 }, async (_, i) => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 150);
      // Twenty clients, so each is within its share of the queue (one client would get 429s).
      await post(base, '/v2/models/question-topic/infer', big, { 'x-forwarded-for': `198.18.0.${i}` }, controller.signal).catch(() => undefined);
    }),
  );
  const after = await post(base, '/v2/models/question-topic/infer', infer(['What is your salary?']));
  const metrics = await (await fetch(`${base}/metrics`)).text();
  const dropped = /modeldock_dropped_rows_total\{[^}]*reason="cancelled"[^}]*\} (\d+)/.exec(metrics)?.[1] ?? '0';
  note(
    '20 x 256 texts abandoned after 150 ms',
    `a new request answered ${after.status} ${Math.round(performance.now() - abandonedAt)} ms after they were sent; ${dropped} queued texts dropped unstarted`,
  );

  const statuses: number[] = [];
  for (const route of ['/models/%ff/x', '/v2/models/%ff', '/v2/models/%ff/infer', '/v1/models/%ff:predict']) {
    statuses.push((await fetch(`${base}${route}`)).status);
  }
  const deep = `{"inputs":[{"name":"text","shape":[1],"datatype":${'['.repeat(50_000)}1${']'.repeat(50_000)},"data":["a"]}]}`;
  statuses.push((await post(base, '/v2/models/question-topic/infer', deep)).status);
  note('malformed percent-encoding (4 paths), 50,000-deep JSON in datatype', statuses.join(', '));

  const flood = { ok: 0, limited: 0, other: 0 };
  const fair = { ok: 0, other: 0 };
  const until = performance.now() + 6000;
  const text = infer(Array<string>(8).fill('Where is the Eiffel Tower?'));
  await Promise.all([
    ...Array.from({ length: 64 }, async () => {
      while (performance.now() < until) {
        const res = await post(base, '/v2/models/question-topic/infer', text, { 'x-forwarded-for': '198.51.100.1' });
        if (res.status === 200) flood.ok += 1;
        else if (res.status === 429) flood.limited += 1;
        else flood.other += 1;
      }
    }),
    ...Array.from({ length: 4 }, async () => {
      while (performance.now() < until) {
        const res = await post(base, '/v2/models/question-topic/infer', infer(['Who wrote Hamlet?']), { 'x-forwarded-for': '198.51.100.2' });
        if (res.status === 200) fair.ok += 1;
        else fair.other += 1;
      }
    }),
  ]);
  note(
    'one client floods (64 connections x 8 texts) beside another (4 x 1 text), 6 s',
    `flood: ${flood.ok} ok, ${flood.limited} x 429, ${flood.other} other; other client: ${fair.ok} ok, ${fair.other} failed`,
  );

  const before = qt.logBytes();
  let shed = 0;
  const floodUntil = performance.now() + 5000;
  await Promise.all(
    Array.from({ length: 128 }, async (_, i) => {
      while (performance.now() < floodUntil) {
        const res = await post(base, '/v2/models/question-topic/infer', infer(Array<string>(32).fill('q')), { 'x-forwarded-for': `203.0.113.${i}` });
        if (res.status === 503 || res.status === 429) shed += 1;
      }
    }),
  );
  await sleep(200);
  note('5 s flood from 128 clients', `${shed} shed (503/429), ${Math.round((qt.logBytes() - before) / 1024)} KiB of logs`);
}

/**
 * Finding 2: one client keeps 16 bodies of `body` (1 MiB) in flight for 20 s while another client
 * sends one question at a time and a prober checks readiness every 500 ms, both with the 5 s probe
 * timeout of compose and Kubernetes.
 */
async function flood(qt: Service, label: string, body: string): Promise<void> {
  const { base } = qt;
  const durationMs = 20_000;
  await eventLoopDelay(base); // resets the server's histogram
  const rssBefore = rssMiB(qt.child.pid ?? 0);
  let rssPeak = rssBefore;
  const until = performance.now() + durationMs;
  const attacker = new Map<number, number>();
  const victim = { ok: 0, total: 0 };
  const probes: number[] = [];
  let probeFailures = 0;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, rssMiB(qt.child.pid ?? 0));
  }, 250);
  await Promise.all([
    ...Array.from({ length: 16 }, async () => {
      while (performance.now() < until) {
        const res = await post(base, '/v2/models/question-topic/infer', body, {}, AbortSignal.timeout(30_000)).catch(() => undefined);
        attacker.set(res?.status ?? 0, (attacker.get(res?.status ?? 0) ?? 0) + 1);
      }
    }),
    (async () => {
      await sleep(500);
      while (performance.now() < until) {
        victim.total += 1;
        const res = await post(base, '/v2/models/question-topic/infer', infer(['Who wrote Hamlet?']), { 'x-forwarded-for': '198.51.100.9' }, AbortSignal.timeout(5000)).catch(
          () => undefined,
        );
        if (res?.status === 200) victim.ok += 1;
      }
    })(),
    (async () => {
      while (performance.now() < until) {
        const started = performance.now();
        const ok = await fetch(`${base}/v2/health/ready`, { signal: AbortSignal.timeout(5000) }).then((r) => r.ok, () => false);
        probes.push(performance.now() - started);
        if (!ok) probeFailures += 1;
        await sleep(500);
      }
    })(),
  ]);
  clearInterval(sampler);
  const delay = await eventLoopDelay(base);
  note(
    `${label}: 16 x 1 MiB in flight for 20 s`,
    `other client ${victim.ok}/${victim.total} answered 200 (5 s timeout); readiness ${probes.length - probeFailures}/${probes.length} ok, p50 ${Math.round(percentile(probes, 50))} ms, max ${Math.round(Math.max(...probes))} ms; ` +
      `event-loop delay p50 ${delay.p50} ms, p99 ${delay.p99} ms, max ${delay.max} ms; RSS ${rssBefore} → ${rssPeak} MiB peak; ` +
      `attacker ${[...attacker].map(([status, n]) => `${n} x ${status}`).join(', ')}`,
  );
}

/** Finding 5: one client's maximal requests wait behind each other past their deadline. */
async function queueCause(qt: Service): Promise<void> {
  const maximal = infer(Array.from({ length: 32 }, (_, i) => `${'word '.repeat(180)}w${i}`));
  const answers = await Promise.all(
    Array.from({ length: 8 }, () =>
      post(qt.base, '/v2/models/question-topic/infer', maximal, { 'x-modeldock-deadline-ms': '4000', 'x-forwarded-for': '198.51.100.5' }),
    ),
  );
  const describe = (answer: Answer) =>
    `${answer.status}${answer.headers.get('x-modeldock-timeout-cause') === null ? '' : `(cause ${answer.headers.get('x-modeldock-timeout-cause')})`}` +
    `${answer.headers.get('x-modeldock-queue-ms') === null ? '' : `[queue ${answer.headers.get('x-modeldock-queue-ms')} ms]`}`;
  note('8 maximal requests from one client, deadline 4 s', answers.map(describe).join(' '));
}

/** Finding 6: paths a normalising hop would resolve differently. */
async function paths(qt: Service): Promise<void> {
  const routes = [
    '/v2/models/question-topic/versions/1\\..\\..\\..\\..\\metrics',
    '/v2/models/question-topic/versions/1/../../../../metrics',
    '/v2/models/question-topic%2fversions%2f1/ready',
    '/v2/models/question-topic/versions/1%5c..%5cready',
    '/v2/models/question-topic/./ready',
    '/v2/models/question-topic/%2e%2e/question-topic/ready',
    '/v2/models/question-topic/ready#fragment',
  ];
  const answers: string[] = [];
  for (const route of routes) {
    const raw = await rawRequest(qt.port, `GET ${route} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    answers.push(`${route} → ${raw.split(' ')[1] ?? 'none'}`);
  }
  note('backslashes, encoded separators, dot segments, fragments', answers.join('; '));
}

/**
 * Finding 7: a direct client (an untrusted peer, 127.0.0.2) rotates X-Forwarded-For with 16
 * concurrent 256-row requests for 10 s while another client (127.0.0.3) asks one question at a time.
 */
async function xff(qt: Service): Promise<void> {
  const rowsBody = infer(Array.from({ length: 256 }, (_, i) => `How many people lived in city number ${i}?`));
  const until = performance.now() + 10_000;
  const attacker = new Map<number, number>();
  const victim: number[] = [];
  let rotation = 0;
  await Promise.all([
    ...Array.from({ length: 16 }, async () => {
      while (performance.now() < until) {
        rotation += 1;
        const res = await postFrom('127.0.0.2', qt.base, '/v2/models/question-topic/infer', rowsBody, { 'x-forwarded-for': `10.${rotation % 250}.0.1` }, 30_000);
        attacker.set(res.status, (attacker.get(res.status) ?? 0) + 1);
      }
    }),
    (async () => {
      while (performance.now() < until) {
        const res = await postFrom('127.0.0.3', qt.base, '/v2/models/question-topic/infer', infer(['Who wrote Hamlet?']), {}, 30_000);
        if (res.status === 200) victim.push(res.ms);
      }
    })(),
  ]);
  note(
    'direct client rotating X-Forwarded-For (16 x 256 rows, 10 s)',
    `attacker ${[...attacker].map(([status, n]) => `${n} x ${status}`).join(', ')}; other client p50 ${Math.round(percentile(victim, 50))} ms over ${victim.length} answers`,
  );
}

/** Finding 8: FP32 range, 1e999, ragged rows, against embedding-topic (FP32 [n, 512]). */
async function tensors(et: Service): Promise<void> {
  const row = (value: number) => Array.from({ length: 512 }, () => value);
  const cases: [string, string][] = [
    ['FP32 +4e38 / -4e38', JSON.stringify({ inputs: [{ name: 'embedding', datatype: 'FP32', shape: [2, 512], data: [row(4e38), row(-4e38)] }] })],
    ['1e999', `{"inputs":[{"name":"embedding","datatype":"FP32","shape":[1,512],"data":[1e999${',0'.repeat(511)}]}]}`],
    ['ragged 500 + 524 for [2, 512]', JSON.stringify({ inputs: [{ name: 'embedding', datatype: 'FP32', shape: [2, 512], data: [row(0.1).slice(0, 500), [...row(0.1), ...row(0.1).slice(0, 12)]] }] })],
    ['TF Serving ragged instances', JSON.stringify({ instances: [row(0.1).slice(0, 500), [...row(0.1), ...row(0.1).slice(0, 12)]] })],
  ];
  const answers: string[] = [];
  for (const [what, body] of cases) {
    const route = what.startsWith('TF') ? '/v1/models/embedding-topic:predict' : '/v2/models/embedding-topic/infer';
    const res = await post(et.base, route, body);
    answers.push(`${what} → ${res.status} ${res.text.slice(0, 110)}`);
  }
  note('tensor validation (embedding-topic)', answers.join('; '));
}

/** Finding 9: echoed input, 405s, Node's own answers, version forms, signature_name. */
async function surface(qt: Service): Promise<void> {
  const longName = 'm'.repeat(200_000);
  const echoed = await post(qt.base, `/v2/models/question-topic/infer`, JSON.stringify({ inputs: [{ name: longName, datatype: 'BYTES', shape: [1], data: ['a'] }] }));
  const longPath = await fetch(`${qt.base}/v2/models/${'m'.repeat(8000)}`);
  const getEmbeddings = await fetch(`${qt.base}/v1/embeddings`);
  const noHost = await rawRequest(qt.port, 'GET /v2/health/live HTTP/1.1\r\nConnection: close\r\n\r\n');
  const badExpect = await rawRequest(qt.port, 'POST /v2/models/question-topic/infer HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}');
  const isJson = (raw: string) => /content-type: application\/json/i.test(raw);
  const oipVersion = await fetch(`${qt.base}/v2/models/question-topic/versions/%31/ready`);
  const tfsVersion = await fetch(`${qt.base}/v1/models/question-topic/versions/%31`);
  const signature = await post(qt.base, '/v1/models/question-topic:predict', JSON.stringify({ signature_name: 'nope', instances: ['Who?'] }));
  note(
    'surface',
    `200 KB input name → ${echoed.status}, ${echoed.bytes} B body; 8 KB model name in path → ${longPath.status}, ${(await longPath.text()).length} B body; ` +
      `GET /v1/embeddings → ${getEmbeddings.status}; no Host → ${noHost.split(' ')[1]} json=${isJson(noHost)}; Expect: 200-ok → ${badExpect.split(' ')[1]} json=${isJson(badExpect)}; ` +
      `OIP versions/%31 → ${oipVersion.status}, TF Serving versions/%31 → ${tfsVersion.status}; signature_name 'nope' → ${signature.status}`,
  );
}

async function main(): Promise<void> {
  const services: Service[] = [];
  try {
    const qt = await startService('apps/question-topic/dist/main.js', { QT_TRUSTED_PROXIES: TRUSTED_PROXY, QT_LOG_LEVEL: 'warn' }, 'QT_');
    services.push(qt);
    console.log(`question-topic (${root}) ready on ${qt.base}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    if (selected.has('round1')) await round1(qt);
    if (selected.has('paths')) await paths(qt);
    if (selected.has('surface')) await surface(qt);
    if (selected.has('queue-cause')) await queueCause(qt);
    if (selected.has('xff')) await xff(qt);
    if (selected.has('deep-flood')) await flood(qt, 'deep JSON ([ x 1 MiB)', '['.repeat(MAX_BODY_BYTES));
    if (selected.has('wide-flood')) {
      // 1 MiB of valid JSON: ~210,000 one-character texts (refused by the row limit once parsed).
      const texts = Array<string>(Math.floor((MAX_BODY_BYTES - 200) / 5)).fill('a');
      await flood(qt, 'wide JSON (210k strings)', infer(texts));
    }
    if (selected.has('tensors')) {
      const et = await startService(
        'apps/model-server/dist/main.js',
        { MODEL_DIR: path.join(root, 'models/embedding-topic'), MODEL_LOG_LEVEL: 'warn' },
        'MODEL_',
      );
      services.push(et);
      await tensors(et);
    }
    console.log(`\nload average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n\n| finding | now |\n|---|---|`);
    for (const [finding, result] of rows) console.log(`| ${finding} | ${result} |`);
  } finally {
    for (const service of services) service.child.kill('SIGTERM');
  }
}

await main();
