import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ops, hasF16, init, memoryStats, runtime, ArgumentError, DTypeError, ShapeError, DisposedError, type Tensor } from '../../engine/index.js';
import {
  chooseKernel, chooseKSplit, DEFAULT_TILED, hasEpilogue, tiledBytes, SUBGROUP_MATRIX_TUNING, subgroupMatrixBytes, subgroupMatrixLayout, subgroupMatrixProblem,
  subgroupMatrixTile, tunedChoice, TUNING, vectorA, vectorB, type GemmCaps, type GemmSpec,
} from '../../kernels/matmul.js';
import type { MatmulOptions } from '../../engine/ops/matmul.js';
import { splitOf } from '../../kernels/launch.js';
import { NdArray, expectClose, gelu, matmul as refMatmul, randomPair, transpose as refTranspose, zip } from '../oracle.js';
import { resetTestDevice, testDevice } from '../helpers.js';

const t = suite('kernels: matmul');
type SubgroupMatrixOptions = MatmulOptions['subgroupMatrix'];
// The adapter's own choice (the lanes kernel on lavapipe) and the tiled GPU kernel, forced, at its
// default 64x64 tile, at a 128x64 tile with 8-deep slabs (uneven register blocks, TK != 16) and at a
// 64x128 tile with 32-deep slabs (the GPU default's depth) staged through vec4 loads where the layout
// allows (scalar otherwise), and a 128x64 tile with its products written out over named accumulators
// (the `unrolled` option), vec4 staging and two slabs per operand (the `stages` option), so a CPU-only
// run covers the GPU kernels' indexing too. Each distinct
// kernel/epilogue/dtype combination is one pipeline, which lavapipe compiles with LLVM in 1-2 s, so the
// cases below need few of them.
const kernels: MatmulOptions[] = [
  {}, { kernel: 'tiled' }, { kernel: 'tiled', tile: { blocks: [2, 1], tk: 8 } },
  { kernel: 'tiled', tile: { blocks: [1, 2], tk: 32, vec4: true } },
  { kernel: 'tiled', tile: { blocks: [2, 1], tk: 16, unrolled: true, vec4: true, stages: 2 } },
];
t.before(async () => {
  await testDevice();
});

/**
 * f32 tolerance: each output sums K products of inputs bounded by 1 in magnitude; rounding errors of
 * a length-K f32 sum grow like sqrt(K) * eps * max|a| * max|b| in practice (eps = 6e-8), so
 * atol = 1e-5 * sqrt(K) leaves ~100x margin while still catching a wrong or missing term (>= ~1e-3).
 */
const f32Tol = (k: number) => ({ atol: 1e-5 * Math.sqrt(Math.max(k, 1)), rtol: 1e-5 });

async function check(out: Tensor, expected: NdArray, k: number, what: string): Promise<void> {
  assert.equal([...out.shape], [...expected.shape], `${what}: shape`);
  expectClose(await out.data(), expected.data, { ...f32Tol(k), what });
  out.dispose();
}

t('2-D product on every kernel, tile-edge sizes', async () => {
  for (const [m, n, k] of [[1, 1, 1], [5, 7, 3], [64, 64, 16], [65, 33, 17], [13, 97, 40]] as const) {
    const [a, ra] = randomPair([m, k], m * 100 + k);
    const [b, rb] = randomPair([k, n], n * 100 + k);
    const expected = refMatmul(ra, rb);
    for (const o of kernels) await check(ops.matmul(a, b, o), expected, k, `${m}x${n}x${k} ${JSON.stringify(o)}`);
    a.dispose();
    b.dispose();
  }
});

t('property: random M, N, K in 1..70, transposed views, every kernel', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 70 }),
      fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: kernels.length - 1 }), fc.integer({ min: 1, max: 1e6 }),
      async (m, n, k, transA, transB, which, seed) => {
        // A transposed view: stored [K, M], viewed as [M, K] through swapped strides (no copy).
        const [as, ras] = randomPair(transA ? [k, m] : [m, k], seed);
        const [bs, rbs] = randomPair(transB ? [n, k] : [k, n], seed + 1);
        const a = transA ? ops.transpose(as) : as;
        const b = transB ? ops.transpose(bs) : bs;
        const expected = refMatmul(transA ? refTranspose(ras) : ras, transB ? refTranspose(rbs) : rbs);
        const o = kernels[which % kernels.length]!;
        await check(ops.matmul(a, b, o), expected, k, `${m}x${n}x${k} tA=${transA} tB=${transB} ${JSON.stringify(o)}`);
        for (const x of new Set([as, bs, a, b])) x.dispose();
      },
    ),
    { numRuns: 30 },
  );
});

t('large K (~1000) including a K tail', async () => {
  for (const [m, n, k] of [[3, 5, 1000], [17, 9, 1013]] as const) {
    const [a, ra] = randomPair([m, k], k);
    const [b, rb] = randomPair([k, n], k + 1);
    for (const o of kernels) await check(ops.matmul(a, b, o), refMatmul(ra, rb), k, `K=${k} ${JSON.stringify(o)}`);
    a.dispose();
    b.dispose();
  }
});

t('batched operands broadcast their leading dims', async () => {
  const cases: [number[], number[]][] = [
    [[2, 1, 5, 4], [3, 4, 6]],
    [[3, 5, 4], [4, 6]],
    [[5, 4], [2, 4, 6]],
    [[1, 2, 3, 4], [2, 1, 4, 2]],
  ];
  for (const [sa, sb] of cases) {
    const [a, ra] = randomPair(sa, sa.length * 7);
    const [b, rb] = randomPair(sb, sb.length * 11);
    for (const o of kernels) await check(ops.matmul(a, b, o), refMatmul(ra, rb), 4, `[${sa}] @ [${sb}] ${JSON.stringify(o)}`);
    a.dispose();
    b.dispose();
  }
});

