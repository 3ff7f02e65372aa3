// Which processes `pnpm start` runs: every model directory under models/ (read by @modeldock/model-settings, as
// the model server, bench and the deploy generator read it), its port, its command and environment, and the
// gateway's GATEWAY_MODELS. Pure functions over a listing of models/ (readModels is the only one that touches the
// disk), so the rules are tested without starting anything.
import path from 'node:path';
import { ModelSettingsError } from '@modeldock/model-settings';

export { readModels } from '@modeldock/model-settings';

export const FIRST_PORT = 8502;
export const GENERIC_ENTRY = 'apps/model-server/dist/main.js';

/** A model directory, settings file or variable that cannot be used; `pnpm start` prints the message and exits 2. */
export const ModelConfigError = ModelSettingsError;

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
    // Every model server reads MODEL_* (question-topic's own app too).
    const env = { MODEL_NAME: m.name, MODEL_DIR: m.dir, MODEL_PORT: String(port), MODEL_HOST: '127.0.0.1' };
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
