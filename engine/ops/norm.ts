/**
 * LayerNorm forward (optionally fused with the residual add of a pre-norm block) and backward, on
 * kernels/wgsl/layernorm.wgsl. Statistics are f32 for f32 and f16 tensors alike.
 */
import { layerNormColumnGradLaunches, layerNormDxLaunch, layerNormLaunch, type RowOperand } from '../../kernels/layernorm.js';
import { expectNumber, expectOptions, optionKeys } from '../arguments.js';
import { isFloat } from '../dtype.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { contiguousStrides, sameShape } from '../shape.js';
import { empty, expectTensor, type Tensor } from '../tensor.js';
import { contiguous } from './elementwise.js';

export interface LayerNormOptions {
  /** When given, the kernel normalizes `x + residual` and also returns that sum (the new residual stream). */
  residual?: Tensor | null;
  /** Also return the per-row mean and 1/sqrt(var + eps) (f32, shape = the leading dims), for backward. */
  returnStats?: boolean;
}

export const LAYER_NORM_OPTIONS = optionKeys<LayerNormOptions>({ residual: true, returnStats: true });

export interface LayerNormResult {
  /** The normalized (and affine-transformed) output, same shape and dtype as x. */
  y: Tensor;
  /** x + residual, when `residual` was given (rounded to x's dtype; y is layerNorm of exactly this). */
  sum: Tensor | null;
  /** Per-row mean, when `returnStats` was set. */
  mean: Tensor | null;
  /** Per-row 1/sqrt(biased variance + eps), when `returnStats` was set. */
  rstd: Tensor | null;
}

/** Counts travel as f32 in the kernel's Welford merge, exact below 2^24. */
const MAX_ROW = 2 ** 24;

function requireFloat(op: string, name: string, t: Tensor): void {
  if (!isFloat(t.dtype)) throw new DTypeError(`${op}: ${name} must be f32 or f16, got ${t.dtype} ${fmtShape(t.shape)}`);
}

/** Whether the last `nd` dims are laid out row-major with unit inner stride (size-1 dims ignored). */
function rowsAreContiguous(t: Tensor, nd: number): boolean {
  let expected = 1;
  for (let d = t.rank - 1; d >= t.rank - nd; d--) {
    if (t.shape[d] !== 1 && t.strides[d] !== expected) return false;
    expected *= t.shape[d]!;
  }
  return true;
}

/**
 * Calls `fn` with views whose normalized dims (the last `nd`) are contiguous: tensors that already are
 * pass through, others are copied for the call and the copies disposed afterwards.
 */
function withContiguousRows<R>(tensors: readonly (Tensor | null)[], nd: readonly number[], fn: (views: (Tensor | null)[]) => R): R {
  const temps: Tensor[] = [];
  try {
    const views = tensors.map((t, i) => {
      if (!t || rowsAreContiguous(t, nd[i]!)) return t;
      const c = contiguous(t);
      temps.push(c);
      return c;
    });
    return fn(views);
  } finally {
    for (const t of temps) t.dispose();
  }
}

function rowOperand(t: Tensor, nd: number): RowOperand {
  return { offset: t.offset, strides: t.strides.slice(0, t.rank - nd) };
}

function checkAffine(op: string, name: string, t: Tensor | null | undefined, x: Tensor, normalized: readonly number[]): void {
  if (t === null || t === undefined) return;
  expectTensor(op, name, t);
  t.storage(op);
  if (t.dtype !== x.dtype) throw new DTypeError(`${op}: ${name} is ${t.dtype} but x is ${x.dtype}`);
  if (!sameShape(t.shape, normalized))
    throw new ShapeError(`${op}: ${name} has shape ${fmtShape(t.shape)}, expected normalizedShape ${fmtShape(normalized)}`);
}

function checkRowLength(op: string, normalized: readonly number[], d: number): void {
  if (d === 0) throw new ShapeError(`${op}: normalizedShape ${fmtShape(normalized)} has no elements`);
  if (d >= MAX_ROW) throw new ShapeError(`${op}: normalized rows of ${d} elements exceed the supported ${MAX_ROW - 1}`);
}

/**
 * Layer normalization over the trailing dims `normalizedShape` of x:
 *   y = (x - mean) / sqrt(var + eps) * weight + bias      (biased variance, as torch.nn.LayerNorm)
 * weight and bias (shape normalizedShape, x's dtype) are optional. Leading dims of x may be strided; the
 * normalized dims are copied to contiguous form first when they are not.
 *
 * Without `options` it returns y. With `options` it returns a LayerNormResult: with `residual` it
 * normalizes s = x + residual and also returns s as `sum` (one kernel), and with `returnStats` the
 * per-row mean and rstd that layerNormBackward takes.
 */
