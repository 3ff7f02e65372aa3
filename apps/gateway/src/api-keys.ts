import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Logger } from '@modeldock/service-kit';
import { z } from 'zod';

/** One entry of the API keys file, as the gateway uses it (the key itself is never kept). */
export interface ApiKey {
  /** Names the key in logs and metrics, never the key. */
  readonly id: string;
  /** SHA-256 of the key. */
  readonly sha256: Buffer;
  /** The models it may use; `all` for `"*"`. */
  readonly models: ReadonlySet<string> | 'all';
  /** Its token bucket (requests per second, and size); undefined: the gateway's per-client default. */
  readonly ratePerSecond: number | undefined;
  readonly burst: number | undefined;
  /** The same as one object, made once (the admit stage's bucket), when `ratePerSecond` is set. */
  readonly rate: { readonly ratePerSecond: number; readonly burst: number } | undefined;
  /** It may choose a model's backend with `x-modeldock-backend` (a candidate under test), not only take the weighted split. */
  readonly pinBackends: boolean;
}

/** Key ids appear in logs and metric labels, so they stay short and plain. */
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

const keysFileSchema = z.strictObject({
  keys: z.array(
    z.strictObject({
      id: z.string().regex(KEY_ID, 'letters, digits, ".", "_" and "-", at most 64'),
      sha256: z.string().regex(/^[0-9a-f]{64}$/i, 'the hex SHA-256 of the key (64 hex digits)'),
      models: z.array(z.string().min(1)).min(1),
      ratePerSecond: z.number().positive().optional(),
      burst: z.number().int().positive().optional(),
      pinBackends: z.boolean().optional(),
    }),
  ),
});

/** The JSON of an API keys file (`{"keys": [...]}`), checked; throws an Error saying what is wrong. */
export function parseKeysFile(text: string): ApiKey[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('not valid JSON');
  }
  const parsed = keysFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(parsed.error.issues.map((issue) => `${['keys', ...issue.path.slice(1)].join('.')}: ${issue.message}`).join('; '));
  }
  const ids = new Set<string>();
  const hashes = new Set<string>();
  return parsed.data.keys.map((entry, index) => {
    if (ids.has(entry.id)) throw new Error(`keys.${index}.id: '${entry.id}' is used twice`);
    // Said without the hash: a duplicate is a mistake, and the file's reader needs no more.
    if (hashes.has(entry.sha256.toLowerCase())) throw new Error(`keys.${index}.sha256: the same key as another entry`);
    ids.add(entry.id);
    hashes.add(entry.sha256.toLowerCase());
    const burst = entry.burst ?? (entry.ratePerSecond === undefined ? undefined : Math.max(1, Math.ceil(entry.ratePerSecond * 2)));
    return {
      id: entry.id,
      sha256: Buffer.from(entry.sha256, 'hex'),
      models: entry.models.includes('*') ? 'all' : new Set(entry.models),
      ratePerSecond: entry.ratePerSecond,
      burst,
      rate: entry.ratePerSecond === undefined || burst === undefined ? undefined : { ratePerSecond: entry.ratePerSecond, burst },
      pinBackends: entry.pinBackends ?? false,
    };
  });
}

/** SHA-256 of a presented key. */
export function hashKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/**
 * The entry whose hash is the presented key's, comparing every entry in constant time, so that
 * neither the timing nor an early exit tells which entries share a prefix with the guess.
 */
export function findKey(keys: readonly ApiKey[], presented: string): ApiKey | undefined {
  const digest = hashKey(presented);
  let found: ApiKey | undefined;
  for (const key of keys) {
    if (timingSafeEqual(key.sha256, digest)) found = key;
  }
  return found;
}

/** A new random key: `mdk_` and 32 random bytes, base64url. */
export function newKey(): string {
  return `mdk_${randomBytes(32).toString('base64url')}`;
}

/** Whether `key` may use `model`. */
export function mayUse(key: ApiKey, model: string): boolean {
  return key.models === 'all' || key.models.has(model);
}

/** The API keys in force; {@link watchKeysFile} keeps them current. */
export interface KeyStore {
  readonly keys: readonly ApiKey[];
  /** Changes whenever `keys` does, so that what was looked up under older keys is looked up again. */
  readonly version: number;
  /** Stops watching the file. */
  close(): void;
}

/** How often the file is checked when `fs.watch` says nothing (network filesystems, some container mounts). */
export const KEYS_POLL_MS = 2000;

/**
 * Reads the keys file now (throwing when it cannot be used: the gateway must not start without
 * the keys it was told to use), then keeps it current: `fs.watch` on its folder (editors and
 * Kubernetes ConfigMap/Secret updates replace the file, which a watch on the file itself misses)
 * and a poll every {@link KEYS_POLL_MS} as the fallback, so a change is in force within a few
 * seconds, without a restart and without dropping requests. A file that does not parse keeps the
 * previous keys, and the log says why (never a key or a hash).
 */
export function watchKeysFile(file: string, logger: Logger, pollMs = KEYS_POLL_MS): KeyStore {
  const read = (): ApiKey[] => parseKeysFile(readFileSync(file, 'utf8'));
  const stamp = (): string => {
    try {
      const s = statSync(file);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return 'missing';
    }
  };
  let keys: readonly ApiKey[];
  try {
    keys = read();
  } catch (err) {
    throw new Error(`invalid configuration: GATEWAY_API_KEYS_FILE: ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  let seen = stamp();
  let version = 0;
  logger.info({ file, keys: keys.length }, 'API keys loaded');
  const reload = () => {
    const now = stamp();
    if (now === seen) return;
    seen = now;
    try {
      keys = read();
      version++;
      logger.info({ file, keys: keys.length }, 'API keys reloaded');
    } catch (err) {
      logger.error({ file, reason: err instanceof Error ? err.message : String(err) }, 'API keys file not usable; keeping the previous keys');
    }
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(path.dirname(file), { persistent: false }, (_event, name) => {
      if (name === null || name === path.basename(file) || name.startsWith('..')) reload();
    });
    watcher.on('error', () => watcher?.close());
  } catch {
    watcher = undefined;
  }
  const timer = setInterval(reload, pollMs);
  timer.unref();
  return {
    get keys() {
      return keys;
    },
    get version() {
      return version;
    },
    close: () => {
      clearInterval(timer);
      watcher?.close();
    },
  };
}
