// Which processes `pnpm start` runs: every model directory under models/, its port, its command and
// environment, and the gateway's GATEWAY_MODELS. Pure functions over a listing of models/ (readModels
// is the only one that touches the disk), so the rules are tested without starting anything.
import { readdir, readFile, stat } from 'node:fs/promises';
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

/** Whether a directory entry is a folder, following a symbolic link (a models folder may link to models kept elsewhere). */
async function isFolder(parent, dirent) {
  if (dirent.isDirectory()) return true;
  if (!dirent.isSymbolicLink()) return false;
  return (await stat(path.join(parent, dirent.name)).catch(() => undefined))?.isDirectory() ?? false;
}

/** Lists `modelsDir`: one entry per folder with at least one numeric version folder, sorted by name. */
export async function readModels(modelsDir) {
  const dirents = await readdir(modelsDir, { withFileTypes: true }).catch((err) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  const models = [];
  for (const d of dirents) {
    if (!NAME.test(d.name) || !(await isFolder(modelsDir, d))) continue;
    const dir = path.join(modelsDir, d.name);
    const inside = await readdir(dir, { withFileTypes: true });
    const versions = [];
    for (const e of inside) if (VERSION.test(e.name) && (await isFolder(dir, e))) versions.push(e.name);
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
 * `MODELDOCK_PORTS={"<model>": <port>, ...}` as a map; undefined (or empty) means none. Each port replaces the
 * model's own for this run (a second stack beside the first, as the documentation tests start one).
 */
export function parsePorts(value) {
  if (value === undefined || value.trim() === '') return new Map();
  let raw;
  try {
    raw = JSON.parse(value);
  } catch (err) {
    throw new ModelConfigError(`MODELDOCK_PORTS is not JSON: ${err.message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ModelConfigError('MODELDOCK_PORTS must be an object: {"<model>": <port>}');
  const ports = new Map();
  for (const [name, port] of Object.entries(raw)) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ModelConfigError(`MODELDOCK_PORTS: the port of ${name} must be an integer 1-65535`);
    ports.set(name, port);
  }
  return ports;
}

/**
 * Ports: a model's MODELDOCK_PORTS entry, else its settings port, else the first free one from FIRST_PORT up, in
 * name order. Assigned over every model found (before MODELDOCK_MODELS filters), so a model keeps its port
 * whichever subset runs.
 */
export function assignPorts(models, reserved = [], overrides = new Map()) {
  const used = new Set(reserved);
  const ports = new Map();
  for (const m of models) {
    const port = overrides.get(m.name) ?? m.settings.port;
    if (port === undefined) continue;
    const owner = [...ports].find(([, p]) => p === port)?.[0];
    if (owner !== undefined || used.has(port)) {
      const where = overrides.has(m.name) ? 'MODELDOCK_PORTS' : `models/${m.name}/model-settings.json`;
      throw new ModelConfigError(`${where}: port ${port} of ${m.name} is already used${owner ? ` by ${owner}` : ''}`);
    }
    ports.set(m.name, port);
    used.add(port);
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
 * The `--help` sentence on ports, with the port a model added now would get (computed by {@link assignPorts},
 * so the help says what happens).
 */
export function portRule(models, reserved = []) {
  const probe = '~new'; // not a possible model name
  const next = assignPorts([...models, { name: probe, settings: {} }], reserved).get(probe);
  return `Without "port" a model gets the first port from ${FIRST_PORT} up that no other model\nand not the gateway uses, in name order (a model added now gets ${next})`;
}

/**
 * The processes to start and the gateway's models.
 * @param models from readModels
 * @param options.root repository root (entries are relative to it)
 * @param options.only names from MODELDOCK_MODELS, or undefined for all
 * @param options.exists whether a file under root exists (for the generic server's dist)
 * @param options.reservedPorts ports no model may take (the gateway's)
 * @param options.ports MODELDOCK_PORTS: ports that replace the models' own
 */
export function planStack(models, { root, only, exists, reservedPorts = [], ports: overrides = new Map() }) {
  const known = new Set(models.map((m) => m.name));
  const unknown = (only ?? []).filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new ModelConfigError(
      `MODELDOCK_MODELS names ${unknown.join(', ')}, not found under models/ (found: ${[...known].join(', ') || 'none'})`,
    );
  }
  const strangers = [...overrides.keys()].filter((n) => !known.has(n));
  if (strangers.length > 0) throw new ModelConfigError(`MODELDOCK_PORTS names ${strangers.join(', ')}, not found under models/`);
  const ports = assignPorts(models, reservedPorts, overrides);
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
