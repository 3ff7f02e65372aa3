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
  /**
   * Emit the question's head noun, e.g. `hw:city` for "What is Mexico's largest city ?", found
   * by the rules of {@link findHeadWord} (default false). Needs spec version 2.
   */
  headWord?: boolean;
  /**
   * A noun lexicon (see {@link SemanticLexicon}): the head word's semantic classes become features,
   * e.g. `hs:location` and `hl:location` (default none). It also tells the head finder which
   * tokens are nouns. Shipped inside the fitted spec, so serving needs nothing else.
   */
  semantic?: SemanticLexicon;
  /** Emit word-shape cues that lower-cased tokens lose, e.g. `sh:acronym` for "NASA" (default false). */
  shapes?: boolean;
}

/**
 * A compact noun lexicon (built by the trainer from WordNet): a small hierarchy of classes and
 * the class each noun enters it at. A word's features are its entry class and every ancestor.
 */
export interface SemanticLexicon {
  /** Where the classes come from, e.g. `wordnet-3.0 depth<=7`. */
  source: string;
  /** Class names, e.g. `location`; index = class id. */
  classes: string[];
  /** Per class, the ids of its parent classes (empty for a root). Parents precede their children. */
  parents: number[][];
  /** Coarse lexicographer categories, e.g. `person`, `artifact`. */
  categories: string[];
  /**
   * Noun (lower-case, single word, inflected forms included) → `class * 64 + category`: the class it
   * enters the hierarchy at and the category of its most frequent sense. One number per word keeps
   * the file small.
   */
  words: Record<string, number>;
  /** Irregular verb forms ("stole", "rode"): where a noun compound ends. */
  verbForms?: string[];
}

