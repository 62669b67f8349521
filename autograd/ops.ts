/**
 * Differentiable elementwise ops and views: the engine ops of the same names and signatures, plus a
 * backward rule recorded on the output when an input needs a gradient (see tape.ts). Search this directory
 * for an op's name to find its rule. Ops without a meaningful derivative (comparisons, sign, rounding,
 * creation) are re-exported from the engine unchanged and cut the graph.
 *
 * Gradients of broadcast operands are summed back to the operand's shape (`sumTo`).
 */
import { isFloat, type DType } from '../engine/dtype.js';
import * as raw from '../engine/ops/index.js';
import type { TensorLike } from '../engine/ops/elementwise.js';
import type { SliceSpec } from '../engine/ops/views.js';
import type { Shape } from '../engine/shape.js';
import { Tensor } from '../engine/tensor.js';
import { alias, anyNeedsGrad, record, save } from './tape.js';
import { sumTo } from './reduce-to.js';

export type { TensorLike };

const shapeOf = (x: TensorLike): Shape => (typeof x === 'number' ? [] : x.shape);

/** Gradient for a binary operand: reduced to its shape, or null for plain numbers / unneeded inputs. */
function toOperand(need: boolean, x: TensorLike, make: () => Tensor): Tensor | null {
  if (!need || typeof x === 'number') return null;
  return sumTo(make(), shapeOf(x));
}

/** Multiplies, disposing the (temporary) left operand. */
function mulFree(tmp: Tensor, b: TensorLike): Tensor {
  const out = raw.mul(tmp, b);
  tmp.dispose();
  return out;
}

// ---- binary ------------------------------------------------------------------------------------

export function add(a: TensorLike, b: TensorLike): Tensor {
  const out = raw.add(a, b);
  if (!anyNeedsGrad(a, b)) return out;
  return record('add', out, [a, b], [], (g, [na, nb]) => [
    toOperand(na!, a, () => alias(g)),
    toOperand(nb!, b, () => alias(g)),
  ]);
}

export function sub(a: TensorLike, b: TensorLike): Tensor {
  const out = raw.sub(a, b);
  if (!anyNeedsGrad(a, b)) return out;
  return record('sub', out, [a, b], [], (g, [na, nb]) => [
    toOperand(na!, a, () => alias(g)),
    toOperand(nb!, b, () => raw.neg(g)),
  ]);
}

export function mul(a: TensorLike, b: TensorLike): Tensor {
  const out = raw.mul(a, b);
  if (!anyNeedsGrad(a, b)) return out;
  const sa = typeof a === 'number' ? a : save(a);
  const sb = typeof b === 'number' ? b : save(b);
  return record('mul', out, [a, b], [sa, sb].filter((s): s is Tensor => s instanceof Tensor), (g, [na, nb]) => [
    toOperand(na!, a, () => raw.mul(g, sb)),
    toOperand(nb!, b, () => raw.mul(g, sa)),
  ]);
}

export function div(a: TensorLike, b: TensorLike): Tensor {
  const out = raw.div(a, b);
  if (!anyNeedsGrad(a, b)) return out;
  const sb = typeof b === 'number' ? b : save(b);
  const so = save(out);
  return record('div', out, [a, b], [so, ...(sb instanceof Tensor ? [sb] : [])], (g, [na, nb]) => [
    // d(a/b)/da = 1/b;  d(a/b)/db = -(a/b)/b
    toOperand(na!, a, () => raw.div(g, sb)),
    toOperand(nb!, b, () => raw.neg(mulFree(raw.div(g, sb), so))),
  ]);
}

export function pow(a: TensorLike, b: TensorLike): Tensor {
  const out = raw.pow(a, b);
  if (!anyNeedsGrad(a, b)) return out;
  const sa = typeof a === 'number' ? a : save(a);
  const sb = typeof b === 'number' ? b : save(b);
  const so = save(out);
  const saved = [sa, sb, so].filter((s): s is Tensor => s instanceof Tensor);
  return record('pow', out, [a, b], saved, (g, [na, nb]) => [
    // d(a^b)/da = b * a^(b-1);  d(a^b)/db = a^b * log(a) (only where a > 0 it is real; NaN elsewhere, as torch)
    toOperand(na!, a, () => {
      const bm1 = typeof sb === 'number' ? sb - 1 : raw.sub(sb, 1);
      const powm1 = raw.pow(sa, bm1);
      if (bm1 instanceof Tensor) bm1.dispose();
      return mulFree(mulFree(powm1, sb), g);
    }),
    toOperand(nb!, b, () => {
      const prod = raw.mul(g, so);
      if (typeof sa === 'number') return mulFree(prod, Math.log(sa));
      const la = raw.log(sa);
      const r = mulFree(prod, la);
      la.dispose();
      return r;
    }),
  ]);
}

