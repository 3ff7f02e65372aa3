import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  createEngine,
  createWorkerRuntime,
  describeModel,
  listModelVersions,
  loadTextMeasure,
  selectBackend,
  type BackendChoice,
  type ModelRuntime,
} from '@modeldock/model-runtime';
import { selectVersions } from '@modeldock/model-settings';
import { createHttpServer, createLogger, createRegistry, createTrustedProxies, Gauge, installGracefulShutdown, type Logger } from '@modeldock/service-kit';
import { createApp } from './app.js';
import { loadServerSettings, readServingDefaults, settingValue, type ServerSettings, type SettingDefaults } from './config.js';
import { createDataPlane } from './data-plane.js';
import type { ModelServerPlugin } from './plugins.js';

/** Options for {@link runModelServer}: what distinguishes one app's process from another's. */
export interface ModelServerOptions {
  /** Names the service in logs and metrics (`question-topic`, `model-server`). */
  service: string;
  /** Reported by `GET /v2`. */
  serviceVersion: string;
  /** Environment prefix of every setting (`MODEL_`). */
  envPrefix: string;
  /** A second prefix read where the first is unset (question-topic's `QT_`). */
  envAlias?: string;
  /** The app's defaults (question-topic's model folder and port). */
  defaults?: SettingDefaults;
  /** The model's own routes, besides the built-in protocols. */
  plugins?: readonly ModelServerPlugin[];
  /**
   * Resolved URLs of the native TF.js addons, which only apps depend on (a package cannot resolve
   * them): `import.meta.resolve('@tensorflow/tfjs-node')` in the app, if installed.
   */
  nativeModules?: { tensorflow?: string; tensorflowGpu?: string };
  env?: NodeJS.ProcessEnv;
}

function logBackend(logger: Logger, backend: BackendChoice): void {
  for (const { provider, reason } of backend.fallbacks) logger.warn({ provider, reason }, 'native backend unavailable');
  logger.info({ backend: backend.backend, provider: backend.provider, device: backend.device }, 'TF.js backend selected');
}

/**
 * One runtime per served version. With `worker` each version gets its own engine thread and the
 * backend is chosen inside it during `load()`; with `main` the backend (and the shared resources
 * the versions' kinds declare, e.g. the sentence encoder) are set up once here, on the event
 * loop's thread, and shared.
 */
async function createRuntimes(
  settings: ServerSettings,
  versionDirs: readonly string[],
  options: ModelServerOptions,
  logger: Logger,
): Promise<{ runtimes: ModelRuntime[]; backend: () => BackendChoice | undefined; dispose: () => void }> {
  const name = settings.MODEL_NAME;
  if (settings.ENGINE_THREAD === 'worker') {
    const runtimes = await Promise.all(
      versionDirs.map((versionDir) =>
        createWorkerRuntime({
          versionDir,
          name,
          encoderDir: settings.ENCODER_DIR,
          backend: settings.BACKEND,
          device: settings.DEVICE,
          nativeModules: options.nativeModules,
        }),
      ),
    );
    return { runtimes, backend: () => runtimes[0]?.backend, dispose: () => {} };
  }
  const native = options.nativeModules;
  const backend = await selectBackend(settings.BACKEND, settings.DEVICE, {
    tensorflow: native?.tensorflow === undefined ? undefined : () => import(native.tensorflow as string),
    tensorflowGpu: native?.tensorflowGpu === undefined ? undefined : () => import(native.tensorflowGpu as string),
  });
  logBackend(logger, backend);
  const versions = await Promise.all(versionDirs.map(async (versionDir) => ({ versionDir, description: await describeModel(versionDir, { name }) })));
  const engine = await createEngine(versions, {
    encoderDir: settings.ENCODER_DIR,
    info: { backend: backend.backend, backendProvider: backend.provider, device: backend.device, engine: 'main' },
  });
  return { runtimes: [...engine.runtimes], backend: () => backend, dispose: () => engine.dispose() };
}

/**
 * A model server process: reads `<prefix>*` settings, serves every selected version of the model
 * in `<prefix>MODEL_DIR` over OIP v2, TF Serving REST, OpenAI embeddings (embedding models) and the
 * app's own plug-ins; listens before the model is warm (liveness at once, readiness once every
 * version has answered its warm-up batch); drains on SIGTERM.
 */
