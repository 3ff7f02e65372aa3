import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig, selectVersions } from './config.js';

describe('loadConfig', () => {
  it('has working defaults for every setting', () => {
    const config = loadConfig({});
    assert.equal(config.QT_PORT, 8501);
    assert.equal(config.QT_BACKEND, 'auto');
    assert.equal(config.QT_DEVICE, 'cpu');
    assert.equal(config.QT_ENGINE_THREAD, 'worker');
    assert.equal(config.QT_MAX_BATCH_SIZE, 32);
    assert.equal(config.QT_MODEL_VERSIONS, 'latest');
    assert.match(config.QT_MODEL_DIR, /models[/\\]question-topic$/);
    assert.ok(Object.isFrozen(config));
  });

  it('reads prefixed variables and ignores others', () => {
    const config = loadConfig({ QT_PORT: '9000', QT_BACKEND: 'wasm', QT_MAX_BATCH_SIZE: '1', PORT: '1234' });
    assert.deepEqual([config.QT_PORT, config.QT_BACKEND, config.QT_MAX_BATCH_SIZE], [9000, 'wasm', 1]);
  });

  it('rejects invalid values, naming each variable', () => {
    assert.throws(
      () => loadConfig({ QT_BACKEND: 'cuda', QT_MAX_BATCH_SIZE: '0', QT_MODEL_VERSIONS: 'v2' }),
      (error: Error) =>
        ['QT_BACKEND', 'QT_MAX_BATCH_SIZE', 'QT_MODEL_VERSIONS'].every((name) => error.message.includes(name)),
    );
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
