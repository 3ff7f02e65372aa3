import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

describe('the gateway code', () => {
  it('names no model and no model route: both come from configuration', () => {
    const models = readdirSync(new URL('../../../models/', import.meta.url), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
    assert.ok(models.length >= 3);
    const sources = readdirSync(new URL('.', import.meta.url)).filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'));
    for (const file of sources) {
      const text = readFileSync(new URL(file, import.meta.url), 'utf8');
      for (const name of [...models, 'predict_topic']) assert.ok(!text.includes(name), `${file} names '${name}'`);
    }
  });
});
