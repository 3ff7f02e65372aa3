import { plannedPositions } from './engine-cost.js';
import type { TextMeasureDeclaration } from './model-kind.js';
import { MAX_CALL_POSITIONS } from './sentence-encoder.js';
import { requireResource } from './shared-resources.js';

/**
 * The work measure of the kinds fed by USE lite: a text's NFKC form, its encoder pieces (from the
 * tokenizer alone) and the padded positions of the engine calls `forEachEngineCall` plans. Counted on the text as received: a kind's text transform runs in the engine,
 * never on the HTTP thread (its regular expressions cost more than counting does).
 */
export const USE_LITE_TEXT_MEASURE: TextMeasureDeclaration = {
  resources: ['sentence-encoder-tokenizer'],
  create(resources) {
    const tokenizer = requireResource(resources, 'sentence-encoder-tokenizer', 'the USE-lite text measure');
    return {
      normalize: (text) => text.normalize('NFKC'),
      countPieces: (text) => tokenizer.countPieces(text),
      plannedPositions: (pieces) => plannedPositions(pieces, MAX_CALL_POSITIONS),
    };
  },
};
