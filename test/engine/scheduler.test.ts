import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { emptyCache, ops, runtime, sync, type Tensor } from '../../index.js';
import { testDevice } from '../helpers.js';
import { garbageCollector, isNode } from '../../engine/platform.js';

// engine/runtime.ts keeps each distinct uniform block in one slot of a uniform heap and reuses a bind
// group whenever (pipeline, slot, buffers) repeats. These check that reuse happens, that it never serves
// stale uniforms (across a full heap's recycling, mid-batch) and that freeing the pool drops the bind
// groups naming its buffers without breaking recorded work.
const t = suite('engine: scheduler (uniform heap, bind-group reuse)');
t.before(async () => {
  await testDevice();
});

t('a repeated dispatch on the same buffers and shapes reuses its bind group', async () => {
  const rt = runtime();
  const a = ops.tensor([1, 2, 3]);
  const b = ops.tensor([10, 20, 30]);
  const first = ops.add(a, b);
  const groups = rt.bindGroupCount;
  first.dispose(); // its buffer goes back to the pool and is handed to the next result
  const second = ops.add(a, b);
  assert.is(rt.bindGroupCount, groups, 'no new bind group');
  assert.equal(Array.from(await second.data()), [11, 22, 33]);
  // Same pipeline and buffers, other uniforms (the scalar travels in them): a new bind group, right values.
  second.dispose();
  const third = ops.add(a, 5);
  assert.equal(Array.from(await third.data()), [6, 7, 8]);
  for (const x of [a, b, third]) x.dispose();
});

t('a loop that frees its tensors in another order than it made them reuses its bind groups from the second step', async () => {
  const rt = runtime();
  const x = ops.tensor(Array.from({ length: 1000 }, (_, i) => i / 1000));
  // Four same-sized intermediates, freed oldest first: handing out the last-freed buffer first would give
  // each tensor another tensor's buffer in the next step, so every dispatch would need a new bind group.
  const step = async (): Promise<number[]> => {
    const a = ops.add(x, x);
    const b = ops.mul(a, x);
    const c = ops.add(b, a);
    const d = ops.mul(c, b);
    const out = Array.from(await d.data());
    for (const y of [a, b, c, d]) y.dispose();
    return out;
  };
  const first = await step();
  const built = rt.bindGroupsBuilt;
  const second = await step();
  assert.is(rt.bindGroupsBuilt - built, 0, 'bind groups built in the second step');
  assert.equal(second, first);
  assert.ok(Math.abs(first[500]! - (2 * 0.5 * 0.5 + 2 * 0.5) * (2 * 0.5 * 0.5)) < 1e-6);
  x.dispose();
});

t('more distinct uniform blocks than the heap holds: recycled mid-batch, every result right', async () => {
  // 5,000 adds with different scalars need 5,000 slots (4,096 fit). A few distinct multiplies first
  // (read back, so their batch is submitted) shift where the heap fills relative to the 128-dispatch
  // batches, so that it is recycled while a batch reading old slots is still being recorded.
  const x = ops.tensor([0.5, -1]);
  for (const shift of [0, 37, 101]) {
    const warm: Tensor[] = [];
    for (let i = 0; i < shift; i++) warm.push(ops.mul(x, 1000 + shift + i));
    if (warm.length) assert.equal(Array.from(await warm[warm.length - 1]!.data()), [0.5 * (1000 + 2 * shift - 1), -(1000 + 2 * shift - 1)]);
    const outs: Tensor[] = [];
    for (let i = 0; i < 5000; i++) outs.push(ops.add(x, i + shift));
    for (const i of [0, 1, 4000, 4095 - shift, 4096 - shift, 4097 - shift, 4999])
      assert.equal(Array.from(await outs[i]!.data()), [0.5 + i + shift, -1 + i + shift], `shift ${shift}, add ${i}`);
    for (const o of [...warm, ...outs]) o.dispose();
  }
  x.dispose();
});

t('emptyCache while recorded work still reads pooled buffers: the work runs first, then they are freed', async () => {
  const rt = runtime();
  const a = ops.tensor([1, 2, 3, 4]);
  const tmp = ops.mul(a, 2);
  const out = ops.add(tmp, 1); // recorded, not yet submitted
  tmp.dispose(); // tmp's buffer is in the pool, still read by the recorded add
  emptyCache();
  assert.is(rt.bindGroupCount, 0);
  assert.equal(Array.from(await out.data()), [3, 5, 7, 9]);
  // The freed buffers' bind groups are gone: new work builds fresh ones on new buffers.
  const doubled = ops.mul(a, 2);
  const again = ops.add(doubled, 1);
  assert.equal(Array.from(await again.data()), [3, 5, 7, 9]);
  for (const x of [a, out, doubled, again]) x.dispose();
  await sync();
});

t('a garbage collector for dropped bind groups exists under Node only (browsers collect on their own schedule)', async () => {
  const collect = await garbageCollector();
  assert.is(collect !== null, isNode);
  collect?.();
});

t.run();
