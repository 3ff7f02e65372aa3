import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { asDocsSection, embeddedSection, embeddedSource, embedReport, MEMORY_REGION, MODELS_REGION, RUN_REGION } from './docs.js';
import { renderMemoryTable } from './models-report.js';
import { listBenchModels } from './models.js';
import { renderResults } from './report.js';
import { isModelsResults, type BenchResults, type ModelsResults } from './results.js';
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

const WITH_MODELS = `${DOCS}
## Models

Models source: \`bench/results/models-old.md\` (JSON next to it).

| old models |
|---|
| 0 |
`;

describe('embedReport in the models region', () => {
  const report = '# Models benchmark x\n\nmachine\n\n## Summary\n\n| m |\n|---|\n| 3 |\n';

  it('replaces the models tables up to the end of the page, leaving the load run alone', () => {
    const out = embedReport(WITH_MODELS, 'bench/results/models-new.md', report, MODELS_REGION);
    assert.equal(embeddedSource(out, MODELS_REGION), 'bench/results/models-new.md');
    assert.equal(embeddedSection(out, MODELS_REGION), 'machine\n\n### Summary\n\n| m |\n|---|\n| 3 |');
    assert.equal(embeddedSource(out, RUN_REGION), 'bench/results/old.md');
    assert.ok(out.startsWith(DOCS));
    assert.ok(out.endsWith('| 3 |\n'));
    assert.ok(!out.includes('old models'));
  });

  it('stops at the next ## section when one follows', () => {
    const out = embedReport(`${WITH_MODELS}\n## Later\n\nkept\n`, 'bench/results/models-new.md', report, MODELS_REGION);
    assert.ok(out.endsWith('| 3 |\n\n## Later\n\nkept\n'));
    assert.equal(embeddedSection(out, MODELS_REGION), 'machine\n\n### Summary\n\n| m |\n|---|\n| 3 |');
  });

  it('throws naming the models source line when the docs have none', () => {
    assert.throws(() => embedReport(DOCS, 'bench/results/models-new.md', report, MODELS_REGION), /Models source:/);
  });
});

describe('docs/benchmarks.md', () => {
  const docs = readFileSync(path.join(REPO_ROOT, 'docs/benchmarks.md'), 'utf8');
  for (const [what, region] of [['load run', RUN_REGION], ['models run', MODELS_REGION]] as const) {
    it(`embeds exactly the tables its ${what} renders (regenerate with \`pnpm bench report <json> --docs\`)`, () => {
      const source = embeddedSource(docs, region);
      assert.ok(source !== undefined, `no ${region.sourceLine('...')} line`);
      const results = JSON.parse(readFileSync(path.join(REPO_ROOT, source.replace(/\.md$/, '.json')), 'utf8')) as BenchResults | ModelsResults;
      assert.equal(embeddedSection(docs, region), asDocsSection(renderResults(results)));
    });
  }
});

describe('deploy/README.md', () => {
  it('shows the memory of each process exactly as a recorded `bench models` run measured it (`pnpm bench report <json> --docs`)', () => {
    const docs = readFileSync(path.join(REPO_ROOT, 'deploy/README.md'), 'utf8');
    const source = embeddedSource(docs, MEMORY_REGION);
    assert.ok(source !== undefined, `no ${MEMORY_REGION.sourceLine('...')} line`);
    const results = JSON.parse(readFileSync(path.join(REPO_ROOT, source.replace(/\.md$/, '.json')), 'utf8')) as BenchResults | ModelsResults;
    assert.ok(isModelsResults(results), `${source} is not a bench models run`);
    assert.equal(embeddedSection(docs, MEMORY_REGION), asDocsSection(renderMemoryTable(results)));
  });

  it('cites a run of every committed model, each serving the versions it serves now (else: run `pnpm bench models --record`)', async () => {
    const docs = readFileSync(path.join(REPO_ROOT, 'deploy/README.md'), 'utf8');
    const source = embeddedSource(docs, MEMORY_REGION) ?? '';
    const results = JSON.parse(readFileSync(path.join(REPO_ROOT, source.replace(/\.md$/, '.json')), 'utf8')) as ModelsResults;
    // Committed models only: a model someone is trying out in models/ is theirs, not the docs'.
    const committed = new Set(
      execFileSync('git', ['ls-files', '--', 'models'], { cwd: REPO_ROOT, encoding: 'utf8' })
        .split('\n')
        .map((file) => file.split('/')[1]),
    );
    const now = (await listBenchModels(path.join(REPO_ROOT, 'models'))).filter((m) => committed.has(m.name));
    assert.deepEqual(
      results.models.map((m) => [m.name, m.servedVersions]),
      now.map((m) => [m.name, m.servedVersions]),
    );
  });
});
