import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ops, hasF16, runtime, DTypeError, ShapeError, DisposedError, ArgumentError, type Tensor, type DType } from '../../engine/index.js';
import type { UnaryOp, BinaryOp } from '../../engine/ops/elementwise.js';
import { testDevice } from '../helpers.js';
import {
  NdArray, arbBroadcastPair, arbBroadcastShapes, arbShape, arbTensorCaseOf, erf, expectClose, gelu, map, materialize, roundTo, zip, zip3,
  type FloatOptions, type TensorCase, type Tolerance,
} from '../oracle.js';

const t = suite('engine: elementwise');
let floatTypes: DType[] = ['f32'];
t.before(async () => {
  await testDevice();
  if (hasF16()) floatTypes = ['f32', 'f16'];
});

/** Rounds half to even, as WGSL round() and torch.round do. */
function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Input domains: ops whose reference is undefined or ill-conditioned elsewhere get mapped inputs. */
type Domain = 'any' | 'positive' | 'nonzero' | 'gtMinus1' | 'angle';
const toDomain: Record<Domain, (x: number) => number> = {
  any: (x) => x,
  angle: (x) => x * (3.14159 / 4),
  positive: (x) => Math.abs(x) + 0.05,
  nonzero: (x) => (x < 0 ? x - 0.25 : x + 0.25),
  gtMinus1: (x) => Math.max(x, -0.95),
};

// Tolerances against float64, for f32 results. Most ops are within a few f32 ulps (rtol 1e-5) plus atol 1e-6
// for results near zero (erf/gelu/tanh use exp-based formulas with ~1e-7 absolute error). sin/cos: WGSL only
// promises 2^-11 absolute on [-pi, pi], and implementations use it (Chromium's cos is 2e-5 off near 0), so
// inputs stay in [-pi, pi] and atol is that bound.
// Rounding ops and sign/relu/abs/neg/square are exact.
const EXACT: Tolerance = { atol: 0, rtol: 0 };
const UNARY_CASES: { op: UnaryOp; ref: (x: number) => number; domain: Domain; tol?: Tolerance }[] = [
  { op: 'neg', ref: (x) => -x, domain: 'any', tol: EXACT },
  { op: 'abs', ref: Math.abs, domain: 'any', tol: EXACT },
  { op: 'exp', ref: Math.exp, domain: 'any' },
  { op: 'log', ref: Math.log, domain: 'positive' },
  { op: 'sqrt', ref: Math.sqrt, domain: 'positive' },
  { op: 'rsqrt', ref: (x) => 1 / Math.sqrt(x), domain: 'positive' },
  { op: 'sin', ref: Math.sin, domain: 'angle', tol: { atol: 2 ** -11, rtol: 0 } },
  { op: 'cos', ref: Math.cos, domain: 'angle', tol: { atol: 2 ** -11, rtol: 0 } },
  { op: 'tanh', ref: Math.tanh, domain: 'any' },
  { op: 'sigmoid', ref: (x) => 1 / (1 + Math.exp(-x)), domain: 'any' },
  { op: 'relu', ref: (x) => Math.max(x, 0), domain: 'any', tol: EXACT },
  { op: 'gelu', ref: gelu, domain: 'any' },
  { op: 'erf', ref: erf, domain: 'any' },
  { op: 'sign', ref: Math.sign, domain: 'any', tol: EXACT },
  { op: 'square', ref: (x) => x * x, domain: 'any' },
  { op: 'reciprocal', ref: (x) => 1 / x, domain: 'nonzero' },
  { op: 'log1p', ref: Math.log1p, domain: 'gtMinus1' },
  { op: 'expm1', ref: Math.expm1, domain: 'any' },
  { op: 'floor', ref: Math.floor, domain: 'any', tol: EXACT },
  { op: 'ceil', ref: Math.ceil, domain: 'any', tol: EXACT },
  { op: 'round', ref: roundEven, domain: 'any', tol: EXACT },
];

/**
 * f16 results: the input is already f16 (the oracle sees the rounded value), the op runs in f32 and the
 * result is rounded to f16 once: 2^-11 relative, so rtol 2e-3 allows two roundings; atol 1e-3 covers
 * results near zero and sin/cos.
 */
const F16_TOL: Tolerance = { atol: 1e-3, rtol: 2e-3 };
const tolFor = (dtype: DType, tol: Tolerance | undefined): Tolerance => (dtype === 'f16' ? F16_TOL : tol ?? { atol: 1e-6, rtol: 1e-5 });

