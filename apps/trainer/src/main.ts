import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  USE_LITE_PACKAGE,
  createLexicalFeaturizer,
  loadSentenceEncoder,
  localModelHandler,
  selectBackend,
  type LexicalFeatureSpec,
  type SentenceEncoder,
} from '@modeldock/model-runtime';
import { UsageError, USAGE, nextVersion, parseTrainerArgs, type TrainerOptions } from './cli.js';
import { LABELS, createRng, fineLabelsOf, readTrec, stratifiedSplit, type Dataset, type Label } from './data.js';
import { embedDataset } from './embeddings.js';
import { evaluate, type Evaluation } from './evaluate.js';
import { buildInputs, fitOnRows, inputSpecs, type SemanticLexicon } from './features.js';
import { buildEnsemble, type Ensemble, type InputSpec } from './model.js';
import { renderReport } from './report.js';
import { applyTextTransform } from './text-transform.js';
import { predictProbabilities, scoreProbabilities, trainMember, type MemberResult } from './train.js';
import { encoderPackageVersion, trainingProvenance } from './provenance.js';
import { FINAL_VARIANT, VARIANTS, type Variant } from './variants.js';
import { installTransposeFirstMatMul } from './wasm-matmul.js';
import { DEFAULT_WORDNET_DIR, buildWordNetLexicon } from './wordnet.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MODEL_NAME = 'question-topic';
const VALIDATION_FRACTION = 0.1;
const RESULTS_FILE = path.join(ROOT, 'apps/trainer/explore-results.json');

/** One row of the variants table. */
export interface VariantRow {
  name: string;
  description: string;
  validationAccuracy: number;
  testAccuracy: number;
  members: MemberResult[];
  lexicalFeatures: number;
  seconds: number;
}

interface Trained {
  ensemble: Ensemble;
  spec: LexicalFeatureSpec | null;
  inputs: InputSpec[];
  row: VariantRow;
  fineLabels: string[] | undefined;
}

interface Context {
  seed: number;
  train: Dataset;
  test: Dataset;
  split: { train: number[]; validation: number[] };
  encoder: SentenceEncoder;
  quick: boolean;
  /** The WordNet head-word lexicon at a given depth (built once per depth). */
  lexicon: (maxDepth: number) => Promise<SemanticLexicon>;
}

async function trainVariant(variant: Variant, context: Context): Promise<Trained> {
  const started = Date.now();
  const { train, test, split, encoder, seed } = context;
  const recipe = context.quick ? { ...variant.recipe, maxEpochs: 3, members: 1 } : variant.recipe;
  const trainTexts = train.examples.map((e) => e.text);
  const embeddings = await embedDataset(encoder, train, variant.textTransform, path.join(ROOT, '.cache'));
  const testEmbeddings = await embedDataset(encoder, test, variant.textTransform, path.join(ROOT, '.cache'));
  const lexical =
    variant.lexical === null || variant.semantic === undefined
      ? variant.lexical
      : { ...variant.lexical, semantic: await context.lexicon(variant.semantic.maxDepth) };
  const spec = fitOnRows(trainTexts, split.train, lexical);
  const labels = train.examples.map((e) => e.label);
  const fineLabels = recipe.fineTargets ? fineLabelsOf(split.train.map((row) => train.examples[row]!)) : undefined;
  const fineToCoarse = fineLabels?.map((fine) => LABELS.indexOf(fine.split(':')[0] as Label));
  const part = (rows: number[], fine: boolean) => ({
    inputs: buildInputs(embeddings, encoder.dimension, rows, trainTexts, spec),
    labels: rows.map((row) => (fine ? fineLabels!.indexOf(train.examples[row]!.fine) : labels[row]!)),
  });
  const trainSplit = part(split.train, fineLabels !== undefined);
  const validation = part(split.validation, false);
  const testRows = test.examples.map((_, i) => i);
  const testSplit = {
    inputs: buildInputs(testEmbeddings, encoder.dimension, testRows, test.examples.map((e) => e.text), spec),
    labels: test.examples.map((e) => e.label),
  };
  const inputs = inputSpecs(encoder.dimension, spec);
  const ensemble = buildEnsemble(inputs, recipe, LABELS.length, seed, fineToCoarse);
  // Each variant restarts the shared stream, so its result does not depend on what ran before it.
  const rng = createRng(seed);
  Math.random = createRng(seed + 1);
  const members: MemberResult[] = [];
  try {
    for (const [k, member] of ensemble.members.entries()) {
      const label = `${variant.name} #${k + 1}/${recipe.members}`;
      const outputs = fineToCoarse?.length ?? LABELS.length;
      members.push(await trainMember(member, trainSplit, validation, recipe, outputs, rng, label, fineToCoarse));
    }
    const score = async (s: typeof validation) =>
      scoreProbabilities(await predictProbabilities(ensemble.model, s.inputs), s.labels, LABELS.length).accuracy;
    const row: VariantRow = {
      name: variant.name,
      description: variant.description,
      validationAccuracy: await score(validation),
      testAccuracy: await score(testSplit),
      members,
      lexicalFeatures: spec?.vocabulary.length ?? 0,
      seconds: Math.round((Date.now() - started) / 1000),
    };
    console.log(
      `${variant.name}: validation ${(row.validationAccuracy * 100).toFixed(2)}%, test ${(row.testAccuracy * 100).toFixed(2)}%, ` +
        `${row.lexicalFeatures} lexical features, ${row.seconds}s, epochs ${members.map((m) => `${m.bestEpoch}/${m.epochsRun}`).join(' ')}`,
    );
    return { ensemble, spec, inputs, row, fineLabels };
  } finally {
    tfc.dispose([...trainSplit.inputs, ...validation.inputs, ...testSplit.inputs]);
  }
}