/** Where a and b tie, the gradient is split evenly between them (as torch.maximum/minimum do). */
function extremum(name: 'maximum' | 'minimum', a: TensorLike, b: TensorLike): Tensor {
  const out = raw[name](a, b);
  if (!anyNeedsGrad(a, b)) return out;
  const sa = typeof a === 'number' ? a : save(a);
  const sb = typeof b === 'number' ? b : save(b);
  const saved = [sa, sb].filter((s): s is Tensor => s instanceof Tensor);
  return record(name, out, [a, b], saved, (g, [na, nb]) => {
    const wins = name === 'maximum' ? raw.gt(sa, sb) : raw.lt(sa, sb);
    const ties = raw.eq(sa, sb);
    const half = raw.mul(g, 0.5);
    try {
      const share = (winner: Tensor) => {
        const tieShare = raw.where(ties, half, 0);
        const r = raw.where(winner, g, tieShare);
        tieShare.dispose();
        return r;
      };
      return [
        toOperand(na!, a, () => share(wins)),
        toOperand(nb!, b, () => {
          const loses = name === 'maximum' ? raw.lt(sa, sb) : raw.gt(sa, sb);
          const r = share(loses);
          loses.dispose();
          return r;
        }),
      ];
    } finally {
      wins.dispose();
      ties.dispose();
      half.dispose();
    }
  });
}

export const maximum = (a: TensorLike, b: TensorLike): Tensor => extremum('maximum', a, b);
export const minimum = (a: TensorLike, b: TensorLike): Tensor => extremum('minimum', a, b);

// ---- unary -------------------------------------------------------------------------------------

type UnaryRule = (g: Tensor, x: Tensor, out: Tensor) => Tensor;

/** Wraps a raw unary op; `uses` says which of input/output the rule reads, so only those are saved. */
function unaryOp(name: string, forward: (x: Tensor) => Tensor, uses: 'x' | 'out' | 'none', rule: UnaryRule): (x: Tensor) => Tensor {
  return (x: Tensor): Tensor => {
    const out = forward(x);
    if (!anyNeedsGrad(x)) return out;
    const sx = uses === 'x' ? save(x) : null;
    const so = uses === 'out' ? save(out) : null;
    return record(name, out, [x], [sx, so].filter((s): s is Tensor => s !== null), (g) => [rule(g, sx!, so!)]);
  };
}

export const neg = unaryOp('neg', raw.neg, 'none', (g) => raw.neg(g));
export const abs = unaryOp('abs', raw.abs, 'x', (g, x) => mulFree(raw.sign(x), g));
export const exp = unaryOp('exp', raw.exp, 'out', (g, _x, out) => raw.mul(g, out));
export const log = unaryOp('log', raw.log, 'x', (g, x) => raw.div(g, x));
// d sqrt(x) = 1 / (2 sqrt(x))
export const sqrt = unaryOp('sqrt', raw.sqrt, 'out', (g, _x, out) => mulFree(raw.div(g, out), 0.5));
// d x^-1/2 = -1/2 x^-3/2 = -1/2 out^3
export const rsqrt = unaryOp('rsqrt', raw.rsqrt, 'out', (g, _x, out) => mulFree(mulFree(raw.pow(out, 3), g), -0.5));
export const sin = unaryOp('sin', raw.sin, 'x', (g, x) => mulFree(raw.cos(x), g));
export const cos = unaryOp('cos', raw.cos, 'x', (g, x) => raw.neg(mulFree(raw.sin(x), g)));
export const tanh = unaryOp('tanh', raw.tanh, 'out', (g, _x, out) => raw.binary('tanh_grad', out, g));
export const sigmoid = unaryOp('sigmoid', raw.sigmoid, 'out', (g, _x, out) => raw.binary('sigmoid_grad', out, g));
export const relu = unaryOp('relu', raw.relu, 'x', (g, x) => raw.binary('relu_grad', x, g));
export const gelu = unaryOp('gelu', raw.gelu, 'x', (g, x) => raw.binary('gelu_grad', x, g));
// d erf(x) = 2/sqrt(pi) exp(-x^2)
export const erf = unaryOp('erf', raw.erf, 'x', (g, x) => {
  const negX2 = mulFree(raw.square(x), -1);
  const e = raw.exp(negX2);
  negX2.dispose();
  return mulFree(mulFree(e, 2 / Math.sqrt(Math.PI)), g);
});
export const square = unaryOp('square', raw.square, 'x', (g, x) => mulFree(raw.mul(x, 2), g));
// d 1/x = -1/x^2 = -out^2
export const reciprocal = unaryOp('reciprocal', raw.reciprocal, 'out', (g, _x, out) => raw.neg(mulFree(raw.square(out), g)));

/** Gradient passes where lo <= x <= hi (bounds included, as torch.clamp). */
export function clamp(x: Tensor, min?: number, max?: number): Tensor {
  const out = raw.clamp(x, min, max);
  if (!anyNeedsGrad(x)) return out;
  const sx = save(x);
  return record('clamp', out, [x], [sx], (g) => {
    let r = alias(g);
    for (const outside of [min === undefined ? null : raw.lt(sx, min), max === undefined ? null : raw.gt(sx, max)]) {
      if (!outside) continue;
      const next = raw.where(outside, 0, r);
      outside.dispose();
      r.dispose();
      r = next;
    }
    return [r];
  });
}