function withDomain(c: TensorCase, domain: Domain): TensorCase {
  return { ...c, data: c.data.map(toDomain[domain]) };
}

/** Runs `body` with the materialized cases and disposes every tensor afterwards. */
async function withCases(cases: TensorCase[], body: (tensors: Tensor[], expected: NdArray[]) => Promise<void>): Promise<void> {
  const made = cases.map(materialize);
  try {
    await body(made.map((m) => m.tensor), made.map((m) => m.expected));
  } finally {
    for (const m of made) m.tensor.dispose();
  }
}

async function check(result: Tensor, expected: NdArray, tol: Tolerance, what: string): Promise<void> {
  try {
    assert.equal(result.shape, expected.shape, `${what}: shape`);
    expectClose(await NdArray.fromTensor(result), expected, { ...tol, what });
  } finally {
    result.dispose();
  }
}

t('unary float ops match the float64 oracle on random strided views (f32, f16)', async () => {
  for (const dtype of floatTypes) {
    await fc.assert(
      fc.asyncProperty(arbShape().chain((s) => arbTensorCaseOf(s, dtype)), async (c) => {
        for (const domain of Object.keys(toDomain) as Domain[]) {
          await withCases([withDomain(c, domain)], async ([x], [ex]) => {
            for (const u of UNARY_CASES.filter((u) => u.domain === domain))
              await check(ops.unary(u.op, x!), map(ex!, u.ref), tolFor(dtype, u.tol), `${u.op} ${dtype} [${c.shape}]`);
          });
        }
      }),
      { numRuns: 15 },
    );
  }
});

t('integer unary ops (neg, abs, sign, square) are exact on i32 and u32', async () => {
  for (const dtype of ['i32', 'u32'] as const) {
    await fc.assert(
      fc.asyncProperty(arbShape().chain((s) => arbTensorCaseOf(s, dtype)), async (c) => {
        await withCases([c], async ([x], [ex]) => {
          if (dtype === 'i32') await check(ops.neg(x!), map(ex!, (v) => -v), EXACT, 'neg i32');
          await check(ops.abs(x!), map(ex!, Math.abs), EXACT, `abs ${dtype}`);
          await check(ops.sign(x!), map(ex!, Math.sign), EXACT, `sign ${dtype}`);
          await check(ops.square(x!), map(ex!, (v) => v * v), EXACT, `square ${dtype}`);
        });
      }),
      { numRuns: 10 },
    );
  }
});

/** Float64 references for binary ops; comparisons give 0/1; integer results wrap like the dtype. */
const BINARY_REF: Partial<Record<BinaryOp, (a: number, b: number) => number>> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => Math.pow(a, b),
  maximum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b)),
  minimum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b)),
  eq: (a, b) => +(a === b),
  ne: (a, b) => +(a !== b),
  lt: (a, b) => +(a < b),
  le: (a, b) => +(a <= b),
  gt: (a, b) => +(a > b),
  ge: (a, b) => +(a >= b),
};
const FLOAT_BINARY: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'];
const INT_BINARY: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'];
const COMPARE = new Set<BinaryOp>(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);

/** A broadcast-compatible pair of independently strided operands. */
function arbPair(dtype: DType, options: FloatOptions = {}): fc.Arbitrary<[TensorCase, TensorCase]> {
  return arbBroadcastPair().chain(([sa, sb]) => fc.tuple(arbTensorCaseOf(sa, dtype, options), arbTensorCaseOf(sb, dtype, options)));
}

t('binary float ops broadcast strided operands like the oracle (f32, f16)', async () => {
  for (const dtype of floatTypes) {
    await fc.assert(
      fc.asyncProperty(arbPair(dtype), async ([ca, cb]) => {
        // div: denominators away from 0; pow: positive bases (negative bases have their own test).
        const cases: [TensorCase, TensorCase][] = [
          [ca, cb],
          [ca, withDomain(cb, 'nonzero')],
          [withDomain(ca, 'positive'), { ...cb, data: cb.data.map((v) => v * 0.75) }],
        ];
        for (const [k, pair] of cases.entries()) {
          const opsHere = k === 0 ? FLOAT_BINARY.filter((o) => o !== 'div' && o !== 'pow') : k === 1 ? (['div'] as BinaryOp[]) : (['pow'] as BinaryOp[]);
          await withCases(pair, async ([a, b], [ea, eb]) => {
            for (const op of opsHere) {
              // pow goes through exp2(y * log2(x)): relative error grows with |y log2 x| (<= ~7 here).
              const tol = COMPARE.has(op) ? EXACT : op === 'pow' && dtype === 'f32' ? { atol: 1e-6, rtol: 2e-5 } : tolFor(dtype, undefined);
              await check(ops.binary(op, a!, b!), zip(ea!, eb!, BINARY_REF[op]!), tol, `${op} ${dtype} [${ca.shape}] [${cb.shape}]`);
            }
          });
        }
      }),
      { numRuns: 15 },
    );
  }
});

