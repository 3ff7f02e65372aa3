import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { renderConfigReference } from './config-reference.mjs';

describe('docs/configuration.md', () => {
  it('is what the configuration schemas generate (run `pnpm docs:config` after changing a setting)', () => {
    const committed = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    assert.equal(committed, renderConfigReference());
  });

  it('documents every setting with a meaning', () => {
    const rows = renderConfigReference().split('\n').filter((line) => line.startsWith('| `'));
    assert.ok(rows.length > 50, `${rows.length} rows`);
    for (const row of rows) assert.doesNotMatch(row, /\|\s*\|$/, `a setting without a meaning: ${row}`);
  });
});
