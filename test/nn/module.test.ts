import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ag from '../../autograd/index.js';
import { ArgumentError, DTypeError, ShapeError } from '../../engine/errors.js';
import { hasF16 } from '../../engine/runtime.js';
import { Generator } from '../../engine/random.js';
import { memoryStats, tidy, type Tensor } from '../../engine/tensor.js';
import { hostTensor } from '../../nn/checkpoint/index.js';
import * as init from '../../nn/init.js';
import { BatchNorm1d, Block, Conv2d, Dropout, GELU, LayerNorm, Linear, ModuleList, Module, ReLU, Sequential, StateDictError, Tanh, Identity } from '../../nn/index.js';
import { assertClose, testDevice } from '../helpers.js';

const t = suite('nn: modules');
t.before(async () => {
  await testDevice();
});

t('parameter names follow PyTorch (timm Block)', () => {
  const block = new Block(8, 2);
  assert.equal(
    block.namedParameters().map(([n, p]) => `${n}:${p.shape.join('x')}`),
    [
      'norm1.weight:8', 'norm1.bias:8', 'attn.qkv.weight:24x8', 'attn.qkv.bias:24', 'attn.proj.weight:8x8', 'attn.proj.bias:8',
      'norm2.weight:8', 'norm2.bias:8', 'mlp.fc1.weight:32x8', 'mlp.fc1.bias:32', 'mlp.fc2.weight:8x32', 'mlp.fc2.bias:8',
    ],
  );
  const seq = new Sequential(new Linear(2, 3), new ReLU(), new Linear(3, 1, { bias: false }));
  assert.equal([...seq.stateDict().keys()], ['0.weight', '0.bias', '2.weight']);
  assert.is(seq.length, 3);
  assert.throws(() => seq.at(5), (e: unknown) => e instanceof ArgumentError);
  block.dispose();
  seq.dispose();
});

t('buffers are saved but not trained; shared parameters appear once', () => {
  class WithBuffer extends Module {
    ids: Tensor;
    lin: Linear;
    tied: Linear;
    constructor() {
      super();
      this.ids = this.buffer('ids', ag.arange(4));
      this.lin = new Linear(2, 2);
      this.tied = this.lin;
    }
  }
  const m = new WithBuffer();
  assert.equal(m.namedParameters().map(([n]) => n), ['lin.weight', 'lin.bias']);
  assert.equal([...m.stateDict().keys()], ['ids', 'lin.weight', 'lin.bias']);
  m.dispose();
});

t('loadStateDict copies values in place and reports problems by name', async () => {
  const lin = new Linear(2, 3);
  const weight = lin.weight;
  const sd = new Map([
    ['weight', hostTensor('f32', [3, 2], Float32Array.of(1, 2, 3, 4, 5, 6))],
    ['bias', hostTensor('f64', [3], Float64Array.of(7, 8, 9))],
  ]);
  lin.loadStateDict(sd);
  assert.is(lin.weight, weight, 'same tensor object (optimizers keep working)');
  assertClose(await lin.weight.data(), [1, 2, 3, 4, 5, 6], { what: 'weight' });
  assertClose(await lin.bias!.data(), [7, 8, 9], { what: 'bias converted from f64' });

  const bad = new Map<string, ReturnType<typeof hostTensor>>([
    ['weight', hostTensor('f32', [2, 3], new Float32Array(6))],
    ['extra', hostTensor('f32', [1], new Float32Array(1))],
  ]);
  try {
    lin.loadStateDict(bad);
    assert.unreachable('strict load should throw');
  } catch (e) {
    assert.ok(e instanceof StateDictError);
    assert.match(e.message, /missing keys: bias/);
    assert.match(e.message, /unexpected keys: extra/);
    assert.match(e.message, /weight: given \[2,3\] vs module \[3,2\]/);
    assert.equal(e.report.missing, ['bias']);
  }
  assertClose(await lin.weight.data(), [1, 2, 3, 4, 5, 6], { what: 'strict failure loads nothing' });
  const report = lin.loadStateDict(new Map([['bias', lin.weight.shape.length ? ag.tensor([0, 0, 1]) : ag.tensor([0])]]), { strict: false });
  assert.equal(report.missing, ['weight']);
  assertClose(await lin.bias!.data(), [0, 0, 1], { what: 'non-strict loads the matching entry (from a GPU tensor)' });
  lin.loadStateDict(lin.stateDict());
  assertClose(await lin.bias!.data(), [0, 0, 1], { what: 'loading its own state is a no-op' });
  lin.dispose();
});

