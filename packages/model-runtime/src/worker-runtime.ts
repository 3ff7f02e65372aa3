import { once } from 'node:events';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BackendChoice } from './backend.js';
import { DescribedModel } from './described-model.js';
import type { ModelRuntime, PredictOptions, TypedDescription } from './model-runtime.js';
import { describeModel, modelKind } from './registry.js';
import type { Batch } from './signature.js';
import type { EngineRequest, EngineResponse, EngineStartup, EngineWorkerData, WorkerRuntimeOptions } from './worker-protocol.js';

export type { WorkerRuntimeOptions } from './worker-protocol.js';

/** A runtime whose engine lives in a worker thread; {@link WorkerRuntime.backend} says which backend it chose. */
export interface WorkerRuntime extends ModelRuntime {
  /** Known once `load()` has resolved. */
  readonly backend: BackendChoice | undefined;
}

/**
 * Compiled, the worker is `engine-worker.js` beside this file. Run from source under tsx (tests),
 * it is the `.ts` file, and the worker has to register tsx's loader itself before importing it.
 */
function startWorker(workerData: EngineWorkerData): Worker {
  const extension = path.extname(new URL(import.meta.url).pathname);
  const entry = new URL(`./engine-worker${extension}`, import.meta.url);
  if (extension !== '.ts') return new Worker(entry, { workerData });
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/**
 * Runs a model version on its own thread. On wasm an engine call is one synchronous stretch of
 * 10–800 ms; on the main thread it would stall every socket for that long, so health checks time
 * out, a full queue cannot answer its 503 until the call ends, and requests pile up unseen. Here
 * the main thread stays free for HTTP while the worker computes, one call at a time.
 */
export async function createWorkerRuntime(options: WorkerRuntimeOptions): Promise<WorkerRuntime> {
  return new EngineThread(await describeModel(options.versionDir, { name: options.name }), options);
}

interface Pending {
  resolve(outputs: Batch): void;
  reject(error: Error): void;
  /** Rows the engine skipped as abandoned, passed on before the call settles. */
  skipped(rows: readonly number[]): void;
}

/**
 * The caller's signals as groups of rows (signals cannot cross threads): the whole call's signal
 * covers every row, each distinct row signal its own rows.
 */
function rowGroups(rows: number, options: PredictOptions): { signals: AbortSignal[]; groups: number[][] } {
  const bySignal = new Map<AbortSignal, number[]>();
  if (options.signal !== undefined) bySignal.set(options.signal, Array.from({ length: rows }, (_, row) => row));
  options.rowSignals?.forEach((signal, row) => {
    if (signal === undefined || row >= rows) return;
    const group = bySignal.get(signal) ?? [];
    if (signal !== options.signal) group.push(row);
    bySignal.set(signal, group);
  });
  return { signals: [...bySignal.keys()], groups: [...bySignal.values()] };
}

class EngineThread extends DescribedModel implements WorkerRuntime {
  backend: BackendChoice | undefined;
  /** The kind's, from the metadata this thread already has (the runtime itself is in the worker). */
  readonly textKey: ((text: string) => string) | undefined;
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  constructor(
    description: TypedDescription,
    private readonly options: WorkerRuntimeOptions,
  ) {
    super(description);
    this.textKey = modelKind(description.kind).textKey?.(description.metadata);
  }

  ready(): boolean {
    return this.worker !== undefined;
  }

  async load(): Promise<void> {
    if (this.worker !== undefined) return;
    const worker = startWorker({ ...this.options, description: this.description });
    const startup = await new Promise<EngineStartup>((resolve, reject) => {
      const onExit = (code: number) => reject(new Error(`engine worker exited with code ${code} while loading`));
      worker.once('exit', onExit);
      worker.once('error', reject);
      worker.once('message', (message: EngineStartup) => {
        worker.off('exit', onExit);
        worker.off('error', reject);
        resolve(message);
      });
    });
    if (startup.type === 'failed') {
      await worker.terminate();
      throw new Error(`engine worker failed to load the model: ${startup.message}`);
    }
    this.backend = startup.backend;
    this.info = startup.info;
    worker.on('message', (message: EngineResponse) => this.settle(message));
    // A crashed engine fails what it held; readiness turns false so balancers move away.
    worker.once('exit', (code) => {
      this.worker = undefined;
      this.failAll(new Error(`engine worker exited with code ${code}`));
    });
    worker.on('error', (error) => this.failAll(error));
    this.worker = worker;
  }

  predict(inputs: Batch, options: PredictOptions = {}): Promise<Batch> {
    const worker = this.worker;
    if (worker === undefined) return Promise.reject(new Error(`model ${this.name}/${this.version} is not loaded`));
    const id = this.nextId++;
    const { signals, groups } = rowGroups(inputs.rows, options);
    const abandoned = signals.flatMap((signal, group) => (signal.aborted ? [group] : []));
    // An abandonment reaches the worker as a message; it acts on it before its next engine call.
    const listeners = signals.map((signal, group) => {
      const onAbort = () => worker.postMessage({ type: 'cancel', id, group } satisfies EngineRequest);
      if (!signal.aborted) signal.addEventListener('abort', onAbort, { once: true });
      return () => signal.removeEventListener('abort', onAbort);
    });
    const release = () => listeners.forEach((remove) => remove());
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        resolve: (outputs) => {
          release();
          resolve(outputs);
        },
        reject: (error) => {
          release();
          reject(error);
        },
        skipped: (rows) => {
          if (rows.length > 0) options.onSkipped?.(rows);
        },
      });
      worker.postMessage({ type: 'predict', id, inputs, groups, abandoned } satisfies EngineRequest);
    });
  }

  async unload(): Promise<void> {
    const worker = this.worker;
    if (worker === undefined) return;
    this.worker = undefined;
    const done = once(worker, 'exit');
    worker.postMessage({ type: 'unload' } satisfies EngineRequest);
    await done;
  }

  private settle(message: EngineResponse): void {
    if (message.type === 'unloaded') return;
    const pending = this.pending.get(message.id);
    if (pending === undefined) return;
    this.pending.delete(message.id);
    pending.skipped(message.skipped);
    if (message.type === 'result') pending.resolve(message.outputs);
    else pending.reject(new Error(message.message));
  }

  private failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}
