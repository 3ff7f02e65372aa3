import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import type { GatewayMetrics } from '../../metrics.js';
import type { BackendRoute } from '../../routing.js';
import { stateOf } from '../state.js';
import type { Forward } from './forwarder.js';

export { createForwarder, replicaDeadlineMs, DEADLINE_MARGIN_MS, type Forward, type ForwarderOptions } from './forwarder.js';

/** Options of {@link forward}. */
export interface ForwardOptions {
  forwarder: Forward;
  metrics: GatewayMetrics;
}

/**
 * Sends the request to the chosen backend's replicas (retries, deadlines, ejection: see
 * `createForwarder`) and counts it per model, backend and key once its response is over.
 */
export function forward({ forwarder, metrics }: ForwardOptions): RequestHandler {
  return (req: IncomingMessage, res: ServerResponse, next) => {
    const state = stateOf(res);
    const backend = state.backend as BackendRoute;
    const model = backend.pool.name;
    const key = state.client?.key?.id ?? '';
    state.onClose(() => {
      // A client that left before any answer gets no status; do not count it as the default 200.
      metrics.series.request(model, backend.name, res.headersSent ? String(res.statusCode) : 'aborted').inc();
      metrics.series.requestDuration(model, backend.name).observe((state.closedAt - state.startedAt) / 1000);
      metrics.series.key(key, model).inc();
    });
    forwarder(req, res, {
      backend,
      path: state.route.kind === 'model' ? state.route.path : (req.url ?? '/'),
      body: state.body ?? Buffer.alloc(0),
      hadBody: state.hasBody,
      requestId: state.requestId,
      onClose: state.onClose,
    }).then(undefined, next);
  };
}
