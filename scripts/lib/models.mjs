// Which processes `pnpm start` runs: every model directory under models/, its port, its command and
// environment, and the gateway's GATEWAY_MODELS. Pure functions over a listing of models/ (readModels
// is the only one that touches the disk), so the rules are tested without starting anything.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export const FIRST_PORT = 8502;
export const GENERIC_ENTRY = 'apps/model-server/dist/main.js';
const NAME = /^[\w.-]+$/;
const VERSION = /^\d+$/;
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
/** Environment prefixes of apps with their own configuration (each also gets the generic MODEL_* variables). */
const APP_ENV_PREFIX = { 'question-topic': 'QT' };

/** A model directory or settings file that cannot be used; `pnpm start` prints the message and exits 2. */
export class ModelConfigError extends Error {}

/**
 * Validates `models/<name>/model-settings.json`: `{"app"?: string, "port"?: int, "aliases"?: [{method, path}]}`.
 * Other keys are left to whoever else reads the file (the model server).
 */
export function parseModelSettings(name, text) {
  let raw;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ModelConfigError(`models/${name}/model-settings.json is not JSON: ${err.message}`);
  }
  const where = `models/${name}/model-settings.json`;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ModelConfigError(`${where} must be an object`);
  const settings = {};
  if (raw.app !== undefined) {
    if (typeof raw.app !== 'string' || !NAME.test(raw.app)) throw new ModelConfigError(`${where}: "app" must be an apps/ folder name`);
    settings.app = raw.app;
  }
  if (raw.port !== undefined) {
    if (!Number.isInteger(raw.port) || raw.port < 1 || raw.port > 65535) throw new ModelConfigError(`${where}: "port" must be an integer 1-65535`);
    settings.port = raw.port;
  }
  if (raw.aliases !== undefined) {
    const ok =
      Array.isArray(raw.aliases) &&
      raw.aliases.every((a) => a !== null && typeof a === 'object' && METHODS.includes(a.method) && typeof a.path === 'string' && a.path.startsWith('/'));
    if (!ok) throw new ModelConfigError(`${where}: "aliases" must be a list of {"method": "${METHODS.join('|')}", "path": "/..."}`);
    settings.aliases = raw.aliases.map(({ method, path: p }) => ({ method, path: p }));
  }
  return settings;
}

/** Lists `modelsDir`: one entry per folder with at least one numeric version folder, sorted by name. */
export async function readModels(modelsDir) {
  const dirents = await readdir(modelsDir, { withFileTypes: true }).catch((err) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  const models = [];
  for (const d of dirents) {
    if (!d.isDirectory() || !NAME.test(d.name)) continue;
    const dir = path.join(modelsDir, d.name);
    const inside = await readdir(dir, { withFileTypes: true });
    const versions = inside.filter((e) => e.isDirectory() && VERSION.test(e.name)).map((e) => e.name);
    if (versions.length === 0) continue;
    const hasSettings = inside.some((e) => e.isFile() && e.name === 'model-settings.json');
    const settings = hasSettings ? parseModelSettings(d.name, await readFile(path.join(dir, 'model-settings.json'), 'utf8')) : {};
    models.push({ name: d.name, dir, versions: versions.sort((a, b) => Number(a) - Number(b)), settings });
  }
  return models.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** `MODELDOCK_MODELS=a,b` as a list of names; undefined (or empty) means every model. */
export function parseOnly(value) {
  if (value === undefined || value.trim() === '') return undefined;
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/**
 * Ports: a model's settings port, else the first free one from FIRST_PORT up, in name order. Assigned over
 * every model found (before MODELDOCK_MODELS filters), so a model keeps its port whichever subset runs.
 */
export function assignPorts(models, reserved = []) {
  const used = new Set(reserved);
  const ports = new Map();
  for (const m of models) {
    if (m.settings.port === undefined) continue;
    const owner = [...ports].find(([, p]) => p === m.settings.port)?.[0];
    if (owner !== undefined || used.has(m.settings.port)) {
      throw new ModelConfigError(`models/${m.name}/model-settings.json: port ${m.settings.port} is already used${owner ? ` by ${owner}` : ''}`);
    }
    ports.set(m.name, m.settings.port);
    used.add(m.settings.port);
  }
  let next = FIRST_PORT;
  for (const m of models) {
    if (ports.has(m.name)) continue;
    while (used.has(next)) next += 1;
    ports.set(m.name, next);
    used.add(next);
  }
  return ports;
}

/**
 * The processes to start and the gateway's models.
 * @param models from readModels
 * @param options.root repository root (entries are relative to it)
 * @param options.only names from MODELDOCK_MODELS, or undefined for all
 * @param options.exists whether a file under root exists (for the generic server's dist)
 * @param options.reservedPorts ports no model may take (the gateway's)
 */
export function planStack(models, { root, only, exists, reservedPorts = [] }) {
  const known = new Set(models.map((m) => m.name));
  const unknown = (only ?? []).filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new ModelConfigError(
      `MODELDOCK_MODELS names ${unknown.join(', ')}, not found under models/ (found: ${[...known].join(', ') || 'none'})`,
    );
  }
  const ports = assignPorts(models, reservedPorts);
  const services = [];
  const warnings = [];
  for (const m of models) {
    if (only !== undefined && !only.includes(m.name)) continue;
    const port = ports.get(m.name);
    const entry = m.settings.app === undefined ? GENERIC_ENTRY : `apps/${m.settings.app}/dist/main.js`;
    if (!exists(entry)) {
      warnings.push(
        m.settings.app === undefined
          ? `skipping model ${m.name}: the generic model server (${GENERIC_ENTRY}) is not built; set "app" in models/${m.name}/model-settings.json or build apps/model-server`
          : `skipping model ${m.name}: ${entry} does not exist (is apps/${m.settings.app} built?)`,
      );
      continue;
    }
    const env = { MODEL_NAME: m.name, MODEL_DIR: m.dir, MODEL_PORT: String(port), MODEL_HOST: '127.0.0.1' };
    const prefix = m.settings.app === undefined ? undefined : APP_ENV_PREFIX[m.settings.app];
    if (prefix !== undefined) {
      Object.assign(env, { [`${prefix}_MODEL_NAME`]: m.name, [`${prefix}_MODEL_DIR`]: m.dir, [`${prefix}_PORT`]: String(port), [`${prefix}_HOST`]: '127.0.0.1' });
    }
    services.push({ name: m.name, entry: path.join(root, entry), port, aliases: m.settings.aliases ?? [], env });
  }
  return { services, warnings, gatewayModels: gatewayModels(services) };
}

/** GATEWAY_MODELS for the started services: `{"<name>": {"upstream": "http://127.0.0.1:<port>", "aliases"?: [...]}}`. */
export function gatewayModels(services) {
  return Object.fromEntries(
    services.map((s) => [s.name, { upstream: `http://127.0.0.1:${s.port}`, ...(s.aliases.length > 0 ? { aliases: s.aliases } : {}) }]),
  );
}
