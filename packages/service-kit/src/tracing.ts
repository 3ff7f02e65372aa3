import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import {
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  defaultTextMapGetter,
  defaultTextMapSetter,
  diag,
  trace,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type * as SdkTraceBase from '@opentelemetry/sdk-trace-base';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  ATTR_URL_PATH,
} from '@opentelemetry/semantic-conventions';
import type { Logger } from 'pino';
import { z } from 'zod';
import { parseEnv } from './config.js';

/** OTLP/HTTP's default endpoint (the OpenTelemetry specification's, an OpenTelemetry Collector's `otlp` receiver). */
const DEFAULT_OTLP_ENDPOINT = 'http://localhost:4318';

/** The path a signal's data is posted to under `OTEL_EXPORTER_OTLP_ENDPOINT` (OTLP/HTTP: `v1/traces`). */
const TRACES_PATH = 'v1/traces';

/** How long a process's last spans may take to leave on shutdown, so an unreachable collector cannot hold up the exit. */
const SHUTDOWN_FLUSH_MS = 5000;

const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const;

const otlpUrl = () =>
  z.string().refine((value) => {
    try {
      return /^https?:$/.test(new URL(value).protocol);
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL');

/** OTLP's transports; gRPC is refused with a message (this build sends OTLP over HTTP only). */
const otlpProtocol = () =>
  z
    .enum(['http/protobuf', 'http/json', 'grpc'])
    .refine((value) => value !== 'grpc', 'grpc is not supported here: use http/protobuf or http/json (a Collector takes both on :4318)');

/**
 * The standard `OTEL_*` variables that decide whether and where a process sends traces (OpenTelemetry's
 * "SDK environment variables"); each `.describe()` is a row of the generated configuration reference.
 * Unlike the specification's default (`otlp`), tracing is off unless asked for.
 */
export const tracingSettingsSchema = z.object({
  OTEL_SDK_DISABLED: z
    .string()
    .transform((value) => value.trim().toLowerCase() === 'true')
    .default(false)
    .describe('`true` turns tracing off whatever else is set'),
  OTEL_TRACES_EXPORTER: z
    .enum(['otlp', 'none'])
    .optional()
    .describe('`otlp` turns tracing on (to `http://localhost:4318` unless an endpoint is set); `none` keeps it off; unset: on exactly when an OTLP endpoint below is set'),
  OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl().optional().describe('OTLP/HTTP base URL (`http://collector:4318`); traces go to its `/v1/traces`; setting it turns tracing on'),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: otlpUrl().optional().describe('the full URL traces are posted to, used as is (wins over `OTEL_EXPORTER_OTLP_ENDPOINT`); setting it turns tracing on'),
  OTEL_EXPORTER_OTLP_PROTOCOL: otlpProtocol().optional().describe('`http/protobuf` (the default) or `http/json`; `grpc` is refused'),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: otlpProtocol().optional().describe('the same for traces alone (wins over `OTEL_EXPORTER_OTLP_PROTOCOL`)'),
  OTEL_SERVICE_NAME: z
    .string()
    .optional()
    .describe('`service.name` of the spans (default: `modeldock-gateway`, or `modeldock-<model>` for a model server); set it per process or container, not for all of `pnpm start`'),
  OTEL_TRACES_SAMPLER: z
    .enum(SAMPLERS)
    .default('parentbased_always_on')
    .describe('`parentbased_always_on` follows the caller\'s `traceparent` decision and samples new traces; `parentbased_traceidratio` samples a share of new traces; `traceidratio`/`always_*` ignore the caller\'s decision (the gateway then decides for every client)'),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1).describe('the share of traces the `*traceidratio` samplers keep, 0 to 1'),
});

/** The parsed `OTEL_*` settings. */
export type TracingSettings = z.output<typeof tracingSettingsSchema>;

/** Reads the `OTEL_*` variables of {@link tracingSettingsSchema} once, every problem named. */
export function loadTracingSettings(env: NodeJS.ProcessEnv = process.env): TracingSettings {
  return parseEnv(tracingSettingsSchema, env);
}

/** Where and how spans are exported, or undefined when tracing is off. */
export function tracingExport(settings: TracingSettings): { url: string; protocol: 'http/protobuf' | 'http/json' } | undefined {
  const endpoint = settings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? settings.OTEL_EXPORTER_OTLP_ENDPOINT;
  const wanted = settings.OTEL_TRACES_EXPORTER === 'otlp' || (settings.OTEL_TRACES_EXPORTER === undefined && endpoint !== undefined);
  if (settings.OTEL_SDK_DISABLED || !wanted) return undefined;
  // The specification's rule: the per-signal URL as given, the base URL with the signal's path appended.
  const url =
    settings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? new URL(TRACES_PATH, `${(settings.OTEL_EXPORTER_OTLP_ENDPOINT ?? DEFAULT_OTLP_ENDPOINT).replace(/\/*$/, '')}/`).href;
  const protocol = settings.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? settings.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
  return { url, protocol };
}

/** The configuration reference's rows of the tracing variables. */
export function tracingSettingsReference(): { variable: string; default: string | undefined; meaning: string }[] {
  return Object.entries(tracingSettingsSchema.shape).map(([variable, schema]) => {
    const parsed = schema.safeParse(undefined);
    return { variable, default: parsed.success && parsed.data !== undefined ? String(parsed.data) : undefined, meaning: schema.description ?? '' };
  });
}

/** The SDK's module, loaded only once tracing is on. */
type Sdk = typeof SdkTraceBase;

function samplerOf(settings: TracingSettings, { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler }: Sdk): SdkTraceBase.Sampler {
  const ratio = () => new TraceIdRatioBasedSampler(settings.OTEL_TRACES_SAMPLER_ARG);
  switch (settings.OTEL_TRACES_SAMPLER) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio() });
    default: {
      const unknown: never = settings.OTEL_TRACES_SAMPLER;
      throw new Error(`unknown sampler ${String(unknown)}`);
    }
  }
}