t('irregular strides (stepped slices, expanded batch) are read in place', async () => {
  const [base, rbase] = randomPair([4, 9, 12], 5);
  // Every other row and every third column: strides (108, 24, 3), not a transposition.
  const a = ops.slice(base, [null, { step: 2 }, { step: 3 }]); // [4, 5, 4]
  const ra = new NdArray([4, 5, 4], Array.from({ length: 80 }, (_, i) => {
    const [p, r, c] = [Math.floor(i / 20), Math.floor(i / 4) % 5, i % 4];
    return rbase.data[p * 108 + r * 2 * 12 + c * 3]!;
  }));
  const [b0, rb0] = randomPair([4, 6], 6);
  const b = ops.expand(ops.unsqueeze(b0, 0), [4, 4, 6]); // batch stride 0
  for (const o of kernels) await check(ops.matmul(a, b, o), refMatmul(ra, rb0), 4, `strided ${JSON.stringify(o)}`);
  for (const x of [base, a, b0, b]) x.dispose();
});

t('1-D operands follow torch.matmul', async () => {
  const [v, rv] = randomPair([6], 1);
  const [w, rw] = randomPair([6], 2);
  const [m, rm] = randomPair([6, 3], 3);
  const [mt, rmt] = randomPair([4, 6], 4);
  const [bm, rbm] = randomPair([2, 6, 3], 5);
  const [bl, rbl] = randomPair([2, 4, 6], 6);
  const pairs: [Tensor, NdArray, Tensor, NdArray, number[]][] = [
    [v, rv, w, rw, []],
    [v, rv, m, rm, [3]],
    [mt, rmt, v, rv, [4]],
    [v, rv, bm, rbm, [2, 3]],
    [bl, rbl, v, rv, [2, 4]],
  ];
  for (const [a, ra, b, rb, shape] of pairs) {
    const expected = refMatmul(ra, rb);
    assert.equal([...expected.shape], shape);
    for (const o of kernels) await check(ops.matmul(a, b, o), expected, 6, `[${a.shape}] @ [${b.shape}] ${JSON.stringify(o)}`);
  }
  for (const x of [v, w, m, mt, bm, bl]) x.dispose();
});

t('zero-size dims: K = 0 gives zeros (plus bias), M = 0 an empty result', async () => {
  const a = ops.zeros([3, 0]);
  const b = ops.zeros([0, 2]);
  for (const o of kernels) assert.equal(await ops.matmul(a, b, o).toArray(), [[0, 0], [0, 0], [0, 0]]);
  const bias = ops.tensor([1, 2]);
  assert.equal(await ops.linear(a, ops.zeros([2, 0]), bias).toArray(), [[1, 2], [1, 2], [1, 2]]);
  assert.equal([...ops.matmul(ops.zeros([0, 4]), ops.zeros([4, 5])).shape], [0, 5]);
});

// f16 tolerance: inputs are rounded to f16 before the oracle sees them, so the only errors are f32
// accumulation (as above) and, for f16 output, one rounding of the result to f16 (relative 2^-11
// ~ 4.9e-4); rtol 1e-3 covers that with 2x margin, atol adds the accumulation term.
t('f16 inputs accumulate in f32; f16 or f32 output', async () => {
  if (!hasF16()) return;
  for (const [m, n, k] of [[5, 9, 33], [40, 20, 130], [30, 12, 64]] as const) {
    const [a, ra] = randomPair([m, k], 9, 'f16');
    const [b, rb] = randomPair([k, n], 10, 'f16');
    const expected = refMatmul(ra, rb);
    const c16 = ops.matmul(a, b);
    assert.is(c16.dtype, 'f16');
    expectClose(await c16.data(), expected.data, { atol: 1e-5 * Math.sqrt(k), rtol: 1e-3, what: 'f16 out' });
    c16.dispose();
    const c32 = ops.matmul(a, b, { outDtype: 'f32' });
    assert.is(c32.dtype, 'f32');
    await check(c32, expected, k, 'f16 in, f32 out');
    // A row-major f16 B with 4-aligned rows takes the vec4<f16> load path of the lanes kernel; a
    // transposed one the scalar path, or with K % 4 == 0 the vec4-along-k path.
    const bt = ops.transpose(ops.contiguous(ops.transpose(b)));
    await check(ops.matmul(a, bt, { outDtype: 'f32' }), expected, k, 'f16 transposed B');
    await check(ops.matmul(a, bt, { outDtype: 'f32', kernel: 'tiled' }), expected, k, 'f16 tiled');
    for (const x of [a, b, bt]) x.dispose();
  }
});


t('linear: bias, activation, residual and savePreActivation epilogues, w^T read in place', async () => {
  const [x, rx] = randomPair([2, 5, 7], 21);
  const [w, rw] = randomPair([6, 7], 22); // [out, in]
  const [bias, rbias] = randomPair([6], 23);
  const [res, rres] = randomPair([2, 5, 6], 24);
  const [resRow, rresRow] = randomPair([6], 25); // broadcast residual
  const product = refMatmul(rx, refTranspose(rw));
  // Every option value appears, with and without the others; the epilogue is straight-line code, so
  // these cover its interactions. savePreActivation alternates (even rows save it).
  const combos = [
    { withBias: true, activation: 'gelu', residual: 'full' },
    { withBias: false, activation: 'none', residual: null },
    { withBias: true, activation: 'relu', residual: 'row' },
    { withBias: true, activation: 'none', residual: null },
    { withBias: false, activation: 'gelu', residual: null },
    { withBias: false, activation: 'relu', residual: 'full' },
  ] as const;
  for (const o of kernels)
    for (const [ci, { withBias, activation, residual }] of combos.entries()) {
      if (o.kernel !== undefined && ci > 0) continue;
      const what = `bias=${withBias} act=${activation} res=${residual} ${JSON.stringify(o)}`;
      const pre = withBias ? zip(product, new NdArray([1, 1, 6], rbias.data), (p, q) => p + q) : product;
      const act = activation === 'gelu' ? zip(pre, pre, (v) => gelu(v)) : activation === 'relu' ? zip(pre, pre, (v) => Math.max(v, 0)) : pre;
      const rr = residual === 'full' ? rres : residual === 'row' ? new NdArray([1, 1, 6], rresRow.data) : null;
      const expected = rr ? zip(act, rr, (p, q) => p + q) : act;
      const opts = { ...o, activation, ...(residual ? { residual: residual === 'full' ? res : resRow } : {}) };
      // gelu_f32 is accurate to ~1.2e-7 relative in erf: within the f32 product tolerance.
      if (ci % 2 === 0) {
        const both = ops.linear(x, w, withBias ? bias : null, { ...opts, savePreActivation: true });
        await check(both.out, expected, 7, `${what} out`);
        await check(both.pre, pre, 7, `${what} pre`);
      } else {
        await check(ops.linear(x, w, withBias ? bias : null, opts), expected, 7, what);
      }
    }
  for (const v of [x, w, bias, res, resRow]) v.dispose();
});

