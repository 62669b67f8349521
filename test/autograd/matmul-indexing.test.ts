import { suite } from 'uvu';
import * as ag from '../../autograd/index.js';
import { testDevice } from '../helpers.js';
import { gradcheck } from './gradcheck.js';

const t = suite('autograd: matmul, linear, indexing');
t.before(async () => {
  await testDevice();
});

t('matmul (batched, broadcast, 1-D) matches finite differences', async () => {
  await gradcheck('matmul 2d', ([a, b]) => ag.matmul(a!, b!), [{ shape: [3, 4] }, { shape: [4, 2] }]);
  await gradcheck('matmul broadcast batch', ([a, b]) => ag.matmul(a!, b!), [{ shape: [2, 1, 2, 3] }, { shape: [3, 3, 2] }]);
  await gradcheck('matmul transposed view', ([a, b]) => ag.matmul(ag.transpose(a!), b!), [{ shape: [3, 2] }, { shape: [3, 2] }]);
  await gradcheck('vector @ matrix', ([a, b]) => ag.matmul(a!, b!), [{ shape: [3] }, { shape: [2, 3, 2] }]);
  await gradcheck('matrix @ vector', ([a, b]) => ag.matmul(a!, b!), [{ shape: [2, 3] }, { shape: [3] }]);
  await gradcheck('dot', ([a, b]) => ag.matmul(a!, b!), [{ shape: [4] }, { shape: [4] }]);
});

t('linear (bias, gelu/relu epilogue, residual) matches finite differences', async () => {
  await gradcheck('linear', ([x, w, b]) => ag.linear(x!, w!, b), [{ shape: [2, 3, 4] }, { shape: [2, 4] }, { shape: [2] }]);
  await gradcheck('linear gelu + residual', ([x, w, b, r]) => ag.linear(x!, w!, b, { activation: 'gelu', residual: r }), [
    { shape: [3, 4] }, { shape: [2, 4] }, { shape: [2] }, { shape: [3, 2] },
  ]);
  await gradcheck('linear relu 1-D no bias', ([x, w]) => ag.linear(x!, w!, null, { activation: 'relu' }), [
    { shape: [4], data: Float32Array.of(0.9, -0.7, 0.6, 1.1) }, { shape: [3, 4], data: Float32Array.of(0.5, 0.8, -0.6, 0.7, -0.9, 0.6, 0.5, -0.8, 0.7, -0.5, 0.9, 0.6) },
  ]);
});

t('indexing ops match finite differences', async () => {
  const idx = ag.tensor([2, 0, 2], undefined, { dtype: 'i32' });
  const gIdx = ag.tensor([[1, 0, 1], [2, 2, 0]], undefined, { dtype: 'i32' });
  await gradcheck('concat', ([a, b]) => ag.concat([a!, b!], 1), [{ shape: [2, 2] }, { shape: [2, 3] }]);
  await gradcheck('stack', ([a, b]) => ag.stack([a!, b!], -1), [{ shape: [2, 3] }, { shape: [2, 3] }]);
  await gradcheck('indexSelect (repeated index)', ([x]) => ag.indexSelect(x!, 1, idx), [{ shape: [2, 3] }]);
  await gradcheck('indexSelect host indices', ([x]) => ag.indexSelect(x!, 0, [1, 1]), [{ shape: [2, 3] }]);
  await gradcheck('embeddingLookup', ([w]) => ag.embeddingLookup(w!, gIdx), [{ shape: [3, 2] }]);
  await gradcheck('gather', ([x]) => ag.gather(x!, 1, gIdx), [{ shape: [2, 3] }]);
  await gradcheck('scatterAdd', ([s]) => ag.scatterAdd([3, 3], 0, gIdx, s!), [{ shape: [2, 3] }]);
  await gradcheck('scatterAdd, src larger than index', ([s]) => ag.scatterAdd([3, 3], 1, gIdx, s!), [{ shape: [3, 4] }]);
  const rowIdx = ag.tensor([2, 0, 2, 1], undefined, { dtype: 'i32' });
  await gradcheck('indexAdd along axis 0', ([s]) => ag.indexAdd([3, 2], 0, rowIdx, s!), [{ shape: [4, 2] }]);
  await gradcheck('indexAdd along axis 1', ([s]) => ag.indexAdd([2, 3, 2], 1, rowIdx, s!), [{ shape: [2, 4, 2] }]);
  await gradcheck('pad constant', ([x]) => ag.pad(x!, [1, 2, 0, 1], { value: 3 }), [{ shape: [2, 3] }]);
  await gradcheck('pad reflect', ([x]) => ag.pad(x!, [2, 1], { mode: 'reflect' }), [{ shape: [2, 4] }]);
  await gradcheck('pad circular', ([x]) => ag.pad(x!, [1, 2, 1, 0], { mode: 'circular' }), [{ shape: [2, 3] }]);
  idx.dispose();
  gIdx.dispose();
});

t.run();
