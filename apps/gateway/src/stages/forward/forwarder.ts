import type { Agent, ClientRequest, IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { parse as parseUrl, type Url } from 'node:url';
import {
  BACKEND_HEADER,
  DEADLINE_HEADER,
  DEADLINE_MAX_HEADER,
  HttpError,
  SERVED_BY_HEADER,
  TIMEOUT_CAUSE_HEADER,
  plainAddress,
  type TrustedProxies,
} from '@modeldock/service-kit';
import { createProxyMiddleware, proxyEventsPlugin, type Plugin } from 'http-proxy-middleware';
import type { GatewayMetrics } from '../../metrics.js';
import type { Endpoint, UpstreamPool } from '../../upstream-pool.js';
import type { AttemptTracing } from '../state.js';
import type { BackendRoute } from '../../routing.js';

/**
 * Request headers that belong to the client's hop, not the message (RFC 9110 §7.6.1). Forwarding a
 * client's `Connection: close` would also cost the upstream keep-alive connection. `expect` goes
 * because the body is already here, and `transfer-encoding` because it is re-sent with a length.
 */
const DROPPED_REQUEST_HEADERS = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'transfer-encoding',
  'expect',
  DEADLINE_HEADER,
  DEADLINE_MAX_HEADER,
];

/** Response headers not copied from the replica: hop-by-hop ones, and the request id and backend the gateway already set. */
const DROPPED_RESPONSE_HEADERS = new Set([
  BACKEND_HEADER,
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'x-request-id',
]);

/** No replica to avoid (a first attempt). */
const NONE: ReadonlySet<Endpoint> = new Set();

/** The replica cannot be reached at all: take it out of rotation until a probe passes. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Failures before any response byte, so the replica answered nothing and the request can go
 * elsewhere. ECONNRESET covers Node's "socket hang up". Inference is side-effect free, which is
 * what makes a POST safe to repeat here.
 */
const RETRYABLE = new Set([...UNREACHABLE, 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

/**
 * How much sooner than the gateway's own attempt timer a replica is told its deadline passes, so
 * that a replica whose queue is the cause answers first (504 + `x-modeldock-timeout-cause: queue`)
 * and the gateway's timer only fires for a replica that did not answer at all: a tenth of the
 * attempt, at most this.
 */
export const DEADLINE_MARGIN_MS = 250;

/** The deadline sent to a replica for an attempt of `attemptMs` (see {@link DEADLINE_MARGIN_MS}). */
export function replicaDeadlineMs(attemptMs: number): number {
  return Math.max(1, attemptMs - Math.min(DEADLINE_MARGIN_MS, Math.ceil(attemptMs / 10)));
}

/**
 * A replica's answer whose cause is its queue (waited behind other work past the deadline, full
 * queue, the client's fair share): the replica is healthy, so the answer is the client's to have,
 * never a reason to eject the replica or to retry it elsewhere as if it had failed.
 */
function queueCaused(proxyRes: IncomingMessage): boolean {
  return proxyRes.headers[TIMEOUT_CAUSE_HEADER] === 'queue';
}

type Outcome =
  /** Status and headers are on their way to the client; nothing more to decide. */
  | { kind: 'responded' }
  /** The replica answered 503 (not ready, draining) and another replica may take the request. */
  | { kind: 'unavailable' }
  /** No response; `staleSocket` when a reused keep-alive connection was reset under us. */
  | { kind: 'failed'; code: string; staleSocket: boolean }
  /** Stopped by the deadline or by the client going away. */
  | { kind: 'aborted' };

/** http-proxy's pass pipeline (`ProxyServer#before`), which @types/http-proxy does not describe. */
interface WebPasses {
  before(
    type: 'web',
    passName: 'stream',
    pass: (req: IncomingMessage, res: ServerResponse, options: { buffer?: Readable }) => void,
  ): void;
}

/**
 * What http-proxy pipes into its upstream request instead of the client's stream (`options.buffer`),
 * which can only be read once: nothing. The buffered body is written by the `proxyReq` hook, once
 * the request line carries the checked path (http-proxy emits `proxyReq` when the socket is
 * assigned, and the request line is fixed by the first write).
 */
const NO_STREAM = {
  pipe<T>(destination: T): T {
    return destination;
  },
} as unknown as Readable;

/**
 * Forwarding headers a client could write itself: believed, and passed on, only from a trusted
 * proxy. The gateway then appends the peer it saw to `X-Forwarded-For`, so the next hop reads the
 * same chain the gateway did.
 */
const FORWARDING_HEADERS = new Set(['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-real-ip']);

/**
 * Request headers not sent on: hop-by-hop ones (above), ones the gateway sets itself, the client's
 * credentials for the gateway (the replicas have no use for them, and must not log them) and its
 * choice of backend, which the gateway has acted on.
 */
const NOT_FORWARDED = new Set([...DROPPED_REQUEST_HEADERS, 'content-length', 'x-request-id', 'authorization', 'x-api-key', BACKEND_HEADER]);

/**
 * The headers of one attempt, built by copying what is forwarded rather than deleting from a copy
 * (which would turn every request's header object into a slow dictionary).
 */
function outgoingHeaders(
  incoming: IncomingHttpHeaders,
  peer: string,
  body: Buffer,
  hadBody: boolean,
  requestId: string,
  fromTrustedProxy: boolean,
  deadlineMs: number,
  /** The longest the gateway would wait if the replica answers 102 Processing (see {@link DEADLINE_MAX_HEADER}). */
  maxDeadlineMs: number | undefined,
): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  for (const name in incoming) {
    if (NOT_FORWARDED.has(name) || (!fromTrustedProxy && FORWARDING_HEADERS.has(name))) continue;
    headers[name] = incoming[name];
  }
  const chain = fromTrustedProxy ? incoming['x-forwarded-for'] : undefined;
  const forwardedFor = Array.isArray(chain) ? chain.join(', ') : chain;
  headers['x-forwarded-for'] = forwardedFor === undefined ? peer : `${forwardedFor}, ${peer}`;
  if (hadBody) headers['content-length'] = String(body.length);
  headers['x-request-id'] = requestId;
  headers[DEADLINE_HEADER] = String(deadlineMs);
  if (maxDeadlineMs !== undefined) headers[DEADLINE_MAX_HEADER] = String(maxDeadlineMs);
  return headers;
}

function copyResponseHead(proxyRes: IncomingMessage, res: ServerResponse, servedBy: string): void {
  // proxyRes.headers is a getter that builds an object; the raw list is already there.
  const raw = proxyRes.rawHeaders;
  let copied: string[] | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (DROPPED_RESPONSE_HEADERS.has(name)) continue;
    const value = raw[i + 1] as string;
    // A repeated field (set-cookie, or any list) keeps every value; the replica's replaces the gateway's own.
    if (copied?.includes(name) === true) res.appendHeader(name, value);
    else {
      res.setHeader(name, value);
      (copied ??= []).push(name);
    }
  }
  res.setHeader(SERVED_BY_HEADER, servedBy);
  res.writeHead(proxyRes.statusCode ?? 502, proxyRes.statusMessage);
}

