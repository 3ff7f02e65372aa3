/**
 * Fakes for tests of the model server and of apps built on it (MLServer's `SumModel` idea): fake
 * runtimes whose answers are a function of their input alone, so a test can check that each
 * caller gets its own rows back, and an app over them driven with supertest, never listening.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { planEngineWork, textPositions, type Batch, type ModelDescription, type ModelRuntime, type Signature } from '@modeldock/model-runtime';
import { createLogger, createRegistry, createTrustedProxies, type Logger, type Registry } from '@modeldock/service-kit';
import type { Express } from 'express';
import { createApp } from './app.js';
import { createDataPlane, type DataPlane } from './data-plane.js';
import type { ModelServerPlugin } from './plugins.js';
import type { RequestLimits, TextBudget } from './tensors.js';

export const FAKE_LABELS = ['ABBR', 'DESC', 'ENTY', 'HUM', 'LOC', 'NUM'] as const;

abstract class FakeRuntime implements ModelRuntime {
  abstract readonly kind: ModelDescription['kind'];
  abstract readonly signature: Signature;
  readonly info: Readonly<Record<string, unknown>> = { kind: 'fake', backend: 'none' };
  /** Every engine call's inputs, in order. */
  readonly calls: Batch[] = [];
  loaded = true;
  /** While set, engine calls wait for {@link release}. */
  private gate: Promise<void> | undefined;
  private open: () => void = () => {};

  constructor(
    readonly name: string,
    readonly version: string,
  ) {}

  ready(): boolean {
    return this.loaded;
  }
  load(): Promise<void> {
    this.loaded = true;
    return Promise.resolve();
  }
  unload(): Promise<void> {
    this.loaded = false;
    return Promise.resolve();
  }
  /** Holds engine calls until {@link release}. */
  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }
  release(): void {
    this.gate = undefined;
    this.open();
  }
  async predict(inputs: Batch): Promise<Batch> {
    this.calls.push(inputs);
    await new Promise((resolve) => setImmediate(resolve));
    await this.gate;
    return this.compute(inputs);
  }
  protected abstract compute(inputs: Batch): Batch;
}

/**
 * A text classifier whose probability mass sits on label `(text.length + shift) % 6`, so versions
 * built with different shifts answer differently. A text containing "explode" fails the engine call.
 */
export class FakeClassifier extends FakeRuntime {
  readonly kind = 'text-classifier' as const;
  readonly labels = FAKE_LABELS;
  readonly scoresOutput = 'probabilities';
  readonly textInput = 'text';
  readonly signature: Signature = {
    inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }],
    outputs: [
      { name: 'probabilities', datatype: 'FP32', shape: [-1, 6] },
      { name: 'label', datatype: 'BYTES', shape: [-1] },
    ],
  };

  constructor(
    version = '7',
    private readonly shift = 0,
    name = 'question-topic',
  ) {
    super(name, version);
  }

  protected compute(inputs: Batch): Batch {
    const texts = inputs.tensors.text?.data as string[];
    if (texts.some((text) => text.includes('explode'))) throw new Error('engine failure');
    const probabilities = new Float32Array(texts.length * 6);
    texts.forEach((text, row) => {
      for (let i = 0; i < 6; i += 1) probabilities[row * 6 + i] = i === (text.length + this.shift) % 6 ? 0.75 : 0.05;
    });
    return {
      rows: texts.length,
      tensors: {
        probabilities: { datatype: 'FP32', shape: [texts.length, 6], data: probabilities },
        label: { datatype: 'BYTES', shape: [texts.length], data: texts.map((text) => fakeLabel(text, this.shift)) },
      },
    };
  }
}

/** The label a {@link FakeClassifier} built with `shift` gives `text`. */
export function fakeLabel(text: string, shift = 0): string {
  return FAKE_LABELS[(text.length + shift) % FAKE_LABELS.length] as string;
}

