/**
 * Attention backward rules: the engine's fused backward kernels, fed with the forward's output and
 * log-sum-exp (saved), so the Tq x Tk probability matrix is never stored. Masks get no gradient.
 */
import { expectOptions } from '../../engine/arguments.js';
import * as raw from '../../engine/ops/index.js';
import { ATTENTION_OPTIONS, type AttentionOptions } from '../../engine/ops/attention.js';
import type { Tensor } from '../../engine/tensor.js';
import { anyNeedsGrad, record, save } from '../tape.js';

/** The options with their masks saved for the backward pass, and the saved masks. */
function savedMasks(options: AttentionOptions): { opts: AttentionOptions; masks: Tensor[] } {
  const mask = options.mask ? save(options.mask) : undefined;
  const keyPaddingMask = options.keyPaddingMask ? save(options.keyPaddingMask) : undefined;
  return { opts: { ...options, mask, keyPaddingMask }, masks: [...(mask ? [mask] : []), ...(keyPaddingMask ? [keyPaddingMask] : [])] };
}

export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  expectOptions('scaledDotProductAttention', options, ATTENTION_OPTIONS); // before the spreads below
  if (!anyNeedsGrad(q, k, v)) return raw.scaledDotProductAttention(q, k, v, { ...options, returnLse: false });
  const { out, lse } = raw.scaledDotProductAttention(q, k, v, { ...options, returnLse: true });
  const [sq, sk, sv, so] = [save(q), save(k), save(v), save(out)];
  const { opts, masks } = savedMasks(options);
  return record('scaledDotProductAttention', out, [q, k, v], [sq, sk, sv, so, lse, ...masks], (g, [nq, nk, nv]) => {
    const { dq, dk, dv } = raw.scaledDotProductAttentionBackward(sq, sk, sv, so, g, lse, opts);
    const keep = (t: Tensor, need: boolean | undefined) => {
      if (need) return t;
      t.dispose();
      return null;
    };
    return [keep(dq, nq), keep(dk, nk), keep(dv, nv)];
  });
}

/**
 * Self-attention on a packed [B, T, 3 * H * d] projection (engine `multiHeadSelfAttention`): one node
 * whose backward writes dQ, dK and dV straight into the packed gradient.
 */
export function multiHeadSelfAttention(qkv: Tensor, heads: number, options: AttentionOptions = {}): Tensor {
  expectOptions('multiHeadSelfAttention', options, ATTENTION_OPTIONS); // before the spreads below
  if (!anyNeedsGrad(qkv)) return raw.multiHeadSelfAttention(qkv, heads, { ...options, returnLse: false });
  const { out, lse } = raw.multiHeadSelfAttention(qkv, heads, { ...options, returnLse: true });
  const [sqkv, so] = [save(qkv), save(out)];
  const { opts, masks } = savedMasks(options);
  return record('multiHeadSelfAttention', out, [qkv], [sqkv, so, lse, ...masks], (g) => [
    raw.multiHeadSelfAttentionBackward(sqkv, so, g, lse, heads, opts),
  ]);
}
