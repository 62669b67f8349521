import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ag from '../../autograd/index.js';
import { ArgumentError } from '../../engine/errors.js';
import { hasF16 } from '../../engine/runtime.js';
import { readSafetensors } from '../../nn/checkpoint/index.js';
import { AdamW, Linear, MLP, OPTIMIZER_PREFIX, loadCheckpoint, saveSafetensors, withPrefix } from '../../nn/index.js';
import { assertClose, assertFormatRejection, assertRejects, fixture, fixtureJSON, testDevice } from '../helpers.js';

const t = suite('nn: checkpoint files');
t.before(async () => {
  await testDevice();
});

t('loads a PyTorch .pth state dict into a Linear', async () => {
  const expected = await fixtureJSON<Record<string, { tensors: { path: string[]; values: number[] }[] }>>('checkpoints_expected.json');
  const sd = await loadCheckpoint(await fixture('ckpt_linear.pth'));
  const lin = new Linear(4, 3);
  lin.loadStateDict(sd);
  const want = new Map(expected['ckpt_linear.pth']!.tensors.map((e) => [e.path.join('.'), e.values]));
  assertClose(await lin.weight.data(), want.get('weight')!, { atol: 0, rtol: 0, what: 'weight' });
  assertClose(await lin.bias!.data(), want.get('bias')!, { atol: 0, rtol: 0, what: 'bias' });
  lin.dispose();
});

t('model + optimizer round trip through safetensors bytes', async () => {
  const mlp = new MLP(3, 5);
  const opt = new AdamW(mlp.parameters(), { lr: 0.01 });
  const x = ag.randn([2, 3]);
  ag.backward(ag.sum(mlp.forward(x)));
  opt.step();
  const bytes = await saveSafetensors(mlp, { optimizer: opt, metadata: new Map([['note', 'test']]) });
  const { metadata } = await readSafetensors(bytes);
  assert.is(metadata.get('note'), 'test');
  const sd = await loadCheckpoint(bytes);
  assert.equal([...sd.keys()].slice(0, 4), ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);

  const restored = new MLP(3, 5);
  restored.loadStateDict(sd, { strict: false });
  for (const [[name, a], [, b]] of mlp.namedParameters().map((e, i) => [e, restored.namedParameters()[i]!] as const))
    assertClose(await b.data(), await a.data(), { atol: 0, rtol: 0, what: name });
  const opt2 = new AdamW(restored.parameters(), { lr: 0.01 });
  opt2.loadStateDict(withPrefix(sd, OPTIMIZER_PREFIX));
  const report = restored.loadStateDict(sd, { strict: false });
  assert.is(report.unexpected.length, 3 * 4, 'optimizer entries are not model keys');
  for (const [m, o] of [[mlp, opt], [restored, opt2]] as const) {
    o.zeroGrad();
    ag.backward(ag.sum(m.forward(x)));
    o.step();
  }
  assertClose(await restored.fc1.weight.data(), await mlp.fc1.weight.data(), { atol: 0, rtol: 0, what: 'identical after a resumed step' });
  const clash = new Map([['optimizer.state.0.step', ag.zeros([])]]);
  await assertRejects(saveSafetensors(clash, { optimizer: opt }), ArgumentError, /two entries/);
  clash.get('optimizer.state.0.step')!.dispose();
  for (const o of [opt, opt2]) o.dispose();
  for (const m of [mlp, restored]) m.dispose();
  x.dispose();
});

t('f16, i32 and u32 tensors save in their own dtype', async () => {
  const entries = new Map([['i', ag.tensor([1, -2], undefined, { dtype: 'i32' })], ['u', ag.tensor([4000000000], undefined, { dtype: 'u32' })]]);
  if (hasF16()) entries.set('h', ag.tensor([0.5, 2], undefined, { dtype: 'f16' }));
  const back = await loadCheckpoint(await saveSafetensors(entries));
  assert.is(back.get('i')!.dtype, 'i32');
  assert.equal(Array.from(back.get('u')!.data as BigInt64Array), [4000000000n]);
  if (hasF16()) assert.is(back.get('h')!.dtype, 'f16');
  for (const v of entries.values()) v.dispose();
});

t('unknown formats are refused with the bytes found', async () => {
  await assertFormatRejection(loadCheckpoint(new TextEncoder().encode('hello world')), /neither a safetensors file nor a PyTorch checkpoint \(first bytes 68 65/);
});

t.run();
