import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ArgumentError, DTypeError, ShapeError, hasF16, init, ops, runtime } from '../../engine/index.js';
import type { ConvKernel, ConvOptions } from '../../engine/ops/conv.js';
import { assertClose, assertThrows, resetTestDevice, testDevice } from '../helpers.js';

const t = suite('kernels: conv');
t.before(async () => {
  await testDevice();
});

// ---------- float64 oracle: the plain nested loops, in 3 spatial dims (1-d/2-d use unit leading dims) ----------

interface Geo {
  batch: number;
  cin: number;
  cout: number;
  groups: number;
  inSize: number[]; // 3 dims
  kernel: number[];
  stride: number[];
  dilation: number[];
  before: number[];
  after: number[];
  circular: boolean;
  outSize: number[];
}

const lift = (v: number[], fill: number): number[] => [...new Array<number>(3 - v.length).fill(fill), ...v];

/** Resolves options exactly as torch documents them (independently of engine/ops/conv.ts). */
function geometry(xShape: number[], wShape: number[], o: ConvOptions): Geo {
  const rank = xShape.length - 2;
  const each = (v: number | readonly number[] | undefined, dflt: number): number[] =>
    v === undefined ? new Array<number>(rank).fill(dflt) : typeof v === 'number' ? new Array<number>(rank).fill(v) : [...v];
  const kernel = wShape.slice(2);
  const stride = each(o.stride, 1);
  const dilation = each(o.dilation, 1);
  let before: number[];
  let after: number[];
  if (o.padding === 'same') {
    const total = kernel.map((k, d) => dilation[d]! * (k - 1));
    before = total.map((v) => Math.floor(v / 2));
    after = total.map((v, d) => v - before[d]!);
  } else if (o.padding === 'valid') {
    before = after = new Array<number>(rank).fill(0);
  } else {
    before = after = each(o.padding as number | number[] | undefined, 0);
  }
  const inSize = xShape.slice(2);
  const outSize = inSize.map((l, d) => Math.floor((l + before[d]! + after[d]! - dilation[d]! * (kernel[d]! - 1) - 1) / stride[d]!) + 1);
  return {
    batch: xShape[0]!, cin: xShape[1]!, cout: wShape[0]!, groups: o.groups ?? 1,
    inSize: lift(inSize, 1), kernel: lift(kernel, 1), stride: lift(stride, 1), dilation: lift(dilation, 1),
    before: lift(before, 0), after: lift(after, 0), circular: o.paddingMode === 'circular', outSize: lift(outSize, 1),
  };
}

/** Visits every (output element, input element, weight element) triple of the convolution. */
function forEachTerm(g: Geo, visit: (yi: number, xi: number, wi: number, co: number) => void): void {
  const [D, H, W] = g.inSize as [number, number, number];
  const [KD, KH, KW] = g.kernel as [number, number, number];
  const [OD, OH, OW] = g.outSize as [number, number, number];
  const cg = g.cin / g.groups;
  const og = g.cout / g.groups;
  // Input coordinate along one dim, or -1 for a zero pad.
  const at = (o: number, k: number, d: number, size: number): number => {
    const i = o * g.stride[d]! - g.before[d]! + k * g.dilation[d]!;
    if (i >= 0 && i < size) return i;
    return g.circular ? ((i % size) + size) % size : -1;
  };
  for (let b = 0; b < g.batch; b++)
    for (let co = 0; co < g.cout; co++)
      for (let od = 0; od < OD; od++)
        for (let oh = 0; oh < OH; oh++)
          for (let ow = 0; ow < OW; ow++) {
            const yi = (((b * g.cout + co) * OD + od) * OH + oh) * OW + ow;
            const grp = Math.floor(co / og);
            for (let ci = 0; ci < cg; ci++)
              for (let kd = 0; kd < KD; kd++)
                for (let kh = 0; kh < KH; kh++)
                  for (let kw = 0; kw < KW; kw++) {
                    const [id, ih, iw] = [at(od, kd, 0, D), at(oh, kh, 1, H), at(ow, kw, 2, W)];
                    if (id < 0 || ih < 0 || iw < 0) continue;
                    const xi = (((b * g.cin + grp * cg + ci) * D + id) * H + ih) * W + iw;
                    const wi = (((co * cg + ci) * KD + kd) * KH + kh) * KW + kw;
                    visit(yi, xi, wi, co);
                  }
          }
}

function oracleForward(g: Geo, x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null): Float64Array {
  const plane = g.outSize[0]! * g.outSize[1]! * g.outSize[2]!;
  const y = new Float64Array(g.batch * g.cout * plane);
  if (b) for (let i = 0; i < y.length; i++) y[i] = b[Math.floor(i / plane) % g.cout]!;
  forEachTerm(g, (yi, xi, wi) => (y[yi] += x[xi]! * w[wi]!));
  return y;
}

