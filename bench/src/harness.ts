// What every bench suite shares: progress lines, the machine and commit a run describes, its
// child processes stopped whatever happens, and where its results go.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LoadResult } from './load.js';
import { ProcessSupervisor, rssMiB } from './processes.js';
import { REPO_ROOT } from './settings.js';

/** Where recorded runs go (committed: the docs cite them). */
export const RESULTS_DIR = path.join(REPO_ROOT, 'bench/results');
/** Where every other run goes (ignored by git): a run is recorded only when asked (`--record`). */
export const LOCAL_RESULTS_DIR = path.join(RESULTS_DIR, 'local');

/** The folder a run writes to. */
export function resultsDir(record: boolean): string {
  return record ? RESULTS_DIR : LOCAL_RESULTS_DIR;
}

/** The machine a run measured on, as results files record it. */
export interface MachineDescription {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  kernel: string;
}

const benchStarted = performance.now();

/** Prints one progress line with the elapsed time (`[mm:ss] message`). */
export function progress(message: string): void {
  const s = Math.round((performance.now() - benchStarted) / 1000);
  console.log(`[${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}] ${message}`);
}

/** This machine: CPU, cores, memory, Node and kernel. */
export function machine(): MachineDescription {
  return {
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
  };
}

/** The checked-out commit, marked when the tree has uncommitted changes. */
export function gitDescription(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${commit} (uncommitted changes)` : commit;
  } catch {
    return 'unknown';
  }
}

/** A process's last log lines as results keep them: no empty lines, no paths of this machine. */
export function committableLog(tail: string): string[] {
  return tail
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.replaceAll(REPO_ROOT, '<repo>/'));
}

/** `YYYY-MM-DD` and `HHMMSS` of `date`, local time. */
export function dateParts(date: Date): { day: string; time: string } {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return {
    day: `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`,
    time: `${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`,
  };
}

/** One load point as a progress line: rates, latency, shed and failed responses, a busy machine. */
export function loadSummary(r: LoadResult): string {
  const other = r.errors + r.unexpected;
  const shed = Object.entries(r.statusCounts)
    .filter(([code]) => code === '503' || code === '429')
    .map(([code, n]) => `, ${n}×${code}`)
    .join('');
  const ms = (v: number): string => v.toFixed(1);
  const busy = r.otherCpuCores !== null && r.otherCpuCores > 0.2 ? ` [other processes used ${r.otherCpuCores} cores]` : '';
  return `${r.requestsPerS.toFixed(1)} req/s, ${r.textsPerS.toFixed(1)} texts/s, p50 ${ms(r.latency.p50)} p99 ${ms(r.latency.p99)} ms${shed}${other > 0 ? `, ${other} ERRORS` : ''}${busy}`;
}

/** Writes `<base>.json` (pretty) and `<base>.md` under bench/results (recorded) or bench/results/local. */
export async function writeResultFiles(base: string, results: unknown, markdown: string, record: boolean): Promise<{ json: string; md: string }> {
  const dir = resultsDir(record);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, base);
  await writeFile(`${file}.json`, `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(`${file}.md`, markdown);
  return { json: `${file}.json`, md: `${file}.md` };
}

/**
 * The `write` step of {@link runSuite} for a suite whose results carry their start time: renders them and writes
 * `<name>-<YYYY-MM-DD>-<HHMMSS>.{json,md}` (see {@link writeResultFiles}).
 */
export function timestampedResults<T extends { meta: { startedAt: string } }>(
  name: string,
  render: (results: T) => string,
  record: boolean,
): (results: T) => Promise<{ json: string; md: string; markdown: string }> {
  return async (results) => {
    const { day, time } = dateParts(new Date(results.meta.startedAt));
    const markdown = render(results);
    return { ...(await writeResultFiles(`${name}-${day}-${time}`, results, markdown, record)), markdown };
  };
}

/** Whether `<base>.json` or `.md` exists already where a run writes. */
export function resultsExist(base: string, record: boolean): boolean {
  const file = path.join(resultsDir(record), base);
  return existsSync(`${file}.json`) || existsSync(`${file}.md`);
}

/**
 * Runs a suite with a process supervisor, writes and prints its results, and stops every child
 * on the way out (also on SIGINT/SIGTERM). Resolves to the exit code: 1 when the suite broke or
 * found unexpected errors (results are still written), else 0.
 */
export async function runSuite<T extends { anomalies: readonly string[] }>(
  measure: (supervisor: ProcessSupervisor) => Promise<T>,
  write: (results: T) => Promise<{ json: string; md: string; markdown: string }>,
): Promise<number> {
  const supervisor = new ProcessSupervisor();
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true;
      progress(`${signal}: stopping child processes`);
      void supervisor.stopAll().finally(() => process.exit(130));
    });
  }
  try {
    const results = await measure(supervisor);
    const { json, md, markdown } = await write(results);
    console.log(`\n${markdown}`);
    progress(`wrote ${path.relative(REPO_ROOT, json)} and ${path.relative(REPO_ROOT, md)}; bench RSS ${rssMiB(process.pid).toFixed(0)} MiB`);
    if (results.anomalies.length > 0) {
      console.error(`unexpected errors:\n- ${results.anomalies.join('\n- ')}`);
      return 1;
    }
    return 0;
  } catch (err) {
    if (!interrupted) console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    await supervisor.stopAll();
  }
}
