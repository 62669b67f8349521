import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ag from '../../autograd/index.js';
import { hostTensor } from '../../nn/checkpoint/index.js';
import { Block, Sequential } from '../../nn/index.js';
import { assertClose, fixtureJSON, testDevice } from '../helpers.js';

interface Named {
  shape: number[];
  data: number[];
}
interface Vit {
  dim: number;
  heads: number;
  params: Record<string, Named>;
  x: Named;
  out: Named;
  w: number[];
  grads: Record<string, number[]>;
}

const t = suite('nn: 2-block ViT against PyTorch (test/fixtures/gen_autograd.py)');
t.before(async () => {
  await testDevice();
});

t('timm-style Blocks load the state dict as-is and match outputs and all gradients', async () => {
  const { vit2: c } = await fixtureJSON<{ vit2: Vit }>('autograd_torch.json');
  const model = new Sequential(new Block(c.dim, c.heads), new Block(c.dim, c.heads));
  const sd = new Map(Object.entries(c.params).map(([k, v]) => [k, hostTensor('f32', v.shape, Float32Array.from(v.data))]));
  const report = model.loadStateDict(sd);
  assert.equal(report, { missing: [], unexpected: [], mismatched: [] });
  const x = ag.tensor(c.x.data, c.x.shape);
  x.requiresGrad = true;
  const out = model.forward(x);
  const w = ag.tensor(c.w, c.out.shape);
  ag.backward(ag.sum(ag.mul(out, w)));
  // Two blocks of f32 GEMMs, attention and layer norms over O(1) values: ~1e-6 relative per op, compounding
  // through the backward pass; atol 5e-4 / rtol 5e-3 still fails for any wrong rule or mis-named weight.
  const tol = { atol: 5e-4, rtol: 5e-3 };
  assertClose(await out.data(), c.out.data, { ...tol, what: 'output' });
  assertClose(await x.grad!.data(), c.grads.x!, { ...tol, what: 'd/dx' });
  for (const [name, p] of model.namedParameters()) assertClose(await p.grad!.data(), c.grads[name]!, { ...tol, what: `d/d${name}` });
  for (const v of [x, out, w]) v.dispose();
  model.dispose();
});

t.run();
