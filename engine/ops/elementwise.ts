/**
 * Elementwise ops (unary, binary with NumPy broadcasting, ternary `where`, `clamp`) over strided
 * tensors, all on kernels/wgsl/elementwise.wgsl. The expressions below are the whole per-op code; the
 * functions they call (gelu_f32, sigmoid_f32, ...) live in kernels/wgsl/math.wgsl.
 */
import { mapBindings, mapLaunch, type MapSpec } from '../../kernels/elementwise.js';
import { expectOptionalNumber } from '../arguments.js';
import { byteSize, checkDType, isFloat, type DType } from '../dtype.js';
import { ArgumentError, DTypeError, fmtShape } from '../errors.js';
import { broadcastShapes, broadcastStrides } from '../shape.js';
import { empty, expectTensor, expectTensorOrNumber, Tensor } from '../tensor.js';
import { checkIntegers, scalarLike } from './creation.js';

type UnaryOp =
  | 'neg' | 'abs' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'sin' | 'cos' | 'tanh' | 'sigmoid' | 'relu' | 'gelu'
  | 'sign' | 'square' | 'reciprocal' | 'log1p' | 'expm1' | 'floor' | 'ceil' | 'round' | 'erf';

/** WGSL per unary op; `x` is f32 (float tensors only). */
const UNARY: Record<UnaryOp, { expr: string; math?: boolean }> = {
  neg: { expr: '-x' },
  abs: { expr: 'abs(x)' },
  exp: { expr: 'exp(x)' },
  log: { expr: 'log(x)' },
  sqrt: { expr: 'sqrt(x)' },
  rsqrt: { expr: 'inverseSqrt(x)' },
  sin: { expr: 'sin(x)' },
  cos: { expr: 'cos(x)' },
  tanh: { expr: 'tanh_f32(x)', math: true },
  sigmoid: { expr: 'sigmoid_f32(x)', math: true },
  relu: { expr: 'select(select(0.0, x, x > 0.0), x, isnan_f32(x))', math: true }, // keeps NaN as NaN
  gelu: { expr: 'gelu_f32(x)', math: true },
  erf: { expr: 'erf_f32(x)', math: true },
  sign: { expr: 'sign(x)' },
  square: { expr: 'x * x' },
  reciprocal: { expr: '1.0 / x' },
  log1p: { expr: 'log1p_f32(x)', math: true },
  expm1: { expr: 'expm1_f32(x)', math: true },
  floor: { expr: 'floor(x)' },
  ceil: { expr: 'ceil(x)' },
  round: { expr: 'round(x)' },
};

type BinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum'
  | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge'
  | 'gelu_grad' | 'tanh_grad' | 'sigmoid_grad' | 'relu_grad';

/**
 * WGSL per binary op. Arithmetic and comparisons work on every dtype (operands used as stored);
 * `floatOnly` ops see f32 operands. Comparisons return u32 0/1. The *_grad ops are backward helpers:
 * `a` is the saved input (or output, for tanh/sigmoid) and `b` the incoming gradient.
 * `floatExpr` replaces `expr` for float operands where IEEE NaN semantics need explicit handling:
 * compilers may assume no NaNs (llvmpipe folds `NaN == NaN` to true), so NaN is tested on the bits
 * (isnan_f32 in math.wgsl).
 */
