/**
 * The float64 CPU reference every test compares the GPU against, plus fast-check arbitraries for the
 * inputs that tend to break kernels: size-1 and odd dims, broadcasting, strided views, NaN/Inf.
 *
 * `NdArray` is always row-major and contiguous; its view functions (permute, slice, expand, ...) copy,
 * which is slow but obviously right. `ViewStep` lists describe a view once and apply it both to an engine
 * tensor (`applyView`, no copies) and to an NdArray (`applyViewNd`), so a test can build the same strided
 * operand on both sides.
 */
import fc from 'fast-check';
import type { DType } from '../engine/dtype.js';
import { f16BitsToF32, f32ToF16Bits } from '../engine/f16.js';
import * as ops from '../engine/ops/index.js';
import type { SliceSpec } from '../engine/ops/views.js';
import type { Tensor } from '../engine/tensor.js';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  return shape.reduce((n, d) => n * d, 1);
}

export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let k = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = k;
    k *= shape[i]!;
  }
  return s;
}

/** Row-major multi-index of flat position `i`. */
export function unravel(i: number, shape: Shape): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return idx;
}

export class NdArray {
  readonly shape: readonly number[];
  readonly data: Float64Array;
  constructor(shape: Shape, data: ArrayLike<number>) {
    if (data.length !== sizeOf(shape)) throw new Error(`NdArray: ${data.length} values for shape [${shape}]`);
    this.shape = [...shape];
    this.data = data instanceof Float64Array ? data : Float64Array.from(data);
  }
  get size(): number {
    return this.data.length;
  }
  get rank(): number {
    return this.shape.length;
  }
  /** Reads a tensor back (any dtype, any view) as float64. */
  static async fromTensor(t: Tensor): Promise<NdArray> {
    return new NdArray(t.shape, await t.data());
  }
  static filled(shape: Shape, f: (i: number) => number): NdArray {
    return new NdArray(shape, Float64Array.from({ length: sizeOf(shape) }, (_, i) => f(i)));
  }
  at(...idx: number[]): number {
    let flat = 0;
    const st = stridesOf(this.shape);
    idx.forEach((v, d) => (flat += v * st[d]!));
    return this.data[flat]!;
  }
  /** Nested arrays, like Tensor.toArray(). */
  toNested(): unknown {
    const build = (dim: number, start: number): unknown => {
      if (dim === this.rank) return this.data[start]!;
      const stride = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim]! }, (_, i) => build(dim + 1, start + i * stride));
    };
    return build(0, 0);
  }
}

export function nd(data: ArrayLike<number>, shape: Shape = [data.length]): NdArray {
  return new NdArray(shape, data);
}

/** Values as a tensor of `dtype` stores them: f32/f16 rounding applied (integers pass through). */
export function roundTo(dtype: DType, values: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(values);
  if (dtype === 'f32') for (let i = 0; i < out.length; i++) out[i] = Math.fround(out[i]!);
  if (dtype === 'f16') for (let i = 0; i < out.length; i++) out[i] = f16BitsToF32(f32ToF16Bits(out[i]!));
  return out;
}

/**
 * A tensor of `shape` with seeded values in [-1, 1) (a 32-bit LCG) and its float64 twin, rounded as the
 * tensor stores them.
 */
