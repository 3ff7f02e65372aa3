import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { loadSentenceEncoder, selectBackend } from '@modeldock/model-runtime';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const MODEL_DIR = `${REPO}models/embedding-topic`;
const START_TIMEOUT_MS = 60_000;
const LABELS = ['ABBR', 'DESC', 'ENTY', 'HUM', 'LOC', 'NUM'];
/** Low on purpose, so the "too many elements" case needs no huge body. */
const MAX_TENSOR_ELEMENTS = 20_000;
/** Rows per request when scoring TREC_10: 32 × 512 elements stay under the limit, the body under 1 MB. */
const CHUNK = 32;

interface LogLine {
  msg?: string;
  port?: number;
}

/** Starts the built generic server on a free port; resolves once it logs that it is warm. */
function startServer(env: Record<string, string>) {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      MODEL_DIR,
      MODEL_PORT: '0',
      MODEL_HOST: '127.0.0.1',
      MODEL_BACKEND: 'wasm',
      // 'info': readiness is read from the log.
      MODEL_LOG_LEVEL: 'info',
      MODEL_MAX_TENSOR_ELEMENTS: String(MAX_TENSOR_ELEMENTS),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the model server did not become ready in time')), START_TIMEOUT_MS);
    let port = 0;
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const entry = JSON.parse(line) as LogLine;
      if (entry.msg === 'listening') port = entry.port ?? 0;
      if (entry.msg === 'model loaded and warm: ready') {
        clearTimeout(timer);
        resolve(port);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the model server exited early with ${code}`));
    });
  });
  return { child, ready };
}

/** A TREC `.label` file as `[coarse label, question]` pairs. */
function readTrec(file: string): [string, string][] {
  return readFileSync(file, 'latin1')
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
    .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(' ') + 1).trim()]);
}

const argmax = (row: readonly number[]) => row.indexOf(Math.max(...row));

describe('embedding-topic on the generic model server (real model, wasm, real sockets)', () => {
  const clear: [string, string][] = [
    ['Who wrote Hamlet?', 'HUM'],
    ['Where is the Eiffel Tower?', 'LOC'],
    ['How many feet are in a mile?', 'NUM'],
    ['What does NASA stand for?', 'ABBR'],
    ['What is the population of Japan?', 'NUM'],
    ['Who was the first president of the United States?', 'HUM'],
  ];
  const test = readTrec(`${REPO}data/trec/TREC_10.label`);
  let child: ChildProcess;
  let base: string;
  /** 512 numbers per question, as JSON numbers: what a client that ran the encoder would send. */
  let clearRows: number[][];
  let testRows: number[][];
  let recordedAccuracy: number;

  before(async () => {
    const server = startServer({});
    child = server.child;
    // Observed now, awaited after the embeddings: a failed start must not be an unhandled rejection meanwhile.
    server.ready.catch(() => undefined);
    // The embeddings are computed here, with the same encoder the model was trained on, while the server starts.
    await selectBackend('wasm', 'cpu');
    const encoder = await loadSentenceEncoder();
    const embed = async (texts: string[]) => {
      const rows: number[][] = [];
      for (let start = 0; start < texts.length; start += 64) {
        const tensor = await encoder.embed(texts.slice(start, start + 64));
        rows.push(...(await tensor.array()));
        tensor.dispose();
      }
      return rows;
    };
    try {
      clearRows = await embed(clear.map(([text]) => text));
      testRows = await embed(test.map(([, text]) => text));
    } finally {
      encoder.dispose();
    }
    const metadata = JSON.parse(readFileSync(`${MODEL_DIR}/1/metadata.json`, 'utf8')) as { evaluation: { testAccuracy: number } };
    recordedAccuracy = metadata.evaluation.testAccuracy;
    base = `http://127.0.0.1:${await server.ready}`;
  });

  after(() => {
    if (child?.exitCode === null) child.kill('SIGKILL');
  });

  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const infer = (inputs: unknown[]) => post('/v2/models/embedding-topic/infer', { inputs });
  const oipTensor = (rows: number[][], nested = false) => ({
    name: 'embedding',
    datatype: 'FP32',
    shape: [rows.length, rows[0]?.length ?? 0],
    data: nested ? rows : rows.flat(),
  });
  /** OIP flat `probabilities` data as rows of six. */
  const probabilityRows = (body: Record<string, unknown>): number[][] => {
    const output = (body.outputs as { name: string; datatype: string; shape: number[]; data: number[] }[]).find((o) => o.name === 'probabilities');
    assert.ok(output, 'no probabilities output');
    assert.equal(output.datatype, 'FP32');
    const [rows = 0, width = 0] = output.shape;
    assert.equal(width, 6);
    return Array.from({ length: rows }, (_, i) => output.data.slice(i * 6, (i + 1) * 6));
  };

  describe('GET /v2/models/embedding-topic', () => {
    it('describes the tfjs signature, labels and evaluation', async () => {
      const res = await fetch(`${base}/v2/models/embedding-topic`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(body.name, 'embedding-topic');
      assert.deepEqual(body.versions, ['1']);
      assert.deepEqual(body.inputs, [{ name: 'embedding', datatype: 'FP32', shape: [-1, 512] }]);
      assert.deepEqual(body.outputs, [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 6] }]);
      const parameters = body.parameters as { labels: string[]; kind: string; backend: string; evaluation: { testAccuracy: number } };
      assert.deepEqual(parameters.labels, LABELS);
      assert.equal(parameters.kind, 'tfjs');
      assert.equal(parameters.backend, 'wasm');
      assert.equal(parameters.evaluation.testAccuracy, recordedAccuracy);
    });
  });

  describe('POST /v2/models/embedding-topic/infer', () => {
    it('labels clear questions with their topics, from flat and from nested data alike', async () => {
      const flat = await infer([oipTensor(clearRows)]);
      const nested = await infer([oipTensor(clearRows, true)]);
      assert.equal(flat.status, 200);
      assert.equal(nested.status, 200);
      assert.deepEqual((flat.body.parameters as { labels: string[] }).labels, LABELS);
      const rows = probabilityRows(flat.body);
      assert.deepEqual(rows.map((row) => LABELS[argmax(row)]), clear.map(([, label]) => label));
      for (const row of rows) assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-4);
      assert.deepEqual(probabilityRows(nested.body), rows);
    });

    it('scores TREC_10 within half a point of the accuracy recorded in metadata', async () => {
      const chunks = Array.from({ length: Math.ceil(testRows.length / CHUNK) }, (_, i) => testRows.slice(i * CHUNK, (i + 1) * CHUNK));
      // One after another: one client's share of the queue is 256 rows (429 beyond it).
      const answers = [];
      for (const rows of chunks) answers.push(await infer([oipTensor(rows)]));
      const predicted = answers.flatMap((answer) => {
        assert.equal(answer.status, 200);
        return probabilityRows(answer.body).map((row) => LABELS[argmax(row)]);
      });
      assert.equal(predicted.length, test.length);
      const accuracy = predicted.filter((label, i) => label === test[i]?.[0]).length / test.length;
      assert.ok(Math.abs(accuracy - recordedAccuracy) <= 0.005, `HTTP accuracy ${accuracy} vs recorded ${recordedAccuracy}`);
    });

    const refusals: [string, () => unknown[], RegExp][] = [
      ['a wrong datatype', () => [{ ...oipTensor(clearRows), datatype: 'FP64' }], /input 'embedding' must have datatype FP32, got 'FP64'/],
      ['INT32 for an FP32 input', () => [{ ...oipTensor([[...Array(512).keys()]]), datatype: 'INT32' }], /must have datatype FP32, got 'INT32'/],
      ['a shape [n, 511]', () => [oipTensor(clearRows.map((row) => row.slice(0, 511)))], /input 'embedding' must have shape \[n, 512\], got \[6, 511\]/],
      ['fewer elements than the shape', () => [{ ...oipTensor(clearRows), data: clearRows.flat().slice(1) }], /has shape \[6, 512\] \(3072 elements\) but 3071 elements/],
      ['non-numbers', () => [{ ...oipTensor(clearRows), data: ['0.1', ...clearRows.flat().slice(1)] }], /input 'embedding': element \[0, 0\] must be a number, got '0.1'/],
      ['null among the numbers', () => [{ ...oipTensor(clearRows), data: [...clearRows.flat().slice(1), null] }], /input 'embedding': element \[5, 511\] must be a number, got null/],
      ['too many elements', () => [{ name: 'embedding', datatype: 'FP32', shape: [40, 512], data: new Array(40 * 512).fill(0) }], /more than 20000 tensor elements/],
      ['an unknown input', () => [{ ...oipTensor(clearRows), name: 'text' }], /unknown input 'text'; inputs are 'embedding'/],
    ];
    for (const [what, inputs, message] of refusals) {
      it(`answers 400 {"error"} for ${what}`, async () => {
        const { status, body } = await infer(inputs());
        assert.equal(status, 400);
        assert.deepEqual(Object.keys(body), ['error']);
        assert.equal(typeof body.error, 'string');
        assert.match(body.error as string, message);
      });
    }
  });

  describe('POST /v1/models/embedding-topic:predict', () => {
    it('answers rows given as plain values and as {"embedding": ...} objects, equal to OIP', async () => {
      const oip = probabilityRows((await infer([oipTensor(clearRows)])).body);
      const plain = await post('/v1/models/embedding-topic:predict', { instances: clearRows });
      const named = await post('/v1/models/embedding-topic:predict', { instances: clearRows.map((embedding) => ({ embedding })) });
      assert.equal(plain.status, 200);
      assert.equal(named.status, 200);
      assert.deepEqual(plain.body.predictions, oip);
      assert.deepEqual(named.body.predictions, oip);
    });

    it('answers the columnar format with outputs', async () => {
      const oip = probabilityRows((await infer([oipTensor(clearRows)])).body);
      const columnar = await post('/v1/models/embedding-topic:predict', { inputs: { embedding: clearRows } });
      assert.equal(columnar.status, 200);
      assert.deepEqual(columnar.body.outputs, oip);
    });

    it('answers 400 {"error"} for rows of 511 numbers and for strings', async () => {
      for (const instances of [clearRows.map((row) => row.slice(0, 511)), ['Who wrote Hamlet?']]) {
        const { status, body } = await post('/v1/models/embedding-topic:predict', { instances });
        assert.equal(status, 400);
        assert.deepEqual(Object.keys(body), ['error']);
        assert.match(body.error as string, /input 'embedding' must have shape \[n, 512\]/);
      }
    });
  });

  describe('POST /v1/models/embedding-topic:classify', () => {
    it('answers [label, score] pairs for every example', async () => {
      const { status, body } = await post('/v1/models/embedding-topic:classify', { examples: clearRows.map((embedding) => ({ embedding })) });
      assert.equal(status, 200);
      const results = body.results as [string, number][][];
      assert.equal(results.length, clear.length);
      results.forEach((pairs, i) => {
        assert.deepEqual(pairs.map(([label]) => label), LABELS);
        const best = pairs.reduce((a, b) => (b[1] > a[1] ? b : a));
        assert.equal(best[0], clear[i]?.[1]);
      });
    });
  });
});