export function layerNorm(x: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps?: number): Tensor;
export function layerNorm(
  x: Tensor,
  normalizedShape: readonly number[],
  weight: Tensor | null | undefined,
  bias: Tensor | null | undefined,
  eps: number | undefined,
  options: LayerNormOptions,
): LayerNormResult;
export function layerNorm(
  x: Tensor,
  normalizedShape: readonly number[],
  weight?: Tensor | null,
  bias?: Tensor | null,
  eps = 1e-5,
  options?: LayerNormOptions,
): Tensor | LayerNormResult {
  const result = layerNormImpl(x, normalizedShape, weight ?? null, bias ?? null, eps, options ?? {});
  return options ? result : result.y;
}

function layerNormImpl(
  x: Tensor,
  normalizedShape: readonly number[],
  weight: Tensor | null,
  bias: Tensor | null,
  eps: number,
  options: LayerNormOptions,
): LayerNormResult {
  const op = 'layerNorm';
  expectTensor(op, 'x', x);
  expectNumber(op, 'eps', eps);
  expectOptions(op, options, LAYER_NORM_OPTIONS);
  x.storage(op);
  requireFloat(op, 'x', x);
  if (!Array.isArray(normalizedShape) || normalizedShape.length === 0 || normalizedShape.some((v) => !Number.isInteger(v) || v < 0))
    throw new ArgumentError(`${op}: normalizedShape must be a non-empty array of dims, got ${String(normalizedShape)}`);
  const nd = normalizedShape.length;
  if (nd > x.rank || !sameShape(x.shape.slice(x.rank - nd), normalizedShape))
    throw new ShapeError(`${op}: normalizedShape ${fmtShape(normalizedShape)} does not match the trailing dims of x ${fmtShape(x.shape)}`);
  const d = normalizedShape.reduce((n, v) => n * v, 1);
  checkRowLength(op, normalizedShape, d);
  checkAffine(op, 'weight', weight, x, normalizedShape);
  checkAffine(op, 'bias', bias, x, normalizedShape);
  if (!Number.isFinite(eps) || eps < 0) throw new ArgumentError(`${op}: eps must be finite and >= 0, got ${eps}`);
  const residual = options.residual ?? null;
  if (residual) {
    expectTensor(op, 'options.residual', residual);
    residual.storage(op);
    if (residual.dtype !== x.dtype) throw new DTypeError(`${op}: residual is ${residual.dtype} but x is ${x.dtype}`);
    if (!sameShape(residual.shape, x.shape))
      throw new ShapeError(`${op}: residual has shape ${fmtShape(residual.shape)}, expected x's ${fmtShape(x.shape)}`);
  }

  const leading = x.shape.slice(0, x.rank - nd);
  const rows = leading.reduce((n, v) => n * v, 1);
  const dtype = x.dtype as 'f32' | 'f16';
  return withContiguousRows([x, residual, weight, bias], [nd, nd, nd, nd], ([xv, rv, wv, bv]) => {
    const xs = xv!.storage(op);
    const y = empty(x.shape, dtype, op);
    const sum = rv ? empty(x.shape, dtype, op) : null;
    const stats = empty([2 * rows], 'f32', op);
    try {
      if (rows > 0) {
        const launch = layerNormLaunch({
          dtype,
          leading,
          d,
          eps,
          adapterClass: xs.rt.info.adapterClass,
          x: rowOperand(xv!, nd),
          ...(rv ? { residual: rowOperand(rv, nd) } : {}),
          ...(wv ? { weightOffset: wv.offset } : {}),
          ...(bv ? { biasOffset: bv.offset } : {}),
        });
        const affine = [(wv ?? xv!).storage(op).buffer, (bv ?? xv!).storage(op).buffer];
        const outs = [y.storage(op).buffer, stats.storage(op).buffer];
        const extra = rv && sum ? [rv.storage(op).buffer, sum.storage(op).buffer] : [];
        xs.rt.run(launch, [xs.buffer, ...affine, ...outs, ...extra]);
      }
      const wantStats = options.returnStats === true;
      const strides = contiguousStrides(leading);
      return {
        y,
        sum,
        mean: wantStats ? stats.view(leading, strides, 0) : null,
        rstd: wantStats ? stats.view(leading, strides, rows) : null,
      };
    } catch (err) {
      y.dispose();
      sum?.dispose();
      throw err;
    } finally {
      stats.dispose();
    }
  });
}

export interface LayerNormBackwardOptions {
  /** Compute dweight (default: when weight is given). */
  weightGrad?: boolean;
  /** Compute dbias (default: when weight is given). */
  biasGrad?: boolean;
}

