/**
 * Row-wise normalisations: layer norm over the feature axis and softmax over the last axis.
 * Both are memory-bound: figures in GB/s, counting one read of the input and one write of the output.
 */
import * as ops from '../../engine/ops/index.js';
import type { Tensor } from '../../engine/tensor.js';
import { sampledCheck, type BenchCase } from '../harness.js';
import { fmt, host, memoByKey, variants } from './common.js';
import { requireOp } from './ours.js';

const EPS = 1e-5;

/** Row sums as an [n, 1] column, whether or not `sum` keeps the reduced dim. */
function rowSum(x: Tensor): Tensor {
  return ops.reshape(requireOp('sum')(x, [-1]), [x.shape[0]!, 1]);
}

export function layerNormCase(n: number, d: number): BenchCase {
  return {
    name: `layernorm ${n}x${d}`,
    group: 'layernorm',
    shape: `x ${fmt([n, d])}, w,b ${d}`,
    dtype: 'f32',
    bytes: (2 * n * d + 2 * d) * 4,
    async setup() {
      const x = host([n, d], 21, 3);
      const w = host([d], 22);
      const b = host([d], 23);
      const rowStats = memoByKey((r): [number, number] => {
        let mean = 0;
        for (let c = 0; c < d; c++) mean += x.data[r * d + c]!;
        mean /= d;
        let v = 0;
        for (let c = 0; c < d; c++) v += (x.data[r * d + c]! - mean) ** 2;
        return [mean, 1 / Math.sqrt(v / d + EPS)];
      });
      const expectedAt = (i: number): number => {
        const [mean, rstd] = rowStats(Math.floor(i / d));
        const c = i % d;
        return (x.data[i]! - mean) * rstd * w.data[c]! + b.data[c]!;
      };
      return {
        // Outputs are O(1); one-pass f32 variance loses ~1e-5 relative. 1e-3 catches wrong eps or biased variance.
        check: sampledCheck({ size: n * d, expectedAt, atol: 1e-3, rtol: 1e-3 }),
        variants: variants({
          inputs: [x, w, b],
          ours: { label: 'layerNorm, fused', op: ([xx, ww, bb]) => requireOp('layerNorm')(xx!, [d], ww!, bb!) },
          baselines: [
            {
              label: 'unfused: sum + sub + square + sum + rsqrt + mul + add',
              op: ([xx, ww, bb]) => {
                const centred = ops.sub(xx!, ops.mul(rowSum(xx!), 1 / d));
                const variance = ops.mul(rowSum(ops.square(centred)), 1 / d);
                return ops.add(ops.mul(ops.mul(centred, ops.rsqrt(ops.add(variance, EPS))), ww!), bb!);
              },
            },
          ],
          tfjs: {
            label: 'composition: moments + sub + rsqrt + mul + add (no layer norm op)',
            op: (tf, [xx, ww, bb]) => {
              const { mean, variance } = tf.moments(xx!, -1, true);
              return tf.add(tf.mul(tf.mul(tf.sub(xx!, mean), tf.rsqrt(tf.add(variance, EPS))), ww!), bb!);
            },
          },
          jax: {
            label: 'jit(nn.standardize * w + b)',
            op: (jax, [xx, ww, bb]) => jax.numpy.add(jax.numpy.multiply(jax.nn.standardize(xx!, -1, { epsilon: EPS }), ww!), bb!),
          },
          ort: {
            label: 'LayerNormalization',
            graph: (g, [xx, ww, bb]) => g.op('LayerNormalization', [xx!, ww!, bb!], { axis: { int: -1 }, epsilon: { float: EPS } }),
          },
        }),
      };
    },
  };
}

export function softmaxCase(rows: number, cols: number, label: string): BenchCase {
  return {
    name: `softmax ${label}`,
    group: 'softmax',
    shape: `${fmt([rows, cols])}, last axis`,
    dtype: 'f32',
    bytes: 2 * rows * cols * 4,
    async setup() {
      const x = host([rows, cols], 31, 4);
      const sums = new Map<number, [number, number]>();
      const rowNorm = (r: number): [number, number] => {
        let st = sums.get(r);
        if (!st) {
          let max = -Infinity;
          for (let c = 0; c < cols; c++) max = Math.max(max, x.data[r * cols + c]!);
          let total = 0;
          for (let c = 0; c < cols; c++) total += Math.exp(x.data[r * cols + c]! - max);
          st = [max, total];
          sums.set(r, st);
        }
        return st;
      };
      const expectedAt = (i: number): number => {
        const [max, total] = rowNorm(Math.floor(i / cols));
        return Math.exp(x.data[i]! - max) / total;
      };
      return {
        // Probabilities are <= 1; f32 exp/sum error ~1e-6 relative.
        check: sampledCheck({ size: rows * cols, expectedAt, atol: 1e-5, rtol: 1e-3 }),
        variants: variants({
          inputs: [x],
          ours: { label: 'softmax, fused', op: ([xx]) => requireOp('softmax')(xx!, -1) },
          baselines: [
            {
              // Inputs lie in [-4, 4], so skipping the max shift cannot overflow here.
              label: 'unfused: exp + sum + div (no max shift)',
              op: ([xx]) => {
                const e = ops.exp(xx!);
                return ops.div(e, rowSum(e));
              },
            },
          ],
          tfjs: { label: 'tf.softmax', op: (tf, [xx]) => tf.softmax(xx!) },
          jax: { label: 'jit(nn.softmax)', op: (jax, [xx]) => jax.nn.softmax(xx!, -1) },
          ort: { label: 'Softmax', graph: (g, [xx]) => g.op('Softmax', [xx!], { axis: { int: -1 } }) },
        }),
      };
    },
  };
}

/**
 * The yardstick for layer norm: moving the same bytes without computing anything. Ours only (what it
 * measures is our engine's floor): an identity map kernel (x * 1, one read and one write per element in a
 * shader, as layer norm does) and the buffer copy command (copyBufferToBuffer, a memcpy). Layer norm's
 * target is within 2x of a plain copy.
 */
export function copyCase(n: number, d: number): BenchCase {
  return {
    name: `copy ${n}x${d} (layernorm's bytes)`,
    group: 'layernorm',
    shape: `x ${fmt([n, d])}`,
    dtype: 'f32',
    bytes: 2 * n * d * 4,
    async setup() {
      const x = host([n, d], 21, 3);
      return {
        check: sampledCheck({ size: n * d, expectedAt: (i) => x.data[i]!, atol: 0, rtol: 0 }),
        variants: variants({
          inputs: [x],
          ours: { label: 'map kernel: x * 1', op: ([xx]) => ops.mul(xx!, 1) },
          baselines: [{ label: 'copyBufferToBuffer (contiguous copy)', op: ([xx]) => ops.contiguousCopy(xx!) }],
        }),
      };
    },
  };
}

export const normCases = (): BenchCase[] => [layerNormCase(4096, 768), copyCase(4096, 768), softmaxCase(8 * 12 * 197, 197, 'ViT-B scores 18912x197')];