const NAN_AB = 'isnan_f32(a) || isnan_f32(b)';
const BINARY: Record<BinaryOp, { expr: string; floatExpr?: string; compare?: boolean; floatOnly?: boolean; math?: boolean }> = {
  add: { expr: 'a + b' },
  sub: { expr: 'a - b' },
  mul: { expr: 'a * b' },
  div: { expr: 'a / b' },
  pow: { expr: 'pow_f32(a, b)', floatOnly: true, math: true },
  // NaN-propagating, as torch.maximum / torch.minimum.
  maximum: { expr: 'max(a, b)', floatExpr: `select(max(a, b), a + b, ${NAN_AB})` },
  minimum: { expr: 'min(a, b)', floatExpr: `select(min(a, b), a + b, ${NAN_AB})` },
  // IEEE: every comparison with NaN is false except ne.
  eq: { expr: 'a == b', floatExpr: `a == b && !(${NAN_AB})`, compare: true },
  ne: { expr: 'a != b', floatExpr: `a != b || ${NAN_AB}`, compare: true },
  lt: { expr: 'a < b', floatExpr: `a < b && !(${NAN_AB})`, compare: true },
  le: { expr: 'a <= b', floatExpr: `a <= b && !(${NAN_AB})`, compare: true },
  gt: { expr: 'a > b', floatExpr: `a > b && !(${NAN_AB})`, compare: true },
  ge: { expr: 'a >= b', floatExpr: `a >= b && !(${NAN_AB})`, compare: true },
  gelu_grad: { expr: 'gelu_grad_f32(a) * b', floatOnly: true, math: true },
  tanh_grad: { expr: '(1.0 - a * a) * b', floatOnly: true },
  sigmoid_grad: { expr: 'a * (1.0 - a) * b', floatOnly: true },
  relu_grad: { expr: 'select(0.0, b, a > 0.0)', floatOnly: true },
};

/** A tensor or a plain number (converted to a 0-d tensor of the other operand's dtype). */
export type TensorLike = Tensor | number;

function run(spec: MapSpec, inputs: readonly Tensor[], shape: readonly number[], op: string): Tensor {
  const out = empty(shape, spec.out, op);
  const operands = inputs.map((t) => ({
    dtype: t.dtype,
    offset: t.offset,
    strides: broadcastStrides(t.shape, t.strides, shape),
  }));
  const st = out.storage(op);
  st.rt.run(mapLaunch(spec, shape, operands, st.rt.info.adapterClass), mapBindings(inputs.map((t) => t.storage(op).buffer), st.buffer));
  return out;
}

function requireFloat(op: string, t: Tensor): void {
  if (!isFloat(t.dtype)) throw new DTypeError(`${op}: expects a float tensor (f32 or f16), got ${t.dtype} ${fmtShape(t.shape)}`);
}

export function unary(op: UnaryOp, x: Tensor): Tensor {
  expectTensor(op, 'x', x);
  x.storage(op);
  const def = UNARY[op];
  if (!isFloat(x.dtype)) {
    // Integers support the ops that are exact on them; everything else needs a float tensor.
    if (op === 'neg' || op === 'abs' || op === 'sign' || op === 'square') {
      // WGSL has no sign() for u32.
      const sign = x.dtype === 'u32' ? 'min(x, 1u)' : 'sign(x)';
      const expr = { neg: '-x', abs: 'abs(x)', sign, square: 'x * x' }[op];
      if (x.dtype === 'u32' && op === 'neg') throw new DTypeError(`neg: u32 tensors cannot be negated`);
      return run({ name: op, expr, out: x.dtype, widen: false }, [x], x.shape, op);
    }
    requireFloat(op, x);
  }
  return run({ name: op, expr: def.expr, out: x.dtype, widen: true, math: def.math ?? false }, [x], x.shape, op);
}

function asTensor(v: TensorLike, like: Tensor, op: string): Tensor {
  return typeof v === 'number' ? scalarLike(v, like.dtype, op) : v;
}

/**
 * A binary op with one plain-number operand runs as a unary map reading the number from the uniforms
 * (`p.alpha`), so `x * 0.5` uploads nothing and does not interrupt batching.
 */
