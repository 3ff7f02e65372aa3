import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadServerSettings, settingsReference } from './config.js';

describe('loadServerSettings', () => {
  it('reads MODEL_DIR and MODEL_NAME under the MODEL_ prefix, never doubling it', () => {
    const settings = loadServerSettings('MODEL_', { MODEL_DIR: 'models/x', MODEL_NAME: 'x', MODEL_PORT: '9000' });
    assert.equal(settings.MODEL_DIR, 'models/x');
    assert.equal(settings.MODEL_NAME, 'x');
    assert.equal(settings.PORT, 9000);
    assert.ok(settingsReference('MODEL_').some((row) => row.variable === 'MODEL_DIR'));
  });

  it('still reads the doubled spelling MODEL_MODEL_DIR', () => {
    assert.equal(loadServerSettings('MODEL_', { MODEL_MODEL_DIR: 'models/y' }).MODEL_DIR, 'models/y');
  });

  it('keeps QT_MODEL_DIR for the QT_ prefix and names the variable in errors', () => {
    assert.equal(loadServerSettings('QT_', { QT_MODEL_DIR: 'models/q' }).MODEL_DIR, 'models/q');
    assert.throws(() => loadServerSettings('MODEL_', {}), /invalid configuration: MODEL_DIR: /);
  });
});
