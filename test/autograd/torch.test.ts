import { suite } from 'uvu';
import * as ag from '../../autograd/index.js';
import type { Tensor } from '../../engine/tensor.js';
import { crossEntropy } from '../../nn/losses.js';
import { assertClose, fixtureJSON, testDevice } from '../helpers.js';

interface Named {
  shape: number[];
  data: number[];
}
interface Case {
  inputs: Record<string, Named>;
  out: Named;
  w: number[];
  grads: Record<string, number[]>;
  target?: number[];
}

const t = suite('autograd: against PyTorch (test/fixtures/gen_autograd.py)');
let fx: Record<string, Case>;
t.before(async () => {
  await testDevice();
  fx = await fixtureJSON<Record<string, Case>>('autograd_torch.json');
});

/**
 * Runs `f` on the fixture's inputs (as requiresGrad f32 leaves), backpropagates sum(out * w) and compares
 * output and gradients with PyTorch's float64 results. f32 arithmetic over these O(1)-valued tiny problems
 * stays within ~1e-5 relative; atol 2e-4 / rtol 2e-3 leaves room for accumulation order and erf/exp ulps.
 */
async function compare(name: string, f: (x: Record<string, Tensor>) => Tensor): Promise<void> {
  const c = fx[name]!;
  const leaves: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(c.inputs)) {
    leaves[k] = ag.tensor(v.data, v.shape);
    leaves[k]!.requiresGrad = true;
  }
  const out = f(leaves);
  const w = ag.tensor(c.w, c.out.shape);
  ag.backward(ag.sum(ag.mul(out, w)));
  assertClose(await out.data(), c.out.data, { atol: 2e-4, rtol: 2e-3, what: `${name} output` });
  for (const [k, g] of Object.entries(c.grads))
    assertClose(await leaves[k]!.grad!.data(), g, { atol: 2e-4, rtol: 2e-3, what: `${name} d/d${k}` });
  for (const v of [...Object.values(leaves), out, w]) v.dispose();
}

t('linear', () => compare('linear', ({ x, weight, bias }) => ag.linear(x!, weight!, bias)));
t('layerNorm', () => compare('layerNorm', ({ x, weight, bias }) => ag.layerNorm(x!, [6], weight, bias, 1e-5).y));
t('attention', () => compare('attention', ({ q, k, v }) => ag.scaledDotProductAttention(q!, k!, v!)));
t('gelu', () => compare('gelu', ({ x }) => ag.gelu(x!)));
t('conv2d', () => compare('conv2d', ({ x, weight, bias }) => ag.conv2d(x!, weight!, bias, { padding: 1 })));
t('crossEntropy with label smoothing and an ignored target', () =>
  compare('crossEntropy', ({ logits }) => {
    const target = ag.tensor(fx.crossEntropy!.target!, undefined, { dtype: 'i32' });
    const loss = crossEntropy(logits!, target, { labelSmoothing: 0.1, ignoreIndex: -100 });
    target.dispose();
    return ag.reshape(loss, [1]);
  }));

t.run();
