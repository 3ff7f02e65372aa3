// A `pnpm start` stack on free ports, for tests: the documentation examples and the real-client tests run
// against one, beside whatever else this machine runs (a `pnpm start` on the documented ports, another
// checkout's tests). It is always a stack of its own, never one found running: a stack someone started may
// serve other models or settings, and tests must not load it or depend on it.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { gatewaySettingsSchema } from '@modeldock/gateway/config';
import { parseOnly, planStack, readModels } from './models.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const START = path.join(ROOT, 'scripts/start.mjs');
const LOOPBACK = '127.0.0.1';
/** The gateway's documented ports: its defaults, from its own schema. */
export const DOCUMENTED_GATEWAY_PORT = gatewaySettingsSchema.shape.GATEWAY_PORT.parse(undefined);
export const DOCUMENTED_ADMIN_PORT = gatewaySettingsSchema.shape.GATEWAY_ADMIN_PORT.parse(undefined);
/** Output kept for error messages. */
const OUTPUT_CHARS = 20_000;
/** After SIGTERM, how long a test stack gets to drain before SIGKILL: shorter than start.mjs allows (135 s), since a test leaves no bulk request behind that it still wants answered. */
const STOP_GRACE_MS = 40_000;

/**
 * `count` distinct ports that were free on 127.0.0.1 a moment ago (the kernel's choice for port 0). All are held
 * open together, so they differ; another process may still take one before the stack binds it, which
 * {@link startStack} answers by starting again on new ports.
 */
export async function freePorts(count) {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    await Promise.all(servers.map((server) => once(server.listen(0, LOOPBACK), 'listening')));
    return servers.map((server) => server.address().port);
  } finally {
    await Promise.all(servers.filter((s) => s.listening).map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/**
 * `text` with every `localhost:<port>` / `127.0.0.1:<port>` whose port is a key of `ports` pointed at its value:
 * a documented example made to call this stack instead of the documented ports.
 */
export function rewritePorts(text, ports) {
  return text.replace(/\b(localhost|127\.0\.0\.1):(\d{1,5})\b/g, (whole, host, port) => {
    const actual = ports.get(Number(port));
    return actual === undefined ? whole : `${host}:${actual}`;
  });
}

/** The gateway's public `/models` listing, or undefined while it does not answer. */
async function listedModels(gateway) {
  try {
    const res = await fetch(`${gateway}/models`, { signal: AbortSignal.timeout(5000) });
    return res.ok ? (await res.json()).models : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts `scripts/start.mjs --no-build` (dist/ must be built) with the gateway, its admin listener and every
 * model (each deployment) on free loopback ports (`GATEWAY_PORT`, `GATEWAY_ADMIN_PORT`, `MODELDOCK_PORTS`), and
 * waits until the gateway lists every started model, and each of its backends, ready. A port taken in between (EADDRINUSE) starts it again on new ports.
 *
 * @param options.modelsDir the models folder (default: models/ of the checkout)
 * @param options.only model names to start (default: all)
 * @param options.env extra environment for every process (settings; the ports above always win)
 * @param options.readyTimeoutMs bound on the wait for readiness, per attempt
 * @returns `gateway` and `admin` origins, `ports` (documented port → this stack's), `rewrite(text)`,
 *   `output()` (recent output), `stop()` (SIGTERM, then SIGKILL after a bound)
 */
export async function startStack({ modelsDir = path.join(ROOT, 'models'), only, env = {}, readyTimeoutMs = 180_000, attempts = 3 } = {}) {
  const models = await readModels(modelsDir);
  const names = only ?? parseOnly(env.MODELDOCK_MODELS) ?? models.map((m) => m.name);
  if (names.length === 0) throw new Error(`no model to start in ${modelsDir}`);
  // The ports the documentation shows: what `pnpm start` would use for these models (one per deployment).
  const documented = planStack(models, { root: ROOT, only: names, exists: () => true, reservedPorts: [DOCUMENTED_GATEWAY_PORT, DOCUMENTED_ADMIN_PORT] });
  const services = documented.services.map((s) => s.name);
  for (let attempt = 1; ; attempt += 1) {
    const [gatewayPort, adminPort, ...modelPorts] = await freePorts(2 + services.length);
    const assigned = new Map(services.map((name, i) => [name, modelPorts[i]]));
    const ports = new Map([
      [DOCUMENTED_GATEWAY_PORT, gatewayPort],
      [DOCUMENTED_ADMIN_PORT, adminPort],
      ...documented.services.map((s) => [s.port, assigned.get(s.name)]),
    ]);
    const stackEnv = { ...process.env, GATEWAY_LOG_LEVEL: 'warn', MODEL_LOG_LEVEL: 'warn' };
    // The stack routes the models it starts, whatever this process's environment names; a test may still give
    // the gateway a models file of its own (`env.GATEWAY_MODELS_FILE`: written by start.mjs if it does not exist).
    delete stackEnv.GATEWAY_MODELS;
    delete stackEnv.GATEWAY_MODELS_FILE;
    Object.assign(stackEnv, env, {
      GATEWAY_HOST: LOOPBACK,
      GATEWAY_PORT: String(gatewayPort),
      GATEWAY_ADMIN_HOST: LOOPBACK,
      GATEWAY_ADMIN_PORT: String(adminPort),
      MODELDOCK_MODELS_DIR: modelsDir,
      MODELDOCK_MODELS: names.join(','),
      MODELDOCK_PORTS: JSON.stringify(Object.fromEntries(assigned)),
    });
    const stack = launch(stackEnv);
    const gateway = `http://${LOOPBACK}:${gatewayPort}`;
    const deadline = Date.now() + readyTimeoutMs;
    let failure;
    for (;;) {
      const listed = await listedModels(gateway);
      // Every backend of every model: a deployment at weight 0 too (a test pins it).
      const ready = (m) => m.ready && (m.backends ?? []).every((b) => b.ready);
      if (listed !== undefined && names.every((n) => listed.some((m) => m.name === n && ready(m)))) break;
      if (stack.exited()) {
        failure = `the stack exited before it was ready:\n${stack.output()}`;
        break;
      }
      if (Date.now() > deadline) {
        failure = `the stack was not ready within ${readyTimeoutMs} ms:\n${stack.output()}`;
        break;
      }
      await sleep(250);
    }
    if (failure === undefined) {
      return {
        gateway,
        admin: `http://${LOOPBACK}:${adminPort}`,
        ports,
        rewrite: (text) => rewritePorts(text, ports),
        output: stack.output,
        stop: stack.stop,
      };
    }
    await stack.stop();
    if (attempt >= attempts || !/EADDRINUSE/.test(stack.output())) throw new Error(failure);
  }
}

/** Spawns start.mjs; its output is kept, and it is stopped (SIGTERM: it drains its processes) if this process exits first. */
function launch(env) {
  const child = spawn(process.execPath, [START, '--no-build'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk) => (output = (output + chunk).slice(-OUTPUT_CHARS));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const orphan = () => child.kill('SIGTERM');
  process.once('exit', orphan);
  return {
    exited: () => child.exitCode !== null || child.signalCode !== null,
    output: () => output,
    async stop() {
      process.removeListener('exit', orphan);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const stopped = await Promise.race([exited.then(() => true), sleep(STOP_GRACE_MS, false, { ref: false })]);
      if (!stopped) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
