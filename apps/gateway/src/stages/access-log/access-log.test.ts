import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { LogSampler, levelFor } from './index.js';

function capture() {
  const lines: { level: number; msg: string; suppressed?: Record<string, number> }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, sink) };
}

describe('LogSampler', () => {
  it('writes at most the configured lines per second and reports what it dropped', () => {
    const { lines, logger } = capture();
    let now = 0;
    const sampler = new LogSampler(logger, 3, () => now);
    for (let i = 0; i < 10; i++) sampler.log('info', 'info 429', {}, 'request completed');
    assert.equal(lines.length, 3);
    now = 1000;
    sampler.log('info', 'info 200', {}, 'request completed');
    assert.deepEqual(
      lines.slice(3).map((l) => [l.msg, l.suppressed]),
      [
        ['log lines suppressed in the last interval', { 'info 429': 7 }],
        ['request completed', undefined],
      ],
    );
  });
});

describe('levelFor', () => {
  it('keeps expected refusals at info and failures the gateway could not avoid at error', () => {
    assert.deepEqual(
      [200, 400, 404, 408, 413, 429, 431, 503, 500, 502, 504].map(levelFor),
      ['info', 'info', 'info', 'info', 'info', 'info', 'info', 'info', 'error', 'error', 'error'],
    );
  });
});