export function randomPair(shape: number[], seed: number, dtype: 'f32' | 'f16' = 'f32'): [Tensor, NdArray] {
  let s = seed >>> 0 || 1;
  const v = Array.from({ length: sizeOf(shape) }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
  return [ops.fromFlat(v, shape, dtype), new NdArray(shape, roundTo(dtype, v))];
}

/** Gathers `out[i] = a.data[offset + sum(idx_i * strides)]` over `shape`: the core of every view. */
function gather(a: NdArray, shape: Shape, strides: readonly number[], offset: number): NdArray {
  const out = new Float64Array(sizeOf(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    let p = offset;
    for (let d = 0; d < idx.length; d++) p += idx[d]! * strides[d]!;
    out[i] = a.data[p]!;
  }
  return new NdArray(shape, out);
}

function axis(a: number, rank: number): number {
  const r = a < 0 ? a + rank : a;
  if (!Number.isInteger(r) || r < 0 || r >= Math.max(rank, 1)) throw new Error(`oracle: axis ${a} out of range for rank ${rank}`);
  return r;
}

export function permute(a: NdArray, dims: readonly number[]): NdArray {
  const st = stridesOf(a.shape);
  const d = dims.map((x) => axis(x, a.rank));
  return gather(a, d.map((i) => a.shape[i]!), d.map((i) => st[i]!), 0);
}

export function transpose(a: NdArray, dim0 = -2, dim1 = -1): NdArray {
  if (a.rank < 2) return a;
  const order = a.shape.map((_, i) => i);
  const x = axis(dim0, a.rank);
  const y = axis(dim1, a.rank);
  [order[x], order[y]] = [order[y]!, order[x]!];
  return permute(a, order);
}

/** Python slicing with the engine's conventions (see engine/ops/views.ts `slice`). */
export function slice(a: NdArray, specs: readonly (SliceSpec | number | null)[]): NdArray {
  const st = stridesOf(a.shape);
  const shape: number[] = [];
  const strides: number[] = [];
  let offset = 0;
  a.shape.forEach((size, d) => {
    const spec = specs[d] ?? null;
    if (typeof spec === 'number') {
      offset += (spec < 0 ? spec + size : spec) * st[d]!;
      return;
    }
    const step = spec?.step ?? 1;
    const clampIdx = (v: number) => Math.min(size, Math.max(0, v < 0 ? v + size : v));
    const start = clampIdx(spec?.start ?? 0);
    const end = clampIdx(spec?.end ?? size);
    const n = Math.max(0, Math.ceil((end - start) / step));
    shape.push(n);
    strides.push(st[d]! * step);
    if (n > 0) offset += start * st[d]!;
  });
  return gather(a, shape, strides, offset);
}

/** Broadcasts to `shape` (-1 keeps a dim), like Tensor expand. */
export function expand(a: NdArray, shape: Shape): NdArray {
  const off = shape.length - a.rank;
  const st = stridesOf(a.shape);
  const out = shape.map((s, i) => (s === -1 ? a.shape[i - off]! : s));
  const strides = out.map((s, i) => (i < off || a.shape[i - off] !== s ? 0 : st[i - off]!));
  return gather(a, out, strides, 0);
}

export function reshape(a: NdArray, shape: Shape): NdArray {
  const s = [...shape];
  const k = s.indexOf(-1);
  if (k >= 0) s[k] = a.size / sizeOf(s.filter((d) => d !== -1));
  return new NdArray(s, a.data);
}

export function broadcastShapes(a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, i) => {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`oracle: [${a}] and [${b}] do not broadcast`);
    return da === 1 ? db : da;
  });
}

export function map(a: NdArray, f: (x: number, i: number) => number): NdArray {
  return new NdArray(a.shape, a.data.map((x, i) => f(x, i)));
}

/** Broadcasting binary map. */
export function zip(a: NdArray, b: NdArray, f: (x: number, y: number) => number): NdArray {
  const shape = broadcastShapes(a.shape, b.shape);
  const ea = expand(a, shape);
  const eb = expand(b, shape);
  return new NdArray(shape, ea.data.map((x, i) => f(x, eb.data[i]!)));
}

/** Broadcasting ternary map (e.g. where). */
export function zip3(a: NdArray, b: NdArray, c: NdArray, f: (x: number, y: number, z: number) => number): NdArray {
  const shape = broadcastShapes(broadcastShapes(a.shape, b.shape), c.shape);
  const [ea, eb, ec] = [a, b, c].map((t) => expand(t, shape));
  return new NdArray(shape, ea!.data.map((x, i) => f(x, eb!.data[i]!, ec!.data[i]!)));
}

function normAxes(axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  return [...new Set((typeof axes === 'number' ? [axes] : axes).map((x) => axis(x, rank)))].sort((x, y) => x - y);
}

/**
 * Reduces over `axes` (all when undefined): `f` receives the values of one output element's group in
 * row-major order. With keepdim the reduced dims stay as size 1.
 */
