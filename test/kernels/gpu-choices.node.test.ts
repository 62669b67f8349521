import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ops, hasF16, init, runtime, ArgumentError, type Tensor } from '../../engine/index.js';
import { NdArray, expectClose, gelu, map, matmul as refMatmul, randomPair, roundTo, softmax, transpose as refTranspose, zip } from '../oracle.js';
import { assertRejects, resetTestDevice } from '../helpers.js';

// What a GPU adapter runs, on whatever adapter the tests have: init({ adapterClass: 'gpu' }) makes the
// engine pick kernels, tiles and splits as for a GPU (the tiled GEMM and attention kernels, split K and
// split keys on small grids, fills broadcast on the device), so CI checks those choices end to end
// without a GPU. They are slow on
// lavapipe, so the shapes are the smallest that still split. Node only: one device swap per process.
const t = suite('kernels: the GPU adapter class\'s choices, on this adapter');
t.before(async () => {
  await init({ adapterClass: 'gpu' });
});
t.after(async () => {
  await resetTestDevice();
});

/** Dispatches recorded by `fn`, and its result. */
function counted<T>(fn: () => T): { result: T; dispatches: number } {
  const before = runtime().dispatches;
  const result = fn();
  return { result, dispatches: runtime().dispatches - before };
}

t('linear at one image\'s projection shape splits K and applies bias, GELU and residual once', async () => {
  assert.is(runtime().info.adapterClass, 'gpu');
  // 197 x 256 outputs are 4 x 4 tiles of 64 x 64: 16 workgroups, so K = 512 (32 slabs of 16) splits 8 ways.
  const [x, rx] = randomPair([197, 512], 71);
  const [w, rw] = randomPair([256, 512], 72);
  const [bias, rbias] = randomPair([256], 73);
  const [res, rres] = randomPair([197, 256], 74);
  const { result: y, dispatches } = counted(() => ops.linear(x, w, bias, { activation: 'gelu', residual: res }));
  assert.is(dispatches, 2, 'the partial products and their sum');
  const pre = zip(refMatmul(rx, refTranspose(rw)), rbias, (p, q) => p + q);
  expectClose(await y.data(), zip(zip(pre, pre, (v) => gelu(v)), rres, (p, q) => p + q).data, { atol: 1e-5 * Math.sqrt(512), rtol: 1e-4, what: 'split linear' });
  // Enough tiles to fill the GPU: 8 x 16 tiles of 128 x 128 run in one launch, K = 256 notwithstanding.
  const [big, rbig] = randomPair([1024, 256], 75);
  const [wide, rwide] = randomPair([256, 2048], 76);
  const { result: z, dispatches: unsplit } = counted(() => ops.matmul(big, wide));
  assert.is(unsplit, 1, '128 tiles do not split');
  expectClose(await z.data(), refMatmul(rbig, rwide).data, { atol: 1e-5 * 16, rtol: 1e-5, what: 'unsplit matmul' });
  for (const v of [x, w, bias, res, y, big, wide, z]) v.dispose();
});

t('attention over one short sequence splits its keys and merges them, causal too', async () => {
  // 1 x 2 heads x 197 rows are 2 x 2 workgroups of 128 rows; 7 tiles of 32 keys split 3 ways.
  const [B, H, T, d] = [1, 2, 197, 64];
  const [q, rq] = randomPair([B, H, T, d], 77);
  const [k, rk] = randomPair([B, H, T, d], 78);
  const [v, rv] = randomPair([B, H, T, d], 79);
  const scores = map(refMatmul(rq, refTranspose(rk)), (s) => s / Math.sqrt(d));
  for (const causal of [false, true]) {
    const masked = causal ? new NdArray(scores.shape, scores.data.map((s, i) => ((i % T) > Math.floor(i / T) % T ? -Infinity : s))) : scores;
    const want = refMatmul(softmax(masked), rv);
    const { result: out, dispatches } = counted(() => ops.scaledDotProductAttention(q, k, v, { causal }));
    assert.is(dispatches, 2, 'the key segments and their merge');
    expectClose(await out.data(), want.data, { atol: 2e-5, rtol: 1e-4, what: `split attention, causal ${causal}` });
    out.dispose();
  }
  for (const x of [q, k, v]) x.dispose();
});

t('attention backward over one short sequence splits the rows each pass walks and adds the partial gradients up', async () => {
  // The grids of the shape above: 2 x 2 workgroups of 128 key rows (dK/dV) and of 128 query rows (dQ), each
  // walking 7 tiles of 32 rows, so both passes split 3 ways.
  const [B, H, T, d] = [1, 2, 197, 64];
  const [q, k, v, dOut] = [80, 81, 82, 83].map((seed) => randomPair([B, H, T, d], seed)[0]);
  for (const causal of [false, true]) {
    const { out, lse } = ops.scaledDotProductAttention(q!, k!, v!, { causal, returnLse: true });
    const { result: split, dispatches } = counted(() => ops.scaledDotProductAttentionBackward(q!, k!, v!, out, dOut!, lse, { causal }));
    // delta, dK/dV, dQ, and a sum and a copy for each of dK, dV and dQ.
    assert.is(dispatches, 9, 'the three passes and the sums of their segments');
    const whole = ops.scaledDotProductAttentionBackward(q!, k!, v!, out, dOut!, lse, { causal, keySplits: 1 });
    for (const g of ['dq', 'dk', 'dv'] as const)
      expectClose(await split[g].data(), await whole[g].data(), { atol: 1e-5, rtol: 1e-4, what: `split ${g}, causal ${causal}` });
    for (const x of [out, lse, ...Object.values(split), ...Object.values(whole)]) x.dispose();
  }
  for (const x of [q, k, v, dOut]) x!.dispose();
});

t('large nonzero fills are one value broadcast on the device, in every dtype; an i32 fill keeps its host-known value', async () => {
  // 1 MiB and up (engine/ops/creation.ts GPU_FILL_BYTES): 2^18 + 1 elements of 4 bytes.
  const n = (1 << 18) + 1;
  const cases: [() => Tensor, number][] = [
    [() => ops.full([n], -2.5), -2.5],
    [() => ops.ones([n, 1]), 1],
    [() => ops.full([n], NaN), NaN],
    [() => ops.full([n], -7, { dtype: 'i32' }), -7],
    [() => ops.full([n], 4000000000, { dtype: 'u32' }), 4000000000],
  ];
  if (hasF16()) cases.push([() => ops.full([2 * n], 0.333, { dtype: 'f16' }), roundTo('f16', [0.333])[0]!]);
  for (const [make, v] of cases) {
    const { result: x, dispatches } = counted(make);
    assert.is(dispatches, 1, `${x.dtype}: one broadcast copy`);
    const got = await x.data();
    assert.ok(got.every((y) => Object.is(y, v)), `${x.dtype}: every element ${v}`);
    x.dispose();
  }
  assert.is(counted(() => ops.full([1000], 3)).dispatches, 0, 'small fills stay uploads');
  // The i32 fill's value is known on the host, as an upload's: an index op refuses it before any GPU work.
  const ids = ops.full([n], 5, { dtype: 'i32' });
  assert.throws(() => ops.indexSelect(ops.tensor([1, 2, 3]), 0, ids), /hold 5 \(as created on the host\), out of range/);
  ids.dispose();
});

t('init refuses an unknown adapter class before replacing the device', async () => {
  await assertRejects(init({ adapterClass: 'tpu' as 'gpu' }), ArgumentError, /adapterClass must be 'cpu' or 'gpu', got 'tpu'/);
  assert.is(runtime().info.adapterClass, 'gpu');
});

t.run();
