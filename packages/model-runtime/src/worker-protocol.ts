import type { BackendChoice, BackendRequest, Device } from './backend.js';
import type { EngineTiming, TypedDescription } from './model-runtime.js';
import type { Batch } from './signature.js';

/** How the engine worker is set up (structured-cloned into the worker). */
export interface WorkerRuntimeOptions {
  /** A model version directory (metadata.json, model.json, ...). */
  versionDir: string;
  /** Serve under this name instead of the one in metadata.json. */
  name?: string;
  /** USE-lite files; the npm package's by default (loaded only by kinds that need the encoder). */
  encoderDir?: string;
  backend: BackendRequest;
  device: Device;
  /**
   * Resolved URLs of the native addon packages, which only apps depend on (a package cannot
   * resolve them), e.g. `import.meta.resolve('@tensorflow/tfjs-node')`.
   */
  nativeModules?: { tensorflow?: string; tensorflowGpu?: string };
}

/** What the worker starts with: its options and the description the main thread already read. */
export interface EngineWorkerData extends WorkerRuntimeOptions {
  description: TypedDescription;
}

/**
 * Messages from the main thread. A predict call's rows are watched in groups (one per signal the
 * caller gave: signals cannot cross threads); `cancel` says a group was abandoned, `abandoned`
 * lists the groups already abandoned when the call was sent.
 */
export type EngineRequest =
  | { type: 'predict'; id: number; inputs: Batch; groups: number[][]; abandoned: number[] }
  | { type: 'cancel'; id: number; group: number }
  | { type: 'unload' };

/** The worker's first message. */
export type EngineStartup =
  | { type: 'ready'; backend: BackendChoice; info: Readonly<Record<string, unknown>> }
  | { type: 'failed'; message: string };

/**
 * Answers to {@link EngineRequest}s; `skipped` are the rows the engine left out as abandoned,
 * `timing` when the worker computed the call (for the engine's span in a trace).
 */
export type EngineResponse =
  | { type: 'result'; id: number; outputs: Batch; skipped: number[]; timing: EngineTiming }
  | { type: 'error'; id: number; message: string; skipped: number[]; timing: EngineTiming }
  | { type: 'unloaded' };
