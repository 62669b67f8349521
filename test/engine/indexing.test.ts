import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { deviceInfo, empty, ops, hasF16, runtime, ArgumentError, DTypeError, DisposedError, ShapeError, type DType, type Tensor } from '../../engine/index.js';
import { indexAddPlan, type IndexAddBuffer } from '../../kernels/index-add.js';
import { gatherLaunch } from '../../kernels/indexing.js';
import { testDevice } from '../helpers.js';
import { NdArray, arbShape, arbTensorCaseOf, expectClose, materialize, roundTo, sizeOf, stridesOf, unravel } from '../oracle.js';

const t = suite('engine: indexing');
let types: DType[] = ['f32', 'i32'];
t.before(async () => {
  await testDevice();
  if (hasF16()) types = ['f32', 'f16', 'i32'];
});

const EXACT = { atol: 0, rtol: 0 };
const poisonOf = (dtype: DType) => (dtype === 'i32' || dtype === 'u32' ? 0 : NaN);

/** The same i32 values made by a kernel (x + 0): the bounds recorded at upload do not follow them. */
function gpuComputed(t: Tensor): Tensor {
  try {
    const y = ops.add(t, 0);
    assert.is(y.dtype, 'i32');
    return y;
  } finally {
    t.dispose();
  }
}

/** out[pos] = f(pos) over `shape`, as float64. */
function build(shape: readonly number[], f: (idx: number[]) => number): NdArray {
  return NdArray.filled(shape, (i) => f(unravel(i, shape)));
}

function concatRef(parts: NdArray[], axis: number): NdArray {
  const shape = [...parts[0]!.shape];
  shape[axis] = parts.reduce((n, p) => n + p.shape[axis]!, 0);
  return build(shape, (idx) => {
    let k = idx[axis]!;
    for (const p of parts) {
      if (k < p.shape[axis]!) return p.at(...idx.map((v, d) => (d === axis ? k : v)));
      k -= p.shape[axis]!;
    }
    throw new Error('unreachable');
  });
}

t('concat of strided views along any axis (sizes 0 and 1 included) matches the host', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...types).chain((dtype) =>
        arbShape({ minRank: 1, maxRank: 3, maxDim: 5 }).chain((base) =>
          fc.integer({ min: 0, max: base.length - 1 }).chain((axis) =>
            fc.tuple(
              fc.constant(axis),
              fc.array(
                fc.integer({ min: 0, max: 4 }).chain((n) => arbTensorCaseOf(base.map((d, i) => (i === axis ? n : d)), dtype)),
                { minLength: 1, maxLength: 3 },
              ),
            ),
          ),
        ),
      ),
      async ([axis, cases]) => {
        const made = cases.map(materialize);
        const y = ops.concat(made.map((m) => m.tensor), axis - made[0]!.tensor.rank);
        try {
          const expected = concatRef(made.map((m) => m.expected), axis);
          assert.equal([...y.shape], [...expected.shape]);
          expectClose(await y.data(), expected.data, EXACT);
        } finally {
          y.dispose();
          for (const m of made) m.tensor.dispose();
        }
      },
    ),
    { numRuns: 40 },
  );
});

t('concat copies in 16-byte units where rows are 4-aligned (every dtype), element by element where not', async () => {
  for (const dtype of types) {
    // [6, 8] and a [6, 12] view with row stride 16 joined along axis 1: every run and offset 4-aligned,
    // the output rows (20) too; then an [6, 3] part makes the output rows unaligned.
    const a = ops.reshape(ops.arange(0, 48, 1, { dtype }), [6, 8]);
    const bStore = ops.reshape(ops.arange(100, 196, 1, { dtype }), [6, 16]);
    const b = ops.slice(bStore, [null, { start: 4 }]);
    const c = ops.reshape(ops.arange(200, 218, 1, { dtype }), [6, 3]);
    const ra = build([6, 8], ([i, j]) => i! * 8 + j!);
    const rb = build([6, 12], ([i, j]) => 100 + i! * 16 + 4 + j!);
    const rc = build([6, 3], ([i, j]) => 200 + i! * 3 + j!);
    for (const [parts, refs] of [[[a, b], [ra, rb]], [[a, b, c], [ra, rb, rc]], [[b, a], [rb, ra]]] as const) {
      const y = ops.concat([...parts], 1);
      expectClose(await y.data(), concatRef([...refs], 1).data, EXACT);
      y.dispose();
    }
    // Along axis 0 every part is one contiguous run.
    const rows = ops.concat([a, a], 0);
    expectClose(await rows.data(), concatRef([ra, ra], 0).data, EXACT);
    for (const x of [a, bStore, b, c, rows]) x.dispose();
  }
});

