import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ops, hasF16, runtime, type Tensor } from '../../engine/index.js';
import { empty } from '../../engine/tensor.js';
import {
  matmulLaunches, matmulSplitKSumLaunch, splitKPartialSpec, subgroupMatrixLayout, subgroupMatrixProblem, type GemmSpec, type MatrixOperand, type SubgroupMatrixTile,
} from '../../kernels/matmul.js';
import { NdArray, expectClose, gelu, matmul as refMatmul, randomPair, transpose as refTranspose, zip } from '../oracle.js';
import { testDevice } from '../helpers.js';
import { splitOf, type Launch } from '../../kernels/launch.js';
import { emulateSubgroupMatrices } from '../subgroup-matrix-emulation.js';

// matmul_subgroup_matrix.wgsl runs on GPUs with matrix units only; the device session checks it there
// (kernels: matmul). Here its matrix builtins are emulated in plain WGSL (test/subgroup-matrix-emulation.ts)
// so that everything around them (staging in both orientations, bands, slab stages, M/N/K edges,
// batches, the epilogue) is checked against the float64 oracle on every run, lavapipe included. Node
// only: the browser would run the same Tint and the same lavapipe, at another minute of compiling.
const t = suite('kernels: subgroup-matrix GEMM, matrix builtins emulated');
t.before(async () => {
  await testDevice();
});

/** A GEMM operand read through the last two dims' strides of `x` (rows, then columns). */
function operand(x: Tensor, batchStrides: number[] = []): MatrixOperand {
  const r = x.shape.length;
  return { dtype: 'f16', offset: x.offset, rowStride: x.strides[r - 2]!, colStride: x.strides[r - 1]!, batchStrides };
}

const moduleText = (launch: Launch): string => (typeof launch.code === 'string' ? launch.code : launch.code());

/**
 * Runs the emulated kernel for `spec` with buffers a, b, [bias], [residual], out; with `segments` > 1,
 * K split into that many segments (rounded to whole slabs) and the partials summed by matmul_split_k.wgsl.
 */
function runEmulated(spec: GemmSpec, tile: SubgroupMatrixTile, inputs: Tensor[], outShape: number[], segments = 1): Tensor {
  const rt = runtime('test');
  const lanes = rt.fixedSubgroupSize!;
  const problem = subgroupMatrixProblem(tile, lanes, rt.workgroupStorageBytes, rt.info.limits.maxComputeInvocationsPerWorkgroup ?? 256);
  assert.is(problem, null, JSON.stringify(tile));
  const out = empty(outShape, spec.out, 'test');
  const buffers = (xs: Tensor[]) => xs.map((x) => x.storage('test').buffer);
  const emulated = (launch: Launch): Launch => ({ ...launch, key: `emulated/${launch.key}`, code: () => emulateSubgroupMatrices(moduleText(launch)) });
  const choice = { variant: 'subgroup-matrix', ...tile, lanes } as const;
  const split = splitOf(spec.k, tile.tk, segments);
  if (split.segments === 1) {
    for (const launch of matmulLaunches(spec, choice)) rt.run(emulated(launch), buffers([...inputs, out]));
    return out;
  }
  const [a, b, ...epilogue] = inputs;
  const partials = empty([split.segments * spec.batchShape.reduce((x, d) => x * d, 1), spec.m, spec.n], 'f32', 'test');
  for (const launch of matmulLaunches(splitKPartialSpec(spec), choice, split)) rt.run(emulated(launch), buffers([a!, b!, partials]));
  rt.run(matmulSplitKSumLaunch(spec, split), buffers([partials, ...epilogue, out]));
  partials.dispose();
  return out;
}

// Small tiles, as lavapipe has 32 KiB of workgroup memory and 8-wide subgroups: 2x2 subgroups of one
// fragment (32x32 tiles) with two 16-deep stages; 1x2 subgroups of 2x1 fragments with one stage; 2x1
// subgroups of one fragment with two 32-deep stages (K = 80 ends halfway into a slab). lavapipe's
// compile time grows steeply with the emulated calls a kernel makes (2-40 s per pipeline), so each
// orientation runs on two of the three tiles.
const tiles: SubgroupMatrixTile[] = [
  { subgroups: [2, 2], frags: [1, 1], tk: 16, stages: 2 },
  { subgroups: [1, 2], frags: [2, 1], tk: 16, stages: 1 },
  { subgroups: [2, 1], frags: [1, 1], tk: 32, stages: 2 },
];

