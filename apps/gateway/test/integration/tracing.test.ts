import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { post, startGateway, type TestGateway } from './harness.js';
import { startUpstream, type Echo, type FakeUpstream } from './upstream.js';

const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const INFER = '/v2/models/m/infer';
const BODY = { inputs: [] };

/** The spans of one trace, with their parent's span id. */
function spansOf(exporter: InMemorySpanExporter, traceId: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
}

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

/** Spans end when the response closes, just after the client has read it: wait (bounded) for `count` of them. */
async function waitForSpans(exporter: InMemorySpanExporter, traceId: string, count: number): Promise<ReadableSpan[]> {
  for (let i = 0; i < 100 && spansOf(exporter, traceId).length < count; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  return spansOf(exporter, traceId);
}

describe('tracing at the gateway (OpenTelemetry)', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  let a: FakeUpstream;
  let b: FakeUpstream;
  let gateway: TestGateway;

  before(async () => {
    [a, b] = await Promise.all([startUpstream('a'), startUpstream('b')]);
    gateway = await startGateway({ m: { upstream: `${a.url},${b.url}` } }, {}, { tracer: provider.getTracer('test') });
  });
  afterEach(() => {
    exporter.reset();
    a.mode = { kind: 'echo' };
    b.mode = { kind: 'echo' };
  });
  after(async () => {
    await gateway.close();
    await Promise.all([a.close(), b.close()]);
    await provider.shutdown();
  });

  it("records the request as a server span under the client's traceparent, and the attempt as its child, whose context the replica gets", async () => {
    const res = await post(`${gateway.url}${INFER}`, BODY, { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`, tracestate: 'vendor=x', 'x-request-id': 'req-1' });
    assert.equal(res.status, 200);
    const spans = await waitForSpans(exporter, CLIENT_TRACE, 2);
    const server = spans.find((span) => span.kind === SpanKind.SERVER);
    const attempt = spans.find((span) => span.kind === SpanKind.CLIENT);
    assert.ok(server && attempt, `a server and a client span: ${spans.map((s) => s.name).join(', ')}`);
    assert.equal(server.name, 'POST /v2/models/:model/infer');
    assert.equal(parentOf(server), CLIENT_SPAN);
    assert.equal(server.attributes['http.route'], '/v2/models/:model/infer');
    assert.equal(server.attributes['http.response.status_code'], 200);
    assert.equal(server.attributes['modeldock.model'], 'm');
    assert.equal(server.attributes['modeldock.request_id'], 'req-1');
    assert.equal(server.attributes['modeldock.backend'], 'default', 'the backend that served it');
    assert.equal(server.attributes['modeldock.backend.pinned'], undefined, 'not pinned');
    assert.equal(attempt.name, 'attempt');
    assert.equal(parentOf(attempt), server.spanContext().spanId);
    assert.equal(attempt.attributes['http.response.status_code'], 200);
    assert.equal(attempt.attributes['http.request.resend_count'], undefined, 'a first attempt is no resend');
    const echo = res.json as Echo;
    const replica = echo.served === 'a' ? a : b;
    assert.equal(attempt.attributes['modeldock.replica.id'], gateway.servedBy(replica.id));
    assert.equal(attempt.attributes['server.port'], replica.port);
    assert.equal(echo.headers.traceparent, `00-${CLIENT_TRACE}-${attempt.spanContext().spanId}-01`);
    assert.equal(echo.headers.tracestate, 'vendor=x');
    // The span covers the request: it starts no later than the attempt and ends no earlier.
    assert.ok(server.startTime[0] * 1e9 + server.startTime[1] <= attempt.startTime[0] * 1e9 + attempt.startTime[1]);
    assert.ok(server.endTime[0] * 1e9 + server.endTime[1] >= attempt.endTime[0] * 1e9 + attempt.endTime[1]);
  });

  it('records every attempt of a retried request, each on its replica with its retry number and outcome', async () => {
    a.mode = { kind: 'status', status: 503 };
    b.mode = { kind: 'status', status: 503 };
    const res = await post(`${gateway.url}${INFER}`, BODY, { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` });
    assert.equal(res.status, 503);
    const spans = await waitForSpans(exporter, CLIENT_TRACE, 3);
    const server = spans.find((span) => span.kind === SpanKind.SERVER);
    const attempts = spans.filter((span) => span.kind === SpanKind.CLIENT).sort((x, y) => Number(x.attributes['http.request.resend_count'] ?? 0) - Number(y.attributes['http.request.resend_count'] ?? 0));
    assert.ok(server);
    assert.equal(attempts.length, 2);
    assert.deepEqual(
      attempts.map((span) => [parentOf(span), span.attributes['http.request.resend_count'], span.attributes['http.response.status_code'], span.status.code]),
      [
        [server.spanContext().spanId, undefined, 503, SpanStatusCode.ERROR],
        [server.spanContext().spanId, 1, 503, SpanStatusCode.ERROR],
      ],
    );
    assert.notEqual(attempts[0]?.attributes['modeldock.replica.id'], attempts[1]?.attributes['modeldock.replica.id'], 'the retry went to the other replica');
    assert.equal(server.status.code, SpanStatusCode.ERROR);
  });

  it('names a connection failure in error.type', async () => {
    a.mode = { kind: 'reset' };
    b.mode = { kind: 'reset' };
    const res = await post(`${gateway.url}${INFER}`, BODY, { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` });
    assert.equal(res.status, 502);
    const attempts = (await waitForSpans(exporter, CLIENT_TRACE, 3)).filter((span) => span.kind === SpanKind.CLIENT);
    assert.ok(attempts.length >= 1);
    for (const attempt of attempts) assert.equal(attempt.attributes['error.type'], 'ECONNRESET');
    // Both replicas were ejected for the resets; bring them back for the next test.
    a.mode = { kind: 'echo' };
    b.mode = { kind: 'echo' };
    await gateway.upstreams.refresh();
  });

  it('starts a new trace for a request without traceparent, and records nothing of an unsampled one while passing it on unsampled', async () => {
    const fresh = await post(`${gateway.url}${INFER}`, BODY);
    assert.equal(fresh.status, 200);
    const sent = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String((fresh.json as Echo).headers.traceparent));
    assert.ok(sent, 'a sampled traceparent went to the replica');
    assert.equal((await waitForSpans(exporter, sent[1] as string, 2)).length, 2);

    exporter.reset();
    const unsampled = await post(`${gateway.url}${INFER}`, BODY, { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-00` });
    assert.equal(unsampled.status, 200);
    assert.match(String((unsampled.json as Echo).headers.traceparent), new RegExp(`^00-${CLIENT_TRACE}-[0-9a-f]{16}-00$`));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(exporter.getFinishedSpans().length, 0);
  });

  it('records a request refused before any attempt, with its status', async () => {
    const res = await post(`${gateway.url}/v2/models/unknown/infer`, BODY, { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` });
    assert.equal(res.status, 404);
    const [server, ...others] = await waitForSpans(exporter, CLIENT_TRACE, 1);
    assert.equal(others.length, 0);
    assert.equal(server?.attributes['http.response.status_code'], 404);
    assert.equal(server?.status.code, SpanStatusCode.UNSET, 'a 4xx is the client\'s, not an error of the server span');
  });
});

describe('tracing off at the gateway', () => {
  let replica: FakeUpstream;
  let gateway: TestGateway;
  before(async () => {
    replica = await startUpstream('a');
    gateway = await startGateway({ m: { upstream: replica.url } });
  });
  after(async () => {
    await gateway.close();
    await replica.close();
  });

  it("passes the client's traceparent and tracestate on unchanged", async () => {
    const traceparent = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`;
    const res = await post(`${gateway.url}${INFER}`, BODY, { traceparent, tracestate: 'vendor=x' });
    assert.equal((res.json as Echo).headers.traceparent, traceparent);
    assert.equal((res.json as Echo).headers.tracestate, 'vendor=x');
  });
});