export async function runModelServer(options: ModelServerOptions): Promise<void> {
  const startedAt = performance.now();
  const env = options.env ?? process.env;
  const modelDir = settingValue('MODEL_DIR', env, options.envPrefix, options.envAlias) ?? options.defaults?.MODEL_DIR;
  // The model directory's own serving settings sit between the app's defaults and the environment.
  const fromModel: SettingDefaults = modelDir === undefined ? {} : await readServingDefaults(modelDir);
  const settings = loadServerSettings(options.envPrefix, env, { ...options.defaults, ...fromModel }, options.envAlias);
  const logger = createLogger({ service: options.service, level: settings.LOG_LEVEL });

  const versions = selectVersions(settings.MODEL_VERSIONS, await listModelVersions(settings.MODEL_DIR));
  if (settings.DEFAULT_VERSION !== undefined && !versions.includes(settings.DEFAULT_VERSION)) {
    throw new Error(`${options.envPrefix}DEFAULT_VERSION ${settings.DEFAULT_VERSION} is not served (serving ${versions.join(', ')})`);
  }
  const versionDirs = versions.map((version) => path.join(settings.MODEL_DIR, version));
  const { runtimes, backend, dispose } = await createRuntimes(settings, versionDirs, options, logger);
  // The served kinds say how to bound a request's work (a text kind: its tokenizer's pieces).
  const textMeasure = await loadTextMeasure(runtimes, { encoderDir: settings.ENCODER_DIR });

  const registry = createRegistry({ service: options.service });
  const plane = createDataPlane({
    runtimes,
    defaultVersion: settings.DEFAULT_VERSION,
    versionLabels: settings.VERSION_LABELS,
    limits: {
      maxRows: settings.MAX_TEXTS,
      maxTextLength: settings.MAX_TEXT_LENGTH,
      maxTextPieces: settings.MAX_TEXT_PIECES,
      maxRequestPositions: settings.MAX_REQUEST_POSITIONS,
      maxTensorElements: settings.MAX_TENSOR_ELEMENTS,
    },
    textBudget: textMeasure.measure,
    batching: {
      maxBatchSize: settings.MAX_BATCH_SIZE,
      maxBatchDelayMs: settings.MAX_BATCH_DELAY_MS,
      maxQueue: settings.MAX_QUEUE,
      maxQueuePerClient: settings.MAX_QUEUE_PER_CLIENT,
      maxBatchWork: settings.MAX_BATCH_POSITIONS,
      maxQueueWork: settings.MAX_QUEUE_POSITIONS,
      maxQueueWorkPerClient: settings.MAX_QUEUE_POSITIONS_PER_CLIENT,
    },
    deadlines: { requestMs: settings.REQUEST_DEADLINE_MS, maxRequestMs: settings.MAX_REQUEST_DEADLINE_MS },
    cacheBytes: settings.CACHE_BYTES,
    registry,
  });
  const app = createApp({
    plane,
    registry,
    logger,
    server: { name: `modeldock-${options.service}`, version: options.serviceVersion },
    maxBodyBytes: settings.MAX_BODY_BYTES,
    maxJsonDepth: settings.MAX_JSON_DEPTH,
    trustedProxies: createTrustedProxies(settings.TRUSTED_PROXIES),
    plugins: options.plugins,
  });

  // Listen before the model is warm: liveness answers at once, readiness says 503 until warm. Slow
  // or stalled clients cannot hold a connection forever (Node's defaults are 60 s / 300 s), and
  // Node's own answers (a malformed request, a missing Host, a bad Expect) are JSON too.
  const server = createHttpServer(
    app,
    {
      headersTimeoutMs: settings.HEADERS_TIMEOUT_MS,
      requestTimeoutMs: settings.REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: settings.KEEP_ALIVE_TIMEOUT_MS,
      maxHeaderBytes: settings.MAX_HEADER_BYTES,
    },
    logger,
  );
  server.listen(settings.PORT, settings.HOST);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  logger.info({ host: settings.HOST, port, engineThread: settings.ENGINE_THREAD, model: plane.name, versions }, 'listening');
  installGracefulShutdown(server, {
    logger,
    drainTimeoutMs: settings.DRAIN_TIMEOUT_MS,
    beforeClose: () => plane.startDraining(),
    afterClose: async () => {
      await plane.close();
      await Promise.all(runtimes.map((runtime) => runtime.unload()));
      dispose();
      textMeasure.dispose();
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
  if (settings.ENGINE_THREAD === 'worker' && chosen !== undefined) logBackend(logger, chosen);
  logger.info(
    {
      model: plane.name,
      kind: plane.model.kind,
      versions,
      defaultVersion: plane.model.version,
      startupSeconds: Number(((performance.now() - startedAt) / 1000).toFixed(3)),
      backend: chosen?.backend,
    },
    'model loaded and warm: ready',
  );
}

/**
 * The entry URLs of the native TF.js addons this app has installed (the wasm image has neither),
 * resolved from the app, which alone depends on them: pass `(s) => import.meta.resolve(s)`.
 */
export function nativeModules(resolve: (specifier: string) => string): { tensorflow?: string; tensorflowGpu?: string } {
  const optional = (specifier: string) => {
    try {
      return resolve(specifier);
    } catch {
      return undefined;
    }
  };
  return { tensorflow: optional('@tensorflow/tfjs-node'), tensorflowGpu: optional('@tensorflow/tfjs-node-gpu') };
}

/** Runs `main` and exits non-zero with a one-line JSON error if start-up fails (the logger may not exist yet). */
export function startOrExit(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    console.error(JSON.stringify({ level: 'fatal', msg: 'start-up failed', err: err instanceof Error ? err.message : String(err) }));
    process.exit(1);
  });
}