const usable = () => hasF16() && runtime().fixedSubgroupSize !== undefined && runtime().features.has('subgroups');

/**
 * A @ B in each staging orientation (A k- or m-contiguous, B n- or k-contiguous) at each shape, on the
 * tiles `tilesFor` names for that orientation, against the float64 oracle.
 */
async function checkOrientations(shapes: readonly (readonly [number, number, number])[], tilesFor: (orientation: number) => SubgroupMatrixTile[]): Promise<void> {
  const orientations = [[false, false], [true, false], [false, true], [true, true]] as const;
  for (const [o, [transA, transB]] of orientations.entries()) {
    for (const [m, n, k] of shapes) {
      if (transA && m % 8 !== 0) continue; // a transposed A's stride is M: the kernel needs it 8-aligned
      const [as, ras] = randomPair(transA ? [k, m] : [m, k], m * 7 + k, 'f16');
      const [bs, rbs] = randomPair(transB ? [n, k] : [k, n], n * 11 + k, 'f16');
      const a = transA ? ops.transpose(as) : as;
      const b = transB ? ops.transpose(bs) : bs;
      const spec: GemmSpec = { m, n, k, batchShape: [], a: operand(a), b: operand(b), out: 'f32', activation: 'none', savePre: false };
      assert.equal(subgroupMatrixLayout(spec), { aKContiguous: !transA, bNContiguous: !transB });
      const expected = refMatmul(transA ? refTranspose(ras) : ras, transB ? refTranspose(rbs) : rbs);
      for (const tile of tilesFor(o)) {
        const out = runEmulated(spec, tile, [a, b], [m, n]);
        expectClose(await out.data(), expected.data, { atol: 1e-5 * Math.sqrt(k), rtol: 1e-5, what: `${m}x${n}x${k} tA=${transA} tB=${transB} ${JSON.stringify(tile)}` });
        out.dispose();
      }
      for (const x of new Set([as, bs, a, b])) x.dispose();
    }
  }
}

t('A @ B in every staging orientation, tile edges and K tails', async () => {
  if (!usable()) return;
  // 40 and 37 are no multiples of any tile edge; K = 80 ends mid-slab for TK 32.
  await checkOrientations([[40, 40, 80], [37, 24, 48], [1, 8, 16]], (o) => [tiles[o % 3]!, tiles[(o + 1) % 3]!]);
});

t('fragment staging: A @ B in every orientation, tile edges and K tails', async () => {
  if (!usable()) return;
  // Whole fragments from the storage buffers into the slabs (1x2 and 2x1 subgroups, one band each per
  // operand; K = 80 leaves the second half of the last 32-deep slab past K, staged as zero fragments).
  const fragmentTiles: SubgroupMatrixTile[] = [
    { subgroups: [1, 2], frags: [2, 1], tk: 16, stages: 1, staging: 'fragments' },
    { subgroups: [2, 1], frags: [1, 2], tk: 32, stages: 2, staging: 'fragments' },
  ];
  // The 32-deep tile on transposed A and on w^T: past K, a k-contiguous A and B both hold the next
  // row's values, so only the zero fragments keep the K tail out of the sums.
  await checkOrientations([[40, 40, 80], [37, 24, 48]], (o) => [fragmentTiles[o === 1 || o === 2 ? 1 : 0]!]);
  // Bands that do not split evenly over the subgroups are refused.
  assert.match(subgroupMatrixProblem({ subgroups: [2, 2], frags: [1, 1], tk: 16, stages: 2, staging: 'fragments' }, 8, 32768, 256) ?? '', /bands/);
});

