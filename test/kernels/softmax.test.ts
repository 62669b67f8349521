import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ops, hasF16, type Tensor, ArgumentError, DTypeError, DisposedError, ShapeError } from '../../engine/index.js';
import { softmaxBackwardLaunch, softmaxLaunch } from '../../kernels/softmax.js';
import { runtime } from '../../engine/runtime.js';
import { empty } from '../../engine/tensor.js';
import { assertThrows, testDevice } from '../helpers.js';
import {
  NdArray,
  arbTensorCase,
  arbTensorCaseOf,
  expectClose,
  expectTensorClose,
  logSoftmax as oracleLogSoftmax,
  map,
  materialize,
  slice as sliceNd,
  softmax as oracleSoftmax,
  sum,
  zip,
  type TensorCase,
} from '../oracle.js';

const t = suite('kernels: softmax');
t.before(async () => {
  await testDevice();
});

/** dx = y * (dy - sum(dy * y)) along the axis, in float64. */
function oracleSoftmaxBackward(y: NdArray, dy: NdArray, axis: number): NdArray {
  const s = sum(zip(dy, y, (g, v) => g * v), axis, true);
  return zip(y, zip(dy, s, (g, total) => g - total), (v, c) => v * c);
}

/** dx = dy - exp(y) * sum(dy) along the axis, in float64. */
function oracleLogSoftmaxBackward(y: NdArray, dy: NdArray, axis: number): NdArray {
  const s = sum(dy, axis, true);
  return zip(dy, zip(map(y, Math.exp), s, (e, total) => e * total), (g, c) => g - c);
}

// f32 tolerances: exp is good to a few ulps for the |x - max| <= 8 seen here (WGSL allows 3 + 2|x| ulps),
// and a row sum of <= 7 terms adds a few more; probabilities are <= 1 and log-probabilities are >= ~-9.
const PROB = { atol: 1e-6, rtol: 2e-5 };
const LOGPROB = { atol: 4e-6, rtol: 1e-5 };
// Backward: |dy|, |y| <= 4, row sums of <= 7 products (log-softmax: exp(y) up to e^4 ~ 55 times a sum of 7).
const GRAD = { atol: 2e-5, rtol: 2e-5 };
const LOGGRAD = { atol: 2e-4, rtol: 2e-5 };

/** A random strided tensor of rank 1..4 and an axis of it, given as a negative or a positive index. */
const arbAxisCase = (nonFinite: boolean) =>
  arbTensorCase('f32', { minRank: 1, maxRank: 4, maxDim: 7, nonFinite }).chain((c) =>
    fc.record({ c: fc.constant(c), axis: fc.integer({ min: -c.shape.length, max: c.shape.length - 1 }) }),
  );

/**
 * Compares softmax and logSoftmax of `c` along `axis` with the float64 oracle, then frees everything;
 * `inspect` sees the softmax output first (for checks on its layout).
 */
async function expectSoftmaxPairLikeOracle(c: TensorCase, axis: number, inspect: (y: Tensor) => void = () => {}): Promise<void> {
  const { tensor, expected } = materialize(c);
  const y = ops.softmax(tensor, axis);
  const ly = ops.logSoftmax(tensor, axis);
  try {
    inspect(y);
    await expectTensorClose(y, oracleSoftmax(expected, axis), { ...PROB, what: `softmax axis ${axis}` });
    await expectTensorClose(ly, oracleLogSoftmax(expected, axis), { ...LOGPROB, what: `logSoftmax axis ${axis}` });
  } finally {
    for (const v of [tensor, y, ly]) v.dispose();
  }
}

t('property: softmax and logSoftmax over every axis of strided rank-1..4 views', async () => {
  await fc.assert(
    fc.asyncProperty(arbAxisCase(false), ({ c, axis }) => expectSoftmaxPairLikeOracle(c, axis, (y) => assert.ok(y.isContiguous))),
    { numRuns: 60 },
  );
});

t('property: NaN and +-inf inputs follow torch (oracle: max-subtracted float64 formula)', async () => {
  await fc.assert(
    fc.asyncProperty(arbAxisCase(true), ({ c, axis }) => expectSoftmaxPairLikeOracle(c, axis)),
    { numRuns: 40 },
  );
});

