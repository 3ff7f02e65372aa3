import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { answerRows, compareAnswers, cosine } from './compare-answers.js';

/** OIP answers as the model servers give them (question-topic: probabilities and labels; sentence-embedding: rows). */
const oipClassifier = (labels: string[]) => ({
  model_name: 'question-topic',
  outputs: [
    { name: 'probabilities', datatype: 'FP32', shape: [labels.length, 2], data: labels.flatMap(() => [0.2, 0.8]) },
    { name: 'label', datatype: 'BYTES', shape: [labels.length], data: labels },
  ],
});
const oipEmbedding = (rows: number[][]) => ({ outputs: [{ name: 'embedding', datatype: 'FP32', shape: [rows.length, rows[0]?.length ?? 0], data: rows.flat() }] });

function base64(values: number[]): string {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => bytes.writeFloatLE(v, i * 4));
  return bytes.toString('base64');
}

describe('answerRows', () => {
  it('reads the top labels of OIP, seed and TF Serving classifier answers', () => {
    assert.deepEqual(answerRows(oipClassifier(['NUM', 'LOC']))?.labels, ['NUM', 'LOC']);
    assert.deepEqual(answerRows({ input: ['q'], output: [{ NUM: 0.9, LOC: 0.1 }], topics: ['NUM'] })?.labels, ['NUM']);
    assert.deepEqual(
      answerRows({ results: [[['ABBR', 0.1], ['LOC', 0.8], ['NUM', 0.1]], [['ABBR', 0.7], ['LOC', 0.2], ['NUM', 0.1]]] })?.labels,
      ['LOC', 'ABBR'],
    );
    assert.deepEqual(answerRows({ predictions: [{ probabilities: [0.1, 0.9], label: 'HUM' }] })?.labels, ['HUM']);
    assert.deepEqual(answerRows({ outputs: { probabilities: [[0.1, 0.9]], label: ['HUM'] } })?.labels, ['HUM']);
  });

  it('reads the rows of OIP, TF Serving and OpenAI embeddings (floats and base64)', () => {
    assert.deepEqual(answerRows(oipEmbedding([[1, 0], [0, 1]]))?.vectors, [[1, 0], [0, 1]]);
    assert.deepEqual(answerRows({ predictions: [[0.5, 0.5]] })?.vectors, [[0.5, 0.5]]);
    assert.deepEqual(answerRows({ outputs: [[0.5, 0.5]] })?.vectors, [[0.5, 0.5]]);
    assert.deepEqual(answerRows({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.25, -1] }] })?.vectors, [[0.25, -1]]);
    assert.deepEqual(answerRows({ data: [{ embedding: base64([0.25, -1]) }] })?.vectors, [[0.25, -1]]);
  });

  it('finds nothing in an error body or another shape', () => {
    assert.equal(answerRows({ error: 'model not ready' }), undefined);
    assert.equal(answerRows([1, 2]), undefined);
    assert.equal(answerRows('text'), undefined);
  });
});

describe('compareAnswers', () => {
  it('compares top labels row by row and lists the disagreements with both labels', () => {
    const result = compareAnswers(answerRows(oipClassifier(['NUM', 'LOC', 'HUM'])), answerRows(oipClassifier(['NUM', 'ENTY', 'HUM'])));
    assert.equal(result.agree, 2);
    assert.deepEqual(result.disagreements, [{ row: 1, served: 'LOC', shadow: 'ENTY' }]);
    assert.equal(result.incomparable, false);
  });

  it('compares labels across protocols: the seed route against OIP', () => {
    const result = compareAnswers(answerRows({ topics: ['NUM'] }), answerRows(oipClassifier(['NUM'])));
    assert.equal(result.agree, 1);
  });

  it('gives the cosine of each row of embeddings', () => {
    const result = compareAnswers(answerRows(oipEmbedding([[1, 0], [1, 1]])), answerRows(oipEmbedding([[1, 0], [1, 0]])));
    assert.equal(result.cosines.length, 2);
    assert.equal(result.cosines[0], 1);
    assert.ok(Math.abs((result.cosines[1] as number) - Math.SQRT1_2) < 1e-9);
  });

  it('calls answers of other forms, row counts or widths incomparable', () => {
    assert.equal(compareAnswers(answerRows(oipClassifier(['NUM'])), answerRows(oipClassifier(['NUM', 'LOC']))).incomparable, true);
    assert.equal(compareAnswers(answerRows(oipEmbedding([[1, 0]])), answerRows(oipEmbedding([[1, 0, 0]]))).incomparable, true);
    assert.equal(compareAnswers(answerRows({ topics: ['NUM'] }), answerRows(oipEmbedding([[1, 0]]))).incomparable, true);
    assert.equal(compareAnswers(undefined, answerRows({ topics: ['NUM'] })).incomparable, true);
  });
});

describe('cosine', () => {
  it('is 1 for the same direction, -1 for the opposite, and bounded', () => {
    assert.equal(cosine([2, 0], [5, 0]), 1);
    assert.equal(cosine([1, 0], [-1, 0]), -1);
    assert.equal(cosine([0, 0], [0, 0]), 1);
    assert.equal(cosine([0, 0], [1, 0]), 0);
  });
});
