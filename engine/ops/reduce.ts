/**
 * Reductions over any set of axes (sum, mean, prod, max, min, argmax, argmin, var, std, logsumexp) and
 * cumsum, reading strided inputs in place (kernels/wgsl/reduce.wgsl).
 *
 * Conventions (torch's): `axes` undefined reduces everything; float inputs accumulate in f32 (f16 too) and
 * return their own dtype; i32/u32 sums and products stay integers (wrapping on overflow); argmax/argmin
 * return i32, the first index of the extreme with NaN counting as the extreme, flattened over the reduced
 * axes when there are several. Empty extents: sum 0, prod 1, mean/var/std NaN, logsumexp -inf; max, min,
 * argmax and argmin throw a ShapeError.
 */
import { cumsumLaunch, reducePlan, reduceTypes, PARTIAL_BYTES, type ReduceKind } from '../../kernels/reduce.js';
import { describe, expectOptions, optionKeys } from '../arguments.js';
import { isFloat } from '../dtype.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { normAxes, normAxis, sizeOf } from '../shape.js';
import { empty, expectTensor, type Tensor } from '../tensor.js';
import { full } from './creation.js';
import { permute } from './views.js';

/** One axis or several; negative axes count from the end. */
export type Axes = number | readonly number[];

export interface ReduceOptions {
  /** Keep reduced axes as size-1 dims (default false). */
  keepdim?: boolean;
}

export interface VarianceOptions extends ReduceOptions {
  /** Divisor is n - correction (default 1, the unbiased estimate; 0 gives the population variance). */
  correction?: number;
}

/** What a reduction over zero elements returns; null means it is undefined and the op throws. */
const EMPTY_RESULT: Record<ReduceKind, number | null> = {
  sum: 0,
  prod: 1,
  mean: NaN,
  var: NaN,
  std: NaN,
  logsumexp: -Infinity,
  max: null,
  min: null,
  argmax: null,
  argmin: null,
};

const FLOAT_ONLY: ReadonlySet<ReduceKind> = new Set(['mean', 'var', 'std', 'logsumexp']);

const REDUCE_OPTIONS = optionKeys<ReduceOptions>({ keepdim: true });
const VARIANCE_OPTIONS = optionKeys<VarianceOptions>({ keepdim: true, correction: true });

/** options.keepdim, after checking the options (a misspelt key such as keepDims is an error, not ignored). */
function keepdimOf(op: string, options: ReduceOptions, known = REDUCE_OPTIONS): boolean {
  expectOptions(op, options, known);
  const keepdim = options?.keepdim ?? false;
  if (typeof keepdim !== 'boolean') throw new ArgumentError(`${op}: options.keepdim must be a boolean, got ${describe(keepdim)}`);
  return keepdim;
}

function reduce(kind: ReduceKind, op: string, x: Tensor, axes: Axes | undefined, keepdim: boolean, correction = 0): Tensor {
  expectTensor(op, 'x', x);
  const { rt } = x.storage(op);
  if (FLOAT_ONLY.has(kind) && !isFloat(x.dtype))
    throw new DTypeError(`${op}: expects a float tensor (f32 or f16), got ${x.dtype} ${fmtShape(x.shape)}; cast it first`);
  // A 0-d tensor accepts axis 0 / -1 like torch and reduces over nothing.
  const reduced = x.rank === 0 ? (normAxes(op, axes, 1), []) : normAxes(op, axes, x.rank);
  const isReduced = (d: number) => reduced.includes(d);
  const kept = x.shape.map((_, d) => d).filter((d) => !isReduced(d));
  const resultShape = keepdim ? x.shape.map((s, d) => (isReduced(d) ? 1 : s)) : kept.map((d) => x.shape[d]!);
  const redShape = reduced.map((d) => x.shape[d]!);
  const outDtype = reduceTypes(kind, x.dtype).out;

  if (sizeOf(redShape) === 0) {
    const value = EMPTY_RESULT[kind];
    if (value === null)
      throw new ShapeError(`${op}: cannot reduce an empty extent (shape ${fmtShape(x.shape)}, axes [${reduced}]); the result is undefined`);
    return full(resultShape, value, { dtype: outDtype });
  }
  const out = empty(resultShape, outDtype, op);
  if (out.size === 0) return out;

  const plan = reducePlan(
    kind,
    {
      dtype: x.dtype,
      offset: x.offset,
      outShape: kept.map((d) => x.shape[d]!),
      outStrides: kept.map((d) => x.strides[d]!),
      redShape,
      redStrides: reduced.map((d) => x.strides[d]!),
    },
    { adapterClass: rt.info.adapterClass, subgroups: rt.features.has('subgroups'), correction },
  );
  const input = x.storage(op).buffer;
  const output = out.storage(op).buffer;
  const [first, final] = plan.launches;
  if (!final) {
    rt.run(first!, [input, output]);
    return out;
  }
  const partials = empty([(plan.partials * PARTIAL_BYTES) / 4], 'u32', op);
  try {
    const buffer = partials.storage(op).buffer;
    rt.run(first!, [input, buffer]);
    rt.run(final, [buffer, output]);
  } finally {
    partials.dispose();
  }
  return out;
}