t('requiresGrad(false) freezes; train/eval toggles every submodule', () => {
  const seq = new Sequential(new Linear(2, 2), new Dropout(0.5));
  seq.requiresGrad(false);
  assert.ok(seq.parameters().every((p) => !p.requiresGrad));
  const y = seq.eval().forward(ag.ones([1, 2]));
  assert.is(y.gradNode, null);
  assert.ok(seq.namedModules().every(([, m]) => !m.training));
  seq.train();
  assert.ok(seq.at(1).training);
  y.dispose();
  seq.dispose();
});

t('to(f16) casts parameters for inference', async () => {
  if (!hasF16()) return;
  const lin = new Linear(4, 2);
  const x = ag.randn([3, 4]);
  const ref = await ag.noGrad(() => lin.forward(x)).data();
  lin.to('f16');
  assert.is(lin.weight.dtype, 'f16');
  const xh = ag.cast(x, 'f16');
  const y = ag.noGrad(() => lin.forward(xh));
  // f16 has a 2^-11 relative step; a 4-term dot product of O(1) values stays within ~5e-3.
  assertClose(await y.data(), ref, { atol: 1e-2, rtol: 1e-2, what: 'f16 forward' });
  assert.throws(() => lin.to('i32'), (e: unknown) => e instanceof DTypeError);
  for (const v of [x, xh, y]) v.dispose();
  lin.dispose();
});

t('Dropout is seeded, scales kept units and is the identity in eval mode', async () => {
  const x = ag.ones([1000]);
  const run = async (seed: number) => {
    const d = new Dropout(0.25, new Generator(seed));
    const y = d.forward(x);
    const v = Array.from(await y.data());
    y.dispose();
    return v;
  };
  const a = await run(3);
  assert.equal(a, await run(3), 'same seed, same mask');
  assert.ok(a.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6));
  const dropped = a.filter((v) => v === 0).length;
  assert.ok(dropped > 180 && dropped < 320, `dropped ${dropped} of 1000 at p = 0.25`);
  const d = new Dropout(0.25).eval();
  const y = d.forward(x);
  assertClose(await y.data(), new Float32Array(1000).fill(1), { what: 'eval identity' });
  assert.throws(() => new Dropout(1), (e: unknown) => e instanceof ArgumentError);
  y.dispose();
  x.dispose();
});

