import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from '@modeldock/service-kit';
import { z } from 'zod';
import { WATCH_POLL_MS, watchFile } from './watch-file.js';

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
  /** Reads the file again now (SIGHUP), whether or not it looks changed. */
  reload(): void;
  /** Stops watching the file. */
  close(): void;
}

/**
 * Reads the keys file now (throwing when it cannot be used: the gateway must not start without
 * the keys it was told to use), then keeps it current (see `watchFile`): a change is in force
 * within a few seconds, without a restart and without dropping requests. A file that does not parse
 * keeps the previous keys, and the log says why (never a key or a hash).
 */
export function watchKeysFile(file: string, logger: Logger, pollMs = WATCH_POLL_MS): KeyStore {
  const read = (): ApiKey[] => parseKeysFile(readFileSync(file, 'utf8'));
  let keys: readonly ApiKey[];
  try {
    keys = read();
  } catch (err) {
    throw new Error(`invalid configuration: GATEWAY_API_KEYS_FILE: ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  let version = 0;
  logger.info({ file, keys: keys.length }, 'API keys loaded');
  const watch = watchFile(
    file,
    () => {
      try {
        keys = read();
        version++;
        logger.info({ file, keys: keys.length }, 'API keys reloaded');
      } catch (err) {
        logger.error({ file, reason: err instanceof Error ? err.message : String(err) }, 'API keys file not usable; keeping the previous keys');
      }
    },
    pollMs,
  );
  return {
    get keys() {
      return keys;
    },
    get version() {
      return version;
    },
    reload: () => watch.check(true),
    close: () => watch.close(),
  };
}
