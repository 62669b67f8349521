/**
 * Attention cases, q/k/v laid out [B, H, T, d]: fused scaled-dot-product attention against our unfused
 * baseline (matmul + scale + mask + softmax + matmul) and the peers. tfjs has no fused attention, so it runs
 * that same composition; jax-js runs nn.dotProductAttention (which wants [B, T, H, d]: inputs are transposed
 * once outside timing) and falls back to the composition where that op fails. ONNX Runtime Web runs its
 * fused contrib op com.microsoft.MultiHeadAttention, with q as [B, T, H*d] (transposed once outside timing),
 * k and v as [B, H, T, d], and `unidirectional` for the causal mask; it returns [B, T, H*d]. On lavapipe
 * that op's results are wrong from T = 32 on (max error 1.5e-2 at T = 64 against 1e-7 at T <= 17, ORT 1.30,
 * the same on a device without subgroups or shader-f16), so ORT also runs the MatMul/Softmax composition,
 * whose results are right.
 * FLOPs count the two products over the unmasked score entries: 4*B*H*d*T*T, halved (T(T+1)/2) when causal.
 */
import * as ops from '../../engine/ops/index.js';
import type { Tensor } from '../../engine/tensor.js';
import { sampledCheck, type BenchCase } from '../harness.js';
import type { Jax, JaxArray } from '../peers/jax.js';
import { attentionWeights, fmt, host, memoByKey, permuteHost, variants } from './common.js';
import { requireOp } from './ours.js';

/** Additive mask: 0 where s <= t, -1e9 above the diagonal (a large finite value keeps every kernel NaN-free). */
function causalMask(t: number): { data: Float32Array; shape: number[] } {
  const data = new Float32Array(t * t);
  for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) data[i * t + j] = -1e9;
  return { data, shape: [t, t] };
}

export function attentionCase(name: string, b: number, h: number, t: number, d: number, causal: boolean): BenchCase {
  const shape = [b, h, t, d];
  const scale = 1 / Math.sqrt(d);
  const pairs = causal ? (t * (t + 1)) / 2 : t * t;
  return {
    name,
    group: 'attention',
    shape: `q,k,v ${fmt(shape)}${causal ? ' causal' : ''}`,
    dtype: 'f32',
    flops: 4 * b * h * d * pairs,
    async setup() {
      const q = host(shape, 11);
      const k = host(shape, 12);
      const v = host(shape, 13);
      const inputs = causal ? [q, k, v, causalMask(t)] : [q, k, v];
      // Softmax weights of one query row (b, h, i) by its row index bh * t + i.
      const weights = memoByKey((row) => {
        const i = row % t;
        return attentionWeights(q.data, k.data, t, d, scale, Math.floor(row / t), i, causal ? i : t - 1);
      });
      const expectedAt = (idx: number): number => {
        const c = idx % d;
        const bh = Math.floor(idx / (d * t));
        const p = weights(Math.floor(idx / d));
        let s = 0;
        for (let j = 0; j < t; j++) s += p[j]! * v.data[(bh * t + j) * d + c]!;
        return s;
      };
      const unfused = ([qq, kk, vv, mask]: readonly Tensor[]): Tensor => {
        const matmul = requireOp('matmul');
        let scores = ops.mul(matmul(qq!, ops.transpose(kk!)), scale);
        if (mask) scores = ops.add(scores, mask);
        return matmul(requireOp('softmax')(scores, -1), vv!);
      };
      /** The composition on [B, T, H, d] inputs, returning [B, T, H, d] like dotProductAttention. */
      const jaxComposition = (jax: Jax, [qq, kk, vv, mask]: JaxArray[]): JaxArray => {
        const np = jax.numpy;
        const heads = (x: JaxArray) => np.transpose(x, [0, 2, 1, 3]);
        let scores = np.multiply(np.matmul(heads(qq!), np.transpose(kk!, [0, 2, 3, 1])), scale);
        if (mask) scores = np.add(scores, mask);
        return heads(np.matmul(jax.nn.softmax(scores, -1), heads(vv!)));
      };
      const fromBTHD = (out: Float32Array) => permuteHost(out, [b, t, h, d], [0, 2, 1, 3]);
      const queryBTHd = { data: permuteHost(q.data, shape, [0, 2, 1, 3]), shape: [b, t, h * d] };
      return {
        // Probabilities sum to 1 and |v| <= 1: outputs are O(1) and f32 softmax error ~1e-6; 2e-4 catches masking or scaling mistakes.
        check: sampledCheck({ size: b * h * t * d, expectedAt, atol: 2e-4, rtol: 1e-3 }),
        variants: variants({
          inputs,
          ours: { label: 'scaledDotProductAttention, fused', op: ([qq, kk, vv]) => requireOp('scaledDotProductAttention')(qq!, kk!, vv!, { causal }) },
          baselines: [{ label: 'unfused: matmul + scale + mask + softmax + matmul', op: unfused }],
          tfjs: {
            label: 'composition: matMul + mul + add mask + softmax + matMul (no fused op)',
            op: (tf, [qq, kk, vv, mask]) => {
              let scores = tf.mul(tf.matMul(qq!, kk!, false, true), scale);
              if (mask) scores = tf.add(scores, mask);
              return tf.matMul(tf.softmax(scores), vv!);
            },
          },
          jax: {
            label: 'jit(nn.dotProductAttention) on [B,T,H,d]',
            prepare: (jax, xs) => xs.map((x, i) => (i < 3 ? jax.numpy.transpose(x, [0, 2, 1, 3]) : x)),
            op: (jax, [qq, kk, vv]) => jax.nn.dotProductAttention(qq!, kk!, vv!, { isCausal: causal }),
            toCanonical: fromBTHD,
            fallback: { label: 'composition: matmul + multiply + add mask + softmax + matmul (jit)', op: jaxComposition },
          },
          ort: [
            {
              label: `com.microsoft.MultiHeadAttention${causal ? ' (unidirectional)' : ''}`,
              inputs: [queryBTHd, k, v],
              graph: (g, [qq, kk, vv]) =>
                g.op('MultiHeadAttention', [qq!, kk!, vv!], { num_heads: { int: h }, unidirectional: { int: causal ? 1 : 0 } }, 'com.microsoft'),
              toCanonical: fromBTHD,
            },
            {
              label: 'composition: MatMul + Mul + Add mask + Softmax + MatMul',
              graph: (g, [qq, kk, vv, mask]) => {
                let scores = g.op('Mul', [g.op('MatMul', [qq!, g.op('Transpose', [kk!], { perm: { ints: [0, 1, 3, 2] } })]), g.scalar(scale)]);
                if (mask) scores = g.op('Add', [scores, mask]);
                return g.op('MatMul', [g.op('Softmax', [scores], { axis: { int: -1 } }), vv!]);
              },
            },
          ],
        }),
      };
    },
  };
}

/** Batch 8 (1 on a CPU adapter unless --large); quick runs skip ViT-L and T=512. */
export function attentionCases(options: { quick: boolean; small: boolean }): BenchCase[] {
  const b = options.small ? 1 : 8;
  const cases = [
    attentionCase('attention ViT-B', b, 12, 197, 64, false),
    attentionCase('attention text T=77', b, 8, 77, 64, false),
    attentionCase('attention text T=77 causal', b, 8, 77, 64, true),
  ];
  if (!options.quick)
    cases.push(
      attentionCase('attention ViT-L', b, 16, 257, 64, false),
      attentionCase('attention text T=512', 1, 8, 512, 64, false),
      attentionCase('attention text T=512 causal', 1, 8, 512, 64, true),
    );
  return cases;
}
