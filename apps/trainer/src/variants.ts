import type { LexicalFeatureOptions } from '@modeldock/model-runtime';
import type { Recipe } from './model.js';
import type { TextTransform } from './text-transform.js';

/** One candidate: how text is embedded, which lexical features sit beside it, and the MLP recipe. */
export interface Variant {
  name: string;
  description: string;
  textTransform: TextTransform;
  /** `null`: embedding only. */
  lexical: LexicalFeatureOptions | null;
  /**
   * Semantic classes of the question's head word from WordNet noun synsets at most `maxDepth`
   * links below the root; the compact lexicon ships inside the fitted lexical spec.
   */
  semantic?: { maxDepth: number };
  recipe: Recipe;
}

/** The service's original recipe: USE → Dense 256 relu (L2 1e-3) ×2 → softmax, Adam at its default rate. */
const ORIGINAL: Recipe = {
  hidden: [256, 256],
  l2: 0.001,
  dropout: 0,
  inputDropout: 0,
  learningRate: 0.001,
  labelSmoothing: 0,
  batchSize: 32,
  maxEpochs: 40,
  patience: 6,
  members: 1,
  lexicalJoin: 'input',
  lexicalUnits: 0,
  fineTargets: false,
};

const REGULARISED: Recipe = {
  ...ORIGINAL,
  hidden: [512, 512],
  l2: 0,
  dropout: 0.5,
  learningRate: 3e-4,
  labelSmoothing: 0.1,
};

const WORDS: LexicalFeatureOptions = { wordNgrams: [1, 2], headTokens: 2, whPhrase: true, minCount: 2, weighting: 'binary' };
const HEADS: LexicalFeatureOptions = { ...WORDS, headTokens: 3, whHead: true };
const PROJECT: Recipe = { ...REGULARISED, lexicalJoin: 'project', lexicalUnits: 64 };
/** A cheaper member for ensembling: narrower layers and a higher rate, so it converges in a few epochs. */
const LIGHT: Recipe = { ...PROJECT, hidden: [256, 256], lexicalUnits: 32, learningRate: 1e-3, patience: 4 };

/** v1's features plus the question's head noun (version-2 lexical spec). */
const HEAD_WORD: LexicalFeatureOptions = { ...HEADS, headWord: true };
const FINE: Recipe = { ...LIGHT, fineTargets: true };

