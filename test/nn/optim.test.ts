import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ag from '../../autograd/index.js';
import { ArgumentError, DTypeError, ShapeError } from '../../engine/errors.js';
import * as raw from '../../engine/ops/index.js';
import { memoryStats, Tensor } from '../../engine/tensor.js';
import { hostTensor } from '../../nn/checkpoint/index.js';
import { Adam, AdamW, SGD, clipGradNorm, cosineWarmup, linearLR, stepLR } from '../../nn/optim.js';
import { assertClose, fixtureJSON, testDevice } from '../helpers.js';

const t = suite('nn: optimizers');
t.before(async () => {
  await testDevice();
});

function param(values: number[]): Tensor {
  const p = ag.tensor(values);
  p.requiresGrad = true;
  return p;
}
function setGrad(p: Tensor, values: number[]): void {
  p.grad?.dispose();
  p.grad = ag.tensor(values);
}

const P0 = [0.5, -1.2, 2.0, 0.1];
const GRADS = [[0.3, -0.2, 0.1, 1.0], [-0.5, 0.4, 0.2, -0.1], [0.05, 0.3, -0.7, 0.2]];

/** torch.optim.SGD, in float64. */
function sgdReference(o: { lr: number; momentum: number; dampening: number; weightDecay: number; nesterov: boolean }): number[] {
  const p = [...P0];
  let buf: number[] | null = null;
  for (const grad of GRADS) {
    const g = grad.map((v, i) => v + o.weightDecay * p[i]!);
    let d = g;
    if (o.momentum) {
      buf = buf ? buf.map((b, i) => o.momentum * b + (1 - o.dampening) * g[i]!) : [...g];
      d = o.nesterov ? g.map((v, i) => v + o.momentum * buf![i]!) : buf;
    }
    for (let i = 0; i < p.length; i++) p[i] = p[i]! - o.lr * d[i]!;
  }
  return p;
}

