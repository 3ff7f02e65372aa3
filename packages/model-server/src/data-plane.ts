import {
  BatcherClosedError,
  DynamicBatcher,
  QueueFullError,
  concatBatches,
  selectRows,
  sliceBatch,
  type Batch,
  type BatcherOptions,
  type EnginePlan,
  type ModelRuntime,
  type RowCodec,
} from '@modeldock/model-runtime';
import { Counter, Gauge, Histogram, HttpError, LATENCY_BUCKETS, clipInput, type Registry } from '@modeldock/service-kit';
import { createCachedInference } from './coalescing.js';
import { ResultCache, rowKeys } from './result-cache.js';
import { SIZE_HINT, decodeTensors, type DecodedTensors, type RawTensor, type RequestLimits, type TextBudget } from './tensors.js';

/** The context of one inference request, from its HTTP exchange. */
export interface InferenceContext {
  /** Labels metrics (`open-inference`, `tf-serving`, `openai`, `seed`...). */
  protocol: string;
  /** Aborted when the client has gone. The deadline is the data plane's to set, from the request's work. */
  signal?: AbortSignal;
  /** Who asked, for the fair share of the queue. */
  client?: string;
  /** When the request arrived (`performance.now()`): its deadline counts from then (default: when `infer` is called). */
  arrivedAt?: number;
  /**
   * The caller's own deadline (the gateway's attempt, `x-modeldock-deadline-ms`), which can only
   * shorten the request's, and the longest it would wait (`x-modeldock-deadline-max-ms`) when
   * told through {@link extend} that the admitted work needs more.
   */
  deadline?: { ms: number; maxMs?: number };
  /** Tells the caller, before any work starts, that its request was given more than `deadline.ms` (HTTP: 102 Processing). */
  extend?(): void;
  /** Neither cached rows nor rows other requests are computing may answer it (`Cache-Control: no-cache`). */
  noCache?: boolean;
  /** Told once per inference how long its rows waited in the queue, and whether the queue is why it failed. */
  queued?(report: QueueReport): void;
}

/**
 * How an inference fared in the queue: `waitedMs` until its first rows reached the engine (or until
 * it failed), and `cause: 'queue'` when it was refused or ran out of time because of queued work
 * (its own or other clients'), not because of the engine: a healthy replica, which a gateway must
 * not eject for it.
 */
export interface QueueReport {
  waitedMs: number;
  cause?: 'queue';
}

/** A request validated by {@link DataPlane.decode}, ready for {@link DataPlane.infer}. */
export interface DecodedRequest extends DecodedTensors {
  /** Text models: each row's work (encoder positions) and the plan of the engine calls it takes. */
  work?: { rows: number[]; plan: EnginePlan };
}

/** Options of {@link DataPlane.decode}. */
export interface DecodeOptions {
  /** What the client should do about a request over a size limit, in its protocol's terms. */
  hint?: string;
}

/**
 * A text request's deadline is this many times its estimated engine time (on one wasm core), when
 * that is longer than the ordinary deadline: it leaves room for a share of the engine with other
 * clients and for a machine slower or busier than the one measured (BUDGET.md (d)).
 */
export const WORK_DEADLINE_FACTOR = 2;

/** Deadlines of requests, in milliseconds. */
export interface DeadlineOptions {
  /** An ordinary request's deadline. */
  requestMs: number;
  /** The longest deadline a request's work can earn. */
  maxRequestMs: number;
}

/** Options for {@link createDataPlane}. */
export interface DataPlaneOptions {
  /** Every served version of one model, oldest first. */
  runtimes: readonly ModelRuntime[];
  /** The version unversioned requests get (TF Serving's "latest" policy by default: the highest). */
  defaultVersion?: string;
  /** Version labels (`{stable: '1', canary: '2'}`), each naming a served version. */
  versionLabels?: Readonly<Record<string, string>>;
  limits: RequestLimits;
  /** Counts the sentence encoder's pieces, for kinds fed by it; absent when no served kind is. */
  textBudget?: TextBudget;
  /**
   * Each version gets its own batcher with these settings (versions never share an engine call);
   * for text models its work units are padded encoder positions.
   */
  batching: BatcherOptions;
  /** Default: 30 s, up to 120 s. */
  deadlines?: DeadlineOptions;
  /**
   * Bytes of answer rows the result cache may hold, all versions together (0, the default, turns
   * the cache and the coalescing of identical rows off).
   */
  cacheBytes?: number;
  registry: Registry;
}

