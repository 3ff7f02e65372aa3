/**
 * Sparse lexical features (question head words, word n-grams, optional character n-grams) that sit
 * beside the sentence embedding in the question-topic classifier. TREC topics are carried largely by
 * surface cues such as "how many" or "who", which a sentence embedding blurs.
 *
 * Pure TypeScript and JSON-serialisable on purpose: the trainer fits a spec and writes it next to
 * the model, and the service featurises requests with this same code, so training and serving
 * cannot drift.
 */

/** How feature values are computed. */
export type LexicalWeighting = 'binary' | 'tfidf';

/** Options for {@link fitLexicalFeatures}; every field has a default. */
export interface LexicalFeatureOptions {
  /** Word n-gram orders to extract (default `[1, 2]`). */
  wordNgrams?: readonly number[];
  /** Emit the first 1…`headTokens` tokens as one feature each, e.g. `h2:how many` (default 2, 0 disables). */
  headTokens?: number;
  /** Emit the first wh-word and the token after it, e.g. `wh:how many`, wherever it sits (default true). */
  whPhrase?: boolean;
  /**
   * Emit the wh-word with the first content word after it, skipping auxiliaries and determiners,
   * e.g. `wq:what population` for "What is the population of …" (default false). This is the
   * "head word" cue question classifiers rely on, which fixed n-grams miss when words intervene.
   */
  whHead?: boolean;
  /** Character n-gram orders within `^word$` (default none: they multiply the vocabulary for little gain). */
  charNgrams?: readonly number[];
  /** Keep features occurring in at least this many fitted texts (default 2). */
  minCount?: number;
  /** Keep at most this many features, most frequent first (default: no cap). */
  maxFeatures?: number;
  /** `binary` presence, or `tfidf` counts × smoothed idf with each row L2-normalised (default `binary`). */
  weighting?: LexicalWeighting;
}

/** A fitted featuriser: what to extract and the vocabulary, in feature-index order. */
export interface LexicalFeatureSpec {
  kind: 'lexical-features';
  version: 1;
  /** Names the tokenisation rules below; bump it if they ever change. */
  tokenizer: typeof TOKENIZER;
  wordNgrams: number[];
  headTokens: number;
  whPhrase: boolean;
  /** Absent in specs written before the option existed; treated as false. */
  whHead?: boolean;
  charNgrams: number[];
  weighting: LexicalWeighting;
  /** Feature strings; feature `i` is column `i` of the transform output. */
  vocabulary: string[];
  /** Inverse document frequency per feature (only for `tfidf`). */
  idf?: number[];
}

/** Turns texts into a dense row-major `n × size` matrix of feature values. */
export interface LexicalFeaturizer {
  readonly size: number;
  transform(texts: readonly string[]): Float32Array;
}

const TOKENIZER = 'nfkc-lower-alnum-digits-v1';
const WH_WORDS = new Set(['what', 'which', 'who', 'whom', 'whose', 'where', 'when', 'why', 'how', 'name']);
const FILLER = new Set([
  'is', 'are', 'was', 'were', 'be', 'been', 'do', 'does', 'did', 'can', 'could', 'will', 'would', 'should', 'has',
  'have', 'had', 'the', 'a', 'an', 'of', 's', 'one', 'kind', 'type', 'sort', 'some', 'this', 'that', 'these', 'those',
]);

/**
 * Lower-cased letter/digit runs; punctuation is dropped so TREC's pre-tokenised "what 's" and a
 * user's "what's" yield the same tokens. Every number becomes `0`: the value never matters for the
 * topic, its presence does.
 */
export function tokenizeQuestion(text: string): string[] {
  const tokens = text.normalize('NFKC').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  return tokens.map((token) => (/^\p{N}+$/u.test(token) ? '0' : token));
}

type Extraction = Pick<LexicalFeatureSpec, 'wordNgrams' | 'headTokens' | 'whPhrase' | 'charNgrams'> & { whHead: boolean };

/** Every feature occurrence in one text (repeats kept, for term frequencies). */
function extract(text: string, spec: Extraction): string[] {
  const tokens = tokenizeQuestion(text);
  const features: string[] = [];
  for (const n of spec.wordNgrams) {
    for (let i = 0; i + n <= tokens.length; i++) features.push(`w${n}:${tokens.slice(i, i + n).join(' ')}`);
  }
  for (let n = 1; n <= spec.headTokens && n <= tokens.length; n++) features.push(`h${n}:${tokens.slice(0, n).join(' ')}`);
  const at = tokens.findIndex((token) => WH_WORDS.has(token));
  if (spec.whPhrase && at >= 0) features.push(`wh:${tokens.slice(at, at + 2).join(' ')}`);
  if (spec.whHead && at >= 0) {
    const head = tokens.slice(at + 1).find((token) => !FILLER.has(token));
    features.push(`wq:${tokens[at]} ${head ?? ''}`);
  }
  for (const n of spec.charNgrams) {
    for (const token of tokens) {
      const padded = `^${token}$`;
      for (let i = 0; i + n <= padded.length; i++) features.push(`c${n}:${padded.slice(i, i + n)}`);
    }
  }
  return features;
}

