// Docs that cannot drift: every shell block with a `curl` example in the README and the guides runs
// against a real `pnpm start` stack (all models and the gateway), and must succeed; a block that
// documents an error (a `# 4xx` line) must answer that error. Other commands are run by CI itself
// (`pnpm install`, `pnpm test`, `pnpm test:e2e` for the compose stack).
//
// The stack is this test's own, on free ports (scripts/lib/stack.mjs), so the tests pass while a
// `pnpm start` stack serves the documented ports; each example's `localhost:<documented port>` is
// pointed at the stack's port before it runs. The guide's setup blocks (writing a model with TF.js,
// writing request bodies) run first, in a scratch copy of the layout they expect: `sandbox/` for
// the scripts and a models folder beside it, which links to every model of models/ and receives the
// model the guide saves. Every wait is bounded; the stack is stopped however the test ends.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startStack } from '@modeldock/scripts/stack';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BLOCK_TIMEOUT_MS = 90_000;
/** Inside sandbox/ (ignored by git), so the guide's scripts import what sandbox/ installs. */
const SCRATCH = path.join(ROOT, 'sandbox', `docs-test-${process.pid}`);
/** The models folder of the test's stack: the guide's `../models` seen from its `sandbox/`. */
const MODELS = path.join(SCRATCH, 'models');

/** The documents whose examples run, the folder each runs in, and which of its blocks set up the others. */
const DOCUMENTS = [
  { file: 'README.md', cwd: ROOT },
  { file: 'deploy/README.md', cwd: ROOT },
  // The guide works in sandbox/: it saves a model to ../models and writes request bodies the calls read.
  { file: 'docs/serve-your-own-model.md', cwd: path.join(SCRATCH, 'sandbox'), setup: /^node (save-model|embed)\.mjs /m },
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
    const isSetup = setup?.test(text) ?? false;
    if (/(^|[\s|;&])curl\s/m.test(text) || isSetup) blocks.push({ line: start, text, setup: isSetup });
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

const shown = (text, result) => `${text}\n--- stdout\n${result.stdout.slice(0, 2000)}\n--- stderr\n${result.stderr.slice(0, 2000)}`;

const documents = DOCUMENTS.map((doc) => ({ ...doc, blocks: curlBlocks(readFileSync(path.join(ROOT, doc.file), 'utf8'), doc.setup) }));

describe('documentation examples against a pnpm start stack', () => {
  let stack;

  before(async () => {
    mkdirSync(MODELS, { recursive: true });
    for (const model of readdirSync(path.join(ROOT, 'models'))) symlinkSync(path.join(ROOT, 'models', model), path.join(MODELS, model));
    for (const { file, cwd, blocks } of documents) {
      mkdirSync(cwd, { recursive: true });
      for (const block of blocks.filter((b) => b.setup)) {
        const result = runBlock(block.text, cwd, true);
        assert.equal(result.status, 0, `${file}:${block.line}: the setup block failed:\n${shown(block.text, result)}`);
      }
    }
    stack = await startStack({ modelsDir: MODELS });
  });

  after(async () => {
    await stack?.stop();
    rmSync(SCRATCH, { recursive: true, force: true });
  });

  for (const { file, cwd, blocks } of documents) {
    it(`${file} has curl examples`, () => assert.ok(blocks.some((b) => !b.setup)));
    for (const block of blocks.filter((b) => !b.setup)) {
      it(`${file}:${block.line} runs`, () => {
        const status = expectedError(block.text);
        const result = runBlock(stack.rewrite(block.text), cwd, status === undefined);
        assert.equal(result.status, 0, `the block failed:\n${shown(block.text, result)}`);
        if (status !== undefined) {
          assert.match(result.stdout, new RegExp(`status ${status}\\b`), `expected HTTP ${status}:\n${shown(block.text, result)}`);
          assert.match(result.stdout, /"error"/, `expected an error body:\n${shown(block.text, result)}`);
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