export function sum(x: Tensor, axes?: Axes, options: ReduceOptions = {}): Tensor {
  return reduce('sum', 'sum', x, axes, keepdimOf('sum', options));
}

export function mean(x: Tensor, axes?: Axes, options: ReduceOptions = {}): Tensor {
  return reduce('mean', 'mean', x, axes, keepdimOf('mean', options));
}

export function prod(x: Tensor, axes?: Axes, options: ReduceOptions = {}): Tensor {
  return reduce('prod', 'prod', x, axes, keepdimOf('prod', options));
}

/** Largest element (NaN if any element is NaN). */
export function max(x: Tensor, axes?: Axes, options: ReduceOptions = {}): Tensor {
  return reduce('max', 'max', x, axes, keepdimOf('max', options));
}

/** Smallest element (NaN if any element is NaN). */
export function min(x: Tensor, axes?: Axes, options: ReduceOptions = {}): Tensor {
  return reduce('min', 'min', x, axes, keepdimOf('min', options));
}

/** i32 index of the first maximum (NaN counts as the maximum); flattened within the reduced axes. */
export function argmax(x: Tensor, axes?: Axes, options: ReduceOptions = {}): Tensor {
  return reduce('argmax', 'argmax', x, axes, keepdimOf('argmax', options));
}

/** i32 index of the first minimum (NaN counts as the minimum); flattened within the reduced axes. */
export function argmin(x: Tensor, axes?: Axes, options: ReduceOptions = {}): Tensor {
  return reduce('argmin', 'argmin', x, axes, keepdimOf('argmin', options));
}

function checkCorrection(op: string, correction: number): number {
  if (typeof correction !== 'number' || !Number.isFinite(correction) || correction < 0)
    throw new ArgumentError(`${op}: correction must be a finite number >= 0, got ${correction}`);
  return correction;
}

/** Variance with divisor max(0, n - correction), computed by Welford/Chan merging (no cancellation). */
export function variance(x: Tensor, axes?: Axes, options: VarianceOptions = {}): Tensor {
  return reduce('var', 'var', x, axes, keepdimOf('var', options, VARIANCE_OPTIONS), checkCorrection('var', options?.correction ?? 1));
}

export { variance as var };

export function std(x: Tensor, axes?: Axes, options: VarianceOptions = {}): Tensor {
  return reduce('std', 'std', x, axes, keepdimOf('std', options, VARIANCE_OPTIONS), checkCorrection('std', options?.correction ?? 1));
}

/** log(sum(exp(x))) without overflow (max-subtracted, merged online). */
export function logsumexp(x: Tensor, axes?: Axes, options: ReduceOptions = {}): Tensor {
  return reduce('logsumexp', 'logsumexp', x, axes, keepdimOf('logsumexp', options));
}

/**
 * Inclusive cumulative sum along `axis` (f32 accumulation for f16; integers stay integers). Parallel over
 * the other dims only, so a single very long vector runs on one invocation. The result is a view of a
 * buffer laid out with `axis` innermost.
 */
export function cumsum(x: Tensor, axis: number): Tensor {
  expectTensor('cumsum', 'x', x);
  const { rt } = x.storage('cumsum');
  if (x.rank === 0) {
    normAxis('cumsum', axis, 1);
    return reduce('sum', 'cumsum', x, undefined, false);
  }
  const a = normAxis('cumsum', axis, x.rank);
  const order = [...x.shape.keys()].filter((d) => d !== a).concat(a);
  const moved = order.map((d) => x.shape[d]!);
  const out = empty(moved, x.dtype, 'cumsum');
  if (out.size > 0) {
    const launch = cumsumLaunch(
      {
        dtype: x.dtype,
        offset: x.offset,
        outShape: moved.slice(0, -1),
        outStrides: order.slice(0, -1).map((d) => x.strides[d]!),
        redShape: [x.shape[a]!],
        redStrides: [x.strides[a]!],
      },
      rt.info.adapterClass,
    );
    rt.run(launch, [x.storage('cumsum').buffer, out.storage('cumsum').buffer]);
  }
  // Undo the move: result dim d lives at position order.indexOf(d) of the buffer's layout.
  const back = x.shape.map((_, d) => order.indexOf(d));
  try {
    return permute(out, back);
  } finally {
    out.dispose();
  }
}