/** Analytic gradients of sum(y * dy): the same loops, scattering instead of gathering. */
function oracleBackward(g: Geo, dy: ArrayLike<number>, x: ArrayLike<number>, w: ArrayLike<number>) {
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  const db = new Float64Array(g.cout);
  const plane = g.outSize[0]! * g.outSize[1]! * g.outSize[2]!;
  for (let i = 0; i < dy.length; i++) db[Math.floor(i / plane) % g.cout] += dy[i]!;
  forEachTerm(g, (yi, xi, wi) => {
    dx[xi] += dy[yi]! * w[wi]!;
    dw[wi] += dy[yi]! * x[xi]!;
  });
  return { dx, dw, db };
}

// ---------- helpers ----------

/** Deterministic pseudo-random values in [-1, 1) (xorshift), so failures reproduce. */
function values(n: number, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const convFn = [ops.conv1d, ops.conv2d, ops.conv3d];
const convBackward = [ops.conv1dBackward, ops.conv2dBackward, ops.conv3dBackward];

/**
 * Runs forward and all gradients on the GPU and compares with the oracle. f32 accumulates K products with
 * error ~sqrt(K) * 6e-8 relative to the terms (|terms| <= 1 here, K <= a few hundred): 1e-4 is ample.
 */
async function checkCase(xShape: number[], wShape: number[], withBias: boolean, o: ConvOptions, seed: number, tol = 1e-4): Promise<void> {
  const rank = xShape.length - 2;
  const g = geometry(xShape, wShape, o);
  const xv = values(size(xShape), seed);
  const wv = values(size(wShape), seed + 1);
  const bv = withBias ? values(wShape[0]!, seed + 2) : null;
  const x = ops.tensor(xv, xShape);
  const w = ops.tensor(wv, wShape);
  const b = bv ? ops.tensor(bv, [wShape[0]!]) : null;
  const what = `x ${JSON.stringify(xShape)} w ${JSON.stringify(wShape)} ${JSON.stringify(o)}`;
  const y = convFn[rank - 1]!(x, w, b, o);
  const expected = oracleForward(g, xv, wv, bv);
  assert.equal([...y.shape], [g.batch, g.cout, ...g.outSize.slice(3 - rank)], `${what}: output shape`);
  assertClose(await y.data(), expected, { atol: tol, rtol: tol, what: `${what}: y` });
  const dyv = values(expected.length, seed + 3);
  const dy = ops.tensor(dyv, y.shape);
  const grads = convBackward[rank - 1]!(dy, x, w, o, { needInput: true, needWeight: true, needBias: true });
  const ref = oracleBackward(g, dyv, xv, wv);
  assertClose(await grads.dx!.data(), ref.dx, { atol: tol, rtol: tol, what: `${what}: dx` });
  assertClose(await grads.dw!.data(), ref.dw, { atol: tol, rtol: tol, what: `${what}: dw` });
  assertClose(await grads.db!.data(), ref.db, { atol: tol, rtol: tol, what: `${what}: db` });
  for (const tt of [x, w, b, y, dy, grads.dx, grads.dw, grads.db]) tt?.dispose();
}

// ---------- fixed cases ----------

t('conv2d 3x3 padding 1 with bias matches the direct loops', async () => {
  await checkCase([2, 3, 7, 6], [4, 3, 3, 3], true, { padding: 1 }, 1);
});

t('conv2d stride 2, dilation 2, asymmetric "same" and "valid"', async () => {
  await checkCase([1, 2, 9, 8], [3, 2, 3, 2], false, { stride: [2, 3], dilation: [2, 1], padding: [2, 1] }, 2);
  await checkCase([1, 2, 7, 6], [3, 2, 4, 2], true, { padding: 'same', dilation: [1, 2] }, 3);
  await checkCase([3, 2, 5, 5], [2, 2, 3, 3], true, { padding: 'valid', stride: 2 }, 4);
});

t('conv2d groups and depthwise', async () => {
  await checkCase([2, 4, 6, 5], [6, 2, 3, 3], true, { groups: 2, padding: 1 }, 5);
  await checkCase([1, 6, 7, 7], [6, 1, 3, 3], true, { groups: 6, padding: 1, stride: 2 }, 6);
  await checkCase([1, 3, 5, 5], [9, 1, 2, 2], false, { groups: 3 }, 7);
});

t('conv1d circular (Informer TokenEmbedding: kernel 3, circular padding 1, no bias)', async () => {
  await checkCase([2, 7, 24], [16, 7, 3], false, { padding: 1, paddingMode: 'circular' }, 8);
  // Padding equal to the length wraps the whole sequence; stride and dilation combine with wrapping.
  await checkCase([1, 2, 3], [2, 2, 3], true, { padding: 3, paddingMode: 'circular', stride: 2, dilation: 2 }, 9);
  await checkCase([1, 2, 6], [3, 2, 4], false, { padding: 'same', paddingMode: 'circular' }, 10);
});

t('conv3d video tubelets 2x16x16 stride 2x16x16', async () => {
  await checkCase([1, 3, 4, 32, 32], [8, 3, 2, 16, 16], true, { stride: [2, 16, 16] }, 11, 3e-4);
  await checkCase([2, 2, 3, 5, 4], [3, 2, 2, 3, 2], true, { padding: 1, stride: [1, 2, 1] }, 12);
});

t('patch embedding at reduced size: 32x32, kernel = stride = 16, Cout 64 (and kernel = stride = 14)', async () => {
  // K = 3 * 16 * 16 = 768 products of magnitude <= 1: f32 error stays below ~1e-4 absolute.
  await checkCase([2, 3, 32, 32], [64, 3, 16, 16], true, { stride: 16 }, 13, 3e-4);
  await checkCase([1, 3, 28, 28], [16, 3, 14, 14], true, { stride: 14 }, 14, 3e-4);
});

t('reads non-contiguous input, weight and output-gradient views directly', async () => {
  const xShape = [2, 3, 6, 5];
  const wShape = [4, 3, 3, 3];
  const o: ConvOptions = { padding: 1, stride: [1, 2] };
  const g = geometry(xShape, wShape, o);
  const xv = values(size(xShape), 20);
  const wv = values(size(wShape), 21);
  // x stored channels-last [B, H, W, C] and viewed as [B, C, H, W]; w stored [Cin, Cout, kh, kw] and transposed.
  const xNhwc = new Float32Array(xv.length);
  const [B, C, H, W] = xShape as [number, number, number, number];
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let h = 0; h < H; h++) for (let ww = 0; ww < W; ww++)
    xNhwc[((b * H + h) * W + ww) * C + c] = xv[((b * C + c) * H + h) * W + ww]!;
  const wT = new Float32Array(wv.length);
  for (let co = 0; co < 4; co++) for (let ci = 0; ci < 3; ci++) for (let k = 0; k < 9; k++) wT[(ci * 4 + co) * 9 + k] = wv[(co * 3 + ci) * 9 + k]!;
  const xStore = ops.tensor(xNhwc, [B, H, W, C]);
  const x = ops.permute(xStore, [0, 3, 1, 2]);
  const wStore = ops.tensor(wT, [3, 4, 3, 3]);
  const w = ops.transpose(wStore, 0, 1);
  // A sliced weight (offset into its storage) as well.
  const padded = ops.tensor(new Float32Array([...values(7, 22), ...wv]), [7 + wv.length]);
  const wOffset = ops.reshape(ops.slice(padded, [{ start: 7 }]), wShape);
  assert.not.ok(x.isContiguous);
  assert.not.ok(w.isContiguous);
  const expected = oracleForward(g, xv, wv, null);
  assertClose(await ops.conv2d(x, w, null, o).data(), expected, { atol: 1e-4, rtol: 1e-4, what: 'strided x, transposed w' });
  assertClose(await ops.conv2d(x, wOffset, null, o).data(), expected, { atol: 1e-4, rtol: 1e-4, what: 'w with offset' });
  // dy as a transposed view of [B, Co, Wo, Ho] storage.
  const [Ho, Wo] = [g.outSize[1]!, g.outSize[2]!];
  const dyv = values(B * 4 * Ho * Wo, 23);
  const dyT = new Float32Array(dyv.length);
  for (let bc = 0; bc < B * 4; bc++) for (let h = 0; h < Ho; h++) for (let ww = 0; ww < Wo; ww++) dyT[(bc * Wo + ww) * Ho + h] = dyv[(bc * Ho + h) * Wo + ww]!;
  const dy = ops.transpose(ops.tensor(dyT, [B, 4, Wo, Ho]), 2, 3);
  const grads = ops.conv2dBackward(dy, x, w, o, { needInput: true, needWeight: true, needBias: true });
  const ref = oracleBackward(g, dyv, xv, wv);
  assertClose(await grads.dx!.data(), ref.dx, { atol: 1e-4, rtol: 1e-4, what: 'dx from strided views' });
  assertClose(await grads.dw!.data(), ref.dw, { atol: 1e-4, rtol: 1e-4, what: 'dw from strided views' });
  assertClose(await grads.db!.data(), ref.db, { atol: 1e-4, rtol: 1e-4, what: 'db from strided dy' });
});

