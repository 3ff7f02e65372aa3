/** Sums and counts of the service's batching histograms, scraped from `GET /metrics`. */
export interface EngineCounters {
  engineSeconds: number;
  engineCalls: number;
  batchTexts: number;
  batches: number;
  queueSeconds: number;
  queued: number;
}

/** What the service did during one load point, from the difference of two scrapes. */
export interface EngineActivity {
  /** Mean texts per engine call. */
  meanBatch: number | null;
  /** Share of wall time the engine was computing (1 = never idle). */
  engineBusy: number | null;
  /** Mean milliseconds a request waited in the batching queue. */
  meanQueueMs: number | null;
}

const SERIES = {
  engineSeconds: 'modeldock_engine_call_duration_seconds_sum',
  engineCalls: 'modeldock_engine_call_duration_seconds_count',
  batchTexts: 'modeldock_batch_size_sum',
  batches: 'modeldock_batch_size_count',
  queueSeconds: 'modeldock_batch_queue_duration_seconds_sum',
  queued: 'modeldock_batch_queue_duration_seconds_count',
} as const satisfies Record<keyof EngineCounters, string>;

/** Sums each series over its labels in a Prometheus text exposition. */
export function parseEngineCounters(text: string): EngineCounters {
  const counters: EngineCounters = { engineSeconds: 0, engineCalls: 0, batchTexts: 0, batches: 0, queueSeconds: 0, queued: 0 };
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    for (const [key, name] of Object.entries(SERIES) as [keyof EngineCounters, string][]) {
      if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) {
        counters[key] += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
    }
  }
  return counters;
}

/** Scrapes `<origin>/metrics`; undefined when the service exposes none of these series. */
export async function scrapeEngineCounters(origin: string): Promise<EngineCounters | undefined> {
  try {
    const res = await fetch(`${origin}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (res.status !== 200) return undefined;
    const counters = parseEngineCounters(await res.text());
    return counters.engineCalls === 0 && counters.batches === 0 ? undefined : counters;
  } catch {
    return undefined;
  }
}

/** Activity between two scrapes `wallS` seconds apart. */
export function engineActivity(before: EngineCounters | undefined, after: EngineCounters | undefined, wallS: number): EngineActivity {
  if (before === undefined || after === undefined) return { meanBatch: null, engineBusy: null, meanQueueMs: null };
  const ratio = (a: number, b: number): number | null => (b > 0 ? a / b : null);
  return {
    meanBatch: ratio(after.batchTexts - before.batchTexts, after.batches - before.batches),
    engineBusy: ratio(after.engineSeconds - before.engineSeconds, wallS),
    meanQueueMs: ratio((after.queueSeconds - before.queueSeconds) * 1000, after.queued - before.queued),
  };
}
