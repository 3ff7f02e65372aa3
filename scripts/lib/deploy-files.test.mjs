import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { defaultModelSettings, modelSettingsSchema, readModels } from '@modeldock/model-settings';
import { parse } from 'yaml';
import { COMPOSE_BEGIN, COMPOSE_END, GENERATED_DIR, GENERIC_APP, composeCpus, deployFiles, loadQuery, readAppVersions } from './deploy-files.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const models = await readModels(path.join(ROOT, 'models'));
const compose = readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
const appVersions = readAppVersions(ROOT, [...new Set([GENERIC_APP, ...models.map((m) => m.settings.app ?? GENERIC_APP)])]);
const generate = (list) => deployFiles(list, { appVersions, compose });

describe('the committed deploy files', () => {
  it('are what `pnpm deploy:gen` generates from models/*/model-settings.json (run it after changing a model)', () => {
    for (const [file, content] of generate(models)) {
      assert.ok(existsSync(path.join(ROOT, file)), `${file} is missing: run pnpm deploy:gen`);
      assert.equal(readFileSync(path.join(ROOT, file), 'utf8'), content, `${file} is stale: run pnpm deploy:gen`);
    }
  });

  it(`leave nothing in ${GENERATED_DIR}/ that no model generates`, () => {
    const files = generate(models);
    const present = readdirSync(path.join(ROOT, GENERATED_DIR), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
    assert.deepEqual(present.filter((file) => !files.has(file)), []);
  });
});

describe('deployFiles', () => {
  const added = {
    name: 'new-model',
    dir: '/models/new-model',
    versions: ['3', '4'],
    served: ['3', '4'],
    settings: modelSettingsSchema.parse({ versions: 'all', maxBatchSize: 8, replicas: { min: 1, max: 3 }, aliases: [{ method: 'POST', path: '/new' }] }),
  };
  const files = generate([...models, added]);

  it('routes the gateway to every model at its Service, with its aliases', () => {
    const gateway = JSON.parse(files.get('deploy/gateway/models.json'));
    assert.deepEqual(gateway['new-model'], { upstream: 'http://new-model:8501', aliases: [{ method: 'POST', path: '/new' }] });
    assert.deepEqual(Object.keys(gateway), [...models.map((m) => m.name), 'new-model']);
  });

  it("instantiates the workload with the model's versions, settings and the default resources", () => {
    const server = parse(files.get('deploy/k8s/models/new-model/server/kustomization.yaml'));
    assert.deepEqual(server.resources, ['../../../model-server']);
    assert.equal(server.images, undefined, 'the generic server image');
    const ops = parse(server.patches.find((p) => p.target.kind === 'Deployment').patch);
    const env = ops.filter((op) => op.path.endsWith('/env/-')).map((op) => `${op.value.name}=${op.value.value}`);
    assert.deepEqual(env, ['MODEL_NAME=new-model', 'MODEL_DIR=/models/new-model', 'MODEL_VERSIONS=all', 'MODEL_MAX_BATCH_SIZE=8']);
    const images = ops.filter((op) => /initContainers\/\d+\/image$/.test(op.path)).map((op) => op.value);
    assert.deepEqual(images, ['modeldock/new-model-model:3', 'modeldock/new-model-model:4']);
    assert.deepEqual(ops.find((op) => op.path.endsWith('/resources')).value, defaultModelSettings().resources);
  });

  it('scales it on its own load with KEDA: its replica bounds, two batches in flight per replica by default', () => {
    const keda = parse(files.get('deploy/k8s/models/new-model/keda/kustomization.yaml'));
    const ops = Object.fromEntries(parse(keda.patches[0].patch).map((op) => [op.path, op.value]));
    assert.equal(ops['/spec/minReplicaCount'], 1);
    assert.equal(ops['/spec/maxReplicaCount'], 3);
    assert.equal(ops['/spec/triggers/0/metadata/threshold'], '16');
    assert.equal(ops['/spec/triggers/0/metadata/query'], loadQuery('new-model'));
    assert.match(loadQuery('new-model'), /^sum\(modeldock_batch_queue_length\{namespace="modeldock",model="new-model"\}\) \+ sum\(modeldock_engine_rows_in_flight\{.*\}\)$/);
  });

  it('lists it in every overlay with the autoscaler that overlay uses', () => {
    for (const [overlay, autoscaler] of [['cpu', 'keda'], ['gpu', 'keda'], ['dev', 'hpa']]) {
      const list = parse(files.get(`deploy/k8s/overlays/${overlay}/models/kustomization.yaml`));
      assert.ok(list.resources.includes('../../../models/new-model/server'), overlay);
      assert.ok(list.resources.includes(`../../../models/new-model/${autoscaler}`), overlay);
    }
  });

  it('adds its compose service between the markers and keeps the rest of docker-compose.yml', () => {
    const updated = files.get('docker-compose.yml');
    const block = updated.slice(updated.indexOf(COMPOSE_BEGIN), updated.indexOf(COMPOSE_END));
    assert.match(block, /^ {2}new-model:\n {4}<<: \*model-server\n/m);
    assert.match(block, /args: \{ APP: model-server, MODEL: new-model, TFJS_BACKEND: "\$\{TFJS_BACKEND:-tensorflow\}" \}/);
    assert.equal(updated.slice(0, updated.indexOf(COMPOSE_BEGIN)), compose.slice(0, compose.indexOf(COMPOSE_BEGIN)));
    assert.equal(updated.slice(updated.indexOf(COMPOSE_END)), compose.slice(compose.indexOf(COMPOSE_END)));
    const services = parse(updated, { merge: true }).services;
    assert.deepEqual(services['new-model'].deploy.resources.limits, { cpus: '1', memory: '1Gi' });
  });

  it('drops a removed model from every file', () => {
    const without = generate(models.slice(1));
    const gone = models[0].name;
    assert.ok(![...without.keys()].some((file) => file.includes(`/models/${gone}/`)));
    assert.equal(JSON.parse(without.get('deploy/gateway/models.json'))[gone], undefined);
    assert.ok(!without.get('deploy/k8s/overlays/cpu/models/kustomization.yaml').includes(`/${gone}/`));
  });

  it('generates a further deployment of a model as its own Service, compose service and autoscaler, and the gateway backends and shadow', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'modeldock-deploy-'));
    try {
      for (const version of ['1', '2']) mkdirSync(path.join(dir, 'qt', version), { recursive: true });
      writeFileSync(
        path.join(dir, 'qt/model-settings.json'),
        JSON.stringify({ versions: 'all', defaultVersion: '1', deployments: [{ name: 'v1', weight: 90 }, { name: 'v2', weight: 10, defaultVersion: '2' }], shadow: { backend: 'v2', percent: 50 } }),
      );
      const split = generate(await readModels(dir));
      assert.deepEqual(JSON.parse(split.get('deploy/gateway/models.json')), {
        qt: {
          backends: [
            { name: 'v1', upstream: 'http://qt:8501', weight: 90 },
            { name: 'v2', upstream: 'http://qt-v2:8501', weight: 10 },
          ],
          shadow: { backend: 'v2', percent: 50 },
        },
      });
      const local = JSON.parse(split.get('deploy/gateway/models.local.json'));
      assert.deepEqual(local.qt.backends.map((b) => b.upstream), ['http://127.0.0.1:8502', 'http://127.0.0.1:8503']);

      const services = parse(split.get('docker-compose.yml'), { merge: true }).services;
      assert.equal(services.qt.environment.MODEL_DEFAULT_VERSION, undefined, 'the first deployment reads its settings from the model');
      assert.equal(services['qt-v2'].environment.MODEL_DEFAULT_VERSION, '2');
      assert.equal(services['qt-v2'].environment.MODEL_DRAIN_TIMEOUT_MS, '130000', 'every model service setting too');
      assert.equal(services['qt-v2'].image, services.qt.image, 'the same model, the same image');

      const server = parse(split.get('deploy/k8s/models/qt-v2/server/kustomization.yaml'));
      assert.deepEqual(server.labels[0].pairs, { 'app.kubernetes.io/name': 'qt-v2' });
      const deployment = parse(server.patches.find((p) => p.target.kind === 'Deployment').patch);
      const env = Object.fromEntries(deployment.filter((op) => op.path.endsWith('/env/-')).map((op) => [op.value.name, op.value.value]));
      assert.deepEqual([env.MODEL_NAME, env.MODEL_DIR, env.MODEL_DEFAULT_VERSION], ['qt', '/models/qt', '2']);
      assert.deepEqual(deployment.filter((op) => /initContainers\/\d+\/image$/.test(op.path)).map((op) => op.value), ['modeldock/qt-model:1', 'modeldock/qt-model:2']);
      const keda = parse(parse(split.get('deploy/k8s/models/qt-v2/keda/kustomization.yaml')).patches[0].patch);
      assert.equal(keda.find((op) => op.path.endsWith('/query')).value, loadQuery('qt', 'qt-v2'));
      assert.match(loadQuery('qt', 'qt-v2'), /\{namespace="modeldock",model="qt",service="qt-v2"\}/);
      assert.equal(parse(parse(split.get('deploy/k8s/models/qt/keda/kustomization.yaml')).patches[0].patch).find((op) => op.path.endsWith('/query')).value, loadQuery('qt', 'qt'));
      const overlay = parse(split.get('deploy/k8s/overlays/cpu/models/kustomization.yaml'));
      assert.deepEqual(overlay.resources, ['../../../models/qt/server', '../../../models/qt/keda', '../../../models/qt-v2/server', '../../../models/qt-v2/keda']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('converts millicores for compose', () => {
    assert.deepEqual(['500m', '1', '2.5', '1500m'].map(composeCpus), ['0.5', '1', '2.5', '1.5']);
  });
});
