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
 * Engine seconds on the wasm backend, one thread, measured as process CPU time (one core, whatever
 * else the machine runs): a call's fixed cost from a least-squares fit, and per padded position the
 * upper envelope of the measured calls of 256 positions or more (TREC questions cost ~0.53 ms,
 * 128-piece texts ~0.74 ms). packages/model-runtime/BUDGET.md (d), `scripts/measure-budget.ts --bulk`.
 */
export const USE_LITE_WASM_COST: EngineCostModel = Object.freeze({ fixed: 0.025, perPaddedPosition: 0.75e-3 });

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
 * Splits texts into `embed` calls of at most `maxPaddedPositions` padded positions and `maxRows`
 * texts each, with the least padded positions plus `callOverhead` (a call's fixed cost, in
 * positions) in total: texts sorted by length, cut into runs by dynamic programming. Greedy
 * filling pads badly (31 texts of 16 pieces beside one of 128 cost as much as 32 of 128). A text
 * alone always fits. Each text tries at most one call's worth of predecessors, so a request of
 * 2,048 texts plans in a few milliseconds. Returns the texts' indices per call, shortest first.
 */
export function planEngineCalls(
  piecesPerText: readonly number[],
  maxPaddedPositions: number,
  callOverhead: number = Math.round(USE_LITE_WASM_COST.fixed / USE_LITE_WASM_COST.perPaddedPosition),
  maxRows = Infinity,
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
      if (i < j - 1 && (padded > maxPaddedPositions || j - i > maxRows)) break;
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

/** What the engine calls of some texts cost, as {@link planEngineWork} plans them. */
export interface EnginePlan {
  /** Engine calls. */
  readonly calls: number;
  /** Padded positions of all the calls. */
  readonly positions: number;
  /** Estimated engine seconds of all the calls, on one wasm core ({@link USE_LITE_WASM_COST}). */
  readonly seconds: number;
}

/**
 * The engine calls of texts with these piece counts, planned as {@link planEngineCalls} plans
 * them (at most `maxPositions` padded positions and `maxRows` texts each), and their estimated
 * cost: what a server admits a request by and grows its deadline with.
 */
export function planEngineWork(
  piecesPerText: readonly number[],
  limits: { maxPositions: number; maxRows?: number },
  model: EngineCostModel = USE_LITE_WASM_COST,
): EnginePlan {
  const calls = planEngineCalls(piecesPerText, limits.maxPositions, Math.round(model.fixed / model.perPaddedPosition), limits.maxRows);
  let positions = 0;
  for (const call of calls) positions += paddedPositions(call.map((i) => piecesPerText[i] ?? 0));
  return { calls: calls.length, positions, seconds: calls.length * model.fixed + positions * model.perPaddedPosition };
}

/** Positions one text of `pieces` pieces takes in an engine call: the graph reads its first 128. */
export function textPositions(pieces: number): number {
  return clip(pieces);
}

function clip(pieces: number | undefined): number {
  return Math.min(pieces ?? 0, USE_LITE_MAX_POSITIONS);
}

/** Estimated engine seconds for one `embed` call of texts with these piece counts (0 for none). */
export function estimateEngineCost(piecesPerText: readonly number[], model: EngineCostModel = USE_LITE_WASM_COST): number {
  if (piecesPerText.length === 0) return 0;
  return model.fixed + model.perPaddedPosition * paddedPositions(piecesPerText);
}
