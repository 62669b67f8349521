/**
 * kernels/wgsl/optim.wgsl: the fused Adam/AdamW and SGD updates against a float64 reference of
 * torch.optim's rules, element by element, at sizes that leave every tail length (numel % 4), with the
 * gradient bound as vec4s or as scalars (its offset), through both adapter classes' launch shapes, and with
 * a parameter that is a view at the start of a larger buffer (nothing past it may change).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as raw from '../../engine/ops/index.js';
import { runtime } from '../../engine/runtime.js';
import type { Tensor } from '../../engine/tensor.js';
import { adamLaunch, sgdLaunch, type AdamStep, type SgdStep } from '../../kernels/optim.js';
import type { AdapterClass } from '../../kernels/launch.js';
import { assertClose, testDevice } from '../helpers.js';

const t = suite('kernels: optimizer updates');
t.before(async () => {
  await testDevice();
});

/** Seeded values in [-scale, scale), rounded to f32. */
function values(n: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return ((a / 4294967296) * 2 - 1) * scale;
  });
}

type AdamOptions = Omit<AdamStep, 'numel' | 'gradOffset'>;
type SgdOptions = Omit<SgdStep, 'numel' | 'gradOffset'>;

/** One Adam/AdamW step of torch.optim in float64: new (w, m, v). */
function adamReference(w0: Float32Array, g0: Float32Array, m0: Float32Array, v0: Float32Array, o: AdamOptions): number[][] {
  const out: number[][] = [[], [], []];
  for (let i = 0; i < w0.length; i++) {
    let w = w0[i]!;
    let g = g0[i]!;
    if (o.decoupled) w *= 1 - o.lr * o.weightDecay;
    else g += o.weightDecay * w;
    const m = o.beta1 * m0[i]! + (1 - o.beta1) * g;
    const v = o.beta2 * v0[i]! + (1 - o.beta2) * g * g;
    const denom = Math.sqrt(v) / Math.sqrt(1 - o.beta2 ** o.step) + o.eps;
    out[0]!.push(w - (o.lr / (1 - o.beta1 ** o.step)) * (m / denom));
    out[1]!.push(m);
    out[2]!.push(v);
  }
  return out;
}

/** One SGD step of torch.optim in float64: new (w, momentum buffer). */
function sgdReference(w0: Float32Array, g0: Float32Array, buf0: Float32Array, o: SgdOptions): number[][] {
  const out: number[][] = [[], []];
  for (let i = 0; i < w0.length; i++) {
    const g = g0[i]! + o.weightDecay * w0[i]!;
    let d = g;
    let buf = buf0[i]!;
    if (o.momentum) {
      buf = o.first ? g : o.momentum * buf + (1 - o.dampening) * g;
      d = o.nesterov ? g + o.momentum * buf : buf;
    }
    out[0]!.push(w0[i]! - o.lr * d);
    out[1]!.push(buf);
  }
  return out;
}

const ADAMW: AdamOptions = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, decoupled: true, step: 3 };
const ADAM_L2: AdamOptions = { ...ADAMW, decoupled: false, step: 1 };
const SGD_NESTEROV: SgdOptions = { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0.01, nesterov: true, first: false };
const SGD_DAMPENED: SgdOptions = { lr: 0.1, momentum: 0.8, dampening: 0.3, weightDecay: 0, nesterov: false, first: true };
const SGD_PLAIN: SgdOptions = { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0.01, nesterov: false, first: false };
// One f32 step of O(1) values: a few ulps.
const TOL = { atol: 1e-6, rtol: 1e-5 };

/** A gradient of n elements at element offset `offset` of its buffer (a narrowed view). */
function gradAt(g: Float32Array, offset: number): { view: Tensor; base: Tensor } {
  const base = raw.fromFlat(new Float32Array([...new Float32Array(offset).fill(7), ...g]), [offset + g.length], 'f32');
  return { view: raw.narrow(base, 0, offset, g.length), base };
}

// Sizes: one unit, every tail length, and more units than one CPU workgroup takes (16 x 32 x 4 = 2048).
const SIZES = [1, 2, 3, 4, 5, 6, 7, 4099];

t('Adam and AdamW match torch.optim at every tail length, the gradient as vec4s (offset 0, 4) or scalars (offset 1, 2)', async () => {
  for (const n of SIZES)
    for (const [o, gradOffset] of [[ADAMW, 0], [ADAM_L2, 1], [ADAMW, 4], [ADAMW, 2]] as const) {
      const w0 = values(n, n, 2);
      const g0 = values(n, n + 1);
      const m0 = values(n, n + 2, 0.1);
      const v0 = values(n, n + 3, 0.01).map(Math.abs);
      const [w, m, v] = [w0, m0, v0].map((x) => raw.fromFlat(x, [n], 'f32')) as [Tensor, Tensor, Tensor];
      const g = gradAt(g0, gradOffset);
      raw.adamUpdate(w, g.view, m, v, o);
      const [ew, em, ev] = adamReference(w0, g0, m0, v0, o);
      const what = `adam n=${n} grad offset ${gradOffset} decoupled ${o.decoupled}`;
      assertClose(await w.data(), ew!, { ...TOL, what: `${what}: weight` });
      assertClose(await m.data(), em!, { ...TOL, what: `${what}: m` });
      assertClose(await v.data(), ev!, { ...TOL, what: `${what}: v` });
      for (const x of [w, m, v, g.view, g.base]) x.dispose();
    }
});

