import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from '@modeldock/service-kit';
import type { RequestHandler } from 'express';
import type { GatewayMetrics } from '../../metrics.js';
import { stateOf, type Client } from '../state.js';
import type { Admission, ClientLimiter, RateLimit } from './limiter.js';

export { ClientLimiter, clientAddress, type Admission, type RateLimit } from './limiter.js';

/** Options of {@link admit}. */
export interface AdmitOptions {
  limiter: ClientLimiter;
  /** Requests one client may have in flight (0: no limit). */
  maxConcurrency: number;
  /** The token bucket of a client whose key sets none (and of every client without access control); undefined: none. */
  defaultRate: RateLimit | undefined;
  metrics: GatewayMetrics;
}

/** The bucket that applies to `client`: its key's, else the default. */
export function rateOf(client: Client, defaultRate: RateLimit | undefined): RateLimit | undefined {
  return client.key?.rate ?? defaultRate;
}

/** `RateLimit-Policy` values, by bucket (they change only when the keys do). */
const policies = new WeakMap<RateLimit, string>();

function ratePolicy(rate: RateLimit): string {
  let policy = policies.get(rate);
  if (policy === undefined) {
    policy = `"rate";q=${rate.burst};w=${Math.max(1, Math.ceil(rate.burst / rate.ratePerSecond))}`;
    policies.set(rate, policy);
  }
  return policy;
}

/**
 * `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers, structured-field form):
 * the token bucket as a policy of `burst` requests over the seconds it takes to refill (`q`, `w`),
 * with what is left (`r`) and the seconds until it is full again (`t`); the in-flight limit as a
 * `concurrent-requests` policy. Undefined when neither limit applies.
 */
export function rateLimitHeaders(
  rate: RateLimit | undefined,
  maxConcurrency: number,
  admission: Pick<Admission, 'tokens' | 'inFlight'>,
): { policy: string; limit: string } | undefined {
  let policy = '';
  let limit = '';
  if (rate !== undefined) {
    const tokens = Math.max(0, admission.tokens ?? rate.burst);
    policy = ratePolicy(rate);
    limit = `"rate";r=${Math.floor(tokens)};t=${Math.ceil((rate.burst - tokens) / rate.ratePerSecond)}`;
  }
  if (maxConcurrency > 0) {
    const sep = policy === '' ? '' : ', ';
    policy += `${sep}"concurrency";q=${maxConcurrency};qu="concurrent-requests"`;
    limit += `${sep}"concurrency";r=${Math.max(0, maxConcurrency - admission.inFlight)}`;
  }
  return policy === '' ? undefined : { policy, limit };
}

/**
 * Admission, decided before any body byte is read: the client's requests in flight and its token
 * bucket (its key's rate and burst, or the per-client default), keyed on the key id with access
 * control on and on the client's address without. Beyond either, 429 with `Retry-After`; every
 * answer on a model route carries the RateLimit headers, the 429 included. Requests and refusals
 * are counted per key id (never the key) and model.
 */
export function admit({ limiter, maxConcurrency, defaultRate, metrics }: AdmitOptions): RequestHandler {
  return (_req: IncomingMessage, res: ServerResponse, next) => {
    const state = stateOf(res);
    const client = state.client as Client;
    const rate = rateOf(client, defaultRate);
    const admission = limiter.acquire(client.id, rate);
    const headers = rateLimitHeaders(rate, maxConcurrency, admission);
    if (headers !== undefined) {
      res.setHeader('ratelimit-policy', headers.policy);
      res.setHeader('ratelimit', headers.limit);
    }
    const keyLabel = client.key?.id ?? '';
    if (!admission.ok) {
      metrics.clientLimited.inc({ reason: admission.reason });
      // Only configured models become metric labels (a path can name anything).
      const model = state.model !== undefined && state.routing?.models.has(state.model) === true ? state.model : '';
      metrics.keyRefusals.inc({ key: keyLabel, model, reason: admission.reason });
      // The body is not wanted; reading it just to keep the connection would cost the flood's bytes.
      if (state.hasBody) res.setHeader('connection', 'close');
      throw HttpError.tooManyRequests(
        admission.reason === 'concurrency'
          ? `too many requests in flight from this client (limit ${maxConcurrency})`
          : `request rate over this client's limit (${rate?.ratePerSecond ?? 0}/s)`,
        admission.retryAfterSeconds,
      );
    }
    state.onClose(admission.release);
    next();
  };
}
