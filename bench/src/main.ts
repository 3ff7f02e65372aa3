// The bench command line: parses first, so `--help` and a bad flag answer without loading TF.js or
// starting anything; the run itself lives in run.ts.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { embedReport, MEMORY_REGION, MODELS_REGION, RUN_REGION, type DocsRegion } from './docs.js';
import { renderMemoryTable } from './models-report.js';
import { renderResults } from './report.js';
import { isBulkResults, isGatewayResults, isModelsResults, isTrafficResults, type AnyResults } from './results.js';
import { parseCommand, REPO_ROOT, USAGE, UsageError, type BenchCommand } from './settings.js';

const DOCS_FILE = path.join(REPO_ROOT, 'docs/benchmarks.md');
/** Where the memory figures of a `bench models` run are shown (containers are sized from them). */
const DEPLOY_FILE = path.join(REPO_ROOT, 'deploy/README.md');

/** Replaces `region` of `file` with `markdown`, citing `md` as its source. */
async function embedIn(file: string, md: string, markdown: string, region: DocsRegion): Promise<void> {
  const current = await readFile(file, 'utf8');
  await writeFile(file, embedReport(current, path.relative(REPO_ROOT, md).split(path.sep).join('/'), markdown, region));
  console.log(`updated ${path.relative(REPO_ROOT, file)}`);
}

/**
 * `bench report <file.json>`: the .md next to the JSON (and optionally its section of the docs, and for a
 * `bench models` run the memory table of deploy/README.md) rebuilt from the JSON.
 */
async function report(file: string, docs: boolean): Promise<number> {
  const json = path.resolve(process.env.INIT_CWD ?? process.cwd(), file);
  if (!json.endsWith('.json') || !existsSync(json)) throw new UsageError(`no results file ${file} (expected bench/results/<name>.json)`);
  const results = JSON.parse(await readFile(json, 'utf8')) as AnyResults;
  const markdown = renderResults(results);
  const md = json.replace(/\.json$/, '.md');
  await writeFile(md, markdown);
  console.log(`wrote ${path.relative(REPO_ROOT, md)}`);
  if (docs && isGatewayResults(results)) throw new UsageError('a gateway run has no section in docs/benchmarks.md; see apps/gateway/PERF.md');
  if (docs && (isBulkResults(results) || isTrafficResults(results))) {
    throw new UsageError('a bulk or traffic run has no generated section in docs/benchmarks.md: its section there cites the run');
  }
  if (docs) {
    await embedIn(DOCS_FILE, md, markdown, isModelsResults(results) ? MODELS_REGION : RUN_REGION);
    if (isModelsResults(results)) await embedIn(DEPLOY_FILE, md, renderMemoryTable(results), MEMORY_REGION);
  }
  return 0;
}

async function main(argv: readonly string[]): Promise<number> {
  let command: BenchCommand;
  try {
    command = parseCommand(argv);
    if (command.kind === 'help') {
      console.log(USAGE);
      return 0;
    }
    if (command.kind === 'report') return await report(command.file, command.docs);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`bench: ${err.message}; see --help`);
    return 2;
  }
  if (command.kind === 'gateway') {
    const { runGatewayBench } = await import('./gateway-run.js');
    return runGatewayBench(command.settings);
  }
  if (command.kind === 'models') {
    const { runModels } = await import('./models-run.js');
    return runModels(command.settings);
  }
  if (command.kind === 'bulk') {
    const { runBulk } = await import('./bulk-run.js');
    return runBulk(command.settings);
  }
  if (command.kind === 'traffic') {
    const { runTraffic } = await import('./traffic-run.js');
    return runTraffic(command.settings);
  }
  const { runBench } = await import('./run.js');
  return runBench(command.settings);
}

process.exitCode = await main(process.argv.slice(2));
// autocannon and fetch keep-alive sockets must not hold the process open.
process.exit();
