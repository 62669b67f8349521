import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ops, hasF16, memoryStats, ShapeError, ArgumentError, type Tensor } from '../../engine/index.js';
import { testDevice } from '../helpers.js';
import {
  NdArray, arbShape, arbTensorCaseOf, arbView, arbValues, expand, expectClose, materialize, permute, reshape, slice, transpose,
} from '../oracle.js';

const t = suite('engine: views');
t.before(async () => {
  await testDevice();
});

const iota = (shape: number[]): Tensor => ops.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i), shape);
const ndIota = (shape: number[]): NdArray => NdArray.filled(shape, (i) => i);

/** Asserts `v` is a view of `base`'s storage and that creating it allocated nothing. */
function assertShares(v: Tensor, base: Tensor, bytesBefore: number, what: string): void {
  assert.ok(v.storage() === base.storage(), `${what}: shares the storage object`);
  assert.is(memoryStats().bytesLive, bytesBefore, `${what}: no new GPU memory`);
}

async function same(v: Tensor, expected: NdArray, what: string): Promise<void> {
  assert.equal(v.shape, expected.shape, `${what}: shape`);
  expectClose(await v.data(), expected.data, { atol: 0, rtol: 0, what });
}

t('random view chains read back the oracle values and never copy', async () => {
  await fc.assert(
    fc.asyncProperty(arbView().chain((v) => arbValues(v.baseShape.reduce((a, b) => a * b, 1), 'f32').map((data) => ({ ...v, dtype: 'f32' as const, data }))), async (c) => {
      const bytes = memoryStats().bytesLive;
      const { tensor, expected } = materialize(c);
      try {
        assert.is(memoryStats().bytesLive - bytes, Math.max(4, c.data.length * 4), 'only the base buffer was allocated');
        await same(tensor, expected, `view ${JSON.stringify(c.steps)}`);
      } finally {
        tensor.dispose();
      }
    }),
    { numRuns: 30 },
  );
});

t('reshape: views when strides allow (incl. -1), copies otherwise; view() refuses to copy', async () => {
  const x = iota([2, 3, 4]);
  const bytes = memoryStats().bytesLive;
  const r1 = ops.reshape(x, [6, -1]);
  const r2 = ops.reshape(x, [-1]);
  const r3 = ops.view(x, [4, 3, 2]);
  for (const [v, s] of [[r1, [6, 4]], [r2, [24]], [r3, [4, 3, 2]]] as const) {
    assertShares(v, x, bytes, `reshape ${s}`);
    await same(v, reshape(ndIota([2, 3, 4]), s), `reshape to [${s}]`);
  }
  // A transposed view can still be split along a dim that is contiguous in itself...
  const tr = ops.transpose(x, 0, 2); // [4,3,2], strides [1,4,12]
  const split = ops.reshape(tr, [2, 2, 3, 2]);
  assertShares(split, x, bytes, 'split of a transposed dim');
  await same(split, reshape(transpose(ndIota([2, 3, 4]), 0, 2), [2, 2, 3, 2]), 'split transposed');
  // ...but merging transposed dims needs a copy, which reshape makes and view refuses.
  const merged = ops.reshape(tr, [12, 2]);
  assert.ok(merged.storage() !== x.storage(), 'reshape of non-mergeable dims copies');
  await same(merged, reshape(transpose(ndIota([2, 3, 4]), 0, 2), [12, 2]), 'copy fallback');
  assert.throws(
    () => ops.view(tr, [12, 2]),
    (e: unknown) => e instanceof ShapeError && /^view: a tensor of shape \[4,3,2\] and strides \[1,4,12\] cannot be viewed as \[12,2\]; use reshape/.test((e as Error).message),
  );
  assert.throws(() => ops.reshape(x, [5, -1]), (e: unknown) => e instanceof ShapeError && /reshape: cannot reshape \[2,3,4\] \(24 elements\) into \[5,-1\]/.test((e as Error).message));
  assert.throws(() => ops.reshape(x, [-1, -1]), (e: unknown) => e instanceof ShapeError && /only one dimension can be -1/.test((e as Error).message));
  assert.throws(() => ops.reshape(x, [7, 3]), (e: unknown) => e instanceof ShapeError);
  for (const v of [x, r1, r2, r3, tr, split, merged]) v.dispose();
});

