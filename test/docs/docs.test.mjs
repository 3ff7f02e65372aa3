// Docs that cannot drift: every shell block with a `curl` example in the README and the guides runs
// against a real `pnpm start` stack (all models and the gateway, on the documented ports), and must
// succeed; a block that documents an error (a `# 4xx` line) must answer that error. Other commands
// are run by CI itself (`pnpm install`, `pnpm test`, `pnpm test:e2e` for the compose stack).
//
// Every wait is bounded; the stack is stopped (SIGTERM, then SIGKILL) however the test ends.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GATEWAY = 'http://127.0.0.1:8080';
const READY_TIMEOUT_MS = 180_000;
const BLOCK_TIMEOUT_MS = 90_000;

/** The documents whose examples run, and the folder each runs in. */
const DOCUMENTS = [
  { file: 'README.md', cwd: '.' },
  { file: 'deploy/README.md', cwd: '.' },
  // The guide's calls read the request bodies its setup block writes.
  { file: 'docs/serve-your-own-model.md', cwd: 'apps/model-server/.docs-test', setup: /node embed\.mjs/ },
];

/** The ```sh blocks of a markdown file that call curl (or match `setup`), with the line they start on. */
export function curlBlocks(markdown, setup) {
  const blocks = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    if (!/^```(sh|bash)\s*$/.test(lines[i])) continue;
    const start = i + 1;
    const body = [];
    for (i += 1; i < lines.length && !/^```\s*$/.test(lines[i]); i += 1) body.push(lines[i]);
    const text = body.join('\n');
    if (/(^|[\s|;&])curl\s/m.test(text) || setup?.test(text)) blocks.push({ line: start, text });
  }
  return blocks;
}

/** A documented error status (`# 400 {...}` on a line of its own), if the block shows one. */
function expectedError(text) {
  const match = /^# (4\d\d)\b/m.exec(text);
  return match === null ? undefined : Number(match[1]);
}

/** Runs a block with bash; curl fails on any HTTP error unless the block documents one. */
function runBlock(text, cwd, failOnHttpError) {
  const prelude = failOnHttpError
    ? 'curl() { command curl --fail-with-body --max-time 60 -w "\\n" "$@"; }\n'
    : 'curl() { command curl --max-time 60 -w "\\nstatus %{http_code}\\n" "$@"; }\n';
  return spawnSync('bash', ['-c', `set -eu\n${prelude}${text}`], {
    cwd,
    encoding: 'utf8',
    timeout: BLOCK_TIMEOUT_MS,
    env: { ...process.env, NO_COLOR: '1' },
  });
}

async function models() {
  try {
    const res = await fetch(`${GATEWAY}/models`);
    return res.ok ? (await res.json()).models : undefined;
  } catch {
    return undefined;
  }
}

describe('documentation examples against a pnpm start stack', () => {
  let stack;
  let exited;
  let output = '';

  before(async () => {
    assert.equal(await models(), undefined, 'something already answers on :8080; stop it first');
    stack = spawn(process.execPath, ['scripts/start.mjs', '--no-build'], {
      cwd: ROOT,
      env: { ...process.env, GATEWAY_LOG_LEVEL: 'warn', QT_LOG_LEVEL: 'warn', MODEL_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    stack.stdout.on('data', (chunk) => (output = (output + chunk).slice(-20_000)));
    stack.stderr.on('data', (chunk) => (output = (output + chunk).slice(-20_000)));
    exited = new Promise((resolve) => stack.once('exit', resolve));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      const listed = await models();
      if (listed !== undefined && listed.length > 0 && listed.every((model) => model.ready)) break;
      assert.equal(stack.exitCode, null, `pnpm start exited early:\n${output}`);
      assert.ok(Date.now() < deadline, `the stack was not ready in time:\n${output}`);
      await sleep(500);
    }
  });

  after(async () => {
    if (stack === undefined || stack.exitCode !== null) return;
    stack.kill('SIGTERM');
    const stopped = await Promise.race([exited.then(() => true), sleep(40_000).then(() => false)]);
    if (!stopped) stack.kill('SIGKILL');
    rmSync(path.join(ROOT, 'apps/model-server/.docs-test'), { recursive: true, force: true });
  });

  for (const { file, cwd, setup } of DOCUMENTS) {
    const blocks = curlBlocks(readFileSync(path.join(ROOT, file), 'utf8'), setup);
    it(`${file} has curl examples`, () => assert.ok(blocks.length > 0));
    for (const block of blocks) {
      it(`${file}:${block.line} runs`, () => {
        const dir = path.join(ROOT, cwd);
        mkdirSync(dir, { recursive: true });
        const status = expectedError(block.text);
        const result = runBlock(block.text, dir, status === undefined);
        const shown = `${block.text}\n--- stdout\n${result.stdout.slice(0, 2000)}\n--- stderr\n${result.stderr.slice(0, 2000)}`;
        assert.equal(result.status, 0, `the block failed:\n${shown}`);
        if (status !== undefined) {
          assert.match(result.stdout, new RegExp(`status ${status}\\b`), `expected HTTP ${status}:\n${shown}`);
          assert.match(result.stdout, /"error"/, `expected an error body:\n${shown}`);
          return;
        }
        // Whatever printed JSON must be JSON: every line that starts an object is parsed.
        for (const line of result.stdout.split('\n').filter((l) => l.startsWith('{') && l.endsWith('}'))) {
          assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line.slice(0, 200)}`);
        }
      });
    }
  }
});

describe('figures in the README', () => {
  for (const version of ['1', '2']) {
    it(`agree with question-topic v${version}'s recorded evaluation (its metadata.json)`, () => {
      const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
      const metadata = JSON.parse(readFileSync(path.join(ROOT, `models/question-topic/${version}/metadata.json`), 'utf8'));
      const percent = (value) => `${(value * 100).toFixed(1)} %`;
      const { testAccuracy, validationAccuracy } = metadata.evaluation;
      const line = readme.split('\n- **').find((item) => item.startsWith(`v${version}**`)) ?? '';
      assert.match(line, new RegExp(`\\*\\*${percent(testAccuracy)}`), `v${version}'s test accuracy`);
      assert.match(line, new RegExp(`validation ${percent(validationAccuracy)}`), `v${version}'s validation accuracy`);
    });
  }
});