t('property: softmaxBackward and logSoftmaxBackward over every axis with strided y and dy', async () => {
  const arb = fc
    .record({ shape: fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 4 }), pick: fc.nat() })
    .chain(({ shape, pick }) =>
      fc.record({
        y: arbTensorCaseOf(shape, 'f32'),
        dy: arbTensorCaseOf(shape, 'f32'),
        axis: fc.constant((pick % (2 * shape.length)) - shape.length),
      }),
    );
  await fc.assert(
    fc.asyncProperty(arb, async ({ y, dy, axis }) => {
      const yc = materialize(y);
      const dyc = materialize(dy);
      const dx = ops.softmaxBackward(yc.tensor, dyc.tensor, axis);
      const ldx = ops.logSoftmaxBackward(yc.tensor, dyc.tensor, axis);
      try {
        await expectTensorClose(dx, oracleSoftmaxBackward(yc.expected, dyc.expected, axis), { ...GRAD, what: 'softmaxBackward' });
        await expectTensorClose(ldx, oracleLogSoftmaxBackward(yc.expected, dyc.expected, axis), { ...LOGGRAD, what: 'logSoftmaxBackward' });
      } finally {
        for (const v of [yc.tensor, dyc.tensor, dx, ldx]) v.dispose();
      }
    }),
    { numRuns: 40 },
  );
});

/** Seeded values in [-4, 4]. */
function values(n: number, seed: number): number[] {
  let a = seed >>> 0;
  return Array.from({ length: n }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return (a / 4294967296) * 8 - 4;
  });
}

/** Shapes that force each kernel form: one workgroup per row (long rows, few rows) and one invocation per row. */
const FORMS: { name: string; shape: number[]; axis: number; transpose?: boolean }[] = [
  { name: 'rows, axis longer than a workgroup', shape: [4, 300], axis: -1 },
  { name: 'columns: axis 1 of [B, C, T] read in place', shape: [3, 70, 40], axis: 1 },
  { name: 'columns: last axis of a transposed view', shape: [90, 80], axis: -1, transpose: true },
  { name: 'rows: strided axis with few rows', shape: [200, 5], axis: 0 },
  // CPU adapters: contiguous rows as vec4 chunks of the flat buffer (rows of 13 start mid-chunk; rows of
  // 3 share chunks with up to two neighbours; rows of 8 are whole chunks).
  { name: 'columns over vec4 chunks: last axis, rows of 13', shape: [70, 13], axis: -1 },
  { name: 'columns over vec4 chunks: rows of 3', shape: [2, 50, 3], axis: -1 },
  { name: 'columns over vec4 chunks: rows of 8', shape: [66, 8], axis: -1 },
];

for (const form of FORMS)
  t(`forward and backward, ${form.name} ${JSON.stringify(form.shape)}`, async () => {
    const n = form.shape.reduce((a, b) => a * b, 1);
    const base = ops.tensor(values(n, n), form.shape);
    const x = form.transpose ? ops.transpose(base) : base;
    const xe = await NdArray.fromTensor(x);
    const dy = ops.tensor(values(n, n + 1), x.shape);
    const dye = await NdArray.fromTensor(dy);
    const y = ops.softmax(x, form.axis);
    const ly = ops.logSoftmax(x, form.axis);
    // Long rows: sums of up to 300 terms add ~sqrt(300) ulps to the normaliser.
    await expectTensorClose(y, oracleSoftmax(xe, form.axis), { atol: 1e-6, rtol: 1e-4, what: 'softmax' });
    await expectTensorClose(ly, oracleLogSoftmax(xe, form.axis), { atol: 1e-5, rtol: 1e-5, what: 'logSoftmax' });
    const ye = await NdArray.fromTensor(y);
    const lye = await NdArray.fromTensor(ly);
    const dx = ops.softmaxBackward(y, dy, form.axis);
    const ldx = ops.logSoftmaxBackward(ly, dy, form.axis);
    await expectTensorClose(dx, oracleSoftmaxBackward(ye, dye, form.axis), { atol: 1e-5, rtol: 1e-4, what: 'softmaxBackward' });
    await expectTensorClose(ldx, oracleLogSoftmaxBackward(lye, dye, form.axis), { atol: 1e-4, rtol: 1e-4, what: 'logSoftmaxBackward' });
    for (const v of new Set([base, x, dy, y, ly, dx, ldx])) v.dispose();
  });

