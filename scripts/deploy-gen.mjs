// Rewrites the deploy files derived from models/*/model-settings.json: `pnpm deploy:gen` (see scripts/lib/deploy-files.mjs).
// Files under deploy/k8s/models/ that no model produces any more (a removed model's) are deleted.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GENERATED_DIR, GENERIC_APP, deployFiles, readAppVersions } from './lib/deploy-files.mjs';
import { ModelConfigError, readModels } from './lib/models.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
let models;
try {
  models = await readModels(path.join(root, 'models'));
} catch (err) {
  if (!(err instanceof ModelConfigError)) throw err;
  console.error(`deploy:gen: ${err.message}`);
  process.exit(2);
}
const apps = [...new Set([GENERIC_APP, ...models.map((m) => m.settings.app ?? GENERIC_APP)])];
const files = deployFiles(models, {
  appVersions: readAppVersions(root, apps),
  compose: readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'),
});
for (const file of readdirSync(path.join(root, GENERATED_DIR), { recursive: true, withFileTypes: true })) {
  const relative = path.relative(root, path.join(file.parentPath, file.name)).split(path.sep).join('/');
  if (file.isFile() && !files.has(relative)) {
    rmSync(path.join(root, relative));
    console.log(`removed ${relative}`);
  }
}
let written = 0;
for (const [file, content] of files) {
  const target = path.join(root, file);
  let current;
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === content) continue;
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, content);
  console.log(`wrote ${file}`);
  written += 1;
}
// Folders left empty by a removed model.
for (const dir of readdirSync(path.join(root, GENERATED_DIR))) {
  const folder = path.join(root, GENERATED_DIR, dir);
  if (readdirSync(folder, { recursive: true, withFileTypes: true }).every((e) => !e.isFile())) rmSync(folder, { recursive: true });
}
console.log(`deploy files for ${models.length} model(s): ${written} changed`);