t('concat, gather and scatterAdd over long rows: invocations step within rows, across rows and past workgroups', async () => {
  // On CPU adapters an invocation takes 32 consecutive positions: rows of 45, 19 and 70 elements make it
  // cross rows mid-run and resume on the next, over several workgroups (numel > 512).
  const made: Tensor[] = [];
  const grid = (rows: number, cols: number) => {
    made.push(ops.arange(0, rows * cols));
    return ops.reshape(made[made.length - 1]!, [rows, cols]);
  };
  const [p, rp] = [grid(7, 45), build([7, 45], ([i, j]) => i! * 45 + j!)];
  const wide = grid(19, 14);
  const q = ops.transpose(ops.slice(wide, [null, { step: 2 }])); // [7, 19], strides (2, 14)
  const rq = build([7, 19], ([i, j]) => j! * 14 + i! * 2);
  for (const axis of [0, 1]) {
    const parts = axis === 1 ? [p, q] : [p, ops.slice(p, [{ start: 2 }])];
    const refs = axis === 1 ? [rp, rq] : [rp, build([5, 45], ([i, j]) => (i! + 2) * 45 + j!)];
    const y = ops.concat(parts, axis);
    expectClose(await y.data(), concatRef(refs, axis).data, EXACT);
    y.dispose();
    if (axis === 0) parts[1]!.dispose();
  }
  const table = grid(50, 70);
  const rows = [49, 0, 7, 7, 23, 1, 48, 30, 12];
  const picked = ops.indexSelect(table, 0, rows);
  expectClose(await picked.data(), build([rows.length, 70], ([i, j]) => rows[i!]! * 70 + j!).data, EXACT);
  const cols = ops.indexSelect(table, 1, [69, 3, 3, 40]); // a gather along the inner dim: stride 70
  expectClose(await cols.data(), build([50, 4], ([i, j]) => i! * 70 + [69, 3, 3, 40][j!]!).data, EXACT);
  // Its backward: the picked rows added back (row 7 twice), the index broadcast along the rows.
  const rowIds = ops.tensor(rows, [rows.length, 1], { dtype: 'i32' });
  const index = ops.expand(rowIds, [rows.length, 70]);
  const summed = ops.scatterAdd([50, 70], 0, index, picked);
  const times = (r: number) => rows.filter((v) => v === r).length;
  expectClose(await summed.data(), build([50, 70], ([i, j]) => times(i!) * (i! * 70 + j!)).data, EXACT);
  for (const x of [p, wide, q, table, picked, cols, rowIds, index, summed, ...made]) x.dispose();
});

t('stack inserts a new axis', async () => {
  const a = ops.tensor([[1, 2], [3, 4]]);
  const b = ops.transpose(a);
  assert.equal(await ops.stack([a, b]).toArray(), [[[1, 2], [3, 4]], [[1, 3], [2, 4]]]);
  assert.equal(await ops.stack([a, b], -1).toArray(), [[[1, 1], [2, 3]], [[3, 2], [4, 4]]]);
  assert.equal(ops.stack([ops.tensor(1), ops.tensor(2)]).shape, [2]);
});

t('indexSelect with tensor (strided) and host indices; out-of-range rows are poison', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...types).chain((dtype) =>
        arbShape({ minRank: 1, maxRank: 3, maxDim: 5 }).chain((s) =>
          fc.tuple(
            arbTensorCaseOf(s, dtype),
            fc.integer({ min: 0, max: s.length - 1 }),
            fc.array(fc.integer({ min: -2, max: 7 }), { maxLength: 6 }),
            fc.boolean(),
          ),
        ),
      ),
      async ([c, axis, picks, stepped]) => {
        const { tensor, expected } = materialize(c);
        const size = c.shape[axis]!;
        const valid = picks.map((k) => ((k % size) + size) % size);
        // A stepped view of a longer index tensor exercises index strides.
        const backing = ops.tensor(Int32Array.from(picks.flatMap((k) => [k, 99])), [picks.length * 2], { dtype: 'i32' });
        const index = stepped ? ops.slice(backing, [{ step: 2 }]) : ops.slice(backing, [{ end: 0 }]);
        const fromTensor = stepped ? ops.indexSelect(tensor, axis, index) : null;
        const fromHost = ops.indexSelect(tensor, axis, valid);
        try {
          const shape = [...c.shape];
          shape[axis] = picks.length;
          const ref = (ks: number[]) =>
            build(shape, (idx) => {
              const k = ks[idx[axis]!]!;
              return k < 0 || k >= size ? poisonOf(c.dtype) : expected.at(...idx.map((v, d) => (d === axis ? k : v)));
            });
          expectClose(await fromHost.data(), ref(valid).data, EXACT);
          if (fromTensor) {
            assert.equal([...fromTensor.shape], shape);
            expectClose(await fromTensor.data(), ref(picks).data, EXACT);
          }
        } finally {
          for (const x of [tensor, backing, index, fromHost, fromTensor]) x?.dispose();
        }
      },
    ),
    { numRuns: 40 },
  );
});

t('embeddingLookup: ids of any shape pick rows of the table', async () => {
  const table = ops.tensor([[0, 1], [10, 11], [20, 21]]);
  const ids = ops.tensor([[2, 0], [1, 1]], undefined, { dtype: 'i32' });
  assert.equal(await ops.embeddingLookup(table, ids).toArray(), [[[20, 21], [0, 1]], [[10, 11], [10, 11]]]);
  assert.equal(await ops.embeddingLookup(table, [1]).toArray(), [[10, 11]]);
});

