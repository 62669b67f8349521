/** Pieces shared by the case files: host inputs and the standard variant list (ours and each peer). */
import type { Tensor } from '../../engine/tensor.js';
import { randomArray, Unsupported, type Variant } from '../harness.js';
import { jaxRunner, type Jax, type JaxArray } from '../peers/jax.js';
import { ortRunner, type OrtGraphBuilder } from '../peers/ort.js';
import { tfjsRunner, type HostTensor, type Tfjs } from '../peers/tfjs.js';
import { webgpuTorchRunner, type WebgpuTorch, type WtTemporaries, type WtTensor } from '../peers/webgpu-torch.js';
import type * as TF from '@tensorflow/tfjs-core';
import { oursRunner } from './ours.js';

export function host(shape: readonly number[], seed: number, scale = 1): HostTensor {
  return { data: randomArray(shape.reduce((n, d) => n * d, 1), seed, scale), shape };
}

export const fmt = (shape: readonly number[]): string => shape.join('x');

/**
 * `compute` memoised by its integer key: the oracles' per-row work (softmax weights, statistics, gradient
 * rows), which every sampled entry of that row shares.
 */
export function memoByKey<T>(compute: (key: number) => T): (key: number) => T {
  const cache = new Map<number, T>();
  return (key) => {
    let value = cache.get(key);
    if (value === undefined) {
      value = compute(key);
      cache.set(key, value);
    }
    return value;
  };
}

/**
 * Softmax weights, in float64, of query row `i` of head `bh` over keys 0..last (q and k laid out as
 * [heads, t, d] rows), scores scaled by `scale`; weights past `last` (masked keys) stay 0.
 */
export function attentionWeights(q: Float32Array, k: Float32Array, t: number, d: number, scale: number, bh: number, i: number, last = t - 1): Float64Array {
  const p = new Float64Array(t);
  let max = -Infinity;
  for (let s = 0; s <= last; s++) {
    let dot = 0;
    for (let c = 0; c < d; c++) dot += q[(bh * t + i) * d + c]! * k[(bh * t + s) * d + c]!;
    max = Math.max(max, (p[s] = dot * scale));
  }
  let total = 0;
  for (let s = 0; s <= last; s++) total += p[s] = Math.exp(p[s]! - max);
  for (let s = 0; s <= last; s++) p[s]! /= total;
  return p;
}

/** Flat row-major index -> multi-index. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return idx;
}

/** Permutes a row-major host array: out has shape `perm.map(d => shape[d])`. */
export function permuteHost(data: ArrayLike<number>, shape: readonly number[], perm: readonly number[]): Float32Array {
  const outShape = perm.map((d) => shape[d]!);
  const inStrides = shape.map((_, d) => shape.slice(d + 1).reduce((n, s) => n * s, 1));
  const out = new Float32Array(data.length);
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, outShape);
    let src = 0;
    for (let d = 0; d < perm.length; d++) src += idx[d]! * inStrides[perm[d]!]!;
    out[i] = data[src]!;
  }
  return out;
}

export interface EngineImpls {
  inputs: readonly HostTensor[];
  ours?: { label: string; op: (xs: readonly Tensor[]) => Tensor | Tensor[]; toCanonical?: (out: Float32Array) => ArrayLike<number> };
  /** Our naive / unfused baselines. */
  baselines?: { label: string; op: (xs: readonly Tensor[]) => Tensor | Tensor[]; toCanonical?: (out: Float32Array) => ArrayLike<number> }[];
  tfjs?: {
    label: string;
    op: (tf: Tfjs, xs: readonly TF.Tensor[]) => TF.Tensor | TF.Tensor[];
    inputs?: readonly HostTensor[];
    toCanonical?: (out: Float32Array) => ArrayLike<number>;
    /** The op calls tf.grads: the runner registers TF.js's gradients first. */
    gradients?: boolean;
  };
  jax?: {
    label: string;
    op: (jax: Jax, xs: JaxArray[]) => JaxArray | JaxArray[];
    prepare?: (jax: Jax, xs: JaxArray[]) => JaxArray[];
    toCanonical?: (out: Float32Array) => ArrayLike<number>;
    fallback?: { label: string; op: (jax: Jax, xs: JaxArray[]) => JaxArray };
  };
  /** ONNX Runtime Web: the ONNX graph of the computation (bench/peers/ort.ts); several graphs are several variants. */
  ort?: OrtImpl | readonly OrtImpl[];
  /** webgpu-torch (bench/peers/webgpu-torch.ts), where its ops can express the case; `constants` are uploaded once. */
  webgpuTorch?: {
    label: string;
    op: (xs: readonly WtTensor[], keep: WtTemporaries) => WtTensor | WtTensor[];
    constants?: (torch: WebgpuTorch) => WtTensor[];
    toCanonical?: (out: Float32Array) => ArrayLike<number>;
    /** Set when the library cannot run the case (see wtDispatchLimit): the variant is reported unsupported, with this reason. */
    unsupported?: string;
  };
}

export interface OrtImpl {
  label: string;
  graph: OrtGraphBuilder;
  inputs?: readonly HostTensor[];
  toCanonical?: (out: Float32Array) => ArrayLike<number>;
}

/** Variants in report order: ours (primary), our baselines, tfjs, jax-js, ONNX Runtime Web, webgpu-torch. */
export function variants(impls: EngineImpls): Variant[] {
  const out: Variant[] = [];
  const { inputs, ours, baselines = [], tfjs, jax, ort, webgpuTorch } = impls;
  if (ours) out.push({ engine: 'omnitensor', label: ours.label, primary: true, create: async () => oursRunner(inputs, ours.op, ours.toCanonical) });
  for (const b of baselines)
    out.push({ engine: 'omnitensor', label: b.label, timestamps: true, create: async () => oursRunner(inputs, b.op, b.toCanonical) });
  if (tfjs) out.push({ engine: 'tfjs-webgpu', label: tfjs.label, create: () => tfjsRunner(tfjs.inputs ?? inputs, tfjs.op, tfjs.toCanonical, tfjs.gradients) });
  if (jax)
    out.push({
      engine: 'jax-js',
      label: jax.label,
      create: () =>
        jaxRunner(inputs, jax.op, {
          ...(jax.prepare ? { prepare: jax.prepare } : {}),
          ...(jax.toCanonical ? { toCanonical: jax.toCanonical } : {}),
          ...(jax.fallback ? { fallback: jax.fallback } : {}),
        }),
    });
  for (const o of [ort ?? []].flat()) out.push({ engine: 'onnxruntime-web', label: o.label, create: () => ortRunner(o.inputs ?? inputs, o.graph, o.toCanonical) });
  if (webgpuTorch) {
    const { unsupported } = webgpuTorch;
    out.push({
      engine: 'webgpu-torch',
      label: webgpuTorch.label,
      create: () => (unsupported === undefined ? webgpuTorchRunner(inputs, webgpuTorch.op, webgpuTorch) : Promise.reject(new Unsupported(unsupported))),
    });
  }
  return out;
}

/** Exact GELU in float64 (erf by Abramowitz-Stegun 7.1.26 is too coarse; use a series/continued fraction). */
export function geluExact(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/** erf to ~1e-15 (Taylor series near 0, complementary continued fraction in the tails). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 60; n++) {
      term *= (-ax * ax) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (ax > 6) return Math.sign(x);
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))) evaluated bottom-up.
  let f = ax;
  for (let n = 60; n >= 1; n--) f = ax + n / 2 / f;
  return Math.sign(x) * (1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f);
}