/** A 4-d embedding model: each text's row is its length, vowel count, space count and 1, L2-normalised. */
export class FakeEmbedder extends FakeRuntime {
  readonly kind = 'sentence-embedding' as const;
  readonly textInput = 'text';
  readonly signature: Signature = {
    inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }],
    outputs: [{ name: 'embedding', datatype: 'FP32', shape: [-1, 4] }],
  };

  constructor(version = '1', name = 'sentence-embedding') {
    super(name, version);
  }

  protected compute(inputs: Batch): Batch {
    const texts = inputs.tensors.text?.data as string[];
    const data = new Float32Array(texts.length * 4);
    texts.forEach((text, row) => data.set(fakeEmbedding(text), row * 4));
    return { rows: texts.length, tensors: { embedding: { datatype: 'FP32', shape: [texts.length, 4], data } } };
  }
}

/** The row a {@link FakeEmbedder} gives `text`. */
export function fakeEmbedding(text: string): number[] {
  const raw = [text.length, (text.match(/[aeiou]/gi) ?? []).length, (text.match(/ /g) ?? []).length, 1];
  const norm = Math.hypot(...raw);
  return raw.map((value) => Math.fround(value / norm));
}

/**
 * A numeric model with two inputs, `x` FP32 [-1, 3] and `k` INT32 [-1], and two outputs: `sum`
 * FP32 [-1] (x's row sum times k) and `scaled` FP32 [-1, 3] (x times k).
 */
export class FakeNumeric extends FakeRuntime {
  readonly kind = 'tfjs' as const;
  readonly signature: Signature = {
    inputs: [
      { name: 'x', datatype: 'FP32', shape: [-1, 3] },
      { name: 'k', datatype: 'INT32', shape: [-1] },
    ],
    outputs: [
      { name: 'sum', datatype: 'FP32', shape: [-1] },
      { name: 'scaled', datatype: 'FP32', shape: [-1, 3] },
    ],
  };

  constructor(version = '1', name = 'numeric') {
    super(name, version);
  }

  protected compute(inputs: Batch): Batch {
    const x = inputs.tensors.x?.data as Float32Array;
    const k = inputs.tensors.k?.data as Int32Array;
    const sum = new Float32Array(inputs.rows);
    const scaled = new Float32Array(inputs.rows * 3);
    for (let row = 0; row < inputs.rows; row += 1) {
      for (let i = 0; i < 3; i += 1) {
        const value = (x[row * 3 + i] as number) * (k[row] as number);
        scaled[row * 3 + i] = value;
        sum[row] = (sum[row] as number) + value;
      }
    }
    return {
      rows: inputs.rows,
      tensors: { sum: { datatype: 'FP32', shape: [inputs.rows], data: sum }, scaled: { datatype: 'FP32', shape: [inputs.rows, 3], data: scaled } },
    };
  }
}

/** A stand-in for a text kind's measure: NFKC, one piece per started group of four characters, USE lite's call planning and costs. */
export const FAKE_TEXT_BUDGET: TextBudget = {
  normalize: (text) => text.normalize('NFKC'),
  countPieces: (text) => Math.ceil(text.normalize('NFKC').length / 4) + 1,
  positions: textPositions,
  plan: (pieces, limits) => planEngineWork(pieces, limits),
};

/** Options for {@link createTestApp}. */
export interface TestAppOptions {
  /** Served versions, oldest first (default: one {@link FakeClassifier}). */
  runtimes?: ModelRuntime[];
  plugins?: readonly ModelServerPlugin[];
  limits?: Partial<RequestLimits>;
  maxBatchSize?: number;
  /** Work limits of the batcher, in padded encoder positions (default: unbounded). */
  maxBatchPositions?: number;
  maxQueuePositions?: number;
  maxQueuePositionsPerClient?: number;
  maxQueue?: number;
  maxQueuePerClient?: number;
  maxBodyBytes?: number;
  /** An ordinary request's deadline (default 30 s). */
  deadlineMs?: number;
  /** The longest deadline a request's work can earn (default 120 s). */
  maxDeadlineMs?: number;
  /** Result cache size (default 0: off). */
  cacheBytes?: number;
  /** CIDR blocks whose `X-Forwarded-For` is believed (default: loopback, as the server's). */
  trustedProxies?: readonly string[];
  defaultVersion?: string;
  versionLabels?: Readonly<Record<string, string>>;
  /** Default: silent. */
  logger?: Logger;
}

