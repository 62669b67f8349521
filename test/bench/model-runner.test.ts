import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { modelRunner } from '../../bench/cases/model.js';
import { memoryStats } from '../../engine/tensor.js';
import { testDevice } from '../helpers.js';

// The model runner behind the bench's model cases and bench/step-probe.ts, at its `host` size (B16's
// 12 blocks at width 64 on 32x32 images): the training step lowers the loss from one step to the next and
// the forward gives B x 5 tokens x 64, and both leave no tensor behind.
const t = suite('bench: the Meta-Transformer model runner');
t.before(async () => {
  await testDevice();
});

t('host-sized training steps learn and forward passes give every token, without leaking', async () => {
  const before = memoryStats().liveTensors;
  const train = modelRunner('host', 2, true);
  const losses: number[] = [];
  for (let step = 0; step < 3; step++) {
    await train.run(1);
    losses.push((await train.result())[0]!);
  }
  train.dispose();
  assert.ok(losses.every(Number.isFinite), `losses ${losses.join(', ')}`);
  assert.ok(losses[2]! < losses[0]!, `the loss falls: ${losses.join(', ')}`);

  const forward = modelRunner('host', 2, false);
  await forward.run(2);
  const tokens = await forward.result();
  forward.dispose();
  assert.is(tokens.length, 2 * 5 * 64);
  assert.ok(Array.from(tokens).every(Number.isFinite));
  assert.is(memoryStats().liveTensors, before, 'no tensor left alive');
});

t.run();
