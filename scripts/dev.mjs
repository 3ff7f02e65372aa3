// `pnpm dev`: builds once, keeps rebuilding on change (`turbo watch build`), and runs the same stack as
// `pnpm start` (scripts/start.mjs --no-build), restarting it whenever a built dist/ changes. The services'
// JSON logs are pretty-printed (pino-pretty); Ctrl-C or SIGTERM stops the watcher and the stack.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, watch } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { prettyFactory } from 'pino-pretty';

const root = fileURLToPath(new URL('..', import.meta.url));
const turbo = path.join(root, 'node_modules/turbo/bin/turbo');
/** Quiet time after the last dist/ change before restarting (a build writes many files). */
const SETTLE_MS = 800;
const log = (message) => console.error(`[dev] ${message}`);

if (process.argv.slice(2).some((a) => a === '--help' || a === '-h')) {
  console.log(`Usage: pnpm dev

Builds the workspace, runs every model and the gateway like \`pnpm start\` (same environment variables,
e.g. MODELDOCK_MODELS=a,b), rebuilds on every source change (turbo watch build) and restarts the
processes when a dist/ folder changes. Logs are pretty-printed. Ctrl-C stops everything.`);
  process.exit(0);
}
if (process.argv.slice(2).some((a) => a !== '--')) {
  console.error(`dev: unknown argument: ${process.argv.slice(2).join(' ')}; see --help`);
  process.exit(2);
}

const pretty = prettyFactory({ colorize: process.stdout.isTTY ?? false, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true });
let stopping = false;
let stack = null;
let watcher = null;

function exited(child) {
  return child === null || child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', resolve));
}

function startStack() {
  const child = spawn(process.execPath, [path.join(root, 'scripts/start.mjs'), '--no-build'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  createInterface({ input: child.stdout }).on('line', (line) => process.stdout.write(pretty(line)));
  child.once('exit', (code, signal) => {
    if (stack === child) stack = null;
    if (!stopping && !restarting) log(`the stack exited (${signal ?? code}); waiting for a change to start it again`);
  });
  return child;
}

let restarting = false;
async function restart(reason) {
  if (stopping || restarting) return;
  restarting = true;
  log(`${reason}: restarting`);
  const old = stack;
  old?.kill('SIGTERM');
  await exited(old);
  restarting = false;
  if (!stopping) stack = startStack();
}

/** Every dist/ folder of a workspace package the stack may run. */
function distFolders() {
  return ['apps', 'packages']
    .flatMap((group) => readdirSync(path.join(root, group)).map((name) => path.join(root, group, name, 'dist')))
    .filter((dir) => existsSync(dir));
}

async function stop(signal) {
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping`);
  for (const w of watchers) w.close();
  // turbo's launcher passes SIGTERM (not SIGINT) on to the turbo binary; its own process group gets both.
  if (watcher !== null && watcher.exitCode === null && watcher.signalCode === null) {
    try {
      process.kill(-watcher.pid, 'SIGTERM');
    } catch {
      watcher.kill('SIGTERM');
    }
  }
  stack?.kill('SIGTERM');
  await Promise.all([exited(watcher), exited(stack)]);
  process.exit(0);
}
const watchers = [];
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => void stop(signal));

const build = spawn(process.execPath, [turbo, 'run', 'build', '--output-logs=errors-only'], { cwd: root, stdio: 'inherit' });
watcher = build;
const [code] = await new Promise((resolve) => build.once('exit', (...args) => resolve(args)));
if (stopping) await new Promise(() => {});
if (code !== 0) log('the first build failed: fix the error, the watcher will rebuild');

watcher = spawn(process.execPath, [turbo, 'watch', 'build', '--output-logs=errors-only'], {
  cwd: root,
  stdio: ['ignore', 'inherit', 'inherit'],
  detached: true,
});
watcher.once('exit', (c, s) => {
  if (!stopping) {
    log(`turbo watch exited (${s ?? c}): stopping`);
    void stop('watcher exit');
  }
});

let timer;
for (const dir of distFolders()) {
  watchers.push(
    watch(dir, { recursive: true }, (_event, file) => {
      clearTimeout(timer);
      const changed = path.relative(root, path.join(dir, String(file ?? '')));
      timer = setTimeout(() => void restart(`${changed} changed`), SETTLE_MS);
    }),
  );
}
if (code === 0) stack = startStack();