// ---------- properties ----------

interface CaseSpec {
  rank: number;
  batch: number;
  groups: number;
  cinG: number;
  coutG: number;
  depthwise: boolean;
  kernel: number[];
  stride: number[];
  dilation: number[];
  pad: number[] | 'same' | 'valid';
  circular: boolean;
  extra: number[];
  bias: boolean;
  /** The forward and weight-gradient kernel ('lanes' runs as the default where the adapter lacks it). */
  family: ConvKernel | 'default';
  seed: number;
}

const caseArb = fc
  .record({
    rank: fc.integer({ min: 1, max: 3 }),
    batch: fc.integer({ min: 1, max: 3 }),
    groups: fc.constantFrom(1, 2),
    cinG: fc.integer({ min: 1, max: 3 }),
    coutG: fc.integer({ min: 1, max: 3 }),
    depthwise: fc.boolean(),
    kernel: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 3, maxLength: 3 }),
    stride: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 3, maxLength: 3 }),
    dilation: fc.array(fc.integer({ min: 1, max: 2 }), { minLength: 3, maxLength: 3 }),
    pad: fc.oneof(fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 3, maxLength: 3 }), fc.constantFrom('same' as const, 'valid' as const)),
    circular: fc.boolean(),
    extra: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 3, maxLength: 3 }),
    bias: fc.boolean(),
    family: fc.constantFrom<ConvKernel | 'default'>('default', 'tiled', 'lanes'),
    seed: fc.integer({ min: 1, max: 1 << 20 }),
  })
  .map((c): CaseSpec => c);

