// A rollout end to end, with real processes and the real model: question-topic as two deployments (v1 serving
// version 1, v2 serving version 2, as `deployments` in its model-settings.json) behind one gateway, started by
// `pnpm start` on free ports with a models file the gateway reloads. The split, pinning, shadows that are slow or
// failing (fake upstreams on 127.0.0.1, each its own process: the faults are theirs to have), the agreement metric, a reload moving
// every new request, and an invalid file refused. Latencies are printed as diagnostics, never asserted beyond a
// sanity bound: this machine's timings say little.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startStack } from '@modeldock/scripts/stack';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MODEL = 'question-topic';
const REQUEST_TIMEOUT_MS = 60_000;
/** A reload is in force within this (the gateway's watch, or its poll every 2 s). */
const RELOAD_WITHIN_MS = 5000;
/** How long the slow shadow takes to answer. */
const SLOW_SHADOW_MS = 2000;
/** Rounds of the latency comparison, each setup once per round. */
const ROUNDS = 4;

/** The TREC_10 test questions, in file order. */
const QUESTIONS = readFileSync(path.join(ROOT, 'data/trec/TREC_10.label'), 'latin1')
  .split('\n')
  .map((line) => line.slice(line.indexOf(' ') + 1).trim())
  .filter((q) => q !== '');

/**
 * A models folder holding a copy of question-topic's versions (the model server lists only real folders as
 * versions) and its settings with two deployments.
 */
function rolloutModels(dir) {
  const model = path.join(dir, MODEL);
  mkdirSync(model, { recursive: true });
  for (const version of ['1', '2']) cpSync(path.join(ROOT, 'models', MODEL, version), path.join(model, version), { recursive: true });
  const settings = JSON.parse(readFileSync(path.join(ROOT, 'models', MODEL, 'model-settings.json'), 'utf8'));
  settings.deployments = [
    { name: 'v1', weight: 90 },
    { name: 'v2', weight: 10, defaultVersion: '2' },
  ];
  writeFileSync(path.join(model, 'model-settings.json'), JSON.stringify(settings, null, 2));
  return dir;
}

