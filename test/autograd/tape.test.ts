import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ag from '../../autograd/index.js';
import { ArgumentError, DTypeError, DisposedError, ShapeError } from '../../engine/errors.js';
import { memoryStats, tidy, type Tensor } from '../../engine/tensor.js';
import { assertClose, testDevice } from '../helpers.js';

const t = suite('autograd: tape');
t.before(async () => {
  await testDevice();
});

function leaf(values: number[], shape = [values.length]): Tensor {
  const x = ag.tensor(values, shape);
  x.requiresGrad = true;
  return x;
}

t('gradients accumulate across backward calls until zeroGrad', async () => {
  const x = leaf([1, 2, 3]);
  for (let i = 0; i < 2; i++) tidy(() => ag.backward(ag.sum(ag.mul(x, x))));
  assertClose(await x.grad!.data(), [4, 8, 12], { what: 'twice 2x' });
  ag.zeroGrad([x]);
  assert.is(x.grad, null);
  x.dispose();
});

t('a tensor used twice gets both contributions', async () => {
  const x = leaf([2]);
  tidy(() => ag.backward(ag.add(ag.mul(x, x), ag.exp(x))));
  assertClose(await x.grad!.data(), [4 + Math.exp(2)], { what: 'd(x^2 + e^x)' });
  x.dispose();
});

t('noGrad records nothing; enableGrad re-enables inside it', () => {
  const x = leaf([1, 2]);
  const y = ag.noGrad(() => ag.mul(x, 2));
  assert.is(y.gradNode, null);
  assert.is(y.requiresGrad, false);
  assert.is(ag.isGradEnabled(), true);
  const z = ag.noGrad(() => ag.enableGrad(() => ag.mul(x, 2)));
  assert.ok(z.gradNode);
  assert.throws(() => ag.noGrad(() => Promise.resolve(1)), (e: unknown) => e instanceof ArgumentError);
  for (const v of [x, y, z]) v.dispose();
});

t('detach cuts the graph; inputs without requiresGrad record nothing', () => {
  const x = leaf([1, 2]);
  const d = ag.detach(ag.mul(x, 3));
  assert.is(d.gradNode, null);
  assert.is(d.requiresGrad, false);
  const c = ag.tensor([1, 2]);
  const y = ag.exp(c);
  assert.is(y.gradNode, null);
  assert.throws(() => ag.backward(y), (e: unknown) => e instanceof ArgumentError && /does not require grad/.test(e.message));
  for (const v of [x, d, c, y]) v.dispose();
});

t('backward checks its arguments and frees the graph', async () => {
  const x = leaf([1, 2, 3, 4], [2, 2]);
  const y = ag.mul(x, x);
  assert.throws(() => ag.backward(y), (e: unknown) => e instanceof ShapeError && /not a scalar/.test(e.message));
  const wrong = ag.ones([4]);
  assert.throws(() => ag.backward(y, wrong), (e: unknown) => e instanceof ShapeError);
  const wrongType = ag.ones([2, 2], { dtype: 'i32' });
  assert.throws(() => ag.backward(y, wrongType), (e: unknown) => e instanceof DTypeError);
  const g = ag.full([2, 2], 0.5);
  ag.backward(y, g);
  assertClose(await x.grad!.data(), [1, 2, 3, 4], { what: 'x * g' });
  assert.is(g.disposed, false);
  const z = ag.sum(y);
  assert.throws(() => ag.backward(z), (e: unknown) => e instanceof ArgumentError && /already freed/.test(e.message));
  for (const v of [x, y, wrong, wrongType, g, z]) v.dispose();
});

t('backward on a leaf accumulates the seed', async () => {
  const x = leaf([5]);
  ag.backward(x);
  assertClose(await x.grad!.data(), [1], { what: 'dx/dx' });
  x.dispose();
});

t('backward outside the forward tidy scope names the problem', () => {
  const x = leaf([1, 2]);
  const loss = tidy(() => ag.sum(ag.exp(x)));
  assert.throws(() => ag.backward(loss), (e: unknown) => e instanceof DisposedError && /tidy scope/.test(e.message));
  loss.dispose();
  x.dispose();
});

t('integer tensors cannot carry gradients', () => {
  const x = leaf([1.5, 2.5]);
  const i = ag.cast(x, 'i32');
  assert.is(i.gradNode, null);
  const k = ag.tensor([1, 2], undefined, { dtype: 'i32' });
  // Refused where it is asked for, not at the first op.
  assert.throws(() => (k.requiresGrad = true), (e: unknown) => e instanceof DTypeError && /only float tensors/.test(e.message));
  for (const v of [x, i, k]) v.dispose();
});

t('backward frees saved tensors and intermediate gradients', async () => {
  const x = leaf([0.1, 0.2, 0.3, 0.4], [2, 2]);
  const before = memoryStats();
  tidy(() => {
    let h = x;
    for (let i = 0; i < 50; i++) h = ag.tanh(ag.add(ag.mul(h, 1.1), 0.01));
    ag.backward(ag.sum(h));
  });
  const after = memoryStats();
  // The only new tensor is x.grad.
  assert.is(after.liveTensors, before.liveTensors + 1);
  ag.zeroGrad([x]);
  assert.is(memoryStats().liveTensors, before.liveTensors);
  x.dispose();
});

t('a deep graph does not overflow the stack', async () => {
  const x = leaf([1]);
  tidy(() => {
    let h = x;
    for (let i = 0; i < 3000; i++) h = ag.mul(h, 1);
    ag.backward(h);
  });
  assertClose(await x.grad!.data(), [1], { what: 'identity chain' });
  x.dispose();
});

t.run();
