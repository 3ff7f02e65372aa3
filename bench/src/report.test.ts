import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { markdownTables, renderResults, tableCells } from './report.js';
import { isBulkResults, isGatewayResults, isModelsResults, isTrafficResults, type AnyResults } from './results.js';
import { REPO_ROOT } from './settings.js';

const RESULTS_DIR = path.join(REPO_ROOT, 'bench/results');
const runs = readdirSync(RESULTS_DIR).filter((f) => f.endsWith('.json')).sort();
const load = (file: string): AnyResults => JSON.parse(readFileSync(path.join(RESULTS_DIR, file), 'utf8')) as AnyResults;
const isLoadRun = (results: AnyResults) => !isModelsResults(results) && !isBulkResults(results) && !isTrafficResults(results) && !isGatewayResults(results);

describe('tableCells', () => {
  it('splits a row on its pipes, keeping empty cells', () => {
    assert.deepEqual(tableCells('| a | b |'), ['a', 'b']);
    assert.deepEqual(tableCells('| other | 0 | | |'), ['other', '0', '', '']);
    assert.deepEqual(tableCells('|---|---:|'), ['---', '---:']);
  });
});

describe('renderResults', () => {
  it('has committed runs to render, load runs and models runs', () => {
    assert.ok(runs.some((file) => isLoadRun(load(file))));
    assert.ok(runs.some((file) => isModelsResults(load(file))));
  });

  for (const file of runs) {
    it(`renders every table of ${file} with as many cells in each row as in its header`, () => {
      const results = load(file);
      const tables = markdownTables(renderResults(results));
      // A load run: targets and six scenarios; a models run: summary, start-up, in-process, gateway;
      // a bulk run: the second client and the bulk requests; a traffic run: targets and its points; a gateway run:
      // the comparison and every round.
      const expected = isModelsResults(results) ? 4 : isBulkResults(results) || isTrafficResults(results) || isGatewayResults(results) ? 2 : 7;
      assert.ok(tables.length >= expected, `only ${tables.length} tables`);
      for (const rows of tables) {
        const [header, separator, ...data] = rows;
        assert.ok(header !== undefined && separator !== undefined, 'a table needs a header and a separator');
        const width = tableCells(header).length;
        assert.match(separator, /^\|(\s*:?-+:?\s*\|)+$/, `not a separator row: ${separator}`);
        assert.equal(tableCells(separator).length, width, `separator of "${header}"`);
        assert.ok(data.length > 0, `no rows under "${header}"`);
        for (const row of data) assert.equal(tableCells(row).length, width, `"${row}" under "${header}"`);
      }
    });

    it(`matches the committed ${file.replace(/\.json$/, '.md')} (regenerate with \`pnpm bench report\`)`, () => {
      const committed = readFileSync(path.join(RESULTS_DIR, file.replace(/\.json$/, '.md')), 'utf8');
      assert.equal(committed, renderResults(load(file)));
    });
  }
});