/** a * b + c in one pass (see the raw op); gradients as for mul and add. */
export function mulAdd(a: Tensor, b: Tensor, c: Tensor): Tensor {
  const out = raw.mulAdd(a, b, c);
  if (!anyNeedsGrad(a, b, c)) return out;
  const sa = save(a);
  const sb = save(b);
  return record('mulAdd', out, [a, b, c], [sa, sb], (g, [na, nb, nc]) => [
    toOperand(na!, a, () => raw.mul(g, sb)),
    toOperand(nb!, b, () => raw.mul(g, sa)),
    toOperand(nc!, c, () => alias(g)),
  ]);
}

/** The gradient flows to `a` where `cond` holds and to `b` elsewhere; `cond` gets none. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const out = raw.where(cond, a, b);
  if (!anyNeedsGrad(a, b)) return out;
  const sc = save(cond);
  return record('where', out, [cond, a, b], [sc], (g, [, na, nb]) => [
    null,
    toOperand(na!, a, () => raw.where(sc, g, 0)),
    toOperand(nb!, b, () => raw.where(sc, 0, g)),
  ]);
}

/** Float-to-float casts carry the gradient back in the input's dtype; casts to integers cut the graph. */
export function cast(x: Tensor, dtype: DType): Tensor {
  const out = raw.cast(x, dtype);
  if (!anyNeedsGrad(x) || !isFloat(dtype) || !isFloat(x.dtype)) return out;
  const from = x.dtype;
  return record('cast', out, [x], [], (g) => [raw.cast(g, from)]);
}

export function contiguous(x: Tensor): Tensor {
  const out = raw.contiguous(x);
  if (!anyNeedsGrad(x)) return out;
  return record('contiguous', out, [x], [], (g) => [alias(g)]);
}

// ---- views -------------------------------------------------------------------------------------

/** Views whose gradient is the incoming gradient reshaped back to the input's shape. */
function reshapeLike(name: string, forward: () => Tensor, x: Tensor): Tensor {
  const out = forward();
  if (!anyNeedsGrad(x)) return out;
  const shape = x.shape;
  return record(name, out, [x], [], (g) => [raw.reshape(g, shape)]);
}

export const reshape = (x: Tensor, shape: Shape): Tensor => reshapeLike('reshape', () => raw.reshape(x, shape), x);
export const view = (x: Tensor, shape: Shape): Tensor => reshapeLike('view', () => raw.view(x, shape), x);
export const flatten = (x: Tensor, start = 0, end = -1): Tensor => reshapeLike('flatten', () => raw.flatten(x, start, end), x);
export const squeeze = (x: Tensor, dim?: number): Tensor => reshapeLike('squeeze', () => raw.squeeze(x, dim), x);
export const unsqueeze = (x: Tensor, dim: number): Tensor => reshapeLike('unsqueeze', () => raw.unsqueeze(x, dim), x);

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const out = raw.permute(x, dims);
  if (!anyNeedsGrad(x)) return out;
  const d = dims.map((a) => (a < 0 ? a + x.rank : a));
  const inverse = new Array<number>(d.length);
  d.forEach((src, i) => (inverse[src] = i));
  return record('permute', out, [x], [], (g) => [raw.permute(g, inverse)]);
}

export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const out = raw.transpose(x, dim0, dim1);
  if (!anyNeedsGrad(x)) return out;
  return record('transpose', out, [x], [], (g) => [x.rank < 2 ? alias(g) : raw.transpose(g, dim0, dim1)]);
}

/** expand backward: sum over the broadcast dims. */
export function expand(x: Tensor, shape: Shape): Tensor {
  const out = raw.expand(x, shape);
  if (!anyNeedsGrad(x)) return out;
  const xShape = x.shape;
  return record('expand', out, [x], [], (g) => [sumTo(alias(g), xShape)]);
}

/**
 * Gradient of a strided view: zeros of the input's shape with `g` written into the same view of them.
 * `select` re-applies the forward view to the zeros.
 */
function scatterIntoZeros(g: Tensor, shape: Shape, select: (z: Tensor) => Tensor): Tensor {
  const z = raw.zeros(shape, { dtype: g.dtype });
  const v = select(z);
  raw.assign(v, g);
  v.dispose();
  return z;
}

/** slice backward: the gradient scattered into zeros at the sliced positions. */
export function slice(x: Tensor, specs: readonly (SliceSpec | number | null)[]): Tensor {
  const out = raw.slice(x, specs);
  if (!anyNeedsGrad(x)) return out;
  const shape = x.shape;
  return record('slice', out, [x], [], (g) => [scatterIntoZeros(g, shape, (z) => raw.slice(z, specs))]);
}

/** narrow backward: like slice. */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const out = raw.narrow(x, dim, start, length);
  if (!anyNeedsGrad(x)) return out;
  const shape = x.shape;
  return record('narrow', out, [x], [], (g) => [scatterIntoZeros(g, shape, (z) => raw.narrow(z, dim, start, length))]);
}