export function reduce(
  a: NdArray,
  axes: number | readonly number[] | undefined,
  keepdim: boolean,
  f: (values: number[]) => number,
): NdArray {
  const ax = normAxes(axes, a.rank);
  const keptShape = a.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const groups: number[][] = Array.from({ length: sizeOf(keptShape) }, () => []);
  const kst = stridesOf(keptShape);
  for (let i = 0; i < a.size; i++) {
    const idx = unravel(i, a.shape);
    let g = 0;
    idx.forEach((v, d) => (g += (ax.includes(d) ? 0 : v) * kst[d]!));
    groups[g]!.push(a.data[i]!);
  }
  const shape = keepdim ? keptShape : a.shape.filter((_, i) => !ax.includes(i));
  return new NdArray(shape, groups.map(f));
}

type Axes = number | readonly number[] | undefined;
const nanAware = (f: (v: number[]) => number) => (v: number[]) => (v.some(Number.isNaN) ? NaN : f(v));
export const sum = (a: NdArray, axes?: Axes, keepdim = false) => reduce(a, axes, keepdim, (v) => v.reduce((s, x) => s + x, 0));
export const prod = (a: NdArray, axes?: Axes, keepdim = false) => reduce(a, axes, keepdim, (v) => v.reduce((s, x) => s * x, 1));
export const mean = (a: NdArray, axes?: Axes, keepdim = false) =>
  reduce(a, axes, keepdim, (v) => v.reduce((s, x) => s + x, 0) / v.length);
/** max/min propagate NaN, as torch does. */
export const max = (a: NdArray, axes?: Axes, keepdim = false) => reduce(a, axes, keepdim, nanAware((v) => Math.max(...v)));
export const min = (a: NdArray, axes?: Axes, keepdim = false) => reduce(a, axes, keepdim, nanAware((v) => Math.min(...v)));
/** Index of the first element no other beats; the first NaN wins outright, as in torch.argmax/argmin. */
function firstBest(v: number[], better: (x: number, y: number) => boolean): number {
  let best = 0;
  for (let i = 1; i < v.length && !Number.isNaN(v[best]!); i++) if (Number.isNaN(v[i]!) || better(v[i]!, v[best]!)) best = i;
  return best;
}
export const argmax = (a: NdArray, axis?: number, keepdim = false) => reduce(a, axis, keepdim, (v) => firstBest(v, (x, y) => x > y));
export const argmin = (a: NdArray, axis?: number, keepdim = false) => reduce(a, axis, keepdim, (v) => firstBest(v, (x, y) => x < y));
/** Variance with `correction` (1 = unbiased, as torch.var's default). */
export const variance = (a: NdArray, axes?: Axes, keepdim = false, correction = 1) =>
  reduce(a, axes, keepdim, (v) => {
    const m = v.reduce((s, x) => s + x, 0) / v.length;
    return v.reduce((s, x) => s + (x - m) ** 2, 0) / Math.max(0, v.length - correction);
  });

/** Numerically stable softmax along `axis`. */
export function softmax(a: NdArray, axis = -1): NdArray {
  const m = max(a, axis, true);
  const e = zip(a, m, (x, mx) => Math.exp(x - mx));
  return zip(e, sum(e, axis, true), (x, s) => x / s);
}

export function logSoftmax(a: NdArray, axis = -1): NdArray {
  const m = max(a, axis, true);
  const lse = zip(m, sum(zip(a, m, (x, mx) => Math.exp(x - mx)), axis, true), (mx, s) => mx + Math.log(s));
  return zip(a, lse, (x, l) => x - l);
}

/** Layer norm over the last `normDims` dims with optional affine weight/bias (shaped like those dims). */
export function layerNorm(x: NdArray, normDims: number, weight?: NdArray, bias?: NdArray, eps = 1e-5): NdArray {
  const axes = Array.from({ length: normDims }, (_, i) => x.rank - normDims + i);
  const mu = mean(x, axes, true);
  const v = variance(x, axes, true, 0);
  let y = zip(zip(x, mu, (a, m) => a - m), v, (c, s) => c / Math.sqrt(s + eps));
  if (weight) y = zip(y, weight, (a, w) => a * w);
  if (bias) y = zip(y, bias, (a, b) => a + b);
  return y;
}