/** A process's tracing: its tracer while on, and the flush on shutdown. */
export interface Tracing {
  /** Undefined while tracing is off: callers then do no tracing work at all. */
  readonly tracer: Tracer | undefined;
  /** Exports the spans still buffered (bounded in time) and stops; nothing is traced afterwards. */
  shutdown(): Promise<void>;
}

/** What names a process in its spans. */
export interface TracedService {
  /** `service.name` unless `OTEL_SERVICE_NAME` says otherwise. */
  name: string;
  version: string;
  /** The instrumentation scope of its spans (its package name). */
  scope: string;
}

/**
 * Starts exporting spans over OTLP/HTTP as `settings` say (see {@link tracingExport}), or returns a
 * tracing that is off: then the SDK and the exporters are not even loaded. The tracer is handed to the code that makes spans rather than registered
 * globally, so nothing traces by accident and tests can run several processes' tracers side by
 * side. The SDK itself reads the remaining standard variables: `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`,
 * `_TIMEOUT`, `_COMPRESSION` and certificates, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_*`, `OTEL_SPAN_*_LIMIT`.
 * Export failures are logged (at most once per failed batch) and never affect a request.
 */
export async function startTracing(settings: TracingSettings, service: TracedService, logger?: Logger): Promise<Tracing> {
  const target = tracingExport(settings);
  if (target === undefined) return { tracer: undefined, shutdown: async () => {} };
  const [sdk, { defaultResource, detectResources, envDetector, resourceFromAttributes }, { OTLPTraceExporter }] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
    target.protocol === 'http/json' ? import('@opentelemetry/exporter-trace-otlp-http') : import('@opentelemetry/exporter-trace-otlp-proto'),
  ]);
  if (logger !== undefined) {
    const log = logger.child({ component: 'opentelemetry' });
    const write = (level: 'warn' | 'error') => (message: string, ...args: unknown[]) => log[level]({ detail: args.map(String).join(' ') || undefined }, message);
    const quiet = () => {};
    diag.setLogger({ error: write('error'), warn: write('warn'), info: quiet, debug: quiet, verbose: quiet }, DiagLogLevel.WARN);
  }
  const exporter = new OTLPTraceExporter({ url: target.url });
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the env detector) win over the defaults.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: service.name, [ATTR_SERVICE_VERSION]: service.version }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new sdk.BasicTracerProvider({ resource, sampler: samplerOf(settings, sdk), spanProcessors: [new sdk.BatchSpanProcessor(exporter)] });
  logger?.info({ endpoint: target.url, protocol: target.protocol, sampler: settings.OTEL_TRACES_SAMPLER }, 'tracing on: exporting spans over OTLP/HTTP');
  let stopped: Promise<void> | undefined;
  return {
    tracer: provider.getTracer(service.scope, service.version),
    shutdown: () =>
      (stopped ??= Promise.race([
        provider.shutdown(),
        new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_FLUSH_MS).unref()),
      ]).catch((err: unknown) => logger?.warn({ err }, 'tracing: the last spans could not be exported'))),
  };
}

/**
 * A span timestamp for a `performance.now()` reading: epoch milliseconds on the process's monotonic
 * clock (`performance.timeOrigin` + the reading, as a worker thread computes it too). Every span
 * modeldock makes is timed with it, start and end: the SDK's own conversion of readings re-anchors
 * each span to the wall clock when it is created, which shifts the spans of one request against each
 * other by up to a millisecond, more than a short queue wait lasts.
 */