function disposeEnsemble(ensemble: Ensemble): void {
  // Members share every layer with the ensemble model, so disposing the ensemble frees all weights.
  ensemble.model.dispose();
}

/**
 * Scores the saved artefacts exactly as the service will: load model.json/weights.bin and the
 * featuriser file from disk, embed each transformed test text afresh (no cache), predict.
 */
async function evaluateSaved(dir: string, variant: Variant, test: Dataset, encoder: SentenceEncoder): Promise<Evaluation> {
  const model = await tfl.loadLayersModel(localModelHandler(path.join(dir, 'model.json')));
  try {
    const featurizer =
      variant.lexical === null
        ? null
        : createLexicalFeaturizer(JSON.parse(await readFile(path.join(dir, 'lexical-features.json'), 'utf8')) as LexicalFeatureSpec);
    const texts = test.examples.map((e) => e.text);
    const probabilities = new Float32Array(texts.length * LABELS.length);
    for (let start = 0; start < texts.length; start += 64) {
      const batch = texts.slice(start, start + 64);
      const embedding = await encoder.embed(batch.map((text) => applyTextTransform(variant.textTransform, text)));
      const inputs: tfc.Tensor2D[] = [embedding];
      if (featurizer !== null) inputs.push(tfc.tensor2d(featurizer.transform(batch), [batch.length, featurizer.size]));
      const output = model.predict(inputs.length === 1 ? inputs[0]! : inputs) as tfc.Tensor;
      probabilities.set(await output.data(), start * LABELS.length);
      tfc.dispose([output, ...inputs]);
    }
    return evaluate(probabilities, test.examples.map((e) => e.label), LABELS);
  } finally {
    model.dispose();
  }
}

