// Summarises a V8 CPU profile (`node --cpu-prof`): where the samples' self time went, by function
// and by origin (a package, Node's internals, the app's own code), so that a run can say where a
// proxy spends its time without opening a profiler.
import type { ProfileSummary } from './results.js';
import { round } from './stats.js';

/** The parts of a `.cpuprofile` this reads (Chrome DevTools Protocol `Profiler.Profile`). */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

/** `(garbage collector)`, `(idle)`, `(program)`: V8's pseudo-frames keep their name as origin. */
const PSEUDO = /^\(.*\)$/;

/** Where a frame's code comes from: `express`, `node:http`, `apps/gateway`, `(garbage collector)`... */
export function originOf(functionName: string, url: string): string {
  if (url === '' && PSEUDO.test(functionName)) return functionName;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0] ?? ''}`;
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) {
    const [first = '', second = ''] = url.slice(modules + 14).split('/');
    return first.startsWith('@') ? `${first}/${second}` : first;
  }
  const app = /\/(apps|packages)\/([^/]+)\//.exec(url);
  if (app !== null) return `${app[1]}/${app[2]}`;
  return url === '' ? '(native)' : 'other';
}

/**
 * Self time per function and per origin, each sorted, largest first (`top` functions kept), as
 * shares of the busy time (idle samples left out). Self time comes from the samples and their time
 * deltas, as DevTools computes it.
 */
export function summariseProfile(profile: CpuProfile, top = 20): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] as number;
    // A sample's time is the delta to the next one (the last sample's runs to the end of the profile).
    const next = i + 1 < deltas.length ? (deltas[i + 1] as number) : 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, next));
  }
  const functions = new Map<string, number>();
  const origins = new Map<string, number>();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    // Idle samples say nothing about where work went; shares are of busy time.
    if (frame === undefined || frame.functionName === '(idle)') continue;
    totalUs += us;
    const file = frame.url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*\/(apps|packages)\//, '$1/');
    const name = `${frame.functionName || '(anonymous)'}${file === '' ? '' : ` (${file}:${frame.lineNumber + 1})`}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
    const origin = originOf(frame.functionName, frame.url);
    origins.set(origin, (origins.get(origin) ?? 0) + us);
  }
  const rows = (entries: Map<string, number>, limit: number) =>
    [...entries]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, us]) => ({ name, selfMs: round(us / 1000, 1) ?? 0, percent: round((100 * us) / Math.max(1, totalUs), 1) ?? 0 }));
  return { totalMs: round(totalUs / 1000, 1) ?? 0, functions: rows(functions, top), origins: rows(origins, 15) };
}
