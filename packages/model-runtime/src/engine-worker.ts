/**
 * The worker-thread side of {@link createWorkerRuntime}: selects the backend, loads the encoder and
 * the model version, then answers predict messages one at a time. Runs only inside a Worker.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { selectBackend } from './backend.js';
import { modelKind } from './kinds.js';
import { loadSentenceEncoder } from './sentence-encoder.js';
import type { EngineRequest, EngineResponse, EngineStartup, EngineWorkerData } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('engine-worker must run in a worker thread');
const { description, ...options } = workerData as EngineWorkerData;

function importer(url: string | undefined): (() => Promise<unknown>) | undefined {
  return url === undefined ? undefined : () => import(url);
}

async function start(): Promise<void> {
  const backend = await selectBackend(options.backend, options.device, {
    tensorflow: importer(options.nativeModules?.tensorflow),
    tensorflowGpu: importer(options.nativeModules?.tensorflowGpu),
  });
  // Only the kinds fed by the sentence encoder pay for loading it.
  const encoder = description.needsEncoder ? await loadSentenceEncoder(options.encoderDir) : undefined;
  const runtime = modelKind(description.kind).create(description, options.versionDir, {
    encoder,
    info: { backend: backend.backend, backendProvider: backend.provider, device: backend.device, engine: 'worker' },
  });
  await runtime.load();
  port?.postMessage({ type: 'ready', backend, info: runtime.info } satisfies EngineStartup);

  port?.on('message', (message: EngineRequest) => {
    if (message.type === 'unload') {
      void runtime.unload().then(() => {
        encoder?.dispose();
        port.postMessage({ type: 'unloaded' } satisfies EngineResponse);
        port.close();
      });
      return;
    }
    runtime.predict(message.inputs).then(
      (outputs) => port.postMessage({ type: 'result', id: message.id, outputs } satisfies EngineResponse),
      (error: unknown) =>
        port.postMessage({
          type: 'error',
          id: message.id,
          message: error instanceof Error ? error.message : String(error),
        } satisfies EngineResponse),
    );
  });
}

start().catch((error: unknown) => {
  port.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error) } satisfies EngineStartup);
});
