import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { findKey, type KeyStore } from '../../api-keys.js';
import { stateOf } from '../state.js';

/** Options of {@link identify}. */
export interface IdentifyOptions {
  /** The API keys; undefined when access control is off. */
  keys: KeyStore | undefined;
  /** The client's address (the TCP peer, or a trusted proxy's `X-Forwarded-For`). */
  clientAddress: (req: IncomingMessage) => string;
}

const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;

/** The key a request presents: `Authorization: Bearer <key>` (what OpenAI's clients send), else `x-api-key`. */
export function presentedKey(req: IncomingMessage): string | undefined {
  const authorization = req.headers.authorization;
  if (authorization !== undefined) {
    const bearer = BEARER.exec(authorization);
    if (bearer !== null) return bearer[1];
  }
  const header = req.headers['x-api-key'];
  const value = Array.isArray(header) ? header[0] : header;
  return value === undefined || value === '' ? undefined : value.trim();
}

/**
 * Who is asking. With access control on, the key presented, looked up by its hash in constant time:
 * the client is the key's id (limits and metrics count against it); an unknown key is noted for the
 * authorize stage, which decides. With access control off, the client is its address.
 */
export function identify({ keys, clientAddress }: IdentifyOptions): RequestHandler {
  return (req: IncomingMessage, res: ServerResponse, next) => {
    const state = stateOf(res);
    if (keys === undefined) {
      state.client = { id: clientAddress(req), key: undefined };
      next();
      return;
    }
    const presented = presentedKey(req);
    if (presented !== undefined) {
      const key = findKey(keys.keys, presented);
      if (key === undefined) state.presentedUnknownKey = true;
      else state.client = { id: key.id, key };
    }
    next();
  };
}
