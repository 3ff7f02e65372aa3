import type { OpenApiDocument } from '@modeldock/service-kit';

/** Where the gateway and every model service serve their OpenAPI document. */
export const OPENAPI_PATH = '/openapi.json';

/** What the source needs of a model's upstream pool: its name and replicas. */
export interface DocumentPool {
  readonly name: string;
  readonly endpoints: readonly { readonly origin: string; readonly healthy: boolean }[];
}

/** Options of {@link createModelDocuments}. */
export interface ModelDocumentsOptions {
  /** A document is fetched again when it is older than this. */
  refreshMs: number;
  /** Bound on one fetch. */
  timeoutMs: number;
  /** Larger documents are refused (the gateway parses what it fetches). */
  maxBytes: number;
  /** Told why a fetch failed; the last document is kept. */
  onError?(model: string, reason: string): void;
}

/** The model services' own documents, each fetched from a ready replica, kept, and fetched again when stale. */
export interface ModelDocuments {
  /**
   * Every model's document that could be had, fetching those that are stale or missing (at most one
   * fetch per model at a time); `generation` changes whenever one of them does.
   */
  current(): Promise<{ documents: ReadonlyMap<string, OpenApiDocument>; generation: number }>;
}

interface Entry {
  document?: OpenApiDocument;
  fetchedAt: number;
  pending?: Promise<void>;
}

/** The body of `res`, refused past `maxBytes` as it arrives. */
async function boundedText(res: Response, maxBytes: number): Promise<string> {
  const reader = (res.body as ReadableStream<Uint8Array> | null)?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new Error(`document larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Fetches each model's `GET /openapi.json` from one of its ready replicas (the first ready one) when
 * a caller asks and the kept document is older than `refreshMs`; a failed fetch keeps the last
 * document. Nothing runs between requests for the document, so it costs nothing to the proxy path.
 */
export function createModelDocuments(pools: () => Iterable<DocumentPool>, options: ModelDocumentsOptions): ModelDocuments {
  const entries = new Map<string, Entry>();
  let generation = 0;

  async function fetchOne(pool: DocumentPool, entry: Entry): Promise<void> {
    const endpoint = pool.endpoints.find((candidate) => candidate.healthy);
    if (endpoint === undefined) return;
    try {
      const res = await fetch(`${endpoint.origin}${OPENAPI_PATH}`, { signal: AbortSignal.timeout(options.timeoutMs) });
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      const document = JSON.parse(await boundedText(res, options.maxBytes)) as OpenApiDocument;
      if (typeof document !== 'object' || document === null || typeof document.paths !== 'object') throw new Error('not an OpenAPI document');
      entry.document = document;
      entry.fetchedAt = performance.now();
      generation += 1;
    } catch (err) {
      // A kept document serves another period rather than every request waiting on a failing replica.
      if (entry.document !== undefined) entry.fetchedAt = performance.now();
      options.onError?.(pool.name, err instanceof Error ? err.message : String(err));
    }
  }

  return {
    async current() {
      const now = performance.now();
      const waits: Promise<void>[] = [];
      const names = new Set<string>();
      for (const pool of pools()) {
        names.add(pool.name);
        let entry = entries.get(pool.name);
        if (entry === undefined) {
          entry = { fetchedAt: -Infinity };
          entries.set(pool.name, entry);
        }
        if (now - entry.fetchedAt >= options.refreshMs) {
          const current = entry;
          current.pending ??= fetchOne(pool, current).finally(() => (current.pending = undefined));
          waits.push(current.pending);
        }
      }
      // Models no longer configured are forgotten.
      for (const name of entries.keys()) {
        if (!names.has(name)) {
          entries.delete(name);
          generation += 1;
        }
      }
      await Promise.all(waits);
      const documents = new Map<string, OpenApiDocument>();
      for (const [name, entry] of entries) if (entry.document !== undefined) documents.set(name, entry.document);
      return { documents, generation };
    },
  };
}
