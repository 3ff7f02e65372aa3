import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { rawRequest, startServerProcess, type LogLine } from '@modeldock/model-server/testing';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const START_TIMEOUT_MS = 180_000;

/** Starts the built service on a free port; `ready` resolves once it logs that it is warm. */
function startService(env: Record<string, string>) {
  return startServerProcess(MAIN, { MODEL_PORT: '0', MODEL_HOST: '127.0.0.1', MODEL_BACKEND: 'wasm', ...env }, START_TIMEOUT_MS);
}

describe('question-topic service process (real model, wasm, real sockets)', () => {
  let child: ChildProcess;
  let exited: Promise<number | null>;
  let base: string;
  let logs: LogLine[];

  before(async () => {
    const service = startService({ MODEL_LOG_LEVEL: 'info' });
    child = service.child;
    exited = service.exited;
    const { port } = await service.ready;
    logs = service.logs;
    base = `http://127.0.0.1:${port}`;
  });

  after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('logs the chosen backend and the wasm fallback reason', () => {
    const selected = logs.find((line) => line.msg === 'TF.js backend selected');
    assert.equal(selected?.backend, 'wasm');
  });

  it('answers the seed example: "What is your salary?" is NUM', async () => {
    const res = await fetch(`${base}/predict_topic`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rawtext_list: ['What is your salary?', 'Who was the first president of the USA?'] }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { output: Record<string, number>[]; topics: string[] };
    assert.deepEqual(body.topics, ['NUM', 'HUM']);
    const [first] = body.output;
    assert.ok(first);
    assert.equal(Object.entries(first).sort((a, b) => b[1] - a[1])[0]?.[0], 'NUM');
  });

  it('reports the backend in OIP model metadata', async () => {
    const body = (await (await fetch(`${base}/v2/models/question-topic`)).json()) as { parameters: { backend: string } };
    assert.equal(body.parameters.backend, 'wasm');
  });

  it('answers the same question the same way through OIP, TF Serving and the seed route', async () => {
    const question = 'Where is the Eiffel Tower?';
    const post = (path: string, body: unknown) =>
      fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify(body) }).then((r) => r.json() as Promise<Record<string, unknown>>);
    const oip = await post('/v2/models/question-topic/infer', {
      inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: [question] }],
    });
    const tfs = await post('/v1/models/question-topic:predict', { instances: [question] });
    const seed = await post('/predict_topic', { rawtext_list: [question] });
    const labels = [
      (oip.outputs as { name: string; data: string[] }[]).find((o) => o.name === 'label')?.data[0],
      (tfs.predictions as { label: string }[])[0]?.label,
      (seed.topics as string[])[0],
    ];
    assert.deepEqual(labels, ['LOC', 'LOC', 'LOC']);
  });

  it('serves the version labels of its model-settings.json (stable → 1, canary → 2)', async () => {
    for (const [label, version] of [['stable', '1'], ['canary', '2']]) {
      const metadata = (await (await fetch(`${base}/v1/models/question-topic/labels/${label}/metadata`)).json()) as { model_spec: { version: string } };
      assert.equal(metadata.model_spec.version, version);
      const res = await fetch(`${base}/v1/models/question-topic/labels/${label}:predict`, { method: 'POST', body: JSON.stringify({ instances: ['Where is Rome?'] }) });
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { predictions: { label: string }[] }).predictions[0]?.label, 'LOC');
    }
    assert.equal((await fetch(`${base}/v1/models/question-topic/labels/beta:predict`, { method: 'POST', body: '{"instances":["a"]}' })).status, 404);
  });

  it("answers Node's own refusals with JSON bodies: a missing Host, an Expect other than 100-continue, a malformed request", async () => {
    const cases: [string, number, RegExp][] = [
      ['GET /v2/health/live HTTP/1.1\r\nConnection: close\r\n\r\n', 400, /missing Host header/],
      ['POST /predict_topic HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\n{}', 417, /100-continue/],
      ['GET /v2/health/live HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 400, /malformed HTTP request/],
    ];
    for (const [head, status, message] of cases) {
      const answer = await rawRequest(Number(new URL(base).port), head);
      assert.match(answer, new RegExp(`^HTTP/1\\.1 ${status} `), head);
      assert.match(answer, /content-type: application\/json/i, head);
      assert.match(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error, message, head);
    }
  });

  it('drains on SIGTERM: in-flight requests complete, then the process exits 0', async () => {
    const questions = Array.from({ length: 32 }, (_, i) => `How many people lived in city number ${i}?`);
    // Open the connections first: a connection still in the listen backlog when the server closes
    // is reset by the kernel, which is the caller's (or gateway's) retry to handle, not a drain.
    // Six slow requests at once make the client hold six connections open for the six below.
    const post = () => fetch(`${base}/predict_topic`, { method: 'POST', body: JSON.stringify({ rawtext_list: questions }) });
    await Promise.all(Array.from({ length: 6 }, () => post().then((res) => res.arrayBuffer())));
    const inFlight = Array.from({ length: 6 }, () =>
      post().then(
        (res) => res.status,
        (err: Error & { cause?: Error }) => `${err.message}: ${err.cause?.message ?? ''}`,
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    child.kill('SIGTERM');
    assert.deepEqual(await Promise.all(inFlight), [200, 200, 200, 200, 200, 200]);
    assert.equal(await exited, 0);
  });
});

describe('question-topic service process with the engine on the main thread (MODEL_ENGINE_THREAD=main)', () => {
  it('serves the seed example, reports its engine, and exits 0 on SIGTERM', async () => {
    const service = startService({ MODEL_ENGINE_THREAD: 'main' });
    try {
      const { port, logs } = await service.ready;
      assert.equal(logs.find((line) => line.msg === 'listening')?.engineThread, 'main');
      const res = await fetch(`http://127.0.0.1:${port}/predict_topic`, {
        method: 'POST',
        body: JSON.stringify({ rawtext_list: ['What is your salary?'] }),
      });
      assert.equal(res.status, 200);
      assert.deepEqual(((await res.json()) as { topics: string[] }).topics, ['NUM']);
      const metadata = (await (await fetch(`http://127.0.0.1:${port}/v2/models/question-topic`)).json()) as {
        parameters: { engine: string; backend: string };
      };
      assert.deepEqual([metadata.parameters.engine, metadata.parameters.backend], ['main', 'wasm']);
      service.child.kill('SIGTERM');
      assert.equal(await service.exited, 0);
    } finally {
      if (service.child.exitCode === null) service.child.kill('SIGKILL');
    }
  });
});

describe('question-topic service process serving two versions (MODEL_VERSIONS=all)', () => {
  it('loads both, lists them, and answers on each versioned path', async () => {
    const modelDir = await mkdtemp(path.join(tmpdir(), 'modeldock-versions-'));
    const source = fileURLToPath(new URL('../../../../models/question-topic/1', import.meta.url));
    await cp(source, path.join(modelDir, '1'), { recursive: true });
    await cp(source, path.join(modelDir, '2'), { recursive: true });
    const metadataFile = path.join(modelDir, '2', 'metadata.json');
    const metadata = JSON.parse(await readFile(metadataFile, 'utf8')) as { version: string };
    await writeFile(metadataFile, JSON.stringify({ ...metadata, version: '2' }));
    const service = startService({ MODEL_DIR: modelDir, MODEL_VERSIONS: 'all' });
    try {
      const { port } = await service.ready;
      const base = `http://127.0.0.1:${port}`;
      const model = (await (await fetch(`${base}/v2/models/question-topic`)).json()) as { versions: string[] };
      assert.deepEqual(model.versions, ['1', '2']);
      for (const version of ['1', '2']) {
        const res = await fetch(`${base}/v1/models/question-topic/versions/${version}:predict`, {
          method: 'POST',
          body: JSON.stringify({ instances: ['How many people live in Tokyo?'] }),
        });
        assert.equal(res.status, 200);
        assert.equal(((await res.json()) as { predictions: { label: string }[] }).predictions[0]?.label, 'NUM');
      }
      const latest = (await (
        await fetch(`${base}/predict_topic`, { method: 'POST', body: JSON.stringify({ rawtext_list: ['Who?'] }) })
      ).json()) as { model_version: string };
      assert.equal(latest.model_version, '2');
      service.child.kill('SIGTERM');
      assert.equal(await service.exited, 0);
    } finally {
      if (service.child.exitCode === null) service.child.kill('SIGKILL');
      await rm(modelDir, { recursive: true, force: true });
    }
  });
});
