/** softmax / logSoftmax backward, on the engine's fused row kernels, from the saved output. */
import * as raw from '../../engine/ops/index.js';
import type { Tensor } from '../../engine/tensor.js';
import { anyNeedsGrad, record, save } from '../tape.js';

/** softmax backward: dx = y * (dy - sum(dy * y)) along the axis. */
export function softmax(x: Tensor, axis = -1): Tensor {
  const out = raw.softmax(x, axis);
  if (!anyNeedsGrad(x)) return out;
  const so = save(out);
  return record('softmax', out, [x], [so], (g) => [raw.softmaxBackward(so, g, axis)]);
}

/** logSoftmax backward: dx = dy - exp(y) * sum(dy) along the axis. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const out = raw.logSoftmax(x, axis);
  if (!anyNeedsGrad(x)) return out;
  const so = save(out);
  return record('logSoftmax', out, [x], [so], (g) => [raw.logSoftmaxBackward(so, g, axis)]);
}