t('binary integer ops are exact on i32 and u32 (wrapping like the dtype, division truncating)', async () => {
  for (const dtype of ['i32', 'u32'] as const) {
    const wrap = dtype === 'i32' ? (v: number) => v | 0 : (v: number) => v >>> 0;
    await fc.assert(
      fc.asyncProperty(arbPair(dtype), async ([ca, cb]) => {
        const nonzero = { ...cb, data: cb.data.map((v) => (v === 0 ? 7 : v)) };
        await withCases([ca, nonzero], async ([a, b], [ea, eb]) => {
          for (const op of INT_BINARY) {
            const ref = op === 'div' ? (x: number, y: number) => Math.trunc(x / y) : BINARY_REF[op]!;
            const out = ops.binary(op, a!, b!);
            assert.is(out.dtype, COMPARE.has(op) ? 'u32' : dtype);
            await check(out, zip(ea!, eb!, (x, y) => (COMPARE.has(op) ? ref(x, y) : wrap(ref(x, y)))), EXACT, `${op} ${dtype}`);
          }
        });
      }),
      { numRuns: 10 },
    );
  }
});

t('scalar operands on either side take the tensor dtype', async () => {
  const x = ops.tensor([[1, 2, 3], [4, 5, 6]]);
  const xi = ops.tensor([5, -7, 9], undefined, { dtype: 'i32' });
  const cases: [Tensor, number[]][] = [
    [ops.add(x, 1.5), [2.5, 3.5, 4.5, 5.5, 6.5, 7.5]],
    [ops.sub(10, x), [9, 8, 7, 6, 5, 4]],
    [ops.div(x, 2), [0.5, 1, 1.5, 2, 2.5, 3]],
    [ops.mul(xi, 3), [15, -21, 27]],
    [ops.div(xi, 2), [2, -3, 4]],
    [ops.gt(x, 3), [0, 0, 0, 1, 1, 1]],
  ];
  for (const [out, expected] of cases) {
    assert.equal(Array.from(await out.data()), expected);
    out.dispose();
  }
  // pow is exp2(y * log2(x)) on the GPU: close, not exact, for integral exponents.
  const p = ops.pow(x, 2);
  expectClose(await p.data(), [1, 4, 9, 16, 25, 36], { atol: 0, rtol: 1e-6 });
  p.dispose();
  const m = ops.mul(xi, 3);
  assert.is(m.dtype, 'i32');
  m.dispose();
  x.dispose();
  xi.dispose();
});

t('pow with negative bases follows torch: integral exponents keep the sign, fractional give NaN', async () => {
  const a = ops.tensor([-2, -2, -2, -8, 0, 0, 3]);
  const b = ops.tensor([2, 3, -1, 0.5, 2, -1, 0]);
  const out = ops.pow(a, b);
  expectClose(await out.data(), [4, -8, -0.5, NaN, 0, Infinity, 1], { atol: 0, rtol: 1e-6 });
  for (const v of [a, b, out]) v.dispose();
});

t('IEEE specials: maximum/minimum propagate NaN, relu(NaN) is NaN, comparisons with NaN are false except ne', async () => {
  const specials = [NaN, Infinity, -Infinity, 0, -0, 1, -1];
  const av: number[] = [];
  const bv: number[] = [];
  for (const a of specials) for (const b of specials) av.push(a), bv.push(b);
  for (const dtype of floatTypes) {
    const a = ops.tensor(av, undefined, { dtype });
    const b = ops.tensor(bv, undefined, { dtype });
    const ea = new NdArray([av.length], av);
    const eb = new NdArray([bv.length], bv);
    for (const op of ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as BinaryOp[])
      await check(ops.binary(op, a, b), zip(ea, eb, BINARY_REF[op]!), EXACT, `${op} ${dtype} on specials`);
    await check(ops.relu(a), map(ea, (x) => (Number.isNaN(x) ? NaN : Math.max(x, 0))), EXACT, 'relu specials');
    await check(ops.clamp(a, -0.5, 0.5), map(ea, (x) => (Number.isNaN(x) ? NaN : Math.min(Math.max(x, -0.5), 0.5))), EXACT, 'clamp specials');
    // Other builtins (exp, log, ...) are left out: WGSL does not promise IEEE NaN/Inf handling there, and
    // Chromium's Dawn gives exp(NaN) = Inf and log(Inf) = 88.7.
    await check(ops.abs(a), map(ea, Math.abs), EXACT, 'abs specials');
    await check(ops.neg(a), map(ea, (x) => -x), EXACT, 'neg specials');
    a.dispose();
    b.dispose();
  }
});