t('linear folds batch dims into M where rows continue across the batch, and keeps the batch elsewhere', async () => {
  const [w, rw] = randomPair([6, 8], 41);
  const wt = refTranspose(rw);
  const [base, rbase] = randomPair([6, 3, 8], 42);
  /** [batch, rows, 8] whose row (b, i) starts at element start(b, i) of `base`. */
  const rowsOf = (batch: number, rows: number, start: (b: number, i: number) => number) => {
    const values: number[] = [];
    for (let b = 0; b < batch; b++) for (let i = 0; i < rows; i++) values.push(...rbase.data.slice(start(b, i), start(b, i) + 8));
    return new NdArray([batch, rows, 8], values);
  };
  // M = 1 taken from a wider tensor: rows 24 elements apart, one per batch entry (folds, stride 24).
  const middle = ops.slice(base, [null, { start: 1, end: 2 }, null]); // [6, 1, 8]
  const rMiddle = rowsOf(6, 1, (b) => b * 24 + 8);
  // Batch and rows swapped: batch stride 8, row stride 24, which no single row stride covers (no fold).
  const swapped = ops.transpose(base, 0, 1); // [3, 6, 8]
  const rSwapped = rowsOf(3, 6, (b, i) => i * 24 + b * 8);
  for (const [x, rx, what] of [[middle, rMiddle, 'M = 1 slice'], [swapped, rSwapped, 'transposed batch']] as const)
    await check(ops.linear(x, w), refMatmul(rx, wt), 8, what);
  // A residual shared by every batch entry (batch stride 0, rows 6 apart): the batch stays in the grid.
  const [res, rres] = randomPair([6, 6], 43);
  const expected = zip(refMatmul(rbase, wt), new NdArray([1, 3, 6], rres.data.slice(0, 18)), (p, q) => p + q);
  const sharedRes = ops.slice(res, [{ start: 0, end: 3 }, null]); // [3, 6]
  await check(ops.linear(base, w, null, { residual: sharedRes }), expected, 8, 'residual broadcast over the batch');
  for (const v of [w, base, middle, swapped, res, sharedRes]) v.dispose();
});

t('linear: w^T with K % 4 == 0 (4 k of a column per vec4: lanes loads, tiled vec4 staging), any offset', async () => {
  for (const k of [4, 12, 36, 64]) {
    const [x, rx] = randomPair([2, 29, k], k);
    // Rows 2..11 of a [13, k + 4] matrix: the rows stay 4-aligned and column start 0 keeps the vec4
    // path; column start 1 misaligns every row and falls back to scalar loads (tuning-table test below
    // checks which spec takes which path). Both must agree with the oracle.
    const [wAll, rwAll] = randomPair([13, k + 4], k + 1);
    const [bias, rbias] = randomPair([10], k + 2);
    const [res, rres] = randomPair([2, 29, 10], k + 3);
    for (const start of [0, 1]) {
      const w = ops.slice(ops.slice(wAll, [{ start: 2, end: 12 }]), [null, { start, end: start + k }]);
      const rw = new NdArray([10, k], Array.from({ length: 10 * k }, (_, i) => rwAll.data[(2 + Math.floor(i / k)) * (k + 4) + start + (i % k)]!));
      const pre = zip(refMatmul(rx, refTranspose(rw)), new NdArray([1, 1, 10], rbias.data), (p, q) => p + q);
      const expected = zip(zip(pre, pre, (v) => gelu(v)), rres, (p, q) => p + q);
      for (const o of [{}, kernels[3]!, kernels[4]!]) {
        await check(ops.linear(x, w, bias, { activation: 'gelu', residual: res, ...o }), expected, k, `K=${k} column start ${start} ${JSON.stringify(o)}`);
      }
      w.dispose();
    }
    for (const v of [x, wAll, bias, res]) v.dispose();
  }
});

t('linear: 1-D input, transposed weight view, GELU saturation', async () => {
  const [x, rx] = randomPair([7], 31);
  const [w, rw] = randomPair([4, 7], 32);
  await check(ops.linear(x, w), refMatmul(rx, refTranspose(rw)), 7, '1-D input');
  // w given as a transposed view of a stored [in, out] matrix: strides (1, 4), still no copy.
  const [wt, rwt] = randomPair([7, 4], 33);
  const wv = ops.transpose(wt);
  await check(ops.linear(x, wv), refMatmul(rx, rwt), 7, 'transposed weight view');
  const big = ops.tensor([[8, -8, 0.5]]);
  const eye = ops.eye(3);
  expectClose(await ops.linear(big, eye, null, { activation: 'gelu' }).data(), [8, 0, gelu(0.5)], { atol: 1e-6, rtol: 1e-6, what: 'gelu' });
  for (const v of [x, w, wt, wv, big, eye]) v.dispose();
});