t('activations, Identity, Conv2d and ModuleList', async () => {
  const x = ag.tensor([-1, 0.5]);
  for (const [m, f] of [[new GELU(), ag.gelu], [new ReLU(), ag.relu], [new Tanh(), ag.tanh]] as const) {
    const a = m.forward(x);
    const b = f(x);
    assertClose(await a.data(), await b.data(), { what: m.constructor.name });
    a.dispose();
    b.dispose();
  }
  const id = new Identity().forward(x);
  assertClose(await id.data(), [-1, 0.5], { what: 'identity' });
  const conv = new Conv2d(2, 4, 3, { padding: 1 });
  assert.equal(conv.weight.shape, [4, 2, 3, 3]);
  const img = ag.randn([1, 2, 5, 5]);
  const y = conv.forward(img);
  assert.equal(y.shape, [1, 4, 5, 5]);
  assert.throws(() => new Conv2d(3, 4, 3, { groups: 2 }), (e: unknown) => e instanceof ArgumentError);
  assert.throws(() => new Conv2d(2, 4, [3]), (e: unknown) => e instanceof ArgumentError);
  // Options are checked when the layer is built, not when it first runs.
  assert.throws(() => new Conv2d(2, 4, 3, { padding: 1, useBias: false } as never), (e: unknown) => e instanceof ArgumentError && /^Conv2d: unknown key 'useBias' in options/.test((e as Error).message));
  assert.throws(() => new Linear(2, 4, { biased: false } as never), (e: unknown) => e instanceof ArgumentError && /^Linear: unknown key 'biased' in options; known: bias, generator/.test((e as Error).message));
  const block = new Block(8, 2);
  const tokens = ag.tensor(new Float32Array(2 * 3 * 8), [2, 3, 8]);
  // A misspelt mask would attend to every key.
  assert.throws(() => block.forward(tokens, { attnMask: tokens } as never), (e: unknown) => e instanceof ArgumentError && /^Attention.forward: unknown key 'attnMask' in options; known: mask, keyPaddingMask/.test((e as Error).message));
  assert.throws(() => block.loadStateDict(new Map(), { strictness: false } as never), (e: unknown) => e instanceof ArgumentError && /^loadStateDict: unknown key 'strictness'/.test((e as Error).message));
  tokens.dispose();
  block.dispose();
  const list = new ModuleList([new Linear(1, 1)]);
  list.push(new Linear(1, 2));
  assert.equal([...list.stateDict().keys()], ['0.weight', '0.bias', '1.weight', '1.bias']);
  assert.throws(() => new Linear(3, 2).forward(img), (e: unknown) => e instanceof ShapeError);
  for (const v of [x, id, img, y]) v.dispose();
  conv.dispose();
  list.dispose();
});

t('LayerNorm module matches the functional op', async () => {
  const ln = new LayerNorm(4);
  const x = ag.randn([2, 4]);
  const a = ln.forward(x);
  const b = ag.layerNorm(x, [4]).y;
  assertClose(await a.data(), await b.data(), { what: 'layerNorm' });
  for (const v of [x, a, b]) v.dispose();
  ln.dispose();
});

