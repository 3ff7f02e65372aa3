import type { ServerResponse } from 'node:http';
import { HttpError } from '@modeldock/service-kit';
import type { RequestHandler } from 'express';
import type { UpstreamPool } from '../../upstream-pool.js';
import { stateOf } from '../state.js';

/** Options of {@link selectBackend}. */
export interface SelectBackendOptions {
  pools: ReadonlyMap<string, UpstreamPool>;
}

/**
 * Which replicas serve the request: the model's pool (404 for a model that is not configured),
 * and how each attempt picks one of them (least outstanding requests, skipping those tried). This
 * stage sees the whole request and its state, so it is where weighted splits between a model's
 * backends, pinning a client to one, or a shadow copy of the traffic belong.
 */
export function selectBackend({ pools }: SelectBackendOptions): RequestHandler {
  return (_req, res: ServerResponse, next) => {
    const state = stateOf(res);
    const model = state.model ?? '';
    const pool = pools.get(model);
    if (pool === undefined) throw HttpError.modelNotFound(model);
    state.backend = { pool, pick: (avoid) => pool.pick(avoid) };
    next();
  };
}
