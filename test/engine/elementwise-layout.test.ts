import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { empty, hasF16, ops, runtime, type Tensor } from '../../engine/index.js';
import { MAP_TUNING, mapBindings, mapLaunch, type MapSpec } from '../../kernels/elementwise.js';
import { testDevice } from '../helpers.js';

// The elementwise kernel reads operands as vec4s or as scalars depending on alignment, steps a cursor
// across rows, splits work by adapter class and writes whole vec4s. These tests walk the boundaries of
// those choices. Values are small integers, so every result here is exact in f32 and f16 (atol 0).

const t = suite('engine: elementwise layouts');
t.before(async () => {
  await testDevice();
});

/** Row-major values i % 23 - 11 of a [rows, cols] tensor, as stored and as the oracle sees them. */
function grid(rows: number, cols: number, dtype: 'f32' | 'f16' | 'i32' = 'f32'): { t: Tensor; at: (r: number, c: number) => number } {
  const values = Array.from({ length: rows * cols }, (_, i) => (i % 23) - 11);
  return { t: ops.tensor(values, [rows, cols], { dtype }), at: (r, c) => values[r * cols + c]! };
}

async function expectValues(out: Tensor, expected: (i: number) => number, what: string): Promise<void> {
  const got = Array.from(await out.data());
  assert.equal(got, Array.from({ length: got.length }, (_, i) => expected(i)), what);
}

// The shapes cross every choice: inner extent a multiple of 4 or not, row slices starting on and off a
// multiple of 4 (vec4 loads vs scalar loads), bias and per-row broadcasts (splat), transposes (gather),
// and sizes around one invocation's and one workgroup's share of units.
t('same-shape, bias, per-row, sliced and transposed maps match the oracle on either side of every layout choice', async () => {
  await fc.assert(
    fc.asyncProperty(
      // One row coalesces to rank 1, where the slice offset alone decides between vec4 and scalar loads.
      fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 40 })),
      fc.integer({ min: 1, max: 70 }),
      fc.integer({ min: 0, max: 5 }),
      fc.constantFrom('same', 'bias', 'row', 'scalar', 'transposed'),
      async (rows, cols, skip, kind) => {
        const a = grid(rows, cols + skip);
        const av = ops.slice(a.t, [null, { start: skip }]);
        const ar = (r: number, c: number): number => a.at(r, c + skip);
        const b = kind === 'transposed' ? grid(cols, rows) : kind === 'bias' ? grid(1, cols) : kind === 'row' ? grid(rows, 1) : kind === 'scalar' ? grid(1, 1) : grid(rows, cols);
        const bv = kind === 'transposed' ? ops.transpose(b.t) : kind === 'bias' ? ops.reshape(b.t, [cols]) : kind === 'scalar' ? ops.reshape(b.t, []) : b.t;
        const br = (r: number, c: number): number =>
          kind === 'transposed' ? b.at(c, r) : kind === 'bias' ? b.at(0, c) : kind === 'row' ? b.at(r, 0) : kind === 'scalar' ? b.at(0, 0) : b.at(r, c);
        const sum = ops.add(av, bv);
        const neg = ops.neg(av);
        const what = `${kind} [${rows}, ${cols}] from column ${skip}`;
        try {
          await expectValues(sum, (i) => ar(Math.floor(i / cols), i % cols) + br(Math.floor(i / cols), i % cols), `add ${what}`);
          await expectValues(neg, (i) => -ar(Math.floor(i / cols), i % cols), `neg ${what}`);
        } finally {
          for (const x of [a.t, b.t, sum, neg]) x.dispose();
        }
      },
    ),
    { numRuns: 40 },
  );
});

