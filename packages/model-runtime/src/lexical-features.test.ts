import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  createLexicalFeaturizer,
  fitLexicalFeatures,
  tokenizeQuestion,
  type LexicalFeatureSpec,
  type SemanticLexicon,
} from './lexical-features.js';

const REPO = new URL('../../../', import.meta.url);

const TRAIN = [
  'How many people live in Tokyo ?',
  'How many moons does Mars have ?',
  'Who wrote Hamlet ?',
  'Who invented the telephone ?',
  'Where is the Eiffel Tower ?',
  'Where is Mount Fuji ?',
  'What is the capital of France ?',
  'What is a nebula ?',
];

function row(matrix: Float32Array, size: number, i: number): number[] {
  return Array.from(matrix.subarray(i * size, (i + 1) * size));
}

describe('tokenizeQuestion', () => {
  it('gives pre-tokenised TREC text and natural text the same tokens', () => {
    assert.deepEqual(tokenizeQuestion("What 's the 2nd-largest city ?"), tokenizeQuestion("What's the 2nd-largest city?"));
  });

  it('lower-cases and maps numbers to one token', () => {
    assert.deepEqual(tokenizeQuestion('When did WW 2 end in 1945 ?'), ['when', 'did', 'ww', '0', 'end', 'in', '0']);
  });
});

describe('fitLexicalFeatures', () => {
  it('keeps only features seen in at least minCount texts', () => {
    const spec = fitLexicalFeatures(TRAIN, { minCount: 2 });
    assert.ok(spec.vocabulary.includes('h2:how many'));
    assert.ok(spec.vocabulary.includes('h1:who'));
    assert.ok(spec.vocabulary.includes('w2:where is'));
    assert.ok(!spec.vocabulary.includes('w1:tokyo'), 'a word seen once is dropped');
  });

  it('adds the wh-word with its head word when asked', () => {
    const spec = fitLexicalFeatures(['What is the population of Peru ?', 'What was the population of Rome ?'], { whHead: true });
    assert.ok(spec.vocabulary.includes('wq:what population'));
    assert.ok(!fitLexicalFeatures(TRAIN).vocabulary.some((f) => f.startsWith('wq:')), 'off by default');
  });

  it('is deterministic and independent of input order', () => {
    const a = fitLexicalFeatures(TRAIN, { charNgrams: [3], weighting: 'tfidf' });
    const b = fitLexicalFeatures([...TRAIN].reverse(), { charNgrams: [3], weighting: 'tfidf' });
    assert.deepEqual(a, b);
  });

  it('orders features by document frequency, most frequent first', () => {
    const spec = fitLexicalFeatures(TRAIN, { minCount: 1 });
    assert.equal(spec.vocabulary[0], 'w1:is');
  });

  it('caps the vocabulary at maxFeatures', () => {
    assert.equal(fitLexicalFeatures(TRAIN, { minCount: 1, maxFeatures: 5 }).vocabulary.length, 5);
  });

  it('rejects invalid options', () => {
    assert.throws(() => fitLexicalFeatures(TRAIN, { minCount: 0 }), /minCount/);
    assert.throws(() => fitLexicalFeatures(TRAIN, { wordNgrams: [0] }), /wordNgrams/);
  });
});

describe('createLexicalFeaturizer', () => {
  it('returns a row-major n×size matrix of binary features', () => {
    const spec = fitLexicalFeatures(TRAIN);
    const featurizer = createLexicalFeaturizer(spec);
    const texts = ['How many legs does a spider have ?', 'zzz'];
    const matrix = featurizer.transform(texts);
    assert.equal(featurizer.size, spec.vocabulary.length);
    assert.equal(matrix.length, texts.length * featurizer.size);
    const first = row(matrix, featurizer.size, 0);
    assert.equal(first[spec.vocabulary.indexOf('h2:how many')], 1);
    assert.ok(first.every((v) => v === 0 || v === 1));
    assert.ok(row(matrix, featurizer.size, 1).every((v) => v === 0), 'unknown words give a zero row');
  });

  it('transforms identically after a JSON round trip (what the service loads)', () => {
    const spec = fitLexicalFeatures(TRAIN, { weighting: 'tfidf', charNgrams: [3, 4] });
    const reloaded = createLexicalFeaturizer(JSON.parse(JSON.stringify(spec)));
    assert.deepEqual(reloaded.transform(TRAIN), createLexicalFeaturizer(spec).transform(TRAIN));
  });

  it('L2-normalises tf-idf rows', () => {
    const featurizer = createLexicalFeaturizer(fitLexicalFeatures(TRAIN, { weighting: 'tfidf' }));
    const matrix = featurizer.transform(['What is the capital of Peru ?']);
    const norm = Math.sqrt(row(matrix, featurizer.size, 0).reduce((sum, v) => sum + v * v, 0));
    assert.ok(Math.abs(norm - 1) < 1e-6, `norm ${norm}`);
  });

  it('returns an empty matrix for no texts', () => {
    assert.equal(createLexicalFeaturizer(fitLexicalFeatures(TRAIN)).transform([]).length, 0);
  });

  it('rejects a spec it does not understand', () => {
    const spec = fitLexicalFeatures(TRAIN);
    assert.throws(() => createLexicalFeaturizer({ ...spec, version: 3 as 1 }), /unsupported/);
    assert.throws(() => createLexicalFeaturizer({ ...spec, weighting: 'tfidf' }), /idf/);
    assert.throws(() => createLexicalFeaturizer({ ...spec, vocabulary: [] }), /empty/);
  });
});

/**
 * A tiny hand-made lexicon in the trainer's WordNet format: entity → {location → city, person,
 * measure → time unit}; `code = class * 64 + category`.
 */