/**
 * Protocol-independent serving logic between the HTTP routes and the model runtimes: model and
 * version resolution, input validation against the signature, work limits, dynamic batching,
 * cancellation, readiness and inference metrics. Each protocol's routes only translate their wire
 * format to and from these calls (MLServer's `DataPlane`).
 */
export interface DataPlane {
  /** The served model's name. */
  readonly name: string;
  /** When this server took the model up (Unix seconds): OpenAI's `created`. */
  readonly created: number;
  /** The version unversioned requests get. */
  readonly model: ModelRuntime;
  /** Every served version, oldest first. */
  readonly versions: readonly ModelRuntime[];
  /** Version labels and the versions they name. */
  readonly versionLabels: Readonly<Record<string, string>>;
  readonly limits: RequestLimits;
  /** Server readiness: every served version is warm and the server is not draining. */
  ready(): boolean;
  /** The runtime for `name` at `version` (the default version when absent); 404 otherwise. */
  resolve(name: string, version?: string): ModelRuntime;
  /** The runtime for `name` at the version `label` names (TF Serving's version labels); 404 otherwise. */
  resolveLabel(name: string, label: string): ModelRuntime;
  /**
   * Validates tensors from a request against `runtime`'s signature and the work limits, and
   * returns them as one batch with their work; a 400 names what is wrong. `pieces` counts the
   * encoder's pieces.
   */
  decode(runtime: ModelRuntime, tensors: readonly RawTensor[], options?: DecodeOptions): DecodedRequest;
  /**
   * Runs a decoded request through `runtime`, batched with concurrent requests for the same
   * version, within a deadline that grows with its work (see {@link WORK_DEADLINE_FACTOR}).
   */
  infer(runtime: ModelRuntime, request: DecodedRequest, context: InferenceContext): Promise<Batch>;
  /** Counts a refusal before inference by reason, and returns the error to throw. */
  reject(reason: string, error: HttpError): HttpError;
  /** Stops reporting ready (SIGTERM) so balancers move traffic away; work that still arrives is served. */
  startDraining(): void;
  /** Waits for queued work, then refuses more. */
  close(): Promise<void>;
}

/**
 * The gauges whose sum is a model's load for an autoscaler: rows accepted and not answered yet (deploy/k8s scales
 * each model on it; `pnpm deploy:gen` writes these names into its query).
 */
export const LOAD_METRICS = Object.freeze({ queuedRows: 'modeldock_batch_queue_length', engineRows: 'modeldock_engine_rows_in_flight' });

/** Rows of one request part when batching is off or small: about where USE-lite's throughput peaks. */
const ENGINE_PART_ROWS = 32;

const batchRows: RowCodec<Batch> = {
  rows: (batch) => batch.rows,
  slice: sliceBatch,
  concat: concatBatches,
};

/** Row indices ordered by their work, lightest first (stable). */
function sortedOrder(work: readonly number[]): number[] {
  return work.map((_, row) => row).sort((a, b) => (work[a] as number) - (work[b] as number) || a - b);
}

/** `inverse[order[i]] = i`: where each original row went. */
function inversePermutation(order: readonly number[]): number[] {
  const inverse = new Array<number>(order.length);
  order.forEach((row, i) => (inverse[row] = i));
  return inverse;
}

