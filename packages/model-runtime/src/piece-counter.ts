import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Tokenizer } from '@tensorflow-models/universal-sentence-encoder';
import { defaultEncoderDirectory } from './sentence-encoder.js';

/** What a server needs of the sentence encoder's tokenizer to bound a text's work before queueing it. */
export interface PieceCounter {
  /** The text as the encoder segments it: NFKC-normalised (one character can become eighteen). */
  normalize(text: string): string;
  /** Pieces (tokens) the encoder computes for `text`. */
  countPieces(text: string): number;
}

/**
 * Loads only the encoder's vocabulary (`vocab.json`), not its weights: the HTTP thread counts
 * pieces with it while the engine, which holds the model, may live on another thread.
 */
export async function loadPieceCounter(directory: string = defaultEncoderDirectory()): Promise<PieceCounter> {
  const vocabulary = JSON.parse(await readFile(path.join(directory, 'vocab.json'), 'utf8')) as [string, number][];
  const tokenizer = new Tokenizer(vocabulary);
  return {
    normalize: (text) => text.normalize('NFKC'),
    countPieces: (text) => tokenizer.encode(text).length,
  };
}