t('split K, forced on the tiled kernel: segment counts, ragged K, batches, every epilogue, f16; refused elsewhere', async () => {
  // K = 1013 in 16-deep slabs is 64 slabs (the last ragged): 2, 3, 8 and 100 requested segments make 2, 3,
  // 8 and 64 segments of 512, 352, 128 and 16 k.
  const [a, ra] = randomPair([17, 1013], 51);
  const [b, rb] = randomPair([1013, 9], 52);
  const product = refMatmul(ra, rb);
  for (const splitK of [2, 3, 8, 100]) await check(ops.matmul(a, b, { kernel: 'tiled', splitK }), product, 1013, `K=1013 splitK=${splitK}`);
  await check(ops.matmul(a, b, { kernel: 'tiled', tile: { blocks: [2, 1], tk: 16, unrolled: true, vec4: true, stages: 2 }, splitK: 5 }), product, 1013, 'unrolled, vec4, 2 stages, 5 segments');
  // A batch that stays in the grid (B has a batch stride): grid z is (segment, batch entry).
  const [ba, rba] = randomPair([2, 1, 5, 40], 53);
  const [bb, rbb] = randomPair([3, 40, 6], 54);
  await check(ops.matmul(ba, bb, { kernel: 'tiled', tile: { blocks: [2, 1], tk: 8 }, splitK: 3 }), refMatmul(rba, rbb), 40, 'batched [2,1,5,40] @ [3,40,6], 3 segments');
  // The epilogue runs once, on the summed partials: bias, GELU, a full residual and the pre-activation.
  const [x, rx] = randomPair([2, 5, 70], 55);
  const [w, rw] = randomPair([6, 70], 56);
  const [bias, rbias] = randomPair([6], 57);
  const [res, rres] = randomPair([2, 5, 6], 58);
  const pre = zip(refMatmul(rx, refTranspose(rw)), new NdArray([1, 1, 6], rbias.data), (p, q) => p + q);
  const both = ops.linear(x, w, bias, { kernel: 'tiled', tile: { blocks: [2, 1], tk: 8 }, splitK: 4, activation: 'gelu', residual: res, savePreActivation: true });
  await check(both.out, zip(zip(pre, pre, (v) => gelu(v)), rres, (p, q) => p + q), 70, 'split linear out (bias, GELU, residual)');
  await check(both.pre, pre, 70, 'split linear pre-activation');
  const memory = memoryStats().bytesLive;
  ops.matmul(a, b, { kernel: 'tiled', splitK: 4 }).dispose();
  assert.is(memoryStats().bytesLive, memory, 'the partials are freed');
  if (hasF16()) {
    const [h, rh] = randomPair([30, 130], 59, 'f16');
    const [g, rg] = randomPair([130, 12], 60, 'f16');
    const expected = refMatmul(rh, rg);
    await check(ops.matmul(h, g, { kernel: 'tiled', splitK: 3, outDtype: 'f32' }), expected, 130, 'f16 in, f32 out, 3 segments');
    const c16 = ops.matmul(h, g, { kernel: 'tiled', splitK: 3 });
    assert.is(c16.dtype, 'f16');
    expectClose(await c16.data(), expected.data, { atol: 1e-5 * Math.sqrt(130), rtol: 1e-3, what: 'f16 out, 3 segments' });
    for (const v of [h, g, c16]) v.dispose();
  }
  assert.throws(() => ops.matmul(a, b, { kernel: 'tiled', splitK: 0 }), (e: Error) => e instanceof ArgumentError && /splitK must be an integer >= 1/.test(e.message));
  assert.throws(() => ops.matmul(a, b, { kernel: 'tiled', splitK: 1.5 }), (e: Error) => e instanceof ArgumentError && /splitK must be an integer >= 1/.test(e.message));
  if (runtime().info.adapterClass === 'cpu')
    assert.throws(() => ops.matmul(a, b, { splitK: 2 }), (e: Error) => e instanceof ArgumentError && /splitK applies to the 'tiled' and 'subgroup-matrix' kernels, not 'lanes'/.test(e.message));
  await check(ops.matmul(a, b, { splitK: 1 }), product, 1013, 'splitK 1 on the default kernel');
  const [k0a, k0b] = [ops.zeros([3, 0]), ops.zeros([0, 4])];
  const empty = ops.matmul(k0a, k0b, { kernel: 'tiled', splitK: 3 });
  assert.equal(Array.from(await empty.data()), new Array(12).fill(0), 'K = 0 has nothing to split');
  for (const v of [k0a, k0b, empty]) v.dispose();
  for (const v of [a, b, ba, bb, x, w, bias, res]) v.dispose();
});

t('split K by adapter class: GPUs split tiled GEMMs of few output tiles into whole-slab segments; CPUs and the other kernels never', () => {
  const tiled = { variant: 'tiled', blocks: [2, 2], tk: 32, vec4: true } as const;
  // ViT-B's output projection at 8 images: 13 x 6 = 78 tiles of 128 x 128, K = 768 (24 slabs) -> 4 segments.
  assert.equal(chooseKSplit('gpu', plainSpec(1576, 768, 768), tiled), { segments: 4, perSegment: 192 });
  // 1024 tiles fill the GPU; K = 64 (2 slabs) leaves nothing to split; CPUs and the lanes kernel never split.
  assert.equal(chooseKSplit('gpu', plainSpec(4096, 4096, 4096), tiled), { segments: 1, perSegment: 4096 });
  assert.equal(chooseKSplit('gpu', plainSpec(256, 256, 64), tiled), { segments: 1, perSegment: 64 });
  assert.equal(chooseKSplit('cpu', plainSpec(256, 256, 4096), tiled), { segments: 1, perSegment: 4096 });
  assert.equal(chooseKSplit('gpu', plainSpec(256, 256, 4096), { variant: 'lanes', rows: 32, lanes: 8 }), { segments: 1, perSegment: 4096 });
  assert.equal(splitOf(1013, 16, 3), { segments: 3, perSegment: 352 });
  assert.equal(splitOf(5, 16, 4), { segments: 1, perSegment: 5 }, 'one slab');
  assert.equal(splitOf(0, 16, 4), { segments: 1, perSegment: 1 }, 'nothing');
});

