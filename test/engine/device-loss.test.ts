import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ops, gpuDevice, runtime, DeviceLostError } from '../../engine/index.js';
import { resetTestDevice, testDevice } from '../helpers.js';

// Destroys the shared device on purpose; the last test re-initialises it so suites after this one run.
const t = suite('engine: device loss');
t.before(async () => {
  await testDevice();
});

t('a pending readback rejects with DeviceLostError, later ops throw it, init() recovers', async () => {
  const x = ops.randn([64, 64]);
  let y = x;
  for (let i = 0; i < 20; i++) y = ops.gelu(y); // queue some work so the read is still pending
  const pending = y.data();
  gpuDevice().destroy();
  try {
    await pending;
    assert.unreachable('readback resolved on a destroyed device');
  } catch (e) {
    assert.ok(e instanceof DeviceLostError, `pending data() rejects with DeviceLostError, got ${String(e)}`);
    assert.match((e as Error).message, /the GPU device was lost/);
  }
  const expectLost = (f: () => unknown, op: string) =>
    assert.throws(f, (e: unknown) => e instanceof DeviceLostError && (e as Error).message.startsWith(`${op}: `), op);
  expectLost(() => ops.add(x, 1), 'add');
  expectLost(() => ops.zeros([2]), 'zeros');
  expectLost(() => ops.transpose(x), 'transpose');
  expectLost(() => runtime(), 'runtime');
  try {
    await x.data();
    assert.unreachable();
  } catch (e) {
    assert.ok(e instanceof DeviceLostError);
  }
  x.dispose(); // disposing tensors of a lost device is harmless
  y.dispose();

  await resetTestDevice();
  const z = ops.add(ops.tensor([1, 2]), 1);
  assert.equal(Array.from(await z.data()), [2, 3], 'the fresh device works');
  z.dispose();
});

t.run();
