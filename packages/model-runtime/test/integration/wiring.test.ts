import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  MAX_CALL_POSITIONS,
  describeModel,
  loadKindDependencies,
  loadSentenceEncoder,
  loadSharedResources,
  loadTextMeasure,
  loadUseTokenizer,
  planEngineWork,
  selectBackend,
  type SentenceEncoder,
  type TypedDescription,
  type UseTokenizer,
} from '../../src/index.js';

const MODELS = fileURLToPath(new URL('../../../../models/', import.meta.url));

describe('the wiring from kinds to what they need', () => {
  let classifier: TypedDescription;
  let embedding: TypedDescription;
  let tfjs: TypedDescription;
  let tokenizer: UseTokenizer;

  before(async () => {
    classifier = await describeModel(`${MODELS}question-topic/2`);
    embedding = await describeModel(`${MODELS}sentence-embedding/1`);
    tfjs = await describeModel(`${MODELS}embedding-topic/1`);
    tokenizer = await loadUseTokenizer();
  });

  it('loads nothing for a kind that declares nothing', async () => {
    const engine = await loadKindDependencies([tfjs], 'engine', { encoderDir: '/nonexistent' });
    assert.deepEqual(engine.resources, {});
    const measure = await loadTextMeasure([tfjs], { encoderDir: '/nonexistent' });
    assert.equal(measure.measure, undefined);
  });

  it("gives the server a text kind's measure: the encoder's pieces and its engine-call planning, from the vocabulary alone", async () => {
    const loaded = await loadTextMeasure([classifier, embedding]);
    const measure = loaded.measure;
    try {
      assert.ok(measure);
      const texts = ['Who wrote Hamlet?', 'x'.repeat(300), '\uFDFA'];
      for (const text of texts) assert.equal(measure.countPieces(text), tokenizer.countPieces(text));
      assert.equal(measure.normalize('\uFDFA').length, 18);
      const pieces = texts.map((text) => tokenizer.countPieces(text));
      assert.deepEqual(measure.plan(pieces, { maxPositions: MAX_CALL_POSITIONS }), planEngineWork(pieces, { maxPositions: MAX_CALL_POSITIONS }));
      assert.deepEqual(pieces.map((count) => measure.positions(count)), pieces.map((count) => Math.min(count, 128)));
    } finally {
      loaded.dispose();
    }
  });

  it('fails naming the files when a declared resource cannot load', async () => {
    await assert.rejects(loadTextMeasure([embedding], { encoderDir: '/nonexistent' }), /nonexistent/);
  });

  describe('with the encoder loaded', () => {
    let encoder: SentenceEncoder;
    before(async () => {
      await selectBackend('wasm', 'cpu');
      encoder = await loadSentenceEncoder();
    });
    after(() => encoder?.dispose());

    it('loads a resource every kind asks for once, takes the tokenizer from the encoder, and keeps what it was given', async () => {
      const loaded = await loadSharedResources(['sentence-encoder', 'sentence-encoder-tokenizer', 'sentence-encoder'], {
        given: { 'sentence-encoder': encoder },
        encoderDir: '/nonexistent',
      });
      assert.equal(loaded.resources['sentence-encoder'], encoder);
      assert.equal(loaded.resources['sentence-encoder-tokenizer'], encoder.tokenizer);
      loaded.dispose();
      // Not disposed by the wiring: the encoder still computes.
      const rows = await encoder.embed(['still here']);
      assert.deepEqual(rows.shape, [1, 512]);
      rows.dispose();
    });
  });
});