t('NaN propagation holds on random data with NaN/Inf mixed in', async () => {
  await fc.assert(
    fc.asyncProperty(arbPair('f32', { nonFinite: true }), async (pair) => {
      await withCases(pair, async ([a, b], [ea, eb]) => {
        // add/mul round their finite results to f32 (rtol 1e-6); NaN and infinities must match exactly.
        for (const op of ['maximum', 'minimum', 'eq', 'ne', 'lt', 'ge', 'add', 'mul'] as BinaryOp[])
          await check(ops.binary(op, a!, b!), zip(ea!, eb!, BINARY_REF[op]!), op === 'add' || op === 'mul' ? { atol: 0, rtol: 1e-6 } : EXACT, `${op} with non-finite values`);
        await check(ops.relu(a!), map(ea!, (x) => (Number.isNaN(x) ? NaN : Math.max(x, 0))), EXACT, 'relu with non-finite values');
      });
    }),
    { numRuns: 15 },
  );
});

t('small arguments: log1p, expm1 and erf keep their relative accuracy near 0', async () => {
  const xs = [1e-7, -1e-7, 3e-6, 1e-4, -1e-4, 2e-4, 1e-3, -1e-3, 0.01, -0.02, 0.3, -0.45];
  const x = ops.tensor(xs);
  const ex = new NdArray([xs.length], roundTo('f32', xs));
  // Relative 1e-5 with a tiny atol: these functions exist to be accurate where 1 + x or exp(x) - 1 cancel.
  for (const [op, ref] of [['log1p', Math.log1p], ['expm1', Math.expm1], ['erf', erf]] as const)
    await check(ops.unary(op, x), map(ex, ref), { atol: 1e-12, rtol: 1e-5 }, `${op} near 0`);
  x.dispose();
});

t('gelu keeps its relative accuracy in the left tail, where 1 + erf(x / sqrt 2) would cancel', async () => {
  const xs = [-2, -3, -4.5, -5, -6.5, -8, -10];
  const x = ops.tensor(xs);
  // gelu(-5) = -1.4e-6 and gelu(-10) = -7.6e-23: relative 1e-5 needs Phi from erfc directly.
  await check(ops.gelu(x), map(new NdArray([xs.length], roundTo('f32', xs)), gelu), { atol: 0, rtol: 1e-5 }, 'gelu tail');
  x.dispose();
});

t('where selects with a broadcast condition of any dtype, scalar branches allowed', async () => {
  for (const dtype of floatTypes) {
    const arb = fc
      .tuple(arbBroadcastShapes(3), fc.constantFrom<DType>('u32', 'f32', 'i32'))
      .chain(([[sc, sa, sb], condType]) =>
        fc.tuple(
          arbTensorCaseOf(sc, condType).map((c) => ({ ...c, data: c.data.map((v) => (Math.round(v) % 2 === 0 ? 0 : condType === 'i32' ? -3 : 1)) })),
          arbTensorCaseOf(sa, dtype),
          arbTensorCaseOf(sb, dtype),
        ),
      );
    await fc.assert(
      fc.asyncProperty(arb, async (cases) => {
        await withCases(cases, async ([c, a, b], [ec, ea, eb]) => {
          await check(ops.where(c!, a!, b!), zip3(ec!, ea!, eb!, (k, x, y) => (k !== 0 ? x : y)), EXACT, `where ${dtype}`);
          await check(ops.where(c!, a!, 2), zip3(ec!, ea!, new NdArray([], [2]), (k, x, y) => (k !== 0 ? x : y)), EXACT, 'where scalar b');
        });
      }),
      { numRuns: 15 },
    );
  }
  const c = ops.tensor([1, 0, 1], undefined, { dtype: 'u32' });
  const w = ops.where(c, 1, 0);
  assert.is(w.dtype, 'f32');
  assert.equal(Array.from(await w.data()), [1, 0, 1]);
  for (const v of [c, w]) v.dispose();
});

