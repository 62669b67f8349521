import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { promisify } from 'node:util';
import { ArgumentError, init, ops, type Tensor } from '../../index.js';
import { assertRejects, testDevice } from '../helpers.js';
import { isDawnPoll } from '../../engine/platform.js';

// engine/platform.ts paces dawn.node's polls (the busy setImmediate loop that settles its promises):
// everything else queued with setImmediate must behave exactly as before, and a long wait must poll
// about once per millisecond instead of continuously.
const t = suite('engine: Dawn poll pacing (Node)');
t.before(async () => {
  await testDevice();
});

t('ordinary setImmediate callbacks keep their arguments, order, cancellation and promisified form', async () => {
  assert.equal(await new Promise((resolve) => setImmediate((a: number, b: string) => resolve([a, b]), 1, 'x')), [1, 'x']);
  const order: string[] = [];
  await new Promise<void>((resolve) => {
    setImmediate(() => order.push('first'));
    setImmediate(() => {
      order.push('second');
      resolve();
    });
  });
  assert.equal(order, ['first', 'second']);
  let ran = false;
  clearImmediate(setImmediate(() => (ran = true)));
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.not.ok(ran, 'a cleared immediate never runs');
  assert.equal(await promisify(setImmediate)('value'), 'value');
  // A promise's native resolver takes one parameter, so it is not mistaken for one of Dawn's polls.
  await new Promise((resolve) => setImmediate(resolve));
});

/** Records GPU work (chained 512^3 products) and counts Dawn's polls while its result is read back. */
async function pollsDuringWait(products: number): Promise<{ polls: number; ms: number }> {
  const paced = globalThis.setImmediate;
  let polls = 0;
  const counting = function (this: unknown, callback: (...args: unknown[]) => void, ...args: unknown[]) {
    if (isDawnPoll(callback, args)) polls++;
    return (paced as (...a: unknown[]) => unknown).call(this, callback, ...args);
  };
  const a = ops.randn([512, 512]);
  let x: Tensor = ops.mul(a, 0.04);
  for (let i = 0; i < products; i++) {
    const next = ops.matmul(x, a);
    if (i > 0) x.dispose();
    x = ops.mul(next, 0.04);
    next.dispose();
  }
  globalThis.setImmediate = counting as unknown as typeof setImmediate;
  try {
    const start = performance.now();
    await x.data();
    return { polls, ms: performance.now() - start };
  } finally {
    globalThis.setImmediate = paced;
    x.dispose();
    a.dispose();
  }
}

t('a long wait on the GPU polls about once per millisecond, not in a busy loop', async () => {
  // Grow the work until the wait is long enough to tell pacing (~1 poll/ms after the first ms) from
  // Dawn's own loop (~100 polls/ms here); each 512^3 product takes a few ms on lavapipe.
  let products = 16;
  let wait = await pollsDuringWait(products);
  while (wait.ms < 60 && products < 4096) {
    products *= 4;
    wait = await pollsDuringWait(products);
  }
  assert.ok(wait.ms >= 60, `the wait lasted ${wait.ms.toFixed(1)} ms even with ${products} products`);
  assert.ok(wait.polls / wait.ms < 10, `${wait.polls} polls in ${wait.ms.toFixed(1)} ms`);
});

t('a bad dawnSpinMs is refused before the current device is touched', async () => {
  await assertRejects(init({ dawnSpinMs: -1 }), ArgumentError, /dawnSpinMs must be a number >= 0/);
  await assertRejects(init({ dawnSpinMs: Number.NaN }), ArgumentError, /dawnSpinMs/);
  assert.equal(Array.from(await ops.add(ops.tensor([1]), ops.tensor([2])).data()), [3]);
});

t.run();