/**
 * numpy.matmul semantics: 1-D operands are promoted (and the added dim removed after), batch dims
 * broadcast. Accumulates in float64.
 */
export function matmul(a: NdArray, b: NdArray): NdArray {
  const a2 = a.rank === 1 ? reshape(a, [1, a.shape[0]!]) : a;
  const b2 = b.rank === 1 ? reshape(b, [b.shape[0]!, 1]) : b;
  const [m, k] = a2.shape.slice(-2) as [number, number];
  const [k2, n] = b2.shape.slice(-2) as [number, number];
  if (k !== k2) throw new Error(`oracle: matmul inner dims ${k} and ${k2} differ`);
  const batch = broadcastShapes(a2.shape.slice(0, -2), b2.shape.slice(0, -2));
  const ea = expand(a2, [...batch, m, k]);
  const eb = expand(b2, [...batch, k, n]);
  const nb = sizeOf(batch);
  const out = new Float64Array(nb * m * n);
  for (let p = 0; p < nb; p++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let q = 0; q < k; q++) s += ea.data[p * m * k + i * k + q]! * eb.data[p * k * n + q * n + j]!;
        out[p * m * n + i * n + j] = s;
      }
  let shape = [...batch, m, n];
  if (a.rank === 1) shape = shape.filter((_, i) => i !== shape.length - 2);
  if (b.rank === 1) shape = shape.slice(0, -1);
  return new NdArray(shape, out);
}

/** float64 erfc(z) for z >= 3 by its continued fraction (60 terms, evaluated bottom up): exact to a few ulps there. */
function erfcTail(z: number): number {
  if (!Number.isFinite(z)) return 0;
  let f = z;
  for (let n = 60; n >= 1; n--) f = z + n / 2 / f;
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
}

/**
 * float64 erf: its Maclaurin series for |x| < 3 (200 terms, ~1e-13 accurate there), and beyond that
 * 1 - erfc(|x|) with the sign restored.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (Math.abs(x) < 3) {
    let term = x;
    let s = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      s += term / (2 * n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * s;
  }
  return Math.sign(x) * (1 - erfcTail(Math.abs(x)));
}

/** float64 erfc = 1 - erf, relatively accurate in the right tail too (where 1 - erf would cancel). */
export function erfc(x: number): number {
  return x < 3 ? 1 - erf(x) : erfcTail(x);
}

/** float64 GELU in its exact form, x * Phi(x) with Phi(x) = erfc(-x / sqrt 2) / 2 (torch's approximate='none'). */
export const gelu = (x: number): number => 0.5 * x * erfc(-x / Math.SQRT2);

// ---------------------------------------------------------------------------------------------------
// Comparison

export interface Tolerance {
  atol?: number;
  rtol?: number;
}

export interface CloseReport {
  ok: boolean;
  /** Flat index and multi-index of the element that exceeds the tolerance most (-1 when ok). */
  worstIndex: number;
  worstAt: number[];
  maxAbsError: number;
  message: string;
}

/**
 * |actual - expected| <= atol + rtol * |expected| elementwise (numpy.allclose), NaN matching NaN and
 * infinities matching same-signed infinities. Shapes must agree when both sides carry one.
 */
