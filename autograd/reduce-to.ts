/**
 * `sumTo(g, shape)`: the gradient of a broadcast operand. Broadcasting repeats an operand along new leading
 * dims and along its size-1 dims, so its gradient is the incoming gradient summed over exactly those dims.
 */
import * as raw from '../engine/ops/index.js';
import { sameShape, type Shape } from '../engine/shape.js';
import type { Tensor } from '../engine/tensor.js';

/** Sums `g` (consumed) down to `shape`, which must broadcast to g's shape. */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  const summed = axes.length ? raw.sum(g, axes, { keepdim: true }) : g;
  const out = raw.reshape(summed, shape);
  if (summed !== g) summed.dispose();
  g.dispose();
  return out;
}
