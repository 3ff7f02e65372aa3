import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ModelScanner, type ModelScan } from './model-scan.js';

/** Scans `body` fed in pieces of `chunk` bytes. */
function scan(body: string | Buffer, chunk = 7, maxDepth = 32): ModelScan {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const scanner = new ModelScanner(maxDepth);
  for (let at = 0; at < bytes.length; at += chunk) {
    if (scanner.write(bytes.subarray(at, at + chunk)).state !== 'pending') break;
  }
  return scanner.end();
}

describe('ModelScanner', () => {
  it('finds the top-level model, whatever comes before it and however the bytes are split', () => {
    const body = JSON.stringify({ input: ['a "quoted" \\ text', { model: 'nested' }], n: -1.5e3, ok: [true, false, null], model: 'm' });
    for (const chunk of [1, 2, 3, 7, 64, body.length]) assert.deepEqual(scan(body, chunk), { state: 'found', model: 'm' }, `chunk ${chunk}`);
  });

  it('decodes escapes in the key and the value as JSON.parse does', () => {
    assert.deepEqual(scan('{"mod\\u0065l": "sentence\\u002dembedding"}'), { state: 'found', model: 'sentence-embedding' });
    assert.deepEqual(scan('{"model": "a\\"b\\\\c\\/d"}'), { state: 'found', model: 'a"b\\c/d' });
    assert.deepEqual(scan('{"model": "caf\u00e9"}'), { state: 'found', model: 'café' });
  });

  it('ignores "model" inside strings and nested objects', () => {
    assert.deepEqual(scan('{"a": "x\\"model\\": \\"b", "b": {"model": "n"}, "c": ["model", {"model": 1}]}'), { state: 'missing' });
    assert.deepEqual(scan('{"a": {"model": "n"}, "model": "top"}'), { state: 'found', model: 'top' });
  });

  it('takes the first of duplicate top-level model keys and stops there', () => {
    // The rest is not even read: the replica (last key wins) refuses a model that is not its own.
    assert.deepEqual(scan('{"model": "first", "model": "second"}'), { state: 'found', model: 'first' });
    assert.deepEqual(scan('{"model": "first", garbage'), { state: 'found', model: 'first' });
  });

  it('refuses bodies that are not a JSON object at the first byte', () => {
    for (const body of ['[' + '['.repeat(100_000), '"model"', '42', 'null', '\ufeff{"model":"m"}', 'model=m']) {
      assert.deepEqual(scan(body), { state: 'invalid', reason: 'the body must be a JSON object' }, body.slice(0, 10));
    }
  });

  it('refuses nesting past the limit as soon as it is reached, without reading the rest', () => {
    const scanner = new ModelScanner(32);
    const deep = Buffer.from('{"a":' + '['.repeat(1024 * 1024));
    assert.deepEqual(scanner.write(deep), { state: 'invalid', reason: 'JSON nested deeper than 32 levels' });
    assert.deepEqual(scan('{"a":' + '['.repeat(30) + ']'.repeat(30) + ',"model":"m"}'), { state: 'found', model: 'm' });
    assert.deepEqual(scan('{"a":' + '['.repeat(31) + ']'.repeat(31) + ',"model":"m"}'), { state: 'found', model: 'm' });
    assert.equal(scan('{"a":' + '['.repeat(32) + ']'.repeat(32) + ',"model":"m"}').state, 'invalid');
  });

  it('reports a model that is not a string, a missing model, and syntax errors', () => {
    assert.deepEqual(scan('{"model": 3}'), { state: 'not-string' });
    assert.deepEqual(scan('{"model": ["m"]}'), { state: 'not-string' });
    assert.deepEqual(scan('{"model": null}'), { state: 'not-string' });
    assert.deepEqual(scan('{}'), { state: 'missing' });
    assert.deepEqual(scan(' { "input" : "x" } \n'), { state: 'missing' });
    for (const body of ['{"model":', '{"a":1 "model":"m"}', '{"a" 1}', '{a:1}', '{"a":tru}', '{"a":"\\x"}', '{"a":"\\u12g4"}', '{"model":"a\nb"}', '{"a":1}}', '{"a":[1,}']) {
      assert.equal(scan(body).state, 'invalid', body);
    }
  });

  it('cuts an absurdly long model name instead of holding it', () => {
    const result = scan(`{"model": "${'x'.repeat(200_000)}"}`, 65_536);
    assert.equal(result.state, 'found');
    assert.ok(result.state === 'found' && result.model.length === 1024);
  });

  it('agrees with JSON.parse on every object (fast-check)', () => {
    const member = fc.oneof(fc.constant('model'), fc.string({ maxLength: 6 }));
    // Unique keys: with duplicates JSON.parse keeps the last and the scanner, by its rule, the first.
    const object = fc
      .uniqueArray(fc.tuple(member, fc.jsonValue({ maxDepth: 3 })), { maxLength: 6, selector: ([key]) => key })
      .map((entries) => '{' + entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',') + '}');
    fc.assert(
      fc.property(object, fc.integer({ min: 1, max: 16 }), (body, chunk) => {
        const parsed = JSON.parse(body) as Record<string, unknown>;
        const result = scan(body, chunk);
        if (!Object.hasOwn(parsed, 'model')) assert.deepEqual(result, { state: 'missing' });
        else if (typeof parsed.model === 'string') assert.deepEqual(result, { state: 'found', model: parsed.model });
        else assert.deepEqual(result, { state: 'not-string' });
      }),
      { seed: 20_260_713, numRuns: 500 },
    );
  });
});