t('row lookups (indexSelect, embeddingLookup) copy 16-byte units where rows are 4-aligned (every dtype), elements where not', async () => {
  const picks = [3, -1, 0, 6, 7, 3];
  for (const dtype of types) {
    // A [7, 16] store; views of it: the whole table, its first 12 columns (row stride 16), columns 2..13
    // (offset 2: unaligned) and columns 0..5 (rows of 6).
    const store = ops.reshape(ops.arange(0, 112, 1, { dtype }), [7, 16]);
    const views: [string, Tensor, number, number, boolean][] = [
      ['[7, 16]', store, 0, 16, true],
      ['first 12 columns', ops.slice(store, [null, { end: 12 }]), 0, 12, true],
      ['columns 2..13', ops.slice(store, [null, { start: 2, end: 14 }]), 2, 12, false],
      ['columns 0..5', ops.slice(store, [null, { end: 6 }]), 0, 6, false],
    ];
    // Computed on the GPU (ids + 0), so the host knows nothing of them and the kernels' poison shows.
    const ids = gpuComputed(ops.tensor(Int32Array.from(picks), [2, 3], { dtype: 'i32' }));
    for (const [name, table, start, width, unitCopies] of views) {
      const launch = gatherLaunch(dtype, [picks.length, width], 7, 16, { offset: start, strides: [0, 1] }, { offset: 0, strides: [1, 0] });
      assert.is(launch.entryPoint, unitCopies ? 'gather_vec4' : 'gather', `${name}: kernel`);
      const ref = build([2, 3, width], ([i, j, c]) => {
        const k = picks[i! * 3 + j!]!;
        return k < 0 || k >= 7 ? poisonOf(dtype) : k * 16 + start + c!;
      });
      const rows = ops.embeddingLookup(table, ids);
      expectClose(await rows.data(), ref.data, { ...EXACT, what: `${dtype} ${name}` });
      rows.dispose();
    }
    // Along axis 1 of [2, 7, 8] (axis stride 8): units within each picked row of every outer slice.
    const cube = ops.reshape(ops.arange(0, 112, 1, { dtype }), [2, 7, 8]);
    const picked = ops.indexSelect(cube, 1, [6, 0, 6]);
    expectClose(await picked.data(), build([2, 3, 8], ([b, j, c]) => b! * 56 + [6, 0, 6][j!]! * 8 + c!).data, { ...EXACT, what: `${dtype} axis 1` });
    for (const x of new Set([store, ids, cube, picked, ...views.map((v) => v[1])])) x.dispose();
  }
});

t('gather (torch semantics) over strided inputs, poison for out-of-range indices', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...types).chain((dtype) =>
        arbShape({ minRank: 1, maxRank: 3, maxDim: 5 }).chain((s) =>
          fc.integer({ min: 0, max: s.length - 1 }).chain((axis) => {
            const idxShape = fc.tuple(...s.map((d, i) => fc.integer({ min: i === axis ? 0 : Math.min(d, 1), max: i === axis ? 4 : d })));
            return fc.tuple(
              arbTensorCaseOf(s, dtype),
              fc.constant(axis),
              idxShape.chain((is) => fc.tuple(fc.constant(is), fc.array(fc.integer({ min: -1, max: s[axis]! }), { minLength: sizeOf(is), maxLength: sizeOf(is) }))),
            );
          }),
        ),
      ),
      async ([c, axis, [idxShape, idxValues]]) => {
        const { tensor, expected } = materialize(c);
        const index = gpuComputed(ops.tensor(Int32Array.from(idxValues), idxShape, { dtype: 'i32' }));
        const y = ops.gather(tensor, axis, index);
        try {
          const size = c.shape[axis]!;
          const ref = build(idxShape, (idx) => {
            const k = idxValues[idx.reduce((f, v, d) => f + v * stridesOf(idxShape)[d]!, 0)]!;
            return k < 0 || k >= size ? poisonOf(c.dtype) : expected.at(...idx.map((v, d) => (d === axis ? k : v)));
          });
          assert.equal([...y.shape], [...idxShape]);
          expectClose(await y.data(), ref.data, EXACT);
        } finally {
          for (const x of [tensor, index, y]) x.dispose();
        }
      },
    ),
    { numRuns: 40 },
  );
});

