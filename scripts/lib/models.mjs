// Which processes `pnpm start` runs: every model directory under models/ (read by @modeldock/model-settings, as
// the model server, bench and the deploy generator read it), its port, its command and environment, and the
// gateway's GATEWAY_MODELS. Pure functions over a listing of models/ (readModels is the only one that touches the
// disk), so the rules are tested without starting anything.
import path from 'node:path';
import { variableName } from '@modeldock/model-server';
import { ModelSettingsError, servingSettings } from '@modeldock/model-settings';

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
 * A model's deployments: those of its settings (read by readModels), or the model's own alone (`implicit`: the
 * gateway gets its single-upstream form).
 */
export function deploymentsOf(m) {
  if (m.deployments !== undefined && m.settings.deployments !== undefined) return m.deployments;
  return [{ name: 'default', service: m.name, weight: 1, primary: true, implicit: true, overrides: {}, settings: m.settings, served: m.served }];
}

/**
 * Every process a model runs as, one per deployment: `name` is its service (the model's name, or `<model>-<name>`
 * for a further deployment), what ports and MODELDOCK_PORTS are keyed by.
 */
export function instances(models) {
  return models.flatMap((m) =>
    deploymentsOf(m).map((d) => ({ name: d.service, settings: d.settings, model: m, deployment: d, where: `models/${m.name}/model-settings.json` })),
  );
}

/**
 * Ports: an instance's MODELDOCK_PORTS entry, else its settings port, else the first free one from FIRST_PORT up,
 * in name order. Assigned over every model found (before MODELDOCK_MODELS filters), so a model keeps its port
 * whichever subset runs. `models` are models or {@link instances} (`name`, `settings.port`).
 */
export function assignPorts(models, reserved = [], overrides = new Map()) {
  const used = new Set(reserved);
  const ports = new Map();
  for (const m of models) {
    const port = overrides.get(m.name) ?? m.settings.port;
    if (port === undefined) continue;
    const owner = [...ports].find(([, p]) => p === port)?.[0];
    if (owner !== undefined || used.has(port)) {
      const where = overrides.has(m.name) ? 'MODELDOCK_PORTS' : (m.where ?? `models/${m.name}/model-settings.json`);
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
  const next = assignPorts([...instances(models), { name: probe, settings: {} }], reserved).get(probe);
  return `Without "port" a model gets the first port from ${FIRST_PORT} up that no other model\nand not the gateway uses, in name order (a model added now gets ${next})`;
}

/** The `MODEL_*` variables of a deployment's serving settings that differ from its model's. */
function overrideEnv(overrides) {
  return Object.fromEntries(Object.entries(servingSettings(overrides)).map(([key, value]) => [variableName('MODEL_', key), value]));
}

/**
 * The processes to start and the gateway's models.
 * @param models from readModels
 * @param options.root repository root (entries are relative to it)
 * @param options.only names from MODELDOCK_MODELS, or undefined for all
 * @param options.exists whether a file under root exists (for the generic server's dist)
 * @param options.reservedPorts ports no model may take (the gateway's)
 * @param options.ports MODELDOCK_PORTS: ports that replace the models' (or their deployments') own
 */
export function planStack(models, { root, only, exists, reservedPorts = [], ports: overrides = new Map() }) {
  const known = new Set(models.map((m) => m.name));
  const unknown = (only ?? []).filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new ModelConfigError(
      `MODELDOCK_MODELS names ${unknown.join(', ')}, not found under models/ (found: ${[...known].join(', ') || 'none'})`,
    );
  }
  const all = instances(models);
  const strangers = [...overrides.keys()].filter((n) => !all.some((i) => i.name === n));
  if (strangers.length > 0) throw new ModelConfigError(`MODELDOCK_PORTS names ${strangers.join(', ')}, not found under models/`);
  const ports = assignPorts(all, reservedPorts, overrides);
  const services = [];
  const warnings = [];
  const started = [];
  for (const m of models) {
    if (only !== undefined && !only.includes(m.name)) continue;
    const entry = m.settings.app === undefined ? GENERIC_ENTRY : `apps/${m.settings.app}/dist/main.js`;
    if (!exists(entry)) {
      warnings.push(
        m.settings.app === undefined
          ? `skipping model ${m.name}: the generic model server (${GENERIC_ENTRY}) is not built; set "app" in models/${m.name}/model-settings.json or build apps/model-server`
          : `skipping model ${m.name}: ${entry} does not exist (is apps/${m.settings.app} built?)`,
      );
      continue;
    }
    started.push(m);
    for (const d of deploymentsOf(m)) {
      const port = ports.get(d.service);
      // Every model server reads MODEL_* (question-topic's own app too); a further deployment is the same model
      // with its own serving settings.
      const env = { MODEL_NAME: m.name, MODEL_DIR: m.dir, MODEL_PORT: String(port), MODEL_HOST: '127.0.0.1', ...overrideEnv(d.overrides) };
      services.push({ name: d.service, model: m.name, deployment: d.name, entry: path.join(root, entry), port, aliases: m.settings.aliases ?? [], env });
    }
  }
  const local = new Map(services.map((s) => [s.name, `http://127.0.0.1:${s.port}`]));
  return { services, warnings, gatewayModels: gatewayModels(started, (service) => local.get(service)) };
}

/**
 * The gateway's models JSON for `models`, each deployment's replicas at `upstream(service)`: `{"<name>": {"upstream",
 * "aliases"?}}` for a model without deployments, `{"<name>": {"backends": [{"name", "upstream", "weight"}],
 * "shadow"?, "aliases"?}}` for one with. `pnpm start` and the deploy files both write it this way.
 */
export function gatewayModels(models, upstream) {
  return Object.fromEntries(
    models.map((m) => {
      const aliases = m.settings.aliases?.length ? { aliases: m.settings.aliases } : {};
      const deployments = deploymentsOf(m);
      if (deployments[0]?.implicit === true) return [m.name, { upstream: upstream(m.name), ...aliases }];
      const backends = deployments.map((d) => ({ name: d.name, upstream: upstream(d.service), weight: d.weight }));
      return [m.name, { backends, ...(m.settings.shadow === undefined ? {} : { shadow: m.settings.shadow }), ...aliases }];
    }),
  );
}
