/**
 * The worker-thread side of {@link createWorkerRuntime}: selects the backend, wires the model's
 * kind (its shared resources) and loads the version, then answers predict messages, skipping the
 * rows whose requests the main thread reports abandoned. Runs only inside a Worker.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { selectBackend } from './backend.js';
import type { ModelRuntime } from './model-runtime.js';
import { createEngine } from './wiring.js';
import type { EngineRequest, EngineResponse, EngineStartup, EngineWorkerData } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('engine-worker must run in a worker thread');
const { description, ...options } = workerData as EngineWorkerData;

function importer(url: string | undefined): (() => Promise<unknown>) | undefined {
  return url === undefined ? undefined : () => import(url);
}

/** Per predict call in progress: one controller per watched group of rows. */
const watching = new Map<number, AbortController[]>();

function predict(runtime: ModelRuntime, message: Extract<EngineRequest, { type: 'predict' }>): void {
  const controllers = message.groups.map(() => new AbortController());
  for (const group of message.abandoned) controllers[group]?.abort();
  watching.set(message.id, controllers);
  const perRow: AbortSignal[][] = Array.from({ length: message.inputs.rows }, () => []);
  message.groups.forEach((rows, group) => rows.forEach((row) => perRow[row]?.push((controllers[group] as AbortController).signal)));
  const rowSignals = perRow.map((signals) => (signals.length <= 1 ? signals[0] : AbortSignal.any(signals)));
  const skipped: number[] = [];
  // Epoch milliseconds: the main thread's performance.now() counts from another origin.
  const startedAt = performance.timeOrigin + performance.now();
  const timing = () => ({ startedAt, endedAt: performance.timeOrigin + performance.now() });
  runtime.predict(message.inputs, { rowSignals, onSkipped: (rows) => skipped.push(...rows) }).then(
    (outputs) => port?.postMessage({ type: 'result', id: message.id, outputs, skipped, timing: timing() } satisfies EngineResponse),
    (error: unknown) =>
      port?.postMessage({
        type: 'error',
        id: message.id,
        message: error instanceof Error ? error.message : String(error),
        skipped,
        timing: timing(),
      } satisfies EngineResponse),
  ).finally(() => watching.delete(message.id));
}

async function start(): Promise<void> {
  const backend = await selectBackend(options.backend, options.device, {
    tensorflow: importer(options.nativeModules?.tensorflow),
    tensorflowGpu: importer(options.nativeModules?.tensorflowGpu),
  });
  // Only what the model's kind declares is loaded (the sentence encoder for the text kinds).
  const engine = await createEngine([{ description, versionDir: options.versionDir }], {
    encoderDir: options.encoderDir,
    info: { backend: backend.backend, backendProvider: backend.provider, device: backend.device, engine: 'worker' },
  });
  const runtime = engine.runtimes[0] as ModelRuntime;
  await runtime.load();
  port?.postMessage({ type: 'ready', backend, info: runtime.info } satisfies EngineStartup);

  port?.on('message', (message: EngineRequest) => {
    switch (message.type) {
      case 'unload':
        void runtime.unload().then(() => {
          engine.dispose();
          port.postMessage({ type: 'unloaded' } satisfies EngineResponse);
          port.close();
        });
        return;
      case 'cancel':
        // Seen between engine calls: the engine yields to the event loop after each one.
        watching.get(message.id)?.[message.group]?.abort();
        return;
      case 'predict':
        predict(runtime, message);
        return;
      default: {
        const unknown: never = message;
        throw new Error(`unknown engine request ${JSON.stringify(unknown)}`);
      }
    }
  });
}

start().catch((error: unknown) => {
  port.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error) } satisfies EngineStartup);
});
