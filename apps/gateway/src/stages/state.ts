import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { ApiKey } from '../api-keys.js';
import type { BackendRoute, Routing } from '../routing.js';
import type { Endpoint, UpstreamPool } from '../upstream-pool.js';

/** What a request is, as the route stage found it. */
export type RouteMatch =
  /** The gateway's health routes: public even with access control on. */
  | { readonly kind: 'health'; readonly template: string; readonly answer: GatewayAnswer }
  /** The playground's pages and files: public even with access control on (they hold nothing about models). */
  | { readonly kind: 'page'; readonly template: string; readonly answer: GatewayAnswer }
  /** The gateway's own answers that need a key when access control is on (`/v2`, `/models`, `/v1/models`, `/openapi.json`). */
  | { readonly kind: 'gateway'; readonly template: string; readonly answer: GatewayAnswer }
  /**
   * A model's route: its `model` from the path, or (OpenAI embeddings) from the body, found by
   * the body stage; `path` is what is forwarded, byte for byte.
   */
  | { readonly kind: 'model'; readonly template: string; readonly model: string | undefined; readonly path: string }
  /** The OpenAI paths with another method: 405 once the caller is known to be allowed in. */
  | { readonly kind: 'method-not-allowed'; readonly template: string }
  /** Nothing: 404, once the caller is known to be allowed in (deny by default comes first). */
  | { readonly kind: 'none' };

/** Answers one of the gateway's own routes (a promise when it waits on something, e.g. the API document). */
export type GatewayAnswer = (req: IncomingMessage, res: ServerResponse, state: RequestState) => void | Promise<void>;

/** Who is asking: an API key's id, or (access control off) the client's address. */
export interface Client {
  /** The key id, or the address: what per-client limits and metrics count against. */
  readonly id: string;
  /** The key, when access control is on and one was presented and found. */
  readonly key: ApiKey | undefined;
}

/** How the trace stage follows each attempt of the forward stage (tracing on). */
export interface AttemptTracing {
  /**
   * An attempt on `endpoint` starts (`retry` 0 for the first): its span begins, and its trace
   * context goes into the `headers` sent to the replica. Returns what ends the span, with the
   * attempt's outcome (the replica's status, or `error`/`timeout`/`aborted`) and a failure's code.
   */
  start(pool: UpstreamPool, endpoint: Endpoint, retry: number, headers: OutgoingHttpHeaders): (outcome: string, code?: string) => void;
}

/**
 * Everything the stages learn about one request, in pipeline order. One object per request, set
 * by the first stage; each stage reads what earlier ones wrote and adds its own part.
 */
export interface RequestState {
  readonly requestId: string;
  /** `performance.now()` when the request arrived. */
  readonly startedAt: number;
  /** `performance.now()` when its response closed (set just before the `onClose` functions run). */
  closedAt: number;
  route: RouteMatch;
  /** The models configuration this request is routed by, read once when it arrived (route stage). */
  routing: Routing | undefined;
  client: Client | undefined;
  /** Why identification failed, when a key was presented but not found. */
  presentedUnknownKey: boolean;
  /** The model the request is for, once known (route stage, or body stage for OpenAI embeddings). */
  model: string | undefined;
  body: Buffer | undefined;
  /** The request carries a body (RFC 9112 §6.3: Content-Length or Transfer-Encoding). */
  readonly hasBody: boolean;
  /** The backend chosen by the select-backend stage (its pool's replicas take the attempts). */
  backend: BackendRoute | undefined;
  /** The client chose the backend (`x-modeldock-backend`) rather than the weights. */
  pinned: boolean;
  /** Set by the trace stage while tracing is on. */
  trace: AttemptTracing | undefined;
  /** Runs `fn` once, when the response closes (finished or not). */
  readonly onClose: (fn: () => void) => void;
}

const STATE = Symbol('modeldock.gateway.state');

/** Creates the request's state; the first stage calls it once. */
export function createState(req: IncomingMessage, res: ServerResponse, requestId: string, startedAt: number): RequestState {
  const closers: (() => void)[] = [];
  // One 'close' listener per request, however many stages need one.
  res.once('close', () => {
    state.closedAt = performance.now();
    for (const fn of closers) fn();
  });
  const state: RequestState = {
    requestId,
    startedAt,
    closedAt: 0,
    route: { kind: 'none' },
    client: undefined,
    presentedUnknownKey: false,
    model: undefined,
    body: undefined,
    hasBody: req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0',
    routing: undefined,
    backend: undefined,
    trace: undefined,
    pinned: false,
    onClose: (fn) => {
      closers.push(fn);
    },
  };
  // On Express's per-request `res.locals` object, whose shape every request shares: a property
  // added to Node's own response object would give it a new hidden class on every request.
  localsOf(res)[STATE] = state;
  return state;
}

function localsOf(res: ServerResponse): { [STATE]?: RequestState } {
  const withLocals = res as ServerResponse & { locals?: { [STATE]?: RequestState } };
  withLocals.locals ??= Object.create(null) as { [STATE]?: RequestState };
  return withLocals.locals;
}

/** The request's state; every stage after the first finds it here. */
export function stateOf(res: ServerResponse): RequestState {
  const state = localsOf(res)[STATE];
  if (state === undefined) throw new Error('the access-log stage runs first');
  return state;
}
