import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { allCases } from '../../bench/cases/index.js';
import { gemmCase } from '../../bench/cases/gemm.js';
import { adamwCase } from '../../bench/cases/optimizer.js';
import { sumCase } from '../../bench/cases/reduce.js';
import { GROUPS, runCase, type BenchCase, type RunContext } from '../../bench/harness.js';
import { WT_ELEMENTWISE_PER_WORKGROUP, WT_SUM_PER_WORKGROUP, wtDispatchLimit } from '../../bench/peers/webgpu-torch.js';
import { testDevice } from '../helpers.js';

// webgpu-torch as a benchmark peer in Node (Dawn): its variants must run and pass the same float64 oracle
// as every engine, and the cases its kernels cannot launch must say so instead of reporting wrong numbers.
// One untimed-size batch per variant: this checks the peer, the bench measures it.
const t = suite('bench: webgpu-torch peer (Node)');

const ctx: RunContext = { timing: { warmups: 1, repeats: 1, targetMs: 1, maxIterations: 1 }, engines: new Set(['webgpu-torch']) };

async function peerVariant(c: BenchCase) {
  const r = await runCase(c, ctx);
  return r.variants.find((v) => v.engine === 'webgpu-torch');
}

t.before(async () => {
  await testDevice();
});

t('2-D GEMMs run in webgpu-torch and match the oracle; batched ones have no webgpu-torch variant', async () => {
  const v = await peerVariant(gemmCase('gemm 37x29x45', [], 37, 29, 45));
  assert.is(v?.status, 'ok', v?.reason);
  assert.is(await peerVariant(gemmCase('gemm batched', [3], 8, 8, 8)), undefined);
});

t('the AdamW step as webgpu-torch elementwise ops (constants as filled tensors) matches the oracle', async () => {
  const v = await peerVariant(adamwCase(40_000));
  assert.is(v?.status, 'ok', v?.reason);
});

t('the sum of all elements runs up to the largest grid webgpu-torch can launch, and is unsupported past it', async () => {
  const fits = 65535 * WT_SUM_PER_WORKGROUP;
  assert.is(wtDispatchLimit(fits, WT_SUM_PER_WORKGROUP), undefined);
  assert.match(wtDispatchLimit(fits + 1, WT_SUM_PER_WORKGROUP) ?? '', /65536 workgroups along x/);
  assert.match(wtDispatchLimit(524_281, WT_ELEMENTWISE_PER_WORKGROUP) ?? '', /65536 workgroups/);
  const small = await peerVariant(sumCase('sum all', [300, 70], null));
  assert.is(small?.status, 'ok', small?.reason);
  const large = await peerVariant(sumCase('sum all 4M', [1 << 22], null));
  assert.is(large?.status, 'unsupported');
  assert.match(large?.reason ?? '', /WebGPU allows 65535 per dimension/);
});

t("the quick gemm and overhead cases' webgpu-torch variants validate", async () => {
  const cases = allCases({ quick: true, large: false, adapterClass: 'cpu', f16: false, groups: GROUPS.filter((g) => g !== 'model') });
  const seen: string[] = [];
  for (const c of cases.filter((x) => x.group === 'overhead' || x.group === 'gemm')) {
    const v = await peerVariant(c);
    if (!v) continue;
    seen.push(c.name);
    assert.is(v.status, 'ok', `${c.name}: ${v.reason ?? ''}`);
  }
  assert.ok(seen.length >= 4, `webgpu-torch ran ${seen.join(', ')}`);
});

t.run();
