// `pnpm start`: builds the workspace (turbo), then starts one process per model under models/ and the
// gateway in front of them, without containers. See CONTRIBUTING.md and `node scripts/start.mjs --help`.
//
// The root script is `exec node scripts/start.mjs`: pnpm 12 signals only its direct child, and a shell
// in between (`a && b`) dies without passing SIGTERM on, leaving the services orphaned. This process
// forwards SIGTERM/SIGINT to every child and exits once they have all exited (SIGKILL after a bound).
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelConfigError, parseOnly, parsePorts, planStack, portRule, readModels } from './lib/models.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
/** The gateway's default ports (apps/gateway/src/config.ts), which no model may take. */
const gatewayPorts = [Number(process.env.GATEWAY_PORT ?? 8080), Number(process.env.GATEWAY_ADMIN_PORT ?? 9081)].filter(Number.isInteger);
const modelsDir = path.resolve(root, process.env.MODELDOCK_MODELS_DIR ?? 'models');
/** The help, with the port rule as `assignPorts` applies it to the models found now. */
function usage(portSentence) {
  return `Usage: pnpm start [-- --no-build]

Builds the workspace, then runs every model in models/<name>/ (a folder with at least one numeric
version folder) on 127.0.0.1 and the gateway in front of them (GATEWAY_HOST:GATEWAY_PORT, default
127.0.0.1:8080: this machine only; GATEWAY_HOST=0.0.0.0 serves other machines too).

  --no-build    skip the turbo build (dist/ must be current; pnpm dev uses this)
  -h, --help    print this help

Environment:
  MODELDOCK_MODELS=a,b          start only these models (default: all)
  MODELDOCK_MODELS_DIR=<dir>    the models folder (default: models/ of the checkout)
  MODELDOCK_PORTS='{"a": 9001}' ports that replace the models' own (or a deployment's: "a-v2") for this run
  GATEWAY_MODELS                replace the gateway configuration built from models/ (JSON)
  GATEWAY_MODELS_FILE=<file>    the gateway's models in a file it reloads when edited (weights, shadow;
                                docs/rollouts.md); written from models/ if it does not exist, used as is if it does
  anything else (MODEL_*, GATEWAY_*) is passed to the processes: MODEL_* overrides every
  model's model-settings.json (QT_* is read by question-topic as an alias of MODEL_*).

models/<name>/model-settings.json (optional; docs/configuration.md lists every field):
{"app": "<apps folder>", "port": <int>, "aliases": [{"method": "POST", "path": "/..."}], ...}.
Without "app" a model runs on the generic model server (apps/model-server). With "deployments"
([{"name": "v1", "weight": 90}, {"name": "v2", "weight": 10, "defaultVersion": "2"}]) a model runs as
one process per deployment, each a backend of the model at the gateway.
${portSentence}.`;
}

/**
 * The gateway's models: GATEWAY_MODELS as given; else GATEWAY_MODELS_FILE, written from the models found when it
 * does not exist yet (so that a rollout edits it: the gateway reloads it), used as it is when it does; else the
 * models found, as GATEWAY_MODELS.
 */
function gatewayModelsEnv(found) {
  if (process.env.GATEWAY_MODELS !== undefined) {
    log('GATEWAY_MODELS is set: using it instead of the models found');
    return {};
  }
  const file = process.env.GATEWAY_MODELS_FILE;
  if (file === undefined) return { GATEWAY_MODELS: JSON.stringify(found) };
  const target = path.resolve(process.env.INIT_CWD ?? process.cwd(), file);
  if (existsSync(target)) {
    log(`gateway models from ${target} (edit it to change weights or the shadow: the gateway reloads it)`);
  } else {
    writeFileSync(target, `${JSON.stringify(found, null, 2)}\n`);
    log(`wrote the gateway models found to ${target}; edit it to change weights or the shadow (the gateway reloads it)`);
  }
  return { GATEWAY_MODELS_FILE: target };
}

/** How long children get to drain after SIGTERM before SIGKILL (the services drain in ≤ 130 s, at once when idle). */
const DRAIN_BOUND_MS = Number(process.env.MODELDOCK_STOP_TIMEOUT_MS ?? 135_000);
const log = (message) => console.error(`[start] ${message}`);

