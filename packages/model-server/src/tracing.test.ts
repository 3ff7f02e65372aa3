// OpenTelemetry spans of a model server (issue 18 item 3): the request's server span under the caller's
// traceparent, its wait in the batch queue and the engine call its rows ran in, linked to the requests it shared it with.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import supertest from 'supertest';
import { createTestApp, FakeClassifier } from './testing.js';

const PATH = '/v2/models/question-topic/infer';
const infer = (texts: string[]) => ({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [texts.length], data: texts }] });
/** A client's (or the gateway attempt's) span context, per trace. */
const traceparent = (trace: string, sampled = true) => `00-${trace.padStart(32, '0')}-00f067aa0ba902b7-${sampled ? '01' : '00'}`;

function tracedApp(options: Parameters<typeof createTestApp>[0] = {}) {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const runtime = new FakeClassifier();
  return { exporter, runtime, ...createTestApp({ runtimes: [runtime], tracer: provider.getTracer('test'), ...options }) };
}

/** A trace's spans by name, once `count` of them have ended (bounded wait: spans end as the response closes). */
async function spansOf(exporter: InMemorySpanExporter, trace: string, count: number): Promise<Map<string, ReadableSpan[]>> {
  const id = trace.padStart(32, '0');
  const mine = () => exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === id);
  for (let i = 0; i < 100 && mine().length < count; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  const byName = new Map<string, ReadableSpan[]>();
  for (const span of mine()) byName.set(span.name, [...(byName.get(span.name) ?? []), span]);
  return byName;
}

const one = (spans: Map<string, ReadableSpan[]>, name: string): ReadableSpan => {
  const found = spans.get(name);
  assert.equal(found?.length, 1, `one ${name} span: ${[...spans.keys()].join(', ')}`);
  return found[0] as ReadableSpan;
};
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const ms = (time: [number, number]) => time[0] * 1000 + time[1] / 1e6;