t('errors name the op and both shapes, before any GPU work', () => {
  const a = ops.zeros([2, 3]);
  const b = ops.zeros([4, 5]);
  assert.throws(() => ops.matmul(a, b), (e: Error) => e instanceof ShapeError && e.message.includes('[2,3]') && e.message.includes('[4,5]'));
  assert.throws(() => ops.matmul(ops.zeros([2, 2, 3]), ops.zeros([3, 3, 4])), (e: Error) => e instanceof ShapeError && /batch dims/.test(e.message));
  const s = ops.tensor(1);
  assert.throws(() => ops.matmul(s, a), (e: Error) => e instanceof ShapeError && e.message.includes('at least 1 dim'));
  assert.throws(() => ops.matmul(a, s), (e: Error) => e instanceof ShapeError);
  const i = ops.zeros([3, 2], { dtype: 'i32' });
  assert.throws(() => ops.matmul(a, i), (e: Error) => e instanceof DTypeError && e.message.includes('i32'));
  assert.throws(() => ops.matmul(ops.zeros([3, 2], { dtype: 'i32' }), ops.zeros([2, 2], { dtype: 'i32' })), (e: Error) => e instanceof DTypeError && /f32 or f16/.test(e.message));
  assert.throws(() => ops.matmul(a, ops.zeros([3, 1]), { outDtype: 'f16' }), (e: Error) => e instanceof DTypeError && /f16 inputs/.test(e.message));
  assert.throws(() => ops.matmul(a, ops.zeros([3, 1]), { outDtype: 'i32' as 'f32' }), (e: Error) => e instanceof DTypeError && /outDtype/.test(e.message));
  assert.throws(() => ops.matmul(a, ops.zeros([3, 1]), { kernel: 'magic' as 'tiled' }), (e: Error) => e instanceof ArgumentError);
  assert.throws(() => ops.matmul(a, ops.zeros([3, 1]), { rows: 0 }), (e: Error) => e instanceof ArgumentError);
  assert.throws(() => ops.matmul(a, ops.zeros([3, 1]), { rows: 6 }), (e: Error) => e instanceof ArgumentError && /multiple of 4/.test(e.message));
  const w = ops.zeros([4, 3]);
  assert.throws(() => ops.linear(s, w), (e: Error) => e instanceof ShapeError && /at least 1 dim/.test(e.message));
  assert.throws(() => ops.linear(a, ops.zeros([3])), (e: Error) => e instanceof ShapeError && /\[out, in\]/.test(e.message));
  assert.throws(() => ops.linear(a, ops.zeros([4, 2])), (e: Error) => e instanceof ShapeError && e.message.includes('[2,3]') && e.message.includes('[4,2]'));
  assert.throws(() => ops.linear(a, w, ops.zeros([3])), (e: Error) => e instanceof ShapeError && /bias/.test(e.message));
  assert.throws(() => ops.linear(a, w, ops.zeros([4], { dtype: 'i32' })), (e: Error) => e instanceof DTypeError);
  assert.throws(() => ops.linear(a, w, null, { activation: 'tanh' as 'gelu' }), (e: Error) => e instanceof ArgumentError);
  assert.throws(() => ops.linear(a, w, null, { residual: ops.zeros([3, 4]) }), (e: Error) => e instanceof ShapeError && /residual/.test(e.message));
  assert.throws(() => ops.linear(a, w, null, { residual: ops.zeros([2, 4], { dtype: 'u32' }) }), (e: Error) => e instanceof DTypeError);
  const d = ops.zeros([3, 2]);
  d.dispose();
  assert.throws(() => ops.matmul(a, d), (e: Error) => e instanceof DisposedError);
});

/** A plain contiguous [M, K] @ [K, N] GEMM spec of the given operand dtype. */
function plainSpec(m: number, n: number, k: number, dtype: 'f32' | 'f16' = 'f32'): GemmSpec {
  return {
    m, n, k, batchShape: [], activation: 'none', savePre: false, out: 'f32',
    a: { dtype, offset: 0, rowStride: k, colStride: 1, batchStrides: [] },
    b: { dtype, offset: 0, rowStride: n, colStride: 1, batchStrides: [] },
  };
}

const caps = (adapterClass: 'cpu' | 'gpu', subgroups: boolean, subgroupSize: number | undefined, subgroupMatrixF16 = false, workgroupStorage = 32768) =>
  ({ adapterClass, subgroups, subgroupSize, subgroupMatrixF16, workgroupStorage, maxInvocations: 256 });

t('tuning table: cpu picks the lanes kernel only with fixed-size subgroups', () => {
  const big = plainSpec(1024, 1024, 1024);
  assert.is(chooseKernel(caps('cpu', true, 8), big).variant, 'lanes');
  const small = chooseKernel(caps('cpu', true, 8), plainSpec(2, 1024, 1024));
  assert.is(small.variant === 'lanes' && small.rows, TUNING.cpu[0]!.variant === 'lanes' && TUNING.cpu[0]!.rows);
  assert.equal(chooseKernel(caps('cpu', false, 8), big), DEFAULT_TILED);
  assert.equal(chooseKernel(caps('cpu', true, undefined), big), DEFAULT_TILED);
  assert.is(chooseKernel(caps('gpu', true, 32), big).variant, 'tiled');
  // The GPU's big tile needs 32 KiB of workgroup memory; a device with WebGPU's minimum 16 KiB gets the default.
  assert.equal(chooseKernel(caps('gpu', true, 32, false, 16384), big), DEFAULT_TILED);
});

