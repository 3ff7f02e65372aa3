import path from 'node:path';
import { TEXT_INPUT, createModelRuntime, loadSentenceEncoder, selectBackend, textBatch } from '@modeldock/model-runtime';
import { cpuSeconds, machineBusySeconds } from './processes.js';
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
}

/** Options for {@link measureEngine}. */
export interface EngineOptions {
  modelDir: string;
  version: string;
  batchSizes: readonly number[];
  durationS: number;
  warmupS: number;
  /** Cap on calls per batch size. */
  maxCalls: number;
  nextTexts: (n: number) => string[];
  progress: (message: string) => void;
}

/**
 * The raw limit: the same engine the service uses (wasm backend, USE-lite + classifier head via
 * `runtime.predict`), called back to back with no HTTP, JSON or batching queue in between.
 */
export async function measureEngine(options: EngineOptions): Promise<{ backend: string; points: EnginePoint[] }> {
  const backend = await selectBackend('wasm', 'cpu');
  const encoder = await loadSentenceEncoder();
  const runtime = await createModelRuntime(path.join(options.modelDir, options.version), { encoder });
  await runtime.load();
  const points: EnginePoint[] = [];
  try {
    for (const batchSize of options.batchSizes) {
      const run = async (seconds: number, maxCalls: number): Promise<{ calls: number; elapsedS: number; latencies: number[] }> => {
        const latencies: number[] = [];
        const started = performance.now();
        const deadline = started + seconds * 1000;
        while (performance.now() < deadline && latencies.length < maxCalls) {
          const texts = options.nextTexts(batchSize);
          const t0 = performance.now();
          const outputs = await runtime.predict(textBatch(TEXT_INPUT, texts));
          latencies.push(performance.now() - t0);
          if (outputs.rows !== batchSize) throw new Error(`predict returned ${outputs.rows} rows for ${batchSize} texts`);
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
      };
      points.push(point);
      options.progress(
        `engine batch ${batchSize}: ${round(point.textsPerS, 1)} texts/s, ${round(point.callLatency.p50, 1)} ms/call (${totalCalls} calls)`,
      );
    }
  } finally {
    await runtime.unload();
    encoder.dispose();
  }
  return { backend: backend.backend, points };
}
