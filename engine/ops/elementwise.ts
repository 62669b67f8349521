/**
 * Elementwise ops (unary, binary with NumPy broadcasting, ternary `where`, `clamp`) over strided
 * tensors, all on kernels/wgsl/elementwise.wgsl. The expressions below are the whole per-op code; the
 * functions they call (gelu_f32, sigmoid_f32, ...) live in kernels/wgsl/math.wgsl.
 */
import { mapLaunch, type MapSpec } from '../../kernels/elementwise.js';
import { isFloat, type DType } from '../dtype.js';
import { DTypeError, fmtShape } from '../errors.js';
import { broadcastShapes, broadcastStrides } from '../shape.js';
import { empty, Tensor } from '../tensor.js';
import { scalarLike } from './creation.js';

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
  relu: { expr: 'select(0.0, x, x > 0.0) + select(0.0, x, x != x)' }, // keeps NaN as NaN
  gelu: { expr: 'gelu_f32(x)', math: true },
  erf: { expr: 'erf_f32(x)', math: true },
  sign: { expr: 'sign(x)' },
  square: { expr: 'x * x' },
  reciprocal: { expr: '1.0 / x' },
  log1p: { expr: 'select(log(1.0 + x), x - 0.5 * x * x, abs(x) < 1e-4)' },
  expm1: { expr: 'select(exp(x) - 1.0, x + 0.5 * x * x, abs(x) < 1e-5)' },
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
 */
const BINARY: Record<BinaryOp, { expr: string; compare?: boolean; floatOnly?: boolean; math?: boolean }> = {
  add: { expr: 'a + b' },
  sub: { expr: 'a - b' },
  mul: { expr: 'a * b' },
  div: { expr: 'a / b' },
  pow: { expr: 'pow_f32(a, b)', floatOnly: true, math: true },
  maximum: { expr: 'select(max(a, b), a + b, a != a || b != b)' }, // NaN-propagating, as torch.maximum
  minimum: { expr: 'select(min(a, b), a + b, a != a || b != b)' },
  eq: { expr: 'a == b', compare: true },
  ne: { expr: 'a != b', compare: true },
  lt: { expr: 'a < b', compare: true },
  le: { expr: 'a <= b', compare: true },
  gt: { expr: 'a > b', compare: true },
  ge: { expr: 'a >= b', compare: true },
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
  st.rt.run(mapLaunch(spec, shape, operands), [...inputs.map((t) => t.storage(op).buffer), st.buffer]);
  return out;
}

function requireFloat(op: string, t: Tensor): void {
  if (!isFloat(t.dtype)) throw new DTypeError(`${op}: expects a float tensor (f32 or f16), got ${t.dtype} ${fmtShape(t.shape)}`);
}

export function unary(op: UnaryOp, x: Tensor): Tensor {
  x.storage(op);
  const def = UNARY[op];
  if (!isFloat(x.dtype)) {
    // Integers support the ops that are exact on them; everything else needs a float tensor.
    if (op === 'neg' || op === 'abs' || op === 'sign' || op === 'square') {
      const expr = { neg: '-x', abs: 'abs(x)', sign: 'sign(x)', square: 'x * x' }[op];
      if (x.dtype === 'u32' && op === 'neg') throw new DTypeError(`neg: u32 tensors cannot be negated`);
      return run({ name: op, expr, out: x.dtype, widen: false }, [x], x.shape, op);
    }
    requireFloat(op, x);
  }
  return run({ name: op, expr: def.expr, out: x.dtype, widen: true, math: def.math ?? false }, [x], x.shape, op);
}

function asTensor(v: TensorLike, like: Tensor): Tensor {
  return typeof v === 'number' ? scalarLike(v, like.dtype) : v;
}

export function binary(op: BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  if (typeof a === 'number' && typeof b === 'number') throw new DTypeError(`${op}: at least one operand must be a tensor`);
  const ta = asTensor(a, b as Tensor);
  const tb = asTensor(b, ta);
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
    return run({ name: op, expr: def.expr, out, widen: isFloat(ta.dtype), math: def.math ?? false }, [ta, tb], shape, op);
  } finally {
    if (ta !== a) ta.dispose();
    if (tb !== b) tb.dispose();
  }
}

/** `cond ? a : b` elementwise with broadcasting; `cond` may have any dtype (non-zero is true). */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const like = typeof a !== 'number' ? a : typeof b !== 'number' ? b : null;
  const ta = like ? asTensor(a, like) : scalarLike(a as number, 'f32');
  const tb = asTensor(b, ta);
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

/** Clamps into [min, max] (either bound may be omitted). NaN stays NaN. */
export function clamp(x: Tensor, min?: number, max?: number): Tensor {
  x.storage('clamp');
  const lo = min ?? -Infinity;
  const hi = max ?? Infinity;
  if (lo > hi) throw new DTypeError(`clamp: min ${lo} > max ${hi}`);
  if (isFloat(x.dtype))
    return run({ name: 'clamp', expr: 'select(min(max(x, p.alpha), p.beta), x, x != x)', out: x.dtype, widen: true, alpha: lo, beta: hi }, [x], x.shape, 'clamp');
  const T = x.dtype;
  const bound = (v: number) => (Number.isFinite(v) ? `${T}(${Math.trunc(v)})` : null);
  const l = bound(lo);
  const h = bound(hi);
  const expr = [l ? `max(x, ${l})` : 'x'].map((e) => (h ? `min(${e}, ${h})` : e))[0]!;
  return run({ name: `clamp_${l}_${h}`, expr, out: T, widen: false }, [x], x.shape, 'clamp');
}

/** Converts to another dtype (float -> int truncates toward zero, as WGSL and C do). */
export function cast(x: Tensor, dtype: DType): Tensor {
  x.storage('cast');
  return run({ name: 'cast', expr: 'x', out: dtype, widen: false }, [x], x.shape, 'cast');
}

/** A contiguous copy of any strided view. */
export function contiguousCopy(x: Tensor): Tensor {
  return run({ name: 'copy', expr: 'x', out: x.dtype, widen: false }, [x], x.shape, 'contiguous');
}

export function contiguous(x: Tensor): Tensor {
  x.storage('contiguous');
  return x.isContiguous ? x.view(x.shape, x.strides) : contiguousCopy(x);
}

export type { UnaryOp, BinaryOp };
