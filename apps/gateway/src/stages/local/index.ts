import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, clipInput, type modelListSchema, type protocolSchemas } from '@modeldock/service-kit';
import type { Asset } from '@modeldock/playground';
import type { RequestHandler } from 'express';
import type { z } from 'zod';
import { mayUse } from '../../api-keys.js';
import { modelReady, type ModelBackends, type Routing } from '../../routing.js';
import type { GatewayAnswers } from '../route/index.js';
import { stateOf, type GatewayAnswer, type RequestState } from '../state.js';
import type { modelsSchema, statusSchema } from './own-api.js';
import { assetAnswer, jsonText, sendDocument } from './pages.js';

export { ownApiPaths } from './own-api.js';

/** What the gateway's own answers need. */
export interface LocalOptions {
  /** The gateway's version, for OIP server metadata. */
  version: string;
  /** True while the gateway drains (readiness turns 503). */
  draining: () => boolean;
  /** The playground's files, answered at their paths without a key. */
  assets: readonly Asset[];
  /** The API document's text, for the models configuration `routing`, for a caller who may use `models`. */
  apiDocument: (routing: Routing, models: readonly string[]) => Promise<string>;
}

/** OIP server metadata name. */
const SERVER_NAME = 'modeldock-gateway';

/** The models a request's key may see: all of them without access control or with a `"*"` key. */
function visible(state: RequestState): ModelBackends[] {
  const models = [...(state.routing as Routing).models.values()];
  const key = state.client?.key;
  return key === undefined ? models : models.filter((model) => mayUse(key, model.name));
}

function readyReplicas(endpoints: readonly { healthy: boolean }[]): number {
  let count = 0;
  for (const endpoint of endpoints) if (endpoint.healthy) count++;
  return count;
}

function json(res: ServerResponse, body: unknown): void {
  jsonText(res, JSON.stringify(body));
}

/**
 * The gateway's own routes: health and readiness ("can the gateway serve?", never "is every model
 * up": one model's outage must not take the others offline), OIP server metadata and health
 * (inference_rest.md "Health" and "Server Metadata": `/v2...` means this server, the gateway),
 * the model listing without addresses (each backend's weight and readiness) and OpenAI's
 * `/v1/models`, both limited to the models the key may use. The model list comes from the
 * configuration the request arrived under, so it answers while a model is down.
 */
export function gatewayAnswers({ version, draining, assets, apiDocument }: LocalOptions): GatewayAnswers {
  const readiness =
    (body: z.input<typeof statusSchema> | z.input<typeof protocolSchemas.ready>): GatewayAnswer =>
    (_req, res) => {
      if (draining()) throw HttpError.overloaded('the gateway is shutting down');
      json(res, body);
    };
  const health = new Map<string, GatewayAnswer>([
    ['/healthz', (_req, res) => json(res, { status: 'ok' })],
    ['/readyz', readiness({ status: 'ready' })],
    ['/v2/health/live', (_req, res) => json(res, { live: true })],
    ['/v2/health/ready', readiness({ ready: true })],
  ]);
  const gateway = new Map<string, GatewayAnswer>([
    ['/v2', (_req, res) => json(res, { name: SERVER_NAME, version, extensions: [] } satisfies z.input<typeof protocolSchemas.serverMetadata>)],
    [
      '/models',
      (_req, res, state) =>
        json(res, {
          models: visible(state).map((model) => ({
            name: model.name,
            ready: modelReady(model),
            readyReplicas: model.weighted.reduce((sum, backend) => sum + readyReplicas(backend.pool.endpoints), 0),
            backends: model.backends.map((backend) => ({
              name: backend.name,
              weight: backend.weight,
              ready: backend.pool.ready,
              readyReplicas: readyReplicas(backend.pool.endpoints),
            })),
            ...(model.shadow === undefined ? {} : { shadow: { backend: model.shadow.backend.name, percent: model.shadow.percent } }),
          })),
        } satisfies z.input<typeof modelsSchema>),
    ],
    [
      '/v1/models',
      (_req, res, state) => {
        // `created`: when this configuration was loaded.
        const created = (state.routing as Routing).loadedAt;
        json(res, {
          object: 'list',
          data: visible(state).map((model) => ({ id: model.name, object: 'model', created, owned_by: 'modeldock' })),
        } satisfies z.input<typeof modelListSchema>);
      },
    ],
    // The document lists what the caller may use; it is built from the model services' own documents.
    ['/openapi.json', async (req, res, state) => sendDocument(req, res, await apiDocument(state.routing as Routing, visible(state).map((model) => model.name)))],
  ]);
  const pages = new Map<string, GatewayAnswer>(assets.map((asset) => [asset.path, assetAnswer(asset)]));
  return { health, gateway, pages };
}

/**
 * Answers what the gateway answers itself, once the caller is known to be allowed in: its own
 * routes, 405 for another method on an OpenAI route, 404 for a path that is nobody's. Model routes
 * go on to the next stage.
 */
export function local(): RequestHandler {
  return (req: IncomingMessage, res: ServerResponse, next) => {
    const state = stateOf(res);
    const route = state.route;
    switch (route.kind) {
      case 'model':
        next();
        return;
      case 'health':
      case 'page':
      case 'gateway':
        return route.answer(req, res, state);
      case 'method-not-allowed':
        throw HttpError.methodNotAllowed(req.method ?? '', route.template);
      case 'none': {
        const url = req.url ?? '';
        const query = url.indexOf('?');
        throw HttpError.notFound(`no route for ${clipInput(req.method ?? '')} ${clipInput(query === -1 ? url : url.slice(0, query))}`);
      }
    }
  };
}
