// Reproduces the hardening findings against one model replica (question-topic, wasm) and prints
// what each costs now: `cd bench && node --import tsx src/repro-hardening.ts`. Loopback only,
// every loop bounded in count and time. The service is started here on a free port.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from './settings.js';

const MAIN = path.join(REPO_ROOT, 'apps/question-topic/dist/main.js');

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

async function post(base: string, route: string, body: string, headers: Record<string, string> = {}, signal?: AbortSignal) {
  const started = performance.now();
  const res = await fetch(`${base}${route}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers }, signal });
  const text = await res.text();
  return { status: res.status, bytes: text.length, ms: Math.round(performance.now() - started), text };
}

const infer = (texts: string[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [texts.length], data: texts }], ...extra });

async function main(): Promise<void> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, QT_PORT: String(port), QT_HOST: '127.0.0.1', QT_BACKEND: 'wasm' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let logBytes = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    logBytes += chunk.length;
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; i < 600; i += 1) {
      const ok = await fetch(`${base}/v2/health/ready`).then((r) => r.ok, () => false);
      if (ok) break;
      await sleep(200);
    }
    const rows: [string, string][] = [];
    const note = (finding: string, result: string) => {
      rows.push([finding, result]);
      console.log(`${finding}: ${result}`);
    };

    const outputs = Array.from({ length: 8000 }, () => ({ name: 'probabilities' }));
    const repeated = await post(base, '/v2/models/question-topic/infer', infer(['Who?'], { outputs }));
    note('OIP outputs x8000 (206 KB request)', `${repeated.status} in ${repeated.ms} ms, ${repeated.bytes} B answer, RSS ${rssMiB(child.pid ?? 0)} MiB`);

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

    const before = logBytes;
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
    note('5 s flood from 128 clients', `${shed} shed (503/429), ${Math.round((logBytes - before) / 1024)} KiB of logs`);

    console.log('\n| finding | now |\n|---|---|');
    for (const [finding, result] of rows) console.log(`| ${finding} | ${result} |`);
  } finally {
    child.kill('SIGTERM');
  }
}

await main();
