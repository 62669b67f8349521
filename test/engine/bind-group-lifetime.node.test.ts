import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { ops, runtime, type Tensor } from '../../index.js';
import { testDevice } from '../helpers.js';

// lavapipe backs every live bind group (descriptor set) with a memory mapping of its own, and Linux
// stops a process at 65,530 mappings: a CI test process died that way (SIGSEGV in lavapipe's
// vkCreateDescriptorPool) while bind groups dropped from the runtime's cache waited for V8 to collect
// them. engine/runtime.ts bounds its cache and collects garbage when it drops a large one; this checks
// the bound where it matters, in the process's mapping count, over a run that builds far more bind
// groups than the cache holds.
const t = suite('engine: dropped bind groups are freed (Node)');
t.before(async () => {
  await testDevice();
});

/** Memory mappings of this process backed by an anonymous memfd: lavapipe's allocations. */
function driverMappings(): number {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').filter((line) => line.includes('memfd:')).length;
}

t('40,000 dispatches with distinct uniforms: bind groups built for each, mappings stay bounded, results right', async () => {
  const rt = runtime();
  const x = ops.tensor([0.5, -1]);
  const builtBefore = rt.bindGroupsBuilt;
  const mappingsBefore = driverMappings();
  let peak = mappingsBefore;
  const steps = 40000;
  for (let i = 0; i < steps; i += 1000) {
    const outs: Tensor[] = [];
    // Each scalar is a new uniform block, so each add needs a new bind group: the uniform heap (4,096
    // slots) is recycled ~10 times and the cache dropped with it.
    for (let j = i; j < i + 1000; j++) outs.push(ops.add(x, j));
    assert.equal(Array.from(await outs[999]!.data()), [0.5 + i + 999, -1 + i + 999]);
    for (const o of outs) o.dispose();
    peak = Math.max(peak, driverMappings());
  }
  x.dispose();
  assert.ok(rt.bindGroupsBuilt - builtBefore >= steps, `${rt.bindGroupsBuilt - builtBefore} bind groups built for ${steps} distinct dispatches`);
  // The cache holds at most 8,192 and each drop is collected at once. Without the collection the
  // count grew by ~26,000 here (one natural collection in between), reaching the limit in longer runs.
  assert.ok(peak - mappingsBefore < 12000, `driver mappings grew by ${peak - mappingsBefore} (from ${mappingsBefore})`);
});

t.run();
