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
import { loadConfig, selectVersions, type Config } from './config.js';
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
 * One runtime per served version. With `worker` each version gets its own engine thread and the
 * backend is chosen inside it during `load()`; with `main` the backend and the sentence encoder are
 * set up once here, on the event loop's thread, and shared.
 */
async function createRuntimes(config: Config, versionDirs: readonly string[], logger: Logger): Promise<{
  runtimes: ModelRuntime[];
  backend: () => BackendChoice | undefined;
  dispose: () => void;
}> {
  if (config.QT_ENGINE_THREAD === 'worker') {
    const nativeModules = {
      tensorflow: resolveOptional('@tensorflow/tfjs-node'),
      tensorflowGpu: resolveOptional('@tensorflow/tfjs-node-gpu'),
    };
    const runtimes = await Promise.all(
      versionDirs.map((versionDir) =>
        createWorkerRuntime({
          versionDir,
          encoderDir: config.QT_ENCODER_DIR,
          backend: config.QT_BACKEND,
          device: config.QT_DEVICE,
          nativeModules,
        }),
      ),
    );
    return { runtimes, backend: () => runtimes[0]?.backend, dispose: () => {} };
  }
  const backend = await selectBackend(config.QT_BACKEND, config.QT_DEVICE, {
    tensorflow: () => import('@tensorflow/tfjs-node'),
    tensorflowGpu: () => import('@tensorflow/tfjs-node-gpu'),
  });
  logBackend(logger, backend);
  const encoder = await loadSentenceEncoder(config.QT_ENCODER_DIR);
  const info = { backend: backend.backend, backendProvider: backend.provider, device: backend.device, engine: 'main' };
  const runtimes = await Promise.all(versionDirs.map((versionDir) => createModelRuntime(versionDir, { encoder, info })));
  return { runtimes, backend: () => backend, dispose: () => encoder.dispose() };
}

async function main(): Promise<void> {
  const startedAt = performance.now();
  const config = loadConfig();
  const logger = createLogger({ service: SERVICE, level: config.QT_LOG_LEVEL });

  const versions = selectVersions(config.QT_MODEL_VERSIONS, await listModelVersions(config.QT_MODEL_DIR));
  const { runtimes, backend, dispose } = await createRuntimes(
    config,
    versions.map((version) => path.join(config.QT_MODEL_DIR, version)),
    logger,
  );

  runtimes.forEach((runtime, i) => {
    // TF Serving names versions by their directory; a copied folder with stale metadata would lie.
    if (runtime.version !== versions[i]) {
      throw new Error(`${path.join(config.QT_MODEL_DIR, versions[i] ?? '')}: metadata says version ${runtime.version}`);
    }
  });
  const registry = createRegistry({ service: SERVICE });
  const plane = createDataPlane({
    runtimes,
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
      await Promise.all(runtimes.map((runtime) => runtime.unload()));
      dispose();
    },
  });

  const loadSeconds = new Gauge({
    name: 'modeldock_model_load_seconds',
    help: 'Time to load a model version and answer its warm-up batch.',
    labelNames: ['model', 'version'] as const,
    registers: [registry],
  });
  await Promise.all(
    runtimes.map(async (runtime) => {
      const loadStarted = performance.now();
      await runtime.load();
      const seconds = (performance.now() - loadStarted) / 1000;
      loadSeconds.set({ model: runtime.name, version: runtime.version }, seconds);
      logger.child({ model: runtime.name, version: runtime.version }).info({ loadSeconds: Number(seconds.toFixed(3)) }, 'version loaded');
    }),
  );
  const chosen = backend();
  if (config.QT_ENGINE_THREAD === 'worker' && chosen !== undefined) logBackend(logger, chosen);
  logger.info(
    {
      model: plane.model.name,
      versions,
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
