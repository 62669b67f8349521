import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ops, empty, hasF16, manualSeed, Generator, ShapeError, DTypeError, ArgumentError, type Tensor } from '../../engine/index.js';
import { assertRejects, assertThrows, testDevice } from '../helpers.js';
import { NdArray, arbShape, arbFloats, expectClose, roundTo } from '../oracle.js';

const t = suite('engine: creation and readback');
t.before(async () => {
  await testDevice();
});


async function values(x: Tensor): Promise<number[]> {
  try {
    return Array.from(await x.data());
  } finally {
    x.dispose();
  }
}

t('tensor() from nested, flat and typed arrays infers shape and dtype', async () => {
  const cases: [Tensor, number[], string, number[]][] = [
    [ops.tensor(3.5), [], 'f32', [3.5]],
    [ops.tensor([[1, 2, 3], [4, 5, 6]]), [2, 3], 'f32', [1, 2, 3, 4, 5, 6]],
    [ops.tensor([1, 2, 3, 4, 5, 6], [3, 2]), [3, 2], 'f32', [1, 2, 3, 4, 5, 6]],
    [ops.tensor(new Float32Array([1.5, 2.5])), [2], 'f32', [1.5, 2.5]],
    [ops.tensor(new Float64Array([0.1])), [1], 'f32', [Math.fround(0.1)]],
    [ops.tensor(new Int32Array([-1, 7]), [2, 1]), [2, 1], 'i32', [-1, 7]],
    [ops.tensor(new Uint8Array([255, 1])), [2], 'u32', [255, 1]],
    [ops.tensor([new Float32Array([1, 2]), new Float32Array([3, 4])]), [2, 2], 'f32', [1, 2, 3, 4]],
    [ops.tensor([[1, 2]], undefined, { dtype: 'i32' }), [1, 2], 'i32', [1, 2]],
    [ops.tensor([]), [0], 'f32', []],
    [ops.tensor([[], []]), [2, 0], 'f32', []],
    [ops.tensor(7, [1, 1]), [1, 1], 'f32', [7]],
  ];
  for (const [x, shape, dtype, expected] of cases) {
    assert.equal(x.shape, shape);
    assert.is(x.dtype, dtype);
    assert.equal(await values(x), expected);
  }
});

t('tensor() refuses ragged nesting, wrong counts, non-numbers and out-of-range integers', () => {
  assertThrows(() => ops.tensor([[1, 2], [3]]), ShapeError, /^tensor: ragged nested array at \[1\]: expected length 2 for shape \[2,2\]/);
  assertThrows(() => ops.tensor([[1, 2], 3] as never), ShapeError, /^tensor: ragged nested array at \[1\]/);
  assertThrows(() => ops.tensor([1, 2, 3], [2, 2]), ShapeError, /^tensor: 3 values do not fill shape \[2,2\] \(4 elements\)/);
  assertThrows(() => ops.tensor([1, 'a'] as never), ArgumentError, /^tensor: element \[1\] is string, expected a number/);
  assertThrows(() => ops.tensor([2147483648], undefined, { dtype: 'i32' }), DTypeError, /^tensor: value 2147483648 at flat index 0 is not representable as i32/);
  assertThrows(() => ops.tensor([1, -1], undefined, { dtype: 'u32' }), DTypeError, /^tensor: value -1 at flat index 1 is not representable as u32/);
  assertThrows(() => ops.tensor([0.5], undefined, { dtype: 'i32' }), DTypeError, /not representable as i32/);
  assertThrows(() => ops.tensor([NaN], undefined, { dtype: 'u32' }), DTypeError, /value NaN/);
  assertThrows(() => ops.tensor([1], [-1]), ShapeError, /^tensor: invalid shape \[-1\]/);
  assertThrows(() => ops.tensor([1], undefined, { dtype: 'f64' as never }), DTypeError, /^tensor: unknown dtype 'f64'/);
  // The raw flat constructor, called from plain JavaScript without its dtype argument.
  assertThrows(() => ops.fromFlat([1], [1], undefined as never), DTypeError, /^tensor: unknown dtype 'undefined'/);
  assertThrows(() => empty([2], 'f64' as never), DTypeError, /^empty: unknown dtype 'f64'/);
  assertThrows(() => ops.full([2], 1.5, { dtype: 'i32' }), DTypeError, /^full: value 1.5/);
  assertThrows(() => ops.full([2], -1, { dtype: 'u32' }), DTypeError, /^full: value -1/);
});

