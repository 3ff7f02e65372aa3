import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLexicalFeaturizer, fitLexicalFeatures, tokenizeQuestion } from './lexical-features.js';

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
    assert.throws(() => createLexicalFeaturizer({ ...spec, version: 2 as 1 }), /unsupported/);
    assert.throws(() => createLexicalFeaturizer({ ...spec, weighting: 'tfidf' }), /idf/);
    assert.throws(() => createLexicalFeaturizer({ ...spec, vocabulary: [] }), /empty/);
  });
});
