import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { ASSET_HEADERS, type Asset } from '@modeldock/playground';
import type { GatewayAnswer } from '../state.js';

/** A 200 with a JSON text. */
export function jsonText(res: ServerResponse, text: string): void {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Whether the client takes a gzip-compressed body (`Accept-Encoding`). */
function acceptsGzip(req: IncomingMessage): boolean {
  return /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
}

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
    const compressed = acceptsGzip(req);
    res.writeHead(200, compressed ? gzipped : plain);
    // Node sends no body for HEAD whatever is written.
    res.end(compressed ? asset.gzip : asset.body);
  };
}

/** The API documents last sent compressed (one per set of models a key may see), by their text. */
const compressedDocuments = new Map<string, Promise<Buffer>>();
const COMPRESSED_DOCUMENTS = 8;
const gzipAsync = promisify(gzip);

/**
 * The API document (a quarter of a megabyte with every model), gzip-compressed for a client that
 * accepts it: compressed off the event loop, once per document text while it is among the last few.
 */
export async function sendDocument(req: IncomingMessage, res: ServerResponse, text: string): Promise<void> {
  res.appendHeader('vary', 'Accept-Encoding');
  if (!acceptsGzip(req)) return jsonText(res, text);
  let gzipped = compressedDocuments.get(text);
  if (gzipped === undefined) {
    gzipped = gzipAsync(text);
    gzipped.catch(() => compressedDocuments.delete(text));
    compressedDocuments.set(text, gzipped);
    if (compressedDocuments.size > COMPRESSED_DOCUMENTS) compressedDocuments.delete(compressedDocuments.keys().next().value as string);
  }
  const body = await gzipped;
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-encoding': 'gzip', 'content-length': body.length });
  res.end(body);
}