function binaryWithScalar(op: BinaryOp, t: Tensor, value: number, scalarFirst: boolean): Tensor {
  t.storage(op);
  const def = BINARY[op];
  if (def.floatOnly) requireFloat(op, t);
  const float = isFloat(t.dtype);
  if (!float) checkIntegers([value], t.dtype as 'i32' | 'u32', op);
  const scalar = float ? 'p.alpha' : `bitcast<${t.dtype}>(p.alpha)`;
  const [tensorName, scalarName] = scalarFirst ? ['b', 'a'] : ['a', 'b'];
  const base = (float && def.floatExpr) || def.expr;
  const expr = base.replace(/\b[ab]\b/g, (v) => (v === tensorName ? 'x' : v === scalarName ? scalar : v));
  const math = (def.math ?? false) || (float && def.floatExpr !== undefined);
  const out: DType = def.compare ? 'u32' : t.dtype;
  const spec = { name: `${op}/${scalarFirst ? 'scalar-tensor' : 'tensor-scalar'}`, expr, out, widen: float, math, alpha: value, scalarType: float ? ('f32' as const) : t.dtype };
  return run(spec, [t], t.shape, op);
}

export function binary(op: BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  expectTensorOrNumber(op, 'a', a);
  expectTensorOrNumber(op, 'b', b);
  if (typeof a === 'number' && typeof b === 'number') throw new DTypeError(`${op}: at least one operand must be a tensor`);
  if (typeof a === 'number') return binaryWithScalar(op, b as Tensor, a, true);
  if (typeof b === 'number') return binaryWithScalar(op, a, b, false);
  const ta = asTensor(a, b as Tensor, op);
  const tb = asTensor(b, ta, op);
  try {
    ta.storage(op);
    tb.storage(op);
    if (ta.dtype !== tb.dtype)
      throw new DTypeError(`${op}: dtypes ${ta.dtype} ${fmtShape(ta.shape)} and ${tb.dtype} ${fmtShape(tb.shape)} differ; cast one first`);
    const def = BINARY[op];
    if (def.floatOnly) requireFloat(op, ta);
    const shape = broadcastShapes(op, ta.shape, tb.shape);
    const out: DType = def.compare ? 'u32' : ta.dtype;
    // Comparisons on floats compare the stored (widened) values; integer arithmetic stays integral.
    const float = isFloat(ta.dtype);
    const expr = (float && def.floatExpr) || def.expr;
    const math = (def.math ?? false) || (float && def.floatExpr !== undefined);
    return run({ name: op, expr, out, widen: float, math }, [ta, tb], shape, op);
  } finally {
    if (ta !== a) ta.dispose();
    if (tb !== b) tb.dispose();
  }
}

/** `cond ? a : b` elementwise with broadcasting; `cond` may have any dtype (non-zero is true). */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  expectTensor('where', 'cond', cond);
  expectTensorOrNumber('where', 'a', a);
  expectTensorOrNumber('where', 'b', b);
  const like = typeof a !== 'number' ? a : typeof b !== 'number' ? b : null;
  const ta = like ? asTensor(a, like, 'where') : scalarLike(a as number, 'f32', 'where');
  const tb = asTensor(b, ta, 'where');
  try {
    cond.storage('where');
    if (ta.dtype !== tb.dtype) throw new DTypeError(`where: branch dtypes ${ta.dtype} and ${tb.dtype} differ`);
    const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, ta.shape), tb.shape);
    const expr = 'select(c, b, a != A(0))';
    return run({ name: 'where', expr, out: ta.dtype, widen: false }, [cond, ta, tb], shape, 'where');
  } finally {
    if (ta !== a) ta.dispose();
    if (tb !== b) tb.dispose();
  }
}

/**
 * a * b + c elementwise with broadcasting, in one pass (torch.addcmul(c, a, b) with value 1): float tensors
 * of one dtype, computed in f32. Normalisation layers apply their per-channel scale and shift with it.
 */