export function allClose(
  actual: NdArray | ArrayLike<number>,
  expected: NdArray | ArrayLike<number>,
  { atol = 1e-6, rtol = 1e-5 }: Tolerance = {},
): CloseReport {
  const shape = expected instanceof NdArray ? expected.shape : actual instanceof NdArray ? actual.shape : [expected.length];
  const a = actual instanceof NdArray ? actual.data : actual;
  const e = expected instanceof NdArray ? expected.data : expected;
  const fail = (message: string): CloseReport => ({ ok: false, worstIndex: -1, worstAt: [], maxAbsError: Infinity, message });
  if (actual instanceof NdArray && expected instanceof NdArray && actual.shape.join() !== expected.shape.join())
    return fail(`shape [${actual.shape}] differs from expected [${expected.shape}]`);
  if (a.length !== e.length) return fail(`length ${a.length} differs from expected ${e.length}`);
  let worst = -1;
  let worstExcess = 0;
  let maxAbsError = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = e[i]!;
    if (Number.isNaN(y) ? Number.isNaN(x) : x === y) continue;
    const err = Math.abs(x - y);
    maxAbsError = Math.max(maxAbsError, Number.isNaN(err) ? Infinity : err);
    const excess = Number.isNaN(err) || !Number.isFinite(y) ? Infinity : err - (atol + rtol * Math.abs(y));
    if (excess > 0 && (worst < 0 || excess > worstExcess)) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst < 0) return { ok: true, worstIndex: -1, worstAt: [], maxAbsError, message: 'ok' };
  const at = unravel(worst, shape);
  return {
    ok: false,
    worstIndex: worst,
    worstAt: at,
    maxAbsError,
    message:
      `element [${at}] (flat ${worst}) is ${a[worst]}, expected ${e[worst]} ` +
      `(|diff| ${Math.abs(a[worst]! - e[worst]!)}, atol ${atol}, rtol ${rtol}, shape [${shape}])`,
  };
}

/** Throws with the worst element when `allClose` fails. */
export function expectClose(
  actual: NdArray | ArrayLike<number>,
  expected: NdArray | ArrayLike<number>,
  tol: Tolerance & { what?: string } = {},
): void {
  const r = allClose(actual, expected, tol);
  if (!r.ok) throw new Error(`${tol.what ?? 'values'}: ${r.message}`);
}

/** Reads `t` back and compares it (shape and values) against `expected`. */
export async function expectTensorClose(t: Tensor, expected: NdArray, tol: Tolerance & { what?: string } = {}): Promise<void> {
  expectClose(await NdArray.fromTensor(t), expected, tol);
}

// ---------------------------------------------------------------------------------------------------
// Views applied identically to tensors and NdArrays

export type ViewStep =
  | { kind: 'permute'; dims: number[] }
  | { kind: 'transpose'; dim0: number; dim1: number }
  | { kind: 'slice'; specs: (SliceSpec | number | null)[] }
  | { kind: 'expand'; shape: number[] }
  | { kind: 'unsqueeze'; dim: number };

function viewOne(t: Tensor, s: ViewStep): Tensor {
  switch (s.kind) {
    case 'permute':
      return ops.permute(t, s.dims);
    case 'transpose':
      return ops.transpose(t, s.dim0, s.dim1);
    case 'slice':
      return ops.slice(t, s.specs);
    case 'expand':
      return ops.expand(t, s.shape);
    case 'unsqueeze':
      return ops.unsqueeze(t, s.dim);
  }
}

/** Applies the steps as engine views (no copies); intermediate views are disposed. */
export function applyView(t: Tensor, steps: readonly ViewStep[]): Tensor {
  let cur = t;
  for (const s of steps) {
    const next = viewOne(cur, s);
    if (cur !== t) cur.dispose();
    cur = next;
  }
  return cur === t ? ops.slice(t, []) : cur;
}

export function applyViewNd(a: NdArray, steps: readonly ViewStep[]): NdArray {
  let cur = a;
  for (const s of steps) {
    if (s.kind === 'permute') cur = permute(cur, s.dims);
    else if (s.kind === 'transpose') cur = transpose(cur, s.dim0, s.dim1);
    else if (s.kind === 'slice') cur = slice(cur, s.specs);
    else if (s.kind === 'expand') cur = expand(cur, s.shape);
    else {
      const shape = [...cur.shape];
      shape.splice(axis(s.dim, cur.rank + 1), 0, 1);
      cur = reshape(cur, shape);
    }
  }
  return cur;
}

// ---------------------------------------------------------------------------------------------------
// fast-check arbitraries

