import * as tf from '@tensorflow/tfjs-core';

/** The backend a deployment asks for; `auto` prefers native TensorFlow and falls back to wasm. */
export type BackendRequest = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

/** Which native flavour `tensorflow`/`auto` means: the CUDA build (`tfjs-node-gpu`) or the CPU one. */
export type Device = 'cpu' | 'gpu';

export const BACKEND_REQUESTS: readonly BackendRequest[] = ['auto', 'tensorflow', 'wasm', 'cpu'];
export const DEVICES: readonly Device[] = ['cpu', 'gpu'];

/**
 * Imports a native addon package for its side effect of registering the `tensorflow` backend.
 * Only apps depend on `@tensorflow/tfjs-node(-gpu)`, so they pass these in (STYLE: packages take
 * tfjs-core as a peer; apps choose the backend).
 */
export interface NativeLoaders {
  tensorflow?: () => Promise<unknown>;
  tensorflowGpu?: () => Promise<unknown>;
}

/** What was chosen and why, for logs and model metadata. */
export interface BackendChoice {
  /** The TF.js backend name now active: `tensorflow`, `wasm` or `cpu`. */
  backend: string;
  /** The package that provides it. */
  provider: string;
  requested: BackendRequest;
  device: Device;
  /** Native attempts that failed before the choice, with their reasons (empty when the first try worked). */
  fallbacks: { provider: string; reason: string }[];
}

function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}

async function activate(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`backend '${name}' failed to initialise`);
  await tf.ready();
}

async function tryNative(
  device: Device,
  loaders: NativeLoaders,
): Promise<{ ok: true; provider: string } | { ok: false; provider: string; reason: string }> {
  const provider = device === 'gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  const load = device === 'gpu' ? loaders.tensorflowGpu : loaders.tensorflow;
  if (load === undefined) return { ok: false, provider, reason: 'not installed in this build' };
  try {
    await load();
    await activate('tensorflow');
    return { ok: true, provider };
  } catch (err) {
    return { ok: false, provider, reason: describe(err) };
  }
}

async function activateWasm(): Promise<void> {
  await import('@tensorflow/tfjs-backend-wasm');
  await activate('wasm');
}

async function activateCpu(): Promise<void> {
  await import('@tensorflow/tfjs-backend-cpu');
  await activate('cpu');
}

/**
 * Activates a TF.js backend. `auto` tries the native addon for the device (tfjs-node-gpu for
 * `gpu`, else tfjs-node) and falls back to wasm, recording why; an explicit request that cannot
 * be met throws instead of silently running somewhere slower.
 */
export async function selectBackend(
  requested: BackendRequest,
  device: Device,
  loaders: NativeLoaders = {},
): Promise<BackendChoice> {
  const choice = (backend: string, provider: string, fallbacks: BackendChoice['fallbacks'] = []): BackendChoice => ({
    backend,
    provider,
    requested,
    device,
    fallbacks,
  });
  switch (requested) {
    case 'tensorflow': {
      const native = await tryNative(device, loaders);
      if (!native.ok) throw new Error(`backend 'tensorflow' unavailable (${native.provider}): ${native.reason}`);
      return choice('tensorflow', native.provider);
    }
    case 'wasm':
      await activateWasm();
      return choice('wasm', '@tensorflow/tfjs-backend-wasm');
    case 'cpu':
      await activateCpu();
      return choice('cpu', '@tensorflow/tfjs-backend-cpu');
    case 'auto': {
      const native = await tryNative(device, loaders);
      if (native.ok) return choice('tensorflow', native.provider);
      await activateWasm();
      return choice('wasm', '@tensorflow/tfjs-backend-wasm', [{ provider: native.provider, reason: native.reason }]);
    }
    default: {
      const unknown: never = requested;
      throw new Error(`unknown backend '${String(unknown)}'`);
    }
  }
}