t('permute / transpose / slice / narrow / expand / squeeze / unsqueeze / flatten share storage and match the oracle', async () => {
  const x = iota([3, 1, 5]);
  const nx = ndIota([3, 1, 5]);
  const bytes = memoryStats().bytesLive;
  const cases: [Tensor, NdArray, string][] = [
    [ops.permute(x, [2, 0, 1]), permute(nx, [2, 0, 1]), 'permute'],
    [ops.permute(x, [-1, 0, 1]), permute(nx, [2, 0, 1]), 'permute negative'],
    [ops.transpose(x), transpose(nx), 'transpose last two'],
    [ops.transpose(x, 0, 2), transpose(nx, 0, 2), 'transpose 0 2'],
    [ops.slice(x, [{ start: 1 }, null, { start: -4, end: -1, step: 2 }]), slice(nx, [{ start: 1 }, null, { start: -4, end: -1, step: 2 }]), 'slice neg'],
    [ops.slice(x, [-1]), slice(nx, [-1]), 'index removes the dim'],
    [ops.slice(x, [{ step: 2 }, 0, { start: 3, step: 5 }]), slice(nx, [{ step: 2 }, 0, { start: 3, step: 5 }]), 'index + steps'],
    [ops.slice(x, [{ start: 2, end: 1 }]), slice(nx, [{ start: 2, end: 1 }]), 'empty slice'],
    [ops.slice(x, [{ start: -100, end: 100 }]), nx, 'clamped bounds'],
    [ops.narrow(x, -1, 1, 3), slice(nx, [null, null, { start: 1, end: 4 }]), 'narrow'],
    [ops.expand(x, [2, 3, 4, 5]), expand(nx, [2, 3, 4, 5]), 'expand'],
    [ops.expand(x, [-1, 6, -1]), expand(nx, [3, 6, 5]), 'expand -1'],
    [ops.squeeze(x), reshape(nx, [3, 5]), 'squeeze all'],
    [ops.squeeze(x, 1), reshape(nx, [3, 5]), 'squeeze 1'],
    [ops.squeeze(x, 0), nx, 'squeeze non-1 dim is a no-op'],
    [ops.unsqueeze(x, 0), reshape(nx, [1, 3, 1, 5]), 'unsqueeze 0'],
    [ops.unsqueeze(x, -1), reshape(nx, [3, 1, 5, 1]), 'unsqueeze -1'],
    [ops.flatten(x), reshape(nx, [15]), 'flatten'],
    [ops.flatten(x, 1), reshape(nx, [3, 5]), 'flatten from 1'],
  ];
  for (const [v, expected, what] of cases) {
    assertShares(v, x, bytes, what);
    await same(v, expected, what);
  }
  // Views of views keep sharing, and the storage lives until the last view is gone.
  const tr = ops.transpose(cases[10]![0], 0, 3);
  const chain = ops.slice(tr, [{ start: 1 }]);
  tr.dispose();
  assertShares(chain, x, bytes, 'view of views');
  x.dispose();
  for (const [v] of cases) v.dispose();
  assert.is(memoryStats().bytesLive, bytes, 'storage still alive through the last view');
  await same(chain, slice(transpose(expand(nx, [2, 3, 4, 5]), 0, 3), [{ start: 1 }]), 'last view still reads');
  chain.dispose();
  assert.is(memoryStats().bytesLive, bytes - 60, 'storage released with the last view');
});

t('views of f16 and integer tensors read back at odd offsets', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...((hasF16() ? ['f16', 'i32', 'u32'] : ['i32', 'u32']) as ('f16' | 'i32' | 'u32')[])),
      arbShape({ minRank: 1 }),
      async (dtype, shape) => {
        const c = await fc.sample(arbTensorCaseOf(shape, dtype), 1)[0]!;
        const { tensor, expected } = materialize(c);
        await same(tensor, expected, `${dtype} view ${JSON.stringify(c.steps)}`);
        // Element-offset views straight off the base (odd f16 offsets exercise the 4-byte aligned readback).
        const flat = ops.flatten(ops.contiguous(tensor));
        for (const start of [1, 2, 3]) {
          if (start >= flat.shape[0]!) break;
          const sub = ops.narrow(flat, 0, start, flat.shape[0]! - start);
          await same(sub, new NdArray([expected.size - start], expected.data.slice(start)), `${dtype} offset ${start}`);
          sub.dispose();
        }
        for (const v of [tensor, flat]) v.dispose();
      },
    ),
    { numRuns: 20 },
  );
});

t('view errors are typed and name the op', () => {
  const x = iota([2, 3]);
  const cases: [() => unknown, new (...a: never[]) => Error, RegExp][] = [
    [() => ops.permute(x, [0]), ShapeError, /^permute: 1 dims given for a tensor of rank 2/],
    [() => ops.permute(x, [0, 0]), ArgumentError, /^permute: dims \[0,0\] repeat an axis/],
    [() => ops.transpose(x, 0, 2), ArgumentError, /^transpose: axis 2 out of range for rank 2/],
    [() => ops.slice(x, [0, 0, 0]), ShapeError, /^slice: 3 slices for a tensor of rank 2/],
    [() => ops.slice(x, [2]), ArgumentError, /^slice: index 2 out of range for dim 0 of size 2/],
    [() => ops.slice(x, [{ step: 0 }]), ArgumentError, /^slice: step must be a positive integer, got 0/],
    [() => ops.slice(x, [{ step: -1 }]), ArgumentError, /^slice: step must be a positive integer/],
    [() => ops.slice(x, [{ start: 0.5 }]), ArgumentError, /^slice: start\/end must be integers, got 0.5 for dim 0/],
    [() => ops.narrow(x, 1, 2, 2), ArgumentError, /^narrow: \[2, 4\) out of range for dim 1 of size 3/],
    [() => ops.narrow(x, 1, 0.5, 1), ArgumentError, /^narrow: /],
    [() => ops.expand(x, [3]), ShapeError, /^expand: target \[3\] has lower rank than \[2,3\]/],
    [() => ops.expand(x, [4, 3]), ShapeError, /^expand: cannot expand \[2,3\] to \[4,3\] \(dim 0: 2 -> 4\)/],
    [() => ops.squeeze(x, 2), ArgumentError, /^squeeze: axis 2 out of range/],
    [() => ops.unsqueeze(x, 4), ArgumentError, /^unsqueeze: axis 4 out of range for rank 3/],
    [() => ops.flatten(x, 1, 0), ArgumentError, /^flatten: start 1 after end 0/],
  ];
  for (const [f, type, pattern] of cases) assert.throws(f, (e: unknown) => e instanceof type && pattern.test((e as Error).message), String(pattern));
  x.dispose();
});

t.run();
