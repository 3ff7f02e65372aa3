/** What the balancer needs to know about a replica. */
export interface Candidate {
  readonly healthy: boolean;
  /** Requests sent to it that have not finished yet. */
  readonly outstanding: number;
}

/**
 * Least-outstanding-requests selection with round robin among ties. Least-outstanding keeps a slow
 * replica (long batch, GC pause) from piling up work; the rotating start point spreads sequential
 * traffic, where every replica sits at zero outstanding, evenly instead of always picking the first.
 */
export class LeastOutstandingBalancer<T extends Candidate> {
  #cursor = 0;

  /** The healthy candidate with the fewest outstanding requests, skipping `exclude`; undefined if none. */
  pick(candidates: readonly T[], exclude?: ReadonlySet<T>): T | undefined {
    const count = candidates.length;
    let best: T | undefined;
    let bestIndex = -1;
    for (let offset = 0; offset < count; offset++) {
      const index = (this.#cursor + offset) % count;
      const candidate = candidates[index];
      if (candidate === undefined || !candidate.healthy || exclude?.has(candidate)) continue;
      // Strictly fewer: on a tie the first in rotation order wins, which is what makes it round robin.
      if (best === undefined || candidate.outstanding < best.outstanding) {
        best = candidate;
        bestIndex = index;
      }
    }
    if (best !== undefined) this.#cursor = (bestIndex + 1) % count;
    return best;
  }
}
