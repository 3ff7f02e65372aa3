import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { sentenceEmbeddingKind } from './kinds/sentence-embedding.js';
import { textClassifierKind } from './kinds/text-classifier.js';
import { tfjsKind } from './kinds/tfjs.js';
import { parseMetadata, readMetadataFile } from './metadata.js';
import type { ModelKindImplementation } from './model-kind.js';
import type { TypedDescription } from './model-runtime.js';

/**
 * The one registry of model kinds, by the `kind` a version's metadata.json names. Adding a kind is
 * one file in kinds/ and one line here; the names below are the only ones metadata may use.
 */
const KINDS = {
  'text-classifier': textClassifierKind,
  'sentence-embedding': sentenceEmbeddingKind,
  tfjs: tfjsKind,
} as const satisfies Record<string, ModelKindImplementation<unknown>>;

export type ModelKind = keyof typeof KINDS;

/** Every kind metadata may name. */
export const MODEL_KINDS = Object.freeze(Object.keys(KINDS)) as readonly ModelKind[];

/** The implementation of a kind, by name; throws for a name no kind has. */
export function modelKind(kind: string): ModelKindImplementation<unknown> {
  if (!Object.hasOwn(KINDS, kind)) throw new Error(`unknown model kind '${kind}' (kinds: ${MODEL_KINDS.join(', ')})`);
  return KINDS[kind as ModelKind];
}

/** The fields every kind's metadata has. Models written before kinds existed are text classifiers. */
const baseMetadataSchema = z
  .object({
    kind: z.enum(MODEL_KINDS as [ModelKind, ...ModelKind[]]).default('text-classifier'),
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
 * Describes a model version from its `metadata.json`, read once here and parsed by its kind's
 * schema into the typed description its runtime loads from: kind, signature, labels, metadata.
 * Cheap (no weights), so the HTTP thread can do it while the engine loads elsewhere. The
 * directory's name must be the version the metadata states (TF Serving names versions by their
 * directory; a copied folder with stale metadata would lie).
 */
export async function describeModel(versionDir: string, options: DescribeOptions = {}): Promise<TypedDescription> {
  const raw = await readMetadataFile(versionDir);
  const file = path.join(versionDir, 'metadata.json');
  const base = parseMetadata(baseMetadataSchema, raw, file);
  const folder = path.basename(path.resolve(versionDir));
  if (/^\d+$/.test(folder) && folder !== base.version) throw new Error(`${file}: metadata says version ${base.version}, the folder is ${folder}`);
  const kind = modelKind(base.kind);
  const metadata = parseMetadata(kind.metadataSchema, raw, file);
  return { ...kind.describe(metadata), name: options.name ?? base.name, version: base.version, kind: base.kind, metadata };
}

/**
 * The versions in a model directory (`<dir>/<digits>/`), oldest first. Non-numeric entries are
 * ignored, as TF Serving ignores them. A version may be a symbolic link to a folder kept elsewhere
 * (as `pnpm deploy:gen` and `pnpm start` read the models folder too).
 */
export async function listModelVersions(modelDir: string): Promise<string[]> {
  const entries = await readdir(modelDir, { withFileTypes: true });
  const versions = await Promise.all(
    entries
      .filter((entry) => /^\d+$/.test(entry.name))
      .map(async (entry) => {
        const folder = entry.isDirectory() || (entry.isSymbolicLink() && ((await stat(path.join(modelDir, entry.name)).catch(() => undefined))?.isDirectory() ?? false));
        return folder ? entry.name : undefined;
      }),
  );
  return versions.filter((name): name is string => name !== undefined).sort((a, b) => Number(a) - Number(b));
}