export function mulAdd(a: Tensor, b: Tensor, c: Tensor): Tensor {
  const op = 'mulAdd';
  for (const [name, t] of [['a', a], ['b', b], ['c', c]] as const) {
    expectTensor(op, name, t);
    t.storage(op);
  }
  if (b.dtype !== a.dtype || c.dtype !== a.dtype)
    throw new DTypeError(`${op}: dtypes ${a.dtype} ${fmtShape(a.shape)}, ${b.dtype} ${fmtShape(b.shape)} and ${c.dtype} ${fmtShape(c.shape)} differ; cast first`);
  requireFloat(op, a);
  const shape = broadcastShapes(op, broadcastShapes(op, a.shape, b.shape), c.shape);
  return run({ name: op, expr: 'a * b + c', out: a.dtype, widen: true }, [a, b, c], shape, op);
}

/** Clamps into [min, max] (either bound may be omitted). NaN stays NaN. */
export function clamp(x: Tensor, min?: number, max?: number): Tensor {
  expectTensor('clamp', 'x', x);
  expectOptionalNumber('clamp', 'min', min);
  expectOptionalNumber('clamp', 'max', max);
  x.storage('clamp');
  const lo = min ?? -Infinity;
  const hi = max ?? Infinity;
  if (Number.isNaN(lo) || Number.isNaN(hi) || lo > hi) throw new ArgumentError(`clamp: need min <= max, got min ${lo}, max ${hi}`);
  if (isFloat(x.dtype)) {
    const expr = 'select(min(max(x, p.alpha), p.beta), x, isnan_f32(x))';
    return run({ name: 'clamp', expr, out: x.dtype, widen: true, math: true, alpha: lo, beta: hi }, [x], x.shape, 'clamp');
  }
  // Integer bounds: the integers inside [lo, hi], limited to the dtype's range, passed as uniform bits.
  const T = x.dtype;
  const [tmin, tmax] = T === 'i32' ? [-2147483648, 2147483647] : [0, 4294967295];
  const l = Math.min(tmax, Math.max(tmin, Math.ceil(lo)));
  const h = Math.max(tmin, Math.min(tmax, Math.floor(hi)));
  const expr = `min(max(x, bitcast<${T}>(p.alpha)), bitcast<${T}>(p.beta))`;
  return run({ name: 'clamp', expr, out: T, widen: false, alpha: l, beta: h, scalarType: T }, [x], x.shape, 'clamp');
}

/** Converts to another dtype (float -> int truncates toward zero, as WGSL and C do). */
export function cast(x: Tensor, dtype: DType): Tensor {
  expectTensor('cast', 'x', x);
  x.storage('cast');
  checkDType('cast', dtype);
  return run({ name: 'cast', expr: 'x', out: dtype, widen: false }, [x], x.shape, 'cast');
}

/**
 * A contiguous copy of any strided view. A source that is already one contiguous range (at any offset)
 * is copied with copyBufferToBuffer where its byte offset is 4-aligned, as that command requires: a
 * memcpy is far faster than any shader on CPU adapters and no slower on GPUs.
 */
export function contiguousCopy(x: Tensor): Tensor {
  const bytesPer = byteSize(x.dtype);
  if (!x.isContiguous || (x.offset * bytesPer) % 4 !== 0 || x.size === 0)
    return run({ name: 'copy', expr: 'x', out: x.dtype, widen: false }, [x], x.shape, 'contiguous');
  const src = x.storage('contiguous');
  const out = empty(x.shape, x.dtype, 'contiguous');
  // Buffers are whole multiples of 4 bytes, so rounding an f16 tail up stays inside both of them.
  src.rt.copy(src.buffer, x.offset * bytesPer, out.storage('contiguous').buffer, 0, Math.ceil((x.size * bytesPer) / 4) * 4);
  return out;
}

export function contiguous(x: Tensor): Tensor {
  expectTensor('contiguous', 'x', x);
  x.storage('contiguous');
  return x.isContiguous ? x.view(x.shape, x.strides) : contiguousCopy(x);
}

export type { UnaryOp, BinaryOp };
