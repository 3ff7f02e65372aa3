import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { defaultEncoderDirectory } from './encoder-files.js';

/**
 * A SentencePiece vocabulary as USE ships it in `vocab.json`: `[piece, log-probability]` per id.
 * Some entries of the USE-lite vocabulary carry `null` scores; upstream adds them as 0 (`null + x`).
 */
export type UseVocabulary = readonly (readonly [string, number | null])[];

/** SentencePiece's word-boundary marker (U+2581 LOWER ONE EIGHTH BLOCK), which replaces every space. */
const SEPARATOR = '\u2581';
/** USE reserves the first ids for unk, control and user-defined symbols and never matches them. */
const RESERVED_SYMBOLS_COUNT = 6;
/** Upstream's id for an unknown symbol. */
const UNK_ID = 0;

/** A text as the USE tokenizer sees it. */
export interface UseTokenizer {
  /** Piece ids, identical to `Tokenizer.encode` of `@tensorflow-models/universal-sentence-encoder` 1.3.3. */
  encode(text: string): number[];
  /** How many pieces `encode(text)` returns (what the encoder's cost grows with). */
  countPieces(text: string): number;
  /**
   * Trie steps and lattice edges taken since the tokenizer was created: a deterministic measure of
   * the work `encode` did, so tests can check that it grows linearly without timing anything.
   */
  readonly operations: number;
}

/**
 * The exact string upstream segments: NFKC, then a leading separator and every U+0020 replaced by
 * it (`processInput` in upstream's `tokenizer/index.ts`). Limits meant to bound the encoder's work
 * must apply to this, not to the raw text: NFKC can grow a text 18-fold (U+FDFA).
 *
 * `String.prototype.normalize` reorders each run of combining marks by insertion, quadratic in the
 * run's length; bound the raw length before calling this on untrusted input.
 */
export function normalizeForEncoder(text: string): string {
  const normalized = text.normalize('NFKC');
  return normalized.length > 0 ? SEPARATOR + normalized.replaceAll(' ', SEPARATOR) : normalized;
}

/** Code points, as upstream's `stringToChars` (a string iterator) splits them; lone surrogates stay single. */
function toSymbols(text: string): Int32Array {
  const symbols = new Int32Array(text.length);
  let count = 0;
  for (const symbol of text) symbols[count++] = symbol.codePointAt(0) ?? 0;
  return symbols.subarray(0, count);
}

class TrieNode {
  readonly children = new Map<number, TrieNode>();
  /** The vocabulary id of the piece ending here, or -1. */
  id = -1;
  score = 0;
}

/**
 * Upstream's `Trie.commonPrefixSearch(symbols.slice(i))` copies the rest of the text at every
 * position, so encoding is quadratic in the text's length (36k pieces took seconds). This walks the
 * trie from position `i` in place, which stops after at most the longest piece's length, so
 * encoding is linear for a fixed vocabulary. Everything else mirrors upstream step by step,
 * including its quirks, so the ids are identical for every input:
 * - a position no piece starts at gets one unknown symbol (id 0, score 0);
 * - candidates for an end position are relaxed in order of their start, a later one winning ties,
 *   and any candidate replaces a best score that is exactly 0 (upstream's "unset" marker);
 * - the backward pass steps by the UTF-16 length of the chosen piece's vocabulary string;
 * - consecutive unknowns merge into one.
 */
class LinearUseTokenizer implements UseTokenizer {
  private readonly root = new TrieNode();
  /** UTF-16 length of each vocabulary string: upstream's backward step. */
  private readonly stepLengths: Int32Array;
  operations = 0;

  constructor(vocabulary: UseVocabulary, reservedSymbolsCount: number) {
    this.stepLengths = Int32Array.from(vocabulary, ([piece]) => piece.length);
    for (let id = reservedSymbolsCount; id < vocabulary.length; id++) {
      const [piece, score] = vocabulary[id] ?? ['', 0];
      const symbols = toSymbols(piece);
      if (symbols.length === 0) continue;
      let node = this.root;
      for (const symbol of symbols) {
        let child = node.children.get(symbol);
        if (!child) {
          child = new TrieNode();
          node.children.set(symbol, child);
        }
        node = child;
      }
      // A later duplicate overrides an earlier one, as in upstream's insert.
      node.id = id;
      node.score = score ?? 0;
    }
  }

