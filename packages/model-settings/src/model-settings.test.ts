import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  DEPLOYMENT_DEFAULTS,
  MODEL_NAME,
  ModelSettingsError,
  parseModelSettings,
  readModels,
  selectVersions,
  servingSettings,
  targetRowsInFlight,
} from './index.js';

const parse = (settings: unknown) => parseModelSettings(JSON.stringify(settings), 'models/m/model-settings.json');

describe('MODEL_NAME', () => {
  it('admits DNS labels only, since a model names its Kubernetes Service', () => {
    for (const name of ['question-topic', 'a', 'm2', 'x'.repeat(63)]) assert.ok(MODEL_NAME.test(name), name);
    for (const name of ['Question', 'my_model', 'a.b', '2fast', '-a', 'a-', '', 'x'.repeat(64)]) assert.ok(!MODEL_NAME.test(name), name);
  });
});

describe('parseModelSettings', () => {
  it('fills the deployment defaults of an empty file', () => {
    const settings = parse({});
    assert.deepEqual(settings.replicas, DEPLOYMENT_DEFAULTS.replicas);
    assert.deepEqual(settings.resources, DEPLOYMENT_DEFAULTS.resources);
    assert.equal(settings.maxBatchSize, undefined);
  });

  it('names the file and every problem at once', () => {
    assert.throws(
      () => parse({ port: 80.5, maxBatchSize: 0, replicas: { min: 3, max: 2 } }),
      (err: Error) =>
        err instanceof ModelSettingsError &&
        /^models\/m\/model-settings.json: /.test(err.message) &&
        err.message.includes('"port"') &&
        err.message.includes('"maxBatchSize"') &&
        err.message.includes('"replicas.min": `min` must not exceed `max`'),
    );
  });

  it('rejects unknown fields, so a typo is never silently ignored', () => {
    assert.throws(() => parse({ maxBatchSise: 8 }), /maxBatchSise/);
  });

  it('rejects malformed JSON, quantities, aliases and version policies', () => {
    assert.throws(() => parseModelSettings('{', 'models/m/model-settings.json'), /models\/m\/model-settings.json is not JSON/);
    assert.throws(() => parse({ resources: { requests: { cpu: '1', memory: '1G' }, limits: { cpu: '1', memory: '1Gi' } } }), /memory quantity/);
    assert.throws(() => parse({ resources: { requests: { cpu: 'one', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } } }), /CPU quantity/);
    assert.throws(() => parse({ aliases: [{ method: 'FETCH', path: '/x' }] }), /aliases/);
    assert.throws(() => parse({ aliases: [{ method: 'POST', path: '/a/../b' }] }), /dot segments/);
    assert.throws(() => parse({ versions: 'newest' }), /versions/);
    assert.throws(() => parse([]), ModelSettingsError);
  });
});

describe('servingSettings', () => {
  it('maps the serving fields that are set to the model server setting keys', () => {
    const settings = parse({ versions: 'all', defaultVersion: '1', labels: { stable: '1', canary: '2' }, maxBatchSize: 16, maxBatchDelayMs: 0, port: 9000 });
    assert.deepEqual(servingSettings(settings), {
      MODEL_VERSIONS: 'all',
      DEFAULT_VERSION: '1',
      VERSION_LABELS: 'stable=1,canary=2',
      MAX_BATCH_SIZE: '16',
      MAX_BATCH_DELAY_MS: '0',
    });
  });
});

describe('labels', () => {
  it('are TF Serving version labels: a name that is not a number, naming a version', () => {
    assert.deepEqual(parse({ labels: { stable: '1', 'canary-2': '2' } }).labels, { stable: '1', 'canary-2': '2' });
    assert.throws(() => parse({ labels: { '2': '1' } }), /"labels.2": a label is a letter/);
    assert.throws(() => parse({ labels: { stable: 'v1' } }), /"labels.stable": a version \(digits\)/);
  });
});

