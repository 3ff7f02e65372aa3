// The models `bench models` measures: every folder under models/ with a version folder, served the
// way `pnpm start` serves it (its own app when model-settings.json names one, else the generic server).
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describeModel, listModelVersions, type ModelDescription } from '@modeldock/model-runtime';
import { modelSettingsSchema, selectVersions, type ModelSettings } from '@modeldock/model-server';

/** The generic model server's environment prefix (`MODEL_DIR`, `MODEL_PORT`, ...). */
export const GENERIC_PREFIX = 'MODEL_';

/**
 * Prefixes of the apps that read their own variables. Must match each app's config (question-topic's
 * `ENV_PREFIX`) and scripts/lib/models.mjs; an app missing here gets `MODEL_*` and fails to start.
 */
const APP_ENV_PREFIX: Readonly<Record<string, string>> = { 'question-topic': 'QT_' };

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
  /** Environment prefix of the process that serves it (`QT_`, `MODEL_`). */
  envPrefix: string;
  /** Extra gateway routes from model-settings.json. */
  aliases: NonNullable<ModelSettings['aliases']>;
}

/** The server entry point of a model, relative to the repository root. */
export function serverEntry(model: Pick<BenchModel, 'app'>): string {
  return model.app === undefined ? 'apps/model-server/dist/main.js' : `apps/${model.app}/dist/main.js`;
}

/** The environment prefix of an app (undefined: the generic server's). */
export function envPrefixOf(app: string | undefined): string {
  if (app === undefined) return GENERIC_PREFIX;
  const prefix = APP_ENV_PREFIX[app];
  if (prefix === undefined) throw new Error(`no environment prefix known for apps/${app} (add it to bench/src/models.ts)`);
  return prefix;
}

/** Parses `models/<name>/model-settings.json` with the server's own schema. */
export function parseModelSettingsFile(name: string, text: string): ModelSettings {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`models/${name}/model-settings.json is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = modelSettingsSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`models/${name}/model-settings.json: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

/**
 * Every model under `modelsDir` with a numeric version folder, by name: the newest version with a
 * `metadata.json` is the one measured in-process; its server loads what its settings' `versions` select.
 */
export async function listBenchModels(modelsDir: string): Promise<BenchModel[]> {
  const entries = await readdir(modelsDir, { withFileTypes: true });
  const models: BenchModel[] = [];
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const dir = path.join(modelsDir, entry.name);
    const versions = (await listModelVersions(dir)).filter((v) => existsSync(path.join(dir, v, 'metadata.json')));
    const version = versions.at(-1);
    if (version === undefined) continue;
    const settingsFile = path.join(dir, 'model-settings.json');
    const settings = existsSync(settingsFile) ? parseModelSettingsFile(entry.name, await readFile(settingsFile, 'utf8')) : {};
    const versionDir = path.join(dir, version);
    models.push({
      name: entry.name,
      dir,
      version,
      servedVersions: selectVersions(settings.versions ?? 'latest', versions),
      versionDir,
      // Served under its folder's name, as `pnpm start` does (MODEL_NAME).
      description: await describeModel(versionDir, { name: entry.name }),
      app: settings.app,
      envPrefix: envPrefixOf(settings.app),
      aliases: settings.aliases ?? [],
    });
  }
  return models;
}
