import type { IncomingMessage, ServerResponse } from 'node:http';
import { ASSET_HEADERS, type Asset } from '@modeldock/playground';
import type { GatewayAnswer } from '../state.js';

/**
 * Answers one file of the playground from memory: its headers are made once, a matching
 * `If-None-Match` is a 304, and a client that accepts gzip gets the bytes compressed at start-up.
 * Nothing is read or compressed per request.
 */
export function assetAnswer(asset: Asset): GatewayAnswer {
  const common = { ...ASSET_HEADERS, etag: asset.etag, 'content-type': asset.contentType };
  const plain = { ...common, 'content-length': asset.body.length };
  const gzipped = { ...common, 'content-length': asset.gzip.length, 'content-encoding': 'gzip' };
  return (req: IncomingMessage, res: ServerResponse) => {
    res.appendHeader('vary', 'Accept-Encoding');
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, common);
      res.end();
      return;
    }
    const gzip = /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
    res.writeHead(200, gzip ? gzipped : plain);
    // Node sends no body for HEAD whatever is written.
    res.end(gzip ? asset.gzip : asset.body);
  };
}