export function spanTime(reading: number = performance.now()): number {
  return performance.timeOrigin + reading;
}

/** W3C Trace Context (`traceparent`, `tracestate`), the only propagation format modeldock speaks. */
const propagator = new W3CTraceContextPropagator();

/**
 * The trace context a request carries in `traceparent`/`tracestate` (W3C Trace Context), as the
 * parent of the span that serves it; the root context when it carries none or a malformed one.
 */
export function extractTraceContext(headers: IncomingHttpHeaders): Context {
  return propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
}

/** Writes `context`'s span as `traceparent` (and its `tracestate`) into outgoing request headers. */
export function injectTraceContext(context: Context, headers: OutgoingHttpHeaders): void {
  propagator.inject(context, headers, defaultTextMapSetter);
}

/**
 * Span attributes of modeldock's own, defined once for the gateway and the model servers
 * (OpenTelemetry's semantic conventions name the HTTP and network ones).
 */
export const SPAN_ATTRIBUTES = Object.freeze({
  /** The request id (`x-request-id`), to go from a trace to the logs. */
  requestId: 'modeldock.request_id',
  model: 'modeldock.model',
  version: 'modeldock.model.version',
  /** Gateway: the API key's id (never the key). */
  apiKey: 'modeldock.api_key.id',
  /** Gateway: the backend (deployment) that served the request, and whether the client pinned it. */
  backend: 'modeldock.backend',
  pinned: 'modeldock.backend.pinned',
  /** Gateway attempt: the replica's opaque id, its `x-served-by`. */
  replica: 'modeldock.replica.id',
  /** Model server: the request's rows (texts), its deadline, its wait until its first rows reached the engine. */
  rows: 'modeldock.rows',
  deadlineMs: 'modeldock.deadline_ms',
  queueWaitMs: 'modeldock.queue.wait_ms',
  /** Rows it waited on another request (or an earlier row of its own) to compute: the result cache's coalescing. */
  joinedRows: 'modeldock.cache.joined_rows',
  /** Queue span: which part of its request, and the part's rows. */
  part: 'modeldock.queue.part',
  partRows: 'modeldock.queue.rows',
  /** Engine span: rows and request parts in the whole engine call, and this request's rows among them. */
  batchRows: 'modeldock.batch.size',
  batchParts: 'modeldock.batch.parts',
  engineRows: 'modeldock.engine.rows',
  /** Main-thread time of the call beyond the engine's own: handing the rows to the worker thread and back. */
  handoffMs: 'modeldock.engine.handoff_ms',
});

/** Longest URL path written into a span: a client's path costs the trace backend no more than this. */
const MAX_SPAN_PATH = 256;

/**
 * Starts the server span of an HTTP request, child of the caller's W3C `traceparent` (a new trace
 * without one), named by its method until {@link endServerSpan} knows the route. Returns the span
 * and the context its children (attempts, queue waits) start in.
 */
export function startServerSpan(tracer: Tracer, req: IncomingMessage, startTime: number, requestId: string | undefined): { span: Span; context: Context } {
  const parent = extractTraceContext(req.headers);
  const method = req.method ?? 'GET';
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  const span = tracer.startSpan(
    method,
    {
      kind: SpanKind.SERVER,
      startTime,
      attributes: {
        [ATTR_HTTP_REQUEST_METHOD]: method,
        [ATTR_URL_PATH]: path.length > MAX_SPAN_PATH ? `${path.slice(0, MAX_SPAN_PATH)}…` : path,
        ...(requestId === undefined ? {} : { [SPAN_ATTRIBUTES.requestId]: requestId }),
      },
    },
    parent,
  );
  return { span, context: trace.setSpan(parent, span) };
}

/**
 * Ends a server span once its response closed: named `<METHOD> <route template>` when a route
 * matched, with the status; as OpenTelemetry's HTTP conventions say, only a 5xx is an error on a
 * server span (a 4xx is the client's), and so is a client gone before any answer.
 */
export function endServerSpan(span: Span, req: IncomingMessage, res: ServerResponse, route: string | undefined, endTime: number): void {
  if (route !== undefined) {
    span.updateName(`${req.method ?? 'GET'} ${route}`);
    span.setAttribute(ATTR_HTTP_ROUTE, route);
  }
  if (!res.headersSent) {
    span.setAttribute(ATTR_ERROR_TYPE, 'aborted');
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client went away before an answer' });
  } else {
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.statusCode);
    if (res.statusCode >= 500) {
      span.setAttribute(ATTR_ERROR_TYPE, String(res.statusCode));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }
  span.end(endTime);
}