/** A stand-in shadow backend (fake-shadow.mjs) in a process of its own: ready, and answering slowly or with 500. */
async function fakeShadow(kind) {
  const child = spawn(process.execPath, [fileURLToPath(new URL('fake-shadow.mjs', import.meta.url)), kind, String(SLOW_SHADOW_MS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = await Promise.race([
    once(child.stdout.setEncoding('utf8'), 'data'),
    once(child, 'exit').then(([code]) => Promise.reject(new Error(`fake shadow '${kind}' exited with ${code}`))),
  ]);
  return {
    url: `http://127.0.0.1:${Number.parseInt(line, 10)}`,
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
const round = (ms) => Math.round(ms * 10) / 10;

/** The sum of the samples of a Prometheus text exposition whose lines match `pattern`. */
const sumOf = (text, pattern) =>
  text
    .split('\n')
    .filter((line) => pattern.test(line))
    .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);

describe('a rollout of question-topic v2 beside v1, through one gateway', () => {
  let dir;
  let file;
  let stack;
  let slow;
  let failing;
  /** The upstream of each deployment, from the models file start.mjs wrote. */
  let upstreams;

  /** One question to the seed route: what came back, from which deployment, how fast. */
  async function ask(question, headers = {}) {
    const started = performance.now();
    const res = await fetch(`${stack.gateway}/predict_topic`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ rawtext_list: [question] }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    const ms = performance.now() - started;
    const body = res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text;
    return { status: res.status, backend: res.headers.get('x-modeldock-backend'), version: body.model_version, topic: body.topics?.[0], body, ms, sentAt: started };
  }

  /** `n` questions (from `offset` in the list), `concurrency` at a time; answers in the order sent. */
  async function load(n, { concurrency = 4, offset = 0, until } = {}) {
    const answers = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (until === undefined ? next < n : !until()) {
          const i = next++;
          answers[i] = { question: QUESTIONS[(offset + i) % QUESTIONS.length], ...(await ask(QUESTIONS[(offset + i) % QUESTIONS.length])) };
        }
      }),
    );
    return answers;
  }

  /** The models last applied (see `apply`): the gateway counts a file that did not change as no reload. */
  let applied;

  /** Writes the models file whole (renamed over the old one), as an editor or a deployment would. */
  function writeModels(models) {
    applied = undefined;
    writeFileSync(`${file}.new`, `${JSON.stringify(models, null, 2)}\n`);
    renameSync(`${file}.new`, file);
  }

  async function admin(route) {
    const res = await fetch(`${stack.admin}${route}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    return route === '/metrics' ? res.text() : res.json();
  }

  /** The value of the first sample of `series` whose labels include `labels` (0 when none). */
  async function metric(series, labels = {}) {
    const line = (await admin('/metrics'))
      .split('\n')
      .find((l) => l.startsWith(`${series}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  }

  /** Applies `models` and waits until the gateway has them in force. */
  async function apply(models) {
    if (JSON.stringify(models) === applied) return;
    const { configVersion } = await admin('/models');
    writeModels(models);
    applied = JSON.stringify(models);
    for (const started = Date.now(); Date.now() - started < RELOAD_WITHIN_MS * 2; await sleep(50)) {
      if ((await admin('/models')).configVersion > configVersion) return;
    }
    assert.fail(`the gateway did not apply the models file:\n${stack.output()}`);
  }

  /** question-topic's entry with these backends (weights by name) and shadow. */
  function topic(weights, shadow) {
    const all = { ...upstreams, slow: slow.url, failing: failing.url };
    return {
      [MODEL]: {
        backends: Object.entries(weights).map(([name, weight]) => ({ name, upstream: all[name], weight })),
        ...(shadow === undefined ? {} : { shadow }),
        aliases: [{ method: 'POST', path: '/predict_topic' }],
      },
    };
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'modeldock-rollout-'));
    file = path.join(dir, 'gateway-models.json');
    [slow, failing] = await Promise.all([fakeShadow('slow'), fakeShadow('fail')]);
    stack = await startStack({ modelsDir: rolloutModels(path.join(dir, 'models')), only: [MODEL], env: { GATEWAY_MODELS_FILE: file } });
    const written = JSON.parse(readFileSync(file, 'utf8'))[MODEL];
    upstreams = Object.fromEntries(written.backends.map((b) => [b.name, b.upstream]));
    cpSync(file, path.join(dir, 'as-written.json'));
  });
  after(async () => {
    await stack?.stop();
    await Promise.all([slow?.close(), failing?.close()]);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('starts both deployments from the settings, and the models file lists them 90/10', () => {
    const written = JSON.parse(readFileSync(path.join(dir, 'as-written.json'), 'utf8'))[MODEL];
    assert.deepEqual(written.backends.map((b) => [b.name, b.weight]), [['v1', 90], ['v2', 10]]);
    assert.notEqual(upstreams.v1, upstreams.v2);
  });

  it('splits 90/10 within ±3 points over 2,000 requests, each deployment answering with its version', { timeout: 900_000 }, async (t) => {
    const answers = await load(2000, { concurrency: 8 });
    assert.deepEqual(answers.filter((a) => a.status !== 200).map((a) => [a.status, a.body]), []);
    const counts = { v1: 0, v2: 0 };
    for (const a of answers) counts[a.backend] += 1;
    const share = counts.v2 / answers.length;
    t.diagnostic(`split over ${answers.length}: v1 ${counts.v1}, v2 ${counts.v2} (${(share * 100).toFixed(1)} % v2); load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    assert.ok(Math.abs(share - 0.1) <= 0.03, `v2 served ${(share * 100).toFixed(1)} %`);
    for (const a of answers) assert.equal(a.version, a.backend === 'v1' ? '1' : '2', `${a.backend} answered version ${a.version}`);
    assert.ok((await metric('gateway_requests_total', { model: MODEL, backend: 'v2', status: '200' })) >= counts.v2);
  });

  it('pins a deployment with x-modeldock-backend, and refuses an unknown one with 400', async () => {
    for (const backend of ['v2', 'v1', 'v2']) {
      const a = await ask(QUESTIONS[0], { 'x-modeldock-backend': backend });
      assert.deepEqual([a.status, a.backend, a.version], [200, backend, backend === 'v1' ? '1' : '2']);
    }
    const unknown = await ask(QUESTIONS[0], { 'x-modeldock-backend': 'v3' });
    assert.equal(unknown.status, 400);
    assert.deepEqual(unknown.body, { error: "model 'question-topic' has no backend 'v3' (x-modeldock-backend); its backends: v1, v2" });
  });

  it("leaves the client's answers and latency alone with a shadow that sleeps 2 s and one that answers 500", { timeout: 900_000 }, async (t) => {
    const weights = { v1: 100, v2: 0, slow: 0, failing: 0 };
    // 'no shadow, again' is the control: how far two runs of one setup differ here (the noise floor of the p99).
    const setups = [
      ['no shadow', undefined],
      ['shadow sleeping 2 s', { backend: 'slow', percent: 100 }],
      ['shadow answering 500', { backend: 'failing', percent: 100 }],
      ['no shadow, again', undefined],
    ];
    // Interleaved rounds, so that the machine's other load falls on every setup alike.
    const runs = Object.fromEntries(setups.map(([name]) => [name, { ms: [], topics: [] }]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, shadow] of setups) {
        await apply(topic(weights, shadow));
        await load(20, { offset: 1000 }); // warm-up, not measured
        const answers = await load(200, { offset: 0 });
        assert.deepEqual(answers.filter((a) => a.status !== 200).map((a) => [a.status, a.body]), [], name);
        runs[name].ms.push(...answers.map((a) => a.ms));
        runs[name].topics = answers.map((a) => `${a.question} → ${a.topic}`);
      }
    }
    for (const [name] of setups) {
      const run = runs[name];
      Object.assign(run, { p50: percentile(run.ms, 50), p99: percentile(run.ms, 99) });
      t.diagnostic(`${name}: p50 ${round(run.p50)} ms, p99 ${round(run.p99)} ms over ${run.ms.length} requests (${ROUNDS} interleaved rounds, 4 clients)`);
    }
    const base = runs['no shadow'];
    const change = (run) => `${run.p99 >= base.p99 ? '+' : ''}${round(((run.p99 - base.p99) / base.p99) * 100)} %`;
    t.diagnostic(
      `p99 against no shadow: control ${change(runs['no shadow, again'])}, slow shadow ${change(runs['shadow sleeping 2 s'])}, failing shadow ${change(runs['shadow answering 500'])}`,
    );
    t.diagnostic(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    for (const name of ['shadow sleeping 2 s', 'shadow answering 500']) {
      assert.deepEqual(runs[name].topics, base.topics, `${name}: the same answers`);
      // A sanity bound, not a measurement: had the client waited for the slow shadow, its median would be 2 s longer.
      assert.ok(runs[name].p50 < base.p50 + SLOW_SHADOW_MS / 2, `${name}: p50 ${runs[name].p50} ms against ${base.p50} ms`);
    }
    assert.ok((await metric('gateway_shadow_requests_total', { model: MODEL, shadow: 'failing', status: '500' })) > 0);
    await sleep(SLOW_SHADOW_MS + 500);
    assert.ok((await metric('gateway_shadow_requests_total', { model: MODEL, shadow: 'slow', status: '200' })) > 0);
    t.diagnostic(
      `shadow copies dropped over the bounds: ${await metric('gateway_shadow_dropped_total', { model: MODEL, reason: 'concurrency' })} (concurrency), ` +
        `${await metric('gateway_shadow_dropped_total', { model: MODEL, reason: 'bytes' })} (bytes)`,
    );
  });

  it('exports the agreement of v2 with v1 from a shadow of every request', { timeout: 900_000 }, async (t) => {
    await apply(topic({ v1: 100, v2: 0 }, { backend: 'v2', percent: 100 }));
    const settled = (text) => sumOf(text, /^gateway_shadow_requests_total\{.*shadow="v2"/) + sumOf(text, /^gateway_shadow_dropped_total\{/);
    const settledBefore = settled(await admin('/metrics'));
    // Sequential, so that no copy is dropped over the shadow's concurrency.
    await load(200, { concurrency: 1, offset: 0 });
    const pair = { model: MODEL, backend: 'v1', shadow: 'v2' };
    const counts = async () => {
      const text = await admin('/metrics');
      return {
        agree: sumOf(text, /^gateway_shadow_comparisons_total\{.*shadow="v2",result="agree"/),
        disagree: sumOf(text, /^gateway_shadow_comparisons_total\{.*shadow="v2",result="disagree"/),
        answered: sumOf(text, /^gateway_shadow_requests_total\{.*shadow="v2",status="200"/),
        settled: settled(text),
      };
    };
    // Each copy leaves once its request's answer has closed: wait until all 200 are answered or dropped.
    let seen = await counts();
    for (const started = Date.now(); Date.now() - started < 30_000 && seen.settled - settledBefore < 200; await sleep(200)) seen = await counts();
    const { agree, disagree, answered } = seen;
    t.diagnostic(`v2 against v1 on 200 TREC_10 questions: ${answered} copies answered, ${agree} agree, ${disagree} disagree (${((agree / (agree + disagree)) * 100).toFixed(1)} % agreement)`);
    const shadowLines = (await admin('/metrics')).split('\n').filter((l) => /^gateway_shadow_(requests|dropped)_total/.test(l));
    t.diagnostic(shadowLines.join('\n'));
    assert.equal(agree + disagree, answered, 'every copy v2 answered was compared');
    // Copies may be dropped (a replica not ready for a moment on a loaded machine): counted, and few.
    assert.ok(answered >= 190, `${answered} of 200 copies answered`);
    assert.ok(agree / (agree + disagree) > 0.8, 'two versions of one model, 93.2 % and 93.8 % accurate, mostly agree');
    assert.equal(await metric('gateway_shadow_comparisons_total', { ...pair, result: 'incomparable' }), 0);
  });

  it('moves every new request to v2 within 5 s of the models file set to 0/100, failing none', { timeout: 900_000 }, async (t) => {
    await apply(topic({ v1: 100, v2: 0 }));
    let stop = false;
    const running = load(0, { concurrency: 4, until: () => stop });
    await sleep(1000);
    const editedAt = performance.now();
    writeModels(topic({ v1: 0, v2: 100 }));
    await sleep(RELOAD_WITHIN_MS + 1000);
    stop = true;
    const answers = (await running).filter((a) => a !== undefined);
    assert.deepEqual(answers.filter((a) => a.status !== 200).map((a) => [a.status, a.body]), [], 'no request failed');
    const lastV1 = Math.max(...answers.filter((a) => a.backend === 'v1').map((a) => a.sentAt));
    const movedMs = Math.max(0, lastV1 - editedAt);
    const firstV2 = Math.min(...answers.filter((a) => a.backend === 'v2').map((a) => a.sentAt));
    const after = answers.filter((a) => a.sentAt > editedAt);
    t.diagnostic(
      `0/100: ${after.filter((a) => a.backend === 'v1').length} of ${after.length} requests sent after the edit went to v1 (the last ${round(lastV1 - editedAt)} ms after it); ` +
        `the first to v2 was sent ${round(firstV2 - editedAt)} ms after it; ${answers.length} requests, none failed; load average ${loadavg()[0].toFixed(1)}`,
    );
    assert.ok(movedMs <= RELOAD_WITHIN_MS, `v1 still got new requests ${movedMs} ms after the edit`);
    assert.ok(answers.some((a) => a.sentAt < editedAt && a.backend === 'v1'));
    assert.ok(answers.filter((a) => a.sentAt > editedAt + RELOAD_WITHIN_MS).every((a) => a.backend === 'v2'));
  });

  it('refuses an invalid models file with its message and keeps the running configuration', async () => {
    const refused = await metric('gateway_models_reloads_total', { result: 'refused' });
    writeModels({
      [MODEL]: {
        backends: [
          { name: 'v1', upstream: upstreams.v1, weight: 0 },
          { name: 'v2', upstream: upstreams.v2, weight: 0 },
        ],
        shadow: { backend: 'v3', percent: 10 },
      },
    });
    for (const started = Date.now(); Date.now() - started < RELOAD_WITHIN_MS * 2; await sleep(100)) {
      if ((await metric('gateway_models_reloads_total', { result: 'refused' })) > refused) break;
    }
    assert.ok((await metric('gateway_models_reloads_total', { result: 'refused' })) > refused);
    const output = stack.output();
    assert.match(output, /models file not usable; keeping the running configuration/);
    assert.match(output, /question-topic\.backends: every weight is 0/);
    assert.match(output, /question-topic\.shadow\.backend: 'v3' is not one of the backends \(v1, v2\)/);
    const a = await ask(QUESTIONS[1]);
    assert.deepEqual([a.status, a.backend], [200, 'v2']);
  });
});
