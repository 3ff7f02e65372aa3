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
export const USE_LITE_WASM_COST: EngineCostModel = Object.freeze({ fixed: 0.1, perPaddedPosition: 1.0e-3 });

/**
 * The positions an `embed` call of texts with these piece counts pays for: the batch is padded to
 * its longest text, and nothing past the 128th piece counts. A batcher that bounds this bounds the
 * engine time of each call; sorting texts by length before splitting keeps it close to Σ pieces.
 */
export function paddedPositions(piecesPerText: readonly number[]): number {
  let longest = 0;
  for (const pieces of piecesPerText) longest = Math.max(longest, Math.min(pieces, USE_LITE_MAX_POSITIONS));
  return piecesPerText.length * longest;
}

/** Estimated engine seconds for one `embed` call of texts with these piece counts (0 for none). */
export function estimateEngineCost(piecesPerText: readonly number[], model: EngineCostModel = USE_LITE_WASM_COST): number {
  if (piecesPerText.length === 0) return 0;
  return model.fixed + model.perPaddedPosition * paddedPositions(piecesPerText);
}
