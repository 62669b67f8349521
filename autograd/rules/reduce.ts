/**
 * Backward rules for reductions. Each broadcasts the incoming gradient (which has the reduced shape) back
 * over the reduced axes: as a stride-0 view where the rule is "copy g" (sum), otherwise through an
 * elementwise op that reads the view in place.
 */
import * as raw from '../../engine/ops/index.js';
import type { Axes, ReduceOptions, VarianceOptions } from '../../engine/ops/reduce.js';
import { normAxes, sizeOf } from '../../engine/shape.js';
import type { Tensor } from '../../engine/tensor.js';
import { anyNeedsGrad, record, save } from '../tape.js';

/** Reduced axes of x (a 0-d tensor reduces none), as the engine resolves them. */
function reducedAxes(op: string, x: Tensor, axes: Axes | undefined): number[] {
  return x.rank === 0 ? [] : normAxes(op, axes, x.rank);
}

/** `t` (shape of the reduction's result) viewed with keepdim and broadcast to x's shape, without copying. */
function broadcastBack(t: Tensor, xShape: readonly number[], axes: readonly number[]): Tensor {
  const keepShape = xShape.map((d, i) => (axes.includes(i) ? 1 : d));
  const kept = raw.reshape(t, keepShape);
  const out = raw.expand(kept, xShape);
  kept.dispose();
  return out;
}

/** Applies `f` to the broadcast view of `t`, freeing the view. */
function withBroadcast(t: Tensor, xShape: readonly number[], axes: readonly number[], f: (view: Tensor) => Tensor): Tensor {
  const v = broadcastBack(t, xShape, axes);
  try {
    return f(v);
  } finally {
    v.dispose();
  }
}

/** sum backward: the gradient copied to every summed element. */
export function sum(x: Tensor, axes?: Axes, options: ReduceOptions = {}): Tensor {
  const out = raw.sum(x, axes, options);
  if (!anyNeedsGrad(x)) return out;
  const ax = reducedAxes('sum', x, axes);
  const shape = x.shape;
  return record('sum', out, [x], [], (g) => [broadcastBack(g, shape, ax)]);
}

/** mean backward: g / n on every element. */
export function mean(x: Tensor, axes?: Axes, options: ReduceOptions = {}): Tensor {
  const out = raw.mean(x, axes, options);
  if (!anyNeedsGrad(x)) return out;
  const ax = reducedAxes('mean', x, axes);
  const n = sizeOf(ax.map((a) => x.shape[a]!));
  const shape = x.shape;
  return record('mean', out, [x], [], (g) => [withBroadcast(g, shape, ax, (v) => raw.div(v, n))]);
}

/** max/min backward: g to the elements equal to the extreme, split evenly among ties (as torch.amax). */
function extreme(name: 'max' | 'min', x: Tensor, axes: Axes | undefined, options: ReduceOptions): Tensor {
  const out = raw[name](x, axes, options);
  if (!anyNeedsGrad(x)) return out;
  const ax = reducedAxes(name, x, axes);
  const sx = save(x);
  const so = save(out);
  return record(name, out, [x], [sx, so], (g) => {
    const hit = withBroadcast(so, sx.shape, ax, (v) => raw.eq(sx, v));
    const hitF = raw.cast(hit, sx.dtype);
    const count = raw.sum(hitF, ax, { keepdim: true });
    const gk = raw.reshape(g, count.shape);
    const share = raw.div(gk, count);
    const r = raw.mul(hitF, share);
    for (const t of [hit, hitF, count, gk, share]) t.dispose();
    return [r];
  });
}

export const max = (x: Tensor, axes?: Axes, options: ReduceOptions = {}): Tensor => extreme('max', x, axes, options);
export const min = (x: Tensor, axes?: Axes, options: ReduceOptions = {}): Tensor => extreme('min', x, axes, options);

/** Shared by variance and std: the reduced axes and the forward's divisor max(0, n - correction). */
function varianceAxes(op: 'var' | 'std', x: Tensor, axes: Axes | undefined, options: VarianceOptions): { ax: number[]; divisor: number } {
  const ax = reducedAxes(op, x, axes);
  const n = sizeOf(ax.map((a) => x.shape[a]!));
  return { ax, divisor: Math.max(0, n - (options.correction ?? 1)) };
}

/** Shared by variance and std: (x - mean(x)) * g * coef, with coef broadcast from the reduced shape. */
function centered(x: Tensor, ax: number[], gCoef: Tensor): Tensor {
  const mu = raw.mean(x, ax, { keepdim: true });
  const d = raw.sub(x, mu);
  const r = withBroadcast(gCoef, x.shape, ax, (v) => raw.mul(d, v));
  mu.dispose();
  d.dispose();
  return r;
}

/** variance backward: 2 (x - mean) / (n - correction) * g. */
export function variance(x: Tensor, axes?: Axes, options: VarianceOptions = {}): Tensor {
  const out = raw.variance(x, axes, options);
  if (!anyNeedsGrad(x)) return out;
  const { ax, divisor } = varianceAxes('var', x, axes, options);
  const sx = save(x);
  return record('var', out, [x], [sx], (g) => {
    const coef = raw.mul(g, 2 / divisor);
    const r = centered(sx, ax, coef);
    coef.dispose();
    return [r];
  });
}
export { variance as var };

/** std backward: (x - mean) / ((n - correction) std) * g. */
export function std(x: Tensor, axes?: Axes, options: VarianceOptions = {}): Tensor {
  const out = raw.std(x, axes, options);
  if (!anyNeedsGrad(x)) return out;
  const { ax, divisor } = varianceAxes('std', x, axes, options);
  const sx = save(x);
  const so = save(out);
  return record('std', out, [x], [sx, so], (g) => {
    const scaled = raw.div(g, so);
    const coef = raw.mul(scaled, 1 / divisor);
    const r = centered(sx, ax, coef);
    scaled.dispose();
    coef.dispose();
    return [r];
  });
}

/** logsumexp backward: softmax(x) * g = exp(x - lse) * g. */
export function logsumexp(x: Tensor, axes?: Axes, options: ReduceOptions = {}): Tensor {
  const out = raw.logsumexp(x, axes, options);
  if (!anyNeedsGrad(x)) return out;
  const ax = reducedAxes('logsumexp', x, axes);
  const sx = save(x);
  const so = save(out);
  return record('logsumexp', out, [x], [sx, so], (g) => {
    const shifted = withBroadcast(so, sx.shape, ax, (v) => raw.sub(sx, v));
    const p = raw.exp(shifted);
    const r = withBroadcast(g, sx.shape, ax, (v) => raw.mul(p, v));
    shifted.dispose();
    p.dispose();
    return [r];
  });
}

/** cumsum backward: the reversed cumulative sum of g, computed as total - cumsum(g) + g. */
export function cumsum(x: Tensor, axis: number): Tensor {
  const out = raw.cumsum(x, axis);
  if (!anyNeedsGrad(x)) return out;
  return record('cumsum', out, [x], [], (g) => {
    if (g.rank === 0) return [g.view(g.shape, g.strides)];
    const total = raw.sum(g, axis, { keepdim: true });
    const running = raw.cumsum(g, axis);
    const rest = raw.sub(total, running);
    const r = raw.add(rest, g);
    for (const t of [total, running, rest]) t.dispose();
    return [r];
  });
}
