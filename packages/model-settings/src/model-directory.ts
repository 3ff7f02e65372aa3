import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  MODEL_NAME,
  MODEL_NAME_RULE,
  MODEL_VERSION,
  ModelSettingsError,
  defaultModelSettings,
  parseModelSettings,
  selectVersions,
  type ModelSettings,
} from './model-settings.js';

/** The settings file of a model directory. */
export const SETTINGS_FILE = 'model-settings.json';

/** A model directory: `models/<name>/` with its version folders and settings. */
export interface ModelDirectory {
  name: string;
  /** Absolute path of `models/<name>`. */
  dir: string;
  /** Every numeric version folder, in numeric order. */
  versions: string[];
  /** Its `model-settings.json`, or every default without one. */
  settings: ModelSettings;
  /** The versions its server loads: `versions` of the settings applied to the folders found. */
  served: string[];
}

/** Whether a directory entry is a folder, following a symbolic link (a models folder may link to models kept elsewhere). */
async function isFolder(parent: string, dirent: Dirent): Promise<boolean> {
  if (dirent.isDirectory()) return true;
  if (!dirent.isSymbolicLink()) return false;
  return (await stat(path.join(parent, dirent.name)).catch(() => undefined))?.isDirectory() ?? false;
}

/**
 * Reads `<dir>/model-settings.json`: the parsed settings, or every default when the file does not exist. `label`
 * names the file in errors (`models/<name>/model-settings.json`).
 */
export async function readModelSettings(dir: string, label = path.join(dir, SETTINGS_FILE)): Promise<ModelSettings> {
  let text: string;
  try {
    text = await readFile(path.join(dir, SETTINGS_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return defaultModelSettings();
    throw err;
  }
  return parseModelSettings(text, label);
}

/**
 * Reads one model directory, or returns undefined when it holds no numeric version folder (not a model). Its
 * name must follow {@link MODEL_NAME}.
 */
export async function readModelDirectory(dir: string): Promise<ModelDirectory | undefined> {
  const name = path.basename(dir);
  const entries = await readdir(dir, { withFileTypes: true });
  const versions: string[] = [];
  for (const entry of entries) if (MODEL_VERSION.test(entry.name) && (await isFolder(dir, entry))) versions.push(entry.name);
  if (versions.length === 0) return undefined;
  versions.sort((a, b) => Number(a) - Number(b));
  const label = `models/${name}/${SETTINGS_FILE}`;
  if (!MODEL_NAME.test(name)) throw new ModelSettingsError(`models/${name}: a model's folder name is its name: ${MODEL_NAME_RULE}`);
  const settings = await readModelSettings(dir, label);
  let served: string[];
  try {
    served = selectVersions(settings.versions ?? 'latest', versions);
  } catch (err) {
    throw new ModelSettingsError(`${label}: "versions": ${(err as Error).message}`);
  }
  if (settings.defaultVersion !== undefined && !served.includes(settings.defaultVersion)) {
    throw new ModelSettingsError(`${label}: "defaultVersion" ${settings.defaultVersion} is not served (serving ${served.join(', ')})`);
  }
  const unserved = Object.entries(settings.labels ?? {}).filter(([, version]) => !served.includes(version));
  if (unserved.length > 0) {
    throw new ModelSettingsError(`${label}: "labels" name versions that are not served: ${unserved.map(([l, v]) => `${l}=${v}`).join(', ')} (serving ${served.join(', ')})`);
  }
  return { name, dir, versions, settings, served };
}

/**
 * Every model under `modelsDir` (folders with at least one numeric version folder; hidden entries and other files
 * are skipped), sorted by name. A missing `modelsDir` has none.
 */
export async function readModels(modelsDir: string): Promise<ModelDirectory[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(modelsDir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const models: ModelDirectory[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.') || !(await isFolder(modelsDir, entry))) continue;
    const model = await readModelDirectory(path.join(modelsDir, entry.name));
    if (model !== undefined) models.push(model);
  }
  return models.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