const args = process.argv.slice(2).filter((a) => a !== '--');
if (args.includes('--help') || args.includes('-h')) {
  const models = await readModels(modelsDir).catch(() => []);
  console.log(usage(portRule(models, gatewayPorts)));
  process.exit(0);
}
const unknown = args.filter((a) => a !== '--no-build');
if (unknown.length > 0) {
  console.error(`start: unknown argument: ${unknown.join(' ')}; see --help`);
  process.exit(2);
}

const children = new Set();
let stopping = false;
let exitCode = 0;

function stopAll(code, reason) {
  if (stopping) return;
  stopping = true;
  exitCode = code;
  if (reason) log(reason);
  for (const child of children) child.kill('SIGTERM');
  const killer = setTimeout(() => {
    for (const child of children) {
      log(`${child.modeldockName} did not exit within ${DRAIN_BOUND_MS} ms: SIGKILL`);
      child.kill('SIGKILL');
    }
  }, DRAIN_BOUND_MS);
  killer.unref();
  exitWhenDrained();
}

function exitWhenDrained() {
  if (stopping && children.size === 0) process.exit(exitCode);
}

function run(name, args, env, stdio = 'inherit') {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio });
  child.modeldockName = name;
  children.add(child);
  return new Promise((resolve) => {
    child.once('error', (err) => log(`${name}: ${err.message}`));
    child.once('exit', (code, signal) => {
      children.delete(child);
      if (stopping) log(`${name} exited (${signal ?? code})`);
      resolve({ code, signal });
      exitWhenDrained();
    });
  });
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => stopAll(0, `${signal}: stopping ${children.size} process(es)`));
}
// If pnpm (or whatever started this) dies without signalling, this process is re-parented: stop too.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stopAll(1, `parent ${parent} is gone: stopping`);
}, 1000).unref();

if (!args.includes('--no-build')) {
  const turbo = path.join(root, 'node_modules/turbo/bin/turbo');
  const { code, signal } = await run('build', [turbo, 'run', 'build', '--output-logs=errors-only'], {});
  if (stopping) {
    exitWhenDrained();
  } else if (code !== 0) {
    log(`build failed (${signal ?? code})`);
    process.exit(code ?? 1);
  }
}

if (!stopping) {
  let plan;
  try {
    const models = await readModels(modelsDir);
    plan = planStack(models, {
      root,
      only: parseOnly(process.env.MODELDOCK_MODELS),
      exists: (file) => existsSync(path.join(root, file)),
      reservedPorts: gatewayPorts,
      ports: parsePorts(process.env.MODELDOCK_PORTS),
    });
  } catch (err) {
    if (!(err instanceof ModelConfigError)) throw err;
    console.error(`start: ${err.message}`);
    process.exit(2);
  }
  for (const warning of plan.warnings) log(`warning: ${warning}`);
  if (plan.services.length === 0) {
    console.error(`start: no model to serve in ${path.relative(root, modelsDir) || '.'}/ (<name>/<version>/ with metadata.json; see CONTRIBUTING.md)`);
    process.exit(2);
  }
  const gatewayEnv = gatewayModelsEnv(plan.gatewayModels);
  const processes = [
    ...plan.services.map((s) => ({ name: s.name, entry: s.entry, env: s.env, note: `127.0.0.1:${s.port}` })),
    { name: 'gateway', entry: path.join(root, 'apps/gateway/dist/main.js'), env: gatewayEnv, note: `${process.env.GATEWAY_HOST ?? '127.0.0.1'}:${process.env.GATEWAY_PORT ?? 8080}` },
  ];
  for (const p of processes) {
    const deployment = plan.services.find((s) => s.name === p.name && s.name !== s.model);
    log(`${p.name} on ${p.note}${deployment === undefined ? '' : ` (deployment ${deployment.deployment} of ${deployment.model})`}`);
    void run(p.name, [p.entry], p.env).then(({ code, signal }) => {
      if (!stopping) stopAll(code || 1, `${p.name} exited (${signal ?? code}): stopping the others`);
    });
  }
}
