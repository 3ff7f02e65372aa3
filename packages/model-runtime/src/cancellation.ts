import type { PredictOptions } from './model-runtime.js';

/** The abandoned rows of one `predict` call: checked just before each engine call, reported once at the end. */
export interface RowCancellation {
  /** The rows of `rows` still wanted; the others are set aside as skipped. */
  keep(rows: readonly number[]): number[];
  /** Tells the caller which rows were skipped, if any. */
  report(): void;
}

/** Reads `options`' signals (the whole call's and each row's) as rows are about to be computed. */
export function rowCancellation(options: PredictOptions = {}): RowCancellation {
  const skipped: number[] = [];
  const abandoned = (row: number) => options.signal?.aborted === true || options.rowSignals?.[row]?.aborted === true;
  return {
    keep(rows) {
      const kept: number[] = [];
      for (const row of rows) (abandoned(row) ? skipped : kept).push(row);
      return kept;
    },
    report() {
      if (skipped.length > 0) options.onSkipped?.(skipped.splice(0).sort((a, b) => a - b));
    },
  };
}
