import { createHmac } from 'node:crypto';
import { get, type Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from '@modeldock/service-kit';
import { LeastOutstandingBalancer } from './balancer.js';
import type { UpstreamAddress } from './models-file.js';

/** One replica: an IP and port behind a model's upstream hostname. */
export interface Endpoint {
  /** `10.0.0.5:8501` (`[fd00::5]:8501` for IPv6); the admin listing's and metrics' label, never shown to clients. */
  readonly id: string;
  /** Opaque and stable for the process's life: the `x-served-by` value (see {@link publicEndpointId}). */
  readonly publicId: string;
  /** `http://10.0.0.5:8501`, the proxy target. */
  readonly origin: string;
  /** False until a readiness check has answered 200. */
  healthy: boolean;
  /** Requests in flight to this replica; the balancer's signal. */
  outstanding: number;
  /** Why it is unhealthy (last failed check or proxy error). */
  reason: string | undefined;
  /** Readiness checks in a row that got no answer in time (see {@link SLOW_PROBES_TO_EJECT}). */
  slowProbes: number;
  /** Outlier ejections in a row (timeouts, resets, stalls) without a good answer in between. */
  ejections: number;
  /** An ejected outlier stays out until then (`performance.now()`), even if its readiness passes. */
  heldUntil: number;
  /** Counted busier by the balancer until then: an attempt timed out though its readiness passed. */
  suspectUntil: number;
}

/** Resolves a hostname to every address it has; `dns.promises.lookup(host, {all: true})` by default. */
export type LookupFn = (hostname: string) => Promise<ReadonlyArray<{ address: string; family: number }>>;

/** Result of one readiness check. */
export interface ProbeResult {
  healthy: boolean;
  reason?: string;
  /** No answer within the timeout: the replica may be down, or just busy computing. */
  timedOut?: boolean;
}

/** GETs a replica's readiness URL. */
export type ProbeFn = (url: string, timeoutMs: number) => Promise<ProbeResult>;

/** The replicas a pool balances over: one backend of one model. */
export interface PoolConfig {
  /** The model's name: the pool's metric label and log field. */
  readonly model: string;
  readonly upstreams: readonly UpstreamAddress[];
  /** GET this on every replica; 200 means it may take traffic. */
  readonly readyPath: string;
}

/** What a pool needs besides its configuration; tests replace `lookup` and `probe`. */
export interface PoolOptions {
  logger: Logger;
  lookup: LookupFn;
  probe: ProbeFn;
  healthTimeoutMs: number;
  /** First hold of an ejected outlier; doubles per ejection in a row, up to {@link MAX_EJECTION_MS}. */
  ejectionBaseMs: number;
  /** Key of {@link publicEndpointId}. */
  idKey: Buffer;
}

/**
 * A busy replica answers probes late: on wasm a whole engine call runs before its event loop reads
 * the probe. One slow answer is no verdict, so a ready replica leaves rotation only after this many
 * in a row; a refused connection or a non-200 answer still takes it out at once.
 */
export const SLOW_PROBES_TO_EJECT = 3;

/** The longest an outlier is held out of rotation. */
export const MAX_EJECTION_MS = 60_000;

/** Reason of an endpoint that has not answered a probe yet. */
const NOT_CHECKED = 'not checked yet';

function endpointId(address: string, family: number, port: number): string {
  return family === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * A replica's public name: a short HMAC of its address under a per-process key. Stable while the
 * gateway runs (a client can tell replicas apart when reporting a problem) but reveals nothing
 * about the internal network.
 */
export function publicEndpointId(key: Buffer, id: string): string {
  return createHmac('sha256', key).update(id).digest('base64url').slice(0, 12);
}

/**
 * The replicas of one model. Docker's embedded DNS answers a scaled compose service's name with
 * every replica's IP, but one kept-alive connection to the name would pin a single replica, so the
 * pool resolves the names itself and balances over the individual IPs. New endpoints are probed
 * before they get traffic; endpoints that fail a probe, or refuse a proxied connection, get none
 * until a probe passes again.
 */
export class UpstreamPool {
  readonly #options: PoolOptions;
  readonly #balancer = new LeastOutstandingBalancer<Endpoint>();
  /** Replaced, never mutated, so a pick in progress always sees a consistent list. */
  #endpoints: readonly Endpoint[] = [];
  /** Endpoints found per upstream URL, kept when a later lookup fails so a DNS blip empties nothing. */
  readonly #byUpstream = new Map<string, readonly Endpoint[]>();
  readonly #lookupErrors = new Map<string, string>();
  readonly #probing = new Set<Endpoint>();
  /** Endpoints whose readiness is being checked after an attempt timed out. */
  readonly #confirming = new Set<Endpoint>();
  #resolving: Promise<void> | undefined;

  constructor(
    readonly config: PoolConfig,
    options: PoolOptions,
  ) {
    this.#options = options;
  }

  /** The model's name. */
  get name(): string {
    return this.config.model;
  }

  /** Every known endpoint, healthy or not. */
  get endpoints(): readonly Endpoint[] {
    return this.#endpoints;
  }

  /** True when at least one replica may take traffic. */
  get ready(): boolean {
    return this.#endpoints.some((endpoint) => endpoint.healthy);
  }

  /** Chooses a healthy replica by least outstanding requests, skipping `exclude` (replicas already tried). */
  pick(exclude?: ReadonlySet<Endpoint>): Endpoint | undefined {
    return this.#balancer.pick(this.#endpoints, exclude);
  }

  /** Whether {@link pick} would find a replica, without moving the round-robin cursor. */
  hasCandidate(exclude: ReadonlySet<Endpoint>): boolean {
    return this.#endpoints.some((endpoint) => endpoint.healthy && !exclude.has(endpoint));
  }

  /** Takes a replica out of rotation now (connection refused); the next passing probe brings it back. */
  markDown(endpoint: Endpoint, reason: string): void {
    if (endpoint.healthy) {
      this.#options.logger.warn({ endpoint: endpoint.id, reason }, 'replica marked down');
    }
    endpoint.healthy = false;
    endpoint.reason = reason;
  }

  /**
   * Outlier ejection: a replica that reset a fresh connection, stalled a response, or timed out and
   * then failed its readiness too (see {@link checkAfterTimeout}) leaves rotation like one failing
   * readiness, and is held out for a while even if its readiness passes (a replica whose inference
   * hangs may still answer probes). The hold doubles per ejection in a row, as Envoy's outlier
   * detection does, and {@link recordSuccess} resets it. Failures of requests that were in flight
   * when it was ejected report the same fault, so they neither extend nor double the hold: the hold
   * logged is the hold applied. The last ready replica is never ejected this way (Envoy's
   * `max_ejection_percent`): without an alternative, ejecting it would turn a slow model into an
   * unavailable one; readiness checks still take it out if it stops answering them.
   */
  eject(endpoint: Endpoint, reason: string): void {
    if (!this.#endpoints.some((other) => other !== endpoint && other.healthy)) return;
    const now = performance.now();
    if (now < endpoint.heldUntil) return;
    const holdMs = Math.min(MAX_EJECTION_MS, this.#options.ejectionBaseMs * 2 ** Math.min(endpoint.ejections, 16));
    endpoint.ejections++;
    endpoint.heldUntil = now + holdMs;
    this.#options.logger.warn({ endpoint: endpoint.id, reason, holdMs, inARow: endpoint.ejections }, 'replica ejected');
    endpoint.healthy = false;
    endpoint.reason = reason;
  }

  /**
   * An attempt on `endpoint` got no answer in time. A modeldock replica is told its deadline before
   * the gateway gives up and answers first when its queue is the cause, but a client's own large
   * requests can still be what kept it busy past the deadline (an engine call already under way
   * when the deadline passed). Its readiness is probed at once, and it is ejected only if that
   * probe fails or gets no answer either; otherwise the balancer counts it busier for a while
   * (`suspectUntil`), so new requests prefer other replicas without the model losing its capacity.
   * Timeouts of requests in flight together share one probe.
   */
  checkAfterTimeout(endpoint: Endpoint): void {
    if (this.#confirming.has(endpoint)) return;
    this.#confirming.add(endpoint);
    const { logger, probe, healthTimeoutMs } = this.#options;
    probe(endpoint.origin + this.config.readyPath, healthTimeoutMs)
      .then((result) => {
        if (result.healthy) {
          // Not ejected: new requests prefer other replicas for a while, and it keeps its share when they are busy.
          endpoint.suspectUntil = performance.now() + this.#options.ejectionBaseMs;
          logger.debug({ endpoint: endpoint.id }, 'attempt timed out but the replica answers readiness; not ejected');
        } else this.eject(endpoint, `timeout, then readiness: ${result.reason ?? 'failed'}`);
      })
      .catch((err: unknown) => logger.error({ err, endpoint: endpoint.id }, 'readiness check after a timeout failed'))
      .finally(() => this.#confirming.delete(endpoint));
  }

  /** A replica answered (not a 5xx): its next ejection starts from the base hold again, and it is no longer suspect. */
  recordSuccess(endpoint: Endpoint): void {
    endpoint.ejections = 0;
    endpoint.suspectUntil = 0;
  }

  /** Re-resolves every upstream hostname; new endpoints are probed before this resolves. */
  resolve(): Promise<void> {
    // Overlapping rounds could each create their own object for the same new IP and lose its counters.
    this.#resolving ??= this.#resolveOnce().finally(() => {
      this.#resolving = undefined;
    });
    return this.#resolving;
  }

  async #resolveOnce(): Promise<void> {
    const { lookup, logger } = this.#options;
    const known = new Map(this.#endpoints.map((endpoint) => [endpoint.id, endpoint]));
    await Promise.all(
      this.config.upstreams.map(async (upstream: UpstreamAddress) => {
        try {
          const addresses = await lookup(upstream.hostname);
          const endpoints = addresses.map(({ address, family }) => {
            const id = endpointId(address, family, upstream.port);
            const existing = known.get(id);
            if (existing !== undefined) return existing;
            const created: Endpoint = {
              id,
              publicId: publicEndpointId(this.#options.idKey, id),
              origin: `http://${id}`,
              healthy: false,
              outstanding: 0,
              reason: NOT_CHECKED,
              slowProbes: 0,
              ejections: 0,
              heldUntil: 0,
              suspectUntil: 0,
            };
            known.set(id, created);
            return created;
          });
          this.#byUpstream.set(upstream.url, endpoints);
          if (this.#lookupErrors.delete(upstream.url)) logger.info({ upstream: upstream.url }, 'upstream resolves again');
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code ?? String(err);
          // Logged on change only: a missing service would otherwise log every resolve interval.
          if (this.#lookupErrors.get(upstream.url) !== code) {
            logger.warn({ upstream: upstream.url, code }, 'cannot resolve upstream; keeping its last known endpoints');
          }
          this.#lookupErrors.set(upstream.url, code);
        }
      }),
    );
    const next = [...new Set([...this.#byUpstream.values()].flat())];
    const previous = new Set(this.#endpoints);
    const added = next.filter((endpoint) => !previous.has(endpoint));
    const kept = new Set(next);
    const removed = this.#endpoints.filter((endpoint) => !kept.has(endpoint));
    if (added.length > 0 || removed.length > 0) {
      logger.info(
        { added: added.map((e) => e.id), removed: removed.map((e) => e.id), endpoints: next.map((e) => e.id) },
        'replica set changed',
      );
      this.#endpoints = next;
    }
    await Promise.all(added.map((endpoint) => this.#probe(endpoint)));
  }

  /** Probes every endpoint's readiness path once. */
  async checkHealth(): Promise<void> {
    await Promise.all(this.#endpoints.map((endpoint) => this.#probe(endpoint)));
  }

  /** One full round: resolve, then probe everything. */
  async refresh(): Promise<void> {
    await this.resolve();
    await this.checkHealth();
  }

  async #probe(endpoint: Endpoint): Promise<void> {
    // A slow replica must not accumulate overlapping probes.
    if (this.#probing.has(endpoint)) return;
    this.#probing.add(endpoint);
    try {
      const result = await this.#options.probe(endpoint.origin + this.config.readyPath, this.#options.healthTimeoutMs);
      // An ejected outlier's passing probe does not end its hold.
      if (result.healthy && !endpoint.healthy && performance.now() < endpoint.heldUntil) return;
      endpoint.slowProbes = result.timedOut === true ? endpoint.slowProbes + 1 : 0;
      if (endpoint.healthy && result.timedOut === true && endpoint.slowProbes < SLOW_PROBES_TO_EJECT) return;
      // Transitions only, plus the first verdict, so a replica that never becomes ready is visible in the log once.
      if (result.healthy !== endpoint.healthy || endpoint.reason === NOT_CHECKED) {
        const { logger } = this.#options;
        if (result.healthy) logger.info({ endpoint: endpoint.id }, 'replica ready');
        else logger.warn({ endpoint: endpoint.id, reason: result.reason }, 'replica not ready');
      }
      endpoint.healthy = result.healthy;
      endpoint.reason = result.healthy ? undefined : result.reason;
    } finally {
      this.#probing.delete(endpoint);
    }
  }
}

/**
 * Readiness check over the shared keep-alive agent (which keeps a warm connection to every
 * replica as a side effect). Healthy means exactly 200 (OIP readiness); anything else, an error
 * or no answer within `timeoutMs` is unhealthy.
 */
export function httpProbe(agent: Agent): ProbeFn {
  return (url, timeoutMs) =>
    new Promise((resolve) => {
      const request = get(url, { agent, signal: AbortSignal.timeout(timeoutMs) }, (response) => {
        response.resume();
        const status = response.statusCode ?? 0;
        resolve(status === 200 ? { healthy: true } : { healthy: false, reason: `readiness answered ${status}` });
      });
      request.on('error', (err: NodeJS.ErrnoException) => {
        const reason = err.name === 'AbortError' ? `no readiness answer within ${timeoutMs} ms` : (err.code ?? err.message);
        resolve({ healthy: false, reason, timedOut: err.name === 'AbortError' });
      });
    });
}