function realise(c: CaseSpec): { xShape: number[]; wShape: number[]; o: ConvOptions } {
  const r = c.rank;
  const kernel = c.kernel.slice(0, r);
  const dilation = c.dilation.slice(0, r);
  const stride = c.pad === 'same' ? new Array<number>(r).fill(1) : c.stride.slice(0, r);
  const pad = typeof c.pad === 'string' ? c.pad : c.pad.slice(0, r);
  const padTotal = (d: number): number =>
    pad === 'same' ? dilation[d]! * (kernel[d]! - 1) : pad === 'valid' ? 0 : 2 * pad[d]!;
  const reach = (d: number): number => dilation[d]! * (kernel[d]! - 1) + 1;
  // Smallest legal input (padding must also not exceed the input when circular), plus a random extra.
  const sizes = kernel.map((_, d) => Math.max(1, reach(d) - padTotal(d), c.circular ? Math.ceil(padTotal(d) / 2) : 1) + c.extra[d]!);
  const groups = c.depthwise ? c.groups * c.cinG : c.groups;
  const cin = c.depthwise ? groups : c.groups * c.cinG;
  const cout = c.depthwise ? groups * c.coutG : c.groups * c.coutG;
  const xShape = [c.batch, cin, ...sizes];
  const wShape = [cout, cin / groups, ...kernel];
  const o: ConvOptions = { stride, dilation, padding: pad, groups, paddingMode: c.circular ? 'circular' : 'zeros' };
  const family = c.family === 'lanes' && !families.includes('lanes') ? 'default' : c.family;
  return { xShape, wShape, o: family === 'default' ? o : { ...o, kernel: family } };
}

t('property: forward and gradients match the oracle over random shapes and options', async () => {
  await fc.assert(
    fc.asyncProperty(caseArb, async (c) => {
      const { xShape, wShape, o } = realise(c);
      await checkCase(xShape, wShape, c.bias, o, c.seed);
    }),
    { numRuns: 40 },
  );
});

// ---------- kernels forced ----------

/** The kernel families this adapter runs: 'tiled' everywhere, 'lanes' where subgroups have a fixed width. */
let families: ConvKernel[] = ['tiled'];
t.before(async () => {
  const x = ops.tensor(values(4, 1), [1, 1, 4]);
  try {
    ops.conv1d(x, x, null, { kernel: 'lanes' }).dispose();
    families = ['tiled', 'lanes'];
  } catch (e) {
    if (!(e instanceof ArgumentError && /subgroups/.test(e.message))) throw e;
  } finally {
    x.dispose();
  }
});

