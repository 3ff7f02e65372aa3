import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkRequestTarget } from '@modeldock/service-kit';
import type { RequestHandler } from 'express';
import type { Routing } from '../../routing.js';
import { stateOf, type GatewayAnswer, type RouteMatch } from '../state.js';
import { modelRouteTemplates, parseModelRoute, type RouteTemplate, type Router, type RoutingTable } from './paths.js';

export { createRouter, modelRouteTemplates, parseModelRoute, type ModelRoute, type RouteTemplate, type Router, type RoutingTable } from './paths.js';

/** The gateway's own answers, by route. */
export interface GatewayAnswers {
  /** Public even with access control on: `/healthz`, `/readyz`, `/v2/health/live`, `/v2/health/ready`. */
  health: ReadonlyMap<string, GatewayAnswer>;
  /** Need a key when access control is on: `/v2`, `/models`, `/v1/models`, `/openapi.json`. */
  gateway: ReadonlyMap<string, GatewayAnswer>;
  /** The playground's pages and files (`/`, `/docs`, `/playground/...`): public, they hold nothing about models. */
  pages: ReadonlyMap<string, GatewayAnswer>;
}

/** Options of {@link route}. */
export interface RouteOptions {
  /** The models configuration in force (it changes on reload); each request reads it once. */
  models: { readonly routing: Routing };
  answers: GatewayAnswers;
}

/** OpenAI's paths (exactly: TF Serving's `/v1/models/<name>` is not one of them), lower case, no trailing slash. */
export const OPENAI_PATHS: ReadonlySet<string> = new Set(['/v1/embeddings', '/v1/models']);

/** A path as the gateway's own routes match it: case-insensitive, one trailing slash ignored (as Express did). */
export function routePath(url: string): string {
  const query = url.indexOf('?');
  const pathname = (query === -1 ? url : url.slice(0, query)).toLowerCase();
  return pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
}

/**
 * Decides what a request is, before anything else looks at it: a path some hop behind the gateway
 * would read differently is a 400 (service-kit's `checkRequestTarget`, which the model servers use too); then one of the gateway's health routes, its
 * own answers, a model's route (the model from the path, or for `POST /v1/embeddings` from the
 * body later), a wrong method on an OpenAI route, or nothing. Nothing is answered here except the
 * 400: who may learn that a route or model does not exist is the authorize stage's decision. The
 * models configuration in force is read here once, so that a reload never changes a request's
 * route halfway.
 */
export function route({ models, answers }: RouteOptions): RequestHandler {
  return (req: IncomingMessage, res: ServerResponse, next) => {
    const url = req.url ?? '/';
    checkRequestTarget(url);
    const state = stateOf(res);
    const routing = models.routing;
    state.routing = routing;
    state.route = match(req.method ?? 'GET', url, routing.router, answers);
    if (state.route.kind === 'model') state.model = state.route.model;
    next();
  };
}

/**
 * What the router makes of `method path`, for the API document: a model's route (`{model}`), a model
 * named by the body (`'body'`, OpenAI embeddings), or anything else (undefined).
 */
export function routeOf(router: Router, answers: GatewayAnswers): (method: string, path: string) => { model: string } | 'body' | undefined {
  return (method, path) => {
    const found = match(method, path, router, answers);
    if (found.kind !== 'model') return undefined;
    return found.model === undefined ? 'body' : { model: found.model };
  };
}

/** Every public route: the gateway's own answers and the shapes of model routes, from the router and the configuration. */
export function publicRoutes(router: RoutingTable, answers: GatewayAnswers): RouteTemplate[] {
  const own = [...answers.health.keys(), ...answers.gateway.keys(), ...answers.pages.keys()].map((path) => ({ path, methods: ['GET'] }));
  return [...own, { path: '/v1/embeddings', methods: ['POST'] }, ...modelRouteTemplates(router)];
}

function match(method: string, url: string, router: Router, answers: GatewayAnswers): RouteMatch {
  const path = routePath(url);
  const readOnly = method === 'GET' || method === 'HEAD';
  if (readOnly) {
    const health = answers.health.get(path);
    if (health !== undefined) return { kind: 'health', template: path, answer: health };
    const own = answers.gateway.get(path);
    if (own !== undefined) return { kind: 'gateway', template: path, answer: own };
    const page = answers.pages.get(path);
    if (page !== undefined) return { kind: 'page', template: path, answer: page };
  }
  if (path === '/v1/embeddings') {
    if (method !== 'POST') return { kind: 'method-not-allowed', template: path };
    const query = url.indexOf('?');
    return { kind: 'model', template: path, model: undefined, path: '/v1/embeddings' + (query === -1 ? '' : url.slice(query)) };
  }
  if (path === '/v1/models') return { kind: 'method-not-allowed', template: path };
  const model = parseModelRoute(method, url, router);
  if (model === undefined) return { kind: 'none' };
  return { kind: 'model', template: model.template, model: model.model, path: model.path };
}
