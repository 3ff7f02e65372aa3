import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  PREPROCESSING_VERSION,
  cleanText,
  expandContractions,
  pythonStrip,
  removeNumbers,
  replaceLinks,
  stripPunctuation,
} from './clean-text.js';

interface GoldenCase {
  input: string;
  expected: string;
}

const EXPECTED_CASE_COUNT = 5984;
// The original Python service's cleanText output for every TREC question plus edge cases, kept in
// the repository so the golden test runs on a fresh clone.
const FIXTURE_PATH = fileURLToPath(new URL('../test/fixtures/preprocess-reference.json', import.meta.url));

// Fails rather than skips: a missing golden file must never look like a passing suite.
function loadGoldenCases(): GoldenCase[] {
  if (!existsSync(FIXTURE_PATH)) {
    assert.fail(`golden fixture not found at ${FIXTURE_PATH}`);
  }
  const parsed: unknown = JSON.parse(readFileSync(FIXTURE_PATH, 'utf8'));
  const cases = (parsed as { cases?: unknown }).cases;
  assert.ok(Array.isArray(cases), `${FIXTURE_PATH} has no "cases" array`);
  for (const c of cases) {
    assert.ok(
      typeof c?.input === 'string' && typeof c?.expected === 'string',
      `${FIXTURE_PATH} has a malformed case: ${JSON.stringify(c)}`,
    );
  }
  return cases as GoldenCase[];
}

describe('cleanText golden reference', () => {
  it(`holds ${EXPECTED_CASE_COUNT} cases`, () => {
    assert.equal(loadGoldenCases().length, EXPECTED_CASE_COUNT);
  });

  it('matches the Python output for every case', () => {
    const failures = loadGoldenCases()
      .map(({ input, expected }) => ({ input, expected, actual: cleanText(input) }))
      .filter(({ expected, actual }) => expected !== actual);
    assert.equal(
      failures.length,
      0,
      `${failures.length} mismatches; first ones:\n${JSON.stringify(failures.slice(0, 5), null, 2)}`,
    );
  });
});

describe('expandContractions', () => {
  it('applies the specific forms before the generic ones', () => {
    assert.equal(expandContractions("won't can't ain't"), 'will not can not is not');
    assert.equal(expandContractions("don't"), 'do not');
  });

  it("applies the generic rules in the seed's order ('ve before 'd)", () => {
    assert.equal(expandContractions("Y'all'd've"), "Y'all would have");
  });

  it('is case-sensitive like the seed', () => {
    assert.equal(expandContractions("WON'T I'm i'm"), "WON'T I'm i am");
  });

  it('treats non-ASCII letters and digits as word characters, like Python 3', () => {
    assert.equal(expandContractions("café's ٣'s"), 'café is ٣ is');
  });
});

describe('replaceLinks', () => {
  it('replaces URLs, e-mail addresses and bare domains with the filler', () => {
    assert.equal(
      replaceLinks('see https://example.com/p?q=1&x=2 or a.b@x-y.co.uk or foo.bar', 'link'),
      'see link or link or link',
    );
  });

  it('defaults to a space filler and strips the result', () => {
    assert.equal(replaceLinks(' www.google.com '), '');
  });

  it('inserts the filler literally', () => {
    assert.equal(replaceLinks('go to x.io now', '$&'), 'go to $& now');
  });
});

describe('removeNumbers', () => {
  it("removes every character Python's isdigit() accepts, including astral ones", () => {
    assert.equal(removeNumbers('a1٣²①⁹𝟙b'), 'ab');
  });

  it('keeps numeric characters that are not digits', () => {
    assert.equal(removeNumbers('½Ⅻ〇'), '½Ⅻ〇');
  });
});

describe('stripPunctuation', () => {
  it("removes only the seed's punctuation set", () => {
    assert.equal(stripPunctuation(`a,!@#$%^&*)(|/><";:.?'\\}{b -[]~\``), 'ab -[]~`');
  });
});

describe('pythonStrip', () => {
  it("strips Python's whitespace set, which includes U+001C..U+001F and U+0085", () => {
    assert.equal(pythonStrip('\x1c\x1d\x85\u3000 a b \t\x1e\x1f\u2028'), 'a b');
  });

  it('keeps U+FEFF, which JS trim() would remove', () => {
    assert.equal(pythonStrip('\uFEFFa\uFEFF'), '\uFEFFa\uFEFF');
  });
});

describe('cleanText', () => {
  it('keeps the spaces left behind by removed characters', () => {
    assert.equal(cleanText('Call 555-1234 in 2019!\n'), 'call - in ');
  });

  it('lower-cases a final capital sigma to ς as Python does', () => {
    assert.equal(cleanText('ΟΔΟΣ ΣΑ'), 'οδος σα');
  });

  it('returns the same output for the same input', () => {
    const input = "What's http://x.io ²? I'm here!";
    assert.equal(cleanText(input), cleanText(input));
    assert.equal(cleanText(input), 'what is link  im here');
  });

  it('has a version for model metadata', () => {
    assert.match(PREPROCESSING_VERSION, /^seed-cleantext-\d+$/);
  });
});
