import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { SpanKind, trace } from '@opentelemetry/api';
import { pino } from 'pino';
import { extractTraceContext, injectTraceContext, loadTracingSettings, startTracing, tracingExport } from './tracing.js';

const CLIENT_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_SPAN = 'b7ad6b7169203331';

describe('loadTracingSettings / tracingExport', () => {
  it('is off when nothing is set', () => {
    assert.equal(tracingExport(loadTracingSettings({})), undefined);
  });

  it('turns on with an endpoint, posting to its /v1/traces over http/protobuf', () => {
    assert.deepEqual(tracingExport(loadTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })), {
      url: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
    });
    assert.equal(tracingExport(loadTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/base/' }))?.url, 'http://collector:4318/base/v1/traces');
  });

  it('uses the traces endpoint as given, and the traces protocol over the general one', () => {
    const target = tracingExport(
      loadTracingSettings({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/otlp',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      }),
    );
    assert.deepEqual(target, { url: 'https://traces.example/otlp', protocol: 'http/json' });
  });

  it('turns on with OTEL_TRACES_EXPORTER=otlp alone, to the local collector', () => {
    assert.equal(tracingExport(loadTracingSettings({ OTEL_TRACES_EXPORTER: 'otlp' }))?.url, 'http://localhost:4318/v1/traces');
  });

  it('stays off with OTEL_TRACES_EXPORTER=none or OTEL_SDK_DISABLED=true, endpoint or not', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    assert.equal(tracingExport(loadTracingSettings({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' })), undefined);
    assert.equal(tracingExport(loadTracingSettings({ ...endpoint, OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'TRUE' })), undefined);
    assert.notEqual(tracingExport(loadTracingSettings({ ...endpoint, OTEL_SDK_DISABLED: 'false' })), undefined);
  });

  it('refuses what it cannot do, naming the variable', () => {
    assert.throws(() => loadTracingSettings({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), /OTEL_EXPORTER_OTLP_PROTOCOL: grpc is not supported/);
    assert.throws(() => loadTracingSettings({ OTEL_TRACES_EXPORTER: 'zipkin' }), /OTEL_TRACES_EXPORTER/);
    assert.throws(() => loadTracingSettings({ OTEL_TRACES_SAMPLER: 'sometimes' }), /OTEL_TRACES_SAMPLER/);
    assert.throws(() => loadTracingSettings({ OTEL_TRACES_SAMPLER_ARG: '1.5' }), /OTEL_TRACES_SAMPLER_ARG/);
    assert.throws(() => loadTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }), /OTEL_EXPORTER_OTLP_ENDPOINT: must be an http/);
  });
});

describe('trace context propagation', () => {
  it('reads a W3C traceparent and tracestate, and writes them for a child span', () => {
    const incoming: IncomingHttpHeaders = { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`, tracestate: 'vendor=abc' };
    const context = extractTraceContext(incoming);
    const parent = trace.getSpanContext(context);
    assert.equal(parent?.traceId, CLIENT_TRACE);
    assert.equal(parent?.spanId, CLIENT_SPAN);
    assert.equal(parent?.isRemote, true);
    const outgoing: OutgoingHttpHeaders = {};
    injectTraceContext(context, outgoing);
    assert.equal(outgoing.traceparent, `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`);
    assert.equal(outgoing.tracestate, 'vendor=abc');
  });

  it('ignores a malformed traceparent', () => {
    assert.equal(trace.getSpanContext(extractTraceContext({ traceparent: '00-not-a-trace-01' })), undefined);
    assert.equal(trace.getSpanContext(extractTraceContext({ traceparent: `00-${'0'.repeat(32)}-${CLIENT_SPAN}-01` })), undefined);
  });
});

describe('startTracing', () => {
  it('is off without settings: no tracer', async () => {
    const tracing = await startTracing(loadTracingSettings({}), { name: 'svc', version: '1', scope: 'test' });
    assert.equal(tracing.tracer, undefined);
    await tracing.shutdown();
  });

  it('exports spans as OTLP/HTTP JSON, with service.name and the caller as parent, flushed on shutdown', async () => {
    const bodies: unknown[] = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        bodies.push({ path: req.url, type: req.headers['content-type'], body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await once(receiver.listen(0, '127.0.0.1'), 'listening');
    try {
      const { port } = receiver.address() as AddressInfo;
      const tracing = await startTracing(
        loadTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' }),
        { name: 'modeldock-test', version: '1.2.3', scope: '@modeldock/test' },
        pino({ level: 'silent' }),
      );
      assert.ok(tracing.tracer);
      const parent = extractTraceContext({ traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` });
      tracing.tracer.startSpan('GET /thing', { kind: SpanKind.SERVER, attributes: { 'modeldock.model': 'm' } }, parent).end();
      await tracing.shutdown();
      assert.equal(bodies.length, 1);
      const [{ path, type, body }] = bodies as [{ path: string; type: string; body: ExportBody }];
      assert.equal(path, '/v1/traces');
      assert.equal(type, 'application/json');
      const resourceSpans = body.resourceSpans[0];
      const attribute = (key: string) => resourceSpans?.resource.attributes.find((a) => a.key === key)?.value.stringValue;
      assert.equal(attribute('service.name'), 'modeldock-test');
      assert.equal(attribute('service.version'), '1.2.3');
      const span = resourceSpans?.scopeSpans[0]?.spans[0];
      assert.equal(span?.name, 'GET /thing');
      assert.equal(span?.traceId, CLIENT_TRACE);
      assert.equal(span?.parentSpanId, CLIENT_SPAN);
      assert.equal(span?.kind, 2, 'SERVER');
    } finally {
      receiver.close();
    }
  });
});

interface ExportBody {
  resourceSpans: {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] };
    scopeSpans: { spans: { name: string; traceId: string; parentSpanId?: string; kind: number }[] }[];
  }[];
}