t('zeros / ones / full / arange / linspace / eye', async () => {
  assert.equal(await values(ops.zeros([2, 2])), [0, 0, 0, 0]);
  assert.equal(await values(ops.ones([3], { dtype: 'i32' })), [1, 1, 1]);
  assert.equal(await values(ops.full([2, 1], -2.5)), [-2.5, -2.5]);
  assert.equal(await values(ops.full([2], 4000000000, { dtype: 'u32' })), [4000000000, 4000000000]);
  const ar = ops.arange(5);
  assert.is(ar.dtype, 'i32');
  assert.equal(await values(ar), [0, 1, 2, 3, 4]);
  assert.equal(await values(ops.arange(2, -3, -2)), [2, 0, -2]);
  assert.equal(await values(ops.arange(0, 1, 0.25)), [0, 0.25, 0.5, 0.75]);
  assert.equal(await values(ops.arange(3, 3)), []);
  assert.equal(await values(ops.arange(0, 3, 1, { dtype: 'f32' })), [0, 1, 2]);
  expectClose(await values(ops.linspace(-1, 1, 5)), [-1, -0.5, 0, 0.5, 1], { atol: 0, rtol: 0 });
  assert.equal(await values(ops.linspace(2, 3, 1)), [2]);
  assert.equal(await values(ops.linspace(2, 3, 0)), []);
  assert.equal(await values(ops.eye(2, 3)), [1, 0, 0, 0, 1, 0]);
  assert.equal(await values(ops.eye(3, undefined, { dtype: 'u32' })), [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  assertThrows(() => ops.arange(0, 1, 0), ArgumentError, /^arange: step must be finite and non-zero, got 0/);
  assertThrows(() => ops.linspace(0, 1, -1), ArgumentError, /^linspace: count must be an integer >= 0/);
  assertThrows(() => ops.eye(-1), ShapeError, /^eye: invalid shape/);
  assertThrows(() => ops.randint(3, 3, [2]), ArgumentError, /^randint: need integers low < high, got 3, 3/);
});

t('zeros are cleared on the device: reused buffers, every dtype, odd f16 lengths, views; -0 keeps its sign', async () => {
  // The pool hands out freed buffers again: a zeros tensor of the same size must not show their contents.
  for (const dtype of ['f32', 'i32', 'u32', ...(hasF16() ? ['f16' as const] : [])] as const) {
    for (const n of [1, 3, 7, 1000]) {
      ops.full([n], 5, { dtype }).dispose();
      const z = ops.zeros([n], { dtype });
      assert.is(z.dtype, dtype);
      assert.equal(await values(z), new Array(n).fill(0), `${dtype} x ${n}`);
    }
  }
  const z = ops.zeros([4, 6]);
  assert.equal(await values(ops.slice(z, [{ start: 1, end: 3 }, { start: 2, end: 5 }])), [0, 0, 0, 0, 0, 0]);
  z.dispose();
  assert.equal(await values(ops.zeros([0, 3])), []);
  const negativeZero = await ops.full([2], -0).data();
  assert.ok(Object.is(negativeZero[0], -0) && Object.is(negativeZero[1], -0), 'full(-0) keeps the sign bit');
});

t('rand/randn/randint are reproducible under manualSeed and differ across seeds', async () => {
  const draw = async (seed: number) => {
    manualSeed(seed);
    return [await values(ops.rand([257])), await values(ops.randn([3, 5])), await values(ops.randint(-3, 4, [64]))];
  };
  const a = await draw(123);
  const b = await draw(123);
  const c = await draw(124);
  assert.equal(a, b, 'same seed, same data');
  for (let k = 0; k < 3; k++) assert.not.equal(a[k], c[k], 'different seed, different data');
  assert.ok(a[0]!.every((v) => v >= 0 && v < 1), 'rand in [0, 1)');
  assert.ok(a[2]!.every((v) => Number.isInteger(v) && v >= -3 && v < 4), 'randint in [low, high)');
  // A private generator does not disturb the global stream.
  manualSeed(5);
  const first = await values(ops.rand([4]));
  manualSeed(5);
  await values(ops.rand([4], { generator: new Generator(99) }));
  assert.equal(await values(ops.rand([4])), first);
  const scaled = await values(ops.rand([100], { low: -2, high: -1 }));
  assert.ok(scaled.every((v) => v >= -2 && v < -1));
});

t('randn has mean ~0 and std ~1 (and honours mean/std)', async () => {
  manualSeed(2024);
  const n = 20000;
  const v = await values(ops.randn([n], { mean: 3, std: 2 }));
  const mean = v.reduce((s, x) => s + x, 0) / n;
  const std = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
  // Standard errors: mean 2/sqrt(n) = 0.014, std ~ 2/sqrt(2n) = 0.01; 5 sigma bounds.
  assert.ok(Math.abs(mean - 3) < 0.07, `mean ${mean}`);
  assert.ok(Math.abs(std - 2) < 0.05, `std ${std}`);
  // About 68.3% within one std.
  const within = v.filter((x) => Math.abs(x - 3) < 2).length / n;
  assert.ok(Math.abs(within - 0.6827) < 0.02, `within 1 std: ${within}`);
});

t('readback: data/item/toArray, f16 of odd lengths and offsets', async () => {
  const x = ops.tensor([[1, 2, 3], [4, 5, 6]]);
  assert.equal(await x.toArray(), [[1, 2, 3], [4, 5, 6]]);
  const s = ops.tensor(4.25);
  assert.is(await s.item(), 4.25);
  assert.is(await s.toArray(), 4.25);
  const one = ops.slice(x, [1, 2]);
  assert.is(await one.item(), 6);
  await assertRejects(x.item(), ShapeError, /^item: tensor of shape \[2,3\] has 6 elements, expected 1/);
  assert.equal(await ops.tensor([[[]]]).toArray(), [[[]]]);
  const ints = ops.tensor([[-1, 2]], undefined, { dtype: 'i32' });
  const ia = await ints.data();
  assert.ok(ia instanceof Int32Array);
  assert.equal(await ints.toArray(), [[-1, 2]]);
  for (const v of [x, s, one, ints]) v.dispose();
  if (!hasF16()) return;
  await fc.assert(
    fc.asyncProperty(
      arbShape({ minRank: 1, maxRank: 2 }).chain((shape) => fc.tuple(fc.constant(shape), arbFloats(shape.reduce((a, b) => a * b, 1), { min: -70000, max: 70000 }))),
      fc.integer({ min: 0, max: 3 }),
      async ([shape, data], start) => {
        const h = ops.tensor(data, shape, { dtype: 'f16' });
        const flat = ops.flatten(h);
        const n = flat.shape[0]!;
        const from = Math.min(start, n - 1);
        const sub = ops.narrow(flat, 0, from, n - from);
        try {
          const expected = roundTo('f16', data);
          expectClose(await h.data(), expected, { atol: 0, rtol: 0, what: 'f16 readback' });
          expectClose(await sub.data(), expected.slice(from), { atol: 0, rtol: 0, what: `f16 readback at offset ${from}` });
          assert.equal(await sub.toArray(), Array.from(expected.slice(from)));
        } finally {
          for (const v of [h, flat, sub]) v.dispose();
        }
      },
    ),
    { numRuns: 20 },
  );
  const nd = await NdArray.fromTensor(ops.tensor([65504, 65520, -1e-8, 6e-8], undefined, { dtype: 'f16' }));
  assert.equal(Array.from(nd.data), [65504, Infinity, -0, 5.960464477539063e-8]);
});

t.run();