/** A dim in 1..maxDim, biased toward 1 (broadcast and coalescing edge cases) and odd sizes. */
export function arbDim(maxDim = 7): fc.Arbitrary<number> {
  const odd = Array.from({ length: Math.ceil(maxDim / 2) }, (_, i) => 2 * i + 1).filter((d) => d > 1);
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant(1) },
    ...(odd.length ? [{ weight: 3, arbitrary: fc.constantFrom(...odd) }] : []),
    { weight: 3, arbitrary: fc.integer({ min: 1, max: maxDim }) },
  );
}

export interface ShapeOptions {
  minRank?: number;
  maxRank?: number;
  maxDim?: number;
}

export function arbShape({ minRank = 0, maxRank = 4, maxDim = 7 }: ShapeOptions = {}): fc.Arbitrary<number[]> {
  return fc.array(arbDim(maxDim), { minLength: minRank, maxLength: maxRank });
}

/**
 * Two shapes that broadcast together: derived from one output shape by dropping leading dims and
 * setting some dims to 1 on either side.
 */
export function arbBroadcastPair(options: ShapeOptions = {}): fc.Arbitrary<[number[], number[]]> {
  return arbBroadcastShapes(2, options) as fc.Arbitrary<[number[], number[]]>;
}

/** `count` shapes that broadcast together (see arbBroadcastPair). */
export function arbBroadcastShapes(count: number, options: ShapeOptions = {}): fc.Arbitrary<number[][]> {
  return arbShape(options).chain((out) => {
    const side = fc.record({
      drop: fc.integer({ min: 0, max: out.length }),
      ones: fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }),
    });
    const derive = ({ drop, ones }: { drop: number; ones: boolean[] }) => out.map((d, i) => (ones[i] ? 1 : d)).slice(drop);
    return fc.array(side.map(derive), { minLength: count, maxLength: count });
  });
}

export interface ViewCase {
  /** Shape of the contiguous tensor the view starts from. */
  baseShape: number[];
  steps: ViewStep[];
  /** Shape after the steps. */
  shape: number[];
}

/**
 * A strided view with exactly the shape `target`: a base tensor is (optionally) given an extra leading
 * dim that gets indexed away (non-zero offset), stepped slices with a random start, size-1 dims that get
 * expanded (stride 0), and a final permutation (transposed strides). Every combination can come out,
 * including the plain contiguous case.
 */
const MAX_BASE_ELEMENTS = 8192;

export function arbViewOf(target: Shape): fc.Arbitrary<ViewCase> {
  const r = target.length;
  return fc
    .record({
      lead: fc.option(fc.tuple(fc.integer({ min: 2, max: 3 }), fc.integer({ min: -3, max: 2 })), { nil: undefined }),
      dims: fc.array(
        fc.record({
          mode: fc.constantFrom('plain', 'plain', 'step', 'expand'),
          step: fc.integer({ min: 2, max: 3 }),
          start: fc.integer({ min: 0, max: 2 }),
          tail: fc.integer({ min: 0, max: 2 }),
          negStart: fc.boolean(),
        }),
        { minLength: r, maxLength: r },
      ),
      perm: fc.shuffledSubarray(Array.from({ length: r }, (_, i) => i), { minLength: r, maxLength: r }),
    })
    .map(({ lead, dims, perm }) => {
      // The final permute maps pre-permute dim perm[i] to output dim i, so pre[perm[i]] = target[i].
      const pre = new Array<number>(r);
      perm.forEach((p, i) => (pre[p] = target[i]!));
      const base: number[] = [];
      const specs: (SliceSpec | number | null)[] = [];
      let needExpand = false;
      if (lead) {
        base.push(lead[0]);
        specs.push(Math.max(-lead[0], Math.min(lead[0] - 1, lead[1])));
      }
      // Stepped dims multiply the base size; keep the base small (test data is generated element by element).
      let budget = MAX_BASE_ELEMENTS / Math.max(1, sizeOf(target)) / (lead ? lead[0] : 1);
      pre.forEach((size, d) => {
        const m = dims[d]!;
        const stepped = m.start + (size - 1) * m.step + 1 + Math.min(m.tail, m.step - 1);
        const canStep = m.mode === 'step' && size > 0 && stepped / size <= budget;
        if (canStep) budget /= stepped / size;
        if (m.mode === 'expand' && size !== 1) {
          needExpand = true;
          base.push(1);
          specs.push(null);
        } else if (canStep) {
          base.push(stepped);
          // A negative start counting from the end picks the same element.
          specs.push({ start: m.negStart && m.start > 0 ? m.start - stepped : m.start, step: m.step });
        } else {
          base.push(size);
          specs.push(null);
        }
      });
      const steps: ViewStep[] = [];
      if (specs.some((s) => s !== null)) steps.push({ kind: 'slice', specs });
      if (needExpand) steps.push({ kind: 'expand', shape: pre });
      if (perm.some((p, i) => p !== i)) steps.push({ kind: 'permute', dims: perm });
      return { baseShape: base, steps, shape: [...target] };
    });
}

