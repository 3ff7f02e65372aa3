import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import type { GatewayMetrics } from '../../metrics.js';
import type { BackendRoute } from '../../routing.js';
import { stateOf } from '../state.js';
import type { Forward } from './forwarder.js';
import type { Shadower } from './shadow.js';

export { createForwarder, replicaDeadlineMs, DEADLINE_MARGIN_MS, type AnswerSink, type Forward, type ForwarderOptions } from './forwarder.js';
export { createShadower, type Shadower, type ShadowerOptions } from './shadow.js';
export { answerRows, compareAnswers, cosine, type AnswerRows, type Comparison } from './compare-answers.js';

/** Options of {@link forward}. */
export interface ForwardOptions {
  forwarder: Forward;
  metrics: GatewayMetrics;
  /** Copies a sampled share of a model's requests to its shadow backend, after the client's answer. */
  shadower: Shadower;
}

/**
 * Sends the request to the chosen backend's replicas (retries, deadlines, ejection: see
 * `createForwarder`) and counts it per model, backend and key once its response is over. A request
 * sampled for its model's shadow is copied there once its response has closed (see `createShadower`).
 */
export function forward({ forwarder, metrics, shadower }: ForwardOptions): RequestHandler {
  return (req: IncomingMessage, res: ServerResponse, next) => {
    const state = stateOf(res);
    const backend = state.backend as BackendRoute;
    const model = backend.pool.name;
    const key = state.client?.key?.id ?? '';
    const path = state.route.kind === 'model' ? state.route.path : (req.url ?? '/');
    const body = state.body ?? Buffer.alloc(0);
    // The client's own headers (the forwarder replaces `req.headers` with each attempt's).
    const headers = req.headers;
    const copy = shadower.sample(backend, state.pinned, req.method ?? '');
    state.onClose(() => {
      // A client that left before any answer gets no status; do not count it as the default 200.
      metrics.series.request(model, backend.name, res.headersSent ? String(res.statusCode) : 'aborted').inc();
      metrics.series.requestDuration(model, backend.name).observe((state.closedAt - state.startedAt) / 1000);
      metrics.series.key(key, model).inc();
      if (copy !== undefined) {
        shadower.send(copy, { path, body, headers, requestId: state.requestId, finished: res.writableFinished, status: res.statusCode });
      }
    });
    forwarder(req, res, {
      backend,
      path,
      body,
      hadBody: state.hasBody,
      requestId: state.requestId,
      onClose: state.onClose,
      trace: state.trace,
      sink: copy?.capture,
    }).then(undefined, next);
  };
}
