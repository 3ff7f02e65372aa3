// The autoscaling signal: rows a replica has accepted and not answered yet, as the queue length plus the rows in
// the running engine call. deploy/k8s scales each model on their sum, so both must exist while idle (a query over
// a metric with no series returns nothing, which KEDA reports as an error) and must add up under load.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import supertest from 'supertest';
import { createTestApp, FakeClassifier } from './testing.js';

const infer = (texts: string[]) => ({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [texts.length], data: texts }] });

/** The value of `metric` for question-topic version 7 (the fake's), or undefined without that series. */
function sample(text: string, metric: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${metric}{`) && l.includes('model="question-topic"') && l.includes('version="7"'));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function until(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.fail('condition not met within 1 s');
}

describe('GET /metrics: rows in flight', () => {
  it('exports the queue length and the engine rows at 0 before any request', async () => {
    const { app } = createTestApp();
    const res = await supertest(app).get('/metrics');
    assert.equal(res.status, 200);
    assert.equal(sample(res.text, 'modeldock_batch_queue_length'), 0);
    assert.equal(sample(res.text, 'modeldock_engine_rows_in_flight'), 0);
  });

  it('counts the rows of the running engine call, and the queued rest, until they are answered', async () => {
    const runtime = new FakeClassifier();
    const { app, registry } = createTestApp({ runtimes: [runtime], maxBatchSize: 4 });
    runtime.hold();
    const first = supertest(app).post('/v2/models/question-topic/infer').send(infer(['a?', 'b?', 'c?']));
    const firstDone = first.then((res) => res.status);
    await until(async () => runtime.calls.length === 1);
    const second = supertest(app).post('/v2/models/question-topic/infer').send(infer(['d?', 'e?'])).then((res) => res.status);
    await until(async () => sample(await registry.metrics(), 'modeldock_batch_queue_length') === 2);
    const busy = await registry.metrics();
    assert.equal(sample(busy, 'modeldock_engine_rows_in_flight'), 3);
    runtime.release();
    assert.deepEqual(await Promise.all([firstDone, second]), [200, 200]);
    const idle = await registry.metrics();
    assert.equal(sample(idle, 'modeldock_engine_rows_in_flight'), 0);
    assert.equal(sample(idle, 'modeldock_batch_queue_length'), 0);
  });
});
