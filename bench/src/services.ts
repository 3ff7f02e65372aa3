import path from 'node:path';
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

/**
 * Starts one question-topic process on a free localhost port (chosen here, so the service can run
 * at `warn` and still be found) and waits for `GET /v2/health/ready` = 200.
 */
export async function startService(supervisor: ProcessSupervisor, options: ServiceOptions): Promise<Running> {
  const port = await freePort();
  const env: Record<string, string> = {
    QT_PORT: String(port),
    QT_HOST: '127.0.0.1',
    QT_BACKEND: 'wasm',
    QT_LOG_LEVEL: options.logLevel,
    QT_DRAIN_TIMEOUT_MS: '3000',
  };
  if (options.maxBatchSize !== undefined) env.QT_MAX_BATCH_SIZE = String(options.maxBatchSize);
  if (options.maxQueue !== undefined) env.QT_MAX_QUEUE = String(options.maxQueue);
  // Every load client comes from 127.0.0.1: one client's share of the queue would cap the whole run.
  env.QT_MAX_QUEUE_PER_CLIENT = String(options.maxQueue ?? 1024);
  const proc = supervisor.spawnNode(options.name, SERVICE_ENTRY, env);
  const origin = `http://127.0.0.1:${port}`;
  const readyMs = await waitForHttp(proc, `${origin}/v2/health/ready`, { timeoutMs: options.readyTimeoutMs });
  return { proc, origin, readyMs, idleRssMiB: rssMiB(proc.pid) };
}

/** Starts the gateway in front of `upstreams` and waits until `/readyz` reports every replica healthy. */
export async function startGateway(
  supervisor: ProcessSupervisor,
  options: { name: string; upstreams: readonly string[]; logLevel: string; readyTimeoutMs: number },
): Promise<Running> {
  const port = await freePort();
  const proc = supervisor.spawnNode(options.name, GATEWAY_ENTRY, {
    GATEWAY_PORT: String(port),
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_LOG_LEVEL: options.logLevel,
    GATEWAY_MODELS: JSON.stringify({
      [MODEL_NAME]: { upstream: options.upstreams.join(','), aliases: [{ method: 'POST', path: '/predict_topic' }] },
    }),
    GATEWAY_DRAIN_TIMEOUT_MS: '3000',
    // Two gateways may run at once; the admin listener is not measured.
    GATEWAY_ADMIN_PORT: '0',
    // Every load client comes from 127.0.0.1: the per-client limit would measure itself.
    GATEWAY_CLIENT_MAX_CONCURRENCY: '0',
  });
  const origin = `http://127.0.0.1:${port}`;
  const readyMs = await waitForHttp(proc, `${origin}/models`, {
    timeoutMs: options.readyTimeoutMs,
    accept: (body) => healthyReplicas(body) >= options.upstreams.length,
  });
  return { proc, origin, readyMs, idleRssMiB: rssMiB(proc.pid) };
}

/** Ready replica count of the model from the gateway's public `/models` listing. */
function healthyReplicas(body: string): number {
  try {
    const parsed = JSON.parse(body) as { models?: { name: string; readyReplicas?: number }[] };
    return parsed.models?.find((model) => model.name === MODEL_NAME)?.readyReplicas ?? 0;
  } catch {
    return 0;
  }
}