// Tolerance: f32 atomic sums of at most a handful of values of magnitude <= 4: a few ulps (atol 1e-5).
// f16 sources accumulate in f32 and round once to f16 (rtol 2e-3). Integers are exact.
t('scatterAdd accumulates duplicates (the backward of gather), f32/f16/i32, strided src', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...types).chain((dtype) =>
        arbShape({ minRank: 1, maxRank: 3, maxDim: 4 }).chain((s) =>
          fc.integer({ min: 0, max: s.length - 1 }).chain((axis) =>
            fc.tuple(
              arbTensorCaseOf(s, dtype),
              fc.constant(axis),
              fc.integer({ min: 1, max: 3 }),
              fc.array(fc.integer({ min: -1, max: 3 }), { minLength: sizeOf(s), maxLength: sizeOf(s) }),
            ),
          ),
        ),
      ),
      async ([c, axis, targetSize, idxValues]) => {
        const { tensor: src, expected } = materialize(c);
        const index = ops.tensor(Int32Array.from(idxValues), c.shape, { dtype: 'i32' });
        const target = c.shape.map((d, i) => (i === axis ? targetSize : d));
        const y = ops.scatterAdd(target, axis, index, src);
        try {
          const out = new Float64Array(sizeOf(target));
          const ts = stridesOf(target);
          for (let i = 0; i < expected.size; i++) {
            const k = idxValues[i]!;
            if (k < 0 || k >= targetSize) continue; // skipped on the GPU
            const idx = unravel(i, c.shape);
            idx[axis] = k;
            out[idx.reduce((f, v, d) => f + v * ts[d]!, 0)] += expected.data[i]!;
          }
          assert.is(y.dtype, c.dtype);
          const tol = c.dtype === 'f16' ? { atol: 4e-3, rtol: 2e-3 } : c.dtype === 'i32' ? EXACT : { atol: 1e-5, rtol: 1e-6 };
          expectClose(await y.data(), c.dtype === 'f16' ? out.map((v) => Math.fround(v)) : out, tol);
        } finally {
          for (const x of [src, index, y]) x.dispose();
        }
      },
    ),
    { numRuns: 40 },
  );
});

t('scatterAdd with many collisions sums every contribution (atomic f32 and i32, and the whole-slice path)', async () => {
  const n = 5000;
  // A [n, 2] index of its own per element (not whole slices): the atomic kernel.
  const index = ops.zeros([n, 2], { dtype: 'i32' });
  const f = ops.scatterAdd([2, 2], 0, index, ops.ones([n, 2]));
  assert.equal(Array.from(await f.data()), [n, n, 0, 0]);
  const i = ops.scatterAdd([1, 2], 0, index, ops.ones([n, 2], { dtype: 'i32' }));
  assert.equal(Array.from(await i.data()), [n, n]);
  // A 1-D index names whole (one-element) slices: indexAdd.
  const line = ops.zeros([n], { dtype: 'i32' });
  assert.equal(Array.from(await ops.scatterAdd([2], 0, line, ops.ones([n])).data()), [n, 0]);
});

/**
 * torch's index_add into zeros, summed left to right in j as the kernel promises: f32 sums rounded after
 * every addition (f16: in f32, rounded to f16 once at the end), i32 sums wrapping. Out-of-range entries skip.
 */
function indexAddReference(dtype: DType, target: readonly number[], axis: number, index: readonly number[], src: NdArray): number[] {
  const outer = target.slice(0, axis).reduce((n, d) => n * d, 1);
  const inner = target.slice(axis + 1).reduce((n, d) => n * d, 1);
  const size = target[axis]!;
  const out = new Array<number>(outer * size * inner).fill(0);
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < index.length; j++) {
      const v = index[j]!;
      if (v < 0 || v >= size) continue;
      for (let i = 0; i < inner; i++) {
        const at = (o * size + v) * inner + i;
        const x = src.data[(o * index.length + j) * inner + i]!;
        out[at] = dtype === 'i32' ? (out[at]! + x) | 0 : Math.fround(out[at]! + x);
      }
    }
  return Array.from(roundTo(dtype, out));
}

t('indexAdd: left-to-right sums of every dtype and axis, duplicates, out-of-range entries, strided src and index', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...types).chain((dtype) =>
        arbShape({ minRank: 1, maxRank: 3, maxDim: 6 }).chain((s) =>
          fc.tuple(
            fc.constant(dtype),
            fc.constant(s),
            fc.integer({ min: 0, max: s.length - 1 }),
            fc.array(fc.integer({ min: -2, max: 8 }), { maxLength: 40 }),
            fc.boolean(),
          ),
        ),
      ),
      async ([dtype, target, axis, picks, transposed]) => {
        const srcShape = target.map((d, i) => (i === axis ? picks.length : d));
        const n = srcShape.reduce((a, b) => a * b, 1);
        const values = Array.from({ length: n }, (_, i) => (dtype === 'i32' ? ((i * 7) % 11) - 5 : Math.sin(i * 0.7) * 3));
        const expectedSrc = new NdArray(srcShape, roundTo(dtype, values));
        // When asked, the same values read through a permuted view (a non-contiguous src): stored with
        // the dims reversed, then permuted back.
        const reversed = [...srcShape].reverse();
        const flip = transposed && srcShape.length >= 2;
        const stored = flip
          ? ops.tensor(Array.from(NdArray.filled(reversed, (i) => expectedSrc.at(...unravel(i, reversed).reverse())).data), reversed, { dtype })
          : ops.tensor(values, srcShape, { dtype });
        const src = flip ? ops.permute(stored, srcShape.map((_, d) => srcShape.length - 1 - d)) : stored;
        // The index as a stepped view of a longer tensor (offset 1, stride 2).
        const backing = ops.tensor(Int32Array.from([99, ...picks.flatMap((k) => [k, 99])]), [1 + 2 * picks.length], { dtype: 'i32' });
        const index = ops.slice(backing, [{ start: 1, step: 2 }]);
        const y = ops.indexAdd(target, axis, index, src);
        try {
          assert.equal([...y.shape], [...target]);
          expectClose(await y.data(), indexAddReference(dtype, target, axis, picks, expectedSrc), { ...EXACT, what: `${dtype} [${target}] axis ${axis}` });
        } finally {
          for (const x of new Set([stored, src, backing, index, y])) x.dispose();
        }
      },
    ),
    { numRuns: 40 },
  );
});

