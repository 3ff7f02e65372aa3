import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { assignPorts, GENERIC_ENTRY, ModelConfigError, parseOnly, parsePorts, planStack, portRule, readModels } from './models.mjs';

const model = (name, settings = {}) => ({ name, dir: `/models/${name}`, versions: ['1'], settings });
const QT = model('question-topic', { app: 'question-topic', port: 8501, aliases: [{ method: 'POST', path: '/predict_topic' }] });
const everything = () => true;

describe('readModels', () => {
  it('finds the committed question-topic model with its settings (read by @modeldock/model-settings)', async () => {
    const models = await readModels(new URL('../../models', import.meta.url).pathname);
    const qt = models.find((m) => m.name === 'question-topic');
    assert.ok(qt !== undefined);
    assert.deepEqual([qt.settings.app, qt.settings.port, qt.settings.aliases], [QT.settings.app, QT.settings.port, QT.settings.aliases]);
  });

  it('refuses a settings file the schema rejects, with the error start prints', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'modeldock-models-'));
    try {
      await mkdir(path.join(dir, 'm/1'), { recursive: true });
      await writeFile(path.join(dir, 'm/model-settings.json'), '{"port": 80.5}');
      await assert.rejects(readModels(dir), (err) => err instanceof ModelConfigError && /models\/m\/model-settings.json: "port"/.test(err.message));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('parseOnly', () => {
  it('splits MODELDOCK_MODELS on commas; unset or blank means all', () => {
    assert.deepEqual(parseOnly(' a, b ,,'), ['a', 'b']);
    assert.equal(parseOnly(undefined), undefined);
    assert.equal(parseOnly('  '), undefined);
  });
});

describe('parsePorts', () => {
  it('reads MODELDOCK_PORTS as a map; unset or blank means none', () => {
    assert.deepEqual(parsePorts('{"a": 9001, "b": 9002}'), new Map([['a', 9001], ['b', 9002]]));
    assert.deepEqual(parsePorts(undefined), new Map());
    assert.deepEqual(parsePorts(' '), new Map());
  });

  it('rejects what is not an object of ports', () => {
    assert.throws(() => parsePorts('{'), /MODELDOCK_PORTS is not JSON/);
    assert.throws(() => parsePorts('[9001]'), /must be an object/);
    assert.throws(() => parsePorts('{"a": "9001"}'), /the port of a must be an integer/);
    assert.throws(() => parsePorts('{"a": 0}'), ModelConfigError);
  });
});

describe('assignPorts', () => {
  it('keeps settings ports and gives the others 8502, 8503... in name order, skipping used ones', () => {
    const ports = assignPorts([model('a'), model('b', { port: 8503 }), model('c'), QT, model('d')], [8504]);
    assert.deepEqual(Object.fromEntries(ports), { a: 8502, b: 8503, c: 8505, 'question-topic': 8501, d: 8506 });
  });

  it('puts a MODELDOCK_PORTS entry before the settings port, and the others around it', () => {
    const ports = assignPorts([model('a'), QT, model('b')], [8080], new Map([['question-topic', 8502], ['b', 40001]]));
    assert.deepEqual(Object.fromEntries(ports), { 'question-topic': 8502, b: 40001, a: 8503 });
    assert.throws(() => assignPorts([QT], [8080], new Map([['question-topic', 8080]])), /MODELDOCK_PORTS: port 8080 of question-topic/);
  });

  it('rejects two models on one port, or a model on a reserved port', () => {
    assert.throws(() => assignPorts([model('a', { port: 9000 }), model('b', { port: 9000 })]), /port 9000 of b is already used by a/);
    assert.throws(() => assignPorts([model('a', { port: 8080 })], [8080]), /port 8080/);
  });
});

describe('portRule (the sentence of `pnpm start --help`)', () => {
  it('names the port a new model gets: with the committed models, 8504', async () => {
    const models = await readModels(new URL('../../models', import.meta.url).pathname);
    const rule = portRule(models, [8080, 9081]);
    const named = Number(/gets (\d+)\)/.exec(rule)?.[1]);
    const withNew = [...models, model('zz-new')];
    assert.equal(named, 8504);
    assert.equal(planStack(withNew, { root: '/repo', only: undefined, exists: everything, reservedPorts: [8080, 9081] }).services.at(-1).port, named);
  });

  it('counts a port-less model: the next one after it', () => {
    assert.match(portRule([model('a'), QT], [8080]), /gets 8503\)/);
  });
});

