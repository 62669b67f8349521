import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { attentionBackwardCase, layerNormBackwardCase, linearGeluBackwardCase } from '../../bench/cases/backward.js';
import { runCase, type BenchCase, type RunContext } from '../../bench/harness.js';
import { testDevice } from '../helpers.js';

// The training cases of the bench (group 'backward') at small odd shapes: our autograd (fused and unfused),
// TF.js's tf.grads and jax-js's jit(grad) must each give the input gradient the float64 oracle gives.
// One untimed-size batch per variant: this checks the gradients and the peers' compositions, the bench
// measures them.
const t = suite('bench: backward cases validate for every engine');

const ctx: RunContext = { timing: { warmups: 1, repeats: 1, targetMs: 1, maxIterations: 1 }, engines: new Set(['omnitensor', 'tfjs-webgpu', 'jax-js']) };

async function expectAllValid(c: BenchCase): Promise<void> {
  const r = await runCase(c, ctx);
  const engines = new Set(r.variants.map((v) => v.engine));
  assert.equal(engines, new Set(['omnitensor', 'tfjs-webgpu', 'jax-js']), `${c.name}: ours and both autograd peers`);
  for (const v of r.variants) assert.is(v.status, 'ok', `${c.name}, ${v.engine} ${v.label}: ${v.reason ?? ''}`);
}

t.before(async () => {
  await testDevice();
});

t('linear + GELU: dx of every engine matches the oracle', async () => {
  await expectAllValid(linearGeluBackwardCase(9, 12, 20));
});

t('attention: dq of every engine matches the oracle', async () => {
  await expectAllValid(attentionBackwardCase('attention backward small', 2, 3, 17, 32));
});

t('layer norm: dx of every engine matches the oracle', async () => {
  await expectAllValid(layerNormBackwardCase(7, 45));
});

t.run();
