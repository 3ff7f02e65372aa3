import assert from 'node:assert/strict';
import type * as fsPromises from 'node:fs/promises';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  createEngine,
  createModelRuntime,
  createWorkerRuntime,
  describeModel,
  listModelVersions,
  loadTextMeasure,
  selectBackend,
} from '../../src/index.js';
import { classify } from './classify.js';

const MODELS = fileURLToPath(new URL('../../../../models/', import.meta.url));

/**
 * Counts reads of every `metadata.json` in this process, by version directory: the runtime's
 * `readFile` is the builtin's ESM binding, which `syncBuiltinESMExports` points at the wrapper.
 */
function countMetadataReads(): { reads: Map<string, number>; restore(): void } {
  const fs = createRequire(import.meta.url)('node:fs/promises') as typeof fsPromises;
  const original = fs.readFile;
  const reads = new Map<string, number>();
  fs.readFile = ((file: Parameters<typeof original>[0], ...rest: unknown[]) => {
    if (typeof file === 'string' && path.basename(file) === 'metadata.json') {
      const dir = path.dirname(path.resolve(file));
      reads.set(dir, (reads.get(dir) ?? 0) + 1);
    }
    return (original as (...args: unknown[]) => unknown)(file, ...rest);
  }) as typeof original;
  syncBuiltinESMExports();
  return {
    reads,
    restore() {
      fs.readFile = original;
      syncBuiltinESMExports();
    },
  };
}

describe('metadata.json is read once per version per process', () => {
  let counter: ReturnType<typeof countMetadataReads>;
  let scratch: string;

  before(async () => {
    await selectBackend('wasm', 'cpu');
    counter = countMetadataReads();
    scratch = await mkdtemp(path.join(tmpdir(), 'modeldock-metadata-'));
  });

  after(async () => {
    counter?.restore();
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  it('serving every version of a model on the main thread: describe, measure, load, predict, unload', async () => {
    const modelDir = path.join(MODELS, 'question-topic');
    const versionDirs = (await listModelVersions(modelDir)).map((version) => path.join(modelDir, version));
    assert.ok(versionDirs.length >= 2, 'question-topic has several versions');
    counter.reads.clear();
    // What the server does with the main-thread engine.
    const versions = await Promise.all(versionDirs.map(async (versionDir) => ({ versionDir, description: await describeModel(versionDir) })));
    const engine = await createEngine(versions);
    const measure = await loadTextMeasure(engine.runtimes);
    try {
      await Promise.all(engine.runtimes.map((runtime) => runtime.load()));
      assert.ok((measure.measure?.countPieces('Who wrote Hamlet?') ?? 0) > 0);
      for (const runtime of engine.runtimes) assert.equal((await classify(runtime, ['Who wrote Hamlet?'])).length, 1);
    } finally {
      await Promise.all(engine.runtimes.map((runtime) => runtime.unload()));
      engine.dispose();
      measure.dispose();
    }
    assert.deepEqual(Object.fromEntries(counter.reads), Object.fromEntries(versionDirs.map((dir) => [dir, 1])));
  });

  it('for every kind, through createModelRuntime', async () => {
    for (const model of ['sentence-embedding', 'embedding-topic']) {
      const modelDir = path.join(MODELS, model);
      const versionDir = path.join(modelDir, (await listModelVersions(modelDir)).at(-1) ?? '');
      counter.reads.clear();
      const runtime = await createModelRuntime(versionDir);
      await runtime.load();
      await runtime.unload();
      assert.deepEqual(Object.fromEntries(counter.reads), { [versionDir]: 1 }, model);
    }
  });

  it('on the worker engine: read on the main thread only (the worker loads from the description)', async () => {
    const modelDir = path.join(MODELS, 'question-topic');
    const source = path.join(modelDir, (await listModelVersions(modelDir)).at(-1) ?? '');
    const versionDir = path.join(scratch, 'question-topic', path.basename(source));
    await mkdir(versionDir, { recursive: true });
    for (const file of await readdir(source)) await symlink(path.join(source, file), path.join(versionDir, file));
    counter.reads.clear();
    const threaded = await createWorkerRuntime({ versionDir, backend: 'wasm', device: 'cpu' });
    assert.deepEqual(Object.fromEntries(counter.reads), { [versionDir]: 1 });
    // A worker that read metadata.json again would now fail to load.
    await rm(path.join(versionDir, 'metadata.json'));
    await writeFile(path.join(versionDir, 'metadata.json'), '{ not json');
    try {
      await threaded.load();
      assert.equal((await classify(threaded, ['Who wrote Hamlet?'])).length, 1);
    } finally {
      await threaded.unload();
    }
  });
});
