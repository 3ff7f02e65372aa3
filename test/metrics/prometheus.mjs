// Prometheus' side of the metrics tests: promtool, and what a /metrics answer exports.
import { spawnSync } from 'node:child_process';

const PROMTOOL_TIMEOUT_MS = 60_000;

/**
 * Runs promtool with `args` (and `input` on its standard input). Throws, naming the package to install, when
 * promtool is not on PATH: the tests that need it must fail then, not pass unchecked.
 *
 * @returns the exit status and everything promtool printed
 */
export function promtool(args, input) {
  const run = spawnSync('promtool', args, { input, encoding: 'utf8', timeout: PROMTOOL_TIMEOUT_MS });
  if (run.error?.code === 'ENOENT') {
    throw new Error('promtool is not installed: it comes with the Debian package prometheus (apt-get install --no-install-recommends prometheus; .ci/run installs it when it is missing)');
  }
  if (run.error !== undefined) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

/** The series names each metric type writes in the text format (a histogram's buckets, sum and count). */
const SERIES_SUFFIXES = { histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] };

/**
 * What a Prometheus text exposition exports: each series name (a histogram's `_bucket`, `_sum` and `_count`
 * included, even before its first observation) mapped to the label names of its samples (empty while it has
 * none: a labelled counter never incremented has only its `# TYPE` line).
 */
export function exportedSeries(text) {
  const series = new Map();
  const add = (name) => series.get(name) ?? series.set(name, []).get(name);
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\w+)$/.exec(line);
    if (type !== null) {
      for (const suffix of SERIES_SUFFIXES[type[2]] ?? ['']) add(`${type[1]}${suffix}`);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? \S+$/.exec(line);
    if (sample === null) throw new Error(`not a line of the text format: ${line}`);
    add(sample[1]).push(new Set([...(sample[2] ?? '').matchAll(/(\w+)="/g)].map((m) => m[1])));
  }
  return series;
}