t('packed staging: A @ B in every orientation, tile edges and K tails', async () => {
  if (!usable()) return;
  // Whole chunks into vec4<u32> unit slabs, each operand in its own orientation: an m-contiguous A and
  // an n-contiguous B are read column- and row-major from bands of k-rows. The 16-deep two-stage tile
  // takes a k-contiguous A, the 32-deep one-stage tile an m-contiguous one, each with both B orientations.
  const packedTiles: SubgroupMatrixTile[] = [
    { subgroups: [2, 2], frags: [1, 1], tk: 16, stages: 2, staging: 'packed' },
    { subgroups: [1, 2], frags: [2, 1], tk: 32, stages: 1, staging: 'packed' },
  ];
  await checkOrientations([[40, 40, 80], [37, 24, 48]], (o) => [packedTiles[o % 2]!]);
});

t('batched operands, then bias + GELU + residual into f16', async () => {
  if (!usable()) return;
  const [x, rx] = randomPair([3, 40, 32], 5, 'f16');
  const [w, rw] = randomPair([3, 32, 24], 6, 'f16');
  const batched: GemmSpec = {
    m: 40, n: 24, k: 32, batchShape: [3], a: operand(x, [40 * 32]), b: operand(w, [32 * 24]), out: 'f32', activation: 'none', savePre: false,
  };
  const [bias, rbias] = randomPair([24], 7, 'f16');
  const [res, rres] = randomPair([40, 24], 8, 'f16');
  const [w2, rw2] = randomPair([24, 32], 9, 'f16'); // [out, in], read as w^T
  const w2t = ops.transpose(w2);
  const rows = ops.reshape(x, [120, 32]); // the first 40 rows are the first batch entry
  const fused: GemmSpec = {
    m: 40, n: 24, k: 32, batchShape: [], a: operand(rows), b: operand(w2t), out: 'f16', activation: 'gelu', savePre: false,
    bias: { dtype: 'f16', offset: 0, stride: 1 }, residual: operand(res),
  };
  const pre = zip(refMatmul(new NdArray([40, 32], rx.data.slice(0, 40 * 32)), refTranspose(rw2)), rbias, (p, q) => p + q);
  const expectedFused = zip(zip(pre, pre, (v) => gelu(v)), rres, (p, q) => p + q);
  const tile = tiles[1]!; // two fragments per subgroup: the generated epilogue stores both
  const out = runEmulated(batched, tile, [x, w], [3, 40, 24]);
  expectClose(await out.data(), refMatmul(rx, rw).data, { atol: 1e-5 * Math.sqrt(32), rtol: 1e-5, what: 'batched' });
  out.dispose();
  const y = runEmulated(fused, tile, [x, w2t, bias, res], [40, 24]);
  expectClose(await y.data(), expectedFused.data, { atol: 1e-5 * Math.sqrt(32), rtol: 1e-3, what: 'bias + GELU + residual' });
  y.dispose();
  for (const z of [x, w, bias, res, w2, w2t, rows]) z.dispose();
});