const LEXICON: SemanticLexicon = {
  source: 'test',
  classes: ['entity', 'location', 'person', 'measure', 'city', 'time_unit'],
  parents: [[], [0], [0], [0], [1], [3]],
  categories: ['location', 'person', 'time'],
  words: { city: 4 * 64, mexico: 1 * 64, president: 2 * 64 + 1, year: 5 * 64 + 2, animal: 0, life: 0, team: 0, baseball: 0, color: 0, johnny: 2 * 64 + 1, cash: 0 },
  verbForms: ['stole'],
};

function features(spec: LexicalFeatureSpec, text: string): string[] {
  const featurizer = createLexicalFeaturizer(spec);
  const matrix = featurizer.transform([text]);
  return spec.vocabulary.filter((_, j) => matrix[j] !== 0);
}

describe('version-1 specs (served model v1)', () => {
  it('featurise the TREC_10 questions exactly as before version 2 existed', () => {
    const spec = JSON.parse(readFileSync(new URL('models/question-topic/1/lexical-features.json', REPO), 'utf8')) as LexicalFeatureSpec;
    const texts = readFileSync(new URL('data/trec/TREC_10.label', REPO), 'latin1')
      .split(/\r?\n/)
      .filter((line) => line.trim() !== '')
      .map((line) => line.replace(/^\S+ /, ''));
    const matrix = createLexicalFeaturizer(spec).transform(texts);
    // SHA-256 of the 500 × 8350 float32 matrix the pre-version-2 featuriser produced.
    assert.equal(
      createHash('sha256').update(Buffer.from(matrix.buffer)).digest('hex'),
      '4fc2dbb4fb27345e4b939a1aa1d0df273f4352df2caf6441b48eaecdfebfcce6',
    );
  });

  it('are still written by fits without version-2 options, with no version-2 fields', () => {
    const spec = fitLexicalFeatures(TRAIN, { whHead: true });
    assert.equal(spec.version, 1);
    assert.deepEqual(Object.keys(spec), ['kind', 'version', 'tokenizer', 'wordNgrams', 'headTokens', 'whPhrase', 'whHead', 'charNgrams', 'weighting', 'vocabulary']);
  });

  it('ignore version-2 fields', () => {
    const v2 = fitLexicalFeatures(['What city is it ?', 'What city was it ?'], { headWord: true, semantic: LEXICON });
    const v1 = { ...v2, version: 1 as const };
    assert.ok(features(v2, 'What city is it ?').includes('hw:city'));
    assert.ok(!features(v1, 'What city is it ?').some((f) => f.startsWith('hw:') || f.startsWith('hs:')));
  });
});

describe('version-2 features', () => {
  const fit = (texts: string[], options = {}) =>
    fitLexicalFeatures(texts, { minCount: 1, wordNgrams: [], headTokens: 0, whPhrase: false, headWord: true, semantic: LEXICON, ...options });
  const head = (text: string) => {
    // A second question keeps the vocabulary non-empty when `text` has no head.
    const spec = fit([text, 'What city ?']);
    return features(spec, text).filter((f) => f.startsWith('hw:'));
  };

  it('finds the head noun past fillers, adjectives and possessives', () => {
    assert.deepEqual(head("What is Mexico 's largest city ?"), ['hw:city']);
    assert.deepEqual(head("What's the name of the biggest city?"), ['hw:city']);
    assert.deepEqual(head('Which baseball team won ?'), ['hw:team']);
    assert.deepEqual(head('Name a city in Peru .'), ['hw:city']);
  });

  it('stops a compound at a likely verb or a name after a common noun', () => {
    assert.deepEqual(head('What animal lives longest ?'), ['hw:animal']);
    assert.deepEqual(head('What president stole the show ?'), ['hw:president']);
    assert.deepEqual(head("What 's the only color Johnny Cash wears ?"), ['hw:color']);
  });

  it('lemmatises plurals and has no head for who/where/when/how questions', () => {
    assert.deepEqual(head('What cities have a metro ?'), ['hw:city']);
    assert.deepEqual(head('Who wrote Hamlet ?'), []);
    assert.deepEqual(head('How many years ?'), []);
  });

  it("emits the head word's class, every ancestor class and its category", () => {
    const spec = fit(['What year did it end ?']);
    assert.deepEqual(features(spec, 'What year did it end ?').sort(), ['hl:time', 'hs:entity', 'hs:measure', 'hs:time_unit', 'hw:year']);
  });

  it('adds word shapes when asked', () => {
    const text = 'What does NASA stand for ?';
    const spec = fit([text], { shapes: true, headWord: false, semantic: undefined });
    assert.deepEqual(features(spec, text).sort(), ['sh:acronym', 'sh:capitalised', 'sh:length1']);
  });

  it('writes version 2 and transforms identically after a JSON round trip', () => {
    const spec = fitLexicalFeatures(TRAIN, { headWord: true, semantic: LEXICON, shapes: true, minCount: 1 });
    assert.equal(spec.version, 2);
    const reloaded = createLexicalFeaturizer(JSON.parse(JSON.stringify(spec)) as LexicalFeatureSpec);
    assert.deepEqual(reloaded.transform(TRAIN), createLexicalFeaturizer(spec).transform(TRAIN));
  });

  it('rejects a malformed lexicon', () => {
    const spec = fitLexicalFeatures(TRAIN, { headWord: true, semantic: LEXICON });
    assert.throws(() => createLexicalFeaturizer({ ...spec, semantic: { ...LEXICON, parents: [[], [2], [0], [0], [1], [3]] } }), /parent/);
    assert.throws(() => createLexicalFeaturizer({ ...spec, semantic: { ...LEXICON, words: { x: 99 * 64 } } }), /out of range/);
  });
});