t('mulAdd computes a * b + c in one pass with three-way broadcasting over strided views (f32, f16)', async () => {
  for (const dtype of floatTypes) {
    const arb = arbBroadcastShapes(3).chain(([sa, sb, sc]) => fc.tuple(arbTensorCaseOf(sa, dtype), arbTensorCaseOf(sb, dtype), arbTensorCaseOf(sc, dtype)));
    await fc.assert(
      fc.asyncProperty(arb, async (cases) => {
        await withCases(cases, async ([a, b, c], [ea, eb, ec]) => {
          await check(ops.mulAdd(a!, b!, c!), zip3(ea!, eb!, ec!, (x, y, z) => x * y + z), tolFor(dtype, undefined), `mulAdd ${dtype}`);
        });
      }),
      { numRuns: 15 },
    );
  }
  const [x, y] = [ops.tensor([1, 2], [2]), ops.tensor([1, 2], [2], { dtype: 'i32' })];
  assert.throws(() => ops.mulAdd(x, x, y), (e: Error) => e instanceof DTypeError && /mulAdd: dtypes f32 \[2\], f32 \[2\] and i32 \[2\] differ/.test(e.message));
  assert.throws(() => ops.mulAdd(y, y, y), (e: Error) => e instanceof DTypeError && /mulAdd/.test(e.message));
  assert.throws(() => ops.mulAdd(x, x, ops.tensor([1, 2, 3], [3])), (e: Error) => e instanceof ShapeError && /mulAdd/.test(e.message));
  for (const v of [x, y]) v.dispose();
});

t('clamp: floats keep NaN, bounds may be omitted; integer bounds round inward and saturate', async () => {
  await fc.assert(
    fc.asyncProperty(
      arbShape().chain((s) => arbTensorCaseOf(s, 'f32', { nonFinite: true })),
      // Bounds avoid f32 subnormals, which WGSL implementations may flush to zero.
      fc.option(fc.double({ min: -3, max: 0, noNaN: true }).map((v) => (v > -(2 ** -14) ? 0 : v)), { nil: undefined }),
      fc.option(fc.double({ min: 0, max: 3, noNaN: true }).map((v) => (v < 2 ** -14 ? 0 : v)), { nil: undefined }),
      async (c, lo, hi) => {
        await withCases([c], async ([x], [ex]) => {
          const l = lo === undefined ? -Infinity : Math.fround(lo);
          const h = hi === undefined ? Infinity : Math.fround(hi);
          await check(ops.clamp(x!, lo, hi), map(ex!, (v) => (Number.isNaN(v) ? NaN : Math.min(Math.max(v, l), h))), EXACT, `clamp(${lo}, ${hi})`);
        });
      },
    ),
    { numRuns: 15 },
  );
  const xi = ops.tensor([-5, -1, 0, 1, 2, 5], undefined, { dtype: 'i32' });
  const xu = ops.tensor([0, 1, 2, 7, 4000000000], undefined, { dtype: 'u32' });
  const cases: [Tensor, number[], DType][] = [
    [ops.clamp(xi, -1.5, 1.5), [-1, -1, 0, 1, 1, 1], 'i32'],
    [ops.clamp(xi, 0), [0, 0, 0, 1, 2, 5], 'i32'],
    [ops.clamp(xi, -1e12, 1e12), [-5, -1, 0, 1, 2, 5], 'i32'],
    [ops.clamp(xu, -1, 4), [0, 1, 2, 4, 4], 'u32'],
    [ops.clamp(xu, 1, 1e12), [1, 1, 2, 7, 4000000000], 'u32'],
  ];
  for (const [out, expected, dtype] of cases) {
    assert.is(out.dtype, dtype);
    assert.equal(Array.from(await out.data()), expected, `clamp ${dtype}`);
    out.dispose();
  }
  // Integer bounds travel as uniforms: new bounds reuse the pipeline.
  ops.clamp(xi, 0, 3).dispose();
  const pipelines = runtime().pipelineCount;
  ops.clamp(xi, -2, 7).dispose();
  ops.clamp(xi, 1, 2).dispose();
  assert.is(runtime().pipelineCount, pipelines);
  assert.throws(() => ops.clamp(xi, 2, 1), (e: unknown) => e instanceof ArgumentError && /clamp: need min <= max, got min 2, max 1/.test((e as Error).message));
  xi.dispose();
  xu.dispose();
});