t('each kernel, forced, matches the direct loops (forward and weight gradient; lanes-kernel edges)', async () => {
  for (const kernel of families) {
    // 2 x 37 positions: two position tiles of the lanes kernel with a ragged end; 36 output channels: a full
    // 32-row tile and a 4-row one; K = 4 * 9 = 36 (flat vec4 weight rows), padded (bounds-tested reads).
    await checkCase([2, 4, 6, 7], [36, 4, 3, 3], true, { padding: 1, stride: [1, 1], kernel }, 40);
    // K = 3 * 3 * 3 = 27: scalar weight loads with the K tail masked; no padding (unchecked reads); dilation.
    await checkCase([1, 3, 9, 8], [6, 3, 3, 3], false, { dilation: [2, 1], kernel }, 41);
    // Weight gradient with the output gradient's rows in runs (batch 3, 4 x 5 positions: t_count 20, vec4
    // runs) and 3 x 3 positions (t_count 9: scalar runs), each split over two batches and groups.
    await checkCase([3, 4, 6, 7], [6, 2, 3, 3], true, { padding: [0, 1], stride: [1, 1], groups: 2, kernel }, 42);
    await checkCase([2, 4, 5, 5], [4, 4, 3, 3], true, { padding: 1, stride: 2, kernel }, 43);
    // Depthwise (one channel per group: a 4-row tile for 1 row), conv1d circular, conv3d, patchify.
    await checkCase([1, 6, 7, 7], [6, 1, 3, 3], true, { groups: 6, padding: 1, kernel }, 44);
    await checkCase([2, 7, 24], [16, 7, 3], false, { padding: 1, paddingMode: 'circular', kernel }, 45);
    await checkCase([2, 2, 3, 5, 4], [3, 2, 2, 3, 2], true, { padding: 1, stride: [1, 2, 1], kernel }, 46);
    await checkCase([2, 3, 32, 32], [8, 3, 16, 16], true, { stride: 16, kernel }, 47, 3e-4);
  }
  // The patchify GEMM path, the GPUs' default for kernel = stride, in every rank.
  await checkCase([2, 3, 32, 32], [8, 3, 16, 16], true, { stride: 16, kernel: 'gemm' }, 48, 3e-4);
  await checkCase([2, 3, 12], [4, 3, 4], true, { stride: 4, kernel: 'gemm' }, 49);
  await checkCase([1, 2, 6, 8, 8], [5, 2, 3, 4, 4], false, { stride: [3, 4, 4], kernel: 'gemm' }, 50);
});

t('kernel errors: unknown kernel; gemm on a convolution that is not patchify; lanes forced without subgroups (tiled fallback)', async () => {
  const x = ops.tensor(values(2 * 3 * 5 * 5, 70), [2, 3, 5, 5]);
  const w = ops.tensor(values(4 * 3 * 3 * 3, 71), [4, 3, 3, 3]);
  const dispatches = runtime().dispatches;
  try {
    assertThrows(() => ops.conv2d(x, w, null, { kernel: 'magic' as ConvKernel }), ArgumentError, /conv2d: unknown kernel 'magic' \(expected 'tiled', 'lanes' or 'gemm'\)/);
    assertThrows(() => ops.conv2d(x, w, null, { kernel: 'gemm' }), ArgumentError, /conv2d: the 'gemm' kernel takes only patchify convolutions/);
    assert.is(runtime().dispatches, dispatches, 'no dispatch was recorded');
  } finally {
    x.dispose();
    w.dispose();
  }
  await init({ disableFeatures: ['subgroups'] });
  try {
    await checkCase([2, 3, 5, 5], [4, 3, 3, 3], true, { padding: 1 }, 72); // the adapter's choice falls back to 'tiled'
    const [x2, w2] = [ops.tensor(values(75, 73), [1, 3, 5, 5]), ops.tensor(values(108, 74), [4, 3, 3, 3])];
    assertThrows(() => ops.conv2d(x2, w2, null, { kernel: 'lanes' }), ArgumentError, /'lanes' kernel needs the subgroups feature/);
    const dy = ops.tensor(values(36, 75), [1, 4, 3, 3]);
    assertThrows(() => ops.conv2dBackward(dy, x2, w2, { kernel: 'lanes' }, { needWeight: true }), ArgumentError, /conv2dBackward: the 'lanes' kernel needs/);
  } finally {
    await resetTestDevice();
  }
});

// ---------- gradients by finite differences ----------