t('indexAdd: many blocks, 1-3 sort passes, vec4 and scalar units, both adapter classes give the same bits', async () => {
  // 700 positions (3 blocks of 256) over targets of 300 (2 passes) and 70000 rows (3 passes) entries,
  // with runs of one key spread over all blocks; rows of 8 (vec4 units) and of 3.
  for (const [size, inner] of [[300, 8], [300, 3], [70000, 1]] as const) {
    const picks = Array.from({ length: 700 }, (_, j) => (j % 5 === 0 ? 17 : (j * 37) % (size + 3)) - 1);
    const values = Array.from({ length: 700 * inner }, (_, i) => Math.cos(i * 0.37) * 2);
    const src = ops.tensor(values, [700, inner]);
    const index = ops.tensor(Int32Array.from(picks), [700], { dtype: 'i32' });
    const expected = indexAddReference('f32', [size, inner], 0, picks, new NdArray([700, inner], roundTo('f32', values)));
    const y = ops.indexAdd([size, inner], 0, index, src);
    expectClose(await y.data(), expected, { ...EXACT, what: `indexAdd [${size}, ${inner}]` });
    // The other adapter class's split of the sums (one unit per invocation, or a line per invocation).
    const plan = indexAddPlan({ dtype: 'f32', n: 700, size, outer: 1, inner, indexOffset: 0, srcOffset: 0, adapterClass: deviceInfo().adapterClass === 'cpu' ? 'gpu' : 'cpu' });
    assert.is(plan.passes, size === 70000 ? 3 : 2);
    const scratch = {
      keysA: empty([700], 'u32'), posA: empty([700], 'u32'), keysB: empty([700], 'u32'), posB: empty([700], 'u32'),
      hist: empty([256 * plan.blocks], 'u32'), starts: empty([size + 1], 'u32'),
    };
    const other = empty([size, inner], 'f32');
    const buffers: Record<IndexAddBuffer, Tensor> = { ...scratch, index, src, out: other };
    for (const { launch, binds } of plan.launches) runtime().run(launch, binds.map((role) => buffers[role].storage('test').buffer));
    expectClose(await other.data(), expected, { ...EXACT, what: `indexAdd [${size}, ${inner}], the other class's launch` });
    for (const x of [src, index, y, other, ...Object.values(scratch)]) x.dispose();
  }
});

t('scatterAdd whose index names whole slices (expanded from 1-D) sums them left to right, as indexAdd', async () => {
  const picks = Array.from({ length: 600 }, (_, j) => (j % 3 === 0 ? 5 : (j * 13) % 41) - 1);
  const values = Array.from({ length: 600 * 6 }, (_, i) => Math.sin(i * 0.29) * 4);
  const src = ops.tensor(values, [600, 6]);
  const line = ops.tensor(Int32Array.from(picks), [600, 1], { dtype: 'i32' });
  const index = ops.expand(line, [600, 6]);
  const y = ops.scatterAdd([40, 6], 0, index, src);
  expectClose(await y.data(), indexAddReference('f32', [40, 6], 0, picks, new NdArray([600, 6], roundTo('f32', values))), { ...EXACT, what: 'scatterAdd rows' });
  // An index covering only part of src outside the axis keeps the atomic kernel; same sums up to order.
  const part = ops.slice(index, [null, { end: 4 }]);
  const z = ops.scatterAdd([40, 6], 0, part, src);
  const ref = indexAddReference('f32', [40, 6], 0, picks, new NdArray([600, 6], roundTo('f32', values)));
  expectClose(await z.data(), ref.map((v, i) => (i % 6 < 4 ? v : 0)), { atol: 1e-4, rtol: 1e-5, what: 'scatterAdd on part of each row' });
  for (const x of [src, line, index, y, part, z]) x.dispose();
});

t('indexAdd errors name the op and the shapes', () => {
  const src = ops.zeros([3, 2]);
  const index = ops.tensor(Int32Array.from([0, 1, 0]), [3], { dtype: 'i32' });
  assert.throws(() => ops.indexAdd([2, 2], 0, ops.reshape(index, [3, 1]), src), (e: unknown) => e instanceof ShapeError && /indexAdd: index must be 1-D/.test(String(e)));
  assert.throws(() => ops.indexAdd([2, 3], 0, index, src), (e: unknown) => e instanceof ShapeError && /indexAdd: src \[3,2\]/.test(String(e)));
  assert.throws(() => ops.indexAdd([2, 2], 0, ops.zeros([3]), src), (e: unknown) => e instanceof DTypeError && /indexAdd: indices must be an i32 tensor/.test(String(e)));
  assert.throws(() => ops.indexAdd([2, 2], 2, index, src), (e: unknown) => e instanceof ArgumentError && /indexAdd/.test(String(e)));
  for (const x of [src, index]) x.dispose();
});

