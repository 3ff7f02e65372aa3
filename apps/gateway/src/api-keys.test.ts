import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { findKey, mayUse, newKey, parseKeysFile } from './api-keys.js';

const sha = (key: string) => createHash('sha256').update(key).digest('hex');

describe('parseKeysFile', () => {
  it('reads the entries, a "*" scope as every model, and a burst of twice the rate by default', () => {
    const [scoped, all] = parseKeysFile(
      JSON.stringify({ keys: [{ id: 'team-a', sha256: sha('a'), models: ['m'], ratePerSecond: 20 }, { id: 'batch', sha256: sha('b'), models: ['*'] }] }),
    );
    assert.equal(scoped?.burst, 40);
    assert.equal(mayUse(scoped, 'm'), true);
    assert.equal(mayUse(scoped, 'n'), false);
    assert.equal(all?.models, 'all');
    assert.equal(all?.ratePerSecond, undefined);
  });

  it('says what is wrong, never repeating a hash', () => {
    const cases: [unknown, RegExp][] = [
      ['nope', /not valid JSON/],
      [{ keys: [{ id: 'a b', sha256: sha('a'), models: ['m'] }] }, /keys\.0\.id/],
      [{ keys: [{ id: 'a', sha256: 'abc', models: ['m'] }] }, /keys\.0\.sha256/],
      [{ keys: [{ id: 'a', sha256: sha('a'), models: [] }] }, /keys\.0\.models/],
      [{ keys: [{ id: 'a', sha256: sha('a'), models: ['m'], extra: 1 }] }, /extra/],
      [{ keys: [{ id: 'a', sha256: sha('a'), models: ['m'] }, { id: 'a', sha256: sha('b'), models: ['m'] }] }, /'a' is used twice/],
      [{ keys: [{ id: 'a', sha256: sha('a'), models: ['m'] }, { id: 'b', sha256: sha('a'), models: ['m'] }] }, /the same key as another entry/],
    ];
    for (const [json, message] of cases) {
      assert.throws(
        () => parseKeysFile(typeof json === 'string' ? json : JSON.stringify(json)),
        (err: Error) => message.test(err.message) && !err.message.includes(sha('a')),
        JSON.stringify(json),
      );
    }
  });
});

describe('findKey', () => {
  it('finds the entry whose hash is the presented key’s, and nothing for another key', () => {
    const keys = parseKeysFile(JSON.stringify({ keys: [{ id: 'one', sha256: sha('k1'), models: ['*'] }, { id: 'two', sha256: sha('k2'), models: ['*'] }] }));
    assert.equal(findKey(keys, 'k2')?.id, 'two');
    assert.equal(findKey(keys, 'k3'), undefined);
    assert.equal(findKey([], 'k1'), undefined);
  });

  it('makes keys of 32 random bytes', () => {
    const key = newKey();
    assert.match(key, /^mdk_[A-Za-z0-9_-]{43}$/);
    assert.notEqual(newKey(), key);
  });
});