t('tuning table: GPU GEMMs with a fused epilogue take 16-deep slabs, the others 32-deep with vec4 staging', () => {
  const big = plainSpec(1024, 1024, 1024);
  assert.is(hasEpilogue(big), false);
  assert.equal(chooseKernel(caps('gpu', true, 32), big), { variant: 'tiled', blocks: [2, 2], tk: 32, vec4: true });
  const fused: GemmSpec[] = [
    { ...big, bias: { dtype: 'f32', offset: 0, stride: 1 } },
    { ...big, activation: 'gelu' },
    { ...big, residual: { ...big.a } },
    { ...big, savePre: true },
  ];
  for (const spec of fused) {
    assert.is(hasEpilogue(spec), true);
    assert.equal(chooseKernel(caps('gpu', true, 32), spec), { variant: 'tiled', blocks: [2, 2], tk: 16 });
    // 16 KiB of slabs: it fits WebGPU's minimum workgroup memory too.
    assert.equal(chooseKernel(caps('gpu', true, 32, false, 16384), spec), { variant: 'tiled', blocks: [2, 2], tk: 16 });
  }
  // Small M keeps the 64x64 tile either way; CPU adapters ignore the epilogue.
  assert.equal(chooseKernel(caps('gpu', true, 32), { ...plainSpec(197, 768, 768), activation: 'gelu' }), DEFAULT_TILED);
  assert.is(chooseKernel(caps('cpu', true, 8), fused[0]!).variant, 'lanes');
});

t('tuning table: an installed table replaces the built-in one, with the same fallbacks', () => {
  const tuning = [
    { maxM: 16, epilogue: true, variant: 'tiled', blocks: [1, 2], tk: 8 },
    { maxM: 16, variant: 'lanes', rows: 12 },
    { maxM: Infinity, variant: 'tiled', blocks: [2, 2], tk: 32, vec4: true },
  ] as const;
  const withTable = (c: GemmCaps): GemmCaps => ({ ...c, tuning });
  const fused = { ...plainSpec(8, 64, 64), bias: { dtype: 'f32' as const, offset: 0, stride: 1 } };
  assert.equal(chooseKernel(withTable(caps('cpu', true, 8)), fused), { variant: 'tiled', blocks: [1, 2], tk: 8 });
  assert.equal(chooseKernel(withTable(caps('cpu', true, 8)), plainSpec(8, 64, 64)), { variant: 'lanes', rows: 12, lanes: 8 });
  assert.equal(chooseKernel(withTable(caps('cpu', true, 8)), plainSpec(17, 64, 64)), { variant: 'tiled', blocks: [2, 2], tk: 32, vec4: true });
  // Entries the device cannot run fall back to the portable tile, as the built-in ones do.
  assert.equal(chooseKernel(withTable(caps('cpu', false, 8)), plainSpec(8, 64, 64)), DEFAULT_TILED);
  assert.equal(chooseKernel(withTable(caps('gpu', true, 32, false, 16384)), plainSpec(17, 64, 64)), DEFAULT_TILED);
  assert.equal(tunedChoice(withTable(caps('gpu', true, 32)), 8, false), { variant: 'lanes', rows: 12, lanes: 32 });
});

t('lanes and vec4-staged tiled kernels: which A and B layouts bind as vec4s', () => {
  const lanes = chooseKernel(caps('cpu', true, 8), plainSpec(64, 64, 64));
  const b = plainSpec(64, 64, 64).b;
  assert.is(vectorB(plainSpec(64, 64, 64), lanes), 'rows');
  // w [N, K] read as w^T: k-contiguous, rows of K + 4 elements starting at row 2.
  const wT = { ...plainSpec(64, 64, 64), b: { ...b, offset: 2 * 68, rowStride: 1, colStride: 68 } };
  assert.is(vectorB(wT, lanes), 'columns');
  assert.is(vectorB({ ...wT, b: { ...wT.b, offset: 2 * 68 + 1 } }, lanes), null, 'misaligned start');
  assert.is(vectorB({ ...wT, k: 62 }, lanes), null, 'K % 4 != 0');
  assert.is(vectorB(wT, DEFAULT_TILED), null, 'tiled kernel');
  // A: k-contiguous, K and offsets 4-aligned.
  assert.is(vectorA(plainSpec(64, 64, 64), lanes), true);
  const a = plainSpec(64, 64, 64).a;
  assert.is(vectorA({ ...plainSpec(64, 64, 64), a: { ...a, offset: 2 } }, lanes), false, 'misaligned start');
  assert.is(vectorA({ ...plainSpec(64, 64, 62), a: { ...a, rowStride: 62 } }, lanes), false, 'K % 4 != 0');
  assert.is(vectorA({ ...plainSpec(64, 64, 64), a: { ...a, rowStride: 1, colStride: 64 } }, lanes), false, 'transposed A');
  assert.is(vectorA(plainSpec(64, 64, 64), DEFAULT_TILED), false, 'tiled kernel');
  // The tiled kernel with vec4 staging: A along k, B along n or (w^T) along k, and only where every
  // invocation stages whole vec4s (64 * blocks * tk a multiple of 1024).
  const staged = { variant: 'tiled', blocks: [2, 2], tk: 32, vec4: true } as const;
  assert.is(vectorA(plainSpec(64, 64, 64), staged), true, 'tiled vec4: A');
  assert.is(vectorB(plainSpec(64, 64, 64), staged), 'rows', 'tiled vec4: row-major B');
  assert.is(vectorB(wT, staged), 'columns', 'tiled vec4: w^T along k');
  assert.is(vectorB({ ...wT, k: 62 }, staged), null, 'tiled vec4: w^T with K % 4 != 0 stays scalar');
  assert.is(vectorA(plainSpec(64, 64, 64), { ...staged, blocks: [1, 1], tk: 8 }), false, '512-element slab: half a vec4 per invocation');
});

