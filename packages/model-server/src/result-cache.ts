import { rowSize, type Batch, type ModelRuntime, type Tensor } from '@modeldock/model-runtime';

/** Bytes an entry costs beyond its key and values (the Map entry, the batch and tensor objects). */
const ENTRY_OVERHEAD_BYTES = 160;

/** What the cache tells its metrics. */
export interface CacheObserver {
  /** Bytes held after a change. */
  bytes?(bytes: number): void;
  /** An entry of `scope` was evicted to make room. */
  evicted?(scope: string): void;
}

/**
 * The bytes an answer row takes in memory: typed arrays by their byte length, strings at two bytes
 * a character (V8 may store them in one; this bounds them from above).
 */
function rowBytes(row: Batch): number {
  let bytes = 0;
  for (const tensor of Object.values(row.tensors)) {
    if (tensor.datatype === 'BYTES') for (const text of tensor.data as string[]) bytes += 2 * text.length + 16;
    else bytes += (tensor.data as Float32Array | Int32Array | Uint8Array).byteLength + 64;
  }
  return bytes;
}

/**
 * The answer rows of a model server, bounded by bytes with least-recently-used eviction: each entry
 * is one row of every output of the signature, under the model version (`scope`) and the row's
 * exact input (`key`). One cache per server, shared by the versions it serves.
 */
export class ResultCache {
  /** Map order is recency: the first entry is the least recently used. */
  private readonly entries = new Map<string, { scope: string; row: Batch; bytes: number }>();
  private held = 0;

  constructor(
    /** 0 turns the cache off. */
    readonly maxBytes: number,
    private readonly observer: CacheObserver = {},
  ) {}

  get enabled(): boolean {
    return this.maxBytes > 0;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.held;
  }

  /** The row cached for `key` in `scope`, now the most recently used. */
  get(scope: string, key: string): Batch | undefined {
    const id = entryId(scope, key);
    const entry = this.entries.get(id);
    if (entry === undefined) return undefined;
    this.entries.delete(id);
    this.entries.set(id, entry);
    return entry.row;
  }

  /** Caches `row` (one row, owned by the cache from now on), evicting the least recently used rows to make room. */
  set(scope: string, key: string, row: Batch): void {
    if (!this.enabled) return;
    const id = entryId(scope, key);
    const bytes = 2 * id.length + rowBytes(row) + ENTRY_OVERHEAD_BYTES;
    // A row larger than the whole cache would only evict everything else.
    if (bytes > this.maxBytes) return;
    const previous = this.entries.get(id);
    if (previous !== undefined) {
      this.entries.delete(id);
      this.held -= previous.bytes;
    }
    while (this.held + bytes > this.maxBytes) {
      const [oldest, entry] = this.entries.entries().next().value as [string, { scope: string; bytes: number }];
      this.entries.delete(oldest);
      this.held -= entry.bytes;
      this.observer.evicted?.(entry.scope);
    }
    this.entries.set(id, { scope, row, bytes });
    this.held += bytes;
    this.observer.bytes?.(this.held);
  }
}

function entryId(scope: string, key: string): string {
  return `${scope}\u0000${key}`;
}

/** A string of the bytes of row `row` of a numeric tensor (one character per byte, so exact and compact). */
function numericRowKey(tensor: Tensor, row: number): string {
  const values = tensor.data as Float32Array | Int32Array | Uint8Array;
  const width = rowSize(tensor.shape);
  const start = values.byteOffset + row * width * values.BYTES_PER_ELEMENT;
  return Buffer.from(values.buffer, start, width * values.BYTES_PER_ELEMENT).toString('latin1');
}

/**
 * The cache key of every row of a validated request: for a text model, what its engine reads of
 * each text (`textKey`: after the model's own text transform); otherwise the bytes of the row of
 * every input, with the row's shape (free dimensions may differ between requests).
 */
export function rowKeys(runtime: Pick<ModelRuntime, 'signature' | 'textInput' | 'textKey'>, inputs: Batch): string[] {
  const { signature, textInput } = runtime;
  if (textInput !== undefined && signature.inputs.length === 1) {
    const texts = inputs.tensors[textInput]?.data as string[];
    const key = runtime.textKey === undefined ? (text: string) => text : (text: string) => (runtime.textKey as (t: string) => string)(text);
    return texts.map(key);
  }
  const tensors = signature.inputs.map((spec) => inputs.tensors[spec.name] as Tensor);
  return Array.from({ length: inputs.rows }, (_, row) =>
    tensors
      .map((tensor) => {
        const dims = tensor.shape.slice(1).join('x');
        if (tensor.datatype !== 'BYTES') return `${dims}:${numericRowKey(tensor, row)}`;
        const width = rowSize(tensor.shape);
        return `${dims}:${JSON.stringify((tensor.data as string[]).slice(row * width, (row + 1) * width))}`;
      })
      .join('\u0000'),
  );
}
