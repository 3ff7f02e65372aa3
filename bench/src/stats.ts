/** Latency summary in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/** Sorts a copy of `samples` (milliseconds) and summarises it. */
export function summarise(samples: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const values = Array.from(sorted);
  return {
    count: values.length,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: values.at(-1) ?? Number.NaN,
  };
}

/** Rounds for JSON and tables, keeping NaN as null. */
export function round(value: number, digits = 2): number | null {
  if (!Number.isFinite(value)) return null;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** A number for a table cell: `digits` decimals, `–` when absent or not finite. */
export function fmt(v: number | null | undefined, digits = 1): string {
  return v == null || !Number.isFinite(v) ? '–' : v.toFixed(digits);
}

/** A share for a table cell (`0.94` → `94 %`). */
export function pct(v: number | null | undefined): string {
  return v == null ? '–' : `${Math.round(v * 100)} %`;
}