/** A random chain of views of a random base (shapes come out as they come out). */
export function arbView(options: ShapeOptions = {}): fc.Arbitrary<ViewCase> {
  return arbShape({ minRank: 1, ...options }).chain((target) => arbViewOf(target));
}

export interface FloatOptions {
  min?: number;
  max?: number;
  /** Mix in NaN, +-Infinity and +-0. */
  nonFinite?: boolean;
}

/**
 * `n` doubles in [min, max] (default [-4, 4]), optionally with NaN/Inf/signed zeros mixed in. Magnitudes
 * below 2^-14 become 0: they would be f16 or f32 subnormals, which WGSL lets implementations flush to zero
 * (Chromium's Dawn does), so exact comparisons would depend on the driver.
 */
export function arbFloats(n: number, { min = -4, max = 4, nonFinite = false }: FloatOptions = {}): fc.Arbitrary<number[]> {
  const finite = fc.double({ min, max, noNaN: true, noDefaultInfinity: true }).map((v) => (Math.abs(v) < 2 ** -14 ? 0 : v));
  const value = nonFinite
    ? fc.oneof({ weight: 4, arbitrary: finite }, { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, 0, -0) })
    : finite;
  return fc.array(value, { minLength: n, maxLength: n });
}

/** `n` integers valid for `dtype` within [min, max]. */
export function arbInts(n: number, dtype: 'i32' | 'u32', { min = dtype === 'u32' ? 0 : -50, max = 50 } = {}): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min, max }), { minLength: n, maxLength: n });
}

/** Data for a tensor of `dtype`: floats (see FloatOptions) or small integers. */
export function arbValues(n: number, dtype: DType, options: FloatOptions = {}): fc.Arbitrary<number[]> {
  return dtype === 'i32' || dtype === 'u32' ? arbInts(n, dtype) : arbFloats(n, options);
}

export interface TensorCase extends ViewCase {
  dtype: DType;
  /** Row-major values of the base tensor. */
  data: number[];
}

/** A strided view of shape `target` with base data of `dtype`. */
export function arbTensorCaseOf(target: Shape, dtype: DType, options: FloatOptions = {}): fc.Arbitrary<TensorCase> {
  return arbViewOf(target).chain((v) => arbValues(sizeOf(v.baseShape), dtype, options).map((data) => ({ ...v, dtype, data })));
}

/** A random-shaped strided tensor case. */
export function arbTensorCase(dtype: DType, options: FloatOptions & ShapeOptions = {}): fc.Arbitrary<TensorCase> {
  return arbShape(options).chain((s) => arbTensorCaseOf(s, dtype, options));
}

/**
 * Builds the case on both sides: the engine view (base uploaded, view applied, base reference dropped)
 * and the oracle's NdArray of the same values, rounded as the dtype stores them.
 */
export function materialize(c: TensorCase): { tensor: Tensor; expected: NdArray } {
  const base = ops.tensor(c.data, c.baseShape, { dtype: c.dtype });
  const tensor = applyView(base, c.steps);
  base.dispose();
  const expected = applyViewNd(new NdArray(c.baseShape, roundTo(c.dtype, c.data)), c.steps);
  return { tensor, expected };
}
