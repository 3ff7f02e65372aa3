import type { ModelDescription, ModelRuntime, TextMeasure, TypedDescription } from './model-runtime.js';
import { describeModel, modelKind, type DescribeOptions } from './registry.js';
import { loadSharedResources, type LoadedResources, type ResourceOptions } from './shared-resources.js';

/** What the resources are for: an engine computes; a measure bounds requests on the HTTP thread. */
export type DependencyPurpose = 'engine' | 'measure';

/**
 * The one wiring from kinds to what they need: the shared resources the kinds of `descriptions`
 * declare for `purpose`, each loaded once however many versions or kinds ask for it. Used by the
 * worker engine, the main-thread engine and the server's measure (and, through them, the bench).
 */
export function loadKindDependencies(
  descriptions: readonly Pick<ModelDescription, 'kind'>[],
  purpose: DependencyPurpose,
  options: ResourceOptions = {},
): Promise<LoadedResources> {
  const names = descriptions.flatMap(({ kind }) => {
    const implementation = modelKind(kind);
    return purpose === 'engine' ? implementation.resources : (implementation.measure?.resources ?? []);
  });
  return loadSharedResources(names, options);
}

/** Options for {@link createEngine}. */
export interface EngineOptions extends ResourceOptions {
  /** Facts about the process every runtime exposes in metadata (backend, engine thread). */
  info?: Readonly<Record<string, unknown>>;
}

/** Runtimes over shared resources; `dispose` frees the resources once every runtime has unloaded. */
export interface Engine {
  readonly runtimes: readonly ModelRuntime[];
  dispose(): void;
}

/** A described version and where its files are. */
export interface DescribedVersion {
  readonly description: TypedDescription;
  readonly versionDir: string;
}

/**
 * An engine for described versions, in this thread: the shared resources their kinds declare,
 * loaded once, and a runtime per version on them (not loaded yet: `load()` reads the weights).
 */
export async function createEngine(versions: readonly DescribedVersion[], options: EngineOptions = {}): Promise<Engine> {
  const loaded = await loadKindDependencies(
    versions.map(({ description }) => description),
    'engine',
    options,
  );
  try {
    const runtimes = versions.map(({ description, versionDir }) =>
      modelKind(description.kind).create(description, versionDir, { resources: loaded.resources, info: options.info }),
    );
    return { runtimes, dispose: () => loaded.dispose() };
  } catch (error) {
    loaded.dispose();
    throw error;
  }
}

/**
 * The runtime of one model version in this thread (describes it, wires its kind's resources). What
 * it loads for itself (resources not `given`) is freed by its `unload`, after which it cannot load again.
 */
export async function createModelRuntime(versionDir: string, options: EngineOptions & DescribeOptions = {}): Promise<ModelRuntime> {
  const description = await describeModel(versionDir, { name: options.name });
  const engine = await createEngine([{ description, versionDir }], options);
  const runtime = engine.runtimes[0] as ModelRuntime;
  return {
    name: runtime.name,
    version: runtime.version,
    kind: runtime.kind,
    signature: runtime.signature,
    labels: runtime.labels,
    scoresOutput: runtime.scoresOutput,
    textInput: runtime.textInput,
    info: runtime.info,
    ...(runtime.textKey === undefined ? {} : { textKey: (text: string) => (runtime.textKey as (text: string) => string)(text) }),
    ready: () => runtime.ready(),
    load: () => runtime.load(),
    predict: (inputs, predictOptions) => runtime.predict(inputs, predictOptions),
    unload: async () => {
      await runtime.unload();
      engine.dispose();
    },
  };
}

/** The server's measure of requests' work, from the declarations of the served kinds. */
export interface LoadedMeasure {
  /** Absent when no served kind takes text. */
  readonly measure: TextMeasure | undefined;
  dispose(): void;
}

/**
 * The work measure of the text kinds among `descriptions`, with what it needs loaded here (a
 * tokenizer, never the weights). Kinds sharing a declaration are measured once; versions whose
 * kinds measure differently are bounded by the largest count (any of them could get the request).
 */
export async function loadTextMeasure(descriptions: readonly Pick<ModelDescription, 'kind'>[], options: ResourceOptions = {}): Promise<LoadedMeasure> {
  const declarations = [...new Set(descriptions.flatMap(({ kind }) => modelKind(kind).measure ?? []))];
  if (declarations.length === 0) return { measure: undefined, dispose: () => {} };
  const loaded = await loadKindDependencies(descriptions, 'measure', options);
  const measures = declarations.map((declaration) => declaration.create(loaded.resources));
  const [only] = measures;
  const measure: TextMeasure =
    only !== undefined && measures.length === 1
      ? only
      : {
          normalize: (text) => measures.map((each) => each.normalize(text)).reduce((a, b) => (b.length > a.length ? b : a)),
          countPieces: (text) => Math.max(...measures.map((each) => each.countPieces(text))),
          positions: (pieces) => Math.max(...measures.map((each) => each.positions(pieces))),
          plan: (pieces, limits) =>
            measures.map((each) => each.plan(pieces, limits)).reduce((a, b) => (b.seconds > a.seconds ? b : a)),
        };
  return { measure, dispose: () => loaded.dispose() };
}
