import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadServerSettings, readServingDefaults } from '@modeldock/model-server';
import { DEFAULTS, ENV_PREFIX, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('has working defaults for every setting', () => {
    const config = loadConfig({});
    assert.equal(config.PORT, 8501);
    assert.equal(config.BACKEND, 'auto');
    assert.equal(config.DEVICE, 'cpu');
    assert.equal(config.ENGINE_THREAD, 'worker');
    assert.equal(config.MAX_BATCH_SIZE, 32);
    assert.equal(config.MODEL_VERSIONS, 'latest');
    assert.match(config.MODEL_DIR, /models[/\\]question-topic$/);
    assert.ok(Object.isFrozen(config));
  });

  it('reads MODEL_-prefixed variables, as every model server, and ignores others', () => {
    const config = loadConfig({ MODEL_PORT: '9000', MODEL_BACKEND: 'wasm', MODEL_MAX_BATCH_SIZE: '1', PORT: '1234' });
    assert.deepEqual([config.PORT, config.BACKEND, config.MAX_BATCH_SIZE], [9000, 'wasm', 1]);
  });

  it('still reads QT_-prefixed variables, its documented alias, and refuses one that contradicts MODEL_*', () => {
    const config = loadConfig({ QT_PORT: '9000', QT_MAX_BATCH_SIZE: '1', MODEL_MAX_BATCH_SIZE: '1' });
    assert.deepEqual([config.PORT, config.MAX_BATCH_SIZE], [9000, 1]);
    assert.throws(() => loadConfig({ QT_PORT: '9000', MODEL_PORT: '5' }), /MODEL_PORT and QT_PORT differ/);
  });

  it('rejects invalid values, naming each variable', () => {
    assert.throws(
      () => loadConfig({ MODEL_BACKEND: 'cuda', MODEL_MAX_BATCH_SIZE: '0', MODEL_VERSIONS: 'v2' }),
      (error: Error) => ['MODEL_BACKEND', 'MODEL_MAX_BATCH_SIZE', 'MODEL_VERSIONS'].every((name) => error.message.includes(name)),
    );
  });

  it("serves every version of the shipped model, v1 unversioned, with labels stable → 1 and canary → 2", async () => {
    const fromModel = await readServingDefaults(DEFAULTS.MODEL_DIR as string);
    const settings = loadServerSettings(ENV_PREFIX, {}, { ...DEFAULTS, ...fromModel });
    assert.deepEqual([settings.MODEL_VERSIONS, settings.DEFAULT_VERSION, settings.VERSION_LABELS], ['all', '1', { stable: '1', canary: '2' }]);
  });
});