/** A fitted featuriser: what to extract and the vocabulary, in feature-index order. */
export interface LexicalFeatureSpec {
  kind: 'lexical-features';
  /**
   * 1: n-grams, head tokens, wh-phrase, wh-head, character n-grams. 2 adds `headWord`, `semantic`
   * and `shapes`. A fit without the version-2 options still writes version 1, byte for byte.
   */
  version: 1 | 2;
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
  /** Version 2 only. */
  headWord?: boolean;
  /** Version 2 only. */
  semantic?: SemanticLexicon;
  /** Version 2 only. */
  shapes?: boolean;
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

type Extraction = Pick<LexicalFeatureSpec, 'wordNgrams' | 'headTokens' | 'whPhrase' | 'charNgrams'> & {
  whHead: boolean;
  headWord: boolean;
  shapes: boolean;
  semantic: SemanticIndex | undefined;
};

/** A {@link SemanticLexicon} ready for lookups. */
interface SemanticIndex {
  lexicon: SemanticLexicon;
  words: Map<string, number>;
  verbForms: Set<string>;
}

function indexLexicon(lexicon: SemanticLexicon): SemanticIndex {
  const { classes, parents, categories, words } = lexicon;
  if (!Array.isArray(classes) || !Array.isArray(parents) || parents.length !== classes.length || !Array.isArray(categories)) {
    throw new Error('semantic lexicon needs one parents list per class and a categories list');
  }
  parents.forEach((list, id) => {
    if (!list.every((p) => Number.isInteger(p) && p >= 0 && p < id)) throw new Error(`semantic class ${id} has a bad parent`);
  });
  const index = new Map(Object.entries(words));
  for (const [word, code] of index) {
    if (!Number.isInteger(code) || code < 0 || Math.floor(code / 64) >= classes.length || code % 64 >= categories.length) {
      throw new Error(`semantic lexicon entry '${word}' is out of range`);
    }
  }
  return { lexicon, words: index, verbForms: new Set(lexicon.verbForms ?? []) };
}

/** Tokens that end a noun phrase: prepositions, auxiliaries, pronouns, conjunctions, wh-words. */
const PHRASE_END = new Set([
  'of', 'in', 'on', 'at', 'for', 'from', 'to', 'by', 'with', 'about', 'into', 'during', 'after', 'before', 'between',
  'under', 'over', 'through', 'as', 'than', 'like', 'is', 'are', 'was', 'were', 'be', 'been', 'do', 'does', 'did', 'can',
  'could', 'will', 'would', 'should', 'has', 'have', 'had', 'may', 'might', 'must', 'and', 'or', 'but', 'that', 'who',
  'whom', 'whose', 'which', 'what', 'where', 'when', 'why', 'how', 'it', 'he', 'she', 'they', 'you', 'i', 'we', 'there',
  'not', 'if',
]);
/** Words skipped before the head noun: "what is the name of the ...", "what kind of ...". */
const HEAD_FILLER = new Set([...FILLER, 'name', 'names', 'kinds', 'types', 'sorts', 'ones', 'part', 'member', 'term', 'two', 'three', 'first', 'last', 'most', 'best', 'largest', 'biggest', 'only', 'main', 'other']);
/** Wh-words after which the head noun carries the topic ("what city", "which president"). */
const HEAD_WH = new Set(['what', 'which', 'name']);

/** The lexicon entry for a token, trying simple plural endings (irregular plurals are lexicon entries). */
function lookupNoun(token: string, semantic: SemanticIndex): { word: string; code: number } | undefined {
  const candidates = [token];
  if (token.endsWith('ies')) candidates.push(`${token.slice(0, -3)}y`);
  if (token.endsWith('es')) candidates.push(token.slice(0, -2));
  if (token.endsWith('s')) candidates.push(token.slice(0, -1));
  for (const word of candidates) {
    const code = semantic.words.get(word);
    if (code !== undefined) return { word, code };
  }
  return undefined;
}

/**
 * The head noun of a what/which/name question (or of a question without a wh-word): after the
 * wh-word, skip auxiliaries, determiners and "name of"/"kind of"-style fillers, then take the first
 * noun and extend it over a compound ("baseball team" → team); a possessive restarts the phrase
 * ("mexico 's largest city" → city). The compound stops at a likely verb ("what animal lives",
 * "what scoundrel stole") and at a capitalised name after a common noun ("what color Johnny Cash
 * wears"). Without a lexicon every token counts as a noun; when no noun is found the first
 * content token stands in. `undefined` for who/where/when/why/how questions, whose wh-word
 * already says the topic.
 */
function findHeadWord(tokens: readonly string[], capitalised: readonly boolean[], semantic?: SemanticIndex): string | undefined {
  const at = tokens.findIndex((token) => WH_WORDS.has(token));
  if (at >= 0 && !HEAD_WH.has(tokens[at]!)) return undefined;
  let i = at + 1;
  while (i < tokens.length && HEAD_FILLER.has(tokens[i]!)) i++;
  const first = i < tokens.length && !PHRASE_END.has(tokens[i]!) ? tokens[i] : undefined;
  const isNoun = (token: string) => (semantic === undefined ? true : lookupNoun(token, semantic) !== undefined);
  const likelyVerb = (token: string) =>
    /(?:ed|ing)$/.test(token) || (semantic?.verbForms.has(token) ?? false);
  let head: number | undefined;
  let skipped = 0;
  for (; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token === 's') {
      // A possessive: "mexico 's largest city" — the phrase starts again after it.
      head = undefined;
      continue;
    }
    if (PHRASE_END.has(token)) break;
    if (!isNoun(token)) {
      if (head !== undefined || ++skipped > 3) break;
      continue;
    }
    if (head !== undefined) {
      const previous = tokens[head]!;
      const verbLike = likelyVerb(token) || (token.endsWith('s') && !previous.endsWith('s'));
      const nameAfterNoun = capitalised[i] === true && capitalised[head] !== true;
      if (verbLike || nameAfterNoun) break;
    }
    head = i;
  }
  const word = head === undefined ? first : tokens[head]!;
  if (word === undefined || semantic === undefined) return word;
  return lookupNoun(word, semantic)?.word ?? word;
}

function shapeFeatures(text: string, tokens: readonly string[]): string[] {
  const raw = text.normalize('NFKC').match(/[\p{L}\p{N}.]+/gu) ?? [];
  const features: string[] = [];
  // Acronyms ("NASA", "U.S.", "CPR") beyond the first word: strong cue for ABBR questions.
  if (raw.slice(1).some((word) => /^(?:\p{Lu}\.?){2,}$/u.test(word))) features.push('sh:acronym');
  if (raw.slice(1).some((word) => /^\p{Lu}/u.test(word))) features.push('sh:capitalised');
  if (tokens.includes('0')) features.push('sh:number');
  features.push(`sh:length${Math.min(tokens.length, 12) >> 2}`);
  return features;
}

