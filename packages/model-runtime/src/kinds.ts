import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { MODEL_KINDS, type ModelDescription, type ModelKind, type ModelRuntime } from './model-runtime.js';
import type { SentenceEncoder } from './sentence-encoder.js';
import { parseMetadata, readMetadataFile } from './metadata.js';
import { sentenceEmbeddingKind } from './sentence-embedding.js';
import { textClassifierKind } from './text-classifier.js';
import { tfjsKind } from './tfjs-model.js';

/** What a model implementation may need from the process that runs it. */
export interface ModelDependencies {
  /** Loaded only when the kind asks for it ({@link ModelDescription.needsEncoder}); shared, never disposed by a model. */
  encoder?: SentenceEncoder;
  /** Facts about the process to expose in metadata (e.g. the chosen backend). */
  info?: Record<string, unknown>;
}

/** One model kind: how to read its metadata and how to build its runtime. */
export interface ModelKindImplementation {
  /** Validates `metadata.json` (already parsed) and describes the model without loading weights. */
  describe(metadata: unknown, versionDir: string): ModelDescription;
  /** The runtime for a described version; `load()` reads the weights. */
  create(description: ModelDescription, versionDir: string, deps: ModelDependencies): ModelRuntime;
}

/**
 * The one registry of model kinds. Adding a kind is one module and one `case` here; the switch is
 * exhaustive, so a kind named in MODEL_KINDS without an implementation does not compile.
 */
export function modelKind(kind: ModelKind): ModelKindImplementation {
  switch (kind) {
    case 'text-classifier':
      return textClassifierKind;
    case 'sentence-embedding':
      return sentenceEmbeddingKind;
    case 'tfjs':
      return tfjsKind;
    default: {
      const unknown: never = kind;
      throw new Error(`unknown model kind '${String(unknown)}'`);
    }
  }
}

/** The fields every kind's metadata has. Models written before kinds existed are text classifiers. */
const baseMetadataSchema = z
  .object({
    kind: z.enum(MODEL_KINDS).default('text-classifier'),
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'model names use letters, digits, ".", "_" and "-"'),
    version: z.string().regex(/^\d+$/, 'versions are digits'),
  })
  .loose();

/** Options for {@link describeModel}. */
export interface DescribeOptions {
  /** Serve under this name instead of the one in metadata.json. */
  name?: string;
}

/**
 * Describes a model version from its `metadata.json`: kind, signature, labels, what it needs. Cheap
 * (no weights), so the HTTP thread can do it while the engine loads elsewhere. The directory's
 * name must be the version the metadata states (TF Serving names versions by their directory; a
 * copied folder with stale metadata would lie).
 */
export async function describeModel(versionDir: string, options: DescribeOptions = {}): Promise<ModelDescription> {
  const raw = await readMetadataFile(versionDir);
  const file = path.join(versionDir, 'metadata.json');
  const base = parseMetadata(baseMetadataSchema, raw, file);
  const folder = path.basename(path.resolve(versionDir));
  if (/^\d+$/.test(folder) && folder !== base.version) throw new Error(`${file}: metadata says version ${base.version}, the folder is ${folder}`);
  const description = modelKind(base.kind).describe(raw, versionDir);
  return options.name === undefined ? description : { ...description, name: options.name };
}

/** Creates the runtime for one model version directory, by the kind its metadata declares. */
export async function createModelRuntime(
  versionDir: string,
  deps: ModelDependencies = {},
  options: DescribeOptions = {},
): Promise<ModelRuntime> {
  const description = await describeModel(versionDir, options);
  return modelKind(description.kind).create(description, versionDir, deps);
}

/**
 * The versions in a model directory (`<dir>/<digits>/`), oldest first. Non-numeric entries are
 * ignored, as TF Serving ignores them.
 */
export async function listModelVersions(modelDir: string): Promise<string[]> {
  const entries = await readdir(modelDir, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isDirectory() && /^\d+$/.test(entry.name))
    .map((entry) => entry.name)
    .sort((a, b) => Number(a) - Number(b));
}
