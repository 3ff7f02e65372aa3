import { parseArgs } from 'node:util';

/** A command-line mistake: main prints its message on one line and exits with status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** What the trainer was asked to do. */
export interface TrainerOptions {
  explore: boolean;
  quick: boolean;
  /** Version directory to write; `undefined` means the next free number. */
  version: string | undefined;
  /** Variant to train (default: the chosen one). */
  variant: string | undefined;
  seed: number;
  /** `--explore --only a,b`: the variants to run. */
  only: string[] | undefined;
  outDir: string | undefined;
  overwrite: boolean;
  fastMatmul: boolean;
  wordnetDir: string | undefined;
}

export type ParsedCommand = { command: 'help' } | { command: 'train'; options: TrainerOptions };

/** `--help` text: every flag, one line each. */
export const USAGE = `Usage: pnpm train [-- <options>]

Trains the question-topic classifier and writes models/question-topic/<version>/
(model.json, weights.bin, lexical-features.json, metadata.json, REPORT.md).

Options:
  --version <n>       version directory to write (digits; default: one above the highest existing)
  --overwrite         replace the version directory if it already exists (refused otherwise)
  --variant <name>    variant to train (default: the one chosen by validation; see --explore)
  --seed <n>          seed of the split, initialisers, dropout and shuffling (default 42)
  --quick             1 member, 3 epochs, into .cache/quick-model/ (smoke test)
  --explore           train every variant and record validation/test accuracy in
                      apps/trainer/explore-results.json (no model written)
  --only <a,b,...>    with --explore: only these variants
  --out-dir <dir>     directory of version folders (default models/question-topic)
  --wordnet-dir <dir> WordNet 3.0 database for head-word classes (default /usr/share/wordnet,
                      Debian package wordnet-base)
  --no-fast-matmul    use the stock wasm matMul instead of the transpose-first one
  -h, --help          print this help`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h', default: false },
  explore: { type: 'boolean', default: false },
  quick: { type: 'boolean', default: false },
  version: { type: 'string' },
  variant: { type: 'string' },
  seed: { type: 'string', default: '42' },
  only: { type: 'string' },
  'out-dir': { type: 'string' },
  overwrite: { type: 'boolean', default: false },
  'no-fast-matmul': { type: 'boolean', default: false },
  'wordnet-dir': { type: 'string' },
} as const;

/**
 * Parses the trainer's arguments (without node and the script). `pnpm train -- --quick` forwards
 * the `--` separator itself, so a leading one is dropped. Throws {@link UsageError} on anything
 * it does not understand.
 */
export function parseTrainerArgs(argv: readonly string[]): ParsedCommand {
  const args = argv[0] === '--' ? argv.slice(1) : [...argv];
  let values;
  try {
    ({ values } = parseArgs({ args, options: OPTIONS, allowPositionals: false, strict: true }));
  } catch (error) {
    // node's messages are one line already, but some end with advice on `--` that does not apply here.
    const message = error instanceof Error ? error.message.split('. To specify')[0]!.replace(/\.$/, '') : String(error);
    throw new UsageError(message);
  }
  if (values.help) return { command: 'help' };
  if (values.version !== undefined && !/^\d+$/.test(values.version)) {
    throw new UsageError(`--version must be digits, got '${values.version}'`);
  }
  if (!/^-?\d+$/.test(values.seed) || !Number.isSafeInteger(Number(values.seed))) {
    throw new UsageError(`--seed must be an integer, got '${values.seed}'`);
  }
  const only = values.only?.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (only !== undefined && !values.explore) throw new UsageError('--only needs --explore');
  if (only !== undefined && only.length === 0) throw new UsageError('--only needs at least one variant name');
  if (values.explore && (values.version !== undefined || values.overwrite || values.variant !== undefined)) {
    throw new UsageError('--explore writes no model; drop --version, --overwrite and --variant');
  }
  return {
    command: 'train',
    options: {
      explore: values.explore,
      quick: values.quick,
      version: values.version,
      variant: values.variant,
      seed: Number(values.seed),
      only,
      outDir: values['out-dir'],
      overwrite: values.overwrite,
      fastMatmul: !values['no-fast-matmul'],
      wordnetDir: values['wordnet-dir'],
    },
  };
}

/** The version to write: the requested one, else one above the highest existing version directory. */
export function nextVersion(existing: readonly string[], requested: string | undefined): string {
  if (requested !== undefined) return String(Number(requested));
  const highest = existing.filter((name) => /^\d+$/.test(name)).reduce((max, name) => Math.max(max, Number(name)), 0);
  return String(highest + 1);
}