/**
 * Sees the response passed on to the client as it streams (the shadow's copy of the served answer):
 * `start` with its status and headers, returning whether it wants the body, then each chunk.
 */
export interface AnswerSink {
  start(status: number, headers: IncomingHttpHeaders): boolean;
  chunk(data: Buffer): void;
}

/** One try of one request against one replica. */
class Attempt {
  proxyReq: ClientRequest | undefined;
  settled = false;
  /** Called when the replica answers `102 Processing`: it admitted work that needs more than this attempt's deadline. */
  onProcessing: (() => void) | undefined;
  /** Called once when the attempt is over, with its outcome (tracing on: ends its span). */
  onRelease: ((outcome: string, code?: string) => void) | undefined;
  #released = false;
  /** The replica's response once it is being passed on. */
  #response: IncomingMessage | undefined;
  readonly #startedAt = performance.now();

  constructor(
    readonly pool: UpstreamPool,
    readonly endpoint: Endpoint,
    readonly path: string,
    readonly body: Buffer,
    /** Whether a 503 from this replica should be retried elsewhere rather than passed on. */
    readonly mayRetry: () => boolean,
    private readonly metrics: GatewayMetrics,
    /** A started response body silent this long is cut off. */
    private readonly idleTimeoutMs: number,
    private readonly settle: (outcome: Outcome) => void,
    private readonly sink: AnswerSink | undefined,
  ) {
    endpoint.outstanding++;
  }

