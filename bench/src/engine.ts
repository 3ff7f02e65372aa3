import { createModelRuntime, selectBackend, type Batch } from '@modeldock/model-runtime';
import { cpuSeconds, loadAverage, machineBusySeconds } from './processes.js';
import { round, summarise, type LatencySummary } from './stats.js';

/** Engine throughput at one batch size, measured in this process. */
export interface EnginePoint {
  batchSize: number;
  calls: number;
  textsPerS: number;
  /** Per `predict` call, milliseconds. */
  callLatency: LatencySummary;
  /** Cores used by other processes meanwhile (this engine shares the machine with them). */
  otherCpuCores: number | null;
  /** 1-minute load average when the point ended (absent in runs from before it was recorded). */
  loadAverage?: number;
}

/** Options for {@link measureEngine}. */
export interface EngineOptions {
  /** `models/<name>/<version>`. */
  versionDir: string;
  batchSizes: readonly number[];
  durationS: number;
  warmupS: number;
  /** Cap on calls per batch size. */
  maxCalls: number;
  /** The next `n` rows of every input of the model's signature. */
  nextBatch: (n: number) => Batch;
  progress: (message: string) => void;
}

/**
 * The raw limit: the same engine the service uses (wasm backend, `runtime.predict` of the model's
 * kind, e.g. USE-lite + classifier head), called back to back with no HTTP, JSON or batching queue
 * in between. The model's kind is wired as the service wires it (the sentence encoder only for the
 * kinds that declare it).
 */
export async function measureEngine(options: EngineOptions): Promise<{ backend: string; points: EnginePoint[] }> {
  const backend = await selectBackend('wasm', 'cpu');
  const runtime = await createModelRuntime(options.versionDir);
  await runtime.load();
  const points: EnginePoint[] = [];
  try {
    for (const batchSize of options.batchSizes) {
      const run = async (seconds: number, maxCalls: number): Promise<{ calls: number; elapsedS: number; latencies: number[] }> => {
        const latencies: number[] = [];
        const started = performance.now();
        const deadline = started + seconds * 1000;
        while (performance.now() < deadline && latencies.length < maxCalls) {
          const batch = options.nextBatch(batchSize);
          const t0 = performance.now();
          const outputs = await runtime.predict(batch);
          latencies.push(performance.now() - t0);
          if (outputs.rows !== batchSize) throw new Error(`predict returned ${outputs.rows} rows for ${batchSize}`);
        }
        return { calls: latencies.length, elapsedS: (performance.now() - started) / 1000, latencies };
      };
      await run(options.warmupS, options.maxCalls);
      const cpuBefore = cpuSeconds(process.pid);
      const busyBefore = machineBusySeconds();
      // At least 3 calls, so large batches get a meaningful rate even in quick mode.
      const { calls, elapsedS, latencies } = await run(options.durationS, options.maxCalls);
      const extra = calls < 3 ? await run(Number.POSITIVE_INFINITY, 3 - calls) : undefined;
      const allLatencies = [...latencies, ...(extra?.latencies ?? [])];
      const totalCalls = allLatencies.length;
      const totalS = elapsedS + (extra?.elapsedS ?? 0);
      const other = machineBusySeconds() - busyBefore - (cpuSeconds(process.pid) - cpuBefore);
      const point = {
        batchSize,
        calls: totalCalls,
        textsPerS: (totalCalls * batchSize) / totalS,
        callLatency: summarise(allLatencies),
        otherCpuCores: round(other / totalS, 2),
        loadAverage: loadAverage(),
      };
      points.push(point);
      options.progress(
        `engine batch ${batchSize}: ${round(point.textsPerS, 1)} texts/s, ${round(point.callLatency.p50, 1)} ms/call (${totalCalls} calls)`,
      );
    }
  } finally {
    // Also frees the resources it loaded for itself.
    await runtime.unload();
  }
  return { backend: backend.backend, points };
}