/** An app over fake runtimes, as tests drive it with supertest. */
export function createTestApp(options: TestAppOptions = {}): { app: Express; plane: DataPlane; runtimes: ModelRuntime[]; registry: Registry } {
  const runtimes = options.runtimes ?? [new FakeClassifier()];
  const registry = createRegistry();
  const plane = createDataPlane({
    runtimes,
    defaultVersion: options.defaultVersion,
    versionLabels: options.versionLabels,
    limits: {
      maxRows: 8,
      maxTextLength: 50,
      maxTextPieces: 64,
      maxRequestPositions: 400,
      maxTensorElements: 1000,
      ...options.limits,
    },
    textBudget: FAKE_TEXT_BUDGET,
    batching: {
      maxBatchSize: options.maxBatchSize ?? 4,
      maxBatchDelayMs: 1,
      maxQueue: options.maxQueue ?? 64,
      maxQueuePerClient: options.maxQueuePerClient,
      maxBatchWork: options.maxBatchPositions,
      maxQueueWork: options.maxQueuePositions,
      maxQueueWorkPerClient: options.maxQueuePositionsPerClient,
    },
    deadlines: { requestMs: options.deadlineMs ?? 30_000, maxRequestMs: options.maxDeadlineMs ?? Math.max(120_000, options.deadlineMs ?? 0) },
    cacheBytes: options.cacheBytes,
    registry,
  });
  const app = createApp({
    plane,
    registry,
    logger: options.logger ?? createLogger({ service: 'test', level: 'silent' }),
    server: { name: `modeldock-${plane.name}`, version: '0.0.0-test' },
    maxBodyBytes: options.maxBodyBytes ?? 4096,
    trustedProxies: options.trustedProxies === undefined ? undefined : createTrustedProxies(options.trustedProxies),
    plugins: options.plugins,
  });
  return { app, plane, runtimes, registry };
}

/** A JSON log line of a server process. */
export interface LogLine {
  msg?: string;
  port?: number;
  [key: string]: unknown;
}

/** A model server started as a child process by {@link startServerProcess}. */
export interface ServerProcess {
  child: ChildProcess;
  /** Resolves once the server logs that it is warm, with the port it listens on. */
  ready: Promise<{ port: number; base: string; logs: LogLine[] }>;
  exited: Promise<number | null>;
  logs: LogLine[];
  /** SIGKILLs it if still running. */
  kill(): void;
}

/**
 * Starts a built model server (`dist/main.js`) on a free loopback port, for integration tests over
 * real sockets. `env` holds its prefixed settings; it becomes ready when it logs
 * `model loaded and warm: ready` (bounded by `timeoutMs`).
 */
export function startServerProcess(main: string, env: Record<string, string>, timeoutMs = 180_000): ServerProcess {
  const child = spawn(process.execPath, [main], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const logs: LogLine[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<{ port: number; base: string; logs: LogLine[] }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not become ready in time')), timeoutMs);
    let port = 0;
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      let entry: LogLine;
      try {
        entry = JSON.parse(line) as LogLine;
      } catch {
        return;
      }
      logs.push(entry);
      if (entry.msg === 'listening') port = entry.port ?? 0;
      if (entry.msg === 'model loaded and warm: ready') {
        clearTimeout(timer);
        resolve({ port, base: `http://127.0.0.1:${port}`, logs });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited early with ${code}`));
    });
  });
  ready.catch(() => {});
  return {
    child,
    ready,
    exited,
    logs,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * Sends raw bytes on a new loopback connection to `port` (any request target or header, even one
 * no HTTP client would send) and returns what came back, as text, once the server closes the
 * connection or after `timeoutMs`.
 */
export async function rawRequest(port: number, head: string, timeoutMs = 3000): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(head);
  let answer = '';
  socket.on('data', (chunk: Buffer) => {
    answer += chunk.toString('latin1');
  });
  await Promise.race([once(socket, 'close'), new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
  socket.destroy();
  return answer;
}

/**
 * Serves `app` on a loopback port chosen by the OS for the duration of `body` (for tests that need
 * a real socket: a client leaving, interim responses), then closes every connection.
 */
export async function listening<T>(app: Express, body: (origin: { base: string; port: number }) => Promise<T>): Promise<T> {
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  try {
    return await body({ base: `http://127.0.0.1:${port}`, port });
  } finally {
    server.closeAllConnections();
    server.close();
  }
}