const waitForCalls = async (runtime: FakeClassifier, calls: number) => {
  for (let i = 0; i < 200 && runtime.calls.length < calls; i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
};

describe('tracing in the model server', () => {
  it("records the request under the caller's span, its wait in the queue, and the engine call as the queue's child", async () => {
    const { app, exporter } = tracedApp();
    const res = await supertest(app).post(PATH).set('traceparent', traceparent('a1')).set('x-request-id', 'req-7').send(infer(['Who wrote Hamlet?', 'Where is Rome?']));
    assert.equal(res.status, 200);
    const spans = await spansOf(exporter, 'a1', 3);
    const server = one(spans, 'POST /v2/models/:name{/versions/:version}/infer');
    const queue = one(spans, 'queue');
    const engine = one(spans, 'engine');
    assert.equal(server.kind, SpanKind.SERVER);
    assert.equal(parentOf(server), '00f067aa0ba902b7');
    assert.equal(parentOf(queue), server.spanContext().spanId);
    assert.equal(parentOf(engine), queue.spanContext().spanId);
    assert.deepEqual(
      {
        route: server.attributes['http.route'],
        status: server.attributes['http.response.status_code'],
        requestId: server.attributes['modeldock.request_id'],
        model: server.attributes['modeldock.model'],
        version: server.attributes['modeldock.model.version'],
        rows: server.attributes['modeldock.rows'],
      },
      { route: '/v2/models/:name{/versions/:version}/infer', status: 200, requestId: 'req-7', model: 'question-topic', version: '7', rows: 2 },
    );
    assert.deepEqual(
      [engine.attributes['modeldock.batch.size'], engine.attributes['modeldock.batch.parts'], engine.attributes['modeldock.engine.rows'], engine.attributes['modeldock.model.version']],
      [2, 1, 2, '7'],
    );
    assert.equal(engine.links.length, 0, 'nobody shared the call');
    // The queue wait ends where the engine call begins, and both lie within the request.
    assert.ok(ms(queue.endTime) <= ms(engine.startTime) + 0.001);
    assert.ok(ms(server.startTime) <= ms(queue.startTime) && ms(engine.endTime) <= ms(server.endTime));
  });

  it('gives every request that shared an engine call its own engine span, linked to the others\' queue spans', async () => {
    const { app, exporter, runtime } = tracedApp({ maxBatchSize: 8 });
    runtime.hold();
    // then() sends it now (supertest sends lazily): the blocker holds the engine while the two others queue together.
    const blocker = supertest(app).post(PATH).send(infer(['blocker'])).then((res) => res.status);
    await waitForCalls(runtime, 1);
    const a = supertest(app).post(PATH).set('traceparent', traceparent('b1')).send(infer(['Who?', 'What?'])).then((res) => res.status);
    const b = supertest(app).post(PATH).set('traceparent', traceparent('b2')).send(infer(['Where?'])).then((res) => res.status);
    await new Promise((resolve) => setTimeout(resolve, 50));
    runtime.release();
    assert.deepEqual(await Promise.all([blocker, a, b]), [200, 200, 200]);
    assert.equal(runtime.calls.length, 2, 'a and b shared the second call');
    const [spansA, spansB] = await Promise.all([spansOf(exporter, 'b1', 3), spansOf(exporter, 'b2', 3)]);
    const [queueA, engineA, queueB, engineB] = [one(spansA, 'queue'), one(spansA, 'engine'), one(spansB, 'queue'), one(spansB, 'engine')];
    assert.equal(parentOf(engineA), queueA.spanContext().spanId);
    assert.equal(parentOf(engineB), queueB.spanContext().spanId);
    for (const engine of [engineA, engineB]) {
      assert.equal(engine.attributes['modeldock.batch.size'], 3);
      assert.equal(engine.attributes['modeldock.batch.parts'], 2);
    }
    assert.deepEqual([engineA.attributes['modeldock.engine.rows'], engineB.attributes['modeldock.engine.rows']], [2, 1]);
    assert.deepEqual([ms(engineA.startTime), ms(engineA.endTime)], [ms(engineB.startTime), ms(engineB.endTime)], 'one call, one time');
    assert.deepEqual(
      engineA.links.map((link) => [link.context.spanId, link.attributes?.['modeldock.engine.rows']]),
      [[queueB.spanContext().spanId, 1]],
    );
    assert.deepEqual(
      engineB.links.map((link) => link.context.spanId),
      [queueA.spanContext().spanId],
    );
    assert.ok(ms(queueA.endTime) - ms(queueA.startTime) >= 40, 'their wait behind the blocker shows in the queue span');
  });

  it('records rows that left the queue unserved with why, and an engine failure as an error', async () => {
    const { app, exporter, runtime } = tracedApp({ maxBatchSize: 1 });
    runtime.hold();
    const blocker = supertest(app).post(PATH).send(infer(['first'])).then((res) => res.status);
    await waitForCalls(runtime, 1);
    const late = await supertest(app).post(PATH).set('traceparent', traceparent('c1')).set('x-modeldock-deadline-ms', '30').send(infer(['late']));
    assert.equal(late.status, 504);
    runtime.release();
    assert.equal(await blocker, 200);
    const lateSpans = await spansOf(exporter, 'c1', 2);
    const queue = one(lateSpans, 'queue');
    assert.equal(queue.attributes['error.type'], 'deadline');
    assert.equal(queue.status.code, SpanStatusCode.ERROR);
    assert.equal(lateSpans.get('engine'), undefined);
    assert.equal(one(lateSpans, 'POST /v2/models/:name{/versions/:version}/infer').status.code, SpanStatusCode.ERROR);

    const failed = await supertest(app).post(PATH).set('traceparent', traceparent('c2')).send(infer(['explode']));
    assert.equal(failed.status, 500);
    const engine = one(await spansOf(exporter, 'c2', 3), 'engine');
    assert.equal(engine.status.code, SpanStatusCode.ERROR);
    assert.equal(engine.status.message, 'engine failure');
  });

  it('records nothing of an unsampled trace, nor of probes and scrapes', async () => {
    const { app, exporter } = tracedApp();
    assert.equal((await supertest(app).post(PATH).set('traceparent', traceparent('d1', false)).send(infer(['Who?']))).status, 200);
    assert.equal((await supertest(app).get('/v2/health/ready')).status, 200);
    assert.equal((await supertest(app).get('/metrics')).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(
      exporter.getFinishedSpans().map((span) => span.name),
      [],
    );
  });
});