t('gradients match central finite differences of the GPU forward on a tiny case', async () => {
  // The loss sum(conv(x, w, b) * r) is linear in each of x, w and b, so a central difference is exact up to
  // rounding: with eps = 0.5 and |loss| ~ 10, f32 rounding gives errors near 1e-5.
  const xShape = [1, 2, 4, 3];
  const wShape = [2, 2, 2, 2];
  const o: ConvOptions = { padding: 1, stride: [2, 1] };
  const xv = values(size(xShape), 30);
  const wv = values(size(wShape), 31);
  const bv = values(2, 32);
  const yShape = [1, 2, ...geometry(xShape, wShape, o).outSize.slice(1)];
  const r = values(size(yShape), 33);
  const loss = async (xa: Float32Array, wa: Float32Array, ba: Float32Array): Promise<number> => {
    const args = [ops.tensor(xa, xShape), ops.tensor(wa, wShape), ops.tensor(ba, [2])] as const;
    const yt = ops.conv2d(...args, o);
    const y = await yt.data();
    for (const tt of [...args, yt]) tt.dispose();
    let sum = 0;
    for (let i = 0; i < y.length; i++) sum += y[i]! * r[i]!;
    return sum;
  };
  const fd = async (which: 0 | 1 | 2): Promise<Float64Array> => {
    const base = [xv, wv, bv][which]!;
    const out = new Float64Array(base.length);
    const eps = 0.5;
    for (let i = 0; i < base.length; i++) {
      const plus = Float32Array.from(base);
      const minus = Float32Array.from(base);
      plus[i] += eps;
      minus[i] -= eps;
      const args = (v: Float32Array): [Float32Array, Float32Array, Float32Array] =>
        which === 0 ? [v, wv, bv] : which === 1 ? [xv, v, bv] : [xv, wv, v];
      out[i] = ((await loss(...args(plus))) - (await loss(...args(minus)))) / (2 * eps);
    }
    return out;
  };
  const grads = ops.conv2dBackward(ops.tensor(r, yShape), ops.tensor(xv, xShape), ops.tensor(wv, wShape), o, {
    needInput: true, needWeight: true, needBias: true,
  });
  assertClose(await grads.dx!.data(), await fd(0), { atol: 1e-4, rtol: 1e-4, what: 'dx vs finite differences' });
  assertClose(await grads.dw!.data(), await fd(1), { atol: 1e-4, rtol: 1e-4, what: 'dw vs finite differences' });
  assertClose(await grads.db!.data(), await fd(2), { atol: 1e-4, rtol: 1e-4, what: 'db vs finite differences' });
});

t('gradients are only computed when requested, and are bitwise deterministic', async () => {
  const x = ops.tensor(values(2 * 8 * 12 * 12, 40), [2, 8, 12, 12]);
  const w = ops.tensor(values(8 * 8 * 3 * 3, 41), [8, 8, 3, 3]);
  const dy = ops.tensor(values(2 * 8 * 6 * 6, 42), [2, 8, 6, 6]);
  const o: ConvOptions = { padding: 1, stride: 2 };
  const none = ops.conv2dBackward(dy, x, w, o, {});
  assert.equal([none.dx, none.dw, none.db], [null, null, null]);
  const run = async () => {
    const g = ops.conv2dBackward(dy, x, w, o, { needInput: true, needWeight: true, needBias: true });
    return [await g.dx!.data(), await g.dw!.data(), await g.db!.data()];
  };
  const [a, b] = [await run(), await run()];
  for (let i = 0; i < 3; i++) assert.equal(Array.from(a[i]!), Array.from(b[i]!), `gradient ${i} differs between runs`);
});

t('strided input gradients (GEMMs plus col2im): residues no tap meets, dilation, groups, circular, conv1d/3d, batch chunks, fallback', async () => {
  // Stride 3 with dilation 2 (taps 3 apart meet each residue), stride 2 with dilation 2 (odd residues meet
  // no tap: zero rows of dx), groups, asymmetric strides and padding.
  await checkCase([2, 4, 9, 10], [6, 2, 3, 3], true, { groups: 2, stride: [3, 2], dilation: [2, 2], padding: [1, 2] }, 80);
  // A 1-tap kernel with stride 2 (ResNet's downsampling shortcut): every other input pixel gets nothing.
  await checkCase([2, 3, 11], [4, 3, 1], false, { stride: 2 }, 81);
  await checkCase([2, 3, 12], [4, 3, 3], true, { stride: 2, padding: 1, paddingMode: 'circular' }, 82);
  await checkCase([1, 2, 7, 9, 8], [3, 2, 3, 2, 3], false, { stride: [2, 3, 2], padding: 1 }, 83);
  // Columns of 4 channels x 256 taps x 89 x 89 positions (32.4 MB per batch element) against a 64 MiB
  // budget: chunks of 2 and 1 batch elements. (dw sums ~24k products, hence the looser tolerance.)
  await checkCase([3, 4, 192, 192], [2, 4, 16, 16], false, { stride: 2 }, 84, 1e-3);
  // 8 channels x 256 taps x 93 x 93 positions (70.8 MB) exceed the budget: the phased kernel runs instead.
  await checkCase([1, 8, 200, 200], [2, 8, 16, 16], false, { stride: 2 }, 85, 1e-3);
});

// ---------- f16 ----------

