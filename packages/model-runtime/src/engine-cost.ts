/**
 * USE lite's graph keeps only each text's first 128 pieces (`KonaTransformer/ClipToMaxLength`, a
 * `Less` against 128 on the position column of `indices`): later pieces never change an embedding
 * and cost the engine almost nothing.
 */
export const USE_LITE_MAX_POSITIONS = 128;

/** Seconds of engine time for one `embed` call, as `fixed + perPaddedPosition · texts · longest`. */
export interface EngineCostModel {
  fixed: number;
  /** Per position of the batch padded to its longest text (each length clipped at 128). */
  perPaddedPosition: number;
}

/**
 * Fitted on the wasm backend, one thread, on a shared 2-core machine (packages/model-runtime/
 * BUDGET.md, `scripts/measure-budget.ts`): an upper envelope of the measured calls, not their mean.
 */
export const USE_LITE_WASM_COST: EngineCostModel = Object.freeze({ fixed: 0.1, perPaddedPosition: 1.1e-3 });

/**
 * The positions an `embed` call of texts with these piece counts pays for: the batch is padded to
 * its longest text, and nothing past the 128th piece counts. A batcher that bounds this bounds the
 * engine time of each call; sorting texts by length before splitting keeps it close to Σ pieces.
 */
export function paddedPositions(piecesPerText: readonly number[]): number {
  let longest = 0;
  for (const pieces of piecesPerText) longest = Math.max(longest, clip(pieces));
  return piecesPerText.length * longest;
}

/**
 * Splits texts into `embed` calls of at most `maxPaddedPositions` padded positions each, with the
 * least padded positions plus `callOverhead` (a call's fixed cost, in positions) in total: texts
 * sorted by length, cut into runs by dynamic programming. Greedy filling pads badly (31 texts of
 * 16 pieces beside one of 128 cost as much as 32 of 128). A text alone always fits. Quadratic in
 * the number of texts (fine for a request or a batch: 1,024 texts plan in a few milliseconds).
 * Returns the texts' indices per call, shortest texts first.
 */
export function planEngineCalls(
  piecesPerText: readonly number[],
  maxPaddedPositions: number,
  callOverhead: number = Math.round(USE_LITE_WASM_COST.fixed / USE_LITE_WASM_COST.perPaddedPosition),
): number[][] {
  const order = piecesPerText.map((_, i) => i).sort((a, b) => clip(piecesPerText[a]) - clip(piecesPerText[b]));
  const lengths = order.map((i) => clip(piecesPerText[i]));
  const n = order.length;
  // best[j]: least cost of the first j sorted texts; cut[j]: where the last call of that plan starts.
  const best = new Float64Array(n + 1).fill(Infinity);
  const cut = new Int32Array(n + 1);
  best[0] = 0;
  for (let j = 1; j <= n; j++) {
    const longest = lengths[j - 1] ?? 0;
    for (let i = j - 1; i >= 0; i--) {
      const padded = (j - i) * longest;
      if (i < j - 1 && padded > maxPaddedPositions) break;
      const cost = (best[i] ?? Infinity) + padded + callOverhead;
      if (cost < (best[j] ?? Infinity)) {
        best[j] = cost;
        cut[j] = i;
      }
    }
  }
  const calls: number[][] = [];
  for (let j = n; j > 0; j = cut[j] ?? 0) calls.unshift(order.slice(cut[j], j));
  return calls;
}

/** Padded positions of all the calls `planEngineCalls` makes: what a request's admission should bound. */
export function plannedPositions(piecesPerText: readonly number[], maxPaddedPositions: number, callOverhead?: number): number {
  return planEngineCalls(piecesPerText, maxPaddedPositions, callOverhead).reduce(
    (sum, call) => sum + paddedPositions(call.map((i) => piecesPerText[i] ?? 0)),
    0,
  );
}

function clip(pieces: number | undefined): number {
  return Math.min(pieces ?? 0, USE_LITE_MAX_POSITIONS);
}

/** Estimated engine seconds for one `embed` call of texts with these piece counts (0 for none). */
export function estimateEngineCost(piecesPerText: readonly number[], model: EngineCostModel = USE_LITE_WASM_COST): number {
  if (piecesPerText.length === 0) return 0;
  return model.fixed + model.perPaddedPosition * paddedPositions(piecesPerText);
}
