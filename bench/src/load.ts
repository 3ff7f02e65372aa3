import autocannon from 'autocannon';
import { cpuSeconds, machineBusySeconds, rssMiB } from './processes.js';
import { round, summarise, type LatencySummary } from './stats.js';

/** One load point: `connections` clients, each sending one request at a time. */
export interface LoadSpec {
  /** `http://127.0.0.1:port` */
  origin: string;
  path: string;
  connections: number;
  /** Rows (texts, or vectors) each request carries, for the texts/s rate. */
  textsPerRequest: number;
  /** Responses in the first `warmupS` seconds are discarded (connections, JIT, batch rhythm, backlog). */
  warmupS: number;
  /** Measured seconds after the warm-up. */
  durationS: number;
  /** Hard cap on responses, whatever the duration. */
  maxRequests: number;
  /** The JSON body of the next request (called once per request, so requests vary). */
  nextBody: () => string;
  /** Extra request headers (e.g. an API key). */
  headers?: Readonly<Record<string, string>>;
  /** Processes whose CPU share and peak RSS to record while the load runs. */
  watch?: Readonly<Record<string, number>>;
  /** Called when the measured window opens (e.g. to scrape metrics); awaited before this returns. */
  onMeasureStart?: () => Promise<void>;
}

/** Resource use of one watched process during the measured window. */
export interface ProcessUsage {
  /** CPU seconds per wall second (1 = one core busy). */
  cpuCores: number | null;
  peakRssMiB: number | null;
}

/** What one load point measured; latencies in milliseconds, rates per second. */
export interface LoadResult {
  connections: number;
  textsPerRequest: number;
  durationS: number;
  /** 2xx responses. */
  ok: number;
  requestsPerS: number;
  textsPerS: number;
  /** Of 2xx responses. */
  latency: LatencySummary;
  /** Of 503/429 responses (load shedding). */
  shed: LatencySummary;
  statusCounts: Record<string, number>;
  /** Socket errors and timeouts over the whole run (autocannon `errors`, which includes timeouts). */
  errors: number;
  timeouts: number;
  /** Responses that are neither 2xx nor 503/429. */
  unexpected: number;
  usage: Record<string, ProcessUsage>;
  /** Cores used by processes the bench did not start or watch: other work on the machine skews everything. */
  otherCpuCores: number | null;
}

const SHED_STATUSES = new Set([429, 503]);
const RSS_SAMPLE_MS = 500;

/**
 * Runs one bounded autocannon run (POST `nextBody()` to `path`) of `warmupS + durationS` and
 * summarises the responses completed in the measured window.
 */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const okLatencies: number[] = [];
  const shedLatencies: number[] = [];
  const statusCounts: Record<string, number> = {};
  const watch = { loadgen: process.pid, ...spec.watch };
  let measuring = false;
  let responses = 0;
  let cpuStart: Record<string, number> = {};
  let busyStart = Number.NaN;
  let windowStart = Number.NaN;
  const peakRss: Record<string, number> = {};
  const sampleRss = (): void => {
    if (!measuring) return;
    for (const [name, pid] of Object.entries(watch)) {
      const rss = rssMiB(pid);
      if (!(rss <= (peakRss[name] ?? 0))) peakRss[name] = rss;
    }
  };
  const sampler = setInterval(sampleRss, RSS_SAMPLE_MS);
  let measureStartHook: Promise<void> = Promise.resolve();
  const opener = setTimeout(() => {
    cpuStart = Object.fromEntries(Object.entries(watch).map(([name, pid]) => [name, cpuSeconds(pid)]));
    busyStart = machineBusySeconds();
    windowStart = performance.now();
    measuring = true;
    sampleRss();
    // Not awaited here: a scrape of a saturated service can take longer than the window itself.
    measureStartHook = spec.onMeasureStart?.() ?? Promise.resolve();
  }, spec.warmupS * 1000);

  let instance: autocannon.Instance | undefined;
  let result: autocannon.Result;
  try {
    result = await new Promise<autocannon.Result>((resolve, reject) => {
      instance = autocannon(
        {
          url: `${spec.origin}${spec.path}`,
          connections: spec.connections,
          duration: spec.warmupS + spec.durationS,
          timeout: 30,
          requests: [
            {
              method: 'POST',
              path: spec.path,
              headers: { 'content-type': 'application/json', ...spec.headers },
              setupRequest: (req) => ({ ...req, body: spec.nextBody() }),
            },
          ],
        },
        (err, res) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(res)),
      );
      instance.on('response', (_client, statusCode, _bytes, responseTime) => {
        responses += 1;
        if (responses >= spec.maxRequests) instance?.stop();
        if (!measuring) return;
        statusCounts[statusCode] = (statusCounts[statusCode] ?? 0) + 1;
        if (statusCode >= 200 && statusCode < 300) okLatencies.push(responseTime);
        else if (SHED_STATUSES.has(statusCode)) shedLatencies.push(responseTime);
      });
    });
  } finally {
    clearTimeout(opener);
    clearInterval(sampler);
  }
  if (!measuring) throw new Error(`load run against ${spec.origin} ended before its measured window opened`);
  sampleRss();
  measuring = false;
  const wallS = (performance.now() - windowStart) / 1000;
  const cpuEnd = Object.fromEntries(Object.entries(watch).map(([name, pid]) => [name, cpuSeconds(pid)]));
  const busyEnd = machineBusySeconds();
  await measureStartHook;

  const usage: Record<string, ProcessUsage> = {};
  let watchedCpu = 0;
  for (const name of Object.keys(watch)) {
    const used = (cpuEnd[name] ?? Number.NaN) - (cpuStart[name] ?? Number.NaN);
    watchedCpu += used;
    usage[name] = { cpuCores: round(used / wallS, 2), peakRssMiB: round(peakRss[name] ?? Number.NaN, 0) };
  }
  const ok = okLatencies.length;
  const shed = shedLatencies.length;
  const counted = Object.values(statusCounts).reduce((a, b) => a + b, 0);
  return {
    connections: spec.connections,
    textsPerRequest: spec.textsPerRequest,
    durationS: round(wallS, 2) ?? 0,
    ok,
    requestsPerS: ok / wallS,
    textsPerS: (ok * spec.textsPerRequest) / wallS,
    latency: summarise(okLatencies),
    shed: summarise(shedLatencies),
    statusCounts,
    errors: result.errors,
    timeouts: result.timeouts,
    unexpected: counted - ok - shed,
    usage,
    otherCpuCores: round((busyEnd - busyStart - watchedCpu) / wallS, 2),
  };
}