t('oneHot: f32 rows, NaN rows for out-of-range classes computed on the GPU', async () => {
  const idx = ops.transpose(gpuComputed(ops.tensor([[0, 2], [3, -1]], undefined, { dtype: 'i32' }))); // [[0,3],[2,-1]]
  const y = ops.oneHot(idx, 3);
  assert.equal(y.shape, [2, 2, 3]);
  assert.is(y.dtype, 'f32');
  const v = Array.from(await y.data());
  assert.equal(v.slice(0, 3), [1, 0, 0]);
  assert.ok(v.slice(3, 6).every(Number.isNaN));
  assert.equal(v.slice(6, 9), [0, 0, 1]);
  assert.ok(v.slice(9, 12).every(Number.isNaN));
  assert.equal(ops.oneHot(ops.zeros([0], { dtype: 'i32' }), 4).shape, [0, 4]);
});

t('i32 index tensors made from host values are range-checked before any GPU work', async () => {
  const table = ops.tensor([[0, 1], [10, 11], [20, 21]]);
  const ids = ops.tensor([[2, 0], [3, 1]], undefined, { dtype: 'i32' });
  const negative = ops.tensor([0, -1], undefined, { dtype: 'i32' });
  const rejects = (f: () => unknown, pattern: RegExp) => assert.throws(f, (e: unknown) => e instanceof ArgumentError && pattern.test(String(e)));
  rejects(() => ops.embeddingLookup(table, ids), /embeddingLookup: the i32 indices \[2,2\] hold 3 \(as created on the host\), out of range for the rows of table \[3,2\] of size 3/);
  rejects(() => ops.indexSelect(table, 0, ops.reshape(ids, [4])), /indexSelect: .* hold 3 .* axis 0 of \[3,2\] of size 3/);
  rejects(() => ops.indexSelect(table, 1, negative), /indexSelect: .* hold -1 .* axis 1 of \[3,2\] of size 2/);
  rejects(() => ops.gather(table, 0, ops.transpose(ids)), /gather: .* hold 3 .* axis 0 of x \[3,2\] of size 3/);
  rejects(() => ops.oneHot(ids, 3), /oneHot: .* hold 3 .* numClasses of size 3/);
  // zeros() clears on the device, but the host knows what it holds.
  rejects(() => ops.indexSelect(ops.zeros([0, 2]), 0, ops.zeros([2], { dtype: 'i32' })), /indexSelect: the i32 indices \[2\] hold 0 .* axis 0 of \[0,2\] of size 0/);
  // Views that read every uploaded value keep the bounds (reshape, transpose, expand); in range passes.
  assert.equal(await ops.embeddingLookup(table, ops.tensor([2, 0], undefined, { dtype: 'i32' })).toArray(), [[20, 21], [0, 1]]);
  assert.equal(await ops.oneHot(ops.expand(ops.tensor([[1]], undefined, { dtype: 'i32' }), [2, 2]), 2).toArray(), [[[0, 1], [0, 1]], [[0, 1], [0, 1]]]);
  // A view of part of an upload may not read the bad value: the GPU path decides (poison where it is bad).
  const firstRow = ops.slice(ids, [{ end: 1 }]); // [[2, 0]]
  assert.equal(await ops.embeddingLookup(table, firstRow).toArray(), [[[20, 21], [0, 1]]]);
  const secondRow = ops.slice(ids, [{ start: 1 }]); // [[3, 1]]: row 3 is poison
  const rows = Array.from(await ops.embeddingLookup(table, secondRow).data());
  assert.ok(rows.slice(0, 2).every(Number.isNaN));
  assert.equal(rows.slice(2), [10, 11]);
  // A view whose strides overlap reads fewer distinct values than its size: [[0, 1], [1, 2]] out of
  // [0, 1, 2, 9] reads no 9, so the upload's bounds do not apply and the lookup runs.
  const upload = ops.tensor([0, 1, 2, 9], undefined, { dtype: 'i32' });
  const overlapping = upload.view([2, 2], [1, 1], 0);
  assert.equal(await ops.embeddingLookup(table, overlapping).toArray(), [[[0, 1], [10, 11]], [[10, 11], [20, 21]]]);
  overlapping.dispose();
  upload.dispose();
  // Writing into the storage forgets the bounds: the host no longer knows the values.
  const overwritten = ops.tensor([0, 1], undefined, { dtype: 'i32' });
  ops.assign(overwritten, negative);
  const picked = Array.from(await ops.indexSelect(table, 1, overwritten).data());
  assert.equal([picked[0], picked[2], picked[4]], [0, 10, 20]);
  assert.ok([picked[1], picked[3], picked[5]].every(Number.isNaN));
  for (const x of [table, ids, negative, firstRow, secondRow, overwritten]) x.dispose();
});

