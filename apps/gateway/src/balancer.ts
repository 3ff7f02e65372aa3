/** What the balancer needs to know about a replica. */
export interface Candidate {
  readonly healthy: boolean;
  /** Requests sent to it that have not finished yet. */
  readonly outstanding: number;
  /**
   * Until then (`performance.now()`) it counts as {@link SUSPECT_WEIGHT} requests busier: an attempt
   * on it timed out though its readiness passed. 0 or absent: not suspect.
   */
  readonly suspectUntil?: number;
}

/**
 * How many outstanding requests a suspect replica counts as: enough that an idle or lightly loaded
 * replica is preferred, little enough that a suspect one still takes its share when the others are
 * busy, so a client's own slow work on it costs the model no capacity (it is not ejected).
 */
export const SUSPECT_WEIGHT = 4;

import { performance } from 'node:perf_hooks';

/**
 * Least-outstanding-requests selection with round robin among ties. Least-outstanding keeps a slow
 * replica (long batch, GC pause) from piling up work; the rotating start point spreads sequential
 * traffic, where every replica sits at zero outstanding, evenly instead of always picking the first.
 */
export class LeastOutstandingBalancer<T extends Candidate> {
  #cursor = 0;

  /** The healthy candidate with the fewest outstanding requests, skipping `exclude`; undefined if none. */
  pick(candidates: readonly T[], exclude?: ReadonlySet<T>, now = performance.now()): T | undefined {
    const count = candidates.length;
    let best: T | undefined;
    let bestLoad = 0;
    let bestIndex = -1;
    for (let offset = 0; offset < count; offset++) {
      const index = (this.#cursor + offset) % count;
      const candidate = candidates[index];
      if (candidate === undefined || !candidate.healthy || exclude?.has(candidate)) continue;
      const load = candidate.outstanding + ((candidate.suspectUntil ?? 0) > now ? SUSPECT_WEIGHT : 0);
      // Strictly fewer: on a tie the first in rotation order wins, which is what makes it round robin.
      if (best === undefined || load < bestLoad) {
        best = candidate;
        bestLoad = load;
        bestIndex = index;
      }
    }
    if (best !== undefined) this.#cursor = (bestIndex + 1) % count;
    return best;
  }
}
