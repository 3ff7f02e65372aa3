import type { BackendChoice, BackendRequest, Device } from './backend.js';

/** How the engine worker is set up (structured-cloned into the worker). */
export interface WorkerRuntimeOptions {
  /** A model version directory (metadata.json, model.json, ...). */
  versionDir: string;
  /** USE-lite files; the npm package's by default. */
  encoderDir?: string;
  backend: BackendRequest;
  device: Device;
  /**
   * Resolved URLs of the native addon packages, which only apps depend on (a package cannot
   * resolve them), e.g. `import.meta.resolve('@tensorflow/tfjs-node')`.
   */
  nativeModules?: { tensorflow?: string; tensorflowGpu?: string };
}

/** Messages from the main thread. */
export type EngineRequest = { type: 'predict'; id: number; texts: string[] } | { type: 'unload' };

/** The worker's first message. */
export type EngineStartup =
  | { type: 'ready'; backend: BackendChoice; info: Readonly<Record<string, unknown>> }
  | { type: 'failed'; message: string };

/** Answers to {@link EngineRequest}s. */
export type EngineResponse =
  | { type: 'result'; id: number; rows: number[][] }
  | { type: 'error'; id: number; message: string }
  | { type: 'unloaded' };