function padRef(a: NdArray, pads: number[], mode: 'constant' | 'circular' | 'reflect', value: number): NdArray {
  const before = a.shape.map(() => 0);
  const shape = [...a.shape];
  for (let k = 0; k < pads.length / 2; k++) {
    const d = a.rank - 1 - k;
    before[d] = pads[2 * k]!;
    shape[d] = a.shape[d]! + pads[2 * k]! + pads[2 * k + 1]!;
  }
  return build(shape, (idx) => {
    const src: number[] = [];
    for (let d = 0; d < idx.length; d++) {
      const n = a.shape[d]!;
      let s = idx[d]! - before[d]!;
      if (s < 0 || s >= n) {
        if (mode === 'constant') return value;
        s = mode === 'circular' ? ((s % n) + n) % n : s < 0 ? -s : 2 * (n - 1) - s;
      }
      src.push(s);
    }
    return a.at(...src);
  });
}

t('pad: constant / circular / reflect on strided views, torch pad order (last dim first)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...types).chain((dtype) =>
        arbShape({ minRank: 1, maxRank: 3, maxDim: 5 }).chain((s) =>
          fc.tuple(
            arbTensorCaseOf(s, dtype),
            fc.constantFrom('constant' as const, 'circular' as const, 'reflect' as const),
            fc.integer({ min: 1, max: s.length }),
            fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 2 * s.length, maxLength: 2 * s.length }),
            fc.integer({ min: -3, max: 3 }),
          ),
        ),
      ),
      async ([c, mode, dims, raw, value]) => {
        // Clamp pads to what the mode allows for the dim they apply to.
        const pads = raw.slice(0, 2 * dims).map((p, j) => {
          const n = c.shape[c.shape.length - 1 - Math.floor(j / 2)]!;
          return mode === 'reflect' ? Math.min(p, n - 1) : mode === 'circular' ? Math.min(p, n) : p;
        });
        const { tensor, expected } = materialize(c);
        const y = ops.pad(tensor, pads, { mode, value });
        try {
          const ref = padRef(expected, pads, mode, value);
          assert.equal([...y.shape], [...ref.shape]);
          expectClose(await y.data(), ref.data, EXACT);
        } finally {
          tensor.dispose();
          y.dispose();
        }
      },
    ),
    { numRuns: 40 },
  );
  // conv1d-style circular padding of a sequence [B, C, L].
  const x = ops.tensor([[[1, 2, 3, 4]]]);
  assert.equal(await ops.pad(x, [2, 1], { mode: 'circular' }).toArray(), [[[3, 4, 1, 2, 3, 4, 1]]]);
  assert.equal(await ops.pad(x, [2, 1], { mode: 'reflect' }).toArray(), [[[3, 2, 1, 2, 3, 4, 3]]]);
  assert.equal(await ops.pad(ops.tensor([1], [1], { dtype: 'u32' }), [1, 0], { value: 4000000000 }).toArray(), [4000000000, 1]);
});

t('tril / triu over the last two dims of strided batches, any diagonal', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...types).chain((dtype) =>
        arbShape({ minRank: 2, maxRank: 4, maxDim: 5 }).chain((s) =>
          fc.tuple(arbTensorCaseOf(s, dtype), fc.boolean(), fc.integer({ min: -6, max: 6 })),
        ),
      ),
      async ([c, upper, k]) => {
        const { tensor, expected } = materialize(c);
        const y = upper ? ops.triu(tensor, k) : ops.tril(tensor, k);
        try {
          const ref = build(c.shape, (idx) => {
            const off = idx[idx.length - 1]! - idx[idx.length - 2]!;
            return (upper ? off >= k : off <= k) ? expected.at(...idx) : 0;
          });
          expectClose(await y.data(), ref.data, EXACT);
        } finally {
          tensor.dispose();
          y.dispose();
        }
      },
    ),
    { numRuns: 30 },
  );
  assert.equal(await ops.tril(ops.ones([3, 3]), 1e9).toArray(), [[1, 1, 1], [1, 1, 1], [1, 1, 1]]);
  assert.equal(await ops.triu(ops.ones([2, 2]), 1e9).toArray(), [[0, 0], [0, 0]]);
});

