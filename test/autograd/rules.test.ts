import { suite } from 'uvu';
import * as ag from '../../autograd/index.js';
import { assertClose, testDevice } from '../helpers.js';
import { gradcheck } from './gradcheck.js';

const t = suite('autograd: reductions, softmax, layerNorm, attention, conv');
t.before(async () => {
  await testDevice();
});

t('reductions match finite differences', async () => {
  const x = [{ shape: [2, 2, 3] }];
  await gradcheck('sum all', ([v]) => ag.sum(v!), x);
  await gradcheck('sum axes keepdim', ([v]) => ag.sum(v!, [0, 2], { keepdim: true }), x);
  await gradcheck('mean axis', ([v]) => ag.mean(v!, 1), x);
  await gradcheck('max axis', ([v]) => ag.max(v!, -1), x);
  await gradcheck('min all', ([v]) => ag.min(v!), x);
  await gradcheck('var', ([v]) => ag.variance(v!, 2), x);
  await gradcheck('var population', ([v]) => ag.variance(v!, [0, 1], { correction: 0, keepdim: true }), x);
  await gradcheck('std', ([v]) => ag.std(v!, 1), x);
  await gradcheck('logsumexp', ([v]) => ag.logsumexp(v!, -1), x);
  await gradcheck('cumsum', ([v]) => ag.cumsum(v!, 1), x);
});

t('max splits the gradient between ties', async () => {
  const x = ag.tensor([1, 3, 3, 0]);
  x.requiresGrad = true;
  ag.backward(ag.max(x));
  assertClose(await x.grad!.data(), [0, 0.5, 0.5, 0], { what: 'tie split' });
  x.dispose();
});

t('softmax and logSoftmax match finite differences', async () => {
  await gradcheck('softmax', ([v]) => ag.softmax(v!, -1), [{ shape: [3, 5] }]);
  await gradcheck('softmax axis 0', ([v]) => ag.softmax(v!, 0), [{ shape: [3, 5] }]);
  await gradcheck('logSoftmax', ([v]) => ag.logSoftmax(v!, 1), [{ shape: [3, 5] }]);
});

t('layerNorm (affine, residual) matches finite differences', async () => {
  await gradcheck('layerNorm', ([x, w, b]) => ag.layerNorm(x!, [5], w, b).y, [{ shape: [3, 5] }, { shape: [5] }, { shape: [5] }]);
  await gradcheck('layerNorm no affine', ([x]) => ag.layerNorm(x!, [2, 3]).y, [{ shape: [2, 2, 3] }]);
  // Both outputs of the residual form carry gradient: y + 0.5 * sum.
  await gradcheck(
    'layerNorm residual',
    ([x, r, w]) => {
      const { y, sum } = ag.layerNorm(x!, [4], w, null, 1e-5, { residual: r });
      return ag.add(y, ag.mul(sum!, 0.5));
    },
    [{ shape: [3, 4] }, { shape: [3, 4] }, { shape: [4] }],
  );
});

t('scaledDotProductAttention matches finite differences', async () => {
  const qkv = [{ shape: [1, 2, 2, 3] }, { shape: [1, 2, 3, 3] }, { shape: [1, 2, 3, 3] }];
  await gradcheck('sdpa', ([q, k, v]) => ag.scaledDotProductAttention(q!, k!, v!), qkv);
  await gradcheck('sdpa causal', ([q, k, v]) => ag.scaledDotProductAttention(q!, k!, v!, { causal: true, scale: 0.3 }), [
    { shape: [1, 1, 3, 2] }, { shape: [1, 1, 3, 2] }, { shape: [1, 1, 3, 2] },
  ]);
});

t('multiHeadSelfAttention (packed qkv) matches finite differences', async () => {
  await gradcheck('packed attention', ([qkv]) => ag.multiHeadSelfAttention(qkv!, 2), [{ shape: [1, 3, 12] }]);
  await gradcheck('packed attention causal', ([qkv]) => ag.multiHeadSelfAttention(qkv!, 1, { causal: true, scale: 0.4 }), [{ shape: [2, 3, 6] }]);
});

t('conv1d/2d/3d match finite differences', async () => {
  await gradcheck('conv1d', ([x, w, b]) => ag.conv1d(x!, w!, b, { padding: 1, stride: 2 }), [
    { shape: [1, 2, 5] }, { shape: [2, 2, 3] }, { shape: [2] },
  ]);
  await gradcheck('conv2d', ([x, w, b]) => ag.conv2d(x!, w!, b, { padding: 1 }), [
    { shape: [1, 2, 3, 3] }, { shape: [2, 2, 2, 2] }, { shape: [2] },
  ]);
  await gradcheck('conv3d', ([x, w]) => ag.conv3d(x!, w!, null), [
    { shape: [1, 1, 2, 2, 3] }, { shape: [1, 1, 2, 1, 2] },
  ]);
});

t.run();
