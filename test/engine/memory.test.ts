import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ops, tidy, keep, memoryStats, emptyCache, empty, runtime, deviceInfo, sync, DisposedError, ShapeError, ArgumentError, type Tensor,
} from '../../engine/index.js';
import { assertRejects, assertThrows, testDevice } from '../helpers.js';

const t = suite('engine: memory, scheduling, limits');
t.before(async () => {
  await testDevice();
});


t('dispose frees, is idempotent, and use-after-dispose names the op', async () => {
  const before = memoryStats();
  const x = ops.zeros([10]);
  assert.is(memoryStats().liveTensors, before.liveTensors + 1);
  assert.is(memoryStats().bytesLive, before.bytesLive + 40);
  x.dispose();
  x.dispose();
  assert.ok(x.disposed);
  assert.is(memoryStats().liveTensors, before.liveTensors);
  assert.is(memoryStats().bytesLive, before.bytesLive);
  assertThrows(() => ops.exp(x), DisposedError, /^exp: tensor #\d+ \[10\] was disposed/);
  assertThrows(() => ops.reshape(x, [5, 2]), DisposedError, /^reshape: /);
  await assertRejects(x.data(), DisposedError, /^data: /);
});

t('tidy keeps returned tensors (arrays/objects too) and keep()-ed ones, frees the rest, nests', async () => {
  const base = memoryStats().liveTensors;
  let inner: Tensor | null = null;
  let kept: Tensor | null = null;
  const out = tidy(() => {
    const a = ops.ones([4]);
    const b = ops.add(a, a);
    kept = keep(ops.mul(b, 3));
    const nested = tidy(() => {
      inner = ops.exp(a);
      return { r: ops.neg(b), list: [ops.abs(b)] };
    });
    assert.ok(inner!.disposed, 'nested scope freed its temporaries');
    return [nested.r, { deep: nested.list[0]! }];
  });
  const [r, { deep }] = out as [Tensor, { deep: Tensor }];
  assert.ok(!r.disposed && !deep.disposed && !kept!.disposed);
  assert.is(memoryStats().liveTensors, base + 3, 'only returned and kept tensors survive');
  assert.equal(Array.from(await r.data()), [-2, -2, -2, -2]);
  for (const v of [r, deep, kept!]) v.dispose();
  assert.is(memoryStats().liveTensors, base);
});

t('tidy frees its tensors when fn throws or returns a Promise', () => {
  const base = memoryStats().liveTensors;
  assert.throws(() =>
    tidy(() => {
      ops.ones([3]);
      throw new Error('boom');
    }),
  /boom/);
  assert.is(memoryStats().liveTensors, base);
  assertThrows(() => tidy((() => {
    ops.ones([3]);
    return Promise.resolve(1);
  }) as never), ArgumentError, /^tidy: fn returned a Promise/);
  assert.is(memoryStats().liveTensors, base);
});

t('buffer pool: allocate-free-allocate reuses, emptyCache releases the pool', () => {
  const x = ops.zeros([1000]);
  x.dispose();
  const s1 = memoryStats();
  const y = ops.zeros([1000]);
  const s2 = memoryStats();
  assert.is(s2.bytesLive + s2.bytesPooled, s1.bytesLive + s1.bytesPooled + 4000 - 4096, 'reused the pooled 4 KiB bucket');
  assert.is(s2.buffersPooled, s1.buffersPooled - 1);
  y.dispose();
  emptyCache();
  const s3 = memoryStats();
  assert.is(s3.bytesPooled, 0);
  assert.is(s3.buffersPooled, 0);
  assert.is(s3.bytesLive, s1.bytesLive);
});

t('many dispatches beyond flushEvery batch correctly; shapes never add pipelines', async () => {
  let x = ops.zeros([33]);
  for (let i = 0; i < 300; i++) {
    const next = ops.add(x, ops.ones([33]));
    x.dispose();
    x = next;
  }
  assert.equal(Array.from(await x.data()), new Array(33).fill(300));
  x.dispose();
  const rt = runtime();
  const warm = [ops.zeros([2, 3]), ops.zeros([3])];
  ops.mul(warm[0]!, warm[1]!).dispose();
  ops.exp(warm[0]!).dispose();
  const pipelines = rt.pipelineCount;
  for (const shape of [[5], [7, 3], [2, 3, 4, 5], [1], [300, 2]]) {
    const a = ops.ones(shape);
    const b = ops.ones([shape[shape.length - 1]!]);
    const tr = ops.transpose(a);
    for (const v of [ops.mul(a, b), ops.exp(tr), ops.mul(tr, 2)]) v.dispose();
    for (const v of [a, b, tr]) v.dispose();
  }
  assert.is(rt.pipelineCount, pipelines, 'same ops on new shapes reuse pipelines');
  warm.forEach((v) => v.dispose());
  await sync();
});

t('tensors beyond maxStorageBufferBindingSize are refused with a ShapeError before any allocation', () => {
  const limit = deviceInfo().limits.maxStorageBufferBindingSize!;
  const n = Math.floor(limit / 4) + 1; // one f32 over the limit
  const before = memoryStats();
  const dispatches = runtime().dispatches;
  const msg = (op: string) => new RegExp(`^${op}: a f32 tensor of shape \\[${n}\\] needs ${n * 4} bytes, more than this adapter's maxStorageBufferBindingSize \\(${limit} bytes\\)`);
  assertThrows(() => empty([n], 'f32'), ShapeError, msg('empty'));
  assertThrows(() => ops.zeros([n]), ShapeError, msg('zeros'));
  assertThrows(() => ops.randn([n]), ShapeError, msg('randn'));
  assertThrows(() => ops.arange(n, undefined, 1, { dtype: 'f32' }), ShapeError, msg('arange'));
  // Absurd shapes fail the same way instead of trying to allocate host memory.
  assertThrows(() => ops.ones([1e6, 1e6, 1e6]), ShapeError, /^ones: a f32 tensor of shape \[1000000,1000000,1000000\]/);
  assertThrows(() => ops.eye(1e6), ShapeError, /^eye: /);
  const x = ops.ones([4]);
  const huge = ops.expand(x, [n, 4]); // a free view; materialising it is what must fail
  assertThrows(() => ops.exp(huge), ShapeError, /^exp: a f32 tensor of shape/);
  huge.dispose();
  x.dispose();
  const after = memoryStats();
  assert.is(after.bytesLive, before.bytesLive);
  assert.is(after.liveTensors, before.liveTensors);
  assert.is(runtime().dispatches, dispatches);
});

t('deviceInfo describes the adapter', () => {
  const info = deviceInfo();
  for (const k of ['vendor', 'architecture', 'device', 'description'] as const) assert.type(info[k], 'string');
  assert.ok(info.adapterClass === 'cpu' || info.adapterClass === 'gpu');
  assert.ok(info.platform === 'node' || info.platform === 'browser');
  assert.ok(Array.isArray(info.features));
  assert.equal([...info.features].sort(), info.features, 'features sorted');
  for (const k of ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup'])
    assert.ok(typeof info.limits[k] === 'number' && info.limits[k]! > 0, k);
  assert.equal(new Set(runtime().features), new Set(info.features));
});

t.run();
