import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from '@modeldock/service-kit';
import type { RequestHandler } from 'express';
import type { GatewayMetrics } from '../../metrics.js';
import { authorizeModel } from '../authorize/index.js';
import { stateOf, type Client } from '../state.js';
import { ModelScanner } from './model-scan.js';
import { readRawBody, type BodyBudget } from './read-body.js';

export { BodyBudget, hasBody, readRawBody, type Reservation } from './read-body.js';
export { ModelScanner, type ModelScan } from './model-scan.js';

/** Options of {@link body}. */
export interface BodyOptions {
  budget: BodyBudget;
  maxBodyBytes: number;
  /** Deepest JSON nesting scanned before `model` is found (the model servers allow the same). */
  maxJsonDepth: number;
  metrics: GatewayMetrics;
}

/**
 * Reads the request body as raw bytes (to send it again on a retry), its bytes counted against the
 * body budget and the client's share of it as they arrive. For OpenAI embeddings, whose model is in
 * the body, a bounded scan finds it while the bytes arrive (never a parse of the whole body here;
 * the replica parses and validates it), and the key's scope is checked for it. A refused body's
 * connection is closed rather than read to the end.
 */
export function body({ budget, maxBodyBytes, maxJsonDepth, metrics }: BodyOptions): RequestHandler {
  return (req: IncomingMessage, res: ServerResponse, next) => {
    const state = stateOf(res);
    const byBody = state.model === undefined;
    if (!state.hasBody && !byBody) {
      next();
      return;
    }
    const scanner = byBody ? new ModelScanner(maxJsonDepth) : undefined;
    readRawBody(
      req,
      {
        limitBytes: maxBodyBytes,
        budget,
        client: (state.client as Client).id,
        hasBody: state.hasBody,
        onRelease: (release) => state.onClose(release),
        onChunk:
          scanner === undefined
            ? undefined
            : (chunk) => {
                const scan = scanner.write(chunk);
                if (scan.state === 'invalid') throw HttpError.invalidInput(`malformed JSON body: ${scan.reason}`);
              },
      },
      (err, buffered) => {
        if (err !== undefined) {
          if (err instanceof HttpError && err.code !== 'request_aborted') res.setHeader('connection', 'close');
          if (err instanceof HttpError && (err.status === 503 || err.status === 429)) {
            metrics.bodyBudgetRejections.inc({ reason: err.status === 503 ? 'full' : 'client_share' });
          }
          next(err);
          return;
        }
        state.body = buffered;
        if (scanner !== undefined) {
          const scan = scanner.end();
          try {
            if (scan.state === 'invalid') throw HttpError.invalidInput(`malformed JSON body: ${scan.reason}`);
            if (scan.state !== 'found' || scan.model === '') throw HttpError.modelRequired();
            state.model = scan.model;
            authorizeModel(state, scan.model, metrics);
          } catch (refused) {
            next(refused);
            return;
          }
        }
        next();
      },
    );
  };
}
