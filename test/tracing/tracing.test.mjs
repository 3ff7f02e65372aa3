// One request's trace, as a tracing backend receives it: a `pnpm start` stack of the test's own on free ports (the
// gateway and question-topic on the wasm backend, the real model) exports its spans over OTLP/HTTP (JSON) to a
// receiver in this process, configured by the standard OTEL_* variables alone. The client's traceparent is the root's
// parent; the tree is gateway request → attempt → service request → queue → engine; and two requests whose rows
// shared an engine call each have their own engine span, linked to the other's queue span.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startStack } from '@modeldock/scripts/stack';

/** How long the first request waits for company in the batcher: long enough that a second one sent with it always joins. */
const BATCH_DELAY_MS = 1500;
const WAIT_FOR_SPANS_MS = 60_000;
const SPAN_KIND = { SERVER: 2, CLIENT: 3 };

/** An OTLP/HTTP receiver (JSON encoding, `POST /v1/traces`): every span it got, with its service's name. */
async function startReceiver() {
  const spans = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !String(req.headers['content-type']).startsWith('application/json')) {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      for (const resourceSpans of body.resourceSpans ?? []) {
        const service = attributesOf(resourceSpans.resource?.attributes)['service.name'];
        for (const scope of resourceSpans.scopeSpans ?? []) for (const span of scope.spans ?? []) spans.push({ ...span, service, attributes: attributesOf(span.attributes) });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${server.address().port}`, spans, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** OTLP's `[{key, value: {stringValue | intValue | doubleValue | boolValue}}]` as a plain object. */
function attributesOf(list = []) {
  return Object.fromEntries(
    list.map(({ key, value }) => [key, value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : (value.doubleValue ?? value.boolValue))]),
  );
}

const durationMs = (span) => Number(BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano)) / 1e6;
const traceparentOf = (traceId, spanId, flags = '01') => `00-${traceId}-${spanId}-${flags}`;
const hex = (bytes) => randomBytes(bytes).toString('hex');

/** Attributes worth reading in the rendered tree. */
const SHOWN = ['http.response.status_code', 'modeldock.replica.id', 'modeldock.rows', 'modeldock.queue.rows', 'modeldock.batch.size', 'modeldock.batch.parts', 'modeldock.engine.rows', 'modeldock.engine.handoff_ms'];

/** The tree under `root` as indented lines with durations, for the test's report. */
function render(spans, root, depth = 0) {
  const shown = SHOWN.filter((key) => root.attributes[key] !== undefined).map((key) => `${key.replace(/^(modeldock|http)\./, '')}=${root.attributes[key]}`);
  const links = root.links?.length ? ` links=${root.links.length}` : '';
  const line = `${'  '.repeat(depth)}${root.service}: ${root.name} ${durationMs(root).toFixed(1)} ms ${shown.join(' ')}${links}`;
  const children = spans.filter((span) => span.parentSpanId === root.spanId).sort((a, b) => (BigInt(a.startTimeUnixNano) < BigInt(b.startTimeUnixNano) ? -1 : 1));
  return [line, ...children.flatMap((child) => render(spans, child, depth + 1))];
}

describe('a request traced from the gateway to the engine (OTLP/HTTP)', () => {
  let receiver;
  let stack;

  before(async () => {
    receiver = await startReceiver();
    stack = await startStack({
      only: ['question-topic'],
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '100',
        MODEL_BACKEND: 'wasm',
        MODEL_MAX_BATCH_DELAY_MS: String(BATCH_DELAY_MS),
      },
    });
  });
  after(async () => {
    await stack?.stop();
    await receiver?.close();
  });

  /** The spans of `traceId` once `done(spans)` holds (bounded wait: spans leave each process in batches). */
  async function spansOf(traceId, done) {
    const deadline = Date.now() + WAIT_FOR_SPANS_MS;
    for (;;) {
      const spans = receiver.spans.filter((span) => span.traceId === traceId);
      if (done(spans)) return spans;
      if (Date.now() > deadline) assert.fail(`trace ${traceId}: not all its spans arrived (${spans.map((s) => `${s.service}/${s.name}`).join(', ') || 'none'})\n${stack.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('records gateway request → attempt → service request → queue → engine under the client\'s span, and links requests that shared the engine call', async (t) => {
    const clients = [
      { traceId: hex(16), spanId: hex(8), texts: ['Who wrote Hamlet?', 'What is the capital of Italy?'] },
      { traceId: hex(16), spanId: hex(8), texts: ['How far is the Moon?'] },
    ];
    // Sent together: the first waits in the batcher for company, and the second joins its engine call.
    const answers = await Promise.all(
      clients.map(({ traceId, spanId, texts }) =>
        fetch(`${stack.gateway}/v2/models/question-topic/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', traceparent: traceparentOf(traceId, spanId), tracestate: 'client=test' },
          body: JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [texts.length], data: texts }] }),
          signal: AbortSignal.timeout(60_000),
        }),
      ),
    );
    assert.deepEqual(
      answers.map((res) => res.status),
      [200, 200],
    );
    const complete = (spans) => ['gateway', 'attempt', 'service', 'queue', 'engine'].every((_, i) => spans.length > i) && spans.some((s) => s.name === 'engine') && spans.some((s) => s.service === 'modeldock-gateway' && s.kind === SPAN_KIND.SERVER);
    const [first, second] = await Promise.all(clients.map(({ traceId }) => spansOf(traceId, complete)));

    const tree = (spans, client) => {
      const gateway = spans.find((s) => s.service === 'modeldock-gateway' && s.kind === SPAN_KIND.SERVER);
      assert.ok(gateway, 'the gateway request span');
      const child = (parent, predicate, what) => {
        const found = spans.filter((s) => s.parentSpanId === parent.spanId && predicate(s));
        assert.equal(found.length, 1, `one ${what} under ${parent.name}: ${spans.map((s) => `${s.service}/${s.name}<-${s.parentSpanId}`).join(', ')}`);
        return found[0];
      };
      const attempt = child(gateway, (s) => s.name === 'attempt' && s.kind === SPAN_KIND.CLIENT, 'attempt');
      const service = child(attempt, (s) => s.service === 'modeldock-question-topic' && s.kind === SPAN_KIND.SERVER, 'service request');
      const queue = child(service, (s) => s.name === 'queue', 'queue');
      const engine = child(queue, (s) => s.name === 'engine', 'engine');
      assert.equal(gateway.parentSpanId, client.spanId, "the client's span is the root's parent");
      assert.equal(gateway.name, 'POST /v2/models/:model/infer');
      assert.equal(service.traceState, 'client=test', "the client's tracestate travels with the trace");
      return { gateway, attempt, service, queue, engine };
    };
    const a = tree(first, clients[0]);
    const b = tree(second, clients[1]);

    assert.equal(a.gateway.attributes['http.response.status_code'], 200);
    assert.equal(a.attempt.attributes['http.response.status_code'], 200);
    assert.equal(a.attempt.attributes['server.port'], stack.ports.get(8501), 'the replica the attempt went to');
    assert.equal(a.attempt.attributes['modeldock.replica.id'], answers[0].headers.get('x-served-by'));
    assert.equal(a.service.attributes['http.route'], '/v2/models/:name{/versions/:version}/infer');
    assert.equal(a.service.attributes['modeldock.rows'], 2);
    for (const [{ engine }, rows] of [
      [a, 2],
      [b, 1],
    ]) {
      assert.equal(engine.attributes['modeldock.model'], 'question-topic');
      assert.equal(engine.attributes['modeldock.model.version'], '1');
      assert.equal(engine.attributes['modeldock.batch.size'], 3, 'both requests in one engine call');
      assert.equal(engine.attributes['modeldock.batch.parts'], 2);
      assert.equal(engine.attributes['modeldock.engine.rows'], rows);
      assert.ok(durationMs(engine) > 0);
    }
    assert.deepEqual(
      a.engine.links.map((link) => [link.traceId, link.spanId]),
      [[clients[1].traceId, b.queue.spanId]],
      "the engine span links to the other request's queue span",
    );
    assert.deepEqual(
      b.engine.links.map((link) => [link.traceId, link.spanId]),
      [[clients[0].traceId, a.queue.spanId]],
    );
    assert.ok(durationMs(a.queue) >= BATCH_DELAY_MS * 0.9, `the batch delay shows as queue time: ${durationMs(a.queue)} ms`);
    t.diagnostic('span tree of one request:');
    for (const line of render(first, a.gateway)) t.diagnostic(line);
  });

  it('records nothing of a request whose client does not sample it, and passes the decision on', async () => {
    const traceId = hex(16);
    const res = await fetch(`${stack.gateway}/v2/models/question-topic/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: traceparentOf(traceId, hex(8), '00') },
      body: JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: ['Who?'] }] }),
      signal: AbortSignal.timeout(60_000),
    });
    assert.equal(res.status, 200);
    // A sampled request sent after it: once its spans are in, the unsampled one's would be too.
    const marker = hex(16);
    const sampled = await fetch(`${stack.gateway}/v2/models/question-topic/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: traceparentOf(marker, hex(8)) },
      body: JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: ['Who?'] }] }),
      signal: AbortSignal.timeout(60_000),
    });
    assert.equal(sampled.status, 200);
    await spansOf(marker, (spans) => spans.some((s) => s.name === 'engine') && spans.some((s) => s.service === 'modeldock-gateway' && s.kind === SPAN_KIND.SERVER));
    assert.deepEqual(
      receiver.spans.filter((span) => span.traceId === traceId),
      [],
    );
  });
});
