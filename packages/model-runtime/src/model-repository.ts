import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ModelRuntime } from './model-runtime.js';
import type { SentenceEncoder } from './sentence-encoder.js';
import { createTextClassifier } from './text-classifier.js';

/** Model implementations this runtime can serve, named by `kind` in a version's metadata.json. */
export type ModelKind = 'text-classifier';

/** What model implementations may need from the process. */
export interface ModelDependencies {
  encoder: SentenceEncoder;
  info?: Record<string, unknown>;
}

/**
 * The versions in a model directory (`<dir>/<digits>/metadata.json`), newest last. Non-numeric
 * entries are ignored, as TF Serving ignores them.
 */
export async function listModelVersions(modelDir: string): Promise<string[]> {
  const entries = await readdir(modelDir, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isDirectory() && /^\d+$/.test(entry.name))
    .map((entry) => entry.name)
    .sort((a, b) => Number(a) - Number(b));
}

/**
 * Creates the runtime for one model version directory, choosing the implementation by the `kind`
 * its metadata declares (a new model kind is a new case here, nothing else).
 */
export async function createModelRuntime(versionDir: string, deps: ModelDependencies): Promise<ModelRuntime> {
  const { kind = 'text-classifier' } = JSON.parse(await readFile(path.join(versionDir, 'metadata.json'), 'utf8')) as {
    kind?: ModelKind;
  };
  switch (kind) {
    case 'text-classifier':
      return createTextClassifier({ versionDir, encoder: deps.encoder, info: deps.info });
    default: {
      const unknown: never = kind;
      throw new Error(`${versionDir}: unknown model kind '${String(unknown)}'`);
    }
  }
}