function orders(values: readonly number[], what: string): number[] {
  for (const n of values) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`${what} orders must be positive integers, got ${n}`);
  }
  return [...new Set(values)].sort((a, b) => a - b);
}

/**
 * Fits a featuriser on training texts: keeps features seen in at least `minCount` texts, ordered by
 * document frequency (descending) then by code-unit order, so the same texts always give the same
 * spec regardless of locale. Fit on the training split only; validation and test texts must not
 * shape the vocabulary.
 */
export function fitLexicalFeatures(texts: readonly string[], options: LexicalFeatureOptions = {}): LexicalFeatureSpec {
  const minCount = options.minCount ?? 2;
  const maxFeatures = options.maxFeatures ?? Number.POSITIVE_INFINITY;
  if (!Number.isInteger(minCount) || minCount < 1) throw new Error(`minCount must be a positive integer, got ${minCount}`);
  if (!(maxFeatures >= 1)) throw new Error(`maxFeatures must be at least 1, got ${maxFeatures}`);
  const extraction: Extraction = {
    wordNgrams: orders(options.wordNgrams ?? [1, 2], 'wordNgrams'),
    headTokens: options.headTokens ?? 2,
    whPhrase: options.whPhrase ?? true,
    whHead: options.whHead ?? false,
    charNgrams: orders(options.charNgrams ?? [], 'charNgrams'),
  };
  if (!Number.isInteger(extraction.headTokens) || extraction.headTokens < 0) {
    throw new Error(`headTokens must be a non-negative integer, got ${extraction.headTokens}`);
  }
  const weighting = options.weighting ?? 'binary';

  const documentFrequency = new Map<string, number>();
  for (const text of texts) {
    for (const feature of new Set(extract(text, extraction))) {
      documentFrequency.set(feature, (documentFrequency.get(feature) ?? 0) + 1);
    }
  }
  const kept = [...documentFrequency]
    .filter(([, count]) => count >= minCount)
    .sort(([a, ca], [b, cb]) => cb - ca || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, maxFeatures);

  const spec: LexicalFeatureSpec = {
    kind: 'lexical-features',
    version: 1,
    tokenizer: TOKENIZER,
    ...extraction,
    weighting,
    vocabulary: kept.map(([feature]) => feature),
  };
  if (weighting === 'tfidf') {
    // Smoothed idf as in scikit-learn's TfidfVectorizer: ln((1 + N) / (1 + df)) + 1.
    spec.idf = kept.map(([, count]) => Math.log((1 + texts.length) / (1 + count)) + 1);
  }
  return spec;
}

function assertSpec(spec: LexicalFeatureSpec): void {
  if (spec.kind !== 'lexical-features' || spec.version !== 1) {
    throw new Error(`unsupported lexical feature spec (kind '${String(spec.kind)}', version ${String(spec.version)})`);
  }
  if (spec.tokenizer !== TOKENIZER) throw new Error(`unsupported lexical tokenizer '${String(spec.tokenizer)}'`);
  if (!Array.isArray(spec.vocabulary) || spec.vocabulary.length === 0) throw new Error('lexical vocabulary is empty');
  if (spec.weighting !== 'binary' && spec.weighting !== 'tfidf') {
    throw new Error(`unknown lexical weighting '${String(spec.weighting)}'`);
  }
  if (spec.weighting === 'tfidf' && spec.idf?.length !== spec.vocabulary.length) {
    throw new Error('tfidf spec needs one idf value per vocabulary entry');
  }
}

/**
 * Creates the featuriser a spec describes (for example one parsed from `lexical-features.json`).
 * Features outside the vocabulary are ignored; a text with none yields a zero row.
 */
export function createLexicalFeaturizer(spec: LexicalFeatureSpec): LexicalFeaturizer {
  assertSpec(spec);
  const index = new Map(spec.vocabulary.map((feature, i) => [feature, i]));
  if (index.size !== spec.vocabulary.length) throw new Error('lexical vocabulary has duplicate entries');
  const extraction: Extraction = {
    wordNgrams: orders(spec.wordNgrams, 'wordNgrams'),
    headTokens: spec.headTokens,
    whPhrase: spec.whPhrase,
    whHead: spec.whHead ?? false,
    charNgrams: orders(spec.charNgrams, 'charNgrams'),
  };
  const size = spec.vocabulary.length;
  const idf = spec.idf;
  return {
    size,
    transform(texts: readonly string[]): Float32Array {
      const out = new Float32Array(texts.length * size);
      texts.forEach((text, row) => {
        const offset = row * size;
        for (const feature of extract(text, extraction)) {
          const column = index.get(feature);
          if (column === undefined) continue;
          if (spec.weighting === 'binary') out[offset + column] = 1;
          else out[offset + column] = (out[offset + column] ?? 0) + (idf?.[column] ?? 0);
        }
        if (spec.weighting === 'tfidf') {
          let norm = 0;
          for (let j = offset; j < offset + size; j++) norm += (out[j] ?? 0) ** 2;
          if (norm > 0) {
            const scale = 1 / Math.sqrt(norm);
            for (let j = offset; j < offset + size; j++) out[j] = (out[j] ?? 0) * scale;
          }
        }
      });
      return out;
    },
  };
}