  /** The replica answered: pass the answer on, or drain a retryable 503 and let the caller try elsewhere. */
  respond(proxyRes: IncomingMessage, res: ServerResponse): void {
    if (this.settled) {
      proxyRes.destroy();
      return;
    }
    const status = proxyRes.statusCode ?? 502;
    if (status === 503 && !queueCaused(proxyRes) && this.mayRetry()) {
      // Draining (not destroying) the short error body keeps the connection reusable.
      proxyRes.resume();
      this.#release('503');
      this.#finish({ kind: 'unavailable' });
      return;
    }
    if (status < 500 || queueCaused(proxyRes)) this.pool.recordSuccess(this.endpoint);
    copyResponseHead(proxyRes, res, this.endpoint.publicId);
    this.#finish({ kind: 'responded' });
    // A body that stops moving is cut off: the client sees an error instead of waiting forever.
    // When the client is the one not reading (the response buffer is full) the replica is not to blame.
    const idle = setTimeout(() => {
      const clientStalled = res.writableNeedDrain;
      if (!clientStalled) this.pool.eject(this.endpoint, 'response body stalled');
      this.metrics.stalledResponses.inc({ model: this.pool.name, side: clientStalled ? 'client' : 'upstream' });
      proxyRes.destroy();
      res.destroy();
    }, this.idleTimeoutMs);
    const sink = this.sink;
    if (sink !== undefined && sink.start(status, proxyRes.headers)) {
      proxyRes.on('data', (chunk: Buffer) => {
        idle.refresh();
        sink.chunk(chunk);
      });
    } else {
      proxyRes.on('data', () => idle.refresh());
    }
    res.on('drain', () => idle.refresh());
    // Plain pipe plus two close hooks rather than stream.pipeline, which would add five more
    // listeners to every response. A replica dying mid-body cuts the client short (it must not
    // see a truncated body as complete); a client going away frees the upstream connection.
    proxyRes.once('close', () => {
      clearTimeout(idle);
      if (!proxyRes.complete) res.destroy();
      this.#release(String(status));
    });
    this.#response = proxyRes;
    proxyRes.pipe(res);
  }

  /** The client went away: stop the attempt, or the upstream body still streaming to it. */
  clientGone(): void {
    if (!this.settled) this.abort();
    else if (this.#response !== undefined && !this.#response.complete) this.#response.destroy();
  }

  /** The request failed before any response arrived. */
  fail(err: NodeJS.ErrnoException): void {
    if (this.settled) return;
    const code = err.code ?? 'UNKNOWN';
    // Node documents `reusedSocket` for exactly this: a kept-alive connection the server closed as we reused it.
    const staleSocket = code === 'ECONNRESET' && this.proxyReq?.reusedSocket === true;
    // Unreachable: out until a probe passes. Reset on a fresh connection: an outlier, held out a while.
    if (UNREACHABLE.has(code)) this.pool.markDown(this.endpoint, code);
    else if (code === 'ECONNRESET' && !staleSocket) this.pool.eject(this.endpoint, code);
    this.#release('error', code);
    this.#finish({ kind: 'failed', code, staleSocket });
  }

  /**
   * No response head in time, although the replica was told the deadline before the gateway's
   * timer: the caller may retry elsewhere, and the replica's readiness is checked at once (see
   * `UpstreamPool.checkAfterTimeout`): only one whose readiness fails too is ejected.
   */
  timeout(): void {
    if (this.settled) return;
    this.proxyReq?.destroy();
    this.pool.checkAfterTimeout(this.endpoint);
    this.#release('timeout');
    this.#finish({ kind: 'failed', code: 'ETIMEDOUT', staleSocket: false });
  }

  abort(): void {
    if (this.settled) return;
    this.proxyReq?.destroy();
    this.#release('aborted');
    this.#finish({ kind: 'aborted' });
  }

  #finish(outcome: Outcome): void {
    this.settled = true;
    this.settle(outcome);
  }

