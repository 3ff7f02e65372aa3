import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { USAGE, UsageError, nextVersion, parseTrainerArgs } from './cli.js';

function options(argv: string[]) {
  const parsed = parseTrainerArgs(argv);
  assert.equal(parsed.command, 'train');
  return parsed.command === 'train' ? parsed.options : assert.fail('not a train command');
}

describe('parseTrainerArgs', () => {
  it('gives defaults for no arguments', () => {
    assert.deepEqual(options([]), {
      explore: false,
      quick: false,
      version: undefined,
      variant: undefined,
      seed: 42,
      only: undefined,
      outDir: undefined,
      overwrite: false,
      fastMatmul: true,
      wordnetDir: undefined,
    });
  });

  it('asks for help with --help or -h, also after the -- that pnpm forwards', () => {
    for (const argv of [['--help'], ['-h'], ['--', '--help'], ['--quick', '--help']]) {
      assert.deepEqual(parseTrainerArgs(argv), { command: 'help' }, argv.join(' '));
    }
  });

  it('reads every flag', () => {
    const parsed = options(['--', '--version', '2', '--overwrite', '--variant', 'v2-wordnet6', '--seed', '7', '--out-dir', 'x', '--no-fast-matmul', '--wordnet-dir', 'wn']);
    assert.equal(parsed.version, '2');
    assert.equal(parsed.overwrite, true);
    assert.equal(parsed.variant, 'v2-wordnet6');
    assert.equal(parsed.seed, 7);
    assert.equal(parsed.outDir, 'x');
    assert.equal(parsed.fastMatmul, false);
    assert.equal(parsed.wordnetDir, 'wn');
    assert.deepEqual(options(['--explore', '--only', 'baseline, lex-head']).only, ['baseline', 'lex-head']);
  });

  it('rejects unknown flags, positionals and bad values with a one-line UsageError', () => {
    const cases: [string[], RegExp][] = [
      [['--versoin', '2'], /Unknown option '--versoin'/],
      [['extra'], /positional/],
      [['--version', 'two'], /--version must be digits/],
      [['--version'], /argument missing/],
      [['--seed', '1.5'], /--seed must be an integer/],
      [['--only', 'baseline'], /--only needs --explore/],
      [['--explore', '--only', ','], /at least one/],
      [['--explore', '--version', '3'], /--explore writes no model/],
      [['--quick=yes'], /does not take an argument/],
    ];
    for (const [argv, message] of cases) {
      assert.throws(
        () => parseTrainerArgs(argv),
        (error: unknown) => error instanceof UsageError && message.test(error.message) && !error.message.includes('\n'),
        argv.join(' '),
      );
    }
  });

  it('documents every flag in the usage text', () => {
    for (const flag of ['--version', '--overwrite', '--variant', '--seed', '--quick', '--explore', '--only', '--out-dir', '--wordnet-dir', '--no-fast-matmul', '--help']) {
      assert.ok(USAGE.includes(flag), flag);
    }
  });
});

describe('nextVersion', () => {
  it('takes one above the highest numeric directory', () => {
    assert.equal(nextVersion(['1', '2', 'tmp', '10'], undefined), '11');
    assert.equal(nextVersion([], undefined), '1');
  });

  it('keeps a requested version, without leading zeros', () => {
    assert.equal(nextVersion(['1'], '1'), '1');
    assert.equal(nextVersion([], '007'), '7');
  });
});
