// End-to-end: the real images under docker compose (wasm backend), the gateway in front of four
// question-topic replicas, driven from localhost only. Run with `pnpm test:e2e` (or
// scripts/e2e.sh, which also tears the project down if this process is killed).
//
// Every wait and every load loop is bounded by a count and a deadline. The compose project has a
// unique name and is removed in `after()` and on SIGINT/SIGTERM, also when a step fails.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');
// The engine helper of these machines lives next to the repository (../shared from the root).
const ENGINE_UP = path.resolve(ROOT, '..', 'shared', 'tools', 'container-engine-up');
const PROJECT = process.env.MODELDOCK_E2E_PROJECT ?? `modeldock-e2e-${process.pid}-${randomBytes(3).toString('hex')}`;
const REPLICAS = 4;
const MODEL = 'question-topic';
const LABELS = ['ABBR', 'DESC', 'ENTY', 'HUM', 'LOC', 'NUM'];

const MINUTE = 60_000;
const BUILD_TIMEOUT_MS = 25 * MINUTE;
const READY_TIMEOUT_MS = 6 * MINUTE;
const REQUEST_TIMEOUT_MS = 30_000;

const QUESTIONS = [
  'What is your salary?',
  'Who wrote Hamlet?',
  'Where is the Eiffel Tower?',
  'What does NASA stand for?',
  'How many people live in Tokyo?',
  'Why is the sky blue?',
  'What is the capital of Australia?',
  'When did World War II end?',
];

/** @type {{ port: number, env: NodeJS.ProcessEnv, upStartedAt: number, failed: boolean, torn: boolean }} */
const state = { port: 0, env: { ...process.env }, upStartedAt: 0, failed: false, torn: false };

function log(message) {
  process.stdout.write(`[e2e] ${message}\n`);
}

/** Runs a command to completion; throws with its output when it fails or times out. */
function run(command, args, { timeoutMs, quiet = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: state.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk) => {
      output += chunk;
      if (output.length > 200_000) output = output.slice(-100_000);
      if (!quiet) process.stdout.write(chunk);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs ?? 2 * MINUTE);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`})\n${output.slice(-4000)}`));
    });
  });
}

function compose(args, options) {
  return run('docker', ['compose', '--file', COMPOSE_FILE, '--project-name', PROJECT, ...args], options);
}

/** Synchronous teardown: safe from signal handlers and `after()`; idempotent. */
function teardown() {
  if (state.torn) return;
  state.torn = true;
  log(`tearing down project ${PROJECT}`);
  spawnSync('docker', ['compose', '--file', COMPOSE_FILE, '--project-name', PROJECT, 'down', '--volumes', '--remove-orphans', '--timeout', '5'], {
    cwd: ROOT,
    env: state.env,
    stdio: 'inherit',
    timeout: 3 * MINUTE,
  });
}

// Last resort when the runner ends the process without running after() (spawnSync works in 'exit').
process.once('exit', () => {
  if (state.upStartedAt > 0) teardown();
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    teardown();
    process.exit(130);
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

function gatewayUrl(route) {
  return `http://127.0.0.1:${state.port}${route}`;
}

/**
 * An abort signal on a referenced timer. AbortSignal.timeout()'s timer is unref'd and fetch does not
 * always hold the event loop open (e.g. a connection the port proxy accepted before the gateway
 * listens), which lets node:test see an empty loop and cancel the suite mid-wait.
 */
function deadline(ms) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`timed out after ${ms} ms`)), ms);
  return { signal: controller.signal, done: () => clearTimeout(timer) };
}

/** One prediction through the gateway; never throws (a failure is a result to count). */
async function predict(texts) {
  const { signal, done } = deadline(REQUEST_TIMEOUT_MS);
  try {
    const res = await fetch(gatewayUrl('/predict_topic'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rawtext_list: texts }),
      signal,
    });
    const text = await res.text();
    return { status: res.status, servedBy: res.headers.get('x-served-by') ?? '?', text, at: Date.now() };
  } catch (err) {
    return { status: 0, servedBy: '-', text: String(err?.cause ?? err), at: Date.now() };
  } finally {
    done();
  }
}

