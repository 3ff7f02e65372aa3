import {
  DynamicBatcher,
  QueueFullError,
  BatcherClosedError,
  type BatcherOptions,
  type ModelRuntime,
} from '@modeldock/model-runtime';
import { Counter, Gauge, Histogram, HttpError, LATENCY_BUCKETS, type Registry } from '@modeldock/service-kit';

/** Request limits enforced before any text reaches the model. */
export interface InputLimits {
  maxTexts: number;
  maxTextLength: number;
}

/** One text's answer: a probability per label, and the most likely label. */
export interface Classification {
  probabilities: number[];
  label: string;
}

/** Options for {@link createDataPlane}. */
export interface DataPlaneOptions {
  /** Every served version of one model, oldest first; the last answers unversioned requests. */
  runtimes: readonly ModelRuntime[];
  limits: InputLimits;
  /** Each version gets its own batcher with these settings (versions never share an engine call). */
  batching: BatcherOptions;
  registry: Registry;
}

/**
 * Protocol-independent serving logic between the HTTP routes and the model runtimes: model and
 * version resolution, input validation, dynamic batching, readiness and inference metrics. Each
 * protocol's routes only translate their wire format to and from these calls (MLServer's
 * `DataPlane`).
 */
export interface DataPlane {
  /** The version unversioned requests get (TF Serving's "latest" policy). */
  readonly model: ModelRuntime;
  /** Every served version, oldest first. */
  readonly versions: readonly ModelRuntime[];
  readonly limits: InputLimits;
  /** Server readiness: every served version is warm and the server is not draining. */
  ready(): boolean;
  /** The runtime for `name` at `version` (the default version when absent); 404 otherwise. */
  resolve(name: string, version?: string): ModelRuntime;
  /**
   * Validates a list of texts from a request body; `field` names it in error messages.
   * @returns the texts, typed.
   */
  validateTexts(value: unknown, field: string): string[];
  /**
   * Classifies already-validated texts with `runtime` (the default version when absent), batched
   * with concurrent requests for the same version; `protocol` labels metrics.
   */
  classify(texts: readonly string[], protocol: string, runtime?: ModelRuntime): Promise<Classification[]>;
  /** Stops reporting ready (SIGTERM) so balancers move traffic away; work that still arrives is served. */
  startDraining(): void;
  /** Waits for queued work, then refuses more. */
  close(): Promise<void>;
}

function argMax(row: readonly number[]): number {
  let best = 0;
  row.forEach((value, i) => {
    if (value > (row[best] ?? -Infinity)) best = i;
  });
  return best;
}

/** Creates the data plane for the loaded versions of one model. */
export function createDataPlane({ runtimes, limits, batching, registry }: DataPlaneOptions): DataPlane {
  const model = runtimes.at(-1);
  if (model === undefined) throw new Error('a data plane needs at least one model version');
  if (runtimes.some((runtime) => runtime.name !== model.name)) throw new Error('all versions must be one model');
  const texts = new Counter({
    name: 'modeldock_inference_texts_total',
    help: 'Texts classified, by protocol.',
    labelNames: ['model', 'version', 'protocol'] as const,
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'modeldock_inference_rejected_total',
    help: 'Requests refused before inference, by reason.',
    labelNames: ['model', 'reason'] as const,
    registers: [registry],
  });
  const modelHistogram = (name: string, help: string, buckets: number[]) =>
    new Histogram({ name, help, buckets, labelNames: ['model', 'version'] as const, registers: [registry] });
  const engineSeconds = modelHistogram(
    'modeldock_engine_call_duration_seconds',
    'Time of one engine call (one batch): embedding plus classifier.',
    LATENCY_BUCKETS,
  );
  const queueSeconds = modelHistogram(
    'modeldock_batch_queue_duration_seconds',
    'Time a request waited in the batching queue.',
    LATENCY_BUCKETS,
  );
  const batchSize = modelHistogram('modeldock_batch_size', 'Texts per engine call.', [1, 2, 4, 8, 16, 32, 64, 128, 256]);
  const queueLength = new Gauge({
    name: 'modeldock_batch_queue_length',
    help: 'Texts waiting for an engine call.',
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

  const batchers = new Map(
    runtimes.map((runtime) => {
      const labels = { model: runtime.name, version: runtime.version };
      const batcher = new DynamicBatcher<string, number[]>(
        async (items) => {
          const stop = engineSeconds.startTimer(labels);
          try {
            return await runtime.predict(items);
          } finally {
            stop();
          }
        },
        batching,
        {
          queueLength: (n) => queueLength.set(labels, n),
          queued: (seconds) => queueSeconds.observe(labels, seconds),
          batch: (n) => batchSize.observe(labels, n),
        },
      );
      return [runtime, batcher] as const;
    }),
  );
  const byVersion = new Map(runtimes.map((runtime) => [runtime.version, runtime]));

  const reject = (reason: string, error: HttpError): HttpError => {
    rejected.inc({ model: model.name, reason });
    return error;
  };

  return {
    model,
    versions: runtimes,
    limits,
    ready: () => !draining && runtimes.every((runtime) => runtime.ready()),
    resolve(name, version) {
      if (name !== model.name) throw reject('unknown_model', HttpError.modelNotFound(name));
      if (version === undefined) return model;
      const runtime = byVersion.get(version);
      if (runtime === undefined) throw reject('unknown_version', HttpError.modelNotFound(name, version));
      return runtime;
    },
    validateTexts(value, field) {
      const invalid = (message: string) => reject('invalid_input', HttpError.invalidInput(message));
      if (!Array.isArray(value)) throw invalid(`'${field}' must be an array of strings`);
      if (value.length === 0) throw invalid(`'${field}' must not be empty`);
      if (value.length > limits.maxTexts) {
        throw invalid(`'${field}' has ${value.length} texts; the limit is ${limits.maxTexts}`);
      }
      value.forEach((text: unknown, i) => {
        if (typeof text !== 'string') throw invalid(`'${field}[${i}]' must be a string, got ${typeName(text)}`);
        if (text.trim() === '') throw invalid(`'${field}[${i}]' is blank`);
        if (text.length > limits.maxTextLength) {
          throw invalid(`'${field}[${i}]' has ${text.length} characters; the limit is ${limits.maxTextLength}`);
        }
      });
      return value as string[];
    },
    async classify(items, protocol, runtime = model) {
      const batcher = batchers.get(runtime);
      if (batcher === undefined) throw new Error(`version ${runtime.version} is not served by this data plane`);
      // Draining only turns readiness off: requests that still reach us are answered while the model is loaded.
      if (!runtime.ready()) throw reject('not_ready', HttpError.modelNotReady(runtime.name));
      let rows: number[][];
      try {
        rows = await batcher.submit(items);
      } catch (error) {
        if (error instanceof QueueFullError) throw reject('overloaded', HttpError.overloaded(error.message));
        if (error instanceof BatcherClosedError) throw reject('not_ready', HttpError.modelNotReady(runtime.name));
        throw error;
      }
      texts.inc({ model: runtime.name, version: runtime.version, protocol }, items.length);
      return rows.map((probabilities) => ({
        probabilities,
        label: runtime.labels[argMax(probabilities)] as string,
      }));
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

function typeName(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'array' : typeof value;
}
