/**
 * Recorded in model metadata so a model is only served with the cleaning it was trained with.
 * Bump it whenever any output of {@link cleanText} changes.
 */
export const PREPROCESSING_VERSION = 'seed-cleantext-1';

// Python 3 `\w` on str is Unicode-aware: str.isalnum() or '_', which is exactly gc=L* | gc=N* | '_'
// (checked against every code point with Python 3.11). JS `\w` is ASCII-only even with the u flag.
const WORD = String.raw`[\p{L}\p{N}_]`;

// The seed's list, in its order: the specific forms must run before the generic `n't`/`'s` rules
// ("won't" -> "will not", not "wo not"). Case-sensitive, like the original `re.subn` calls.
const CONTRACTIONS: ReadonlyArray<readonly [RegExp, string]> = [
  [/won't/gu, 'will not'],
  [/can't/gu, 'can not'],
  [/i'm/gu, 'i am'],
  [/ain't/gu, 'is not'],
  [new RegExp(`(${WORD}+)'ll`, 'gu'), '$1 will'],
  [new RegExp(`(${WORD}+)n't`, 'gu'), '$1 not'],
  [new RegExp(`(${WORD}+)'ve`, 'gu'), '$1 have'],
  [new RegExp(`(${WORD}+)'s`, 'gu'), '$1 is'],
  [new RegExp(`(${WORD}+)'re`, 'gu'), '$1 are'],
  [new RegExp(`(${WORD}+)'d`, 'gu'), '$1 would'],
  [/&/gu, 'and'],
  [/dammit/gu, 'damn it'],
  [/dont/gu, 'do not'],
  [/wont/gu, 'will not'],
];

// The seed's link pattern with its capture groups made non-capturing (the filler uses none). Every class is
// ASCII, so matching by UTF-16 code unit gives the same result as Python matching by code point.
const LINK =
  /(?:(?:http|https):\/\/)?[a-zA-Z0-9./?:@\-_=#]+\.[a-zA-Z]{2,6}[a-zA-Z0-9.&/?:@\-_=#]*/g;

// Python str.isdigit() is Numeric_Type=Decimal (= gc=Nd) or Numeric_Type=Digit; the extra ranges are the latter,
// which JS \p{Nd} misses (superscripts, circled digits, ...). Generated with Python 3.11 (Unicode 14.0):
//   [c for c in range(0x110000) if chr(c).isdigit() and unicodedata.category(chr(c)) != 'Nd']
const DIGIT =
  /[\p{Nd}\u00B2-\u00B3\u00B9\u1369-\u1371\u19DA\u2070\u2074-\u2079\u2080-\u2089\u2460-\u2468\u2474-\u247C\u2488-\u2490\u24EA\u24F5-\u24FD\u24FF\u2776-\u277E\u2780-\u2788\u278A-\u2792\u{10A40}-\u{10A43}\u{10E60}-\u{10E68}\u{11052}-\u{1105A}\u{1F100}-\u{1F10A}]/gu;

const PUNCTUATION = /[,!@#$%^&*)(|/><";:.?'\\}{]/g;

/**
 * Python's str.isspace() set, which str.strip() uses. Unlike JS trim() it includes U+001C..U+001F and U+0085
 * and excludes U+FEFF. Generated with Python 3.11: [c for c in range(0x110000) if chr(c).isspace()]
 */
function isPythonWhitespace(code: number): boolean {
  return (
    (code >= 0x09 && code <= 0x0d) ||
    (code >= 0x1c && code <= 0x20) ||
    code === 0x85 ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000
  );
}

/**
 * Python `str.strip()` with no argument: removes leading and trailing characters of Python's whitespace set.
 * Index loops rather than a `[...]+$` regex, which backtracks quadratically on long inner whitespace runs.
 * All Python whitespace is in the BMP, so comparing UTF-16 code units is exact.
 */
export function pythonStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isPythonWhitespace(text.charCodeAt(start))) start++;
  while (end > start && isPythonWhitespace(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

/** Expands English contractions and a few slang forms exactly as the seed's `replace_contraction` does. */
export function expandContractions(text: string): string {
  let result = text;
  for (const [pattern, replacement] of CONTRACTIONS) result = result.replace(pattern, replacement);
  return result;
}

/**
 * Replaces URL- and e-mail-like tokens with `filler`, then strips Python whitespace (the seed's `replace_links`).
 * `filler` is inserted literally (no `$` or backslash expansion).
 */
export function replaceLinks(text: string, filler = ' '): string {
  return pythonStrip(text.replace(LINK, () => filler));
}

/** Removes every character for which Python's str.isdigit() is true, including '²', '①' and astral digits. */
export function removeNumbers(text: string): string {
  return text.replace(DIGIT, '');
}

/** Removes the seed's ASCII punctuation set; other characters such as `-`, `` ` ``, `[` and `~` are kept. */
export function stripPunctuation(text: string): string {
  return text.replace(PUNCTUATION, '');
}

/**
 * The seed article's `cleanText`: strip, newlines to spaces, expand contractions, replace links with "link",
 * remove digits, remove punctuation, lower-case. Pure and synchronous; matches the Python outputs in
 * `fixtures/preprocess-reference.json` exactly. Inner and trailing spaces left by removals are kept, as in the seed.
 */
export function cleanText(text: string): string {
  let result = pythonStrip(text).replaceAll('\n', ' ').replaceAll('\r', ' ');
  result = expandContractions(result);
  result = replaceLinks(result, 'link');
  result = removeNumbers(result);
  result = stripPunctuation(result);
  // Python's str.lower() and JS toLowerCase() are both Unicode full lower-casing with the Final_Sigma rule;
  // they agree on every code point assigned in Python 3.11's Unicode 14.0.
  return result.toLowerCase();
}
