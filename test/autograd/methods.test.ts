import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ot from '../../index.js';
import { assertClose, testDevice } from '../helpers.js';

const t = suite('autograd: fluent tensor methods via the package root');
t.before(async () => {
  await testDevice();
});

t('chained methods record the same graph as the functional ops', async () => {
  const w = ot.tensor([[0.5], [-1], [2]]);
  w.requiresGrad = true;
  const x = ot.tensor([[1, 2, 3], [0, 1, 0]]);
  const loss = x.matmul(w).tanh().square().sum();
  loss.backward();
  // d/dw sum(tanh(xw)^2) = x^T (2 tanh(xw) (1 - tanh^2(xw)))
  const z = [0.5 - 2 + 6, -1].map(Math.tanh);
  const dz = z.map((v) => 2 * v * (1 - v * v));
  assertClose(await w.grad!.data(), [dz[0]!, 2 * dz[0]! + dz[1]!, 3 * dz[0]!], { atol: 1e-5, what: 'dw' });
  const d = x.reshape([3, 2]).transpose().slice([{ start: 1 }]).detach();
  assert.equal(d.shape, [1, 3]);
  assert.is(d.gradNode, null);
  assert.ok(ot.rawOps.add === ot.ops.add, 'rawOps is the engine namespace');
  assert.ok(ot.nn.Linear, 'nn namespace');
  for (const v of [w, x, loss, d]) v.dispose();
});

t.run();