t('SGD (plain, momentum with dampening on the first step, Nesterov) at every tail length', async () => {
  for (const n of SIZES)
    for (const [o, gradOffset] of [[SGD_NESTEROV, 0], [SGD_DAMPENED, 3], [SGD_PLAIN, 0], [SGD_PLAIN, 1]] as const) {
      const w0 = values(n, 2 * n, 2);
      const g0 = values(n, 2 * n + 1);
      const b0 = values(n, 2 * n + 2, 0.5);
      const w = raw.fromFlat(w0, [n], 'f32');
      const buf = o.momentum ? raw.fromFlat(b0, [n], 'f32') : null;
      const g = gradAt(g0, gradOffset);
      raw.sgdUpdate(w, g.view, buf, o);
      const [ew, eb] = sgdReference(w0, g0, b0, o);
      const what = `sgd n=${n} grad offset ${gradOffset} ${JSON.stringify(o)}`;
      assertClose(await w.data(), ew!, { ...TOL, what: `${what}: weight` });
      if (buf) assertClose(await buf.data(), eb!, { ...TOL, what: `${what}: momentum buffer` });
      for (const x of [w, buf, g.view, g.base]) x?.dispose();
    }
});

t('a parameter at the start of a larger buffer: the elements past it are untouched', async () => {
  for (const n of [5, 6, 7]) {
    const whole = raw.fromFlat(new Float32Array(16).fill(3), [16], 'f32');
    const w = raw.narrow(whole, 0, 0, n);
    const g = raw.fromFlat(values(n, 11), [n], 'f32');
    const [m, v] = [raw.zeros([n]), raw.zeros([n])];
    raw.adamUpdate(w, g, m, v, ADAMW);
    raw.sgdUpdate(w, g, null, SGD_PLAIN);
    const after = await whole.data();
    assert.equal(Array.from(after.slice(n)), new Array(16 - n).fill(3), `adam + sgd on the first ${n} of 16 elements`);
    assert.ok(Array.from(after.slice(0, n)).every((x) => x !== 3), 'the parameter itself moved');
    for (const x of [w, whole, g, m, v]) x.dispose();
  }
});

t('both adapter classes launch shapes (CPU: small workgroups, several units each; GPU: 256 x 1) give the same update', async () => {
  const rt = runtime();
  const n = 4099;
  const w0 = values(n, 21, 2);
  const g0 = values(n, 22);
  const m0 = values(n, 23, 0.1);
  const v0 = values(n, 24, 0.01).map(Math.abs);
  const [ew, em, ev] = adamReference(w0, g0, m0, v0, ADAMW);
  for (const adapterClass of ['cpu', 'gpu'] as AdapterClass[]) {
    const [w, g, m, v] = [w0, g0, m0, v0].map((x) => raw.fromFlat(x, [n], 'f32')) as [Tensor, Tensor, Tensor, Tensor];
    const buffer = (x: Tensor) => x.storage('test').buffer;
    rt.run(adamLaunch({ ...ADAMW, numel: n, gradOffset: 0 }, adapterClass), [buffer(g), buffer(w), buffer(m), buffer(v)]);
    assertClose(await w.data(), ew!, { ...TOL, what: `${adapterClass} launch: weight` });
    assertClose(await m.data(), em!, { ...TOL, what: `${adapterClass} launch: m` });
    assertClose(await v.data(), ev!, { ...TOL, what: `${adapterClass} launch: v` });
    const buf = raw.fromFlat(new Float32Array(n), [n], 'f32');
    rt.run(sgdLaunch({ ...SGD_NESTEROV, first: true, numel: n, gradOffset: 0 }, adapterClass), [buffer(g), buffer(w), buffer(buf)]);
    const [ew2, eb2] = sgdReference(new Float32Array(ew!), g0, new Float32Array(n), { ...SGD_NESTEROV, first: true });
    assertClose(await w.data(), ew2!, { ...TOL, what: `${adapterClass} launch: sgd weight` });
    assertClose(await buf.data(), eb2!, { ...TOL, what: `${adapterClass} launch: sgd buffer` });
    for (const x of [w, g, m, v, buf]) x.dispose();
  }
});

t.run();