/** torch.optim.Adam / AdamW, in float64. */
function adamReference(decoupled: boolean, lr: number, wd: number, b1 = 0.9, b2 = 0.999, eps = 1e-8): number[] {
  const p = [...P0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  GRADS.forEach((grad, s) => {
    const step = s + 1;
    for (let i = 0; i < p.length; i++) {
      let g = grad[i]!;
      if (decoupled) p[i] = p[i]! * (1 - lr * wd);
      else g += wd * p[i]!;
      m[i] = b1 * m[i]! + (1 - b1) * g;
      v[i] = b2 * v[i]! + (1 - b2) * g * g;
      const denom = Math.sqrt(v[i]!) / Math.sqrt(1 - b2 ** step) + eps;
      p[i] = p[i]! - (lr / (1 - b1 ** step)) * (m[i]! / denom);
    }
  });
  return p;
}

async function runSteps(p: Tensor, opt: { step(): void }): Promise<Float32Array> {
  for (const g of GRADS) {
    setGrad(p, g);
    opt.step();
  }
  return (await p.data()) as Float32Array;
}

// f32 updates of O(1) values over 3 steps: within a few f32 ulps of the float64 reference.
const TOL = { atol: 1e-6, rtol: 1e-5 };

t('SGD (plain, momentum, dampening, Nesterov, weight decay) matches torch.optim.SGD', async () => {
  const variants = [
    { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
    { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0.01, nesterov: false },
    { lr: 0.05, momentum: 0.8, dampening: 0.3, weightDecay: 0, nesterov: false },
    { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0.1, nesterov: true },
  ];
  for (const o of variants) {
    const p = param(P0);
    const opt = new SGD([p], o);
    assertClose(await runSteps(p, opt), sgdReference(o), { ...TOL, what: `SGD ${JSON.stringify(o)}` });
    opt.dispose();
    p.dispose();
  }
});

t('Adam and AdamW match the torch update rules', async () => {
  for (const [Opt, decoupled] of [[Adam, false], [AdamW, true]] as const) {
    const p = param(P0);
    const opt = new Opt([p], { lr: 0.01, weightDecay: 0.1 });
    assertClose(await runSteps(p, opt), adamReference(decoupled, 0.01, 0.1), { ...TOL, what: Opt.name });
    opt.dispose();
    p.dispose();
  }
});

t('AdamW matches PyTorch for 3 steps (fixture)', async () => {
  const fx = await fixtureJSON<{ adamw: { shape: number[]; param: number[]; grads: number[][]; after: number[][]; lr: number; betas: [number, number]; eps: number; weightDecay: number } }>('autograd_torch.json');
  const c = fx.adamw;
  const p = ag.tensor(c.param, c.shape);
  p.requiresGrad = true;
  const opt = new AdamW([p], { lr: c.lr, betas: c.betas, eps: c.eps, weightDecay: c.weightDecay });
  for (let s = 0; s < 3; s++) {
    p.grad?.dispose();
    p.grad = ag.tensor(c.grads[s]!, c.shape);
    opt.step();
    assertClose(await p.data(), c.after[s]!, { atol: 2e-6, rtol: 1e-5, what: `AdamW step ${s + 1}` });
  }
  opt.dispose();
  p.dispose();
});

t('parameter groups take their own options; parameters without grad are skipped', async () => {
  const a = param([1, 1]);
  const b = param([1, 1]);
  const c = param([1, 1]);
  const opt = new SGD([{ params: [a], lr: 0.5 }, { params: [b, c] }], { lr: 0.1 });
  setGrad(a, [1, 1]);
  setGrad(b, [1, 1]);
  opt.step();
  assertClose(await a.data(), [0.5, 0.5], { what: 'group 0 lr' });
  assertClose(await b.data(), [0.9, 0.9], { what: 'group 1 default lr' });
  assertClose(await c.data(), [1, 1], { what: 'no grad, no update' });
  opt.zeroGrad();
  assert.is(a.grad, null);
  assert.throws(() => new SGD([{ params: [a] }, { params: [a] }], { lr: 1 }), (e: unknown) => e instanceof ArgumentError);
  assert.throws(() => new SGD([a], { lr: -1 }), (e: unknown) => e instanceof ArgumentError);
  assert.throws(() => new SGD([a], { lr: 1, nesterov: true }), (e: unknown) => e instanceof ArgumentError);
  assert.throws(() => new Adam([a], { betas: [1, 0.9] }), (e: unknown) => e instanceof ArgumentError);
  assert.throws(() => new AdamW([a], { eps: -1 }), (e: unknown) => e instanceof ArgumentError);
  // A misspelt option would otherwise train with the default (lr 1e-3, weight decay 1e-2).
  const misspelt = (make: () => unknown, message: RegExp) =>
    assert.throws(make, (e: unknown) => e instanceof ArgumentError && message.test((e as Error).message));
  misspelt(() => new AdamW([a], { learningRate: 0.1 } as never), /^AdamW: unknown key 'learningRate' in options; known: lr, betas, eps, weightDecay/);
  misspelt(() => new SGD([a], { lr: 0.1, weight_decay: 0.1 } as never), /^SGD: unknown key 'weight_decay' in options/);
  misspelt(() => new Adam([{ params: [a], beta1: 0.5 } as never]), /^Adam: unknown key 'beta1' in parameter group 0/);
  misspelt(() => new SGD(a as never, { lr: 0.1 }), /^SGD: params must be an array of Tensors or of parameter groups/);
  misspelt(() => new SGD([1, 2] as never, { lr: 0.1 }), /^SGD: params\[0\] must be a parameter group \{ params: Tensor\[\], \.\.\.options \} \(or every entry a Tensor\), got the number 1/);
  misspelt(() => new SGD([{ params: [a, 'b'] }] as never, { lr: 0.1 }), /^SGD: parameter group 0 holds the string "b", not a Tensor/);
  for (const v of [a, b, c]) v.dispose();
});

t('state dict round trip resumes exactly', async () => {
  const p1 = param(P0);
  const o1 = new AdamW([p1], { lr: 0.01 });
  setGrad(p1, GRADS[0]!);
  o1.step();
  const sd = o1.stateDict();
  assert.equal([...sd.keys()], ['state.0.step', 'state.0.exp_avg', 'state.0.exp_avg_sq']);
  // Restore into a fresh optimizer over a copy of the parameter, from host copies (as from a file).
  const p2 = ag.tensor(Array.from(await p1.data()));
  p2.requiresGrad = true;
  const o2 = new AdamW([p2], { lr: 0.01 });
  const host = new Map<string, ReturnType<typeof hostTensor> | Tensor>();
  for (const [k, v] of sd) host.set(k, v instanceof Tensor ? hostTensor('f32', [...v.shape], (await v.data()) as Float32Array) : v);
  o2.loadStateDict(host);
  for (const [p, o] of [[p1, o1], [p2, o2]] as const) {
    setGrad(p, GRADS[1]!);
    o.step();
  }
  assertClose(await p2.data(), await p1.data(), { atol: 0, rtol: 0, what: 'resumed step' });
  assert.throws(() => o2.loadStateDict(new Map([['state.5.exp_avg', ag.zeros([4])]])), (e: unknown) => e instanceof ArgumentError);
  assert.throws(() => o2.loadStateDict(new Map([['state.0.exp_avg', ag.zeros([3])]])), (e: unknown) => e instanceof ShapeError);
  assert.throws(() => o2.loadStateDict(new Map([['state.0.step', ag.zeros([])]])), (e: unknown) => e instanceof ArgumentError);
  for (const o of [o1, o2]) o.dispose();
  for (const p of [p1, p2]) p.dispose();
});

t('fused updates reject non-f32 or mis-shaped state', () => {
  const p = param([1, 2]);
  const g = ag.tensor([1, 2]);
  const m = ag.zeros([3]);
  const i = ag.zeros([2], { dtype: 'i32' });
  const opts = { lr: 1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0, decoupled: true, step: 1 };
  assert.throws(() => raw.adamUpdate(p, g, m, m, opts), (e: unknown) => e instanceof ShapeError);
  assert.throws(() => raw.adamUpdate(p, i, g, g, opts), (e: unknown) => e instanceof DTypeError);
  assert.throws(() => raw.sgdUpdate(p, g, null, { lr: 1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, first: true }), (e: unknown) => e instanceof ArgumentError);
  for (const v of [p, g, m, i]) v.dispose();
});

t('clipGradNorm scales to the global norm and returns it', async () => {
  const a = param([0, 0]);
  const b = param([0]);
  setGrad(a, [3, 0]);
  setGrad(b, [4]);
  const norm = clipGradNorm([a, b], 1);
  assertClose(await norm.data(), [5], { what: 'norm' });
  // scale = 1 / (5 + 1e-6)
  assertClose(await a.grad!.data(), [0.6, 0], { atol: 1e-6, what: 'a clipped' });
  assertClose(await b.grad!.data(), [0.8], { atol: 1e-6, what: 'b clipped' });
  const n2 = clipGradNorm([a, b], 10);
  assertClose(await a.grad!.data(), [0.6, 0], { atol: 1e-6, what: 'under the limit: unchanged' });
  assert.throws(() => clipGradNorm([a], 0), (e: unknown) => e instanceof ArgumentError);
  for (const v of [a, b, norm, n2]) v.dispose();
});

t('schedulers: cosine with warmup, step, linear', () => {
  const p = param([1]);
  const opt = new SGD([p], { lr: 1 });
  const cos = cosineWarmup(opt, { warmupSteps: 3, totalSteps: 13, minFactor: 0.1 });
  const lrs = [cos.lrs[0]!];
  for (let i = 0; i < 14; i++) {
    cos.step();
    lrs.push(cos.lrs[0]!);
  }
  assertClose(lrs.slice(0, 4), [0.25, 0.5, 0.75, 1], { what: 'warmup' });
  assertClose([lrs[8]!], [0.1 + 0.9 * 0.5], { what: 'halfway through the cosine' });
  assertClose(lrs.slice(13), [0.1, 0.1], { what: 'floor after totalSteps' });
  const opt2 = new SGD([p], { lr: 2 });
  const st = stepLR(opt2, { stepSize: 2, gamma: 0.5 });
  const seen = [st.lrs[0]];
  for (let i = 0; i < 4; i++) {
    st.step();
    seen.push(st.lrs[0]);
  }
  assert.equal(seen, [2, 2, 1, 1, 0.5]);
  const opt3 = new SGD([p], { lr: 1 });
  const lin = linearLR(opt3, { startFactor: 0.5, endFactor: 1, totalSteps: 2 });
  lin.step();
  assertClose(lin.lrs, [0.75], { what: 'linear halfway' });
  assert.throws(() => cosineWarmup(opt, { warmupSteps: 5, totalSteps: 5 }), (e: unknown) => e instanceof ArgumentError);
  assert.throws(() => stepLR(opt, { stepSize: 0 }), (e: unknown) => e instanceof ArgumentError);
  assert.throws(() => linearLR(opt, { totalSteps: 1.5 }), (e: unknown) => e instanceof ArgumentError);
  p.dispose();
});

t('optimizer steps allocate nothing after the first', () => {
  const p = param(P0);
  const opt = new AdamW([p]);
  setGrad(p, GRADS[0]!);
  opt.step();
  const live = memoryStats().liveTensors;
  for (let i = 0; i < 5; i++) opt.step();
  assert.is(memoryStats().liveTensors, live);
  opt.dispose();
  p.dispose();
});

t.run();
