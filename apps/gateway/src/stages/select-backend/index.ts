import type { IncomingMessage, ServerResponse } from 'node:http';
import { BACKEND_HEADER, HttpError, clipInput } from '@modeldock/service-kit';
import type { RequestHandler } from 'express';
import type { GatewayMetrics } from '../../metrics.js';
import { pickBackend, type BackendRoute } from '../../routing.js';
import { stateOf } from '../state.js';

/** Options of {@link selectBackend}. */
export interface SelectBackendOptions {
  metrics: GatewayMetrics;
}

/**
 * Which backend serves the request, from the routing the request arrived under (404 for a model
 * that is not configured). A client may pin one by name with `x-modeldock-backend` (400 for a name
 * the model does not have; with access control on, only a key whose entry has `pinBackends`, else
 * 403: a backend at weight 0 is a candidate not yet meant for everyone). Otherwise the weights
 * decide, and a backend without a ready replica gives its share to the others
 * (`gateway_backend_fallbacks_total`). The answer names the backend in `x-modeldock-backend`; the
 * forward stage's attempts and retries stay within its replicas.
 */
export function selectBackend({ metrics }: SelectBackendOptions): RequestHandler {
  const fallback = (skipped: BackendRoute) => metrics.series.fallback(skipped.pool.name, skipped.name).inc();
  return (req: IncomingMessage, res: ServerResponse, next) => {
    const state = stateOf(res);
    const name = state.model ?? '';
    const model = state.routing?.models.get(name);
    if (model === undefined) throw HttpError.modelNotFound(name);
    const header = req.headers[BACKEND_HEADER];
    const pin = Array.isArray(header) ? header.join(', ') : header;
    let backend: BackendRoute;
    if (pin === undefined) {
      backend = pickBackend(model, fallback);
    } else {
      const key = state.client?.key;
      if (key !== undefined && !key.pinBackends) {
        metrics.keyRefusals.inc({ key: key.id, model: name, reason: 'pin' });
        throw HttpError.forbidden(`this API key may not choose a backend (${BACKEND_HEADER}); its requests take the weighted split`);
      }
      const pinned = model.byName.get(pin);
      if (pinned === undefined) {
        throw HttpError.invalidInput(
          `model '${name}' has no backend '${clipInput(pin)}' (${BACKEND_HEADER}); its backends: ${model.backends.map((b) => b.name).join(', ')}`,
        );
      }
      backend = pinned;
      state.pinned = true;
    }
    state.backend = backend;
    res.setHeader(BACKEND_HEADER, backend.name);
    next();
  };
}
