import { planEngineWork, textPositions } from './engine-cost.js';
import type { TextMeasureDeclaration } from './model-kind.js';
import { requireResource } from './shared-resources.js';

/**
 * The work measure of the kinds fed by USE lite: a text's NFKC form, its encoder pieces (from the
 * tokenizer alone), the positions the graph reads of it (the first 128) and the engine calls
 * `forEachEngineCall` plans, costed on one wasm core. Counted on the text as received: a kind's
 * text transform runs in the engine, never on the HTTP thread (its regular expressions cost more
 * than counting does).
 */
export const USE_LITE_TEXT_MEASURE: TextMeasureDeclaration = {
  resources: ['sentence-encoder-tokenizer'],
  create(resources) {
    const tokenizer = requireResource(resources, 'sentence-encoder-tokenizer', 'the USE-lite text measure');
    return {
      normalize: (text) => text.normalize('NFKC'),
      countPieces: (text) => tokenizer.countPieces(text),
      positions: textPositions,
      plan: (pieces, limits) => planEngineWork(pieces, limits),
    };
  },
};
