import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { SemanticLexicon } from './features.js';

/** Where Debian's `wordnet-base` package installs the WordNet 3.0 database. */
export const DEFAULT_WORDNET_DIR = '/usr/share/wordnet';

/** Lexicographer file names 03–28 (the noun files), in file-number order (WordNet `lexnames(5WN)`). */
const NOUN_CATEGORIES = [
  'tops', 'act', 'animal', 'artifact', 'attribute', 'body', 'cognition', 'communication', 'event', 'feeling', 'food',
  'group', 'location', 'motive', 'object', 'person', 'phenomenon', 'plant', 'possession', 'process', 'quantity',
  'relation', 'shape', 'state', 'substance', 'time',
];
const FIRST_NOUN_FILE = 3;

interface Synset {
  offset: string;
  category: number;
  lemma: string;
  hypernyms: string[];
}

/** Parses `data.noun` (WordNet `wndb(5WN)`): offset, lex file, words, pointers; hypernyms are `@` and `@i`. */
export function parseDataNoun(text: string): Map<string, Synset> {
  const synsets = new Map<string, Synset>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('  ')) continue;
    const fields = line.slice(0, line.indexOf(' | ') >= 0 ? line.indexOf(' | ') : undefined).trim().split(' ');
    const offset = fields[0]!;
    const category = Number(fields[1]) - FIRST_NOUN_FILE;
    const words = Number.parseInt(fields[3]!, 16);
    const lemma = fields[4]!.toLowerCase();
    let at = 4 + words * 2;
    const pointers = Number(fields[at]);
    at++;
    const hypernyms: string[] = [];
    for (let p = 0; p < pointers; p++, at += 4) {
      if (fields[at] === '@' || fields[at] === '@i') hypernyms.push(fields[at + 1]!);
    }
    synsets.set(offset, { offset, category, lemma, hypernyms });
  }
  return synsets;
}

/** Parses `index.noun`: lemma → synset offsets, most frequent sense first. */
export function parseIndexNoun(text: string): Map<string, string[]> {
  const index = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('  ')) continue;
    const fields = line.trim().split(' ');
    const senses = Number(fields[2]);
    index.set(fields[0]!, fields.slice(fields.length - senses));
  }
  return index;
}

/**
 * Builds the compact head-word lexicon the featuriser ships with: classes are the noun synsets at
 * most `maxDepth` hypernym links below the root (entity) — coarse enough to generalise ("location",
 * "person", "time period"), few enough to keep the file small. Each single-word noun (and each
 * irregular plural from `noun.exc`) enters the hierarchy at the deepest such ancestors of its most
 * frequent sense; deeper synsets fold into them.
 */
export async function buildWordNetLexicon(dir: string, maxDepth: number): Promise<SemanticLexicon> {
  const [data, index, exceptions, verbExceptions] = await Promise.all(
    ['data.noun', 'index.noun', 'noun.exc', 'verb.exc'].map((file) => readFile(path.join(dir, file), 'utf8')),
  );
  const synsets = parseDataNoun(data!);
  const senses = parseIndexNoun(index!);

  // Shortest hypernym distance from a root; memoised, the hierarchy is a DAG.
  const depth = new Map<string, number>();
  const depthOf = (offset: string): number => {
    const known = depth.get(offset);
    if (known !== undefined) return known;
    const synset = synsets.get(offset);
    const parents = synset?.hypernyms ?? [];
    const value = parents.length === 0 ? 0 : 1 + Math.min(...parents.map(depthOf));
    depth.set(offset, value);
    return value;
  };
  // Ancestors (self included) within maxDepth, and among them those with no shallow child in the set.
  const entries = (offset: string): string[] => {
    const within = new Set<string>();
    const stack = [offset];
    while (stack.length > 0) {
      const current = stack.pop()!;
      if (within.has(current)) continue;
      if (depthOf(current) <= maxDepth) within.add(current);
      stack.push(...(synsets.get(current)?.hypernyms ?? []));
    }
    const parentsInSet = new Set([...within].flatMap((o) => synsets.get(o)!.hypernyms.filter((p) => within.has(p))));
    return [...within].filter((o) => !parentsInSet.has(o)).sort();
  };

  // Classes in order of depth, then offset, so parents always come before children.
  const shallow = [...synsets.keys()].filter((o) => depthOf(o) <= maxDepth).sort((a, b) => depthOf(a) - depthOf(b) || (a < b ? -1 : 1));
  const id = new Map(shallow.map((o, i) => [o, i]));
  const lemmaCount = new Map<string, number>();
  for (const o of shallow) lemmaCount.set(synsets.get(o)!.lemma, (lemmaCount.get(synsets.get(o)!.lemma) ?? 0) + 1);
  const classes = shallow.map((o) => {
    const { lemma } = synsets.get(o)!;
    return lemmaCount.get(lemma) === 1 ? lemma : `${lemma}.${o}`;
  });
  const parents = shallow.map((o) =>
    synsets
      .get(o)!
      .hypernyms.filter((p) => id.has(p) && id.get(p)! < id.get(o)!)
      .map((p) => id.get(p)!)
      .sort((a, b) => a - b),
  );

  const words: Record<string, number> = {};
  const add = (word: string, lemma: string) => {
    const first = senses.get(lemma)?.[0];
    const synset = first === undefined ? undefined : synsets.get(first);
    if (synset === undefined || !/^[a-z]+$/.test(word) || word in words) return;
    // Several entry classes happen (multiple inheritance); the first keeps one number per word.
    const entry = entries(synset.offset)[0];
    if (entry === undefined) return;
    words[word] = id.get(entry)! * 64 + synset.category;
  };
  for (const lemma of [...senses.keys()].sort()) add(lemma, lemma);
  for (const line of exceptions!.split('\n').sort()) {
    const [inflected, lemma] = line.trim().split(' ');
    if (inflected !== undefined && lemma !== undefined) add(inflected, lemma);
  }
  const verbForms = [
    ...new Set(verbExceptions!.split('\n').map((line) => line.trim().split(' ')[0] ?? '').filter((w) => /^[a-z]+$/.test(w))),
  ].sort();
  return { source: `wordnet-3.0 depth<=${maxDepth}`, classes, parents, categories: NOUN_CATEGORIES, words, verbForms };
}