t('split K: segments of whole slabs summed, with chunk and fragment staging, batches and the epilogue', async () => {
  if (!usable()) return;
  // K = 80: 16-deep slabs in 3 segments (32, 32, 16 k), 32-deep ones in 2 (64, 16: the last ends mid-slab).
  const [a, ra] = randomPair([40, 80], 61, 'f16');
  const [b, rb] = randomPair([80, 40], 62, 'f16');
  const spec: GemmSpec = { m: 40, n: 40, k: 80, batchShape: [], a: operand(a), b: operand(b), out: 'f32', activation: 'none', savePre: false };
  const expected = refMatmul(ra, rb);
  const fragments: SubgroupMatrixTile = { subgroups: [1, 2], frags: [2, 1], tk: 16, stages: 1, staging: 'fragments' };
  for (const [tile, segments] of [[tiles[0]!, 3], [tiles[2]!, 2], [fragments, 3]] as const) {
    const out = runEmulated(spec, tile, [a, b], [40, 40], segments);
    expectClose(await out.data(), expected.data, { atol: 1e-5 * Math.sqrt(80), rtol: 1e-5, what: `${segments} segments ${JSON.stringify(tile)}` });
    out.dispose();
  }
  // Batch entries in the grid beside the segments, then bias + GELU + residual into f16 on the summed partials.
  const [x, rx] = randomPair([3, 40, 64], 63, 'f16');
  const [w, rw] = randomPair([3, 64, 24], 64, 'f16');
  const batched: GemmSpec = {
    m: 40, n: 24, k: 64, batchShape: [3], a: operand(x, [40 * 64]), b: operand(w, [64 * 24]), out: 'f32', activation: 'none', savePre: false,
  };
  const out = runEmulated(batched, tiles[1]!, [x, w], [3, 40, 24], 2);
  expectClose(await out.data(), refMatmul(rx, rw).data, { atol: 1e-5 * 8, rtol: 1e-5, what: 'batched, 2 segments' });
  out.dispose();
  const [bias, rbias] = randomPair([24], 65, 'f16');
  const [res, rres] = randomPair([40, 24], 66, 'f16');
  const rows = ops.reshape(x, [120, 64]); // the first 40 rows and 64 rows are batch entry 0 of x and w
  const wRows = ops.reshape(w, [192, 24]);
  const fused: GemmSpec = {
    m: 40, n: 24, k: 64, batchShape: [], a: operand(rows), b: operand(wRows), out: 'f16', activation: 'gelu', savePre: false,
    bias: { dtype: 'f16', offset: 0, stride: 1 }, residual: operand(res),
  };
  const first = (t: NdArray, rowsOf: number, cols: number) => new NdArray([rowsOf, cols], t.data.slice(0, rowsOf * cols));
  const pre = zip(refMatmul(first(rx, 40, 64), first(rw, 64, 24)), rbias, (p, q) => p + q);
  const y = runEmulated(fused, tiles[1]!, [rows, wRows, bias, res], [40, 24], 4);
  expectClose(await y.data(), zip(zip(pre, pre, (v) => gelu(v)), rres, (p, q) => p + q).data, { atol: 1e-5 * 8, rtol: 1e-3, what: 'bias + GELU + residual, 4 segments' });
  for (const z of [a, b, x, w, bias, res, rows, wRows, y]) z.dispose();
});

t('every matrix builtin the kernel calls is emulated', () => {
  const spec: GemmSpec = {
    m: 64, n: 64, k: 64, batchShape: [], out: 'f32', activation: 'none', savePre: false,
    a: { dtype: 'f16', offset: 0, rowStride: 64, colStride: 1, batchStrides: [] }, b: { dtype: 'f16', offset: 0, rowStride: 1, colStride: 64, batchStrides: [] },
  };
  const [launch] = matmulLaunches(spec, { variant: 'subgroup-matrix', subgroups: [2, 4], frags: [4, 4], tk: 32, stages: 1, lanes: 32 });
  const code = emulateSubgroupMatrices(moduleText(launch!));
  assert.ok(code.includes('emulated_load_a(') && code.includes('emulated_load_b(') && code.includes('emulated_mma(') && code.includes('emulated_store('));
  const [staged] = matmulLaunches(spec, { variant: 'subgroup-matrix', subgroups: [2, 4], frags: [4, 4], tk: 32, stages: 1, staging: 'fragments', lanes: 32 });
  const stagedCode = emulateSubgroupMatrices(moduleText(staged!));
  assert.ok(stagedCode.includes('emulated_load_global_a(') && stagedCode.includes('emulated_store_slab_b(') && !stagedCode.includes('fetch_slabs'));
  const [packed] = matmulLaunches(spec, { variant: 'subgroup-matrix', subgroups: [2, 4], frags: [4, 4], tk: 32, stages: 1, staging: 'packed', lanes: 32 });
  const packedCode = moduleText(packed!);
  // A and B k-contiguous here: A's band is read row-major, B's (rows are n) column-major; no f16 slab left.
  assert.ok(packedCode.includes('subgroup_matrix_left<f16, F, F>, row_major>(&a_units[') && packedCode.includes('subgroup_matrix_right<f16, F, F>, col_major>(&b_units['));
  assert.ok(packedCode.includes('store_units(li, 0u)') && !packedCode.includes('a_slab') && !packedCode.includes('store_slabs'));
  assert.ok(emulateSubgroupMatrices(packedCode).includes('emulated_load_units(false, '));
  assert.throws(() => emulateSubgroupMatrices('let x = subgroupMatrixScalarMultiply(a, 2.0);'), /not emulated/);
});

t.run();