t('cast converts between all dtypes: floats truncate toward zero, i32<->u32 reinterpret bits', async () => {
  const f = ops.tensor([1.7, -2.7, 0.5, -0.5, 100.9]);
  const i = ops.tensor([-1, 0, 7, -2147483648], undefined, { dtype: 'i32' });
  const u = ops.tensor([0, 3, 4294967295, 2147483648], undefined, { dtype: 'u32' });
  const cases: [Tensor, number[], DType][] = [
    [ops.cast(f, 'i32'), [1, -2, 0, 0, 100], 'i32'],
    [ops.cast(i, 'f32'), [-1, 0, 7, -2147483648], 'f32'],
    [ops.cast(i, 'u32'), [4294967295, 0, 7, 2147483648], 'u32'],
    [ops.cast(u, 'i32'), [0, 3, -1, -2147483648], 'i32'],
    [ops.cast(u, 'f32'), [0, 3, 4294967296, 2147483648], 'f32'],
    [ops.cast(ops.transpose(ops.tensor([[1.5, 2.5], [3.5, 4.5]])), 'i32'), [1, 3, 2, 4], 'i32'],
  ];
  if (hasF16()) {
    const h = ops.cast(f, 'f16');
    cases.push([h, Array.from(roundTo('f16', [1.7, -2.7, 0.5, -0.5, 100.9])), 'f16']);
    cases.push([ops.cast(h, 'i32'), [1, -2, 0, 0, 100], 'i32']);
  }
  for (const [out, expected, dtype] of cases) {
    assert.is(out.dtype, dtype);
    assert.equal(Array.from(await out.data()), expected, `cast to ${dtype}`);
    out.dispose();
  }
  assert.throws(() => ops.cast(f, 'f64' as DType), (e: unknown) => e instanceof DTypeError && /cast: unknown dtype 'f64'/.test((e as Error).message));
  for (const v of [f, i, u]) v.dispose();
});

t('typed errors name the op and operands and come before any GPU work', async () => {
  const a = ops.zeros([2, 3]);
  const b = ops.zeros([4, 3]);
  const ai = ops.zeros([2, 3], { dtype: 'i32' });
  const au = ops.zeros([2, 3], { dtype: 'u32' });
  const gone = ops.zeros([2]);
  gone.dispose();
  const rt = runtime();
  const before = rt.dispatches;
  const expectThrow = (f: () => unknown, type: new (...args: never[]) => Error, pattern: RegExp) =>
    assert.throws(f, (e: unknown) => e instanceof type && pattern.test((e as Error).message), String(pattern));
  expectThrow(() => ops.add(a, b), ShapeError, /^add: shapes \[2,3\] and \[4,3\] do not broadcast$/);
  expectThrow(() => ops.where(a, a, b), ShapeError, /^where: shapes \[2,3\] and \[4,3\] do not broadcast$/);
  expectThrow(() => ops.mul(a, ai), DTypeError, /^mul: dtypes f32 \[2,3\] and i32 \[2,3\] differ; cast one first$/);
  expectThrow(() => ops.where(a, a, ai), DTypeError, /^where: branch dtypes f32 and i32 differ/);
  expectThrow(() => ops.exp(ai), DTypeError, /^exp: expects a float tensor \(f32 or f16\), got i32 \[2,3\]/);
  expectThrow(() => ops.pow(ai, ai), DTypeError, /^pow: expects a float tensor/);
  expectThrow(() => ops.neg(au), DTypeError, /^neg: u32 tensors cannot be negated/);
  expectThrow(() => ops.add(1, 2), DTypeError, /^add: at least one operand must be a tensor/);
  expectThrow(() => ops.add(ai, 1.5), DTypeError, /^add: value 1.5 at flat index 0 is not representable as i32/);
  expectThrow(() => ops.relu(gone), DisposedError, /^relu: tensor #\d+ \[2\] was disposed/);
  expectThrow(() => ops.add(a, gone), DisposedError, /^add: tensor #\d+ \[2\] was disposed/);
  expectThrow(() => ops.where(gone, 1, 0), DisposedError, /^where: /);
  expectThrow(() => ops.cast(gone, 'i32'), DisposedError, /^cast: /);
  assert.is(rt.dispatches, before, 'no dispatch was recorded by a failing op');
  for (const v of [a, b, ai, au]) v.dispose();
});

t.run();