async function getStatus(route) {
  const { signal, done } = deadline(3000);
  try {
    const res = await fetch(gatewayUrl(route), { signal });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  } finally {
    done();
  }
}

async function replicaIds() {
  const out = await compose(['ps', '--quiet', MODEL], { quiet: true });
  return out.split('\n').map((line) => line.trim()).filter(Boolean);
}

/** Container id -> {name, health, address "ip:8501"}. */
async function inspectReplicas() {
  const ids = await replicaIds();
  if (ids.length === 0) return [];
  const format = '{{.Id}}|{{.Name}}|{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}|{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}';
  const out = await run('docker', ['inspect', '--format', format, ...ids], { quiet: true });
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id, name, health, ips] = line.split('|');
      return { id, name: name.replace(/^\//, ''), health, address: `${(ips ?? '').trim().split(' ')[0]}:8501` };
    });
}

function tally(results) {
  const counts = {};
  for (const r of results) counts[r.servedBy] = (counts[r.servedBy] ?? 0) + 1;
  return counts;
}

function describeDistribution(counts, replicas) {
  const names = new Map(replicas.map((r) => [r.address, r.name]));
  return Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([addr, n]) => `    ${addr.padEnd(21)} ${String(n).padStart(4)}  ${names.get(addr) ?? ''}`)
    .join('\n');
}

function topLabel(probabilities) {
  return Object.entries(probabilities).sort(([, a], [, b]) => b - a)[0]?.[0];
}

/** Marks the suite failed (so the stack's logs get printed) and rethrows. */
async function step(fn) {
  try {
    await fn();
  } catch (err) {
    state.failed = true;
    throw err;
  }
}

