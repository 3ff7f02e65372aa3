import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import supertest from 'supertest';
import { schemas } from './index.js';
import { createTestApp, FakeNumeric } from './testing.js';

const numeric = () => createTestApp({ runtimes: [new FakeNumeric()] });
const x = [
  [1, 2, 3],
  [0.5, 0.25, 0.125],
];

describe('a numeric model with two inputs and two outputs', () => {
  it('OIP metadata lists its signature', async () => {
    const res = await supertest(numeric().app).get('/v2/models/numeric');
    assert.equal(res.status, 200);
    schemas.modelMetadataResponse.parse(res.body);
    assert.deepEqual(res.body.inputs, [
      { name: 'x', datatype: 'FP32', shape: [-1, 3] },
      { name: 'k', datatype: 'INT32', shape: [-1] },
    ]);
  });

  it('OIP infer takes FP32 and INT32 tensors, flat or nested, in any order', async () => {
    for (const data of [x, x.flat()]) {
      const res = await supertest(numeric().app)
        .post('/v2/models/numeric/infer')
        .send({
          inputs: [
            { name: 'k', datatype: 'INT32', shape: [2], data: [2, 4] },
            { name: 'x', datatype: 'FP32', shape: [2, 3], data },
          ],
        });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      schemas.inferenceResponse.parse(res.body);
      assert.deepEqual(res.body.outputs, [
        { name: 'sum', datatype: 'FP32', shape: [2], data: [12, 3.5] },
        { name: 'scaled', datatype: 'FP32', shape: [2, 3], data: [2, 4, 6, 2, 1, 0.5] },
      ]);
    }
  });

  it('TF Serving :predict answers the row format with one object per instance', async () => {
    const res = await supertest(numeric().app)
      .post('/v1/models/numeric:predict')
      .send({ instances: [{ x: x[0], k: 2 }, { x: x[1], k: 4 }] });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.predictions, [
      { sum: 12, scaled: [2, 4, 6] },
      { sum: 3.5, scaled: [2, 1, 0.5] },
    ]);
  });

  it('TF Serving :predict answers the columnar format', async () => {
    const res = await supertest(numeric().app).post('/v1/models/numeric:predict').send({ inputs: { x, k: [2, 4] } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.outputs, { sum: [12, 3.5], scaled: [[2, 4, 6], [2, 1, 0.5]] });
    const metadata = await supertest(numeric().app).get('/v1/models/numeric/metadata');
    const signature = metadata.body.metadata.signature_def.signature_def.serving_default;
    assert.equal(signature.inputs.k.dtype, 'DT_INT32');
    assert.equal(signature.inputs.x.tensor_shape.dim[1].size, '3');
  });

  const bad: [string, unknown, RegExp][] = [
    ['a missing input', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }, /takes 2 input tensors/],
    [
      'a wrong datatype',
      { inputs: [{ name: 'x', datatype: 'FP64', shape: [1, 3], data: [1, 2, 3] }, { name: 'k', datatype: 'INT32', shape: [1], data: [1] }] },
      /must have datatype FP32, got 'FP64'/,
    ],
    [
      'a wrong inner dimension',
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }, { name: 'k', datatype: 'INT32', shape: [1], data: [1] }] },
      /must have shape \[n, 3\], got \[1, 4\]/,
    ],
    [
      'a fraction for INT32',
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }, { name: 'k', datatype: 'INT32', shape: [1], data: [1.5] }] },
      /32-bit integer/,
    ],
    [
      'a string for FP32',
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, '2', 3] }, { name: 'k', datatype: 'INT32', shape: [1], data: [1] }] },
      /must be a number, got '2'/,
    ],
    [
      'different row counts',
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }, { name: 'k', datatype: 'INT32', shape: [2], data: [1, 2] }] },
      /same number of rows/,
    ],
    [
      'the same input twice',
      { inputs: [{ name: 'k', datatype: 'INT32', shape: [1], data: [1] }, { name: 'k', datatype: 'INT32', shape: [1], data: [1] }] },
      /given twice/,
    ],
    [
      'more elements than the limit',
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [8, 3], data: Array(24).fill(1) }, { name: 'k', datatype: 'INT32', shape: [8], data: Array(8).fill(1) }] },
      /limit is 30/,
    ],
  ];
  for (const [what, body, message] of bad) {
    it(`OIP infer answers 400 {error} for ${what}`, async () => {
      const { app } = createTestApp({ runtimes: [new FakeNumeric()], limits: { maxTensorElements: 30 } });
      const res = await supertest(app).post('/v2/models/numeric/infer').send(body as object);
      assert.equal(res.status, 400);
      assert.deepEqual(Object.keys(res.body), ['error']);
      assert.match(res.body.error, message);
    });
  }

  it('TF Serving :predict answers 400 for a ragged instance and for a missing input', async () => {
    const { app } = numeric();
    const ragged = await supertest(app).post('/v1/models/numeric:predict').send({ instances: [{ x: [1, 2], k: 1 }] });
    assert.equal(ragged.status, 400);
    const missing = await supertest(app).post('/v1/models/numeric:predict').send({ instances: [{ x: [1, 2, 3] }] });
    assert.equal(missing.status, 400);
    assert.match(missing.body.error, /has no 'k'/);
    const seed = await supertest(app).post('/predict_topic').send({ rawtext_list: ['a'] });
    assert.equal(seed.status, 404, 'the seed route belongs to question-topic only');
  });

  describe('values and nesting the tensor cannot hold (each answered 200 or a vague 400 before)', () => {
    const k = (rows: number) => ({ name: 'k', datatype: 'INT32', shape: [rows], data: Array<number>(rows).fill(1) });
    const x = (data: unknown, shape = [2, 3]) => ({ name: 'x', datatype: 'FP32', shape, data });
    const cases: [string, string, RegExp][] = [
      ['an FP32 value beyond the float32 range', JSON.stringify({ inputs: [x([[1, 2, 3], [4, 5, 4e38]]), k(2)] }), /^input 'x': element \[1, 2\] is outside the FP32 range/],
      ['a negative one, in flat data', JSON.stringify({ inputs: [x([1, 2, 3, -4e38, 5, 6]), k(2)] }), /^input 'x': element \[1, 0\] is outside the FP32 range/],
      ['1e999 (Infinity once parsed)', `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[0,1e999,0]},${JSON.stringify(k(1))}]}`, /^input 'x': element \[0, 1\] is outside the FP32 range/],
      ['ragged rows with the right total', JSON.stringify({ inputs: [x([[1, 2], [3, 4, 5, 6]]), k(2)] }), /^input 'x': element \[0\] has 2 values where shape \[2, 3\] needs 3/],
      ['more rows than the shape says, nested', JSON.stringify({ inputs: [x([[1, 2, 3], [4, 5, 6], []], [2, 3]), k(2)] }), /'inputs\[0\]\.data' has 3 values where shape \[2, 3\] needs 2/],
      ['a value where a row belongs', JSON.stringify({ inputs: [x([[1, 2, 3], 4]), k(2)] }), /^input 'x': element \[1\] must be an array of 3 values/],
      ['an INT32 value beyond 32 bits', JSON.stringify({ inputs: [x([1, 2, 3], [1, 3]), { name: 'k', datatype: 'INT32', shape: [1], data: [3e9] }] }), /^input 'k': element \[0\] must be a 32-bit integer, got 3000000000/],
    ];
    for (const [what, body, message] of cases) {
      it(`OIP infer answers 400 naming the input and the first bad index for ${what}`, async () => {
        const res = await supertest(numeric().app).post('/v2/models/numeric/infer').set('content-type', 'application/json').send(body);
        assert.equal(res.status, 400, res.text);
        assert.match(res.body.error, message);
      });
    }

    it('accepts the largest float32 values', async () => {
      const res = await supertest(numeric().app)
        .post('/v2/models/numeric/infer')
        .send({ inputs: [x([3.4028234e38, -3.4028234e38, 0], [1, 3]), k(1)] });
      assert.equal(res.status, 200, res.text);
    });

    it('TF Serving :predict names a ragged instance', async () => {
      const res = await supertest(numeric().app).post('/v1/models/numeric:predict').send({ instances: [{ x: [1, 2, 3], k: 1 }, { x: [1, 2, 3, 4], k: 1 }] });
      assert.equal(res.status, 400);
      assert.match(res.body.error, /^input 'x': element \[1\] has 4 values where shape \[2, 3\] needs 3/);
    });
  });
});
