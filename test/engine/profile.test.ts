import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ArgumentError, DeviceError, init, ops, profile, runtime, sync, type KernelTime } from '../../index.js';
import { PROFILE_CAPACITY, summarizeKernels } from '../../engine/profiler.js';
import { kernelTable } from '../../app/report/kernels.js';
import { assertRejects, resetTestDevice, testDevice } from '../helpers.js';

// engine/profiler.ts: every dispatch in a profile gets a timed pass of its own; the totals come back per
// pipeline. These check the bookkeeping (counts per kernel, batches past the query set's capacity, what
// happens around errors) and that profiling changes no result.
const t = suite('engine: profile (GPU time per kernel)');
t.before(async () => {
  await testDevice();
});

const hasTimestamps = () => runtime().features.has('timestamp-query');

function byEntry(kernels: readonly KernelTime[], entryPoint: string): KernelTime[] {
  return kernels.filter((k) => k.entryPoint === entryPoint);
}

t('counts each pipeline’s dispatches, times them, sorts slowest first, and changes no result', async () => {
  if (!hasTimestamps()) {
    await assertRejects(profile(() => 1), DeviceError, /timestamp-query/);
    return;
  }
  const a = ops.tensor([[1, 2], [3, 4]]);
  const before = ops.add(a, 1); // recorded before the profile: not counted
  const plain = await ops.matmul(a, a).toArray();
  const { result, kernels } = await profile(async () => {
    let y = a;
    for (let i = 0; i < 3; i++) y = ops.matmul(y, a);
    const z = ops.add(ops.add(y, 1), 2);
    await sync();
    return { first: await ops.matmul(a, a).toArray(), z };
  });
  assert.equal(result.first, plain, 'same product with and without the profile');
  assert.equal(await result.z.toArray(), [[199 + 3, 290 + 3], [435 + 3, 634 + 3]], 'a^4 + 3');
  const matmuls = kernels.filter((k) => k.key.startsWith('matmul/'));
  assert.is(matmuls.reduce((s, k) => s + k.dispatches, 0), 4, 'three chained products and one more');
  assert.is(byEntry(kernels, 'map').reduce((s, k) => s + k.dispatches, 0), 2, 'two adds (the one before the profile is not counted)');
  for (const k of kernels) {
    assert.ok(Number.isFinite(k.ms) && k.ms >= 0, `${k.key}: ${k.ms} ms`);
    assert.ok(k.dispatches > 0 && k.key.length > 0 && k.entryPoint.length > 0);
  }
  assert.equal(kernels.map((k) => k.ms), [...kernels.map((k) => k.ms)].sort((x, y) => y - x), 'slowest first');
  for (const x of [a, before, result.z]) x.dispose();
});

t('more dispatches than the query set holds: submitted in batches, every one counted', async () => {
  if (!hasTimestamps()) return assert.is(hasTimestamps(), false);
  const x = ops.tensor([1]);
  const n = 2 * PROFILE_CAPACITY + 17;
  const { result, kernels } = await profile(() => {
    let y = x;
    for (let i = 0; i < n; i++) {
      const next = ops.add(y, 1);
      if (y !== x) y.dispose();
      y = next;
    }
    return y;
  });
  assert.equal(await result.toArray(), [n + 1]);
  assert.is(byEntry(kernels, 'map').reduce((s, k) => s + k.dispatches, 0), n);
  x.dispose();
  result.dispose();
});

t('profiles do not nest; an error inside ends the profile and propagates', async () => {
  if (!hasTimestamps()) return assert.is(hasTimestamps(), false);
  const x = ops.tensor([1, 2]);
  const outer = await profile(async () => {
    await assertRejects(profile(() => 0), ArgumentError, /already running/);
    return ops.mul(x, 3);
  });
  assert.equal(await outer.result.toArray(), [3, 6]);
  assert.is(byEntry(outer.kernels, 'map').length, 1);
  await assertRejects(
    profile(() => {
      ops.neg(x).dispose();
      throw new RangeError('inside');
    }),
    RangeError,
    /^inside$/,
  );
  // The failed profile was stopped: a new one starts and sees only its own work.
  const next = await profile(() => ops.add(x, x));
  assert.equal(byEntry(next.kernels, 'map').map((k) => k.dispatches), [1]);
  for (const v of [x, outer.result, next.result]) v.dispose();
});

t('summaries for display: the slowest kernels, the rest and the total summed', () => {
  const k = (key: string, dispatches: number, ms: number): KernelTime => ({ key, entryPoint: 'main', dispatches, ms });
  const kernels = [k('b', 2, 1), k('a', 1, 5), k('c', 4, 3), k('d', 8, 0.5)];
  const s = summarizeKernels(kernels, 2);
  assert.equal(s.top.map((x) => x.key), ['a', 'c'], 'slowest first, whatever the input order');
  assert.equal(s.rest, { kernels: 2, dispatches: 10, ms: 1.5 });
  assert.equal(s.total, { dispatches: 15, ms: 9.5 });
  assert.is(summarizeKernels(kernels, 4).rest, null);
  const lines = kernelTable(kernels, 2);
  assert.is(lines.length, 1 + 2 + 1 + 1, 'header, two kernels, the rest, the total');
  assert.match(lines[3]!, /\(2 more kernels\)$/);
  assert.match(lines[4]!, /^100\.0%\s+9\.5 ms\s+15 x .*total GPU time$/);
});

t('without timestamp-query the profile is refused with a DeviceError, before running fn', async () => {
  try {
    await init({ disableFeatures: ['timestamp-query'] });
    let ran = false;
    await assertRejects(
      profile(() => {
        ran = true;
      }),
      DeviceError,
      /timestamp-query/,
    );
    assert.is(ran, false);
  } finally {
    await resetTestDevice();
  }
});

t.run();