const LAYER_NORM_BACKWARD_OPTIONS = optionKeys<LayerNormBackwardOptions>({ weightGrad: true, biasGrad: true });

export interface LayerNormGrads {
  dx: Tensor;
  dweight: Tensor | null;
  dbias: Tensor | null;
}

/**
 * Gradients of layerNorm given the saved `mean` and `rstd` (shape: x's leading dims, which fixes the
 * normalized dims as the rest). `weight` is null for a layer without one. dx comes from one kernel per
 * row; dweight = sum over rows of dy * xhat and dbias = sum of dy from a deterministic two-stage column
 * reduction (fixed row chunks, partials added in chunk order).
 */
export function layerNormBackward(
  dy: Tensor,
  x: Tensor,
  mean: Tensor,
  rstd: Tensor,
  weight: Tensor | null = null,
  options: LayerNormBackwardOptions = {},
): LayerNormGrads {
  const op = 'layerNormBackward';
  for (const [name, t] of [['dy', dy], ['x', x], ['mean', mean], ['rstd', rstd]] as const) {
    expectTensor(op, name, t);
    t.storage(op);
  }
  expectOptions(op, options, LAYER_NORM_BACKWARD_OPTIONS);
  requireFloat(op, 'x', x);
  if (dy.dtype !== x.dtype) throw new DTypeError(`${op}: dy is ${dy.dtype} but x is ${x.dtype}`);
  if (!sameShape(dy.shape, x.shape)) throw new ShapeError(`${op}: dy has shape ${fmtShape(dy.shape)}, x ${fmtShape(x.shape)}`);
  if (mean.dtype !== 'f32' || rstd.dtype !== 'f32') throw new DTypeError(`${op}: mean and rstd must be f32, got ${mean.dtype} and ${rstd.dtype}`);
  const nd = x.rank - mean.rank;
  const leading = x.shape.slice(0, mean.rank);
  if (nd < 1 || !sameShape(mean.shape, leading) || !sameShape(rstd.shape, leading))
    throw new ShapeError(
      `${op}: mean ${fmtShape(mean.shape)} and rstd ${fmtShape(rstd.shape)} must both have the leading dims of x ${fmtShape(x.shape)}`,
    );
  const normalized = x.shape.slice(mean.rank);
  const d = normalized.reduce((n, v) => n * v, 1);
  checkRowLength(op, normalized, d);
  checkAffine(op, 'weight', weight, x, normalized);
  const wantWeight = options.weightGrad ?? weight !== null;
  const wantBias = options.biasGrad ?? weight !== null;

  const rows = leading.reduce((n, v) => n * v, 1);
  const dtype = x.dtype as 'f32' | 'f16';
  // The statistics are indexed by row number, so they must be contiguous as a whole.
  return withContiguousRows([dy, x, weight, mean, rstd], [nd, nd, nd, mean.rank, rstd.rank], ([dyv, xv, wv, mv, rv]) => {
    const rt = xv!.storage(op).rt;
    const spec = {
      dtype,
      leading,
      d,
      adapterClass: rt.info.adapterClass,
      dy: rowOperand(dyv!, nd),
      x: rowOperand(xv!, nd),
      meanOffset: mv!.offset,
      rstdOffset: rv!.offset,
    };
    const common = [dyv!, xv!, mv!, rv!].map((t) => t.storage(op).buffer);
    const created: Tensor[] = [];
    try {
      const dx = empty(x.shape, dtype, op);
      created.push(dx);
      if (rows > 0) {
        const launch = layerNormDxLaunch({ ...spec, ...(wv ? { weightOffset: wv.offset } : {}) });
        rt.run(launch, [...common, (wv ?? xv!).storage(op).buffer, dx.storage(op).buffer]);
      }
      let dweight: Tensor | null = null;
      let dbias: Tensor | null = null;
      if (wantWeight || wantBias) {
        const grads = layerNormColumnGradLaunches(spec);
        const partials = empty([grads.partialElements], 'f32', op);
        try {
          dweight = empty(normalized, dtype, op);
          created.push(dweight);
          dbias = empty(normalized, dtype, op);
          created.push(dbias);
          rt.run(grads.partials, [...common, partials.storage(op).buffer]);
          rt.run(grads.reduce, [partials.storage(op).buffer, dweight.storage(op).buffer, dbias.storage(op).buffer]);
        } finally {
          partials.dispose();
        }
        if (!wantWeight) dweight.dispose();
        if (!wantBias) dbias.dispose();
      }
      return { dx, dweight: wantWeight ? dweight : null, dbias: wantBias ? dbias : null };
    } catch (err) {
      for (const t of created) t.dispose();
      throw err;
    }
  });
}