/** Creates the data plane for the loaded versions of one model. */
export function createDataPlane(options: DataPlaneOptions): DataPlane {
  const { runtimes, limits, textBudget, batching, registry } = options;
  const deadlines = options.deadlines ?? { requestMs: 30_000, maxRequestMs: 120_000 };
  // Parts of at least one engine chunk: with batching off a large request still runs in a few calls.
  const partRows = Math.max(batching.maxBatchSize, ENGINE_PART_ROWS);
  const latest = runtimes.at(-1);
  if (latest === undefined) throw new Error('a data plane needs at least one model version');
  const name = latest.name;
  if (runtimes.some((runtime) => runtime.name !== name)) throw new Error('all versions must be one model');
  const byVersion = new Map(runtimes.map((runtime) => [runtime.version, runtime]));
  const model = options.defaultVersion === undefined ? latest : byVersion.get(options.defaultVersion);
  if (model === undefined) throw new Error(`default version ${String(options.defaultVersion)} is not served`);
  const versionLabels = Object.freeze({ ...options.versionLabels });
  const unserved = Object.entries(versionLabels).filter(([, version]) => !byVersion.has(version));
  if (unserved.length > 0) {
    throw new Error(
      `version labels name versions that are not served: ${unserved.map(([label, version]) => `${label}=${version}`).join(', ')} (serving ${[...byVersion.keys()].join(', ')})`,
    );
  }
  if (runtimes.some((runtime) => runtime.textInput !== undefined) && textBudget === undefined) {
    throw new Error('a text model needs a text budget (the encoder’s piece counter)');
  }

  const rows = new Counter({
    name: 'modeldock_inference_texts_total',
    help: 'Rows (texts) inferred, by protocol.',
    labelNames: ['model', 'version', 'protocol'] as const,
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'modeldock_inference_rejected_total',
    help: 'Requests refused before inference, by reason.',
    labelNames: ['model', 'reason'] as const,
    registers: [registry],
  });
  const dropped = new Counter({
    name: 'modeldock_dropped_rows_total',
    help: 'Queued rows never computed because their client had gone (cancelled) or their deadline had passed.',
    labelNames: ['model', 'version', 'reason'] as const,
    registers: [registry],
  });
  const modelHistogram = (metric: string, help: string, buckets: number[]) =>
    new Histogram({ name: metric, help, buckets, labelNames: ['model', 'version'] as const, registers: [registry] });
  const engineSeconds = modelHistogram('modeldock_engine_call_duration_seconds', 'Time of one engine call (one batch).', LATENCY_BUCKETS);
  const queueSeconds = modelHistogram('modeldock_batch_queue_duration_seconds', 'Time a request part waited in the batching queue.', LATENCY_BUCKETS);
  const batchSize = modelHistogram('modeldock_batch_size', 'Rows per engine call.', [1, 2, 4, 8, 16, 32, 64, 128, 256]);
  const deadlineSeconds = modelHistogram(
    'modeldock_request_deadline_seconds',
    'Deadline each request was given: the ordinary one, or more for the work it brought.',
    [1, 5, 10, 15, 30, 45, 60, 90, 120, 180],
  );
  const queueLength = new Gauge({
    name: LOAD_METRICS.queuedRows,
    help: 'Rows waiting for an engine call.',
    labelNames: ['model', 'version'] as const,
    registers: [registry],
  });
  const engineRows = new Gauge({
    name: LOAD_METRICS.engineRows,
    help: 'Rows in the engine call running now.',
    labelNames: ['model', 'version'] as const,
    registers: [registry],
  });
  let draining = false;
  new Gauge({
    name: 'modeldock_model_ready',
    help: '1 when the model version answers requests.',
    labelNames: ['model', 'version'] as const,
    registers: [registry],
    collect() {
      for (const runtime of runtimes) {
        this.set({ model: runtime.name, version: runtime.version }, runtime.ready() && !draining ? 1 : 0);
      }
    },
  });

  const cacheLabels = (scope: string) => {
    const [cachedName = name, version = ''] = scope.split('\u0000');
    return { model: cachedName, version };
  };
  const cacheCounter = (metric: string, help: string) =>
    new Counter({ name: metric, help, labelNames: ['model', 'version'] as const, registers: [registry] });
  const cacheHits = cacheCounter('modeldock_cache_hits_total', 'Rows answered from the result cache.');
  const cacheMisses = cacheCounter('modeldock_cache_misses_total', 'Rows the result cache did not hold and nobody was computing: computed for this request.');
  const cacheCoalesced = cacheCounter('modeldock_cache_coalesced_rows_total', 'Rows answered by a computation another request (or an earlier row of the same request) had started.');
  const cacheEvictions = cacheCounter('modeldock_cache_evictions_total', 'Rows evicted from the result cache to make room (least recently used first).');
  const cacheBytes = new Gauge({ name: 'modeldock_cache_bytes', help: 'Bytes the result cache holds.', labelNames: ['model'] as const, registers: [registry] });
  // Every series exists from the start, at 0 (the cache off included): a dashboard's query reads 0, not "no data".
  cacheBytes.set({ model: name }, 0);
  for (const runtime of runtimes) {
    for (const counter of [cacheHits, cacheMisses, cacheCoalesced, cacheEvictions]) counter.inc({ model: runtime.name, version: runtime.version }, 0);
  }
  const cache = new ResultCache(options.cacheBytes ?? 0, {
    bytes: (bytes) => cacheBytes.set({ model: name }, bytes),
    evicted: (scope) => cacheEvictions.inc(cacheLabels(scope)),
  });
  const cached = createCachedInference(cache, {
    hits: (scope, n) => cacheHits.inc(cacheLabels(scope), n),
    misses: (scope, n) => cacheMisses.inc(cacheLabels(scope), n),
    coalesced: (scope, n) => cacheCoalesced.inc(cacheLabels(scope), n),
  });

  const batchers = new Map(
    runtimes.map((runtime) => {
      const labels = { model: runtime.name, version: runtime.version };
      // Both exist from the start, at 0: an autoscaler's query over an idle replica gets 0, not "no data".
      queueLength.set(labels, 0);
      engineRows.set(labels, 0);
      const batcher = new DynamicBatcher<Batch, Batch>(
        async (inputs, control) => {
          const stop = engineSeconds.startTimer(labels);
          engineRows.inc(labels, inputs.rows);
          try {
            return await runtime.predict(inputs, control);
          } finally {
            engineRows.dec(labels, inputs.rows);
            stop();
          }
        },
        { maxPartRows: partRows, workUnit: 'padded encoder positions', ...batching },
        { input: batchRows, output: batchRows },
        {
          queueLength: (n) => queueLength.set(labels, n),
          queued: (seconds) => queueSeconds.observe(labels, seconds),
          batch: (n) => batchSize.observe(labels, n),
          dropped: (n, reason) => dropped.inc({ ...labels, reason }, n),
        },
      );
      return [runtime, batcher] as const;
    }),
  );

  const reject = (reason: string, error: HttpError): HttpError => {
    rejected.inc({ model: name, reason });
    return error;
  };

  /** Whether rows of this work are cut into several parts (and so go in sorted by length). */
  const isMultiPart = (work: readonly number[]): boolean => {
    if (work.length > partRows) return true;
    let sum = 0;
    for (const units of work) sum += units;
    return sum > (batching.maxBatchWork ?? Infinity);
  };

  /**
   * The request's deadline: the ordinary one, or {@link WORK_DEADLINE_FACTOR} times its estimated
   * engine time when longer, up to the maximum. The caller's own deadline only shortens it, unless
   * the caller offered to wait longer (`maxMs`) and the work needs it: then the request is
   * `extended` up to that offer, and the caller must be told.
   */
  const deadlineOf = (request: DecodedRequest, context: InferenceContext): { ms: number; extended: boolean } => {
    const needed = Math.ceil(WORK_DEADLINE_FACTOR * (request.work?.plan.seconds ?? 0) * 1000);
    const own = Math.min(deadlines.maxRequestMs, Math.max(deadlines.requestMs, needed));
    const given = context.deadline;
    if (given === undefined) return { ms: own, extended: false };
    if (needed > given.ms && given.maxMs !== undefined && given.maxMs > given.ms) return { ms: Math.min(own, given.maxMs), extended: true };
    return { ms: Math.min(own, given.ms), extended: false };
  };

  return {
    name,
    created: Math.floor(Date.now() / 1000),
    model,
    versions: runtimes,
    versionLabels,
    limits,
    reject,
    ready: () => !draining && runtimes.every((runtime) => runtime.ready()),
    resolve(requested, version) {
      if (requested !== name) throw reject('unknown_model', HttpError.modelNotFound(requested));
      if (version === undefined) return model;
      const runtime = byVersion.get(version);
      if (runtime === undefined) throw reject('unknown_version', HttpError.modelNotFound(requested, version));
      return runtime;
    },
    resolveLabel(requested, label) {
      if (requested !== name) throw reject('unknown_model', HttpError.modelNotFound(requested));
      const version = Object.hasOwn(versionLabels, label) ? versionLabels[label] : undefined;
      const runtime = version === undefined ? undefined : byVersion.get(version);
      if (runtime === undefined) {
        const known = Object.keys(versionLabels);
        throw reject(
          'unknown_version',
          HttpError.notFound(
            `version label '${clipInput(label)}' of model '${name}' not found; ${known.length === 0 ? 'it has no labels' : `its labels are ${known.join(', ')}`}`,
          ),
        );
      }
      return runtime;
    },
    decode(runtime, tensors, decodeOptions = {}) {
      const hint = decodeOptions.hint ?? SIZE_HINT;
      try {
        const decoded = decodeTensors(runtime, tensors, limits, textBudget, hint);
        if (decoded.textPieces === undefined || textBudget === undefined) return decoded;
        // Planned as the batcher will run it: parts of at most a batch's positions and rows.
        const plan = textBudget.plan(decoded.textPieces, { maxPositions: batching.maxBatchWork ?? Infinity, maxRows: partRows });
        if (plan.positions > limits.maxRequestPositions) {
          throw HttpError.invalidInput(
            `the request needs ${plan.positions} padded encoder positions (about ${Math.ceil(plan.seconds)} s of engine time); ` +
              `the limit is ${limits.maxRequestPositions}: ${hint}`,
          );
        }
        return { ...decoded, work: { rows: decoded.textPieces.map((pieces) => textBudget.positions(pieces)), plan } };
      } catch (error) {
        if (error instanceof HttpError) throw reject('invalid_input', error);
        throw error;
      }
    },
    async infer(runtime, request, context) {
      const batcher = batchers.get(runtime);
      if (batcher === undefined) throw new Error(`version ${runtime.version} is not served by this data plane`);
      // Draining only turns readiness off: requests that still reach us are answered while the model is loaded.
      if (!runtime.ready()) throw reject('not_ready', HttpError.modelNotReady(runtime.name));
      const arrivedAt = context.arrivedAt ?? performance.now();
      const deadline = deadlineOf(request, context);
      if (deadline.extended) context.extend?.();
      deadlineSeconds.observe({ model: runtime.name, version: runtime.version }, deadline.ms / 1000);
      const timeout = AbortSignal.timeout(Math.max(0, Math.floor(deadline.ms - (performance.now() - arrivedAt))));
      const signal = context.signal === undefined ? timeout : AbortSignal.any([context.signal, timeout]);
      const { inputs, work } = request;
      const submitted = performance.now();
      let firstWaitMs: number | undefined;
      /** Rows this request sent to the batcher itself, and rows it waits on another request to compute. */
      let submittedRows = 0;
      let joinedRows = 0;
      let startedRows = 0;
      const onDequeue = (started: number, waitedMs: number) => {
        firstWaitMs ??= waitedMs;
        startedRows += started;
      };
      /** Rows `rows` of the request through the batcher; a request of several parts goes in sorted by length, so each part pads little. */
      const compute = async (rows: readonly number[] | undefined, computeSignal: AbortSignal): Promise<Batch> => {
        const subset = rows === undefined ? inputs : selectRows(inputs, rows);
        const rowWork = work === undefined ? undefined : rows === undefined ? work.rows : rows.map((row) => work.rows[row] as number);
        const order = rowWork !== undefined && isMultiPart(rowWork) ? sortedOrder(rowWork) : undefined;
        submittedRows += subset.rows;
        const outputs = await batcher.submit(order === undefined ? subset : selectRows(subset, order), {
          signal: computeSignal,
          client: context.client,
          work: rowWork === undefined || order === undefined ? rowWork : order.map((row) => rowWork[row] as number),
          onDequeue,
        });
        return order === undefined ? outputs : selectRows(outputs, inversePermutation(order));
      };
      let outputs: Batch;
      try {
        outputs = !cache.enabled
          ? await compute(undefined, signal)
          : await cached({
              scope: `${runtime.name}\u0000${runtime.version}`,
              keys: rowKeys(runtime, inputs),
              bypass: context.noCache === true,
              signal,
              compute,
              joined: (rows) => (joinedRows = rows),
            });
      } catch (error) {
        const waitedMs = firstWaitMs ?? performance.now() - submitted;
        if (error instanceof QueueFullError) {
          context.queued?.({ waitedMs: 0, cause: 'queue' });
          throw error.scope === 'server'
            ? reject('overloaded', HttpError.overloaded(error.message))
            : reject('client_share', HttpError.tooManyRequests(error.message));
        }
        if (error instanceof Error && error.name === 'TimeoutError') {
          // Rows still waiting when the deadline passed (its own, or another request's it waited
          // for): the queue is the cause. All of them in the engine: the engine was too slow,
          // which may be the replica's fault.
          const waiting = startedRows < submittedRows || joinedRows > 0;
          context.queued?.(waiting ? { waitedMs, cause: 'queue' } : { waitedMs });
          throw reject('deadline', HttpError.deadlineExceeded());
        }
        context.queued?.({ waitedMs });
        if (error instanceof BatcherClosedError) throw reject('not_ready', HttpError.modelNotReady(runtime.name));
        if (context.signal?.aborted === true) throw reject('cancelled', HttpError.clientClosedRequest());
        throw error;
      }
      context.queued?.({ waitedMs: firstWaitMs ?? 0 });
      rows.inc({ model: runtime.name, version: runtime.version, protocol: context.protocol }, inputs.rows);
      return outputs;
    },
    startDraining() {
      draining = true;
    },
    async close() {
      await Promise.all(
        [...batchers.values()].map(async (batcher) => {
          await batcher.idle();
          await batcher.close();
        }),
      );
    },
  };
}