t('BatchNorm1d: batch statistics in training (running ones moved), running statistics in eval, PyTorch names', async () => {
  const bn = new BatchNorm1d(3, 1e-5, 0.1);
  assert.equal([...bn.stateDict().keys()], ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
  assert.equal(bn.namedParameters().map(([n]) => n), ['weight', 'bias']);
  bn.weight!.dispose();
  bn.weight = ag.tensor([1, 2, 0.5]);
  bn.weight.requiresGrad = true;
  // [2, 2, 3]: statistics per channel over the 4 rows of the two leading axes.
  const rows = [[1, 0, 5], [3, 2, 5], [5, 4, 5], [7, 10, 5]];
  const x = ag.tensor(rows.flat(), [2, 2, 3]);
  const y = bn.forward(x);
  // Float64 oracle: (x - mean) / sqrt(biased var + eps) * w + b.
  const expected: number[] = [];
  const stats = [0, 1, 2].map((c) => {
    const v = rows.map((r) => r[c]!);
    const mean = v.reduce((a, b) => a + b, 0) / 4;
    const biased = v.reduce((a, b) => a + (b - mean) ** 2, 0) / 4;
    return { mean, biased, unbiased: (biased * 4) / 3 };
  });
  for (const r of rows) r.forEach((v, c) => expected.push(((v - stats[c]!.mean) / Math.sqrt(stats[c]!.biased + 1e-5)) * [1, 2, 0.5][c]!));
  assertClose(await y.data(), expected, { atol: 1e-5, rtol: 1e-5, what: 'training-mode output' });
  assertClose(await bn.running_mean.data(), stats.map((s) => 0.1 * s.mean), { atol: 1e-6, rtol: 1e-6, what: 'running_mean' });
  assertClose(await bn.running_var.data(), stats.map((s) => 0.9 + 0.1 * s.unbiased), { atol: 1e-6, rtol: 1e-6, what: 'running_var' });
  assert.is(await bn.num_batches_tracked.item(), 1);
  // Gradients flow to the input and the affine parameters (sum of a normalised channel is 0, so use squares).
  ag.backward(ag.sum(ag.mul(y, y)));
  assert.ok(x.grad === undefined || x.grad === null, 'a constant input takes no gradient');
  assertClose(await bn.bias!.grad!.data(), await ag.sum(ag.mul(y, 2), [0, 1]).data(), { atol: 1e-5, rtol: 1e-5, what: 'd bias' });
  bn.eval();
  const z = bn.forward(ag.tensor([[2, 2, 2]]));
  const mean = await bn.running_mean.data();
  const variance = await bn.running_var.data();
  assertClose(await z.data(), [0, 1, 2].map((c) => ((2 - mean[c]!) / Math.sqrt(variance[c]! + 1e-5)) * [1, 2, 0.5][c]!), { atol: 1e-5, rtol: 1e-5, what: 'eval-mode output' });
  assert.is(await bn.num_batches_tracked.item(), 1, 'eval leaves the statistics alone');
  assert.throws(() => bn.forward(ag.tensor([1, 2, 3])), (e: unknown) => e instanceof ShapeError && /BatchNorm1d: input must be \[\.\.\., 3\]/.test((e as Error).message));
  bn.train();
  assert.throws(() => bn.forward(ag.tensor([[1, 2, 3]])), (e: unknown) => e instanceof ShapeError && /more than one value per channel/.test((e as Error).message));
  assert.throws(() => new BatchNorm1d(0), (e: unknown) => e instanceof ArgumentError);
  bn.dispose();
});

t('initialisers have the documented statistics and validate arguments', async () => {
  const g = new Generator(5);
  const stats = async (w: Tensor) => {
    const d = Array.from(await w.data());
    w.dispose();
    const mean = d.reduce((s, v) => s + v, 0) / d.length;
    const std = Math.sqrt(d.reduce((s, v) => s + (v - mean) ** 2, 0) / d.length);
    return { mean, std, min: Math.min(...d), max: Math.max(...d) };
  };
  const tn = await stats(init.truncNormal([100, 100], { std: 0.02, generator: g }));
  assert.ok(Math.abs(tn.std - 0.02) < 0.001, `truncNormal std ${tn.std}`);
  const tight = await stats(init.truncNormal([1000], { std: 1, a: -0.5, b: 0.5, generator: g }));
  assert.ok(tight.min >= -0.5 && tight.max <= 0.5);
  // Var(U(-b, b)) = b^2 / 3 with b = sqrt(6 / (fanIn + fanOut)).
  const xu = await stats(init.xavierUniform([50, 150], { generator: g }));
  assert.ok(Math.abs(xu.std - Math.sqrt(2 / 200)) < 0.005, `xavierUniform std ${xu.std}`);
  const xn = await stats(init.xavierNormal([50, 150], { generator: g }));
  assert.ok(Math.abs(xn.std - Math.sqrt(2 / 200)) < 0.005, `xavierNormal std ${xn.std}`);
  const ku = await stats(init.kaimingUniform([100, 200], { nonlinearity: 'relu', generator: g }));
  assert.ok(Math.abs(ku.std - Math.sqrt(2 / 200)) < 0.005, `kaimingUniform std ${ku.std}`);
  const kn = await stats(init.kaimingNormal([100, 4, 5, 5], { mode: 'fanOut', generator: g }));
  assert.ok(Math.abs(kn.std - Math.sqrt(2 / 2500)) < 0.002, `kaimingNormal std ${kn.std}`);
  assert.throws(() => init.truncNormal([2], { a: 10, b: 11 }), (e: unknown) => e instanceof ArgumentError);
  assert.throws(() => init.truncNormal([2], { std: 0 }), (e: unknown) => e instanceof ArgumentError);
  assert.throws(() => init.xavierUniform([3]), (e: unknown) => e instanceof ShapeError);
});

t('a forward/backward under tidy leaves only gradients behind', () => {
  const block = new Block(8, 2);
  const x = ag.randn([2, 3, 8]);
  const before = memoryStats().liveTensors;
  tidy(() => ag.backward(ag.sum(block.forward(x))));
  assert.is(memoryStats().liveTensors, before + block.parameters().length);
  block.dispose();
  x.dispose();
});

t.run();
