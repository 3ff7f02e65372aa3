import path from 'node:path';
import { variableName } from '@modeldock/model-server';
import { serverEntry, type BenchModel } from './models.js';
import { freePort, rssMiB, waitForHttp, type ManagedProcess, type ProcessSupervisor } from './processes.js';
import { REPO_ROOT } from './settings.js';

export const SERVICE_ENTRY = path.join(REPO_ROOT, 'apps/question-topic/dist/main.js');
export const GATEWAY_ENTRY = path.join(REPO_ROOT, 'apps/gateway/dist/main.js');
export const MODEL_NAME = 'question-topic';

/** A started, ready process and where to reach it. */
export interface Running {
  proc: ManagedProcess;
  origin: string;
  /** Spawn to readiness 200, milliseconds. */
  readyMs: number;
  /** RSS right after readiness. */
  idleRssMiB: number;
}

/** Options for {@link startService}. */
export interface ServiceOptions {
  name: string;
  logLevel: string;
  readyTimeoutMs: number;
  maxBatchSize?: number;
  maxQueue?: number;
}

/** Options for {@link startModelServer}: which server, with which settings (unprefixed, e.g. `MAX_QUEUE`). */
export interface ModelServerOptions {
  name: string;
  /** `apps/<app>/dist/main.js`, relative to the repository root. */
  entry: string;
  logLevel: string;
  readyTimeoutMs: number;
  settings?: Readonly<Record<string, string>>;
}

/**
 * Starts one model server (the generic one, or an app built on it) on a free localhost port
 * (chosen here, so it can run at `warn` and still be found) on the wasm backend, and waits for
 * `GET /v2/health/ready` = 200 (loaded and warmed up).
 */
export async function startModelServer(supervisor: ProcessSupervisor, options: ModelServerOptions): Promise<Running> {
  const port = await freePort();
  const settings: Record<string, string> = {
    PORT: String(port),
    HOST: '127.0.0.1',
    BACKEND: 'wasm',
    LOG_LEVEL: options.logLevel,
    DRAIN_TIMEOUT_MS: '3000',
    ...options.settings,
  };
  // Every model server reads MODEL_<SETTING> (the prefix is not doubled: MODEL_DIR).
  const env = Object.fromEntries(Object.entries(settings).map(([key, value]) => [variableName('MODEL_', key), value]));
  const proc = supervisor.spawnNode(options.name, path.join(REPO_ROOT, options.entry), env);
  const origin = `http://127.0.0.1:${port}`;
  const readyMs = await waitForHttp(proc, `${origin}/v2/health/ready`, { timeoutMs: options.readyTimeoutMs });
  return { proc, origin, readyMs, idleRssMiB: rssMiB(proc.pid) };
}

/** Starts a question-topic process (its own app) with the given batching settings. */
export async function startService(supervisor: ProcessSupervisor, options: ServiceOptions): Promise<Running> {
  const settings: Record<string, string> = {
    // Every load client comes from 127.0.0.1: one client's share of the queue would cap the whole run.
    MAX_QUEUE_PER_CLIENT: String(options.maxQueue ?? 1024),
  };
  if (options.maxBatchSize !== undefined) settings.MAX_BATCH_SIZE = String(options.maxBatchSize);
  if (options.maxQueue !== undefined) settings.MAX_QUEUE = String(options.maxQueue);
  return startModelServer(supervisor, {
    name: options.name,
    entry: path.relative(REPO_ROOT, SERVICE_ENTRY),
    logLevel: options.logLevel,
    readyTimeoutMs: options.readyTimeoutMs,
    settings,
  });
}

/**
 * Starts any model under models/ as `pnpm start` serves it (its app, else the generic server),
 * with `settings` on top (unprefixed names).
 */
export async function startModel(
  supervisor: ProcessSupervisor,
  model: BenchModel,
  options: { name: string; logLevel: string; readyTimeoutMs: number; settings?: Readonly<Record<string, string>> },
): Promise<Running> {
  return startModelServer(supervisor, {
    ...options,
    entry: serverEntry(model),
    settings: { MODEL_DIR: model.dir, MODEL_NAME: model.name, ...options.settings },
  });
}

/** One model behind the gateway: its replicas and extra routes (`GATEWAY_MODELS` entry). */
export interface GatewayModel {
  upstreams: readonly string[];
  aliases?: readonly { method: string; path: string }[];
}

/** The gateway's `GATEWAY_MODELS` for question-topic replicas, with its seed route. */
export function questionTopicModels(upstreams: readonly string[]): Record<string, GatewayModel> {
  return { [MODEL_NAME]: { upstreams, aliases: [{ method: 'POST', path: '/predict_topic' }] } };
}

/** Starts the gateway in front of `models` and waits until `/models` reports every replica of every model healthy. */
export async function startGateway(
  supervisor: ProcessSupervisor,
  options: { name: string; models: Readonly<Record<string, GatewayModel>>; logLevel: string; readyTimeoutMs: number },
): Promise<Running> {
  const port = await freePort();
  const models = Object.fromEntries(
    Object.entries(options.models).map(([name, m]) => [
      name,
      { upstream: m.upstreams.join(','), ...(m.aliases === undefined || m.aliases.length === 0 ? {} : { aliases: m.aliases }) },
    ]),
  );
  const proc = supervisor.spawnNode(options.name, GATEWAY_ENTRY, {
    GATEWAY_PORT: String(port),
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_LOG_LEVEL: options.logLevel,
    GATEWAY_MODELS: JSON.stringify(models),
    GATEWAY_DRAIN_TIMEOUT_MS: '3000',
    // Two gateways may run at once; the admin listener is not measured.
    GATEWAY_ADMIN_PORT: '0',
    // Every load client comes from 127.0.0.1: the per-client limit would measure itself.
    GATEWAY_CLIENT_MAX_CONCURRENCY: '0',
  });
  const origin = `http://127.0.0.1:${port}`;
  const readyMs = await waitForHttp(proc, `${origin}/models`, {
    timeoutMs: options.readyTimeoutMs,
    accept: (body) => Object.entries(options.models).every(([name, m]) => healthyReplicas(body, name) >= m.upstreams.length),
  });
  return { proc, origin, readyMs, idleRssMiB: rssMiB(proc.pid) };
}

/** Ready replica count of a model from the gateway's public `/models` listing. */
export function healthyReplicas(body: string, model: string): number {
  try {
    const parsed = JSON.parse(body) as { models?: { name: string; readyReplicas?: number }[] };
    return parsed.models?.find((m) => m.name === model)?.readyReplicas ?? 0;
  } catch {
    return 0;
  }
}
