import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ag from '../../autograd/index.js';
import { ArgumentError, DTypeError, ShapeError } from '../../engine/errors.js';
import { bceWithLogits, clipContrastiveLoss, crossEntropy, l1, mse, smoothL1 } from '../../nn/losses.js';
import { gradcheck, randomData } from '../autograd/gradcheck.js';
import { assertClose, testDevice } from '../helpers.js';

const t = suite('nn: losses');
t.before(async () => {
  await testDevice();
});

/** float64 oracle: softmax cross-entropy with smoothing and ignore index, per row. */
function ceRows(logits: Float32Array, classes: number, target: number[], s: number, ignore: number): number[] {
  return target.map((y, r) => {
    if (y === ignore) return 0;
    const row = Array.from(logits.subarray(r * classes, (r + 1) * classes));
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((acc, v) => acc + Math.exp(v - m), 0));
    const logp = row.map((v) => v - lse);
    return -((1 - s) * logp[y]! + (s / classes) * logp.reduce((a, b) => a + b, 0));
  });
}

t('crossEntropy values (reductions, smoothing, ignoreIndex, spatial targets)', async () => {
  const data = randomData(12, 3);
  const logits = ag.tensor(data, [4, 3]);
  const target = ag.tensor([0, 2, -100, 1], undefined, { dtype: 'i32' });
  const rows = ceRows(data, 3, [0, 2, -100, 1], 0.2, -100);
  const none = crossEntropy(logits, target, { reduction: 'none', labelSmoothing: 0.2 });
  assertClose(await none.data(), rows, { atol: 1e-5, what: 'none' });
  const sum = crossEntropy(logits, target, { reduction: 'sum', labelSmoothing: 0.2 });
  assertClose(await sum.data(), [rows.reduce((a, b) => a + b)], { atol: 1e-5, what: 'sum' });
  const mean = crossEntropy(logits, target, { labelSmoothing: 0.2 });
  assertClose(await mean.data(), [rows.reduce((a, b) => a + b) / 3], { atol: 1e-5, what: 'mean over non-ignored' });
  // [N, C, L] logits with [N, L] targets equal the flattened [N*L, C] problem.
  const spatial = ag.permute(ag.reshape(logits, [2, 2, 3]), [0, 2, 1]);
  const t2 = ag.reshape(target, [2, 2]);
  const sp = crossEntropy(spatial, t2, { reduction: 'none', labelSmoothing: 0.2 });
  assert.equal(sp.shape, [2, 2]);
  assertClose(await sp.data(), rows, { atol: 1e-5, what: 'spatial' });
  assert.throws(() => crossEntropy(logits, ag.zeros([4]), {}), (e: unknown) => e instanceof DTypeError);
  assert.throws(() => crossEntropy(logits, t2), (e: unknown) => e instanceof ShapeError);
  assert.throws(() => crossEntropy(ag.zeros([3]), target), (e: unknown) => e instanceof ShapeError);
  assert.throws(() => crossEntropy(logits, target, { labelSmoothing: 2 }), (e: unknown) => e instanceof ArgumentError);
  assert.throws(() => crossEntropy(logits, target, { reduction: 'avg' as 'mean' }), (e: unknown) => e instanceof ArgumentError);
  for (const v of [logits, target, none, sum, mean, spatial, t2, sp]) v.dispose();
});

