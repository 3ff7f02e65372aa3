import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { SpanStatusCode, trace, type Attributes, type Context, type Link, type Span, type Tracer } from '@opentelemetry/api';
import type { BatchPart, EngineTiming } from '@modeldock/model-runtime';
import { SPAN_ATTRIBUTES, endServerSpan, routeTemplate, spanTime, startServerSpan } from '@modeldock/service-kit';
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import type { Request, RequestHandler, Response } from 'express';

const SPAN = Symbol('modeldock.model-server.span');

/** Longest error message written into a span. */
const MAX_MESSAGE = 256;

/** Options of {@link traceRequests}. */
export interface TraceRequestsOptions {
  /** Paths never traced (probes, scrapes): the gateway probes every replica every second. */
  ignorePaths?: readonly string[];
}

/**
 * A server span per request (mounted only while tracing is on), child of the caller's W3C
 * `traceparent`: the gateway's attempt, or a direct client's span. Named by the route template once
 * answered; the data plane hangs the request's queue and engine spans under it.
 */
export function traceRequests(tracer: Tracer, { ignorePaths = [] }: TraceRequestsOptions = {}): RequestHandler {
  const ignored = new Set(ignorePaths);
  return (req: Request, res: Response, next) => {
    if (ignored.has(req.path)) {
      next();
      return;
    }
    const requestId = req.headers['x-request-id'];
    const { span, context } = startServerSpan(tracer, req, spanTime(), typeof requestId === 'string' ? requestId : undefined);
    (res.locals as { [SPAN]?: Context })[SPAN] = context;
    res.once('close', () => {
      const route = routeTemplate(req);
      endServerSpan(span, req, res, route === 'unmatched' ? undefined : route, spanTime());
    });
    next();
  };
}

/** The trace context of a request's server span, while tracing is on and it is traced. */
export function requestTrace(res: ServerResponse): Context | undefined {
  return (res as ServerResponse & { locals?: { [SPAN]?: Context } }).locals?.[SPAN];
}

/** What a model version's spans say about it. */
export interface VersionLabels {
  readonly model: string;
  readonly version: string;
}

/**
 * One inference request's spans inside the data plane, and the batcher's tag of its parts (see
 * `BatchPart.tag`): each part's time in the queue, recorded when it reaches its first engine call
 * (a part retried alone after a failed merged call keeps its one queue span), and what is left
 * queued when the request fails.
 */
export class InferenceTrace {
  readonly #queued = new Map<number, Span>();

  constructor(
    readonly tracer: Tracer,
    /** The request's server span. */
    readonly parent: Context,
    readonly labels: VersionLabels,
  ) {}

  /** The span of `part`'s wait in the queue: from when it was queued to when its engine call began. */
  queueSpan(part: BatchPart): Span {
    let span = this.#queued.get(part.index);
    if (span === undefined) {
      span = this.tracer.startSpan(
        'queue',
        {
          startTime: spanTime(part.enqueuedAt),
          attributes: {
            [SPAN_ATTRIBUTES.model]: this.labels.model,
            [SPAN_ATTRIBUTES.version]: this.labels.version,
            [SPAN_ATTRIBUTES.part]: part.index,
            [SPAN_ATTRIBUTES.partRows]: part.rows,
          },
        },
        this.parent,
      );
      span.end(spanTime(part.dequeuedAt));
      this.#queued.set(part.index, span);
    }
    return span;
  }

  /**
   * The request failed with `rows` rows still queued since `since` (`performance.now()`), by its
   * deadline, its client leaving or the server closing: their wait, as one span ending now.
   */
  leftQueued(since: number, rows: number, reason: string): void {
    const span = this.tracer.startSpan(
      'queue',
      {
        startTime: spanTime(since),
        attributes: { [SPAN_ATTRIBUTES.model]: this.labels.model, [SPAN_ATTRIBUTES.version]: this.labels.version, [SPAN_ATTRIBUTES.partRows]: rows, [ATTR_ERROR_TYPE]: reason },
      },
      this.parent,
    );
    span.setStatus({ code: SpanStatusCode.ERROR, message: `left the queue unserved: ${reason}` });
    span.end(spanTime());
  }
}

/** What the engine-call wrapper tells {@link traceEngineCall} when the call is over. */
export interface EngineCallTrace {
  /** The engine's own measure of the call (a worker thread's), when the runtime gives one. */
  readonly onTiming: (timing: EngineTiming) => void;
  /** The call is over; `error` when it failed. */
  end(error?: unknown): void;
}

/**
 * Spans of one engine call, for every traced request whose rows are in it, or undefined when none
 * is (nothing more to do). Each such request gets its own `engine` span, child of its part's queue
 * span, with the whole call's size (rows, parts) and its own rows in it, and links to the queue
 * spans of the other traced requests that shared the call. So one request's trace shows its wait
 * and the whole call its rows rode in, and the links lead to who it shared the call with; a single
 * span shared by all (as a child of one request and linked from the others) would leave every other
 * request's tree with a gap where its engine time went.
 */
export function traceEngineCall(parts: readonly BatchPart[], labels: VersionLabels, rows: number): EngineCallTrace | undefined {
  const traced: { trace: InferenceTrace; part: BatchPart; queue: Span }[] = [];
  for (const part of parts) {
    if (part.tag instanceof InferenceTrace) traced.push({ trace: part.tag, part, queue: part.tag.queueSpan(part) });
  }
  if (traced.length === 0) return undefined;
  const startedAt = performance.now();
  let engine: EngineTiming | undefined;
  return {
    onTiming: (timing) => (engine = timing),
    end(error) {
      const endedAt = performance.now();
      const attributes: Attributes = {
        [SPAN_ATTRIBUTES.model]: labels.model,
        [SPAN_ATTRIBUTES.version]: labels.version,
        [SPAN_ATTRIBUTES.batchRows]: rows,
        [SPAN_ATTRIBUTES.batchParts]: parts.length,
      };
      if (engine !== undefined) {
        attributes[SPAN_ATTRIBUTES.handoffMs] = Math.max(0, Math.round((endedAt - startedAt - (engine.endedAt - engine.startedAt)) * 1000) / 1000);
      }
      for (const { trace: owner, part, queue } of traced) {
        const links: Link[] = traced
          .filter((other) => other.queue !== queue)
          .map((other) => ({ context: other.queue.spanContext(), attributes: { [SPAN_ATTRIBUTES.engineRows]: other.part.rows } }));
        const span = owner.tracer.startSpan(
          'engine',
          { startTime: engine?.startedAt ?? spanTime(startedAt), attributes: { ...attributes, [SPAN_ATTRIBUTES.engineRows]: part.rows }, links },
          trace.setSpan(owner.parent, queue),
        );
        if (error !== undefined) {
          span.setAttribute(ATTR_ERROR_TYPE, error instanceof Error ? error.name : 'error');
          span.setStatus({ code: SpanStatusCode.ERROR, message: (error instanceof Error ? error.message : 'the engine call failed').slice(0, MAX_MESSAGE) });
        }
        span.end(engine?.endedAt ?? spanTime(endedAt));
      }
    },
  };
}