t('-inf entries give 0 (log: -inf); all -inf rows and NaN rows give NaN; both kernel forms', async () => {
  const rows = [
    [-Infinity, 1, 2],
    [-Infinity, -Infinity, -Infinity],
    [NaN, 0, 1],
    [Infinity, 0, -Infinity],
    [1000, -1000, 999],
  ];
  const expectedSoftmax = [
    [0, 1 / (1 + Math.E), Math.E / (1 + Math.E)],
    [NaN, NaN, NaN],
    [NaN, NaN, NaN],
    [NaN, NaN, NaN],
    [Math.E / (1 + Math.E), 0, 1 / (1 + Math.E)],
  ];
  const x = ops.tensor(rows);
  const y = ops.softmax(x);
  expectClose(await y.data(), expectedSoftmax.flat(), { ...PROB, what: 'softmax rows' });
  const ly = ops.logSoftmax(x);
  expectClose((await ly.data()).slice(0, 3), [-Infinity, -Math.log1p(Math.E), -Math.log1p(1 / Math.E)], { ...LOGPROB, what: 'logSoftmax' });
  expectClose((await ly.data()).slice(3, 12), new Array(9).fill(NaN), { what: 'logSoftmax NaN rows' });
  // The same rows as columns of a [3, 5 * 20] tensor (100 rows along axis 0: the one-invocation-per-row form).
  const wide = ops.tensor(
    [0, 1, 2].map((k) => rows.flatMap((r) => new Array(20).fill(r[k]!))),
    [3, 100],
  );
  const yc = ops.softmax(wide, 0);
  const got = await yc.data();
  for (let r = 0; r < rows.length; r++)
    for (let k = 0; k < 3; k++) expectClose([got[k * 100 + r * 20]!], [expectedSoftmax[r]![k]!], { ...PROB, what: `column form row ${r}` });
  // And as 100 contiguous rows of 3 (20 copies of each), the vec4 column form on CPU adapters: rows share
  // chunks, so a NaN or -inf must not leak into a neighbouring row.
  const tall = ops.tensor(rows.flatMap((r) => new Array(20).fill(r)), [100, 3]);
  const yt = await ops.softmax(tall, -1).data();
  const lyt = await ops.logSoftmax(tall, -1).data();
  for (let r = 0; r < rows.length; r++)
    for (const copy of [0, 7, 19]) {
      const at = (r * 20 + copy) * 3;
      expectClose(Array.from(yt.slice(at, at + 3)), expectedSoftmax[r]!, { ...PROB, what: `vec4 column form row ${r}` });
      if (r === 0) expectClose(Array.from(lyt.slice(at, at + 3)), [-Infinity, -Math.log1p(Math.E), -Math.log1p(1 / Math.E)], { ...LOGPROB, what: 'vec4 logSoftmax' });
    }
  for (const v of [x, y, ly, wide, yc, tall]) v.dispose();
});

