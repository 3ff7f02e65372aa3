import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { SpanKind, SpanStatusCode, trace as traceApi, type Attributes, type Context, type Tracer } from '@opentelemetry/api';
import { SPAN_ATTRIBUTES, endServerSpan, injectTraceContext, spanTime, startServerSpan } from '@modeldock/service-kit';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
} from '@opentelemetry/semantic-conventions';
import type { RequestHandler } from 'express';
import type { Endpoint, UpstreamPool } from '../../upstream-pool.js';
import { stateOf, type AttemptTracing, type RequestState } from '../state.js';

/** Options of {@link trace}. */
export interface TraceOptions {
  tracer: Tracer;
}

/** `10.0.0.5:8501` / `[fd00::5]:8501` → host and port. */
function hostAndPort(id: string): [string, number] {
  const colon = id.lastIndexOf(':');
  return [id.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), Number(id.slice(colon + 1))];
}

/** Outcomes of an attempt that are not HTTP statuses: a failure before any answer. */
function failed(outcome: string): boolean {
  return !/^\d{3}$/.test(outcome);
}

/**
 * A span per attempt, children of the request's span: the replica (its address and its opaque
 * `x-served-by` id), the retry number (`http.request.resend_count`), and how it ended (the
 * replica's status, or `error.type`: `timeout`, `aborted`, a connection error's code). The
 * attempt's span context replaces the caller's in the `traceparent` sent to the replica.
 */
function attemptTracing(tracer: Tracer, parent: Context, method: string, state: RequestState): AttemptTracing {
  return {
    start(pool: UpstreamPool, endpoint: Endpoint, retry: number, headers: OutgoingHttpHeaders) {
      const [address, port] = hostAndPort(endpoint.id);
      const attributes: Attributes = {
        [ATTR_HTTP_REQUEST_METHOD]: method,
        [ATTR_SERVER_ADDRESS]: address,
        [ATTR_SERVER_PORT]: port,
        [SPAN_ATTRIBUTES.model]: pool.name,
        [SPAN_ATTRIBUTES.replica]: endpoint.publicId,
        [SPAN_ATTRIBUTES.requestId]: state.requestId,
      };
      if (retry > 0) attributes[ATTR_HTTP_REQUEST_RESEND_COUNT] = retry;
      const span = tracer.startSpan('attempt', { kind: SpanKind.CLIENT, attributes, startTime: spanTime() }, parent);
      // W3C Trace Context: a `tracestate` travels only with the `traceparent` it belongs to, now the attempt's.
      delete headers.tracestate;
      injectTraceContext(traceApi.setSpan(parent, span), headers);
      return (outcome, code) => {
        if (failed(outcome)) {
          span.setAttribute(ATTR_ERROR_TYPE, code ?? outcome);
          span.setStatus({ code: SpanStatusCode.ERROR, message: code ?? outcome });
        } else {
          const status = Number(outcome);
          span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
          if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        }
        // The replica's connection closes just after the client's response has: its body was over by then.
        span.end(spanTime(state.closedAt > 0 ? Math.min(state.closedAt, performance.now()) : performance.now()));
      };
    },
  };
}

/**
 * OpenTelemetry spans of the request (only in the pipeline while tracing is on, so it costs nothing
 * when off): a server span from when the request arrived to when its response closed, child of the
 * caller's W3C `traceparent` if it sent one, named by the route template and carrying the request
 * id, model, API key id and status; and, through the forward stage, a client span per attempt (see
 * {@link attemptTracing}). Whether a request is recorded is the sampler's decision
 * (`OTEL_TRACES_SAMPLER`: by default the caller's sampled flag, else every new trace).
 */
export function trace({ tracer }: TraceOptions): RequestHandler {
  return (req: IncomingMessage, res: ServerResponse, next) => {
    const state = stateOf(res);
    const { span, context } = startServerSpan(tracer, req, spanTime(state.startedAt), state.requestId);
    // An unsampled request passes its trace on as unsampled too, so that the replica agrees not to record it.
    state.trace = attemptTracing(tracer, context, req.method ?? 'GET', state);
    state.onClose(() => {
      if (state.model !== undefined) span.setAttribute(SPAN_ATTRIBUTES.model, state.model);
      const key = state.client?.key?.id;
      if (key !== undefined) span.setAttribute(SPAN_ATTRIBUTES.apiKey, key);
      if (state.backend !== undefined) {
        span.setAttribute(SPAN_ATTRIBUTES.backend, state.backend.name);
        if (state.pinned) span.setAttribute(SPAN_ATTRIBUTES.pinned, true);
      }
      endServerSpan(span, req, res, state.route.kind === 'none' ? undefined : state.route.template, spanTime(state.closedAt));
    });
    next();
  };
}
