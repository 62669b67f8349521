/**
 * One AdamW step (torch semantics, decoupled weight decay, first step) over ~10M parameters held as one
 * flat tensor: reads p, g, m, v and writes p, m, v (GB/s over those 7 tensors). Every engine returns all
 * three new tensors, so jax-js's jit cannot drop the moment updates; the new parameters are validated.
 * Ours is the fused kernel nn.AdamW runs (kernels/wgsl/optim.wgsl: one pass, p, m and v updated in place);
 * the elementwise composition is kept as our unfused baseline, the form the peers are timed in.
 * The in-place update is validated on its first call (the harness checks the first run, from the initial
 * state); later timed calls keep stepping the same tensors, which is the same work.
 */
import * as ops from '../../engine/ops/index.js';
import { sampledCheck, type BenchCase } from '../harness.js';
import { filledWt, WT_ELEMENTWISE_PER_WORKGROUP, wtDispatchLimit } from '../peers/webgpu-torch.js';
import { host, variants } from './common.js';

const LR = 1e-3;
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPS = 1e-8;
const DECAY = 0.01;
// Bias corrections of step 1.
const C1 = 1 - BETA1;
const C2 = 1 - BETA2;

export function adamwCase(n: number): BenchCase {
  return {
    name: `adamw step ${(n / 1e6).toFixed(1)}M params`,
    group: 'optimizer',
    shape: `p,g,m,v ${n}`,
    dtype: 'f32',
    bytes: 7 * n * 4,
    async setup() {
      const p = host([n], 71);
      const g = host([n], 72);
      const m = host([n], 73, 0.1);
      const v = host([n], 74, 0.1);
      for (let i = 0; i < n; i++) v.data[i] = Math.abs(v.data[i]!);
      const expectedAt = (i: number): number => {
        const mi = BETA1 * m.data[i]! + (1 - BETA1) * g.data[i]!;
        const vi = BETA2 * v.data[i]! + (1 - BETA2) * g.data[i]! ** 2;
        const decayed = p.data[i]! * (1 - LR * DECAY);
        return decayed - (LR * (mi / C1)) / (Math.sqrt(vi / C2) + EPS);
      };
      return {
        // Updates are ~1e-3 on O(1) parameters; f32 keeps ~1e-7 relative, so 1e-6 absolute catches a wrong update.
        check: sampledCheck({ size: n, expectedAt, atol: 1e-6, rtol: 1e-6 }),
        variants: variants({
            inputs: [p, g, m, v],
            ours: {
              label: 'fused in-place AdamW kernel (nn.AdamW)',
              op: ([pp, gg, mm, vv]) => {
                ops.adamUpdate(pp!, gg!, mm!, vv!, { lr: LR, beta1: BETA1, beta2: BETA2, eps: EPS, weightDecay: DECAY, decoupled: true, step: 1 });
                // Views, so the runner's disposal of its outputs leaves the state tensors alive.
                return [pp!, mm!, vv!].map((t) => ops.reshape(t, t.shape));
              },
            },
            baselines: [{
              label: 'our composition of elementwise ops',
              op: ([pp, gg, mm, vv]) => {
                const m1 = ops.add(ops.mul(mm!, BETA1), ops.mul(gg!, 1 - BETA1));
                const v1 = ops.add(ops.mul(vv!, BETA2), ops.mul(ops.square(gg!), 1 - BETA2));
                const step = ops.div(ops.mul(m1, LR / C1), ops.add(ops.sqrt(ops.mul(v1, 1 / C2)), EPS));
                return [ops.sub(ops.mul(pp!, 1 - LR * DECAY), step), m1, v1];
              },
            }],
            tfjs: {
              label: 'composition of elementwise ops',
              op: (tf, [pp, gg, mm, vv]) => {
                const m1 = tf.add(tf.mul(mm!, BETA1), tf.mul(gg!, 1 - BETA1));
                const v1 = tf.add(tf.mul(vv!, BETA2), tf.mul(tf.square(gg!), 1 - BETA2));
                const step = tf.div(tf.mul(m1, LR / C1), tf.add(tf.sqrt(tf.mul(v1, 1 / C2)), EPS));
                return [tf.sub(tf.mul(pp!, 1 - LR * DECAY), step), m1, v1];
              },
            },
            jax: {
              label: 'jit(composition)',
              op: (jax, [pp, gg, mm, vv]) => {
                const np = jax.numpy;
                const m1 = np.add(np.multiply(mm!, BETA1), np.multiply(gg!.ref, 1 - BETA1));
                const v1 = np.add(np.multiply(vv!, BETA2), np.multiply(np.square(gg!), 1 - BETA2));
                const step = np.divide(np.multiply(m1.ref, LR / C1), np.add(np.sqrt(np.multiply(v1.ref, 1 / C2)), EPS));
                return [np.subtract(np.multiply(pp!, 1 - LR * DECAY), step), m1, v1];
              },
            },
            ort: {
              label: 'graph of elementwise ops (ORT Web has no optimizer op)',
              graph: (b, [pp, gg, mm, vv]) => {
                const mul = (x: string, c: number) => b.op('Mul', [x, b.scalar(c)]);
                const m1 = b.op('Add', [mul(mm!, BETA1), mul(gg!, 1 - BETA1)]);
                const v1 = b.op('Add', [mul(vv!, BETA2), mul(b.op('Mul', [gg!, gg!]), 1 - BETA2)]);
                const step = b.op('Div', [mul(m1, LR / C1), b.op('Add', [b.op('Sqrt', [mul(v1, 1 / C2)]), b.scalar(EPS)])]);
                return [b.op('Sub', [mul(pp!, 1 - LR * DECAY), step]), m1, v1];
              },
            },
            webgpuTorch: {
              label: 'composition of elementwise ops (constants as filled tensors: its binary ops take no scalars)',
              unsupported: wtDispatchLimit(n, WT_ELEMENTWISE_PER_WORKGROUP),
              constants: (torch) => [BETA1, 1 - BETA1, BETA2, 1 - BETA2, LR / C1, 1 / C2, EPS, 1 - LR * DECAY].map((c) => filledWt(torch, p, c)),
              op: ([pp, gg, mm, vv, b1, b1c, b2, b2c, lrC1, invC2, eps, decay], keep) => {
                const m1 = keep(mm!.mul(b1!)).add(keep(gg!.mul(b1c!)));
                const v1 = keep(vv!.mul(b2!)).add(keep(keep(gg!.square()).mul(b2c!)));
                const step = keep(keep(m1.mul(lrC1!)).div(keep(keep(keep(v1.mul(invC2!)).sqrt()).add(eps!))));
                return [keep(pp!.mul(decay!)).sub(step), m1, v1];
              },
            },
        }),
      };
    },
  };
}

/** ~10M parameters (2M in quick runs). */
export const optimizerCases = (options: { quick: boolean }): BenchCase[] => [adamwCase(options.quick ? 2_000_000 : 10_000_000)];