t('tuning table: subgroup matrices only for f16 operands with 4-aligned contiguous dims on adapters that have them', () => {
  const f16 = plainSpec(256, 256, 256, 'f16');
  // Picked on its own where the adapter has matrix units, with the tile tuned for the output size.
  assert.equal(chooseKernel(caps('gpu', true, 32, true), f16), { variant: 'subgroup-matrix', ...SUBGROUP_MATRIX_TUNING[0]!.tile, lanes: 32 });
  assert.equal(subgroupMatrixTile(plainSpec(4096, 4096, 64, 'f16')), SUBGROUP_MATRIX_TUNING[SUBGROUP_MATRIX_TUNING.length - 1]!.tile);
  assert.equal(subgroupMatrixTile({ ...f16, batchShape: [1024] }), subgroupMatrixTile(plainSpec(4096, 4096, 64, 'f16')), 'batch entries count');
  // A device whose workgroup memory cannot hold the tuned tile keeps the tiled kernel.
  assert.is(chooseKernel(caps('gpu', true, 32, true, 16384), f16).variant, 'tiled');
  assert.is(chooseKernel(caps('gpu', true, 32, false), f16).variant, 'tiled');
  assert.is(chooseKernel(caps('gpu', true, 32, true), plainSpec(256, 256, 256)).variant, 'tiled', 'f32 operands');
  // w [N, K] read as w^T (k-contiguous B) and a transposed A (m-contiguous) are staged as they lie.
  const linearLike = { ...f16, b: { ...f16.b, rowStride: 1, colStride: 256 } };
  assert.equal(subgroupMatrixLayout(linearLike), { aKContiguous: true, bNContiguous: false });
  const transposedA = { ...f16, a: { ...f16.a, rowStride: 1, colStride: 256 } };
  assert.equal(subgroupMatrixLayout(transposedA), { aKContiguous: false, bNContiguous: true });
  // K = 248 is not whole fragments; an offset of 4 halves misaligns the 8-half chunks; a strided view
  // has no unit stride. A 16x8 B is fine: the kernel stages whole 16-byte chunks, never whole fragments.
  assert.is(subgroupMatrixLayout(plainSpec(256, 256, 248, 'f16')), null);
  assert.equal(subgroupMatrixLayout(plainSpec(256, 8, 16, 'f16')), { aKContiguous: true, bNContiguous: true });
  assert.is(subgroupMatrixLayout({ ...f16, a: { ...f16.a, offset: 4 } }), null);
  assert.is(subgroupMatrixLayout({ ...f16, b: { ...f16.b, colStride: 2 } }), null);
});

t('subgroup-matrix shapes: even chunk split, workgroup memory and invocation limits', () => {
  for (const { tile } of SUBGROUP_MATRIX_TUNING) {
    assert.is(subgroupMatrixProblem(tile, 32, 49152, 1024), null, JSON.stringify(tile));
    assert.ok(subgroupMatrixBytes(tile) <= 49152, 'every tuned tile fits 48 KiB');
  }
  const big = SUBGROUP_MATRIX_TUNING[SUBGROUP_MATRIX_TUNING.length - 1]!.tile;
  assert.match(subgroupMatrixProblem(big, 32, 16384, 1024) ?? '', /workgroup memory/);
  assert.match(subgroupMatrixProblem(big, 32, 49152, 128) ?? '', /invocations/);
  // 1x1 subgroup of 1x1 fragment with TK 16: 16x16 slabs = 32 chunks over 32 lanes, even; 64 lanes not.
  assert.is(subgroupMatrixProblem({ subgroups: [1, 1], frags: [1, 1], tk: 16, stages: 2 }, 32, 49152, 1024), null);
  assert.match(subgroupMatrixProblem({ subgroups: [1, 1], frags: [1, 1], tk: 16, stages: 2 }, 64, 49152, 1024) ?? '', /evenly/);
  assert.match(subgroupMatrixProblem({ subgroups: [2, 2], frags: [2, 2], tk: 24, stages: 2 }, 32, 49152, 1024) ?? '', /multiple of 16/);
  assert.match(subgroupMatrixProblem({ subgroups: [0, 2], frags: [2, 2], tk: 32, stages: 2 }, 32, 49152, 1024) ?? '', /1\.\.8/);
  // 128x256 tiles 32 deep fit 48 KiB with one slab per operand, not with two.
  const deep = { subgroups: [2, 4], frags: [4, 4], tk: 32 } as const;
  assert.is(subgroupMatrixProblem({ ...deep, stages: 1 }, 32, 49152, 1024), null);
  assert.match(subgroupMatrixProblem({ ...deep, stages: 2 }, 32, 49152, 1024) ?? '', /workgroup memory/);
  // Packed staging: a band of an m- or n-contiguous operand is 32 k-rows of 24 halves plus 16, 784
  // halves against 640 for 16 k-contiguous rows of 40. 128x128 tiles 32 deep with two stages fill 48 KiB
  // exactly for x @ w^T (both k-contiguous), not for A @ B (B n-contiguous), nor when the layout is unknown.
  const wide = { subgroups: [2, 4], frags: [4, 2], tk: 32, stages: 2, staging: 'packed' } as const;
  const linear = { aKContiguous: true, bNContiguous: false };
  assert.is(subgroupMatrixBytes(wide, linear), 2 * 16 * 640 * 2 + 8 * 1024);
  assert.is(subgroupMatrixBytes(wide, { aKContiguous: true, bNContiguous: true }), 2 * 8 * (640 + 784) * 2 + 8 * 1024);
  assert.is(subgroupMatrixProblem(wide, 32, 49152, 1024, linear), null);
  assert.match(subgroupMatrixProblem(wide, 32, 49152, 1024, { aKContiguous: true, bNContiguous: true }) ?? '', /workgroup memory/);
  assert.match(subgroupMatrixProblem(wide, 32, 49152, 1024) ?? '', /workgroup memory/);
  // Chunk staging's slabs do not depend on the layout.
  assert.is(subgroupMatrixBytes({ ...wide, staging: 'chunks' }, linear), subgroupMatrixBytes({ ...wide, staging: 'chunks' }));
});

