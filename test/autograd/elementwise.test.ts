import { suite } from 'uvu';
import * as fc from 'fast-check';
import * as ag from '../../autograd/index.js';
import type { Tensor } from '../../engine/tensor.js';
import { testDevice } from '../helpers.js';
import { gradcheck, randomData } from './gradcheck.js';

const t = suite('autograd: elementwise and views');
t.before(async () => {
  await testDevice();
});

// Inputs bounded away from kinks and singularities (|x| in [0.5, 1.5]) so central differences are smooth.
function awayFromZero(n: number, seed: number): Float32Array {
  const r = randomData(n, seed);
  return r.map((v) => Math.sign(v || 1) * (0.5 + Math.min(1, Math.abs(v) / 2)));
}
const positive = (n: number, seed: number) => awayFromZero(n, seed).map(Math.abs);

const unary: [string, (x: Tensor) => Tensor, (n: number, s: number) => Float32Array][] = [
  ['neg', ag.neg, randomData],
  ['abs', ag.abs, awayFromZero],
  ['exp', ag.exp, randomData],
  ['log', ag.log, positive],
  ['sqrt', ag.sqrt, positive],
  ['rsqrt', ag.rsqrt, positive],
  ['sin', ag.sin, randomData],
  ['cos', ag.cos, randomData],
  ['tanh', ag.tanh, randomData],
  ['sigmoid', ag.sigmoid, randomData],
  ['relu', ag.relu, awayFromZero],
  ['gelu', ag.gelu, randomData],
  ['erf', ag.erf, randomData],
  ['square', ag.square, randomData],
  ['reciprocal', ag.reciprocal, awayFromZero],
  ['clamp', (x) => ag.clamp(x, -0.8, 0.9), awayFromZero],
  ['contiguous of transpose', (x) => ag.contiguous(ag.transpose(x)), randomData],
];
for (const [name, f, gen] of unary)
  t(`${name} matches finite differences`, async () => {
    await gradcheck(name, ([x]) => f(x!), [{ shape: [2, 3], data: gen(6, name.length) }]);
  });

t('binary ops with broadcasting match finite differences', async () => {
  const a = { shape: [2, 3], data: positive(6, 1) };
  const b = { shape: [3], data: awayFromZero(3, 2) };
  await gradcheck('add', ([x, y]) => ag.add(x!, y!), [a, b]);
  await gradcheck('sub', ([x, y]) => ag.sub(y!, x!), [a, b]);
  await gradcheck('mul', ([x, y]) => ag.mul(x!, y!), [a, b]);
  await gradcheck('div', ([x, y]) => ag.div(x!, y!), [a, b]);
  await gradcheck('pow', ([x, y]) => ag.pow(x!, y!), [a, b]);
  await gradcheck('maximum', ([x, y]) => ag.maximum(x!, y!), [a, b]);
  await gradcheck('minimum', ([x, y]) => ag.minimum(x!, y!), [a, b]);
  await gradcheck('scalar operands', ([x]) => ag.div(ag.sub(2, ag.mul(x!, 3)), 1.5), [a]);
  await gradcheck('pow scalar exponent', ([x]) => ag.pow(x!, 3), [a]);
});

t('where routes the gradient by condition', async () => {
  const cond = ag.tensor([1, 0, 1, 0, 0, 1], [2, 3], { dtype: 'u32' });
  await gradcheck('where', ([x, y]) => ag.where(cond, x!, y!), [{ shape: [2, 3] }, { shape: [1, 3] }]);
  cond.dispose();
});

t('mulAdd sends a * b + c gradients to all three operands, reduced over broadcast dims', async () => {
  await gradcheck('mulAdd', ([x, s, c]) => ag.mulAdd(x!, s!, c!), [{ shape: [2, 3] }, { shape: [3] }, { shape: [2, 1] }]);
});

t('views match finite differences', async () => {
  const x = [{ shape: [2, 3, 4] }];
  await gradcheck('reshape', ([v]) => ag.reshape(v!, [4, 6]), x);
  await gradcheck('reshape of a transpose (copies)', ([v]) => ag.reshape(ag.transpose(v!, 0, 2), [-1]), x);
  await gradcheck('permute', ([v]) => ag.permute(v!, [2, 0, 1]), x);
  await gradcheck('slice with steps and an index', ([v]) => ag.slice(v!, [1, { start: 0, step: 2 }, { start: -3 }]), x);
  await gradcheck('narrow', ([v]) => ag.narrow(v!, 2, 1, 2), x);
  await gradcheck('expand', ([v]) => ag.expand(v!, [3, 2, 3, 4]), [{ shape: [2, 1, 4] }]);
  await gradcheck('squeeze/unsqueeze/flatten', ([v]) => ag.flatten(ag.unsqueeze(ag.squeeze(v!, 1), 0), 1), [{ shape: [2, 1, 3] }]);
});

t('broadcast gradients reduce to the operand shape (property)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
      fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
      fc.integer({ min: 0, max: 2 }),
      async (shape, ones, drop) => {
        // b: shape with some dims set to 1 and up to `drop` leading dims removed.
        const bShape = shape.map((d, i) => (ones[i] ? 1 : d)).slice(Math.min(drop, shape.length - 1));
        await gradcheck(`mul ${shape} x ${bShape}`, ([x, y]) => ag.mul(x!, y!), [{ shape }, { shape: bShape }]);
      },
    ),
    { numRuns: 12 },
  );
});

t.run();