t('errors name the op and operands', () => {
  const a = ops.ones([2, 3]);
  const b = ops.ones([2, 4]);
  const i = ops.ones([2, 3], { dtype: 'i32' });
  const idx = ops.tensor([0, 1], undefined, { dtype: 'i32' });
  const is = (cls: new (...args: never[]) => Error, re: RegExp) => (e: Error) => e instanceof cls && re.test(e.message);
  assert.throws(() => ops.concat([]), is(ArgumentError, /concat: needs at least one/));
  assert.throws(() => ops.concat([a, b], 0), is(ShapeError, /concat: shapes \[2,3\], \[2,4\] differ outside axis 0/));
  assert.throws(() => ops.concat([a, ops.ones([3])]), is(ShapeError, /concat: ranks differ: shapes \[2,3\], \[3\]/));
  assert.throws(() => ops.concat([a, i], 1), is(DTypeError, /concat: dtypes differ: f32 \[2,3\], i32 \[2,3\]/));
  assert.throws(() => ops.concat([ops.tensor(1)]), is(ShapeError, /concat: 0-d/));
  assert.throws(() => ops.concat([a, a], 2), is(ArgumentError, /concat: axis 2 out of range/));
  assert.throws(() => ops.stack([a, b]), is(ShapeError, /stack: all shapes must be equal, got \[2,3\], \[2,4\]/));
  assert.throws(() => ops.stack([]), is(ArgumentError, /stack/));
  assert.throws(() => ops.indexSelect(a, 1, [0, 3]), is(ArgumentError, /indexSelect: index 3 at position 1 is out of range for axis 1 of \[2,3\] of size 3/));
  assert.throws(() => ops.indexSelect(a, 0, [-1]), is(ArgumentError, /index -1 at position 0/));
  assert.throws(() => ops.indexSelect(a, 0, [0.5]), is(ArgumentError, /index 0.5/));
  assert.throws(() => ops.indexSelect(a, 0, ops.ones([2])), is(DTypeError, /indexSelect: indices must be an i32 tensor, got f32 \[2\]/));
  assert.throws(() => ops.indexSelect(a, 0, i), is(ShapeError, /indexSelect: indices must be 1-D, got shape \[2,3\]/));
  assert.throws(() => ops.indexSelect(ops.tensor(1), 0, idx), is(ShapeError, /indexSelect: a 0-d/));
  assert.throws(() => ops.indexSelect(a, 2, idx), is(ArgumentError, /indexSelect: axis 2/));
  assert.throws(() => ops.embeddingLookup(a, ops.ones([2])), is(DTypeError, /embeddingLookup: indices must be an i32/));
  assert.throws(() => ops.gather(a, 0, idx), is(ShapeError, /gather: index shape \[2\] must have the rank of x \[2,3\]/));
  assert.throws(() => ops.gather(a, 0, ops.ones([1, 4], { dtype: 'i32' })), is(ShapeError, /gather: index shape \[1,4\]/));
  assert.throws(() => ops.gather(a, 0, a), is(DTypeError, /gather: indices must be an i32/));
  assert.throws(() => ops.scatterAdd([2, 3], 0, idx, a), is(ShapeError, /scatterAdd: index \[2\], src \[2,3\] and target \[2,3\] must have the same rank/));
  assert.throws(() => ops.scatterAdd([2, 2], 0, i, a), is(ShapeError, /scatterAdd: index shape \[2,3\] must fit inside src \[2,3\], and inside target \[2,2\]/));
  assert.throws(() => ops.scatterAdd([2, -1], 0, i, a), is(ShapeError, /scatterAdd: invalid shape/));
  assert.throws(() => ops.scatterAdd([2, 3], 0, a, a), is(DTypeError, /scatterAdd: indices must be an i32/));
  assert.throws(() => ops.oneHot(idx, 0), is(ArgumentError, /oneHot: numClasses must be an integer >= 1, got 0/));
  assert.throws(() => ops.oneHot(a, 3), is(DTypeError, /oneHot: indices must be an i32/));
  assert.throws(() => ops.pad(a, [1]), is(ArgumentError, /pad: pads \[1\] must be \(before, after\) pairs for at most 2 dims of \[2,3\]/));
  assert.throws(() => ops.pad(a, [1, 1, 1, 1, 1, 1]), is(ArgumentError, /pad: pads/));
  assert.throws(() => ops.pad(a, [-1, 0]), is(ArgumentError, /pad: pads \[-1,0\] must be integers >= 0/));
  assert.throws(() => ops.pad(a, [3, 0], { mode: 'reflect' }), is(ArgumentError, /pad: reflect pads \(3, 0\) must be smaller than dim 1 of \[2,3\]/));
  assert.throws(() => ops.pad(a, [4, 0], { mode: 'circular' }), is(ArgumentError, /pad: circular pads \(4, 0\)/));
  assert.throws(() => ops.pad(ops.ones([0]), [1, 0], { mode: 'circular' }), is(ArgumentError, /pad: circular/));
  assert.throws(() => ops.pad(a, [1, 0], { mode: 'edge' as 'constant' }), is(ArgumentError, /pad: mode must be/));
  assert.throws(() => ops.pad(i, [1, 0], { value: 0.5 }), is(DTypeError, /pad: value 0.5 is not representable in a i32/));
  assert.throws(() => ops.pad(i, [1, 0], { value: 2 ** 31 }), is(DTypeError, /pad: value/));
  assert.throws(() => ops.tril(ops.ones([3])), is(ShapeError, /tril: needs a tensor of rank >= 2, got \[3\]/));
  assert.throws(() => ops.triu(a, 0.5), is(ArgumentError, /triu: diagonal must be an integer/));
  a.dispose();
  assert.throws(() => ops.concat([b, a], 0), is(DisposedError, /concat:/));
  assert.throws(() => ops.pad(a, []), is(DisposedError, /pad:/));
});

t.run();