t('loss gradients match finite differences', async () => {
  const target = ag.tensor([2, 0, 1], undefined, { dtype: 'i32' });
  await gradcheck('crossEntropy', ([x]) => crossEntropy(x!, target, { labelSmoothing: 0.1 }), [{ shape: [3, 4] }]);
  const y = ag.tensor([0, 1, 0.3, 1, 0, 0.8], [2, 3]);
  await gradcheck('bceWithLogits', ([x]) => bceWithLogits(x!, y), [{ shape: [2, 3] }]);
  await gradcheck('bceWithLogits posWeight, target grad', ([x, tt]) => bceWithLogits(x!, tt!, { posWeight: 2.5, reduction: 'sum' }), [
    { shape: [2, 3] }, { shape: [2, 3], data: Float32Array.of(0.1, 0.9, 0.3, 0.6, 0.2, 0.8) },
  ]);
  await gradcheck('mse', ([a, b]) => mse(a!, b!), [{ shape: [2, 3] }, { shape: [2, 3] }]);
  // Differences kept away from 0 (the kink of |d|) and from +-beta (the seam of smoothL1).
  const away = Float32Array.of(0.7, -0.4, 1.6, -2.1, 0.3, -0.6);
  await gradcheck('l1', ([a]) => l1(a!, y), [{ shape: [2, 3], data: away.map((v, i) => v + [0, 1, 0.3, 1, 0, 0.8][i]!) }]);
  await gradcheck('smoothL1', ([a]) => smoothL1(a!, y, { beta: 1, reduction: 'none' }), [{ shape: [2, 3], data: away.map((v, i) => v + [0, 1, 0.3, 1, 0, 0.8][i]!) }]);
  await gradcheck('clipContrastiveLoss', ([i, tx, s]) => clipContrastiveLoss(i!, tx!, s!), [{ shape: [3, 4] }, { shape: [3, 4] }, { shape: [], data: Float32Array.of(0.5) }]);
  target.dispose();
  y.dispose();
});

t('bceWithLogits is stable for large logits; regression losses reduce as documented', async () => {
  const x = ag.tensor([100, -100, 0]);
  const y = ag.tensor([0, 1, 1]);
  const l = bceWithLogits(x, y, { reduction: 'none' });
  assertClose(await l.data(), [100, 100, Math.log(2)], { rtol: 1e-6, what: 'bce large logits' });
  const a = ag.tensor([1, 2, 4]);
  const b = ag.tensor([1.5, 2, 1]);
  const m = mse(a, b, { reduction: 'sum' });
  assertClose(await m.data(), [0.25 + 9], { what: 'mse sum' });
  const s = smoothL1(a, b, { beta: 1 });
  assertClose(await s.data(), [(0.125 + 0 + 2.5) / 3], { what: 'smoothL1 mean' });
  assert.throws(() => mse(a, ag.zeros([2])), (e: unknown) => e instanceof ShapeError);
  assert.throws(() => l1(a, ag.zeros([3], { dtype: 'i32' })), (e: unknown) => e instanceof DTypeError);
  assert.throws(() => smoothL1(a, b, { beta: 0 }), (e: unknown) => e instanceof ArgumentError);
  assert.throws(() => bceWithLogits(a, b, { posWeight: Infinity }), (e: unknown) => e instanceof ArgumentError);
  assert.throws(() => clipContrastiveLoss(ag.zeros([2, 3]), ag.zeros([3, 3]), ag.zeros([])), (e: unknown) => e instanceof ShapeError);
  assert.throws(() => clipContrastiveLoss(ag.zeros([2, 3]), ag.zeros([2, 3]), ag.zeros([2])), (e: unknown) => e instanceof ShapeError);
  for (const v of [x, y, l, a, b, m, s]) v.dispose();
});

t('clipContrastiveLoss: aligned pairs give a low loss, shuffled ones a high loss', async () => {
  const e = ag.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
  const shuffled = ag.tensor([[0, 1, 0], [0, 0, 1], [1, 0, 0]]);
  const scale = ag.tensor(Math.log(10));
  const goodLoss = clipContrastiveLoss(e, e, scale);
  const badLoss = clipContrastiveLoss(e, shuffled, scale);
  const good = await goodLoss.item();
  const bad = await badLoss.item();
  // logits 10 on the diagonal, 0 elsewhere: -log(e^10 / (e^10 + 2)) per row.
  assertClose([good], [-Math.log(Math.exp(10) / (Math.exp(10) + 2))], { rtol: 1e-4, what: 'aligned' });
  assert.ok(bad > 9, `shuffled loss ${bad}`);
  for (const v of [e, shuffled, scale, goodLoss, badLoss]) v.dispose();
});

t.run();
