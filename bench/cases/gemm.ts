/**
 * GEMM cases: square sizes, the ViT-B token projections (197 tokens x 768 features), a batched
 * attention-shaped product, and a fused linear + bias + GELU against its unfused baseline.
 */
import * as ops from '../../engine/ops/index.js';
import { sampledCheck, type BenchCase } from '../harness.js';
import { fmt, geluExact, host, unravel, variants } from './common.js';
import { requireOp } from './ours.js';

/** f32 accumulation error grows ~sqrt(K) * eps * |terms|; 1e-3*sqrt(K) still catches any wrong kernel (errors O(1)). */
const gemmTolerance = (k: number) => ({ atol: 1e-3 * Math.sqrt(k), rtol: 1e-3 });

/** C[..., m, n] = sum_k A[..., m, k] B[..., k, n], with the same batch dims on A and B. */
export function gemmCase(name: string, batch: readonly number[], m: number, k: number, n: number): BenchCase {
  const aShape = [...batch, m, k];
  const bShape = [...batch, k, n];
  const outShape = [...batch, m, n];
  const batches = batch.reduce((p, d) => p * d, 1);
  return {
    name,
    group: 'gemm',
    shape: `${fmt(aShape)} @ ${fmt(bShape)}`,
    dtype: 'f32',
    flops: 2 * batches * m * n * k,
    async setup() {
      const a = host(aShape, 1);
      const b = host(bShape, 2);
      const expectedAt = (i: number): number => {
        const idx = unravel(i, outShape);
        const col = idx[idx.length - 1]!;
        const row = idx[idx.length - 2]!;
        const bi = Math.floor(i / (m * n));
        let s = 0;
        for (let p = 0; p < k; p++) s += a.data[bi * m * k + row * k + p]! * b.data[bi * k * n + p * n + col]!;
        return s;
      };
      return {
        check: sampledCheck({ size: batches * m * n, expectedAt, ...gemmTolerance(k) }),
        variants: variants({
          inputs: [a, b],
          ours: { label: 'matmul', op: ([x, y]) => requireOp('matmul')(x!, y!) },
          tfjs: { label: 'tf.matMul', op: (tf, [x, y]) => tf.matMul(x!, y!) },
          jax: { label: 'np.matmul (jit)', op: (jax, [x, y]) => jax.numpy.matmul(x!, y!) },
          ort: { label: 'MatMul', graph: (g, [x, y]) => g.op('MatMul', [x!, y!]) },
          // webgpu-torch 0.3.5 multiplies 2-D matrices only (no bmm or broadcasting matmul).
          ...(batch.length === 0 ? { webgpuTorch: { label: 'mm', op: ([x, y]) => x!.mm(y!) } } : {}),
        }),
      };
    },
  };
}

/** y = gelu(x W^T + b) with W stored [out, in] as torch does. */
export function linearGeluCase(m: number, k: number, n: number): BenchCase {
  return {
    name: `linear+gelu ${m}x${k}x${n}`,
    group: 'gemm',
    shape: `x ${fmt([m, k])}, W ${fmt([n, k])}, b ${n}`,
    dtype: 'f32',
    flops: 2 * m * n * k,
    async setup() {
      const x = host([m, k], 3);
      const w = host([n, k], 4);
      const b = host([n], 5);
      const expectedAt = (i: number): number => {
        const row = Math.floor(i / n);
        const col = i % n;
        let s = b.data[col]!;
        for (let p = 0; p < k; p++) s += x.data[row * k + p]! * w.data[col * k + p]!;
        return geluExact(s);
      };
      return {
        check: sampledCheck({ size: m * n, expectedAt, ...gemmTolerance(k) }),
        variants: variants({
          inputs: [x, w, b],
          ours: { label: 'linear(activation: gelu), fused', op: ([xx, ww, bb]) => requireOp('linear')(xx!, ww!, bb!, { activation: 'gelu' }) },
          baselines: [
            {
              label: 'unfused: matmul + add + gelu',
              op: ([xx, ww, bb]) => ops.gelu(ops.add(requireOp('matmul')(xx!, ops.transpose(ww!)), bb!)),
            },
          ],
          tfjs: {
            label: 'composition: matMul(transposeB) + add + erf-GELU (tfjs has no gelu op)',
            op: (tf, [xx, ww, bb]) => {
              const y = tf.add(tf.matMul(xx!, ww!, false, true), bb!);
              return tf.mul(tf.mul(y, 0.5), tf.add(tf.erf(tf.mul(y, Math.SQRT1_2)), 1));
            },
          },
          jax: {
            label: 'jit(nn.gelu(x @ W.T + b, exact))',
            op: (jax, [xx, ww, bb]) =>
              jax.nn.gelu(jax.numpy.add(jax.numpy.matmul(xx!, jax.numpy.transpose(ww!)), bb!), { approximate: false }),
          },
          ort: {
            label: 'Gemm(transB, bias) + Gelu, as torch.onnx exports nn.Linear + nn.GELU',
            graph: (g, [xx, ww, bb]) => g.op('Gelu', [g.op('Gemm', [xx!, ww!, bb!], { transB: { int: 1 } })]),
          },
        }),
      };
    },
  };
}

/**
 * Square sizes 256..2048 (256..1024 on a CPU adapter unless --large; --large adds 4096 on GPUs).
 * Quick runs keep 256, 512, the 768x768 projection and a 768-wide linear+gelu.
 */
export function gemmCases(options: { quick: boolean; large: boolean; small: boolean; adapterClass: 'cpu' | 'gpu' }): BenchCase[] {
  const sizes = options.quick ? [256, 512] : [256, 512, 1024];
  if (!options.quick && !options.small) sizes.push(2048);
  if (options.large && options.adapterClass === 'gpu') sizes.push(4096);
  return [
    ...sizes.map((s) => gemmCase(`gemm ${s}`, [], s, s, s)),
    gemmCase('gemm 197x768x768', [], 197, 768, 768),
    ...(options.quick
      ? [linearGeluCase(197, 768, 768)]
      : [gemmCase('gemm 197x768x3072', [], 197, 768, 3072), gemmCase('gemm batched 96x197x64x197', [96], 197, 64, 197), linearGeluCase(197, 768, 3072)]),
  ];
}