t('the vec4 column forms: every other operand offset and row stride, chosen only where rows align', async () => {
  // Rows of x start at offsets 0, 4 or 2 (mod 4) of its buffer; the output's always at multiples of 13.
  const full = ops.tensor(values(80 * 17, 5), [80, 17]);
  const fe = await NdArray.fromTensor(full);
  for (const start of [0, 4, 2]) {
    const x = ops.narrow(full, 1, start, 13);
    const xe = sliceNd(fe, [null, { start, end: start + 13 }]);
    const y = ops.softmax(x, -1);
    const ly = ops.logSoftmax(x, -1);
    await expectTensorClose(y, oracleSoftmax(xe, -1), { atol: 1e-6, rtol: 1e-4, what: `softmax of columns ${start}..` });
    await expectTensorClose(ly, oracleLogSoftmax(xe, -1), { atol: 1e-5, rtol: 1e-5, what: `logSoftmax of columns ${start}..` });
    const dy = ops.narrow(full, 1, 4 - (start % 4), 13);
    const dye = sliceNd(fe, [null, { start: 4 - (start % 4), end: 17 - (start % 4) }]);
    const ye = await NdArray.fromTensor(y);
    const dx = ops.softmaxBackward(y, dy, -1);
    await expectTensorClose(dx, oracleSoftmaxBackward(ye, dye, -1), { atol: 1e-5, rtol: 1e-4, what: `softmaxBackward, dy from column ${4 - (start % 4)}` });
    for (const v of [x, y, ly, dy, dx]) v.dispose();
  }
  full.dispose();
  // The form each of those picks on a CPU adapter: vec4 chunks only where every row starts at the
  // output row's offset mod 4 (x's row stride 17 and the output's 13 are 4 apart).
  const spec = { dtype: 'f32' as const, shape: [80, 13], axis: 1, log: false, adapterClass: 'cpu' as const };
  const out = [13, 1];
  assert.is(softmaxLaunch(spec, { offset: 0, strides: [17, 1] }, out).entryPoint, 'softmax_cols4');
  assert.is(softmaxLaunch(spec, { offset: 2, strides: [17, 1] }, out).entryPoint, 'softmax_cols');
  assert.is(softmaxLaunch(spec, { offset: 0, strides: [15, 1] }, out).entryPoint, 'softmax_cols');
  assert.is(softmaxLaunch(spec, { offset: 0, strides: [1, 80] }, out).entryPoint, 'softmax_cols');
  assert.is(softmaxBackwardLaunch(spec, { offset: 0, strides: out }, { offset: 4, strides: [17, 1] }, out).entryPoint, 'backward_cols4');
  assert.is(softmaxBackwardLaunch(spec, { offset: 0, strides: out }, { offset: 3, strides: [17, 1] }, out).entryPoint, 'backward_cols');
  assert.is(softmaxLaunch({ ...spec, adapterClass: 'gpu' }, { offset: 0, strides: [17, 1] }, out).entryPoint, 'softmax_rows');
});

t('large magnitudes do not overflow; expanded (stride-0) axis; rank 0; empty', async () => {
  const big = ops.tensor([[80, 90, 100], [-1e30, 0, 1e30]]);
  expectClose(await ops.softmax(big).data(), [Math.exp(-20) / (1 + Math.exp(-10) + Math.exp(-20)), Math.exp(-10) / (1 + Math.exp(-10) + Math.exp(-20)), 1 / (1 + Math.exp(-10) + Math.exp(-20)), 0, 0, 1], { ...PROB, what: 'big' });
  const one = ops.tensor([[2.5]]);
  const expanded = ops.expand(one, [3, 4]);
  assert.equal(Array.from(await ops.softmax(expanded, 1).data()), new Array(12).fill(0.25));
  const scalar = ops.tensor(3);
  assert.is(await ops.softmax(scalar).item(), 1);
  assert.is(await ops.logSoftmax(scalar, 0).item(), 0);
  assert.equal(ops.softmax(scalar).shape, []);
  const empty = ops.zeros([0, 4]);
  assert.equal(ops.softmax(empty, 1).shape, [0, 4]);
  assert.equal(ops.softmaxBackward(empty, empty, 0).shape, [0, 4]);
  for (const v of [big, one, expanded, scalar, empty]) v.dispose();
});

t('f16: f32 math, outputs within f16 rounding', async () => {
  if (!hasF16()) {
    assert.throws(() => ops.tensor([1], [1], { dtype: 'f16' }), (e: unknown) => e instanceof DTypeError);
    return;
  }
  // [5, 197]: the row form (last axis) and the column form (axis 0); [70, 13]: the vec4 column form.
  for (const [shape, axis] of [[[5, 197], -1], [[5, 197], 0], [[70, 13], -1]] as const) {
    const n = shape[0] * shape[1];
    const x = ops.tensor(values(n, 9), [...shape], { dtype: 'f16' });
    const dy = ops.tensor(values(n, 10), [...shape], { dtype: 'f16' });
    const [xe, dye] = await Promise.all([NdArray.fromTensor(x), NdArray.fromTensor(dy)]);
    const y = ops.softmax(x, axis);
    const ly = ops.logSoftmax(x, axis);
    assert.is(y.dtype, 'f16');
    // One f16 rounding of each output: 2^-11 relative (plus subnormal spacing 6e-8 for tiny probabilities).
    await expectTensorClose(y, oracleSoftmax(xe, axis), { atol: 1e-6, rtol: 1e-3, what: 'f16 softmax' });
    await expectTensorClose(ly, oracleLogSoftmax(xe, axis), { atol: 1e-3, rtol: 1e-3, what: 'f16 logSoftmax' });
    const ye = await NdArray.fromTensor(y);
    const dx = ops.softmaxBackward(y, dy, axis);
    // |dx| <= |y| * 8: rounding to f16 costs ~4e-3 at most.
    await expectTensorClose(dx, oracleSoftmaxBackward(ye, dye, axis), { atol: 5e-3, rtol: 2e-3, what: 'f16 softmaxBackward' });
    for (const v of [x, dy, y, ly, dx]) v.dispose();
  }
});

