import type { TargetCheck } from './results.js';

/** The targets of a run as a table: each goal, what was measured, pass or **miss**. */
export function targetsTable(targets: readonly TargetCheck[]): string[] {
  return [
    '| Target | Goal | Measured | |',
    '|---|---|---|---|',
    ...targets.map((t) => `| ${t.name} | ${t.target} | ${t.value} | ${t.pass ? 'pass' : '**miss**'} |`),
  ];
}