describe('planStack', () => {
  it('runs an app model with its app and a plain model on the generic server, both with MODEL_* variables', () => {
    const { services, warnings } = planStack([model('embedder'), QT], { root: '/repo', only: undefined, exists: everything });
    assert.deepEqual(warnings, []);
    const [embedder, qt] = services;
    assert.equal(embedder.entry, path.join('/repo', GENERIC_ENTRY));
    assert.deepEqual(embedder.env, { MODEL_NAME: 'embedder', MODEL_DIR: '/models/embedder', MODEL_PORT: '8502', MODEL_HOST: '127.0.0.1' });
    assert.equal(qt.entry, '/repo/apps/question-topic/dist/main.js');
    assert.deepEqual(qt.env, { MODEL_NAME: 'question-topic', MODEL_DIR: '/models/question-topic', MODEL_PORT: '8501', MODEL_HOST: '127.0.0.1' });
  });

  it('builds GATEWAY_MODELS from the started models, with aliases where a model has them', () => {
    const { gatewayModels } = planStack([model('embedder'), QT], { root: '/repo', only: undefined, exists: everything });
    assert.deepEqual(gatewayModels, {
      embedder: { upstream: 'http://127.0.0.1:8502' },
      'question-topic': { upstream: 'http://127.0.0.1:8501', aliases: [{ method: 'POST', path: '/predict_topic' }] },
    });
  });

  it('skips generic models with a warning while the generic server is not built', () => {
    const { services, warnings, gatewayModels } = planStack([model('embedder'), QT], {
      root: '/repo',
      only: undefined,
      exists: (file) => file !== GENERIC_ENTRY,
    });
    assert.deepEqual(services.map((s) => s.name), ['question-topic']);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /skipping model embedder: the generic model server/);
    assert.deepEqual(Object.keys(gatewayModels), ['question-topic']);
  });

  it('starts only the MODELDOCK_MODELS subset, each on the port it has in the full set', () => {
    const models = [model('a'), model('b'), QT];
    const { services } = planStack(models, { root: '/repo', only: ['b'], exists: everything });
    assert.deepEqual(services.map((s) => [s.name, s.port]), [['b', 8503]]);
  });

  it('runs each model on its MODELDOCK_PORTS port and points the gateway there', () => {
    const { services, gatewayModels } = planStack([model('embedder'), QT], {
      root: '/repo',
      only: undefined,
      exists: everything,
      ports: new Map([['embedder', 40001], ['question-topic', 40002]]),
    });
    assert.deepEqual(services.map((s) => [s.name, s.port, s.env.MODEL_PORT]), [['embedder', 40001, '40001'], ['question-topic', 40002, '40002']]);
    assert.equal(gatewayModels['question-topic'].upstream, 'http://127.0.0.1:40002');
  });

  it('runs each deployment of a model as its own process, with its serving settings, and gives the gateway its backends and shadow', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'modeldock-deployments-'));
    try {
      await mkdir(path.join(dir, 'qt/1'), { recursive: true });
      await mkdir(path.join(dir, 'qt/2'), { recursive: true });
      const settings = {
        port: 8501,
        versions: 'all',
        defaultVersion: '1',
        aliases: [{ method: 'POST', path: '/predict_topic' }],
        deployments: [{ name: 'v1', weight: 90 }, { name: 'v2', weight: 10, defaultVersion: '2' }],
        shadow: { backend: 'v2', percent: 100 },
      };
      await writeFile(path.join(dir, 'qt/model-settings.json'), JSON.stringify(settings));
      const models = await readModels(dir);
      const plan = planStack(models, { root: '/repo', only: ['qt'], exists: everything, reservedPorts: [8080] });
      assert.deepEqual(
        plan.services.map((s) => [s.name, s.model, s.deployment, s.port, s.env.MODEL_NAME, s.env.MODEL_PORT, s.env.MODEL_DEFAULT_VERSION]),
        [
          ['qt', 'qt', 'v1', 8501, 'qt', '8501', undefined],
          ['qt-v2', 'qt', 'v2', 8502, 'qt', '8502', '2'],
        ],
      );
      assert.deepEqual(plan.gatewayModels, {
        qt: {
          backends: [
            { name: 'v1', upstream: 'http://127.0.0.1:8501', weight: 90 },
            { name: 'v2', upstream: 'http://127.0.0.1:8502', weight: 10 },
          ],
          shadow: { backend: 'v2', percent: 100 },
          aliases: [{ method: 'POST', path: '/predict_topic' }],
        },
      });
      const moved = planStack(models, { root: '/repo', only: undefined, exists: everything, ports: new Map([['qt-v2', 40001]]) });
      assert.equal(moved.gatewayModels.qt.backends[1].upstream, 'http://127.0.0.1:40001', 'MODELDOCK_PORTS names a deployment by its service');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects a MODELDOCK_PORTS name that is not a model folder', () => {
    assert.throws(() => planStack([QT], { root: '/repo', only: undefined, exists: everything, ports: new Map([['nope', 9000]]) }), /MODELDOCK_PORTS names nope/);
  });

  it('rejects a MODELDOCK_MODELS name that is not a model folder', () => {
    assert.throws(() => planStack([QT], { root: '/repo', only: ['nope'], exists: everything }), /MODELDOCK_MODELS names nope, not found.*question-topic/);
  });
});