async function readResults(): Promise<VariantRow[]> {
  try {
    return JSON.parse(await readFile(RESULTS_FILE, 'utf8')) as VariantRow[];
  } catch {
    return [];
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

async function listVersions(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

async function run(cli: TrainerOptions): Promise<void> {
  const startedAt = Date.now();
  const unknown = [...(cli.only ?? []), ...(cli.variant === undefined ? [] : [cli.variant])].filter(
    (name) => !VARIANTS.some((v) => v.name === name),
  );
  if (unknown.length > 0) throw new UsageError(`unknown variant ${unknown.map((n) => `'${n}'`).join(', ')}; see apps/trainer/src/variants.ts`);
  const variantName = cli.variant ?? FINAL_VARIANT;
  const outDir = cli.outDir ?? (cli.quick ? path.join(ROOT, '.cache/quick-model') : path.join(ROOT, 'models', MODEL_NAME));
  // Quick runs are scratch output: one fixed directory unless asked otherwise.
  const version = cli.quick && cli.version === undefined ? '1' : nextVersion(await listVersions(outDir), cli.version);
  const dir = path.join(outDir, version);
  // Checked before any work: a finished model must never be replaced by accident.
  if (!cli.explore && !cli.quick && !cli.overwrite && (await exists(dir))) {
    throw new UsageError(`${path.relative(process.cwd(), dir) || dir} already exists; pass --overwrite to replace it or --version <n> for another`);
  }
  const backend = await selectBackend('wasm', 'cpu');
  if (cli.fastMatmul) installTransposeFirstMatMul();
  const [train, test, encoder] = await Promise.all([
    readTrec(path.join(ROOT, 'data/trec/train_5500.label')),
    readTrec(path.join(ROOT, 'data/trec/TREC_10.label')),
    loadSentenceEncoder(),
  ]);
  const split = stratifiedSplit(train.examples.map((e) => e.label), VALIDATION_FRACTION, cli.seed);
  const lexicons = new Map<number, Promise<SemanticLexicon>>();
  const lexicon = (maxDepth: number): Promise<SemanticLexicon> => {
    if (!lexicons.has(maxDepth)) lexicons.set(maxDepth, buildWordNetLexicon(cli.wordnetDir ?? DEFAULT_WORDNET_DIR, maxDepth));
    return lexicons.get(maxDepth)!;
  };
  const context: Context = { seed: cli.seed, train, test, split, encoder, quick: cli.quick, lexicon };
  console.log(
    `backend ${backend.backend}${cli.fastMatmul ? ' (transpose-first matmul)' : ''}; ` +
      `train ${split.train.length}, validation ${split.validation.length}, test ${test.examples.length} (test is never used for selection)`,
  );

  if (cli.explore) {
    const chosen = cli.only === undefined ? VARIANTS : VARIANTS.filter((v) => cli.only!.includes(v.name));
    const previous = await readResults();
    const rows = new Map(previous.map((row) => [row.name, row]));
    for (const variant of chosen) {
      const trained = await trainVariant(variant, context);
      rows.set(variant.name, trained.row);
      disposeEnsemble(trained.ensemble);
      if (!cli.quick) {
        const ordered = VARIANTS.flatMap((v) => (rows.has(v.name) ? [rows.get(v.name)!] : []));
        await writeFile(RESULTS_FILE, `${JSON.stringify(ordered, null, 2)}\n`);
      }
    }
    const best = [...rows.values()].reduce((a, b) => (b.validationAccuracy > a.validationAccuracy ? b : a));
    console.log(`best by validation: ${best.name} (${(best.validationAccuracy * 100).toFixed(2)}%); FINAL_VARIANT is ${FINAL_VARIANT}`);
    encoder.dispose();
    return;
  }

  const variant = VARIANTS.find((v) => v.name === variantName);
  if (variant === undefined) throw new Error(`unknown variant ${variantName}`);
  const trained = await trainVariant(variant, context);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await trained.ensemble.model.save(localModelHandler(path.join(dir, 'model.json')));
  disposeEnsemble(trained.ensemble);
  if (trained.spec !== null) await writeFile(path.join(dir, 'lexical-features.json'), `${JSON.stringify(trained.spec)}\n`);

  const evaluation = await evaluateSaved(dir, variant, test, encoder);
  // The run's own row replaces (or joins) the sweep's, in table order, and is recorded for later runs.
  const rows = new Map((await readResults()).map((row) => [row.name, row]));
  if (!cli.quick) rows.set(variant.name, trained.row);
  const variants = cli.quick ? [trained.row] : VARIANTS.flatMap((v) => (rows.has(v.name) ? [rows.get(v.name)!] : []));
  if (!cli.quick) await writeFile(RESULTS_FILE, `${JSON.stringify(variants, null, 2)}\n`);
  const encoderVersion = await encoderPackageVersion();
  const provenance = trainingProvenance(train, test, encoderVersion);
  const recipe = cli.quick ? { ...variant.recipe, maxEpochs: 3, members: 1 } : variant.recipe;
  const metadata = {
    name: MODEL_NAME,
    kind: 'text-classifier',
    version,
    labels: [...LABELS],
    encoder: { id: encoder.id, dimension: encoder.dimension, source: `${USE_LITE_PACKAGE}@${encoderVersion}` },
    textTransform: variant.textTransform,
    // Nothing here uses seed-clean, so the model does not depend on text-preprocessing's version.
    preprocessingVersion: null,
    inputs: trained.inputs.map((input) =>
      input.name === 'lexical' ? { ...input, featurizer: 'lexical-features.json' } : { ...input },
    ),
    createdAt: new Date().toISOString(),
    training: {
      variant: variant.name,
      description: variant.description,
      seed: cli.seed,
      quick: cli.quick,
      recipe,
      lexicalFeatures: variant.lexical,
      semanticClasses: variant.semantic === undefined ? null : { source: 'WordNet 3.0 noun hypernyms', ...variant.semantic },
      fineLabels: trained.fineLabels ?? null,
      validationSplit: { fraction: VALIDATION_FRACTION, stratified: true, seed: cli.seed, train: split.train.length, validation: split.validation.length },
      members: trained.row.members,
      epochsRun: trained.row.members.map((m) => m.epochsRun),
      data: provenance.data,
      backend: backend.backend,
      libraries: provenance.libraries,
      seconds: Math.round((Date.now() - startedAt) / 1000),
    },
    evaluation: {
      dataset: 'TREC_10 (500 questions)',
      testAccuracy: evaluation.accuracy,
      validationAccuracy: trained.row.validationAccuracy,
      perClass: evaluation.perClass,
      confusionMatrix: { rows: 'true', columns: 'predicted', labels: [...LABELS], matrix: evaluation.confusionMatrix },
    },
    variants: variants.map(({ name, description, validationAccuracy, testAccuracy }) => ({
      name,
      description,
      validationAccuracy,
      testAccuracy,
    })),
  };
  await writeFile(path.join(dir, 'metadata.json'), `${JSON.stringify(metadata, null, 2)}\n`);
  await writeFile(path.join(dir, 'REPORT.md'), renderReport({ metadata, variants, chosen: variant.name }));
  encoder.dispose();
  console.log(
    `wrote ${path.relative(ROOT, dir)}: test accuracy ${(evaluation.accuracy * 100).toFixed(2)}% ` +
      `(validation ${(trained.row.validationAccuracy * 100).toFixed(2)}%) in ${Math.round((Date.now() - startedAt) / 1000)}s`,
  );
}

async function main(argv: readonly string[]): Promise<number> {
  try {
    const parsed = parseTrainerArgs(argv);
    if (parsed.command === 'help') {
      console.log(USAGE);
      return 0;
    }
    await run(parsed.options);
    return 0;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`train: ${error.message} (see --help)`);
    return 2;
  }
}

process.exitCode = await main(process.argv.slice(2));
