/**
 * How the cases reach our engine. Ops are looked up by name at run time, because several are being
 * written while the suite exists: a case whose op is not exported yet reports 'unsupported' and lights up
 * when the op lands, with no change here. The signatures below are the documented ones.
 */
import * as ops from '../../engine/ops/index.js';
import { tidy, type Tensor } from '../../engine/tensor.js';
import { Unsupported, type Runner } from '../harness.js';
import type { HostTensor } from '../peers/tfjs.js';

export interface EngineOps {
  matmul: (a: Tensor, b: Tensor) => Tensor;
  linear: (x: Tensor, w: Tensor, b: Tensor | null, options?: { activation?: 'gelu' | 'relu' | 'none' }) => Tensor;
  scaledDotProductAttention: (q: Tensor, k: Tensor, v: Tensor, options?: { causal?: boolean }) => Tensor;
  layerNorm: (x: Tensor, normalizedShape: readonly number[], weight: Tensor, bias: Tensor, eps?: number) => Tensor;
  softmax: (x: Tensor, axis: number) => Tensor;
  conv2d: (x: Tensor, w: Tensor, b: Tensor | null, options?: { stride?: number | readonly number[] }) => Tensor;
  sum: (x: Tensor, axes?: number | readonly number[]) => Tensor;
  indexAdd: (shape: readonly number[], axis: number, index: Tensor, src: Tensor) => Tensor;
  cast: (x: Tensor, dtype: 'i32') => Tensor;
}

/** Our op `name`, or Unsupported naming what is missing. */
export function requireOp<K extends keyof EngineOps>(name: K): EngineOps[K] {
  const fn = (ops as unknown as Record<string, unknown>)[name];
  if (typeof fn !== 'function') throw new Unsupported(`engine/ops does not export ${name} yet`);
  return fn as EngineOps[K];
}

export function upload(h: HostTensor): Tensor {
  return ops.fromFlat(h.data, h.shape, 'f32', 'bench');
}

/**
 * A runner for `op` over `inputs` (uploaded here, disposed with the runner). Each iteration runs in a
 * `tidy` scope so unfused compositions free their intermediates as they go. An op with several outputs
 * (an optimizer step) returns them all; the first is the one validated and read back.
 */
export function oursRunner(
  inputs: readonly HostTensor[],
  op: (xs: readonly Tensor[]) => Tensor | Tensor[],
  toCanonical: (out: Float32Array) => ArrayLike<number> = (out) => out,
): Runner {
  const xs = inputs.map(upload);
  let last: Tensor[] = [];
  const release = () => last.forEach((t) => t.dispose());
  return {
    run(iterations) {
      for (let i = 0; i < iterations; i++) {
        release();
        last = [tidy(() => op(xs))].flat();
      }
    },
    async sync() {
      await last[0]?.data();
    },
    async result() {
      if (!last[0]) throw new Error('omnitensor runner: result() before run()');
      return toCanonical((await last[0].data()) as Float32Array);
    },
    dispose() {
      release();
      for (const x of xs) x.dispose();
    },
  };
}