t('GPU-class launch configuration (row workgroups up to 256, grid spill) gives the same results here', async () => {
  // The ops choose the kernel form from the adapter class; the 'gpu' choices (row workgroups of up to
  // 256 for unit-stride axes, one invocation per row for strided ones) run here on any adapter.
  // 70000 row workgroups exceed one grid dimension (65535): the grid spills into y.
  const rt = runtime();
  for (const [shape, axis] of [[[4, 300], 1], [[70, 40], 1], [[70, 40], 0], [[3, 1], 1], [[70000, 3], 1]] as const) {
    const n = shape[0] * shape[1];
    const x = ops.tensor(values(n, n + 3), [...shape]);
    const dy = ops.tensor(values(n, n + 4), [...shape]);
    const [xe, dye] = await Promise.all([NdArray.fromTensor(x), NdArray.fromTensor(dy)]);
    const strides = [shape[1], 1];
    const buf = (v: Tensor) => v.storage().buffer;
    for (const log of [false, true]) {
      const spec = { dtype: 'f32' as const, shape, axis, log, adapterClass: 'gpu' as const };
      const y = empty([...shape], 'f32');
      const dx = empty([...shape], 'f32');
      rt.run(softmaxLaunch(spec, { offset: 0, strides }, strides), [buf(x), buf(y)]);
      rt.run(softmaxBackwardLaunch(spec, { offset: 0, strides }, { offset: 0, strides }, strides), [buf(y), buf(dy), buf(dx)]);
      const ye = log ? oracleLogSoftmax(xe, axis) : oracleSoftmax(xe, axis);
      await expectTensorClose(y, ye, { atol: 1e-5, rtol: 1e-4, what: `gpu-class forward ${shape} axis ${axis} log ${log}` });
      const dxe = log ? oracleLogSoftmaxBackward(ye, dye, axis) : oracleSoftmaxBackward(ye, dye, axis);
      await expectTensorClose(dx, dxe, { atol: 1e-4, rtol: 1e-4, what: `gpu-class backward ${shape} axis ${axis} log ${log}` });
      for (const v of [y, dx]) v.dispose();
    }
    for (const v of [x, dy]) v.dispose();
  }
});


t('error paths are typed and name the op', () => {
  const x = ops.zeros([2, 3]);
  const xi = ops.zeros([2, 3], { dtype: 'i32' });
  assertThrows(() => ops.softmax(x, 2), ArgumentError, /softmax: axis 2 out of range for rank 2/);
  assertThrows(() => ops.logSoftmax(x, -3), ArgumentError, /logSoftmax: axis -3/);
  assertThrows(() => ops.softmax(x, 0.5), ArgumentError, /axis 0.5/);
  assertThrows(() => ops.softmax(xi), DTypeError, /softmax: x must be f32 or f16, got i32/);
  assertThrows(() => ops.logSoftmax(xi), DTypeError, /logSoftmax/);
  assertThrows(() => ops.softmaxBackward(x, ops.zeros([3, 2])), ShapeError, /softmaxBackward: dy has shape \[3,2\], y \[2,3\]/);
  assertThrows(() => ops.logSoftmaxBackward(x, xi), DTypeError, /logSoftmaxBackward: dy is i32 but y is f32/);
  assertThrows(() => ops.softmaxBackward(xi, xi), DTypeError, /y must be f32 or f16/);
  assertThrows(() => ops.softmaxBackward(x, x, 5), ArgumentError, /axis 5/);
  const gone: Tensor = ops.zeros([2]);
  gone.dispose();
  assertThrows(() => ops.softmax(gone), DisposedError, /softmax/);
  for (const v of [x, xi]) v.dispose();
});

t.run();
