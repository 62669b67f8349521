import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ArgumentError, memoryStats, ops, runtime, type Tensor } from '../../engine/index.js';
import { testDevice } from '../helpers.js';

// JavaScript callers get no compile-time types: every public op must turn a wrong-typed argument into an
// ArgumentError that names the op and the argument, before any GPU work, instead of a TypeError from
// deep inside, an option silently ignored, or a wrong result.
const t = suite('engine: argument types');
let x: Tensor;
let x4: Tensor;
let xt: Tensor;
let ids: Tensor;
let image: Tensor;
let kernel: Tensor;
t.before(async () => {
  await testDevice();
  x = ops.randn([2, 3]);
  xt = ops.transpose(x);
  x4 = ops.randn([1, 2, 4, 8]);
  ids = ops.tensor([0, 1], [2], { dtype: 'i32' });
  image = ops.randn([1, 1, 4, 4]);
  kernel = ops.randn([1, 1, 2, 2]);
});
t.after(() => {
  for (const v of [x, xt, x4, ids, image, kernel]) v.dispose();
});

/** Calls `fn` with a value the types forbid (the cast is the point: JavaScript does not stop it). */
const bad = <T>(v: unknown): T => v as T;

/** [call, the message it must start with] */
const CASES: [string, () => unknown, RegExp][] = [
  ['binary operand', () => ops.mul(x, bad('2')), /^mul: b must be a Tensor or a number, got the string "2"/],
  ['binary null operand', () => ops.add(bad(null), x), /^add: a must be a Tensor or a number, got null/],
  ['unary operand', () => ops.exp(bad([1, 2])), /^exp: x must be a Tensor, got an array/],
  ['where condition', () => ops.where(bad(true), x, x), /^where: cond must be a Tensor, got the boolean true/],
  ['clamp bound', () => ops.clamp(x, bad('0')), /^clamp: min must be a number/],
  ['matmul operand', () => ops.matmul(x, bad([[1], [2], [3]])), /^matmul: b must be a Tensor, got an array/],
  ['matmul option', () => ops.matmul(x, xt, bad({ outdtype: 'f32' })), /^matmul: unknown key 'outdtype' in options; known: outDtype/],
  ['linear weight', () => ops.linear(x, bad(undefined)), /^linear: weight must be a Tensor, got undefined/],
  ['linear options', () => ops.linear(x, x, null, bad('gelu')), /^linear: options must be an object/],
  ['reshape shape', () => ops.reshape(x, bad(6)), /^reshape: shape must be an array, got the number 6/],
  ['expand shape', () => ops.expand(x, bad({ length: 2 })), /^expand: shape must be an array, got an object/],
  ['permute dims', () => ops.permute(x, bad(null)), /^permute: dims must be an array, got null/],
  ['slice numbers', () => ops.slice(x, bad(0)), /^slice: specs must be an array .*narrow\(dim, start, length\)/],
  ['slice spec', () => ops.slice(x, bad([{ begin: 1 }])), /^slice: unknown key 'begin' in specs\[0\]; known: start, end, step/],
  ['tensor.view as reshape', () => x.view(bad([3, 2]), bad(undefined)), /^view: Tensor\.view\(shape, strides, offset\?\) is the raw storage view/],
  ['sum axes', () => ops.sum(x, bad({ axis: 0 })), /^sum: axes must be an axis, an array of axes or undefined/],
  ['sum keepdim misspelt', () => ops.sum(x, 0, bad({ keepDims: true })), /^sum: unknown key 'keepDims' in options; known: keepdim/],
  ['mean options as a boolean', () => ops.mean(x, 1, bad(true)), /^mean: options must be an object \(keepdim\?\), got the boolean true/],
  ['keepdim type', () => ops.max(x, 1, bad({ keepdim: 'yes' })), /^max: options.keepdim must be a boolean/],
  ['var correction', () => ops.variance(x, 1, bad({ correction: '1' })), /^var: correction must be a finite number >= 0/],
  ['softmax input', () => ops.softmax(bad('x')), /^softmax: x must be a Tensor/],
  ['concat list', () => ops.concat(bad(x)), /^concat: tensors must be an array of Tensors, got a Tensor/],
  ['stack element', () => ops.stack(bad([x, 1])), /^stack: tensors\[1\] must be a Tensor, got the number 1/],
  ['gather index', () => ops.gather(x, 0, bad([[0, 1, 0]])), /^gather: indices must be a Tensor, got an array/],
  ['pad pads', () => ops.pad(x, bad(1)), /^pad: pads must be an array, got the number 1/],
  ['pad fill value', () => ops.pad(x, [1, 1], bad({ value: '0' })), /^pad: options.value must be a number/],
  ['full value', () => ops.full([2], bad('1')), /^full: value must be a number, got the string "1"/],
  ['zeros options', () => ops.zeros([2], bad('f16')), /^zeros: options must be an object \(dtype\?\)/],
  ['tensor options', () => ops.tensor([1, 2], [2], bad({ type: 'i32' })), /^tensor: unknown key 'type' in options; known: dtype/],
  ['fromFlat values', () => ops.fromFlat(bad([1, '2']), [2], 'f32'), /^tensor: element 1 is the string "2", expected a number/],
  ['arange end', () => ops.arange(0, bad(true)), /^arange: end must be a number, got the boolean true/],
  ['randn options', () => ops.randn([2], bad({ seed: 1 })), /^randn: unknown key 'seed' in options; known: dtype, generator, mean, std/],
  ['layerNorm eps', () => ops.layerNorm(x, [3], null, null, bad('1e-5')), /^layerNorm: eps must be a number/],
  ['layerNorm options', () => ops.layerNorm(x, [3], null, null, 1e-5, bad({ stats: true })), /^layerNorm: unknown key 'stats' in options/],
  ['conv options', () => ops.conv2d(image, kernel, null, bad({ padding: 1, strides: 2 })), /^conv2d: unknown key 'strides' in options/],
  ['conv bias', () => ops.conv2d(x4, x4, bad(0)), /^conv2d: bias must be a Tensor, got the number 0/],
  ['attention operand', () => ops.scaledDotProductAttention(x4, x4, bad('v')), /^scaledDotProductAttention: v must be a Tensor/],
  ['attention option', () => ops.scaledDotProductAttention(x4, x4, x4, bad({ isCausal: true })), /^scaledDotProductAttention: unknown key 'isCausal' in options/],
  ['attention causal type', () => ops.scaledDotProductAttention(x4, x4, x4, bad({ causal: 'yes' })), /^scaledDotProductAttention: options.causal must be a boolean/],
  ['attention mask', () => ops.scaledDotProductAttention(x4, x4, x4, bad({ mask: [[0]] })), /^scaledDotProductAttention: mask must be a Tensor/],
  ['packed attention', () => ops.multiHeadSelfAttention(bad(null), 2), /^multiHeadSelfAttention: qkv must be a Tensor, got null/],
  ['embedding table', () => ops.embeddingLookup(bad([[1, 2]]), ids), /^embeddingLookup: table must be a Tensor/],
];

for (const [label, call, message] of CASES) {
  t(`${label}: a typed error naming the op, before any GPU work`, () => {
    const rt = runtime();
    const [dispatches, bytes] = [rt.dispatches, memoryStats().bytesLive];
    assert.throws(call, (e: unknown) => e instanceof ArgumentError && message.test((e as Error).message), `${label}: ${message}`);
    assert.is(rt.dispatches, dispatches, 'no dispatch recorded');
    assert.is(memoryStats().bytesLive, bytes, 'no tensor left allocated');
  });
}

t('well-typed calls still pass: PyTorch-style None bounds, empty options, -1 in reshape', async () => {
  const clamped = ops.clamp(x, bad(null), 0);
  const summed = ops.sum(x, [0, 1], {});
  const reshaped = ops.reshape(x, [-1]);
  try {
    assert.ok((await clamped.data()).every((v) => v <= 0));
    assert.equal(summed.shape, []);
    assert.equal(reshaped.shape, [6]);
  } finally {
    for (const v of [clamped, summed, reshaped]) v.dispose();
  }
});

t.run();
