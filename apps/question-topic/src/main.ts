import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  createModelRuntime,
  createWorkerRuntime,
  listModelVersions,
  loadSentenceEncoder,
  selectBackend,
  type BackendChoice,
  type ModelRuntime,
} from '@modeldock/model-runtime';
import { createLogger, createRegistry, Gauge, installGracefulShutdown, type Logger } from '@modeldock/service-kit';
import { createApp } from './app.js';
import { loadConfig, type Config } from './config.js';
import { createDataPlane } from './data-plane.js';

const SERVICE = 'question-topic';
const SERVICE_VERSION = '1.0.0';

/** The native addon's entry URL if this build has it installed (the wasm image does not). */
function resolveOptional(specifier: string): string | undefined {
  try {
    return import.meta.resolve(specifier);
  } catch {
    return undefined;
  }
}

function logBackend(logger: Logger, backend: BackendChoice): void {
  for (const { provider, reason } of backend.fallbacks) logger.warn({ provider, reason }, 'native backend unavailable');
  logger.info({ backend: backend.backend, provider: backend.provider, device: backend.device }, 'TF.js backend selected');
}

/**
 * The runtime for one model version. With `worker` the backend is chosen inside the engine thread
 * during `load()`; with `main` it is chosen here, on the event loop's thread.
 */
async function createRuntime(config: Config, versionDir: string, logger: Logger): Promise<{
  runtime: ModelRuntime;
  backend: () => BackendChoice | undefined;
  dispose: () => void;
}> {
  if (config.QT_ENGINE_THREAD === 'worker') {
    const runtime = await createWorkerRuntime({
      versionDir,
      encoderDir: config.QT_ENCODER_DIR,
      backend: config.QT_BACKEND,
      device: config.QT_DEVICE,
      nativeModules: {
        tensorflow: resolveOptional('@tensorflow/tfjs-node'),
        tensorflowGpu: resolveOptional('@tensorflow/tfjs-node-gpu'),
      },
    });
    return { runtime, backend: () => runtime.backend, dispose: () => {} };
  }
  const backend = await selectBackend(config.QT_BACKEND, config.QT_DEVICE, {
    tensorflow: () => import('@tensorflow/tfjs-node'),
    tensorflowGpu: () => import('@tensorflow/tfjs-node-gpu'),
  });
  logBackend(logger, backend);
  const encoder = await loadSentenceEncoder(config.QT_ENCODER_DIR);
  const runtime = await createModelRuntime(versionDir, {
    encoder,
    info: { backend: backend.backend, backendProvider: backend.provider, device: backend.device, engine: 'main' },
  });
  return { runtime, backend: () => backend, dispose: () => encoder.dispose() };
}

async function main(): Promise<void> {
  const startedAt = performance.now();
  const config = loadConfig();
  const logger = createLogger({ service: SERVICE, level: config.QT_LOG_LEVEL });

  const versions = await listModelVersions(config.QT_MODEL_DIR);
  const version = config.QT_MODEL_VERSION ?? versions.at(-1);
  if (version === undefined || !versions.includes(version)) {
    throw new Error(`no model version ${version ?? ''} in ${config.QT_MODEL_DIR} (found: ${versions.join(', ') || 'none'})`);
  }
  const { runtime, backend, dispose } = await createRuntime(config, path.join(config.QT_MODEL_DIR, version), logger);
  const modelLogger = logger.child({ model: runtime.name, version: runtime.version });

  const registry = createRegistry({ service: SERVICE });
  const plane = createDataPlane({
    runtime,
    limits: { maxTexts: config.QT_MAX_TEXTS, maxTextLength: config.QT_MAX_TEXT_LENGTH },
    batching: {
      maxBatchSize: config.QT_MAX_BATCH_SIZE,
      maxBatchDelayMs: config.QT_MAX_BATCH_DELAY_MS,
      maxQueue: config.QT_MAX_QUEUE,
    },
    registry,
  });
  const app = createApp({
    plane,
    registry,
    logger,
    server: { name: `modeldock-${SERVICE}`, version: SERVICE_VERSION },
    maxBodyBytes: config.QT_MAX_BODY_BYTES,
  });

  // Listen before the model is warm: liveness answers at once, readiness says 503 until warm.
  const server = app.listen(config.QT_PORT, config.QT_HOST);
  await once(server, 'listening');
  server.keepAliveTimeout = 65_000;
  const { port } = server.address() as AddressInfo;
  logger.info({ host: config.QT_HOST, port, engineThread: config.QT_ENGINE_THREAD }, 'listening');
  installGracefulShutdown(server, {
    logger,
    drainTimeoutMs: config.QT_DRAIN_TIMEOUT_MS,
    beforeClose: () => plane.startDraining(),
    afterClose: async () => {
      await plane.close();
      await runtime.unload();
      dispose();
    },
  });

  const loadStarted = performance.now();
  await runtime.load();
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  const chosen = backend();
  if (config.QT_ENGINE_THREAD === 'worker' && chosen !== undefined) logBackend(logger, chosen);
  new Gauge({
    name: 'modeldock_model_load_seconds',
    help: 'Time to load the model and answer its warm-up batch.',
    labelNames: ['model', 'version'] as const,
    registers: [registry],
  }).set({ model: runtime.name, version: runtime.version }, loadSeconds);
  modelLogger.info(
    {
      loadSeconds: Number(loadSeconds.toFixed(3)),
      startupSeconds: Number(((performance.now() - startedAt) / 1000).toFixed(3)),
      backend: chosen?.backend,
      ...(config.QT_ENGINE_THREAD === 'main' ? { tensors: tf.memory().numTensors } : {}),
    },
    'model loaded and warm: ready',
  );
}

main().catch((err: unknown) => {
  // The logger may not exist yet (bad configuration), so fail loudly on stderr.
  console.error(JSON.stringify({ level: 'fatal', msg: 'start-up failed', err: String(err) }));
  process.exit(1);
});