// The subgroup-matrix kernel runs only where the adapter has matrix units (the GPU device session runs
// this suite there); elsewhere forcing it is refused, as the next test checks. Shapes cover the M and
// N edges of 128x128 and 64x64 tiles, K % 32 == 16 (a zero-filled half slab), transposed A, w read as
// w^T, batches, the fused epilogue and f16 output. (Forcing it on an unsuitable layout is refused.)
t('subgroup-matrix kernel against the oracle where the adapter has it', async () => {
  if (!runtime().info.subgroupMatrixF16) return;
  const shapes: SubgroupMatrixOptions[] = [
    undefined, { subgroups: [2, 2], fragments: [2, 2], tk: 16 }, { subgroups: [1, 2], fragments: [4, 1], tk: 48 },
    { subgroups: [2, 1], fragments: [1, 2], tk: 32, stages: 1 },
  ];
  for (const [m, n, k] of [[1, 8, 16], [131, 72, 48], [200, 264, 320], [64, 128, 16]] as const) {
    for (const [transA, transB] of [[false, false], [true, false], [false, true]] as const) {
      if (transA && m % 8 !== 0) continue; // a transposed A's stride is M: the kernel needs it 8-aligned
      const [as, ras] = randomPair(transA ? [k, m] : [m, k], m + n, 'f16');
      const [bs, rbs] = randomPair(transB ? [n, k] : [k, n], m * n + k, 'f16');
      const a = transA ? ops.transpose(as) : as;
      const b = transB ? ops.transpose(bs) : bs;
      const expected = refMatmul(transA ? refTranspose(ras) : ras, transB ? refTranspose(rbs) : rbs);
      for (const shape of shapes) {
        const o: MatmulOptions = { kernel: 'subgroup-matrix', outDtype: 'f32', ...(shape ? { subgroupMatrix: shape } : {}) };
        await check(ops.matmul(a, b, o), expected, k, `${m}x${n}x${k} tA=${transA} tB=${transB} ${JSON.stringify(shape)}`);
      }
      for (const x of new Set([as, bs, a, b])) x.dispose();
    }
  }
  // Batched operands (one grid layer per batch entry), then a shared weight folded into M with bias +
  // GELU + residual, f16 out.
  const [x, rx] = randomPair([3, 40, 64], 7, 'f16');
  const [wb, rwb] = randomPair([3, 64, 24], 11, 'f16');
  await check(ops.matmul(x, wb, { kernel: 'subgroup-matrix', outDtype: 'f32' }), refMatmul(rx, rwb), 64, 'subgroup-matrix batched');
  wb.dispose();
  const [w, rw] = randomPair([24, 64], 8, 'f16');
  const [bias, rbias] = randomPair([24], 9, 'f16');
  const [res, rres] = randomPair([3, 40, 24], 10, 'f16');
  const pre = zip(refMatmul(rx, refTranspose(rw)), rbias, (p, q) => p + q);
  const expected = zip(zip(pre, pre, (v) => gelu(v)), rres, (p, q) => p + q);
  const y = ops.linear(x, w, bias, { kernel: 'subgroup-matrix', activation: 'gelu', residual: res });
  assert.is(y.dtype, 'f16');
  expectClose(await y.data(), expected.data, { atol: 1e-5 * Math.sqrt(64), rtol: 1e-3, what: 'subgroup-matrix linear epilogue' });
  for (const z of [x, w, bias, res, y]) z.dispose();
});

t('forced kernels and tiles the adapter cannot run are refused before any GPU work', () => {
  const a = ops.zeros([4, 4], { dtype: hasF16() ? 'f16' : 'f32' });
  if (!runtime().info.subgroupMatrixF16)
    assert.throws(() => ops.matmul(a, a, { kernel: 'subgroup-matrix' }), (e: Error) => e instanceof ArgumentError && /subgroup-matrix/.test(e.message));
  assert.throws(() => ops.matmul(a, a, { kernel: 'tiled', tile: { blocks: [5, 1], tk: 8 } }), (e: Error) => e instanceof ArgumentError && /blocks/.test(e.message));
  assert.throws(() => ops.matmul(a, a, { kernel: 'tiled', tile: { blocks: [1, 1], tk: 6 } }), (e: Error) => e instanceof ArgumentError);
  assert.throws(() => ops.matmul(a, a, { kernel: 'tiled', tile: { blocks: [4, 4], tk: 64 } }), (e: Error) => e instanceof ArgumentError && /workgroup memory/.test(e.message));
  // Two slabs per operand double the workgroup memory: 16 KiB of slabs become 32 KiB, and the stage count is checked.
  assert.is(tiledBytes({ variant: 'tiled', blocks: [2, 2], tk: 16, stages: 2 }), 2 * tiledBytes({ variant: 'tiled', blocks: [2, 2], tk: 16 }));
  assert.throws(() => ops.matmul(a, a, { kernel: 'tiled', tile: { blocks: [4, 4], tk: 32, stages: 2 } }), (e: Error) => e instanceof ArgumentError && /workgroup memory/.test(e.message));
  assert.throws(() => ops.matmul(a, a, { kernel: 'tiled', tile: { blocks: [1, 1], tk: 8, stages: 3 as 2 } }), (e: Error) => e instanceof ArgumentError && /stages/.test(e.message));
  a.dispose();
});

t('without subgroups: tiled fallback, and forcing lanes is refused', async () => {
  await init({ disableFeatures: ['subgroups'] });
  try {
    const [a, ra] = randomPair([9, 11], 41);
    const [b, rb] = randomPair([11, 5], 42);
    await check(ops.matmul(a, b), refMatmul(ra, rb), 11, 'no-subgroup fallback');
    assert.throws(() => ops.matmul(a, b, { kernel: 'lanes' }), (e: Error) => e instanceof ArgumentError && /subgroups/.test(e.message));
  } finally {
    await resetTestDevice();
  }
});

t.run();