t('large rank-2 maps: rows wrap inside an invocation, a tail shorter than a vec4, three operands', async () => {
  // 2051 rows of 12: 24612 elements, many invocations on either adapter class, rows of 3 vec4s.
  const x = grid(2051, 12);
  const bias = grid(1, 12);
  const cond = ops.tensor(Array.from({ length: 12 }, (_, c) => c % 3), [12], { dtype: 'u32' });
  const biasRow = ops.reshape(bias.t, [12]);
  const out = ops.where(cond, x.t, biasRow);
  await expectValues(out, (i) => (i % 12) % 3 !== 0 ? x.at(Math.floor(i / 12), i % 12) : bias.at(0, i % 12), 'where [2051, 12]');
  // 4097 elements: the last vec4 holds one element.
  const odd = grid(1, 4097);
  const sq = ops.square(odd.t);
  await expectValues(sq, (i) => odd.at(0, i) ** 2, 'square [1, 4097]');
  for (const v of [x.t, bias.t, cond, out, odd.t, sq]) v.dispose();
});

t('integer and f16 operands take the vec4 and scalar paths alike', async () => {
  const dtypes = hasF16() ? (['i32', 'f16'] as const) : (['i32'] as const);
  for (const dtype of dtypes) {
    for (const cols of [8, 7]) {
      const a = grid(9, cols, dtype);
      const b = grid(1, cols, dtype);
      const out = ops.sub(a.t, ops.reshape(b.t, [cols]));
      assert.is(out.dtype, dtype);
      await expectValues(out, (i) => a.at(Math.floor(i / cols), i % cols) - b.at(0, i % cols), `sub ${dtype} [9, ${cols}]`);
      for (const v of [a.t, b.t, out]) v.dispose();
    }
  }
});

t('every adapter class tuning gives the same result on this device', async () => {
  const rt = runtime();
  const x = grid(37, 61);
  const xt = ops.transpose(x.t);
  const spec: MapSpec = { name: 'layout_test_neg', expr: '-x', out: 'f32', widen: true };
  for (const adapterClass of Object.keys(MAP_TUNING) as (keyof typeof MAP_TUNING)[]) {
    for (const [view, at] of [
      [x.t, (i: number) => x.at(Math.floor(i / 61), i % 61)],
      [xt, (i: number) => x.at(i % 37, Math.floor(i / 37))],
    ] as const) {
      const out = empty(view.shape, 'f32');
      rt.run(mapLaunch(spec, view.shape, [{ dtype: 'f32', strides: view.strides, offset: view.offset }], adapterClass), mapBindings([view.storage().buffer], out.storage().buffer));
      await expectValues(out, (i) => -at(i), `neg [${view.shape}] tuned for ${adapterClass}`);
      out.dispose();
    }
  }
  x.t.dispose();
});

t('contiguousCopy of contiguous ranges at any offset, f16 with odd offsets and lengths, and empty tensors', async () => {
  const dtypes = hasF16() ? (['f32', 'f16'] as const) : (['f32'] as const);
  for (const dtype of dtypes) {
    const x = grid(5, 7, dtype);
    for (const [start, end] of [[0, 5], [1, 4], [2, 3], [3, 5]] as const) {
      // Rows [start, end): offsets 0, 7, 14, 21 elements; odd ones are 2-byte aligned in f16.
      const view = ops.slice(x.t, [{ start, end }]);
      const copy = ops.contiguousCopy(view);
      assert.is(copy.offset, 0);
      assert.ok(copy.isContiguous);
      await expectValues(copy, (i) => x.at(start + Math.floor(i / 7), i % 7), `${dtype} rows ${start}..${end}`);
      copy.dispose();
    }
    // A single odd-offset element and an empty slice.
    const one = ops.contiguousCopy(ops.slice(x.t, [1, { start: 4, end: 5 }]));
    await expectValues(one, () => x.at(1, 4), `${dtype} element (1, 4)`);
    const none = ops.contiguousCopy(ops.slice(x.t, [{ start: 2, end: 2 }]));
    assert.equal(none.shape, [0, 7]);
    assert.is((await none.data()).length, 0);
    for (const v of [x.t, one, none]) v.dispose();
  }
});

t.run();
