import type { Evaluation } from './evaluate.js';

interface ReportRow {
  name: string;
  description: string;
  validationAccuracy: number;
  testAccuracy: number;
  seconds?: number;
}

/** The subset of metadata.json the report reads. */
interface ReportMetadata {
  name: string;
  version: string;
  labels: string[];
  textTransform: string;
  inputs: { name: string; size: number }[];
  createdAt: string;
  training: {
    seed: number;
    recipe: object;
    lexicalFeatures: object | null;
    semanticClasses?: object | null;
    variant: string;
    validationSplit: { fraction: number; train: number; validation: number };
    epochsRun: number[];
    data: { train: { sha256: string }; test: { sha256: string } };
    libraries: Record<string, string>;
    seconds: number;
  };
  evaluation: {
    testAccuracy: number;
    validationAccuracy: number;
    perClass: Evaluation['perClass'];
    confusionMatrix: { matrix: number[][] };
  };
}

const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;

/** Renders REPORT.md: what was tried, what was chosen (by validation) and how it scores on TREC_10. */
export function renderReport({
  metadata,
  variants,
  chosen,
}: {
  metadata: ReportMetadata;
  variants: readonly ReportRow[];
  chosen: string;
}): string {
  const { training, evaluation } = metadata;
  const best = variants.reduce((a, b) => (b.validationAccuracy > a.validationAccuracy ? b : a));
  const chosenRow = variants.find((v) => v.name === chosen);
  const tied = variants.filter((v) => v.name !== chosen && v.validationAccuracy === chosenRow?.validationAccuracy);
  const lines = [
    `# ${metadata.name} v${metadata.version}`,
    '',
    `TREC coarse question topic (${metadata.labels.join(', ')}). Test accuracy on TREC_10: **${pct(evaluation.testAccuracy)}** ` +
      `(validation ${pct(evaluation.validationAccuracy)}). Created ${metadata.createdAt}.`,
    '',
    `Inputs: ${metadata.inputs.map((i) => `\`${i.name}\` [${i.size}]`).join(', ')}; text transform before USE: \`${metadata.textTransform}\`.`,
    '',
    '## Variants',
    '',
    `Every variant uses the same seeded, stratified ${pct(training.validationSplit.fraction)} validation split of ` +
      `train_5500 (${training.validationSplit.train} train / ${training.validationSplit.validation} validation). ` +
      'Selection and early stopping use validation only; the TREC_10 column is reported, never used to choose.',
    '',
    '| variant | description | validation | TREC_10 test | train time |',
    '|---|---|---:|---:|---:|',
    ...variants.map(
      (v) =>
        `| ${v.name === chosen ? `**${v.name}**` : v.name} | ${v.description} | ${pct(v.validationAccuracy)} | ${pct(v.testAccuracy)} | ${v.seconds === undefined ? '' : `${v.seconds} s`} |`,
    ),
    '',
    `Chosen: **${chosen}**` +
      (chosenRow !== undefined && chosenRow.validationAccuracy >= best.validationAccuracy
        ? ` — highest validation accuracy of the sweep${tied.length > 0 ? ` (tied with ${tied.map((v) => v.name).join(', ')})` : ''}.`
        : ` — within noise of the best validation score (${best.name}, ${pct(best.validationAccuracy)}) and preferred as simpler/smaller.`),
    '',
    `With ${training.validationSplit.validation} validation and 500 test questions one question is ` +
      `${(100 / training.validationSplit.validation).toFixed(2)} / 0.20 points and the standard error of either ` +
      'accuracy is about 1.2 points, so neighbouring rows are not reliably different.',
    '',
    '## Per class (TREC_10)',
    '',
    '| class | precision | recall | F1 | support |',
    '|---|---:|---:|---:|---:|',
    ...evaluation.perClass.map(
      (c) => `| ${c.label} | ${c.precision.toFixed(3)} | ${c.recall.toFixed(3)} | ${c.f1.toFixed(3)} | ${c.support} |`,
    ),
    '',
    '## Confusion matrix (rows = true, columns = predicted)',
    '',
    `| true \\ pred | ${metadata.labels.join(' | ')} |`,
    `|---|${metadata.labels.map(() => '---:').join('|')}|`,
    ...evaluation.confusionMatrix.matrix.map((row, i) => `| ${metadata.labels[i]} | ${row.join(' | ')} |`),
    '',
    '## Training',
    '',
    `- Seed ${training.seed}; epochs run per member: ${training.epochsRun.join(', ')} (early stopping on validation, best weights restored).`,
    `- Recipe: \`${JSON.stringify(training.recipe)}\``,
    `- Lexical features: \`${JSON.stringify(training.lexicalFeatures)}\``,
    ...(training.semanticClasses ? [`- Head-word classes: \`${JSON.stringify(training.semanticClasses)}\` (the lexicon ships inside lexical-features.json)`] : []),
    `- Data SHA-256: train \`${training.data.train.sha256}\`, test \`${training.data.test.sha256}\``,
    `- Libraries: ${Object.entries(training.libraries).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `- Wall time of this run: ${training.seconds} s (2 shared cores, wasm backend).`,
    '',
    '## Reproduce',
    '',
    '```sh',
    `pnpm train -- --version ${metadata.version} --variant ${training.variant} --overwrite   # re-creates this directory`,
    'pnpm train                       # trains the default recipe into the next free version directory',
    'pnpm train -- --quick            # 1 member, 3 epochs, into .cache/quick-model/ (smoke test)',
    'pnpm train -- --explore          # re-run the variant sweep into apps/trainer/explore-results.json (no model written)',
    'pnpm train -- --explore --only baseline,lex-project',
    'pnpm train -- --help             # every flag',
    '```',
    '',
    'Embeddings are cached in `.cache/` keyed by encoder, text transform and data checksum. The test numbers above were',
    'measured by loading the saved files and running embed(transform(text)) + lexical featuriser + predict, as the service does.',
    '',
  ];
  return lines.join('\n');
}
