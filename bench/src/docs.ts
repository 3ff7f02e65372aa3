/** Where docs/benchmarks.md embeds a run's tables, and how it is kept equal to the run's report. */
const SOURCE_LINE = /^Source: `(bench\/results\/[^`]+\.md)` \(JSON next to it\)\.$/m;
const NEXT_SECTION = '\n## What the numbers mean';

/** The results file whose tables the docs embed (`bench/results/<name>.md`), or undefined. */
export function embeddedSource(docs: string): string | undefined {
  return SOURCE_LINE.exec(docs)?.[1];
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

/** `docs` with the tables after the source line replaced by `report`'s, the source line naming `sourceMd`. */
export function embedReport(docs: string, sourceMd: string, report: string): string {
  const source = SOURCE_LINE.exec(docs);
  const end = docs.indexOf(NEXT_SECTION);
  if (source === null || end === -1 || end < source.index) {
    throw new Error('docs/benchmarks.md has no "Source: `bench/results/...md` (JSON next to it)." line followed by "## What the numbers mean"');
  }
  const sourceLine = `Source: \`${sourceMd}\` (JSON next to it).`;
  return `${docs.slice(0, source.index)}${sourceLine}\n\n${asDocsSection(report)}\n\n${docs.slice(end + 1)}`;
}

/** The embedded section as it stands in `docs` (between the source line and the next `##` section). */
export function embeddedSection(docs: string): string | undefined {
  const source = SOURCE_LINE.exec(docs);
  const end = docs.indexOf(NEXT_SECTION);
  if (source === null || end === -1 || end < source.index) return undefined;
  return docs.slice(source.index + source[0].length, end).trim();
}
