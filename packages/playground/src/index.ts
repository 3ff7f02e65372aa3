import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';

/** One file of the playground as the gateway serves it: read once, compressed once, never touched per request. */
export interface Asset {
  /** The URL path it answers (`/`, `/docs`, `/playground/playground.js`). */
  readonly path: string;
  readonly contentType: string;
  readonly body: Buffer;
  /** The body gzip-compressed, for clients that accept it. */
  readonly gzip: Buffer;
  /** A strong validator of the body (RFC 9110 §8.8.3). */
  readonly etag: string;
}

/** Every file, by the path it answers, and where it lives in this package. */
const FILES: readonly { path: string; file: string; contentType: string }[] = [
  { path: '/', file: 'static/index.html', contentType: 'text/html; charset=utf-8' },
  { path: '/docs', file: 'static/docs.html', contentType: 'text/html; charset=utf-8' },
  { path: '/playground/style.css', file: 'static/style.css', contentType: 'text/css; charset=utf-8' },
  { path: '/playground/api.js', file: 'dist/browser/api.js', contentType: 'text/javascript; charset=utf-8' },
  { path: '/playground/playground.js', file: 'dist/browser/playground.js', contentType: 'text/javascript; charset=utf-8' },
  { path: '/playground/docs.js', file: 'dist/browser/docs.js', contentType: 'text/javascript; charset=utf-8' },
];

/** The URL paths the playground answers (the gateway keeps aliases off them). */
export const PLAYGROUND_PATHS: readonly string[] = FILES.map((file) => file.path);

/**
 * The response headers of every asset: the pages may load only this origin's scripts and styles and
 * call only this origin (the gateway), so they work offline and nothing reaches another host.
 */
export const ASSET_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/** Reads every asset of the built package (its `static/` and `dist/browser/`) into memory. */
export async function loadPlaygroundAssets(): Promise<Asset[]> {
  const root = new URL('../', import.meta.url);
  return Promise.all(
    FILES.map(async ({ path, file, contentType }) => {
      const body = await readFile(new URL(file, root));
      return { path, contentType, body, gzip: gzipSync(body, { level: 9 }), etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
    }),
  );
}
