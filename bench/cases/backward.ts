/**
 * Training cases: a layer's forward pass followed by its backward pass for a given output gradient dy,
 * returning the gradients of all its inputs, as one training step computes them for that layer. Ours
 * runs through autograd, where the fused ops run their backward kernels (kernels/wgsl/*_backward.wgsl and
 * the GEMMs of the linear layer's backward); our baseline is autograd over the unfused composition. TF.js
 * runs tf.grads of its composition with dy as the output gradient; jax-js runs jit(grad) of the
 * composition's sum(f(...) * dy), whose gradient is the same vector-Jacobian product. ONNX Runtime Web
 * (inference only in its web build) and webgpu-torch (no gradient for mm) have no variant here.
 * The input's gradient (dx, dq) is the output validated against a float64 oracle.
 */
import * as ag from '../../autograd/index.js';
import * as ops from '../../engine/ops/index.js';
import type { Tensor } from '../../engine/tensor.js';
import { sampledCheck, type BenchCase } from '../harness.js';
import type { Jax, JaxArray } from '../peers/jax.js';
import type { Tfjs } from '../peers/tfjs.js';
import type * as TF from '@tensorflow/tfjs-core';
import { attentionWeights, erf, fmt, host, memoByKey, variants } from './common.js';

/**
 * The gradients of `leaves` after autograd runs `forward` on them and back-propagates `dy`. The leaves
 * are fresh views each call, so gradients never accumulate across calls; the gradients are taken off
 * the leaves before the runner's `tidy` disposes them (a disposed tensor disposes its .grad).
 */
function autogradStep(inputs: readonly Tensor[], dy: Tensor, forward: (xs: Tensor[]) => Tensor): Tensor[] {
  const leaves = inputs.map((t) => {
    const leaf = ops.reshape(t, t.shape);
    leaf.requiresGrad = true;
    return leaf;
  });
  ag.backward(forward(leaves), dy);
  return leaves.map((leaf) => {
    const g = leaf.grad!;
    leaf.grad = null;
    return g;
  });
}

/** TF.js: the gradients of `forward` at `xs` for output gradient dy. */
const tfGrads = (tf: Tfjs, xs: readonly TF.Tensor[], dy: TF.Tensor, forward: (...args: TF.Tensor[]) => TF.Tensor): TF.Tensor[] =>
  tf.grads(forward)([...xs], dy);

/** jax-js: the gradients of sum(forward(xs) * dy) for every argument of forward (jax-js arrays are consumed by use: `ref` where reused). */
function jaxGrads(jax: Jax, xs: JaxArray[], dy: JaxArray, forward: (...args: JaxArray[]) => JaxArray): JaxArray[] {
  const np = jax.numpy;
  const loss = (...args: JaxArray[]) => np.sum(np.multiply(forward(...args.slice(0, -1)), args[args.length - 1]!));
  return jax.grad(loss, { argnums: xs.map((_, i) => i) })(...xs, dy) as JaxArray[];
}

/** GELU's derivative: Phi(z) + z * phi(z). */
const geluGrad = (z: number): number => 0.5 * (1 + erf(z / Math.SQRT2)) + (z * Math.exp(-0.5 * z * z)) / Math.sqrt(2 * Math.PI);

/** y = gelu(x W^T + b), W [out, in] as torch stores it; gradients of x, W and b for dy. */
export function linearGeluBackwardCase(m: number, k: number, n: number): BenchCase {
  return {
    name: `linear+gelu backward ${m}x${k}x${n}`,
    group: 'backward',
    shape: `x ${fmt([m, k])}, W ${fmt([n, k])}, b ${n}, dy ${fmt([m, n])}`,
    dtype: 'f32',
    // The forward GEMM and the two of the backward (dx = g W, dW = g^T x).
    flops: 6 * m * n * k,
    async setup() {
      const x = host([m, k], 81);
      const w = host([n, k], 82, 0.1);
      const b = host([n], 83);
      const dy = host([m, n], 84);
      // g[r, j] = dy[r, j] * gelu'(z[r, j]) for one row r.
      const gRow = memoByKey((r) => {
        const g = new Float64Array(n);
        for (let j = 0; j < n; j++) {
          let z = b.data[j]!;
          for (let p = 0; p < k; p++) z += x.data[r * k + p]! * w.data[j * k + p]!;
          g[j] = dy.data[r * n + j]! * geluGrad(z);
        }
        return g;
      });
      const expectedAt = (i: number): number => {
        const g = gRow(Math.floor(i / k));
        const c = i % k;
        let s = 0;
        for (let j = 0; j < n; j++) s += g[j]! * w.data[j * k + c]!;
        return s;
      };
      const composition = (xx: Tensor, ww: Tensor, bb: Tensor) => ag.gelu(ag.add(ag.matmul(xx, ag.transpose(ww)), bb));
      return {
        // dx sums n = 3072 terms of O(0.1): f32 error ~sqrt(n) * 1e-7 relative to O(1) entries.
        check: sampledCheck({ size: m * k, expectedAt, atol: 1e-3, rtol: 1e-3 }),
        variants: variants({
          inputs: [x, w, b, dy],
          ours: {
            label: 'autograd of linear(activation: gelu): fused forward saving the pre-activation; backward gelu_grad, 2 GEMMs, column sum',
            op: ([xx, ww, bb, g]) => autogradStep([xx!, ww!, bb!], g!, ([a, c, d]) => ag.linear(a!, c!, d!, { activation: 'gelu' })),
          },
          baselines: [{
            label: 'autograd of the composition: matmul + add + gelu',
            op: ([xx, ww, bb, g]) => autogradStep([xx!, ww!, bb!], g!, ([a, c, d]) => composition(a!, c!, d!)),
          }],
          tfjs: {
            gradients: true,
            label: 'tf.grads of matMul(transposeB) + add + erf-GELU',
            op: (tf, [xx, ww, bb, g]) =>
              tfGrads(tf, [xx!, ww!, bb!], g!, (a, c, d) => {
                const z = tf.add(tf.matMul(a!, c!, false, true), d!);
                return tf.mul(tf.mul(z, 0.5), tf.add(tf.erf(tf.mul(z, Math.SQRT1_2)), 1));
              }),
          },
          jax: {
            label: 'jit(grad) of sum(nn.gelu(x @ W.T + b, exact) * dy)',
            op: (jax, [xx, ww, bb, g]) =>
              jaxGrads(jax, [xx!, ww!, bb!], g!, (a, c, d) => jax.nn.gelu(jax.numpy.add(jax.numpy.matmul(a!, jax.numpy.transpose(c!)), d!), { approximate: false })),
          },
        }),
      };
    },
  };
}