t('f16 storage with f32 accumulation (every kernel, and the patchify GEMM path)', async () => {
  if (!hasF16()) return; // adapters without shader-f16 cannot create f16 tensors at all (tested in engine tests)
  const cases: [number[], number[], ConvOptions][] = [
    ...families.map((kernel): [number[], number[], ConvOptions] => [[2, 4, 7, 7], [6, 2, 3, 3], { padding: 1, groups: 2, stride: [2, 1], kernel }]),
    ...[...families, 'gemm' as const].map((kernel): [number[], number[], ConvOptions] => [[2, 4, 8, 8], [6, 4, 2, 2], { stride: 2, kernel }]),
  ];
  for (const [xShape, wShape, o] of cases) {
    const g = geometry(xShape, wShape, o);
    // Oracle inputs are the f16-rounded values, so the only error left is f32 accumulation plus rounding the
    // result to f16: relative 2^-11 of values up to ~6 in magnitude, i.e. < 4e-3 absolute.
    const round = (v: Float32Array): Promise<Float32Array> => ops.tensor(v, [v.length], { dtype: 'f16' }).data() as Promise<Float32Array>;
    const xv = await round(values(size(xShape), 50));
    const wv = await round(values(size(wShape), 51));
    const bv = await round(values(6, 52));
    const x = ops.tensor(xv, xShape, { dtype: 'f16' });
    const w = ops.tensor(wv, wShape, { dtype: 'f16' });
    const b = ops.tensor(bv, [6], { dtype: 'f16' });
    const y = ops.conv2d(x, w, b, o);
    const what = `f16 ${JSON.stringify(o)}`;
    assert.is(y.dtype, 'f16');
    assertClose(await y.data(), oracleForward(g, xv, wv, bv), { atol: 4e-3, rtol: 2e-3, what: `${what} y` });
    const dyv = await round(values(size(y.shape), 53));
    const grads = ops.conv2dBackward(ops.tensor(dyv, y.shape, { dtype: 'f16' }), x, w, o, { needInput: true, needWeight: true, needBias: true });
    const ref = oracleBackward(g, dyv, xv, wv);
    // dw and db sum up to B * Ho * Wo = 56 products: magnitudes up to ~15, so 2^-11 relative is < 1e-2.
    assertClose(await grads.dx!.data(), ref.dx, { atol: 4e-3, rtol: 2e-3, what: `${what} dx` });
    assertClose(await grads.dw!.data(), ref.dw, { atol: 1e-2, rtol: 2e-3, what: `${what} dw` });
    assertClose(await grads.db!.data(), ref.db, { atol: 1e-2, rtol: 2e-3, what: `${what} db` });
  }
});

t('patchify convolutions (kernel = stride) in every rank, from a transposed view, and a size the kernel does not divide', async () => {
  await checkCase([2, 3, 12], [4, 3, 4], true, { stride: 4 }, 21);
  await checkCase([1, 2, 6, 8, 8], [5, 2, 3, 4, 4], false, { stride: [3, 4, 4] }, 22);
  // 20 is not a multiple of 8: the last 4 rows and columns are dropped, as torch does (implicit-GEMM path).
  await checkCase([1, 2, 20, 20], [5, 2, 8, 8], true, { stride: 8 }, 23);
  // x is the H/W transpose of a contiguous tensor: the rearrangement must read it through its strides.
  const [xShape, wShape] = [[1, 2, 8, 8], [3, 2, 4, 4]];
  const base = values(size(xShape), 24);
  const xv = Float32Array.from(base, (_, i) => {
    const [c, h, w] = [Math.floor(i / 64), Math.floor(i / 8) % 8, i % 8];
    return base[c * 64 + w * 8 + h]!;
  });
  const wv = values(size(wShape), 25);
  const x = ops.transpose(ops.tensor(base, xShape), 2, 3);
  const w = ops.tensor(wv, wShape);
  const o: ConvOptions = { stride: 4 };
  const g = geometry(xShape, wShape, o);
  assertClose(await ops.conv2d(x, w, null, o).data(), oracleForward(g, xv, wv, null), { atol: 1e-4, rtol: 1e-4, what: 'patchify from a transposed view' });
  const dyv = values(3 * 4, 26);
  const grads = ops.conv2dBackward(ops.tensor(dyv, [1, 3, 2, 2]), x, w, o, { needInput: true, needWeight: true });
  const ref = oracleBackward(g, dyv, xv, wv);
  assertClose(await grads.dx!.data(), ref.dx, { atol: 1e-4, rtol: 1e-4, what: 'patchify dx (transposed x)' });
  assertClose(await grads.dw!.data(), ref.dw, { atol: 1e-4, rtol: 1e-4, what: 'patchify dw (transposed x)' });
});

