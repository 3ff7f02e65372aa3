import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import type { Socket } from 'node:net';
import { findKey, type ApiKey, type KeyStore } from '../../api-keys.js';
import { stateOf } from '../state.js';

/** Options of {@link identify}. */
export interface IdentifyOptions {
  /** The API keys; undefined when access control is off. */
  keys: KeyStore | undefined;
  /** The client's address (the TCP peer, or a trusted proxy's `X-Forwarded-For`). */
  clientAddress: (req: IncomingMessage) => string;
}

const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;

/** What a connection presented last and what it was found to be, under which version of the keys. */
interface LookedUp {
  presented: string;
  version: number;
  key: ApiKey | undefined;
}

const LOOKED_UP = Symbol('modeldock.gateway.lookedUp');

/**
 * The key `presented` is, by hash, in constant time over every entry. A kept-alive connection
 * (every OpenAI client's) presents the same key on each request, so the answer is kept on the
 * connection until it presents another string or the keys change: the comparison against what this
 * connection itself sent before tells it nothing about anyone else's key.
 */
function lookUp(socket: Socket & { [LOOKED_UP]?: LookedUp }, presented: string, keys: KeyStore): ApiKey | undefined {
  const last = socket[LOOKED_UP];
  if (last !== undefined && last.version === keys.version && last.presented === presented) return last.key;
  const key = findKey(keys.keys, presented);
  socket[LOOKED_UP] = { presented, version: keys.version, key };
  return key;
}

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
      const key = lookUp(req.socket, presented, keys);
      if (key === undefined) state.presentedUnknownKey = true;
      else state.client = { id: key.id, key };
    }
    next();
  };
}