  #release(status: string, code?: string): void {
    if (this.#released) return;
    this.#released = true;
    this.endpoint.outstanding--;
    this.onRelease?.(status, code);
    this.metrics.series.upstream(this.pool.name, this.endpoint.id, status).inc();
    this.metrics.series.upstreamDuration(this.pool.name, this.endpoint.id).observe((performance.now() - this.#startedAt) / 1000);
  }
}

/** Options for {@link createForwarder}. */
export interface ForwarderOptions {
  agent: Agent;
  maxRetries: number;
  metrics: GatewayMetrics;
  /** See `GatewayConfig.upstreamIdleTimeoutMs`. */
  upstreamIdleTimeoutMs: number;
  /** Peers whose forwarding headers are passed on (see `GatewayConfig.trustedProxies`). */
  trustedProxies: TrustedProxies;
}

/** Sends one request to a model's replicas; see {@link createForwarder}. */
export type Forward = (
  req: IncomingMessage,
  res: ServerResponse,
  request: {
    backend: BackendRoute;
    path: string;
    body: Buffer;
    hadBody: boolean;
    requestId: string;
    /** Registers what to run when the client's response closes (see `RequestState.onClose`). */
    onClose: (fn: () => void) => void;
    /** Tracing on: follows each attempt (see `RequestState.trace`). */
    trace?: AttemptTracing | undefined;
    /** Sees the answer passed on to the client, when one is wanted (a shadow's comparison). */
    sink?: AnswerSink | undefined;
  },
) => Promise<void>;

/**
 * Proxies with http-proxy-middleware, one middleware call per attempt. The balancer's choice and
 * the upstream path reach it through `router` and `pathRewrite`; a pass registered before
 * http-proxy's `stream` pass hands it a fresh copy of the buffered body each time;
 * `selfHandleResponse` lets `on.proxyRes` hold a 503 back and try another replica instead of
 * passing it on. Connection failures before a response are retried elsewhere the same way.
 *
 * Resolves once the response is committed (its body may still be streaming), or rejects with the
 * HttpError to answer: 503 when no replica is ready, 502 when every try failed, 504 at the deadline.
 */
export function createForwarder({ agent, maxRetries, metrics, upstreamIdleTimeoutMs, trustedProxies }: ForwarderOptions): Forward {
  const current = new WeakMap<IncomingMessage, Attempt>();
  /** Each replica's address as http-proxy takes it, parsed once rather than on every request. */
  const targets = new WeakMap<Endpoint, Url>();
  const targetOf = (endpoint: Endpoint): Url => {
    let target = targets.get(endpoint);
    if (target === undefined) {
      target = parseUrl(endpoint.origin);
      targets.set(endpoint, target);
    }
    return target;
  };

  const replayBody: Plugin = (proxyServer) => {
    (proxyServer as unknown as WebPasses).before('web', 'stream', (req, _res, options) => {
      if (current.get(req) !== undefined) options.buffer = NO_STREAM;
    });
  };

  const proxy = createProxyMiddleware<IncomingMessage, ServerResponse>({
    router: (req) => {
      const attempt = current.get(req);
      return attempt === undefined ? undefined : targetOf(attempt.endpoint);
    },
    agent,
    // X-Forwarded-For is set by outgoingHeaders, which knows which peers are trusted.
    xfwd: false,
    selfHandleResponse: true,
    // Only the `on` wiring: `on.error` is the crash guard, errors become retries or `{error}`
    // bodies instead of the default error page, and requests are logged by pino-http.
    ejectPlugins: true,
    plugins: [proxyEventsPlugin, replayBody],
    on: {
      proxyReq: (proxyReq, req) => {
        const attempt = current.get(req);
        if (attempt === undefined || attempt.settled) {
          proxyReq.destroy();
          return;
        }
        attempt.proxyReq = proxyReq;
        // http-proxy's URL handling rewrites some paths (`\` → `/`, `//` → `/`, a `#...` dropped): the
        // request line carries exactly the path the router checked, whatever it did.
        proxyReq.path = attempt.path;
        proxyReq.end(attempt.body.length > 0 ? attempt.body : undefined);
        // Bound to this request object, so a late error of an earlier attempt is never blamed on this one.
        proxyReq.on('error', (err) => attempt.fail(err));
        // Interim answers are the gateway's to read, never passed on (http-proxy ignores them).
        proxyReq.on('information', (info) => {
          if (info.statusCode === 102 && !attempt.settled) attempt.onProcessing?.();
        });
      },
      proxyRes: (proxyRes, req, res) => {
        const attempt = current.get(req);
        if (attempt === undefined) proxyRes.destroy();
        else attempt.respond(proxyRes, res);
      },
      error: (err, req) => {
        // Only errors raised before http-proxy had a request out; later ones reach the listener above.
        const attempt = current.get(req);
        if (attempt !== undefined && attempt.proxyReq === undefined) attempt.fail(err);
      },
    },
  });

  return async (req, res, { backend, path, body, hadBody, requestId, onClose, trace, sink }) => {
    const pool = backend.pool;
    const incoming = req.headers;
    const peer = plainAddress(req.socket.remoteAddress ?? '');
    const fromTrustedProxy = trustedProxies.trusts(peer);
    const { timeoutMs, attemptTimeoutMs, maxTimeoutMs } = backend.config;
    const startedAt = performance.now();
    let deadlineAt = startedAt + timeoutMs;
    /** The deadline a request gets once a replica says its admitted work needs more (102 Processing). */
    const maxDeadlineAt = startedAt + maxTimeoutMs;
    /** The request's deadline, for its 504: the ordinary one, or the longest once a replica answered 102. */
    const requestMs = () => Math.round(deadlineAt - startedAt);
    /** Replicas that failed this request; a retry goes elsewhere. */
    let failed: Set<Endpoint> | undefined;
    let previous: Endpoint | undefined;
    let attempt: Attempt | undefined;
    let clientGone = false;
    onClose(() => {
      clientGone = true;
      attempt?.clientGone();
    });

    try {
      let retryReason: string | undefined;
      let lastTimeoutMs: number | undefined;
      for (let tries = 0; ; tries++) {
        // Prefer a replica not tried yet; the previous one only after a stale keep-alive reset.
        let avoid: ReadonlySet<Endpoint> = NONE;
        if (failed !== undefined || previous !== undefined) {
          const tried = new Set(failed);
          if (previous !== undefined) tried.add(previous);
          avoid = tried;
        }
        const endpoint =
          pool.pick(avoid) ?? (previous !== undefined && failed?.has(previous) !== true ? pool.pick(failed ?? NONE) : undefined);
        if (endpoint === undefined) {
          // The replicas that timed out are ejected now; the client's answer is still "too slow", not "none ready".
          if (lastTimeoutMs !== undefined) throw HttpError.upstreamTimeout(lastTimeoutMs);
          throw tries === 0 || !pool.ready
            ? HttpError.noUpstream(pool.name)
            : HttpError.upstreamUnavailable(`no replica of model '${pool.name}' could answer`);
        }
        if (retryReason !== undefined) metrics.retries.inc({ model: pool.name, reason: retryReason });

        // Each attempt gets its own deadline, never past the request's: a black-hole replica costs
        // one attempt timeout, and the replica learns how long its answer is still wanted. One
        // timer per attempt also keeps the request's deadline: the last attempt ends with it.
        const remainingMs = Math.floor(deadlineAt - performance.now());
        if (remainingMs < 1) throw HttpError.upstreamTimeout(requestMs());
        const attemptMs = Math.min(attemptTimeoutMs, remainingMs);
        // The request's own deadline ends this attempt: a timeout is then the request's.
        let lastChance = attemptTimeoutMs >= remainingMs;
        let attemptTimer: NodeJS.Timeout | undefined;
        const outcome = await new Promise<Outcome>((settle) => {
          const mayRetry = () => tries < maxRetries && !clientGone && pool.hasCandidate(new Set(avoid).add(endpoint));
          const started = new Attempt(pool, endpoint, path, body, mayRetry, metrics, upstreamIdleTimeoutMs, settle, sink);
          attempt = started;
          current.set(req, started);
          // Every attempt starts from the client's headers. The replica may take up to the longest
          // deadline for work that needs it, if it says so at once.
          const offerMs = Math.floor(maxDeadlineAt - performance.now());
          const offer = offerMs > attemptMs ? replicaDeadlineMs(offerMs) : undefined;
          req.headers = outgoingHeaders(incoming, peer, body, hadBody, requestId, fromTrustedProxy, replicaDeadlineMs(attemptMs), offer);
          if (trace !== undefined) started.onRelease = trace.start(pool, endpoint, tries, req.headers);
          attemptTimer = setTimeout(() => started.timeout(), attemptMs);
          started.onProcessing = () => {
            if (deadlineAt >= maxDeadlineAt) return;
            // The replica is alive and computing: wait for it up to the longest deadline, not the attempt's.
            deadlineAt = maxDeadlineAt;
            lastChance = true;
            clearTimeout(attemptTimer);
            attemptTimer = setTimeout(() => started.timeout(), Math.max(0, maxDeadlineAt - performance.now()));
          };
          void proxy(req, res, (err: unknown) => started.fail(err as NodeJS.ErrnoException));
        });
        clearTimeout(attemptTimer);

        if (outcome.kind === 'responded' || clientGone) return;
        if (outcome.kind === 'aborted') throw HttpError.upstreamTimeout(requestMs());
        failed ??= new Set();
        if (outcome.kind === 'failed') {
          if (!RETRYABLE.has(outcome.code) || tries >= maxRetries) {
            if (outcome.code === 'ETIMEDOUT') throw HttpError.upstreamTimeout(lastChance ? requestMs() : attemptMs);
            throw !pool.ready
              ? HttpError.noUpstream(pool.name)
              : HttpError.upstreamUnavailable(`model '${pool.name}' replica failed: ${outcome.code}`);
          }
          if (!outcome.staleSocket) failed.add(endpoint);
          retryReason = outcome.code.toLowerCase();
          lastTimeoutMs = outcome.code === 'ETIMEDOUT' ? (lastChance ? requestMs() : attemptMs) : undefined;
        } else {
          // A 503 only comes back here when mayRetry() said another replica may take it.
          failed.add(endpoint);
          retryReason = 'status_503';
          lastTimeoutMs = undefined;
        }
        previous = endpoint;
      }
    } finally {
      current.delete(req);
    }
  };
}
