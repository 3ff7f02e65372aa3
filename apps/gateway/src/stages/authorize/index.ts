import type { ServerResponse } from 'node:http';
import { HttpError, clipInput } from '@modeldock/service-kit';
import type { RequestHandler } from 'express';
import { mayUse } from '../../api-keys.js';
import type { GatewayMetrics } from '../../metrics.js';
import { stateOf, type RequestState } from '../state.js';

/** Options of {@link authorize}. */
export interface AuthorizeOptions {
  /** Access control is on (an API keys file is configured). */
  enabled: boolean;
  metrics: GatewayMetrics;
}

/**
 * Refuses a request whose key does not cover `model` with a 403. Also called by the body stage for
 * OpenAI embeddings, whose model is known only once the body was scanned.
 */
export function authorizeModel(state: RequestState, model: string, metrics: GatewayMetrics): void {
  const key = state.client?.key;
  if (key !== undefined && !mayUse(key, model)) {
    metrics.keyRefusals.inc({ key: key.id, model: '', reason: 'forbidden' });
    throw HttpError.forbidden(`this API key may not use model '${clipInput(model)}'`);
  }
}

/**
 * Deny by default, before anything about routes or models is told: with access control on, every
 * request but the gateway's health routes and the playground's files needs a known key (401 with `WWW-Authenticate: Bearer`
 * otherwise, on every path, method and spelling, known route or not), and a model route needs a key
 * whose scope has that model (403), whether or not the model exists. Without access control,
 * everything passes.
 */
export function authorize({ enabled, metrics }: AuthorizeOptions): RequestHandler {
  return (_req, res: ServerResponse, next) => {
    const state = stateOf(res);
    if (!enabled || state.route.kind === 'health' || state.route.kind === 'page') {
      next();
      return;
    }
    if (state.client === undefined) {
      metrics.keyRefusals.inc({ key: '', model: '', reason: state.presentedUnknownKey ? 'unknown_key' : 'no_key' });
      throw state.presentedUnknownKey
        ? HttpError.unauthorized('the API key is not valid', true)
        : HttpError.unauthorized('an API key is required: Authorization: Bearer <key> or x-api-key: <key>');
    }
    if (state.model !== undefined) authorizeModel(state, state.model, metrics);
    next();
  };
}
