import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { forwardedClient, type TrustedProxies } from '@modeldock/service-kit';

/**
 * The client's address: the TCP peer, or, when the peer is one of `trusted` (an ingress, a load
 * balancer), the rightmost `X-Forwarded-For` address that is not a trusted proxy.
 */
export function clientAddress(trusted: TrustedProxies): (req: IncomingMessage) => string {
  return (req) => forwardedClient(req.socket.remoteAddress ?? 'unknown', req.headers['x-forwarded-for'], trusted);
}

/** A token bucket: `ratePerSecond` sustained, `burst` at once after being idle. */
export interface RateLimit {
  readonly ratePerSecond: number;
  readonly burst: number;
}

/** Outcome of {@link ClientLimiter.acquire}, with what the RateLimit headers report. */
export type Admission =
  | { ok: true; release: () => void; tokens: number | undefined; inFlight: number }
  | { ok: false; reason: 'concurrency' | 'rate'; retryAfterSeconds: number; tokens: number | undefined; inFlight: number };

interface ClientState {
  inFlight: number;
  tokens: number;
  refilledAt: number;
  /** The bucket it was last filled against (a key's can change on reload); 0: none. */
  burst: number;
  ratePerSecond: number;
}

/** Clients tracked before idle ones are swept, so a scan of many addresses cannot grow the map forever. */
const SWEEP_AT = 10_000;

/**
 * Per-client fairness: at most `maxConcurrency` requests in flight and, when the client has a
 * rate (its key's, or the gateway's per-client default), a token bucket. One client flooding then
 * gets 429s for its excess while others keep their share of the replicas.
 */
export class ClientLimiter {
  readonly #clients = new Map<string, ClientState>();

  constructor(
    private readonly maxConcurrency: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Clients with state (in flight, or a bucket not yet full). */
  get tracked(): number {
    return this.#clients.size;
  }

  /** Admits one request of `client` under `rate` (undefined: no rate limit) or says which limit refused it. */
  acquire(client: string, rate: RateLimit | undefined): Admission {
    const maxConcurrency = this.maxConcurrency;
    if (maxConcurrency === 0 && rate === undefined) return { ok: true, release: () => {}, tokens: undefined, inFlight: 0 };
    const now = this.now();
    let state = this.#clients.get(client);
    if (state === undefined) {
      if (this.#clients.size >= SWEEP_AT) this.#sweep(now);
      state = { inFlight: 0, tokens: rate?.burst ?? 0, refilledAt: now, burst: rate?.burst ?? 0, ratePerSecond: rate?.ratePerSecond ?? 0 };
      this.#clients.set(client, state);
    }
    if (rate !== undefined) {
      state.tokens = Math.min(rate.burst, state.tokens + ((now - state.refilledAt) / 1000) * rate.ratePerSecond);
      state.refilledAt = now;
      state.burst = rate.burst;
      state.ratePerSecond = rate.ratePerSecond;
    }
    const tokens = rate === undefined ? undefined : state.tokens;
    if (maxConcurrency > 0 && state.inFlight >= maxConcurrency) {
      return { ok: false, reason: 'concurrency', retryAfterSeconds: 1, tokens, inFlight: state.inFlight };
    }
    if (rate !== undefined) {
      if (state.tokens < 1) {
        const retryAfterSeconds = Math.max(1, Math.ceil((1 - state.tokens) / rate.ratePerSecond));
        return { ok: false, reason: 'rate', retryAfterSeconds, tokens: state.tokens, inFlight: state.inFlight };
      }
      state.tokens -= 1;
    }
    state.inFlight++;
    const held = state;
    let released = false;
    return {
      ok: true,
      tokens: rate === undefined ? undefined : state.tokens,
      inFlight: state.inFlight,
      release: () => {
        if (released) return;
        released = true;
        held.inFlight--;
        if (held.inFlight === 0 && rate === undefined) this.#clients.delete(client);
      },
    };
  }

  #sweep(now: number): void {
    for (const [client, state] of this.#clients) {
      const full = state.burst === 0 || state.tokens + ((now - state.refilledAt) / 1000) * state.ratePerSecond >= state.burst;
      if (state.inFlight === 0 && full) this.#clients.delete(client);
    }
  }
}
