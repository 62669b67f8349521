/** GELU (exact, erf form) over an MLP hidden activation: one read and one write per element (GB/s). */
import * as ops from '../../engine/ops/index.js';
import { sampledCheck, type BenchCase } from '../harness.js';
import { fmt, geluExact, host, variants } from './common.js';

export function geluCase(rows: number, cols: number): BenchCase {
  const n = rows * cols;
  return {
    name: `gelu ${rows}x${cols}`,
    group: 'gelu',
    shape: fmt([rows, cols]),
    dtype: 'f32',
    bytes: 2 * n * 4,
    async setup() {
      const x = host([rows, cols], 41, 4);
      return {
        // erf approximations in f32 are good to ~1e-6; the tanh form of GELU would differ by up to ~5e-4.
        check: sampledCheck({ size: n, expectedAt: (i) => geluExact(x.data[i]!), atol: 1e-4, rtol: 1e-4 }),
        variants: variants({
          inputs: [x],
          ours: { label: 'gelu', op: ([xx]) => ops.gelu(xx!) },
          tfjs: {
            label: 'composition: mul + erf + add + mul (tfjs has no gelu op)',
            op: (tf, [xx]) => tf.mul(tf.mul(xx!, 0.5), tf.add(tf.erf(tf.mul(xx!, Math.SQRT1_2)), 1)),
          },
          jax: { label: 'jit(nn.gelu, exact)', op: (jax, [xx]) => jax.nn.gelu(xx!, { approximate: false }) },
          ort: { label: 'Gelu (opset 20, exact)', graph: (g, [xx]) => g.op('Gelu', [xx!]) },
        }),
      };
    },
  };
}

/** 4096x3072 (1024x3072 on a CPU adapter unless --large). */
export const elementwiseCases = (options: { small: boolean }): BenchCase[] => [geluCase(options.small ? 1024 : 4096, 3072)];
