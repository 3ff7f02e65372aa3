import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommand, parseSettings, USAGE, UsageError } from './settings.js';

describe('parseCommand', () => {
  it('runs the full mode with no arguments', () => {
    const command = parseCommand([]);
    assert.equal(command.kind, 'run');
    assert.equal(command.kind === 'run' && command.settings.mode, 'full');
  });

  it('accepts --quick with and without the `--` pnpm passes through', () => {
    for (const argv of [['--quick'], ['--', '--quick']]) {
      const command = parseCommand(argv);
      assert.equal(command.kind === 'run' && command.settings.mode, 'quick', argv.join(' '));
    }
  });

  it('returns help for --help and -h, whatever else is given', () => {
    for (const argv of [['--help'], ['-h'], ['--', '--help'], ['--quick', '--help'], ['--bogus', '-h']]) {
      assert.deepEqual(parseCommand(argv), { kind: 'help' }, argv.join(' '));
    }
  });

  it('parses report with one file and an optional --docs', () => {
    assert.deepEqual(parseCommand(['report', 'bench/results/x.json']), { kind: 'report', file: 'bench/results/x.json', docs: false });
    assert.deepEqual(parseCommand(['--', 'report', '--docs', 'x.json']), { kind: 'report', file: 'x.json', docs: true });
  });

  it('rejects report without exactly one file, or with an unknown option', () => {
    assert.throws(() => parseCommand(['report']), UsageError);
    assert.throws(() => parseCommand(['report', 'a.json', 'b.json']), UsageError);
    assert.throws(() => parseCommand(['report', 'a.json', '--quick']), /unknown option for report: --quick/);
  });
});

describe('parseSettings', () => {
  it('takes the log level in both --log-level=<l> and --log-level <l> forms', () => {
    assert.equal(parseSettings(['--log-level=info']).logLevel, 'info');
    assert.equal(parseSettings(['--quick', '--log-level', 'debug']).logLevel, 'debug');
    assert.equal(parseSettings([]).logLevel, 'warn');
  });

  it('rejects an unknown flag with a one-line UsageError naming it', () => {
    assert.throws(
      () => parseSettings(['--quik']),
      (err: unknown) => err instanceof UsageError && err.message.includes('--quik') && !err.message.includes('\n'),
    );
  });

  it('rejects a log level pino does not know, or a missing one', () => {
    assert.throws(() => parseSettings(['--log-level=loud']), /got "loud"/);
    assert.throws(() => parseSettings(['--log-level']), UsageError);
  });

  it('makes the quick mode shorter than the full one', () => {
    const quick = parseSettings(['--quick']);
    const full = parseSettings([]);
    assert.ok(quick.durationS < full.durationS);
    assert.ok(quick.clients.length < full.clients.length);
  });
});

describe('USAGE', () => {
  it('names every flag the parser accepts', () => {
    for (const flag of ['--quick', '--log-level', '--help', '-h', 'report', '--docs']) assert.ok(USAGE.includes(flag), flag);
  });
});
