import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { listModelVersions } from './registry.js';

describe('listModelVersions', () => {
  const dirs: string[] = [];
  after(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('lists numeric folders, and links to folders, oldest first; skips files, names and broken links', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'modeldock-versions-'));
    dirs.push(root);
    const model = path.join(root, 'model');
    const elsewhere = path.join(root, 'kept-elsewhere');
    await mkdir(elsewhere, { recursive: true });
    for (const version of ['2', '10', 'latest']) await mkdir(path.join(model, version), { recursive: true });
    await symlink(elsewhere, path.join(model, '3'));
    await symlink(path.join(root, 'missing'), path.join(model, '4'));
    await writeFile(path.join(model, '5'), 'not a folder');
    assert.deepEqual(await listModelVersions(model), ['2', '3', '10']);
  });
});
