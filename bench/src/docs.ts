/**
 * Where docs/benchmarks.md embeds a run's tables, and how it is kept equal to the run's report. Each
 * kind of run has its own region: a source line naming the results file, then the generated
 * tables, up to the region's end.
 */
export interface DocsRegion {
  /** Matches the region's source line; group 1 is the results file. */
  readonly source: RegExp;
  /** The source line for `sourceMd`. */
  sourceLine(sourceMd: string): string;
  /** Where the region ends: the text of the section after it, or undefined for the end of the page. */
  readonly next: string | undefined;
}

/** The load benchmark's "Latest full table", up to "## What the numbers mean". */
export const RUN_REGION: DocsRegion = {
  source: /^Source: `(bench\/results\/[^`]+\.md)` \(JSON next to it\)\.$/m,
  sourceLine: (md) => `Source: \`${md}\` (JSON next to it).`,
  next: '\n## What the numbers mean',
};

/** The `bench models` tables, up to the next `## ` section or the end of the page. */
export const MODELS_REGION: DocsRegion = {
  source: /^Models source: `(bench\/results\/[^`]+\.md)` \(JSON next to it\)\.$/m,
  sourceLine: (md) => `Models source: \`${md}\` (JSON next to it).`,
  next: undefined,
};

/** deploy/README.md's memory table, from a `bench models` run, up to the next `## ` section. */
export const MEMORY_REGION: DocsRegion = {
  source: /^Memory source: `(bench\/results\/[^`]+\.md)` \(JSON next to it\)\.$/m,
  sourceLine: (md) => `Memory source: \`${md}\` (JSON next to it).`,
  next: undefined,
};

/** Start and end of the region's generated part in `docs` (after its source line), or undefined. */
function locate(docs: string, region: DocsRegion): { source: RegExpExecArray; end: number } | undefined {
  const source = region.source.exec(docs);
  if (source === null) return undefined;
  const after = source.index + source[0].length;
  if (region.next !== undefined) {
    const end = docs.indexOf(region.next);
    return end === -1 || end < source.index ? undefined : { source, end };
  }
  const heading = docs.indexOf('\n## ', after);
  return { source, end: heading === -1 ? docs.length : heading };
}

/** The results file whose tables the docs embed (`bench/results/<name>.md`), or undefined. */
export function embeddedSource(docs: string, region: DocsRegion = RUN_REGION): string | undefined {
  return region.source.exec(docs)?.[1];
}

/** A run's report as the docs show it: no title, every heading one level deeper. */
export function asDocsSection(report: string): string {
  const lines = report.split('\n');
  const body = lines[0]?.startsWith('# ') ? lines.slice(1) : lines;
  return body
    .map((line) => (line.startsWith('#') ? `#${line}` : line))
    .join('\n')
    .trim();
}

/** `docs` with the region's tables replaced by `report`'s, its source line naming `sourceMd`. */
export function embedReport(docs: string, sourceMd: string, report: string, region: DocsRegion = RUN_REGION): string {
  const found = locate(docs, region);
  if (found === undefined) {
    const example = region.sourceLine('bench/results/...md');
    throw new Error(`the page has no "${example}" line${region.next === undefined ? '' : ` followed by "${region.next.trim()}"`}`);
  }
  const rest = docs.slice(found.end);
  const tail = rest === '' ? '\n' : `\n\n${rest.replace(/^\n/, '')}`;
  return `${docs.slice(0, found.source.index)}${region.sourceLine(sourceMd)}\n\n${asDocsSection(report)}${tail}`;
}

/** The embedded section as it stands in `docs` (between the region's source line and its end). */
export function embeddedSection(docs: string, region: DocsRegion = RUN_REGION): string | undefined {
  const found = locate(docs, region);
  if (found === undefined) return undefined;
  return docs.slice(found.source.index + found.source[0].length, found.end).trim();
}
