import { fileURLToPath } from 'node:url';
import { BACKEND_REQUESTS, DEVICES, type BackendRequest, type Device } from '@modeldock/model-runtime';
import { logLevel, nonNegativeInt, parseEnv, port, positiveInt } from '@modeldock/service-kit';
import { z } from 'zod';

/** The repository's models folder, for running from a checkout; images set QT_MODEL_DIR. */
const CHECKOUT_MODEL_DIR = fileURLToPath(new URL('../../../models/question-topic', import.meta.url));

const schema = z.object({
  QT_HOST: z.string().default('0.0.0.0'),
  QT_PORT: port().default(8501),
  QT_LOG_LEVEL: logLevel().default('info'),
  /** Served model name (routes answer 404 for any other). */
  QT_MODEL_NAME: z.string().regex(/^[\w.-]+$/).default('question-topic'),
  /** Directory holding version folders (`1/`, `2/`...). */
  QT_MODEL_DIR: z.string().default(CHECKOUT_MODEL_DIR),
  /**
   * Which versions to serve: `latest` (the highest, TF Serving's default policy), `all`, or a
   * comma-separated list such as `1,2`. Unversioned requests go to the highest served version.
   */
  QT_MODEL_VERSIONS: z
    .string()
    .regex(/^(latest|all|\d+(,\d+)*)$/, "expected 'latest', 'all' or versions like '1,2'")
    .default('latest'),
  /** USE-lite files; by default the ones shipped in the npm package. */
  QT_ENCODER_DIR: z.string().optional(),
  QT_BACKEND: z.enum(BACKEND_REQUESTS as [BackendRequest, ...BackendRequest[]]).default('auto'),
  QT_DEVICE: z.enum(DEVICES as [Device, ...Device[]]).default('cpu'),
  /**
   * Where the engine runs: `worker` (a worker thread, so HTTP, health checks and load shedding stay
   * responsive while a batch computes) or `main` (the event loop's thread).
   */
  QT_ENGINE_THREAD: z.enum(['worker', 'main']).default('worker'),
  QT_MAX_BODY_BYTES: positiveInt().default(1024 * 1024),
  /** Most texts in one request. */
  QT_MAX_TEXTS: positiveInt().default(256),
  /** Most characters in one text (USE clips long inputs anyway; this bounds tokenizer work). */
  QT_MAX_TEXT_LENGTH: positiveInt().default(2000),
  /** Dynamic batching: most texts per engine call; 1 turns batching off. */
  QT_MAX_BATCH_SIZE: positiveInt().default(32),
  /** Dynamic batching: how long a request may wait for others to join its batch. */
  QT_MAX_BATCH_DELAY_MS: nonNegativeInt().default(2),
  /** Most texts waiting; past it requests get 503 + Retry-After at once. */
  QT_MAX_QUEUE: positiveInt().default(1024),
  /** How long SIGTERM waits for in-flight requests. */
  QT_DRAIN_TIMEOUT_MS: positiveInt().default(30_000),
});

export type Config = Readonly<z.output<typeof schema>>;

/** Parses and validates the QT_* environment; throws naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseEnv(schema, env);
}

/**
 * The versions to serve, oldest first, from the `QT_MODEL_VERSIONS` policy and the versions found
 * on disk; throws naming what is missing.
 */
export function selectVersions(policy: string, available: readonly string[]): string[] {
  const sorted = [...available].sort((a, b) => Number(a) - Number(b));
  if (sorted.length === 0) throw new Error('no model versions found');
  if (policy === 'all') return sorted;
  if (policy === 'latest') return sorted.slice(-1);
  const wanted = [...new Set(policy.split(','))].sort((a, b) => Number(a) - Number(b));
  const missing = wanted.filter((version) => !sorted.includes(version));
  if (missing.length > 0) throw new Error(`model versions ${missing.join(', ')} not found (found: ${sorted.join(', ')})`);
  return wanted;
}