describe('deployments', () => {
  const two = [
    { name: 'v1', weight: 90 },
    { name: 'v2', weight: 10, defaultVersion: '2', port: 8511 },
  ];

  it('are the model as backends with weights, and a shadow naming one of them', () => {
    const settings = parse({ deployments: two, shadow: { backend: 'v2', percent: 100 } });
    assert.deepEqual(settings.deployments?.map((d) => [d.name, d.weight, d.defaultVersion]), [
      ['v1', 90, undefined],
      ['v2', 10, '2'],
    ]);
    assert.deepEqual(settings.shadow, { backend: 'v2', percent: 100 });
  });

  it('refuse serving settings or a port on the first (the model\'s own), repeated names, weights all 0, and an unknown shadow', () => {
    assert.throws(() => parse({ deployments: [{ name: 'v1', weight: 1, defaultVersion: '1' }] }), /"deployments.0.defaultVersion": the first deployment is the model's own/);
    assert.throws(() => parse({ deployments: [{ name: 'v1', weight: 1, port: 9 }] }), /"deployments.0.port"/);
    assert.throws(() => parse({ deployments: [{ name: 'v1', weight: 1 }, { name: 'v1', weight: 1 }] }), /"deployments.1.name": 'v1' names another deployment already/);
    assert.throws(() => parse({ deployments: [{ name: 'v1', weight: 0 }, { name: 'v2', weight: 0 }] }), /"deployments": every weight is 0/);
    assert.throws(() => parse({ deployments: [{ name: 'v1', weight: -1 }] }), /"deployments.0.weight": must not be negative/);
    assert.throws(() => parse({ deployments: two, shadow: { backend: 'v3', percent: 5 } }), /"shadow.backend": 'v3' is not one of the deployments \(v1, v2\)/);
    assert.throws(() => parse({ shadow: { backend: 'v3', percent: 5 } }), /"shadow.backend": a shadow needs `deployments`/);
    assert.throws(() => parse({ deployments: [{ name: 'V2', weight: 1 }] }), /"deployments.0.name": lowercase/);
  });
});

describe('targetRowsInFlight', () => {
  it('is the setting, else two full batches', () => {
    assert.equal(targetRowsInFlight(parse({ replicas: { min: 1, max: 2, targetRowsInFlight: 100 } }), 32), 100);
    assert.equal(targetRowsInFlight(parse({ maxBatchSize: 8 }), 32), 16);
    assert.equal(targetRowsInFlight(parse({}), 32), 64);
  });
});

describe('selectVersions', () => {
  it('applies latest, all and lists, and names missing versions', () => {
    assert.deepEqual(selectVersions('latest', ['2', '10', '1']), ['10']);
    assert.deepEqual(selectVersions('all', ['2', '10', '1']), ['1', '2', '10']);
    assert.deepEqual(selectVersions('2,1,2', ['1', '2', '3']), ['1', '2']);
    assert.throws(() => selectVersions('4', ['1']), /model versions 4 not found \(found: 1\)/);
    assert.throws(() => selectVersions('all', []), /no model versions found/);
  });
});

describe('readModels', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'modeldock-models-'));
    const files: Record<string, string> = {
      'b-model/2/metadata.json': '{}',
      'b-model/10/metadata.json': '{}',
      'b-model/model-settings.json': '{"port": 9000, "versions": "all", "defaultVersion": "2"}',
      'a-model/1/metadata.json': '{}',
      'no-version/model-settings.json': '{}',
      'no-version/latest/metadata.json': '{}',
      '.hidden/1/metadata.json': '{}',
    };
    for (const [file, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), text);
    }
    await writeFile(path.join(dir, 'README.md'), 'not a model');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('lists folders with a numeric version folder, sorted, versions in numeric order, with their settings and served versions', async () => {
    const models = await readModels(dir);
    assert.deepEqual(
      models.map((m) => [m.name, m.versions, m.served, m.settings.port]),
      [
        ['a-model', ['1'], ['1'], undefined],
        ['b-model', ['2', '10'], ['2', '10'], 9000],
      ],
    );
    assert.equal(models[0]?.dir, path.join(dir, 'a-model'));
    assert.deepEqual(models[0]?.settings.replicas, DEPLOYMENT_DEFAULTS.replicas);
  });

  it('follows symbolic links to model folders kept elsewhere', async () => {
    const linked = await mkdtemp(path.join(os.tmpdir(), 'modeldock-linked-'));
    try {
      await symlink(path.join(dir, 'b-model'), path.join(linked, 'b-model'));
      await symlink(path.join(dir, 'absent'), path.join(linked, 'dangling'));
      const models = await readModels(linked);
      assert.deepEqual(models.map((m) => [m.name, m.versions]), [['b-model', ['2', '10']]]);
    } finally {
      await rm(linked, { recursive: true, force: true });
    }
  });

  it('refuses a model folder whose name is not a model name, and a default version or a label it does not serve', async () => {
    const bad = await mkdtemp(path.join(os.tmpdir(), 'modeldock-bad-'));
    try {
      await mkdir(path.join(bad, 'My_Model/1'), { recursive: true });
      await assert.rejects(readModels(bad), /models\/My_Model: a model's folder name is its name/);
      await rm(path.join(bad, 'My_Model'), { recursive: true });
      await mkdir(path.join(bad, 'm/1'), { recursive: true });
      await mkdir(path.join(bad, 'm/2'), { recursive: true });
      await writeFile(path.join(bad, 'm/model-settings.json'), '{"defaultVersion": "1"}');
      await assert.rejects(readModels(bad), /"defaultVersion" 1 is not served \(serving 2\)/);
      await writeFile(path.join(bad, 'm/model-settings.json'), '{"labels": {"stable": "2", "old": "1"}}');
      await assert.rejects(readModels(bad), /"labels" name versions that are not served: old=1 \(serving 2\)/);
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  });

  it('reads deployments: the model\'s own under its name, each further one as <model>-<name> with its overrides and served versions', async () => {
    const models = await readModels(dir);
    const b = models.find((m) => m.name === 'b-model');
    assert.deepEqual(b?.deployments.map((d) => [d.name, d.service, d.weight, d.primary]), [['default', 'b-model', 1, true]]);
    const deployed = await mkdtemp(path.join(os.tmpdir(), 'modeldock-deployments-'));
    try {
      await mkdir(path.join(deployed, 'm/1'), { recursive: true });
      await mkdir(path.join(deployed, 'm/2'), { recursive: true });
      const settings = { port: 9000, versions: 'all', defaultVersion: '1', labels: { stable: '1' }, deployments: [{ name: 'v1', weight: 90 }, { name: 'v2', weight: 10, defaultVersion: '2', port: 9001 }] };
      await writeFile(path.join(deployed, 'm/model-settings.json'), JSON.stringify(settings));
      const [m] = await readModels(deployed);
      assert.deepEqual(
        m?.deployments.map((d) => [d.name, d.service, d.weight, d.primary, d.overrides, d.settings.defaultVersion, d.settings.port, d.served]),
        [
          ['v1', 'm', 90, true, {}, '1', 9000, ['1', '2']],
          ['v2', 'm-v2', 10, false, { defaultVersion: '2' }, '2', 9001, ['1', '2']],
        ],
      );
      await writeFile(path.join(deployed, 'm/model-settings.json'), JSON.stringify({ ...settings, deployments: [{ name: 'v1', weight: 1 }, { name: 'v2', weight: 1, versions: '2' }] }));
      await assert.rejects(readModels(deployed), /"deployments.1.defaultVersion" 1 is not served \(serving 2\)/);
      await writeFile(path.join(deployed, 'm/model-settings.json'), JSON.stringify({ deployments: [{ name: 'v1', weight: 1 }, { name: 'x', weight: 1 }] }));
      await mkdir(path.join(deployed, 'm-x/1'), { recursive: true });
      await assert.rejects(readModels(deployed), /the Service 'm-x' is/);
    } finally {
      await rm(deployed, { recursive: true, force: true });
    }
  });

  it('returns no model for a missing folder', async () => {
    assert.deepEqual(await readModels(path.join(dir, 'absent')), []);
  });

  it('reads every committed model', async () => {
    const models = await readModels(fileURLToPath(new URL('../../../models', import.meta.url)));
    assert.ok(models.length > 0);
    const qt = models.find((m) => m.name === 'question-topic');
    assert.deepEqual(qt?.served, ['1', '2']);
    assert.equal(qt?.settings.app, 'question-topic');
  });
});
