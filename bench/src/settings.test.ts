import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommand, parseModelsSettings, parseSettings, USAGE, UsageError } from './settings.js';

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

  it('parses models with the run flags, with and without the `--` pnpm passes through', () => {
    const full = parseCommand(['models']);
    assert.equal(full.kind, 'models');
    assert.equal(full.kind === 'models' && full.settings.mode, 'full');
    const quick = parseCommand(['--', 'models', '--quick', '--log-level=info']);
    assert.equal(quick.kind === 'models' && quick.settings.mode, 'quick');
    assert.equal(quick.kind === 'models' && quick.settings.logLevel, 'info');
  });

  it('writes to the ignored bench/results/local unless --record asks to record the run', () => {
    assert.equal(parseSettings([]).record, false);
    assert.equal(parseSettings(['--quick', '--record']).record, true);
    assert.equal(parseModelsSettings([]).record, false);
    assert.equal(parseModelsSettings(['--record']).record, true);
  });

  it('parses bulk with the run flags: one round quick, three full', () => {
    const full = parseCommand(['bulk', '--record']);
    assert.equal(full.kind === 'bulk' && full.settings.rounds, 3);
    assert.equal(full.kind === 'bulk' && full.settings.record, true);
    const quick = parseCommand(['--', 'bulk', '--quick']);
    assert.equal(quick.kind === 'bulk' && quick.settings.rounds, 1);
    assert.throws(() => parseCommand(['bulk', '--docs']), /unknown argument: --docs/);
  });

  it('rejects an unknown flag after models', () => {
    assert.throws(() => parseCommand(['models', '--docs']), /unknown argument: --docs/);
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

describe('parseModelsSettings', () => {
  it('measures batch 1 and 32 with a few clients, and several start-ups only in the full mode', () => {
    const full = parseModelsSettings([]);
    const quick = parseModelsSettings(['--quick']);
    assert.deepEqual(full.batchSizes, [1, 32]);
    assert.ok(full.clients > 1 && full.clients <= 8);
    assert.ok(full.startups > 1);
    assert.equal(quick.startups, 1);
    assert.ok(quick.durationS < full.durationS && quick.engineDurationS < full.engineDurationS);
  });
});

describe('USAGE', () => {
  it('names every flag and subcommand the parser accepts', () => {
    for (const flag of ['--quick', '--log-level', '--help', '-h', 'models', 'report', '--docs']) assert.ok(USAGE.includes(flag), flag);
  });
});