  encode(text: string): number[] {
    const symbols = toSymbols(normalizeForEncoder(text));
    const length = symbols.length;
    const best = new Float64Array(length + 1);
    const words = new Int32Array(length + 1);
    let operations = 0;
    // Forward Viterbi: relaxing every edge from start i before i + 1 visits each end position's
    // candidates in ascending start order, the order upstream's `for (startPos in nodes[end])` uses,
    // and best[i] is final by then (every edge into i starts before i).
    for (let start = 0; start < length; start++) {
      const base = best[start] ?? 0;
      let matched = false;
      let node = this.root.children.get(symbols[start] ?? 0);
      for (let end = start + 1; node; end++) {
        operations++;
        if (node.id >= 0) {
          matched = true;
          relax(best, words, end, node.score + base, node.id);
        }
        if (end >= length) break;
        node = node.children.get(symbols[end] ?? 0);
      }
      if (!matched) {
        operations++;
        relax(best, words, start + 1, 0 + base, UNK_ID);
      }
    }
    this.operations += operations;

    const reversed: number[] = [];
    for (let position = length; position > 0; ) {
      const id = words[position] ?? UNK_ID;
      reversed.push(id);
      position -= this.stepLengths[id] ?? 1;
    }
    const ids: number[] = [];
    for (let i = reversed.length - 1; i >= 0; i--) {
      const id = reversed[i] ?? UNK_ID;
      // Upstream merges in backward order (keeping the later unk); the ids are the same either way.
      if (id === UNK_ID && reversed[i + 1] === UNK_ID) continue;
      ids.push(id);
    }
    return ids;
  }

  countPieces(text: string): number {
    return this.encode(text).length;
  }
}

function relax(best: Float64Array, words: Int32Array, end: number, score: number, id: number): void {
  const current = best[end] ?? 0;
  if (current === 0 || score >= current) {
    best[end] = score;
    words[end] = id;
  }
}

/**
 * A linear-time tokenizer whose ids are identical to upstream USE's `Tokenizer` for `vocabulary`.
 *
 * @param reservedSymbolsCount leading ids never matched (6 for USE lite, as upstream's default).
 */
export function createUseTokenizer(
  vocabulary: UseVocabulary,
  reservedSymbolsCount: number = RESERVED_SYMBOLS_COUNT,
): UseTokenizer {
  return new LinearUseTokenizer(vocabulary, reservedSymbolsCount);
}

/**
 * Parses a USE `vocab.json`. Scores must be numbers or null: upstream adds them with `+`, so any
 * other value (a string) would make it concatenate instead, which no faithful copy should mimic.
 */
export function parseUseVocabulary(json: string): UseVocabulary {
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed)) throw new Error('vocab.json: expected an array of [piece, score] pairs');
  parsed.forEach((entry: unknown, i) => {
    const ok =
      Array.isArray(entry) &&
      typeof entry[0] === 'string' &&
      (entry[1] === null || (typeof entry[1] === 'number' && Number.isFinite(entry[1])));
    if (!ok) throw new Error(`vocab.json: entry ${i} is not a [string, number | null] pair`);
  });
  return parsed as UseVocabulary;
}

/**
 * Loads the USE-lite tokenizer from `vocab.json` alone (by default the packaged one), without the
 * TF model: for counting pieces where no engine runs (e.g. a server's HTTP thread).
 */
export async function loadUseTokenizer(directory: string = defaultEncoderDirectory()): Promise<UseTokenizer> {
  return createUseTokenizer(parseUseVocabulary(await readFile(path.join(directory, 'vocab.json'), 'utf8')));
}