/** Every variant `--explore` trains, in table order. The first is the baseline. */
export const VARIANTS: readonly Variant[] = [
  {
    name: 'baseline',
    description: 'original recipe: USE 512 → Dense 256 relu L2 1e-3 ×2 → softmax, Adam 1e-3',
    textTransform: 'raw',
    lexical: null,
    recipe: ORIGINAL,
  },
  {
    name: 'mlp512-dropout',
    description: 'USE → Dense 512 ×2, dropout 0.5, label smoothing 0.1, Adam 3e-4',
    textTransform: 'raw',
    lexical: null,
    recipe: REGULARISED,
  },
  {
    name: 'lex-wide',
    description: 'mlp512-dropout + binary word 1–2-grams, head tokens, wh-phrase (min count 2) joined linearly at the softmax (wide & deep)',
    textTransform: 'raw',
    lexical: WORDS,
    recipe: { ...REGULARISED, lexicalJoin: 'wide' },
  },
  {
    name: 'lex-project',
    description: 'mlp512-dropout + the same lexical features through Dense 64 relu, concatenated to the embedding',
    textTransform: 'raw',
    lexical: WORDS,
    recipe: PROJECT,
  },
  {
    name: 'lex-input',
    description: 'USE + top-2000 lexical features concatenated at the input → Dense 256 ×2, dropout 0.5, smoothing 0.1',
    textTransform: 'raw',
    lexical: { ...WORDS, maxFeatures: 2000 },
    recipe: { ...REGULARISED, hidden: [256, 256], lexicalJoin: 'input' },
  },
  {
    name: 'lex-head',
    description: 'lex-project + first 3 tokens and wh-word + head word (e.g. "what population")',
    textTransform: 'raw',
    lexical: HEADS,
    recipe: PROJECT,
  },
  {
    name: 'lex-head-light',
    description: 'lex-head features, lighter member: Dense 256 ×2, lexical → Dense 32, Adam 1e-3, patience 4',
    textTransform: 'raw',
    lexical: HEADS,
    recipe: LIGHT,
  },
  {
    name: 'lex-head-light-x5',
    description: 'average of 5 independently trained lex-head-light members inside one layers model',
    textTransform: 'raw',
    lexical: HEADS,
    recipe: { ...LIGHT, members: 5 },
  },
  {
    name: 'lex-head-light-fine',
    description: 'lex-head-light trained on the 50 fine TREC labels, summed into the 6 coarse classes by a fixed layer',
    textTransform: 'raw',
    lexical: HEADS,
    recipe: { ...LIGHT, fineTargets: true },
  },
  {
    name: 'lex-head-light-fine-x5',
    description: 'average of 5 independently trained lex-head-light-fine members inside one layers model',
    textTransform: 'raw',
    lexical: HEADS,
    recipe: { ...LIGHT, fineTargets: true, members: 5 },
  },
  {
    name: 'lex-head-light-fine-x8',
    description: 'as lex-head-light-fine-x5 with 8 members',
    textTransform: 'raw',
    lexical: HEADS,
    recipe: { ...LIGHT, fineTargets: true, members: 8 },
  },
  {
    name: 'lex-head-tfidf',
    description: 'lex-head with tf-idf weighting (L2-normalised rows) instead of binary',
    textTransform: 'raw',
    lexical: { ...HEADS, weighting: 'tfidf' },
    recipe: PROJECT,
  },
  // v2: head-word extraction, WordNet classes of the head word, word shapes.
  {
    name: 'v2-headword',
    description: 'lex-head-light-fine + head noun of what/which questions (e.g. "hw:city" for "what is Mexico\'s largest city")',
    textTransform: 'raw',
    lexical: HEAD_WORD,
    recipe: FINE,
  },
  {
    name: 'v2-wordnet6',
    description: 'v2-headword + WordNet classes of the head noun (hypernyms up to depth 6, lexicographer category)',
    textTransform: 'raw',
    lexical: HEAD_WORD,
    semantic: { maxDepth: 6 },
    recipe: FINE,
  },
  {
    name: 'v2-wordnet4',
    description: 'as v2-wordnet6 with coarser classes (hypernyms up to depth 4)',
    textTransform: 'raw',
    lexical: HEAD_WORD,
    semantic: { maxDepth: 4 },
    recipe: FINE,
  },
  {
    name: 'v2-wordnet6-shapes',
    description: 'v2-wordnet6 + word shapes (acronym, capitalised word, number, length bucket)',
    textTransform: 'raw',
    lexical: { ...HEAD_WORD, shapes: true },
    semantic: { maxDepth: 6 },
    recipe: FINE,
  },
  {
    name: 'v2-wordnet4-shapes',
    description: 'v2-wordnet4 + word shapes',
    textTransform: 'raw',
    lexical: { ...HEAD_WORD, shapes: true },
    semantic: { maxDepth: 4 },
    recipe: FINE,
  },
  {
    name: 'v2-wordnet6-shapes-x8',
    description: 'average of 8 independently trained v2-wordnet6-shapes members inside one layers model',
    textTransform: 'raw',
    lexical: { ...HEAD_WORD, shapes: true },
    semantic: { maxDepth: 6 },
    recipe: { ...FINE, members: 8 },
  },
  {
    name: 'v2-wordnet6-shapes-lex64',
    description: 'v2-wordnet6-shapes with the lexical projection widened to Dense 64',
    textTransform: 'raw',
    lexical: { ...HEAD_WORD, shapes: true },
    semantic: { maxDepth: 6 },
    recipe: { ...FINE, lexicalUnits: 64 },
  },
  {
    name: 'v2-wordnet6-shapes-512',
    description: 'v2-wordnet6-shapes with hidden layers Dense 512 ×2',
    textTransform: 'raw',
    lexical: { ...HEAD_WORD, shapes: true },
    semantic: { maxDepth: 6 },
    recipe: { ...FINE, hidden: [512, 512] },
  },
  {
    name: 'v2-wordnet6-shapes-512-x8',
    description: 'average of 8 independently trained v2-wordnet6-shapes-512 members inside one layers model',
    textTransform: 'raw',
    lexical: { ...HEAD_WORD, shapes: true },
    semantic: { maxDepth: 6 },
    recipe: { ...FINE, hidden: [512, 512], members: 8 },
  },
];

/** The recipe `pnpm train` trains by default (chosen by validation accuracy in the `--explore` sweep). */
export const FINAL_VARIANT = 'v2-wordnet6-shapes-x8';
