import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { forwardedClient, type TrustedProxies } from '@modeldock/service-kit';
import type { ClientLimitConfig } from './config.js';

/**
 * Who a request counts against: the client's address (see {@link clientAddress}); once access
 * control exists an API key's identity plugs in here without touching the limiter.
 */
export type ClientIdentity = (req: IncomingMessage) => string;

/**
 * The client's address: the TCP peer, or, when the peer is one of `trusted` (an ingress, a load
 * balancer), the rightmost `X-Forwarded-For` address that is not a trusted proxy.
 */
export function clientAddress(trusted: TrustedProxies): ClientIdentity {
  return (req) => forwardedClient(req.socket.remoteAddress ?? 'unknown', req.headers['x-forwarded-for'], trusted);
}

/** Outcome of {@link ClientLimiter.acquire}. */
export type Admission =
  | { ok: true; release: () => void }
  | { ok: false; reason: 'concurrency' | 'rate'; retryAfterSeconds: number };

interface ClientState {
  inFlight: number;
  tokens: number;
  refilledAt: number;
}

/** Clients tracked before idle ones are swept, so a scan of many addresses cannot grow the map forever. */
const SWEEP_AT = 10_000;

/**
 * Per-client fairness: at most `maxConcurrency` requests in flight and, when `ratePerSecond` is
 * set, a token bucket of `burst` refilled at that rate. One client flooding then gets 429s for
 * its excess while others keep their share of the replicas.
 */
export class ClientLimiter {
  readonly #clients = new Map<string, ClientState>();

  constructor(
    private readonly limits: Pick<ClientLimitConfig, 'maxConcurrency' | 'ratePerSecond' | 'burst'>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Clients with state (in flight, or a bucket not yet full). */
  get tracked(): number {
    return this.#clients.size;
  }

  acquire(client: string): Admission {
    const { maxConcurrency, ratePerSecond, burst } = this.limits;
    if (maxConcurrency === 0 && ratePerSecond === 0) return { ok: true, release: () => {} };
    const now = this.now();
    let state = this.#clients.get(client);
    if (state === undefined) {
      if (this.#clients.size >= SWEEP_AT) this.#sweep(now);
      state = { inFlight: 0, tokens: burst, refilledAt: now };
      this.#clients.set(client, state);
    }
    if (ratePerSecond > 0) {
      state.tokens = Math.min(burst, state.tokens + ((now - state.refilledAt) / 1000) * ratePerSecond);
      state.refilledAt = now;
    }
    if (maxConcurrency > 0 && state.inFlight >= maxConcurrency) {
      return { ok: false, reason: 'concurrency', retryAfterSeconds: 1 };
    }
    if (ratePerSecond > 0) {
      if (state.tokens < 1) {
        return { ok: false, reason: 'rate', retryAfterSeconds: Math.max(1, Math.ceil((1 - state.tokens) / ratePerSecond)) };
      }
      state.tokens -= 1;
    }
    state.inFlight++;
    const held = state;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        held.inFlight--;
        if (held.inFlight === 0 && ratePerSecond === 0) this.#clients.delete(client);
      },
    };
  }

  #sweep(now: number): void {
    const { ratePerSecond, burst } = this.limits;
    for (const [client, state] of this.#clients) {
      const full = ratePerSecond === 0 || state.tokens + ((now - state.refilledAt) / 1000) * ratePerSecond >= burst;
      if (state.inFlight === 0 && full) this.#clients.delete(client);
    }
  }
}
