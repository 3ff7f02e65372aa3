import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { buildWordNetLexicon, parseDataNoun, parseIndexNoun } from './wordnet.js';

// A miniature WordNet in the real file format: entity → location → region → city (+ an instance),
// entity → person; "capital" has two senses, the location one first.
const DATA_NOUN = [
  '  1 This software and database is being provided ...',
  '00001740 03 n 01 entity 0 001 ~ 00027167 n 0000 | that which exists',
  '00027167 15 n 01 location 0 002 @ 00001740 n 0000 ~ 08630985 n 0000 | a point or extent in space',
  '08630985 15 n 01 region 0 002 @ 00027167 n 0000 ~ 08524735 n 0000 | a large indefinite location',
  '08524735 15 n 03 city 0 metropolis 0 urban_center 0 002 @ 08630985 n 0000 ~i 09000001 n 0000 | a large urban area',
  '09000001 15 n 01 Paris 0 001 @i 08524735 n 0000 | the capital of France',
  '00007846 18 n 02 person 0 individual 0 001 @ 00001740 n 0000 | a human being',
  '08518505 15 n 01 capital 0 001 @ 08524735 n 0000 | a seat of government',
  '10000002 18 n 01 capital 0 001 @ 00007846 n 0000 | (made up) a person',
  '',
].join('\n');
const INDEX_NOUN = [
  '  1 This software and database is being provided ...',
  'capital n 2 1 @ 2 0 08518505 10000002  ',
  'city n 1 1 @ 1 0 08524735  ',
  'entity n 1 1 ~ 1 0 00001740  ',
  'paris n 1 1 @ 1 0 09000001  ',
  'person n 1 1 @ 1 0 00007846  ',
  'region n 1 1 @ 1 0 08630985  ',
  '',
].join('\n');

describe('parseDataNoun / parseIndexNoun', () => {
  it('reads lexicographer categories, first lemmas and (instance) hypernyms', () => {
    const synsets = parseDataNoun(DATA_NOUN);
    assert.deepEqual(synsets.get('08524735'), { offset: '08524735', category: 12, lemma: 'city', hypernyms: ['08630985'] });
    assert.deepEqual(synsets.get('09000001')?.hypernyms, ['08524735']);
    assert.deepEqual(parseIndexNoun(INDEX_NOUN).get('capital'), ['08518505', '10000002']);
  });
});

describe('buildWordNetLexicon', () => {
  it('folds deep synsets into their ancestors at maxDepth and uses the first sense', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'wordnet-'));
    try {
      await writeFile(path.join(dir, 'data.noun'), DATA_NOUN);
      await writeFile(path.join(dir, 'index.noun'), INDEX_NOUN);
      await writeFile(path.join(dir, 'noun.exc'), 'cities city\n');
      await writeFile(path.join(dir, 'verb.exc'), 'stole steal\nrode ride\n');
      const lexicon = await buildWordNetLexicon(dir, 2);
      // By depth, then offset; the made-up person sense of "capital" is shallow enough to be a class.
      assert.deepEqual(lexicon.classes, ['entity', 'person', 'location', 'region', 'capital']);
      assert.deepEqual(lexicon.parents, [[], [0], [0], [2], [1]]);
      const entry = (word: string) => {
        const code = lexicon.words[word];
        return code === undefined ? undefined : [lexicon.classes[Math.floor(code / 64)], lexicon.categories[code % 64]];
      };
      assert.deepEqual(entry('city'), ['region', 'location']);
      assert.deepEqual(entry('cities'), ['region', 'location'], 'irregular plurals from noun.exc');
      assert.deepEqual(entry('paris'), ['region', 'location'], 'instances climb through their class');
      assert.deepEqual(entry('capital'), ['region', 'location'], 'most frequent sense');
      assert.deepEqual(entry('person'), ['person', 'person']);
      assert.deepEqual(lexicon.verbForms, ['rode', 'stole']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
