import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/** TREC coarse classes in the order the model's softmax emits them (the serving runtime relies on it). */
export const LABELS = ['ABBR', 'DESC', 'ENTY', 'HUM', 'LOC', 'NUM'] as const;
export type Label = (typeof LABELS)[number];

/** One labelled question. */
export interface Example {
  text: string;
  label: number;
  /** The fine TREC label, e.g. `NUM:count` (50 in all); used as an auxiliary training target. */
  fine: string;
}

/** A parsed data file and the SHA-256 of its bytes (recorded in metadata and keyed into the embedding cache). */
export interface Dataset {
  file: string;
  sha256: string;
  examples: Example[];
}

const LINE = /^([A-Z]+):(\S+) (.*)$/;

/** Reads a TREC `.label` file (ISO-8859-1, `COARSE:fine text` per line). */
export async function readTrec(file: string): Promise<Dataset> {
  const bytes = await readFile(file);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const examples: Example[] = [];
  // latin1 is Node's name for ISO-8859-1, the files' documented encoding (data/trec/SOURCE.md).
  for (const [i, line] of bytes.toString('latin1').split(/\r?\n/).entries()) {
    if (line.trim() === '') continue;
    const match = LINE.exec(line);
    const label = match ? LABELS.indexOf(match[1] as Label) : -1;
    if (!match || label < 0) throw new Error(`${file}:${i + 1}: cannot parse '${line}'`);
    examples.push({ text: (match[3] ?? '').trim(), label, fine: `${match[1]}:${match[2]}` });
  }
  return { file, sha256, examples };
}

/** The fine labels present in some examples, grouped by coarse class in LABELS order, then by name. */
export function fineLabelsOf(examples: readonly Example[]): string[] {
  const coarse = (fine: string) => LABELS.indexOf(fine.split(':')[0] as Label);
  return [...new Set(examples.map((e) => e.fine))].sort((a, b) => coarse(a) - coarse(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** mulberry32: a tiny, fast, well-mixed 32-bit PRNG; all trainer randomness derives from it. */
export function createRng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates shuffle of a copy, driven by `rng`. */
export function shuffled<T>(items: readonly T[], rng: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * Splits example indices into train/validation, stratified by label and seeded, so every class
 * keeps its share in validation (ABBR has under 100 examples) and the split never changes between runs.
 */
export function stratifiedSplit(
  labels: readonly number[],
  fraction: number,
  seed: number,
): { train: number[]; validation: number[] } {
  const rng = createRng(seed);
  const train: number[] = [];
  const validation: number[] = [];
  for (let c = 0; c < LABELS.length; c++) {
    const members = shuffled(
      labels.flatMap((label, i) => (label === c ? [i] : [])),
      rng,
    );
    const take = Math.round(members.length * fraction);
    validation.push(...members.slice(0, take));
    train.push(...members.slice(take));
  }
  return { train: train.sort((a, b) => a - b), validation: validation.sort((a, b) => a - b) };
}
