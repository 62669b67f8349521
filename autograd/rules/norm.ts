/**
 * layerNorm backward, on the engine's fused backward kernel with the forward's saved per-row mean and
 * rstd. With a fused residual (`options.residual`), the op has two outputs: `sum = x + residual` and
 * `y = layerNorm(sum)`. The tape records them as two nodes, an add (gradient copied to x and residual)
 * feeding the normalization, so gradients arriving through either output reach x and the residual.
 */
import { expectOptions } from '../../engine/arguments.js';
import * as raw from '../../engine/ops/index.js';
import { LAYER_NORM_OPTIONS, type LayerNormOptions, type LayerNormResult } from '../../engine/ops/norm.js';
import type { Tensor } from '../../engine/tensor.js';
import { alias, anyNeedsGrad, record, save } from '../tape.js';

export function layerNorm(
  x: Tensor,
  normalizedShape: readonly number[],
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  eps = 1e-5,
  options: LayerNormOptions = {},
): LayerNormResult {
  expectOptions('layerNorm', options, LAYER_NORM_OPTIONS); // before the spread below
  const residual = options.residual ?? null;
  if (!anyNeedsGrad(x, weight, bias, residual)) return raw.layerNorm(x, normalizedShape, weight, bias, eps, options);
  const res = raw.layerNorm(x, normalizedShape, weight, bias, eps, { ...options, returnStats: true });
  const userStats = options.returnStats === true;
  const mean = userStats ? save(res.mean!) : res.mean!;
  const rstd = userStats ? save(res.rstd!) : res.rstd!;
  // The normalized input: x itself, or the fused sum x + residual (recorded as an add).
  let normInput: Tensor = x;
  if (res.sum) {
    normInput = record('layerNorm.residualAdd', res.sum, [x, residual], [], (g, [nx, nr]) => [nx ? alias(g) : null, nr ? alias(g) : null]);
  }
  const sx = save(normInput);
  const sw = weight ? save(weight) : null;
  const saved = [sx, mean, rstd, ...(sw ? [sw] : [])];
  record('layerNorm', res.y, [normInput, weight, bias], saved, (g, [nx, nw, nb]) => {
    const { dx, dweight, dbias } = raw.layerNormBackward(g, sx, mean, rstd, sw, { weightGrad: nw, biasGrad: nb });
    if (!nx) dx.dispose();
    return [nx ? dx : null, dweight, dbias];
  });
  return { y: res.y, sum: res.sum, mean: userStats ? res.mean : null, rstd: userStats ? res.rstd : null };
}
