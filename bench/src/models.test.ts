import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listBenchModels, serverEntry } from './models.js';
import { REPO_ROOT } from './settings.js';

describe('serverEntry', () => {
  it('serves a model without an app on the generic server, and one with an app on it', () => {
    assert.equal(serverEntry({ app: undefined }), 'apps/model-server/dist/main.js');
    assert.equal(serverEntry({ app: 'question-topic' }), 'apps/question-topic/dist/main.js');
  });
});

describe('listBenchModels', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bench-models-'));
    await mkdir(path.join(dir, 'no-versions', 'notes'), { recursive: true });
    await mkdir(path.join(dir, 'untrained', '1'), { recursive: true });
    await mkdir(path.join(dir, 'embedder', '1'), { recursive: true });
    await mkdir(path.join(dir, 'embedder', '2'), { recursive: true });
    const metadata = (version: string) =>
      JSON.stringify({ kind: 'sentence-embedding', name: 'sentence-embedding', version, encoder: { id: 'universal-sentence-encoder-lite', dimension: 512 } });
    await writeFile(path.join(dir, 'embedder', '1', 'metadata.json'), metadata('1'));
    await writeFile(path.join(dir, 'embedder', '2', 'metadata.json'), metadata('2'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists folders with a version that has metadata.json, measuring the newest under the folder name', async () => {
    const models = await listBenchModels(dir);
    assert.deepEqual(models.map((m) => [m.name, m.version, m.description.name, m.description.kind, m.servedVersions]), [
      ['embedder', '2', 'embedder', 'sentence-embedding', ['2']],
    ]);
  });

  it("lists the repository's models, each with the server pnpm start uses", async () => {
    const models = await listBenchModels(path.join(REPO_ROOT, 'models'));
    const byName = new Map(models.map((m) => [m.name, m]));
    assert.equal(byName.get('question-topic')?.app, 'question-topic');
    // Its model-settings.json serves every version, as the server started from its folder does.
    assert.deepEqual(byName.get('question-topic')?.servedVersions, ['1', '2']);
    assert.equal(byName.get('sentence-embedding')?.description.kind, 'sentence-embedding');
    assert.deepEqual(byName.get('embedding-topic')?.description.signature.inputs[0]?.shape, [-1, 512]);
  });
});
