import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';

/** Lines kept from each child's stdout/stderr, shown when it fails. */
const TAIL_LINES = 40;
/** Linux USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const CLOCK_TICKS_PER_SECOND = 100;

/** One child process the bench started. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** `performance.now()` just before spawn. */
  readonly spawnedAt: number;
  /** Last lines of output, for error messages. */
  tail(): string;
  /** Undefined while running. */
  exitCode(): number | string | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts child processes and guarantees they are stopped: on `stopAll`, on SIGINT/SIGTERM, and
 * (with SIGKILL, synchronously) when the bench process exits for any reason.
 */
export class ProcessSupervisor {
  private readonly children = new Map<number, ChildProcess>();

  constructor() {
    process.once('exit', () => {
      for (const child of this.children.values()) child.kill('SIGKILL');
    });
  }

  /** Spawns `node <entry>` with exactly `env` (plus PATH/HOME), capturing its output. */
  spawnNode(name: string, entry: string, env: Record<string, string>, nodeArgs: string[] = []): ManagedProcess {
    const spawnedAt = performance.now();
    const child = spawn(process.execPath, [...nodeArgs, entry], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'production', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) throw new Error(`${name}: spawn failed`);
    const pid = child.pid;
    this.children.set(pid, child);
    const lines: string[] = [];
    const keep = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        lines.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
        if (lines.length > TAIL_LINES) lines.shift();
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let code: number | string | undefined;
    const exited = new Promise<void>((resolve) => {
      child.once('exit', (exitCode, signal) => {
        code = exitCode ?? signal ?? 'unknown';
        this.children.delete(pid);
        resolve();
      });
    });
    return {
      name,
      pid,
      spawnedAt,
      tail: () => lines.join('\n'),
      exitCode: () => code,
      stop: async (graceMs = 5000) => {
        if (code !== undefined) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      },
    };
  }

  /** Stops every child still running. */
  async stopAll(): Promise<void> {
    await Promise.all(
      [...this.children.values()].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}

/** A TCP port free on 127.0.0.1 right now (the OS picks it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Options for {@link waitForHttp}. */
export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Extra condition on a 200 body (e.g. every replica healthy). */
  accept?: (body: string) => boolean;
}

/**
 * Polls `url` until it answers 200 (and `accept`), failing early if `proc` exits.
 * @returns milliseconds from the process spawn to the first accepted answer.
 */
export async function waitForHttp(proc: ManagedProcess, url: string, options: WaitOptions): Promise<number> {
  const { timeoutMs, intervalMs = 25, accept = () => true } = options;
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (proc.exitCode() !== undefined) {
      throw new Error(`${proc.name} exited (${String(proc.exitCode())}) before ${url} was ready:\n${proc.tail()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      const body = await res.text();
      if (res.status === 200 && accept(body)) return performance.now() - proc.spawnedAt;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`${proc.name}: ${url} not ready within ${timeoutMs} ms:\n${proc.tail()}`);
}

/** Resident set size in MiB from /proc/<pid>/status, or NaN when unavailable. */
export function rssMiB(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] === undefined ? Number.NaN : Number(match[1]) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** User + system CPU seconds the process has used (/proc/<pid>/stat fields 14 and 15). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** Busy CPU seconds of the whole machine so far (all cores, from the first line of /proc/stat). */
export function machineBusySeconds(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    // user nice system idle iowait irq softirq steal: everything but idle and iowait is busy.
    const busy = fields.slice(0, 8).reduce((sum, v, i) => (i === 3 || i === 4 ? sum : sum + v), 0);
    return busy / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** The 1-minute load average, for judging whether the machine was quiet. */
export function loadAverage(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return Number.NaN;
  }
}