/** Per token, whether it starts with a capital letter in the original text (all false if tokens do not align). */
function capitalisation(text: string, count: number): boolean[] {
  const raw = text.normalize('NFKC').match(/[\p{L}\p{N}]+/gu) ?? [];
  return raw.length === count ? raw.map((token) => /^\p{Lu}/u.test(token)) : new Array<boolean>(count).fill(false);
}

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
  if (spec.headWord || spec.semantic !== undefined) {
    const head = findHeadWord(tokens, capitalisation(text, tokens.length), spec.semantic);
    if (head !== undefined && spec.headWord) features.push(`hw:${head}`);
    const code = head === undefined || spec.semantic === undefined ? undefined : spec.semantic.words.get(head);
    if (code !== undefined && spec.semantic !== undefined) {
      const { classes, parents, categories } = spec.semantic.lexicon;
      features.push(`hl:${categories[code % 64]}`);
      // The entry class and all its ancestors, each once (the hierarchy is a DAG).
      const seen = new Set<number>();
      const stack = [Math.floor(code / 64)];
      while (stack.length > 0) {
        const id = stack.pop()!;
        if (seen.has(id)) continue;
        seen.add(id);
        features.push(`hs:${classes[id]}`);
        stack.push(...(parents[id] ?? []));
      }
    }
  }
  if (spec.shapes) features.push(...shapeFeatures(text, tokens));
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
  const base = {
    wordNgrams: orders(options.wordNgrams ?? [1, 2], 'wordNgrams'),
    headTokens: options.headTokens ?? 2,
    whPhrase: options.whPhrase ?? true,
    whHead: options.whHead ?? false,
    charNgrams: orders(options.charNgrams ?? [], 'charNgrams'),
  };
  if (!Number.isInteger(base.headTokens) || base.headTokens < 0) {
    throw new Error(`headTokens must be a non-negative integer, got ${base.headTokens}`);
  }
  const headWord = options.headWord ?? false;
  const shapes = options.shapes ?? false;
  const semantic = options.semantic;
  const extraction: Extraction = {
    ...base,
    headWord,
    shapes,
    semantic: semantic === undefined ? undefined : indexLexicon(semantic),
  };
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

  // Version 1 unless a version-2 option is on, so v1 fits (and their files) stay exactly as they were.
  const version2 = headWord || shapes || semantic !== undefined;
  const spec: LexicalFeatureSpec = {
    kind: 'lexical-features',
    version: version2 ? 2 : 1,
    tokenizer: TOKENIZER,
    ...base,
    weighting,
    vocabulary: kept.map(([feature]) => feature),
  };
  if (version2) {
    spec.headWord = headWord;
    spec.shapes = shapes;
    if (semantic !== undefined) spec.semantic = semantic;
  }
  if (weighting === 'tfidf') {
    // Smoothed idf as in scikit-learn's TfidfVectorizer: ln((1 + N) / (1 + df)) + 1.
    spec.idf = kept.map(([, count]) => Math.log((1 + texts.length) / (1 + count)) + 1);
  }
  return spec;
}

function assertSpec(spec: LexicalFeatureSpec): void {
  if (spec.kind !== 'lexical-features' || (spec.version !== 1 && spec.version !== 2)) {
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
  // Version-1 specs never carry the version-2 fields; ignoring them there keeps old files' features unchanged.
  const version2 = spec.version === 2;
  const extraction: Extraction = {
    wordNgrams: orders(spec.wordNgrams, 'wordNgrams'),
    headTokens: spec.headTokens,
    whPhrase: spec.whPhrase,
    whHead: spec.whHead ?? false,
    charNgrams: orders(spec.charNgrams, 'charNgrams'),
    headWord: version2 && spec.headWord === true,
    shapes: version2 && spec.shapes === true,
    semantic: version2 && spec.semantic !== undefined ? indexLexicon(spec.semantic) : undefined,
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
