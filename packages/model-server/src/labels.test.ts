// TF Serving's version labels: `labels` in model-settings.json (or VERSION_LABELS) name served
// versions, reached on /v1/models/<m>/labels/<label>[:predict|:classify|/metadata].
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import supertest from 'supertest';
import { loadServerSettings, readServingDefaults, settingsReference } from './config.js';
import { createTestApp, fakeLabel, FakeClassifier } from './testing.js';

/** Versions 1 and 2 answer differently (2 shifts every label by one). */
const labelled = (versionLabels: Record<string, string> = { stable: '1', canary: '2' }) =>
  createTestApp({ runtimes: [new FakeClassifier('1', 0), new FakeClassifier('2', 1)], defaultVersion: '1', versionLabels });

describe('version labels', () => {
  it('routes :predict, :classify, metadata and status through a label to the version it names', async () => {
    const { app } = labelled();
    const text = 'Who wrote Hamlet?';
    for (const [label, shift] of [['stable', 0], ['canary', 1]] as const) {
      const predict = await supertest(app).post(`/v1/models/question-topic/labels/${label}:predict`).send({ instances: [text] });
      assert.equal(predict.status, 200, predict.text);
      assert.equal(predict.body.predictions[0].label, fakeLabel(text, shift), label);
      const classify = await supertest(app).post(`/v1/models/question-topic/labels/${label}:classify`).send({ examples: [{ text }] });
      assert.equal(classify.status, 200);
      const metadata = await supertest(app).get(`/v1/models/question-topic/labels/${label}/metadata`);
      assert.deepEqual(metadata.body.model_spec, { name: 'question-topic', signature_name: '', version: String(shift + 1), version_label: label });
      const status = await supertest(app).get(`/v1/models/question-topic/labels/${label}`);
      assert.deepEqual(status.body.model_version_status.map((v: { version: string }) => v.version), [String(shift + 1)]);
    }
    // Case-insensitive like every TF Serving route; the label itself is exact.
    assert.equal((await supertest(app).post('/V1/Models/question-topic/Labels/canary:PREDICT').send({ instances: [text] })).status, 200);
  });

  it('shows the labels in OIP model metadata', async () => {
    const res = await supertest(labelled().app).get('/v2/models/question-topic');
    assert.deepEqual(res.body.parameters.version_labels, { stable: '1', canary: '2' });
    const none = await supertest(createTestApp().app).get('/v2/models/question-topic');
    assert.equal(none.body.parameters.version_labels, undefined);
  });

  it('answers 404 naming the known labels for an unknown one (and for one on a model without labels)', async () => {
    const res = await supertest(labelled().app).post('/v1/models/question-topic/labels/beta:predict').send({ instances: ['Who?'] });
    assert.equal(res.status, 404);
    assert.deepEqual(res.body, { error: "version label 'beta' of model 'question-topic' not found; its labels are stable, canary" });
    const inherited = await supertest(labelled().app).get('/v1/models/question-topic/labels/constructor/metadata');
    assert.equal(inherited.status, 404, 'only the labels given, not properties every object has');
    const none = await supertest(createTestApp().app).get(`/v1/models/question-topic/labels/${'x'.repeat(500)}`);
    assert.equal(none.status, 404);
    assert.match(none.body.error, /^version label 'x{64}…' of model 'question-topic' not found; it has no labels$/);
    const model = await supertest(labelled().app).get('/v1/models/other/labels/stable');
    assert.deepEqual(model.body, { error: "model 'other' not found" });
  });

  it('refuses at start-up a label that names a version not served', () => {
    assert.throws(() => labelled({ stable: '1', canary: '3' }), /version labels name versions that are not served: canary=3 \(serving 1, 2\)/);
  });
});

describe('version labels in settings', () => {
  it('reads `labels` from model-settings.json as VERSION_LABELS, which the environment overrides', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'modeldock-labels-'));
    try {
      await writeFile(path.join(dir, 'model-settings.json'), JSON.stringify({ versions: 'all', labels: { stable: '1', canary: '2' } }));
      const defaults = await readServingDefaults(dir);
      assert.equal(defaults.VERSION_LABELS, 'stable=1,canary=2');
      assert.deepEqual(loadServerSettings('MODEL_', { MODEL_DIR: dir }, defaults).VERSION_LABELS, { stable: '1', canary: '2' });
      assert.deepEqual(loadServerSettings('MODEL_', { MODEL_DIR: dir, MODEL_VERSION_LABELS: 'stable=2' }, defaults).VERSION_LABELS, { stable: '2' });
      await writeFile(path.join(dir, 'model-settings.json'), JSON.stringify({ labels: { '2': '1' } }));
      await assert.rejects(readServingDefaults(dir), /"labels\.2": a label is a letter/);
      await writeFile(path.join(dir, 'model-settings.json'), JSON.stringify({ labels: { stable: 'v1' } }));
      await assert.rejects(readServingDefaults(dir), /"labels\.stable": a version \(digits\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names a malformed or repeated label in the variable', () => {
    assert.throws(() => loadServerSettings('QT_', { QT_MODEL_DIR: '/m', QT_VERSION_LABELS: 'stable=one' }), /QT_VERSION_LABELS: .*'stable=one' is not <label>=<version>/);
    assert.throws(() => loadServerSettings('QT_', { QT_MODEL_DIR: '/m', QT_VERSION_LABELS: 'a=1,a=2' }), /label 'a' is given twice/);
    assert.deepEqual(loadServerSettings('QT_', { QT_MODEL_DIR: '/m' }).VERSION_LABELS, {});
    assert.equal(settingsReference('MODEL_').find((row) => row.variable === 'MODEL_VERSION_LABELS')?.default, undefined);
  });
});