// ---------- errors ----------

t('errors name the op and the shapes', () => {
  const x = ops.tensor(values(2 * 4 * 5 * 5, 60), [2, 4, 5, 5]);
  const w = ops.tensor(values(6 * 4 * 3 * 3, 61), [6, 4, 3, 3]);
  assertThrows(() => ops.conv2d(x, ops.tensor(values(54, 1), [6, 1, 3, 3])), ShapeError, /conv2d: weight expects 1 input channels .* has 4 \(input \[2,4,5,5\], weight \[6,1,3,3\]\)/);
  assertThrows(() => ops.conv2d(x, w, null, { groups: 3 }), ShapeError, /groups = 3 must divide both input channels 4 and output channels 6/);
  assertThrows(() => ops.conv2d(x, w, null, { groups: 0 }), ArgumentError, /groups must be an integer >= 1/);
  assertThrows(() => ops.conv2d(x, ops.tensor(values(6 * 4 * 36, 1), [6, 4, 6, 6])), ShapeError, /kernel \[6,6\] .* larger than the padded input .*5 \+ padding 0 < 6/);
  assertThrows(() => ops.conv2d(x, w, null, { dilation: 3 }), ShapeError, /larger than the padded input/);
  assertThrows(() => ops.conv2d(x, w, null, { stride: 0 }), ArgumentError, /conv2d: stride must be an integer >= 1 or 2 of them, got 0/);
  assertThrows(() => ops.conv2d(x, w, null, { stride: [1, 1, 1] }), ArgumentError, /stride .* got \[1,1,1\]/);
  assertThrows(() => ops.conv2d(x, w, null, { stride: 1.5 }), ArgumentError, /stride/);
  assertThrows(() => ops.conv2d(x, w, null, { dilation: 0 }), ArgumentError, /dilation must be an integer >= 1/);
  assertThrows(() => ops.conv2d(x, w, null, { padding: -1 }), ArgumentError, /padding must be an integer >= 0/);
  assertThrows(() => ops.conv2d(x, w, null, { padding: 'full' as 'same' }), ArgumentError, /padding must be a number, a list, 'same' or 'valid', got 'full'/);
  assertThrows(() => ops.conv2d(x, w, null, { padding: 'same', stride: 2 }), ArgumentError, /padding 'same' needs stride 1/);
  assertThrows(() => ops.conv2d(x, w, null, { paddingMode: 'reflect' as 'zeros' }), ArgumentError, /paddingMode must be 'zeros' or 'circular'/);
  assertThrows(() => ops.conv1d(ops.tensor(values(6, 1), [1, 2, 3]), ops.tensor(values(6, 1), [1, 2, 3]), null, { padding: 4, paddingMode: 'circular' }), ShapeError, /circular padding 4 exceeds input size 3/);
  assertThrows(() => ops.conv2d(ops.tensor(values(20, 1), [4, 5]), w), ShapeError, /conv2d: input must have rank 4/);
  assertThrows(() => ops.conv2d(x, ops.tensor(values(24, 1), [6, 4])), ShapeError, /conv2d: weight must have rank 4/);
  assertThrows(() => ops.conv2d(x, w, ops.tensor(values(5, 1), [5])), ShapeError, /bias must have shape \[6\], got \[5\]/);
  assertThrows(() => ops.conv2d(x, w, ops.tensor([1, 2, 3, 4, 5, 6], [6], { dtype: 'i32' })), DTypeError, /input is f32 but bias is i32/);
  assertThrows(() => ops.conv2d(ops.tensor(new Int32Array(200), [2, 4, 5, 5]), w), DTypeError, /expects float tensors .* got i32/);
  assertThrows(() => ops.conv2d(x, ops.tensor(new Int32Array(216), [6, 4, 3, 3])), DTypeError, /input is f32 but weight is i32/);
  assertThrows(() => ops.conv2d(ops.tensor([], [0, 4, 5, 5]), w), ShapeError, /zero-size operands are not supported \(input \[0,4,5,5\]/);
  const dy = ops.tensor(values(2 * 6 * 4 * 4, 62), [2, 6, 4, 4]);
  assertThrows(() => ops.conv2dBackward(dy, x, w, {}, { needInput: true }), ShapeError, /conv2dBackward: output gradient has shape \[2,6,4,4\], expected .* \[2,6,3,3\]/);
  assertThrows(() => ops.conv2dBackward(ops.tensor(new Int32Array(108), [2, 6, 3, 3]), x, w, {}, { needInput: true }), DTypeError, /output gradient is i32/);
  assertThrows(() => ops.conv3d(x, w), ShapeError, /conv3d: input must have rank 5/);
});

t.run();
