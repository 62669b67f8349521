import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ops } from '../../index.js';
import { testDevice } from '../helpers.js';

const t = suite('engine: smoke');
t.before(async () => {
  await testDevice();
});
t('add broadcast', async () => {
  const a = ops.tensor([[1, 2, 3], [4, 5, 6]]);
  const b = ops.tensor([10, 20, 30]);
  const c = ops.add(a, b);
  assert.equal(Array.from(await c.data()), [11, 22, 33, 14, 25, 36]);
  const d = ops.transpose(a);
  assert.equal(Array.from(await ops.gelu(d).data()).length, 6);
  assert.equal(await ops.contiguous(d).toArray(), [[1, 4], [2, 5], [3, 6]]);
});
t.run();