/** softmax(q k^T / sqrt(d)) v over [B, H, T, d]; gradients of q, k and v for dO. */
export function attentionBackwardCase(name: string, bt: number, h: number, t: number, d: number): BenchCase {
  const shape = [bt, h, t, d];
  const scale = 1 / Math.sqrt(d);
  return {
    name,
    group: 'backward',
    shape: `q,k,v,dO ${fmt(shape)}`,
    dtype: 'f32',
    // Forward: q k^T and P v; backward: dO v^T, dS k, dS^T q and P^T dO (a fused kernel also recomputes q k^T).
    flops: 12 * bt * h * t * t * d,
    async setup() {
      const q = host(shape, 91);
      const k = host(shape, 92);
      const v = host(shape, 93);
      const dO = host(shape, 94);
      const at = (x: { data: Float32Array }, bh: number, row: number, c: number) => x.data[(bh * t + row) * d + c]!;
      // dS[i, :] = P[i, :] * (dP[i, :] - sum_j P[i, j] dP[i, j]) for one query row (bh, i), by bh * t + i.
      const dsRow = memoByKey((row) => {
        const [bh, i] = [Math.floor(row / t), row % t];
        const p = attentionWeights(q.data, k.data, t, d, scale, bh, i);
        const ds = new Float64Array(t);
        let dot = 0;
        for (let j = 0; j < t; j++) {
          let dp = 0;
          for (let c = 0; c < d; c++) dp += at(dO, bh, i, c) * at(v, bh, j, c);
          ds[j] = dp;
          dot += p[j]! * dp;
        }
        for (let j = 0; j < t; j++) ds[j] = p[j]! * (ds[j]! - dot);
        return ds;
      });
      const expectedAt = (idx: number): number => {
        const c = idx % d;
        const bh = Math.floor(idx / (d * t));
        const ds = dsRow(Math.floor(idx / d));
        let s = 0;
        for (let j = 0; j < t; j++) s += ds[j]! * at(k, bh, j, c);
        return s * scale;
      };
      return {
        // dq entries are O(0.1-1) sums of T terms; f32 softmax and GEMM error stays below 1e-5 relative.
        check: sampledCheck({ size: bt * h * t * d, expectedAt, atol: 2e-4, rtol: 1e-3 }),
        variants: variants({
          inputs: [q, k, v, dO],
          ours: {
            label: 'autograd of scaledDotProductAttention: fused forward (saves log-sum-exp), fused backward',
            op: ([qq, kk, vv, g]) => autogradStep([qq!, kk!, vv!], g!, ([a, c, e]) => ag.scaledDotProductAttention(a!, c!, e!)),
          },
          baselines: [{
            label: 'autograd of the composition: matmul + scale + softmax + matmul',
            op: ([qq, kk, vv, g]) =>
              autogradStep([qq!, kk!, vv!], g!, ([a, c, e]) => ag.matmul(ag.softmax(ag.mul(ag.matmul(a!, ag.transpose(c!)), scale), -1), e!)),
          }],
          tfjs: {
            gradients: true,
            label: 'tf.grads of matMul + mul + softmax + matMul (no fused op)',
            op: (tf, [qq, kk, vv, g]) =>
              tfGrads(tf, [qq!, kk!, vv!], g!, (a, c, e) => tf.matMul(tf.softmax(tf.mul(tf.matMul(a!, c!, false, true), scale)), e!)),
          },
          jax: {
            label: 'jit(grad) of sum(composition * dO): matmul + multiply + softmax + matmul',
            op: (jax, [qq, kk, vv, g]) => {
              const np = jax.numpy;
              return jaxGrads(jax, [qq!, kk!, vv!], g!, (a, c, e) =>
                np.matmul(jax.nn.softmax(np.multiply(np.matmul(a!, np.transpose(c!, [0, 1, 3, 2])), scale), -1), e!),
              );
            },
          },
        }),
      };
    },
  };
}

