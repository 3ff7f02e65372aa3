import * as tf from '@tensorflow/tfjs-core';

type KernelArgs = Parameters<tf.KernelFunc>[0];
type TensorInfo = tf.TensorInfo;
interface WasmBackendLike {
  disposeData(dataId: object): void;
}

/**
 * Re-registers the wasm `BatchMatMul` and `_FusedMatMul` kernels so no transposed operand reaches
 * the wasm matmul, which is many times slower on one (it walks it with a strided pattern, and a
 * fresh right-hand operand, as every Dense kernel is after an optimizer step, is re-packed per call).
 * Dense backprop asks for exactly those products: dW = xᵀ·dy and dx = dy·Wᵀ. Each call is rewritten
 * exactly, either with explicit transposes (wasm `Transpose` kernel) or as (Bᵀ·Aᵀ)ᵀ, whichever copies
 * fewer elements; so dW transposes the small batch x, and dx becomes (W·dyᵀ)ᵀ without copying W.
 * Trainer only: serving never transposes, so it keeps the stock kernels.
 * Call after the wasm backend is active. Returns a function that restores the originals.
 */
export function installTransposeFirstMatMul(): () => void {
  const transpose = tf.getKernel(tf.Transpose, 'wasm');
  if (transpose === undefined) throw new Error('wasm Transpose kernel not registered; activate the wasm backend first');
  const restores = [tf.BatchMatMul, tf._FusedMatMul].map((name) => {
    const original = tf.getKernel(name, 'wasm');
    if (original === undefined) throw new Error(`wasm ${name} kernel not registered`);
    const swapLastTwo = (x: TensorInfo, backend: KernelArgs['backend']): TensorInfo => {
      const perm = x.shape.map((_, i) => i);
      const rank = perm.length;
      perm[rank - 2] = rank - 1;
      perm[rank - 1] = rank - 2;
      return transpose.kernelFunc({ inputs: { x }, backend, attrs: { perm } }) as TensorInfo;
    };
    const kernelFunc = (args: KernelArgs): TensorInfo | TensorInfo[] => {
      const { transposeA = false, transposeB = false } = args.attrs as { transposeA?: boolean; transposeB?: boolean };
      const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
      if (!transposeA && !transposeB) return original.kernelFunc(args);
      const backend = args.backend as unknown as WasmBackendLike;
      const size = (x: TensorInfo) => x.shape.reduce((p, d) => p * d, 1);
      // Two exact rewrites; the cheaper moves fewer elements through Transpose. A·B with explicit
      // transposes, or (Bᵀ·Aᵀ)ᵀ, which reads an already-transposed operand as is and only
      // transposes the small ones (dx = dy·Wᵀ becomes (W·dyᵀ)ᵀ: W is never copied).
      const direct = (transposeA ? size(a) : 0) + (transposeB ? size(b) : 0);
      const outSize = (transposeA ? a.shape[1]! : a.shape[0]!) * (transposeB ? b.shape[0]! : b.shape[1]!);
      const viaSwap = (transposeB ? 0 : size(b)) + (transposeA ? 0 : size(a)) + outSize;
      const plain = a.shape.length === 2 && b.shape.length === 2 && args.inputs.bias === undefined;
      const temporaries: TensorInfo[] = [];
      const t = (x: TensorInfo): TensorInfo => {
        const out = swapLastTwo(x, args.backend);
        temporaries.push(out);
        return out;
      };
      try {
        if (!plain || direct <= viaSwap) {
          // Batched or fused (bias/activation apply to the output as is) calls always go direct.
          return original.kernelFunc({
            ...args,
            inputs: { ...args.inputs, a: transposeA ? t(a) : a, b: transposeB ? t(b) : b },
            attrs: { ...args.attrs, transposeA: false, transposeB: false },
          });
        }
        const left = transposeB ? b : t(b);
        const right = transposeA ? a : t(a);
        const product = original.kernelFunc({
          ...args,
          inputs: { ...args.inputs, a: left, b: right },
          attrs: { ...args.attrs, transposeA: false, transposeB: false },
        }) as TensorInfo;
        temporaries.push(product);
        return swapLastTwo(product, args.backend);
      } finally {
        // Kernel-internal temporaries are invisible to the engine's tracking, so free them here.
        for (const x of temporaries) backend.disposeData(x.dataId);
      }
    };
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...original, kernelFunc: kernelFunc });
    return () => {
      tf.unregisterKernel(name, 'wasm');
      tf.registerKernel(original);
    };
  });
  return () => restores.forEach((restore) => restore());
}