describe('modeldock under docker compose (wasm, 4 question-topic replicas)', { timeout: 45 * MINUTE }, () => {
  before(async () => {
    await step(async () => {
      const versions = existsSync(path.join(ROOT, 'models', MODEL))
        ? readdirSync(path.join(ROOT, 'models', MODEL)).filter((v) => /^\d+$/.test(v))
        : [];
      assert.ok(versions.length > 0, `no trained model in models/${MODEL}/<version>/ (run \`pnpm train\` first)`);

      if (existsSync(ENGINE_UP)) {
        log(`starting the container engine: ${ENGINE_UP}`);
        await run(ENGINE_UP, [], { timeoutMs: 10 * MINUTE });
      } else {
        // Not one of the project machines: an engine the developer runs already is fine.
        const probe = spawnSync('docker', ['compose', 'version'], { stdio: 'ignore', timeout: 30_000 });
        assert.equal(probe.status, 0, `container engine helper not found at ${ENGINE_UP} and \`docker compose\` is unavailable`);
        log(`${ENGINE_UP} not found; using the running Docker engine`);
      }

      state.port = await freePort();
      state.env = {
        ...process.env,
        TFJS_BACKEND: 'wasm',
        GATEWAY_PORT: String(state.port),
        GATEWAY_BIND: '127.0.0.1',
        DOCKER_BUILDKIT: '1',
        COMPOSE_DOCKER_CLI_BUILD: '1',
      };
      log(`project ${PROJECT}, gateway on 127.0.0.1:${state.port}`);

      const buildStarted = Date.now();
      await compose(['build', 'gateway', MODEL], { timeoutMs: BUILD_TIMEOUT_MS, quiet: true });
      log(`images built in ${((Date.now() - buildStarted) / 1000).toFixed(1)} s`);

      state.upStartedAt = Date.now();
      await compose(['up', '--detach', '--no-build', '--scale', `${MODEL}=${REPLICAS}`, 'gateway', MODEL], {
        timeoutMs: 5 * MINUTE,
      });

      // Bounded wait: every replica healthy (its own /v2/health/ready) and the gateway ready.
      const deadline = state.upStartedAt + READY_TIMEOUT_MS;
      let replicas = [];
      let readyz = 0;
      let sawNotReady = false;
      for (let i = 0; Date.now() < deadline && i < 1000; i += 1) {
        [replicas, readyz] = await Promise.all([inspectReplicas(), getStatus('/readyz')]);
        if (readyz !== 0 && readyz !== 200) sawNotReady = true;
        const healthy = replicas.filter((r) => r.health === 'healthy').length;
        if (healthy === REPLICAS && readyz === 200) break;
        if (i % 5 === 0) log(`waiting: ${healthy}/${REPLICAS} replicas healthy, gateway /readyz ${readyz}`);
        await sleep(1000);
      }
      const healthy = replicas.filter((r) => r.health === 'healthy');
      assert.equal(healthy.length, REPLICAS, `replicas healthy after ${READY_TIMEOUT_MS / 1000} s: ${JSON.stringify(replicas)}`);
      assert.equal(readyz, 200, 'gateway /readyz');
      const seconds = ((Date.now() - state.upStartedAt) / 1000).toFixed(1);
      log(`time from \`up\` to all ${REPLICAS} replicas and the gateway ready: ${seconds} s`);
      log(`gateway answered /readyz non-200 while replicas were loading: ${sawNotReady}`);
    });
  });

  after(async () => {
    if (state.failed && state.upStartedAt > 0) {
      await compose(['ps', '--all'], { quiet: false }).catch(() => {});
      await compose(['logs', '--no-color', '--tail', '40'], { quiet: false }).catch(() => {});
    }
    teardown();
  });

  it('classifies the seed example "What is your salary?" as NUM through the gateway', async () => {
    await step(async () => {
      const r = await predict(['What is your salary?']);
      assert.equal(r.status, 200, r.text);
      const body = JSON.parse(r.text);
      assert.deepEqual(body.input, ['What is your salary?']);
      assert.equal(body.output.length, 1);
      assert.deepEqual(Object.keys(body.output[0]).sort(), LABELS);
      assert.equal(topLabel(body.output[0]), 'NUM', r.text);
      assert.match(r.servedBy, /^[\d.]+:8501$/);
      log(`seed example -> NUM (p=${body.output[0].NUM.toFixed(3)}), served by ${r.servedBy}`);
    });
  });

  it('spreads 200 requests over all 4 replicas with no failures', async () => {
    await step(async () => {
      const total = 200;
      const concurrency = 8;
      const results = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < total) {
            const i = next++;
            results.push(await predict([QUESTIONS[i % QUESTIONS.length]]));
          }
        }),
      );
      const counts = tally(results);
      const failures = results.filter((r) => r.status !== 200);
      log(`distribution of ${total} requests (x-served-by):\n${describeDistribution(counts, await inspectReplicas())}`);
      assert.equal(failures.length, 0, `failed: ${JSON.stringify(failures.slice(0, 5))}`);
      assert.equal(Object.keys(counts).length, REPLICAS, `replicas that answered: ${Object.keys(counts).join(', ')}`);
    });
  });

  it('loses no client request when a replica is killed under load', async () => {
    await step(async () => {
      const clients = 4;
      const durationMs = 15_000;
      const killAfterMs = 5_000;
      const maxPerClient = 5_000;
      const replicas = await inspectReplicas();
      const victim = replicas[1] ?? replicas[0];
      assert.ok(victim, 'a replica to kill');

      const results = [];
      const started = Date.now();
      let killedAt = 0;
      const load = Promise.all(
        Array.from({ length: clients }, async (_, c) => {
          for (let i = 0; i < maxPerClient && Date.now() - started < durationMs; i += 1) {
            const r = await predict([QUESTIONS[(c + i) % QUESTIONS.length]]);
            results.push(r);
          }
        }),
      );
      await sleep(killAfterMs);
      await run('docker', ['kill', '--signal', 'SIGKILL', victim.id], { quiet: true });
      killedAt = Date.now();
      log(`killed ${victim.name} (${victim.address}) at t=${((killedAt - started) / 1000).toFixed(1)} s`);
      await load;

      const failures = results.filter((r) => r.status !== 200);
      const afterKill = results.filter((r) => r.at > killedAt + 3000);
      log(
        `under load for ${((Date.now() - started) / 1000).toFixed(1)} s with ${clients} clients: ` +
          `${results.length} requests, ${results.length - failures.length} ok, ${failures.length} failed`,
      );
      log(`distribution:\n${describeDistribution(tally(results), replicas)}`);
      log(`distribution from 3 s after the kill:\n${describeDistribution(tally(afterKill), replicas)}`);
      assert.equal(failures.length, 0, `failed: ${JSON.stringify(failures.slice(0, 5))}`);
      assert.ok(results.length > clients * 10, `too few requests completed (${results.length})`);
    });
  });

  it('drains in-flight requests on `docker compose stop`', async () => {
    await step(async () => {
      // Wait until the killed replica's restart (if any) is settled, so every request targets a
      // replica that is ready; then send slow-ish batches and stop the service while they run.
      const deadline = Date.now() + 2 * MINUTE;
      let replicas = [];
      for (let i = 0; i < 120 && Date.now() < deadline; i += 1) {
        replicas = await inspectReplicas();
        if (replicas.length > 0 && replicas.every((r) => r.health === 'healthy' || r.health === 'none')) break;
        await sleep(1000);
      }
      // Several requests per replica, so some sit queued behind others when the stop arrives: each
      // replica computes in engine calls of 32 texts and reads its sockets between them, serves
      // what arrived during its drain, and exits only when all of it is answered.
      const inFlight = replicas.length * 3;
      const size = 64;
      const payload = Array.from({ length: size }, (_, i) => `${QUESTIONS[i % QUESTIONS.length]} (${i})`);
      const sentAt = Date.now();
      const pending = Array.from({ length: inFlight }, () => predict(payload));
      await sleep(500);
      const stopStarted = Date.now();
      const stopping = compose(['stop', '--timeout', '45', MODEL], { quiet: true });
      const results = await Promise.all(pending);
      const lastAnswerMs = Date.now() - sentAt;
      await stopping;
      const stopSeconds = ((Date.now() - stopStarted) / 1000).toFixed(1);
      const failures = results.filter((r) => r.status !== 200);
      const answeredAfterStop = results.filter((r) => r.at > stopStarted).length;
      log(
        `drain: ${inFlight} requests of ${size} questions sent, \`compose stop\` issued ${stopStarted - sentAt} ms later; ` +
          `${results.length - failures.length} answered 200, ${failures.length} failed, ${answeredAfterStop} answered after stop was issued; ` +
          `last answer ${lastAnswerMs} ms after sending; ` +
          `stop took ${stopSeconds} s`,
      );
      log(`distribution:\n${describeDistribution(tally(results), [])}`);
      assert.equal(failures.length, 0, `failed: ${JSON.stringify(failures.slice(0, 5))}`);
      assert.ok(answeredAfterStop > 0, 'no request was still in flight when stop was issued: the check proved nothing');
      for (const r of results) assert.equal(JSON.parse(r.text).output.length, size);

      // With every replica gone the gateway stays up but is no longer ready.
      let readyz = 200;
      for (let i = 0; i < 30 && readyz === 200; i += 1) {
        await sleep(500);
        readyz = await getStatus('/readyz');
      }
      assert.equal(readyz, 503, 'gateway /readyz once no replica is left');
      assert.equal(await getStatus('/healthz'), 200, 'gateway /healthz');
    });
  });
});
