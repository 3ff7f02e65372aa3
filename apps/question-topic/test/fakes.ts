import type { ModelRuntime } from '@modeldock/model-runtime';
import { createRegistry, createLogger } from '@modeldock/service-kit';
import { createApp } from '../src/app.js';
import { createDataPlane, type DataPlane } from '../src/data-plane.js';

export const LABELS = ['ABBR', 'DESC', 'ENTY', 'HUM', 'LOC', 'NUM'] as const;

/**
 * A runtime whose answer is a function of the text alone, so tests can check that each caller gets
 * its own row back (MLServer's `SumModel` idea): the probability mass sits on label
 * `(text.length + shift) % 6`, so versions built with different shifts answer differently. A text
 * containing "explode" makes the whole engine call fail.
 */
export class FakeRuntime implements ModelRuntime {
  readonly name = 'question-topic';
  readonly labels = LABELS;

  constructor(
    readonly version = '7',
    private readonly shift = 0,
  ) {}

  readonly info = { kind: 'fake', backend: 'none' };
  readonly calls: string[][] = [];
  loaded = true;

  ready(): boolean {
    return this.loaded;
  }
  async load(): Promise<void> {
    this.loaded = true;
  }
  async unload(): Promise<void> {
    this.loaded = false;
  }
  async predict(texts: readonly string[]): Promise<number[][]> {
    this.calls.push([...texts]);
    await new Promise((resolve) => setImmediate(resolve));
    if (texts.some((text) => text.includes('explode'))) throw new Error('engine failure');
    return texts.map((text) => LABELS.map((_, i) => (i === (text.length + this.shift) % LABELS.length ? 0.75 : 0.05)));
  }
}

/** The expected label for a text under a default {@link FakeRuntime} (usable with `Array#map`). */
export function fakeLabel(text: string): string {
  return shiftedFakeLabel(text, 0);
}

/** The expected label for a text under a {@link FakeRuntime} built with `shift`. */
export function shiftedFakeLabel(text: string, shift: number): string {
  return LABELS[(text.length + shift) % LABELS.length] as string;
}

/** The app over a fake runtime, as tests drive it with supertest (never listening). */
export function createTestApp(
  overrides: {
    runtime?: FakeRuntime;
    /** Several served versions, oldest first (defaults to `[runtime]`). */
    runtimes?: FakeRuntime[];
    maxBatchSize?: number;
    maxQueue?: number;
    maxBodyBytes?: number;
  } = {},
) {
  const runtime = overrides.runtime ?? overrides.runtimes?.at(-1) ?? new FakeRuntime();
  const registry = createRegistry();
  const plane: DataPlane = createDataPlane({
    runtimes: overrides.runtimes ?? [runtime],
    limits: { maxTexts: 8, maxTextLength: 50 },
    batching: { maxBatchSize: overrides.maxBatchSize ?? 4, maxBatchDelayMs: 1, maxQueue: overrides.maxQueue ?? 64 },
    registry,
  });
  const app = createApp({
    plane,
    registry,
    logger: createLogger({ service: 'test', level: 'silent' }),
    server: { name: 'modeldock-question-topic', version: '0.0.0-test' },
    maxBodyBytes: overrides.maxBodyBytes ?? 4096,
  });
  return { app, plane, runtime, registry };
}
