import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  DEPLOYMENT_OVERRIDES,
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

/** One deployment of a model: a set of replicas scaled on its own, a backend of the model at the gateway. */
export interface Deployment {
  /** Its backend name at the gateway (`default` for a model without `deployments`). */
  name: string;
  /** Its compose service, Kubernetes Service and Deployment: the model's name for the first, `<model>-<name>` after. */
  service: string;
  /** Its share of the model's requests at the gateway. */
  weight: number;
  /** The model's own deployment (the first), whose settings are the model's. */
  primary: boolean;
  /** The serving settings it sets differently from the model (only a further deployment sets any). */
  overrides: Pick<ModelSettings, 'versions' | 'defaultVersion' | 'labels'>;
  /** The model's settings with its overrides and port. */
  settings: ModelSettings;
  /** The versions it serves. */
  served: string[];
}

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
  /** Its deployments: those of its settings, or the model's alone. */
  deployments: Deployment[];
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
  const served = servedVersions(settings, versions, label, '');
  const deployments: Deployment[] = (settings.deployments ?? [{ name: 'default', weight: 1 }]).map((entry, index) => {
    if (index === 0) return { name: entry.name, service: name, weight: entry.weight, primary: true, overrides: {}, settings, served };
    const service = `${name}-${entry.name}`;
    if (!MODEL_NAME.test(service)) {
      throw new ModelSettingsError(`${label}: "deployments.${index}.name": its Service '${service}' must be ${MODEL_NAME_RULE}`);
    }
    const overrides = Object.fromEntries(DEPLOYMENT_OVERRIDES.filter((field) => entry[field] !== undefined).map((field) => [field, entry[field]]));
    const own: ModelSettings = { ...settings, ...overrides, port: entry.port };
    return { name: entry.name, service, weight: entry.weight, primary: false, overrides, settings: own, served: servedVersions(own, versions, label, `deployments.${index}.`) };
  });
  return { name, dir, versions, settings, served, deployments };
}

/** The versions `settings` serve of those found, checking that its default version and labels are among them. */
function servedVersions(settings: ModelSettings, versions: readonly string[], label: string, prefix: string): string[] {
  let served: string[];
  try {
    served = selectVersions(settings.versions ?? 'latest', versions);
  } catch (err) {
    throw new ModelSettingsError(`${label}: "${prefix}versions": ${(err as Error).message}`);
  }
  if (settings.defaultVersion !== undefined && !served.includes(settings.defaultVersion)) {
    throw new ModelSettingsError(`${label}: "${prefix}defaultVersion" ${settings.defaultVersion} is not served (serving ${served.join(', ')})`);
  }
  const unserved = Object.entries(settings.labels ?? {}).filter(([, version]) => !served.includes(version));
  if (unserved.length > 0) {
    throw new ModelSettingsError(
      `${label}: "${prefix}labels" name versions that are not served: ${unserved.map(([l, v]) => `${l}=${v}`).join(', ')} (serving ${served.join(', ')})`,
    );
  }
  return served;
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
  // A further deployment's Service must not be another model's (or another deployment's).
  const services = new Map<string, string>();
  for (const model of models) {
    for (const { service } of model.deployments) {
      const owner = services.get(service);
      if (owner !== undefined) throw new ModelSettingsError(`models/${model.name}/${SETTINGS_FILE}: the Service '${service}' is ${owner}'s too`);
      services.set(service, model.name === service ? `model ${model.name}` : `a deployment of ${model.name}`);
    }
  }
  return models.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
