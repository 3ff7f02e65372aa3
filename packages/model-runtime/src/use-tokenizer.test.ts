import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import { Tokenizer } from '@tensorflow-models/universal-sentence-encoder';
import fc from 'fast-check';
import { defaultEncoderDirectory } from './sentence-encoder.js';
import { createUseTokenizer, loadUseTokenizer, normalizeForEncoder, parseUseVocabulary, type UseTokenizer, type UseVocabulary } from './use-tokenizer.js';

/** The questions of a TREC `.label` file (ISO-8859-1, `COARSE:fine text` per line). */
async function readQuestions(name: string): Promise<string[]> {
  const bytes = await readFile(new URL(`../../../data/trec/${name}`, import.meta.url));
  return bytes
    .toString('latin1')
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
    .map((line) => line.slice(line.indexOf(' ') + 1));
}

describe('USE tokenizer', () => {
  let vocabulary: UseVocabulary;
  let upstream: Tokenizer;
  let tokenizer: UseTokenizer;
  before(async () => {
    vocabulary = parseUseVocabulary(await readFile(`${defaultEncoderDirectory()}/vocab.json`, 'utf8'));
    upstream = new Tokenizer(vocabulary as [string, number][]);
    tokenizer = await loadUseTokenizer();
  });

  for (const file of ['train_5500.label', 'TREC_10.label']) {
    it(`encodes every question of ${file} exactly as upstream`, async () => {
      const questions = await readQuestions(file);
      assert.ok(questions.length >= 500);
      for (const question of questions) assert.deepEqual(tokenizer.encode(question), upstream.encode(question), question);
    });
  }

  it('encodes edge cases exactly as upstream', () => {
    const cases = ['', ' ', '  ', 'a', ':30', ':', '\u201d5', '\uFDFA', '\uFFFD', '\uD800', '\uDC00x', '\u{1F44D}\u{1F3FD}', 'x\u0301\u0316', '\u00A0\t\n', '\u00BD', 'ＡＢＣ'];
    for (const text of cases) assert.deepEqual(tokenizer.encode(text), upstream.encode(text), JSON.stringify(text));
  });

  it('encodes random text exactly as upstream', () => {
    const pieces = vocabulary.slice(6, 400).map(([piece]) => piece.replaceAll('\u2581', ' '));
    const fragment = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 8 }),
      fc.string({ unit: 'grapheme', maxLength: 8 }),
      fc.string({ unit: 'grapheme-ascii', maxLength: 8 }),
      fc.constantFrom(...pieces),
      fc.constantFrom('\uFDFA', '\u0301', '\u0316', '\u0344', ' ', '   ', '\t', '\n', '\u00A0', '\u3000', '\u{1F469}\u200D\u{1F4BB}', '\uD83D', '\uDE00', ':30', ':', '\u201d5', '\u00BD'),
    );
    const text = fc.oneof(
      { weight: 9, arbitrary: fc.array(fragment, { maxLength: 30 }).map((parts) => parts.join('')) },
      { weight: 1, arbitrary: fc.array(fragment, { minLength: 200, maxLength: 600 }).map((parts) => parts.join('')) },
    );
    fc.assert(
      fc.property(text, (input) => {
        assert.deepEqual(tokenizer.encode(input), upstream.encode(input));
        assert.equal(tokenizer.countPieces(input), upstream.encode(input).length);
      }),
      { seed: 20261125, numRuns: 1500 },
    );
  });

  it('does work linear in the length of the text', () => {
    const longestPiece = Math.max(...vocabulary.map(([piece]) => [...piece].length));
    const samples = ['What is the capital of France? ', 'a', '\uFDFA', 'aaaa bbbb ', '\u{1F600}\u0301 ', 'ab'.repeat(16)];
    for (const sample of samples) {
      const work = (copies: number): number => {
        const start = tokenizer.operations;
        tokenizer.encode(sample.repeat(copies));
        return tokenizer.operations - start;
      };
      const [small, large] = [work(500), work(2000)];
      const symbols = [...normalizeForEncoder(sample.repeat(2000))].length;
      assert.ok(large <= 4.05 * small, `${JSON.stringify(sample)}: ${small} -> ${large} operations for 4x the text`);
      assert.ok(large <= longestPiece * symbols, `${JSON.stringify(sample)}: ${large} operations for ${symbols} symbols`);
    }
  });

  it('normalises as the tokenizer segments: NFKC, then spaces as word boundaries', () => {
    assert.equal(normalizeForEncoder(''), '');
    assert.equal(normalizeForEncoder('a b'), '\u2581a\u2581b');
    assert.equal([...normalizeForEncoder('\uFDFA')].length, 19);
    assert.equal(normalizeForEncoder('\u00A0x'), '\u2581\u2581x');
  });

  it('rejects a vocabulary whose scores upstream would not add as numbers', () => {
    assert.throws(() => parseUseVocabulary('[["a", "1"]]'), /entry 0/);
    assert.throws(() => parseUseVocabulary('{"a": 1}'), /array/);
    assert.deepEqual(parseUseVocabulary('[["a", null], ["b", -1]]'), [['a', null], ['b', -1]]);
  });

  it('uses upstream ids for a small vocabulary with unknowns and duplicates', () => {
    const small: [string, number][] = [['<unk>', 0], ['<s>', 0], ['</s>', 0], ['x', 0], ['y', 0], ['z', 0], ['\u2581a', -1], ['b', -2], ['ab', -2.5], ['b', -0.5], ['\u{1F600}b', -1]];
    const ours = createUseTokenizer(small);
    const theirs = new Tokenizer(small);
    for (const text of ['ab', 'a b', 'abb', 'q', 'qq a', '\u{1F600}b\u{1F600}b', 'b\u{1F600}']) {
      assert.deepEqual(ours.encode(text), theirs.encode(text), JSON.stringify(text));
    }
  });
});
