import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cleanText } from '@modeldock/text-preprocessing';
import { textClassifierKind, textClassifierMetadataSchema } from './kinds/text-classifier.js';

const metadata = (textTransform: string, inputs: { name: string; size: number; featurizer?: string }[]) =>
  textClassifierMetadataSchema.parse({
    labels: ['A', 'B'],
    encoder: { id: 'universal-sentence-encoder-lite', dimension: 512 },
    textTransform,
    inputs,
  });

describe('text-classifier textKey', () => {
  it('is the text after the model’s transform when only the encoder reads it', () => {
    const key = textClassifierKind.textKey?.(metadata('seed-clean', [{ name: 'embedding', size: 512 }]));
    const text = "What's   the <b>CAPITAL</b> of France?!";
    assert.equal(key?.(text), cleanText(text));
    assert.equal(textClassifierKind.textKey?.(metadata('lowercase', [{ name: 'embedding', size: 512 }]))?.('Who IS'), 'who is');
  });

  it('is the text as it came when lexical features read it too', () => {
    const key = textClassifierKind.textKey?.(
      metadata('lowercase', [
        { name: 'embedding', size: 512 },
        { name: 'lexical', size: 10, featurizer: 'lexical-features.json' },
      ]),
    );
    assert.equal(key?.('Who IS'), 'Who IS');
  });
});
