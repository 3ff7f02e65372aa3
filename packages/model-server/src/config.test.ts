import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SERVING_SETTINGS } from '@modeldock/model-settings';
import { loadServerSettings, serverSettingsSchema, settingsReference, variableName } from './config.js';

describe('loadServerSettings', () => {
  it('reads MODEL_* for the generic server without doubling the prefix', () => {
    const settings = loadServerSettings('MODEL_', { MODEL_DIR: '/models/x', MODEL_PORT: '9000', MODEL_MAX_QUEUE: '5' });
    assert.deepEqual([settings.MODEL_DIR, settings.PORT, settings.MAX_QUEUE], ['/models/x', 9000, 5]);
    assert.equal(variableName('MODEL_', 'MODEL_VERSIONS'), 'MODEL_VERSIONS');
    assert.equal(variableName('QT_', 'MODEL_VERSIONS'), 'QT_MODEL_VERSIONS');
  });

  it('applies app defaults under the environment and names bad variables with their prefix', () => {
    assert.equal(loadServerSettings('QT_', {}, { MODEL_DIR: '/m', PORT: '8501' }).PORT, 8501);
    assert.equal(loadServerSettings('QT_', { QT_PORT: '1' }, { MODEL_DIR: '/m', PORT: '8501' }).PORT, 1);
    assert.throws(() => loadServerSettings('MODEL_', {}), /MODEL_DIR: /);
    assert.throws(() => loadServerSettings('QT_', { QT_MODEL_DIR: '/m', QT_MAX_BATCH_SIZE: '0', QT_DEFAULT_VERSION: 'x' }), (error: Error) =>
      ['QT_MAX_BATCH_SIZE', 'QT_DEFAULT_VERSION'].every((name) => error.message.includes(name)),
    );
  });

  it('reads an alias prefix where the prefix is unset, and refuses the two set to different values', () => {
    const defaults = { MODEL_DIR: '/m' };
    assert.equal(loadServerSettings('MODEL_', { QT_PORT: '7' }, defaults, 'QT_').PORT, 7);
    assert.equal(loadServerSettings('MODEL_', { QT_PORT: '7', MODEL_PORT: '7' }, defaults, 'QT_').PORT, 7);
    assert.equal(loadServerSettings('MODEL_', { QT_MODEL_DIR: '/q' }, {}, 'QT_').MODEL_DIR, '/q');
    assert.throws(() => loadServerSettings('MODEL_', { QT_PORT: '7', MODEL_PORT: '8' }, defaults, 'QT_'), /MODEL_PORT and QT_PORT differ/);
    assert.equal(loadServerSettings('MODEL_', { QT_PORT: '7' }, defaults).PORT, 8501);
  });

  it('refuses a model name that is not a DNS label (it names Services and compose services)', () => {
    assert.throws(() => loadServerSettings('MODEL_', { MODEL_DIR: '/m', MODEL_NAME: 'My_Model' }), /MODEL_NAME: lowercase letters/);
  });

  it('has a setting for every serving field of model-settings.json', () => {
    for (const key of Object.values(SERVING_SETTINGS)) assert.ok(key in serverSettingsSchema.shape, key);
  });

  it('trusts forwarded addresses from loopback only by default, from the CIDR blocks given, or from no one', () => {
    assert.deepEqual(loadServerSettings('MODEL_', { MODEL_DIR: '/m' }).TRUSTED_PROXIES, ['127.0.0.0/8', '::1']);
    assert.deepEqual(loadServerSettings('QT_', { QT_MODEL_DIR: '/m', QT_TRUSTED_PROXIES: '172.16.0.0/12, 10.0.0.0/8' }).TRUSTED_PROXIES, ['172.16.0.0/12', '10.0.0.0/8']);
    assert.deepEqual(loadServerSettings('MODEL_', { MODEL_DIR: '/m', MODEL_TRUSTED_PROXIES: 'none' }).TRUSTED_PROXIES, []);
    assert.throws(() => loadServerSettings('MODEL_', { MODEL_DIR: '/m', MODEL_TRUSTED_PROXIES: '10.0.0.0/33' }), /MODEL_TRUSTED_PROXIES: .*'10\.0\.0\.0\/33' is not an IP address or CIDR block/);
  });

  it('documents every setting with its default and meaning', () => {
    const reference = settingsReference('MODEL_');
    assert.ok(reference.every((row) => row.meaning.length > 0), 'every setting has a description');
    assert.deepEqual(reference.find((row) => row.variable === 'MODEL_MAX_BATCH_SIZE')?.default, '32');
    assert.equal(reference.find((row) => row.variable === 'MODEL_DIR')?.default, undefined);
  });
});
