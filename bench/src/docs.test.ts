import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { asDocsSection, embeddedSection, embeddedSource, embedReport } from './docs.js';
import { renderMarkdown } from './report.js';
import type { BenchResults } from './results.js';
import { REPO_ROOT } from './settings.js';

const DOCS = `# Benchmarks

## Latest full table

Source: \`bench/results/old.md\` (JSON next to it).

stale text

| a |
|---|
| 1 |


## What the numbers mean

prose
`;

describe('embedReport', () => {
  it('replaces the embedded tables and the source line, keeping the rest', () => {
    const out = embedReport(DOCS, 'bench/results/new.md', '# Benchmark x\n\nmachine\n\n## Targets\n\n| b |\n|---|\n| 2 |\n');
    assert.equal(embeddedSource(out), 'bench/results/new.md');
    assert.equal(embeddedSection(out), 'machine\n\n### Targets\n\n| b |\n|---|\n| 2 |');
    assert.ok(out.startsWith('# Benchmarks\n\n## Latest full table\n\n'));
    assert.ok(out.endsWith('\n\n## What the numbers mean\n\nprose\n'));
    assert.ok(!out.includes('stale text'));
  });

  it('throws when the docs have no place for the tables', () => {
    assert.throws(() => embedReport('# nothing here\n', 'bench/results/new.md', '# x\n'), /Source:/);
  });
});

describe('docs/benchmarks.md', () => {
  it('embeds exactly the tables its source run renders (regenerate with `pnpm bench report <json> --docs`)', () => {
    const docs = readFileSync(path.join(REPO_ROOT, 'docs/benchmarks.md'), 'utf8');
    const source = embeddedSource(docs);
    assert.ok(source !== undefined, 'no Source: line');
    const results = JSON.parse(readFileSync(path.join(REPO_ROOT, source.replace(/\.md$/, '.json')), 'utf8')) as BenchResults;
    assert.equal(embeddedSection(docs), asDocsSection(renderMarkdown(results)));
  });
});
