import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  createModelRuntime,
  createWorkerRuntime,
  listModelVersions,
  loadSentenceEncoder,
  selectBackend,
  textBatch,
  type EngineTiming,
  type ModelRuntime,
  type SentenceEncoder,
  type WorkerRuntime,
} from '../../src/index.js';
import { classify } from './classify.js';

const MODEL_DIR = fileURLToPath(new URL('../../../../models/question-topic', import.meta.url));

describe('createWorkerRuntime (engine on a worker thread, wasm)', () => {
  let versionDir: string;
  let threaded: WorkerRuntime;
  let inline: ModelRuntime;
  let encoder: SentenceEncoder;

  before(async () => {
    versionDir = `${MODEL_DIR}/${(await listModelVersions(MODEL_DIR)).at(-1) ?? ''}`;
    threaded = await createWorkerRuntime({ versionDir, backend: 'wasm', device: 'cpu' });
    await selectBackend('wasm', 'cpu');
    encoder = await loadSentenceEncoder();
    inline = await createModelRuntime(versionDir, { given: { 'sentence-encoder': encoder } });
    await Promise.all([threaded.load(), inline.load()]);
  });

  after(async () => {
    await threaded?.unload();
    await inline?.unload();
    encoder?.dispose();
  });

  it('knows its name, version and labels before loading, and its backend after', () => {
    assert.equal(threaded.name, 'question-topic');
    assert.match(threaded.version, /^\d+$/);
    assert.equal(threaded.labels?.length, 6);
    assert.equal(threaded.backend?.backend, 'wasm');
    assert.equal(threaded.info.engine, 'worker');
    assert.equal(threaded.ready(), true);
  });

  it('answers exactly what the same model answers on the main thread', async () => {
    const texts = ['What is your salary?', 'Who wrote Hamlet?', 'Where is Rome?', 'What does NASA stand for?'];
    const [fromWorker, fromMain] = await Promise.all([classify(threaded, texts), classify(inline, texts)]);
    assert.equal(fromWorker.length, texts.length);
    fromWorker.forEach((row, i) => row.forEach((p, j) => assert.ok(Math.abs(p - (fromMain[i]?.[j] ?? NaN)) < 1e-6)));
  });

  it('keeps concurrent calls apart', async () => {
    const questions = ['How many feet are in a mile?', 'Who invented the telephone?', 'Where is Mount Fuji?'];
    const answers = await Promise.all(questions.map((q) => classify(threaded, [q])));
    const alone = await classify(inline, questions);
    answers.forEach(([row], i) => assert.equal(row?.indexOf(Math.max(...row)), alone[i]?.indexOf(Math.max(...(alone[i] ?? [])))));
  });

  it('tells when its thread computed a call, inside the time the caller waited for it', async () => {
    const timings: EngineTiming[] = [];
    const sentAt = performance.timeOrigin + performance.now();
    await threaded.predict(textBatch('text', ['Who wrote Hamlet?', 'Where is Rome?']), { onTiming: (timing) => timings.push(timing) });
    const answeredAt = performance.timeOrigin + performance.now();
    assert.equal(timings.length, 1);
    const [timing] = timings as [EngineTiming];
    assert.ok(sentAt <= timing.startedAt && timing.startedAt < timing.endedAt && timing.endedAt <= answeredAt, JSON.stringify({ sentAt, timing, answeredAt }));
  });

  it('fails load with the reason when the model directory is wrong', async () => {
    const broken = await createWorkerRuntime({ versionDir, backend: 'wasm', device: 'cpu', encoderDir: '/nonexistent' });
    await assert.rejects(broken.load(), /engine worker failed to load the model: .*nonexistent/);
    assert.equal(broken.ready(), false);
  });

  it('after unload it is not ready and refuses work', async () => {
    const short = await createWorkerRuntime({ versionDir, backend: 'wasm', device: 'cpu' });
    await short.load();
    await short.unload();
    assert.equal(short.ready(), false);
    await assert.rejects(classify(short, ['Who?']), /not loaded/);
  });
});
