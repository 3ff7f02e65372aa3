import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadServerSettings, selectVersions, settingsReference, variableName } from './config.js';

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

describe('selectVersions', () => {
  const found = ['10', '2', '1'];

  it('serves the highest version by default, every version with all, or a list', () => {
    assert.deepEqual(selectVersions('latest', found), ['10']);
    assert.deepEqual(selectVersions('all', found), ['1', '2', '10']);
    assert.deepEqual(selectVersions('10,1', found), ['1', '10']);
  });

  it('names the versions that are not on disk', () => {
    assert.throws(() => selectVersions('2,3', found), /versions 3 not found \(found: 1, 2, 10\)/);
    assert.throws(() => selectVersions('latest', []), /no model versions/);
  });
});
