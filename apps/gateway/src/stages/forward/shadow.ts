import { createHash } from 'node:crypto';
import { request, type Agent, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import { DEADLINE_HEADER, SHADOW_HEADER, clipInput, type Logger } from '@modeldock/service-kit';
import type { ShadowLimits } from '../../config.js';
import type { GatewayMetrics } from '../../metrics.js';
import type { BackendRoute, ShadowRoute } from '../../routing.js';
import type { Endpoint } from '../../upstream-pool.js';
import { answerRows, compareAnswers } from './compare-answers.js';
import { replicaDeadlineMs } from './forwarder.js';

/** Why a copy was not sent, as `gateway_shadow_dropped_total{reason}` counts it. */
type DropReason = 'concurrency' | 'bytes' | 'answer_too_large' | 'unready';

/** Request headers a copy carries over from the client's request: what says how to read its body. */
const COPIED_HEADERS = ['content-type', 'content-encoding'] as const;

/** Bytes held for shadow work, all copies together (`GATEWAY_SHADOW_MAX_BYTES`). */
export class ShadowBudget {
  #used = 0;

  constructor(readonly limitBytes: number) {}

  get used(): number {
    return this.#used;
  }

  tryReserve(bytes: number): boolean {
    if (this.#used + bytes > this.limitBytes) return false;
    this.#used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
  }
}

/**
 * The served answer of one sampled request, kept as it streams to the client (the chunks the
 * client gets, not copies), within {@link ShadowLimits.maxAnswerBytes} and the shadow budget.
 * The forwarder feeds it; nothing here can hold the client's bytes back.
 */
export class AnswerCapture {
  readonly chunks: Buffer[] = [];
  bytes = 0;
  /** Why the answer is not kept whole, once it is not. */
  overflow: DropReason | undefined;
  #capturing = false;

  constructor(
    private readonly budget: ShadowBudget,
    private readonly maxBytes: number,
  ) {}

  /** The served response's head: only a 200 in plain JSON is kept for comparison. */
  start(status: number, headers: IncomingHttpHeaders): boolean {
    const encoding = headers['content-encoding'];
    this.#capturing = status === 200 && (encoding === undefined || encoding === 'identity');
    return this.#capturing;
  }

  chunk(data: Buffer): void {
    if (!this.#capturing || this.overflow !== undefined) return;
    if (this.bytes + data.length > this.maxBytes) this.#stop('answer_too_large');
    else if (!this.budget.tryReserve(data.length)) this.#stop('bytes');
    else {
      this.chunks.push(data);
      this.bytes += data.length;
    }
  }

  /** Gives the captured bytes back to the budget. */
  release(): void {
    this.budget.release(this.bytes);
    this.bytes = 0;
    this.chunks.length = 0;
  }

  #stop(reason: DropReason): void {
    this.overflow = reason;
    this.release();
  }
}

/** One request sampled for its model's shadow: where the copy goes and what it needs. */
export interface ShadowCopy {
  readonly shadow: ShadowRoute;
  /** The backend that served the client. */
  readonly served: BackendRoute;
  readonly capture: AnswerCapture;
}

/** What {@link Shadower.send} needs of the client's request once it is answered. */
export interface Answered {
  readonly path: string;
  readonly body: Buffer;
  readonly headers: IncomingHttpHeaders;
  readonly requestId: string;
  /** The client's response ended whole, with this status. */
  readonly finished: boolean;
  readonly status: number;
}

/** Options of {@link createShadower}. */
export interface ShadowerOptions {
  agent: Agent;
  limits: ShadowLimits;
  metrics: GatewayMetrics;
  logger: Logger;
  random?: () => number;
  now?: () => number;
}

/** Samples requests for their model's shadow and sends the copies; see {@link createShadower}. */
export interface Shadower {
  /** A copy to make of a request `served` answers, or undefined when it is not sampled. */
  sample(served: BackendRoute, pinned: boolean, method: string): ShadowCopy | undefined;
  /** Sends the copy, once the client's response has closed; drops it (counted) when over a bound. */
  send(copy: ShadowCopy, answered: Answered): void;
  /** Bytes and copies held right now, for tests and metrics. */
  readonly inFlight: number;
  readonly budget: ShadowBudget;
}

/**
 * Shadow traffic: a sampled share of a model's requests, copied to its shadow backend after the
 * client's response has closed, so the client's answer, status and latency never depend on it. Only
 * weighted (not pinned) POST requests served by another backend are sampled. The served answer is
 * kept as it streams to the client (bounded); the copy goes out with no retry, its own deadline
 * (`GATEWAY_SHADOW_TIMEOUT_MS`) and none of the client's identity: no key, and no
 * `X-Forwarded-For`, so a model server counts every copy against one client (the gateway), never
 * against the client's own share of its queue, and the gateway's limits never see it either. Copies
 * beyond `GATEWAY_SHADOW_MAX_CONCURRENCY` or `GATEWAY_SHADOW_MAX_BYTES` are dropped and counted,
 * never queued. The two answers are compared (see `compareAnswers`), exported per model and backend
 * pair, and a bounded number of disagreements per minute is logged: the SHA-256 of the input and
 * both labels, never the input.
 */
export function createShadower({ agent, limits, metrics, logger, random = Math.random, now = () => performance.now() }: ShadowerOptions): Shadower {
  const budget = new ShadowBudget(limits.maxBytes);
  let inFlight = 0;
  let logWindowStart = -Infinity;
  let logsLeft = 0;

  const drop = (model: string, reason: DropReason) => metrics.shadowDropped.inc({ model, reason });

  const logDisagreements = (copy: ShadowCopy, answered: Answered, disagreements: readonly { row: number; served: string; shadow: string }[]) => {
    if (limits.disagreementLogsPerMinute === 0 || disagreements.length === 0) return;
    const at = now();
    if (at - logWindowStart >= 60_000) {
      logWindowStart = at;
      logsLeft = limits.disagreementLogsPerMinute;
    }
    if (logsLeft <= 0) return;
    logsLeft--;
    logger.info(
      {
        model: copy.served.pool.name,
        backend: copy.served.name,
        shadow: copy.shadow.backend.name,
        requestId: answered.requestId,
        inputSha256: createHash('sha256').update(answered.body).digest('hex'),
        rows: disagreements.slice(0, 8).map(({ row, served, shadow }) => ({ row, served: clipInput(served), shadow: clipInput(shadow) })),
        disagreeingRows: disagreements.length,
      },
      'shadow answer disagrees',
    );
  };

  const compare = (copy: ShadowCopy, answered: Answered, shadowBody: Buffer) => {
    const model = copy.served.pool.name;
    const labels = { model, backend: copy.served.name, shadow: copy.shadow.backend.name };
    let comparison;
    try {
      const served = Buffer.concat(copy.capture.chunks, copy.capture.bytes).toString('utf8');
      comparison = compareAnswers(answerRows(JSON.parse(served)), answerRows(JSON.parse(shadowBody.toString('utf8'))));
    } catch {
      comparison = compareAnswers(undefined, undefined);
    }
    if (comparison.incomparable) {
      metrics.shadowComparisons.inc({ ...labels, result: 'incomparable' });
      return;
    }
    if (comparison.agree > 0) metrics.shadowComparisons.inc({ ...labels, result: 'agree' }, comparison.agree);
    if (comparison.disagreements.length > 0) metrics.shadowComparisons.inc({ ...labels, result: 'disagree' }, comparison.disagreements.length);
    for (const value of comparison.cosines) metrics.shadowCosine.observe(labels, value);
    logDisagreements(copy, answered, comparison.disagreements);
  };

  const dispatch = (copy: ShadowCopy, answered: Answered, endpoint: Endpoint, done: () => void) => {
    const model = copy.served.pool.name;
    const shadowName = copy.shadow.backend.name;
    const started = now();
    endpoint.outstanding++;
    let settled = false;
    let held = 0;
    const chunks: Buffer[] = [];
    const finish = (status: string, body?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      endpoint.outstanding--;
      metrics.shadowRequests.inc({ model, shadow: shadowName, status });
      metrics.shadowDuration.observe({ model, shadow: shadowName }, (now() - started) / 1000);
      if (status === '200' && body !== undefined) compare(copy, answered, body);
      budget.release(held);
      done();
    };
    const headers: OutgoingHttpHeaders = {
      'x-request-id': answered.requestId,
      [SHADOW_HEADER]: '1',
      [DEADLINE_HEADER]: String(replicaDeadlineMs(limits.timeoutMs)),
      accept: 'application/json',
      'content-length': answered.body.length,
    };
    for (const name of COPIED_HEADERS) {
      const value = answered.headers[name];
      if (value !== undefined) headers[name] = value;
    }
    const req = request(endpoint.origin + answered.path, { method: 'POST', agent, headers }, (res: IncomingMessage) => {
      const status = String(res.statusCode ?? 0);
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        if (held + chunk.length > limits.maxAnswerBytes || !budget.tryReserve(chunk.length)) {
          finish('too_large');
          res.destroy();
          return;
        }
        held += chunk.length;
        chunks.push(chunk);
      });
      res.on('end', () => finish(status, Buffer.concat(chunks, held)));
      res.on('error', () => finish('error'));
      res.on('close', () => finish(res.complete ? status : 'error'));
    });
    const timer = setTimeout(() => {
      finish('timeout');
      req.destroy();
    }, limits.timeoutMs);
    req.on('error', () => finish('error'));
    req.end(answered.body);
  };

  return {
    get inFlight() {
      return inFlight;
    },
    budget,
    sample(served, pinned, method) {
      const shadow = served.shadow;
      if (shadow === undefined || pinned || method !== 'POST') return undefined;
      if (shadow.percent < 100 && random() * 100 >= shadow.percent) return undefined;
      return { shadow, served, capture: new AnswerCapture(budget, limits.maxAnswerBytes) };
    },
    send(copy, answered) {
      const capture = copy.capture;
      const model = copy.served.pool.name;
      // Only an answer the client got whole, and a 200, is worth comparing against.
      if (!answered.finished || answered.status !== 200) {
        capture.release();
        return;
      }
      if (capture.overflow !== undefined) {
        drop(model, capture.overflow);
        return;
      }
      if (inFlight >= limits.maxConcurrency) {
        capture.release();
        drop(model, 'concurrency');
        return;
      }
      if (!budget.tryReserve(answered.body.length)) {
        capture.release();
        drop(model, 'bytes');
        return;
      }
      const endpoint = copy.shadow.backend.pool.pick();
      if (endpoint === undefined) {
        budget.release(answered.body.length);
        capture.release();
        drop(model, 'unready');
        return;
      }
      inFlight++;
      dispatch(copy, answered, endpoint, () => {
        inFlight--;
        budget.release(answered.body.length);
        capture.release();
      });
    },
  };
}
