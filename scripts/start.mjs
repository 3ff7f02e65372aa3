// Starts the system on this machine without containers: one question-topic service and the
// gateway in front of it, with the same defaults as docker compose (gateway on 8080, model on 8501).
// Ctrl-C (or SIGTERM) stops both, letting in-flight requests drain.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const qtPort = process.env.QT_PORT ?? '8501';
const services = [
  { name: 'question-topic', entry: 'apps/question-topic/dist/main.js', env: { QT_PORT: qtPort } },
  {
    name: 'gateway',
    entry: 'apps/gateway/dist/main.js',
    env: { GATEWAY_MODELS: process.env.GATEWAY_MODELS ?? JSON.stringify({ 'question-topic': { upstream: `http://127.0.0.1:${qtPort}` } }) },
  },
];

const children = services.map(({ name, entry, env }) => {
  const child = spawn(process.execPath, [entry], { cwd: root, env: { ...process.env, ...env }, stdio: 'inherit' });
  child.once('exit', (code, signal) => {
    console.error(`[start] ${name} exited (${signal ?? code})`);
    stopAll(code ?? 1);
  });
  return child;
});

let stopping = false;
function stopAll(code) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  Promise.all(children.map((child) => (child.exitCode === null ? new Promise((r) => child.once('exit', r)) : null))).then(
    () => process.exit(code),
  );
}
process.once('SIGINT', () => stopAll(0));
process.once('SIGTERM', () => stopAll(0));
