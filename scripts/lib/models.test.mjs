import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assignPorts, GENERIC_ENTRY, ModelConfigError, parseModelSettings, parseOnly, planStack, readModels } from './models.mjs';

const model = (name, settings = {}) => ({ name, dir: `/models/${name}`, versions: ['1'], settings });
const QT = model('question-topic', { app: 'question-topic', port: 8501, aliases: [{ method: 'POST', path: '/predict_topic' }] });
const everything = () => true;

describe('readModels', () => {
  let dir;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'modeldock-models-'));
    const files = {
      'b-model/2/metadata.json': '{}',
      'b-model/10/metadata.json': '{}',
      'b-model/model-settings.json': '{"port": 9000, "extra": "for the model server"}',
      'a-model/1/metadata.json': '{}',
      'no-version/model-settings.json': '{}',
      'no-version/latest/metadata.json': '{}',
    };
    for (const [file, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), text);
    }
    await writeFile(path.join(dir, 'README.md'), 'not a model');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('lists folders with a numeric version folder, sorted, versions in numeric order, with their settings', async () => {
    const models = await readModels(dir);
    assert.deepEqual(models.map((m) => m.name), ['a-model', 'b-model']);
    assert.deepEqual(models[1].versions, ['2', '10']);
    assert.deepEqual(models[1].settings, { port: 9000 });
    assert.deepEqual(models[0].settings, {});
    assert.equal(models[0].dir, path.join(dir, 'a-model'));
  });

  it('returns no model for a missing folder', async () => {
    assert.deepEqual(await readModels(path.join(dir, 'absent')), []);
  });

  it('finds the committed question-topic model with its settings', async () => {
    const models = await readModels(new URL('../../models', import.meta.url).pathname);
    const qt = models.find((m) => m.name === 'question-topic');
    assert.ok(qt !== undefined);
    assert.deepEqual(qt.settings, QT.settings);
  });
});

describe('parseModelSettings', () => {
  it('rejects bad JSON, a bad port, a bad app and bad aliases with the file named', () => {
    assert.throws(() => parseModelSettings('m', '{'), /models\/m\/model-settings.json is not JSON/);
    assert.throws(() => parseModelSettings('m', '{"port": 80.5}'), /"port" must be an integer/);
    assert.throws(() => parseModelSettings('m', '{"port": 70000}'), ModelConfigError);
    assert.throws(() => parseModelSettings('m', '{"app": "../x"}'), /"app"/);
    assert.throws(() => parseModelSettings('m', '{"aliases": [{"method": "FETCH", "path": "/x"}]}'), /"aliases"/);
    assert.throws(() => parseModelSettings('m', '{"aliases": [{"method": "POST", "path": "x"}]}'), /"aliases"/);
    assert.throws(() => parseModelSettings('m', '[]'), /must be an object/);
  });
});

describe('parseOnly', () => {
  it('splits MODELDOCK_MODELS on commas; unset or blank means all', () => {
    assert.deepEqual(parseOnly(' a, b ,,'), ['a', 'b']);
    assert.equal(parseOnly(undefined), undefined);
    assert.equal(parseOnly('  '), undefined);
  });
});

describe('assignPorts', () => {
  it('keeps settings ports and gives the others 8502, 8503... in name order, skipping used ones', () => {
    const ports = assignPorts([model('a'), model('b', { port: 8503 }), model('c'), QT, model('d')], [8504]);
    assert.deepEqual(Object.fromEntries(ports), { a: 8502, b: 8503, c: 8505, 'question-topic': 8501, d: 8506 });
  });

  it('rejects two models on one port, or a model on a reserved port', () => {
    assert.throws(() => assignPorts([model('a', { port: 9000 }), model('b', { port: 9000 })]), /port 9000 is already used by a/);
    assert.throws(() => assignPorts([model('a', { port: 8080 })], [8080]), /port 8080/);
  });
});

describe('planStack', () => {
  it('runs an app model with its app and QT_* variables, and a plain model on the generic server', () => {
    const { services, warnings } = planStack([model('embedder'), QT], { root: '/repo', only: undefined, exists: everything });
    assert.deepEqual(warnings, []);
    const [embedder, qt] = services;
    assert.equal(embedder.entry, path.join('/repo', GENERIC_ENTRY));
    assert.deepEqual(embedder.env, { MODEL_NAME: 'embedder', MODEL_DIR: '/models/embedder', MODEL_PORT: '8502', MODEL_HOST: '127.0.0.1' });
    assert.equal(qt.entry, '/repo/apps/question-topic/dist/main.js');
    assert.equal(qt.env.QT_PORT, '8501');
    assert.equal(qt.env.QT_HOST, '127.0.0.1');
    assert.equal(qt.env.QT_MODEL_DIR, '/models/question-topic');
    assert.equal(qt.env.QT_MODEL_NAME, 'question-topic');
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

  it('rejects a MODELDOCK_MODELS name that is not a model folder', () => {
    assert.throws(() => planStack([QT], { root: '/repo', only: ['nope'], exists: everything }), /MODELDOCK_MODELS names nope, not found.*question-topic/);
  });
});
