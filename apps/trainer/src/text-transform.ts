/** What is applied to each question before the sentence encoder (recorded as metadata `textTransform`). */
export type TextTransform = 'raw' | 'lowercase';

/** Applies a text transform; the serving runtime applies the same one named in metadata. */
export function applyTextTransform(transform: TextTransform, text: string): string {
  switch (transform) {
    case 'raw':
      return text;
    case 'lowercase':
      return text.toLowerCase();
    default: {
      const unknown: never = transform;
      throw new Error(`unknown text transform '${String(unknown)}'`);
    }
  }
}
