/**
 * scaledDotProductAttention backward: the engine's fused backward kernels, fed with the forward's output
 * and log-sum-exp (saved), so the Tq x Tk probability matrix is never stored. Masks get no gradient.
 */
import * as raw from '../../engine/ops/index.js';
import type { AttentionOptions } from '../../engine/ops/attention.js';
import type { Tensor } from '../../engine/tensor.js';
import { anyNeedsGrad, record, save } from '../tape.js';

export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  if (!anyNeedsGrad(q, k, v)) return raw.scaledDotProductAttention(q, k, v, { ...options, returnLse: false });
  const { out, lse } = raw.scaledDotProductAttention(q, k, v, { ...options, returnLse: true });
  const [sq, sk, sv, so] = [save(q), save(k), save(v), save(out)];
  const mask = options.mask ? save(options.mask) : undefined;
  const keyPaddingMask = options.keyPaddingMask ? save(options.keyPaddingMask) : undefined;
  const opts: AttentionOptions = { ...options, mask, keyPaddingMask };
  const saved = [sq, sk, sv, so, lse, ...(mask ? [mask] : []), ...(keyPaddingMask ? [keyPaddingMask] : [])];
  return record('scaledDotProductAttention', out, [q, k, v], saved, (g, [nq, nk, nv]) => {
    const { dq, dk, dv } = raw.scaledDotProductAttentionBackward(sq, sk, sv, so, g, lse, opts);
    const keep = (t: Tensor, need: boolean | undefined) => {
      if (need) return t;
      t.dispose();
      return null;
    };
    return [keep(dq, nq), keep(dk, nk), keep(dv, nv)];
  });
}
