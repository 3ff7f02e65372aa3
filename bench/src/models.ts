// The models `bench models` measures: every folder under models/ with a version folder, served the
// way `pnpm start` serves it (its own app when model-settings.json names one, else the generic server).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describeModel, type ModelDescription } from '@modeldock/model-runtime';
import { readModels, type ModelSettings } from '@modeldock/model-settings';

/** One model to measure: its newest version, what its metadata says, and how it is served. */
export interface BenchModel {
  name: string;
  /** `models/<name>`. */
  dir: string;
  version: string;
  /** The versions its server loads, as `versions` in model-settings.json selects them (default: the newest). */
  servedVersions: string[];
  versionDir: string;
  description: ModelDescription;
  /** `apps/<app>` when the model has its own app, else undefined (the generic server). */
  app: string | undefined;
  /** Extra gateway routes from model-settings.json. */
  aliases: NonNullable<ModelSettings['aliases']>;
}

/** The server entry point of a model, relative to the repository root. */
export function serverEntry(model: Pick<BenchModel, 'app'>): string {
  return model.app === undefined ? 'apps/model-server/dist/main.js' : `apps/${model.app}/dist/main.js`;
}

/**
 * Every model under `modelsDir` with a numeric version folder, by name: the newest version with a
 * `metadata.json` is the one measured in-process; its server loads what its settings' `versions` select.
 */
export async function listBenchModels(modelsDir: string): Promise<BenchModel[]> {
  const models: BenchModel[] = [];
  for (const model of await readModels(modelsDir)) {
    const versions = model.versions.filter((v) => existsSync(path.join(model.dir, v, 'metadata.json')));
    const version = versions.at(-1);
    if (version === undefined) continue;
    const versionDir = path.join(model.dir, version);
    models.push({
      name: model.name,
      dir: model.dir,
      version,
      servedVersions: model.served,
      versionDir,
      // Served under its folder's name, as `pnpm start` does (MODEL_NAME).
      description: await describeModel(versionDir, { name: model.name }),
      app: model.settings.app,
      aliases: model.settings.aliases ?? [],
    });
  }
  return models;
}
