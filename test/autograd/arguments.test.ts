import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ag from '../../autograd/index.js';
import { ArgumentError, DTypeError, ops, runtime, type Tensor } from '../../engine/index.js';
import { testDevice } from '../helpers.js';

// The differentiable wrappers that copy their options before calling the engine ({ ...options, returnLse })
// check them first: a spread turns null, true or a string into an object the engine would accept.
const t = suite('autograd: argument types');
let x: Tensor;
let w: Tensor;
let q: Tensor;
let qkv: Tensor;
t.before(async () => {
  await testDevice();
  x = ops.randn([2, 3]);
  w = ops.randn([4, 3]);
  q = ops.randn([1, 2, 4, 8]);
  qkv = ops.randn([1, 4, 48]);
  for (const p of [x, w, q, qkv]) p.requiresGrad = true;
});
t.after(() => {
  for (const v of [x, w, q, qkv]) v.dispose();
});

const bad = <T>(v: unknown): T => v as T;

const CASES: [string, () => unknown, RegExp][] = [
  ['attention options null', () => ag.scaledDotProductAttention(q, q, q, bad(null)), /^scaledDotProductAttention: options must be an object/],
  ['attention options string', () => ag.scaledDotProductAttention(q, q, q, bad('causal')), /^scaledDotProductAttention: options must be an object/],
  ['packed attention option', () => ag.multiHeadSelfAttention(qkv, 4, bad({ heads: 4 })), /^multiHeadSelfAttention: unknown key 'heads' in options/],
  ['linear options', () => ag.linear(x, w, null, bad(true)), /^linear: options must be an object/],
  ['linear option misspelt', () => ag.linear(x, w, null, bad({ act: 'gelu' })), /^linear: unknown key 'act' in options/],
  ['layerNorm options', () => ag.layerNorm(x, [3], null, null, 1e-5, bad(null)), /^layerNorm: options must be an object/],
];

for (const [label, call, message] of CASES) {
  t(`${label}: a typed error before any GPU work`, () => {
    const dispatches = runtime().dispatches;
    assert.throws(call, (e: unknown) => e instanceof ArgumentError && message.test((e as Error).message), `${label}: ${message}`);
    assert.is(runtime().dispatches, dispatches, 'no dispatch recorded');
  });
}

t('only float tensors can require gradients (PyTorch refuses the same)', () => {
  const ids = ops.tensor([1, 2], [2], { dtype: 'i32' });
  try {
    assert.throws(() => (ids.requiresGrad = true), (e: unknown) => e instanceof DTypeError && /^requiresGrad: only float tensors \(f32, f16\) can require gradients, got i32 \[2\]/.test((e as Error).message));
    assert.throws(() => (x.requiresGrad = bad('yes')), (e: unknown) => e instanceof ArgumentError && /^requiresGrad: must be set to a boolean/.test((e as Error).message));
    ids.requiresGrad = false;
    assert.is(ids.requiresGrad, false);
    assert.is(x.requiresGrad, true, 'a refused assignment leaves the flag as it was');
  } finally {
    ids.dispose();
  }
});

t.run();