const LN_EPS = 1e-5;

/** y = (x - mean) * rstd * w + b over rows of length d; gradients of x, w and b for dy. */
export function layerNormBackwardCase(n: number, d: number): BenchCase {
  return {
    name: `layernorm backward ${n}x${d}`,
    group: 'backward',
    shape: `x ${fmt([n, d])}, w,b ${d}, dy ${fmt([n, d])}`,
    dtype: 'f32',
    // Memory-bound: x and dy read, y and dx written, once each.
    bytes: 4 * n * d * 4,
    async setup() {
      const x = host([n, d], 95, 3);
      const w = host([d], 96);
      const b = host([d], 97);
      const dy = host([n, d], 98);
      // dx[r, :] = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * w, for one row r.
      const dxRow = memoByKey((r) => {
        let mean = 0;
        for (let c = 0; c < d; c++) mean += x.data[r * d + c]!;
        mean /= d;
        let variance = 0;
        for (let c = 0; c < d; c++) variance += (x.data[r * d + c]! - mean) ** 2;
        const rstd = 1 / Math.sqrt(variance / d + LN_EPS);
        const xhat = Array.from({ length: d }, (_, c) => (x.data[r * d + c]! - mean) * rstd);
        const g = Array.from({ length: d }, (_, c) => dy.data[r * d + c]! * w.data[c]!);
        const meanG = g.reduce((s, v) => s + v, 0) / d;
        const meanGX = g.reduce((s, v, c) => s + v * xhat[c]!, 0) / d;
        return Float64Array.from(g, (v, c) => rstd * (v - meanG - xhat[c]! * meanGX));
      });
      const expectedAt = (i: number): number => dxRow(Math.floor(i / d))[i % d]!;
      return {
        // dx entries are O(0.1-1); the fused backward's f32 row sums keep ~1e-6 relative.
        check: sampledCheck({ size: n * d, expectedAt, atol: 1e-4, rtol: 1e-3 }),
        variants: variants({
          inputs: [x, w, b, dy],
          ours: {
            label: 'autograd of layerNorm: fused forward (saves mean, rstd), fused backward',
            op: ([xx, ww, bb, g]) => autogradStep([xx!, ww!, bb!], g!, ([a, c, e]) => ag.layerNorm(a!, [d], c!, e!, LN_EPS).y),
          },
          baselines: [{
            label: 'autograd of the composition: mean + sub + square + mean + rsqrt + mul + add',
            op: ([xx, ww, bb, g]) =>
              autogradStep([xx!, ww!, bb!], g!, ([a, c, e]) => {
                const centred = ag.sub(a!, ag.mean(a!, -1, { keepdim: true }));
                const variance = ag.mean(ag.square(centred), -1, { keepdim: true });
                return ag.add(ag.mul(ag.mul(centred, ag.rsqrt(ag.add(variance, LN_EPS))), c!), e!);
              }),
          }],
          tfjs: {
            gradients: true,
            label: 'tf.grads of moments + sub + rsqrt + mul + add (no layer norm op)',
            op: (tf, [xx, ww, bb, g]) =>
              tfGrads(tf, [xx!, ww!, bb!], g!, (a, c, e) => {
                const { mean, variance } = tf.moments(a!, -1, true);
                return tf.add(tf.mul(tf.mul(tf.sub(a!, mean), tf.rsqrt(tf.add(variance, LN_EPS))), c!), e!);
              }),
          },
          jax: {
            label: 'jit(grad) of sum((nn.standardize(x) * w + b) * dy)',
            op: (jax, [xx, ww, bb, g]) =>
              jaxGrads(jax, [xx!, ww!, bb!], g!, (a, c, e) =>
                jax.numpy.add(jax.numpy.multiply(jax.nn.standardize(a!, -1, { epsilon: LN_EPS }), c!), e!),
              ),
          },
        }),
      };
    },
  };
}

/** One linear layer of ViT-B's MLP, ViT-B attention (batch 1 on a CPU adapter unless --large) and a LayerNorm over B16's tokens. */
export function backwardCases(options: { small: boolean }): BenchCase[] {
  return [
    linearGeluBackwardCase(197, 768, 3072),
    attentionBackwardCase('attention backward ViT-B', options.small ? 1 : 8, 12, 197, 64),
    layerNormBackwardCase(4096, 768),
  ];
}
