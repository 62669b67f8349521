import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { summarizeCpuProfile, type CpuProfile } from '../../bench/cpu-profile.js';

const t = suite('bench: cpu profile summary');

const frame = (functionName: string, url = '', lineNumber = -1) => ({ functionName, url, lineNumber });

// (root) -> step -> record -> dispatch (native, no url)
//        -> step -> step (recursion) -> record
//        -> (idle), (garbage collector), (program)
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 5, 6, 7] },
    { id: 2, callFrame: frame('step', 'file:///x/bench/cases/model.js', 54), children: [3, 8] },
    { id: 3, callFrame: frame('record', 'file:///x/engine/runtime.js', 180), children: [4] },
    { id: 4, callFrame: frame('dispatch') },
    { id: 5, callFrame: frame('(idle)') },
    { id: 6, callFrame: frame('(garbage collector)') },
    { id: 7, callFrame: frame('(program)') },
    { id: 8, callFrame: frame('step', 'file:///x/bench/cases/model.js', 54), children: [9] },
    { id: 9, callFrame: frame('record', 'file:///x/engine/runtime.js', 180) },
  ],
  // Microseconds since the previous sample, charged to the sample's node.
  samples: [4, 3, 2, 5, 6, 7, 9, 4, 5],
  timeDeltas: [1000, 2000, 500, 10000, 3000, 700, 1500, 1000, 5000],
};

t('splits the time into idle, GC, V8 and script, and names functions by file and 1-based line', () => {
  const s = summarizeCpuProfile(profile);
  assert.is(s.totalMs, 24.7);
  assert.is(s.idleMs, 15);
  assert.is(s.gcMs, 3);
  assert.is(s.programMs, 0.7);
  assert.ok(Math.abs(s.scriptMs - 6) < 1e-9, `script ${s.scriptMs}`);
  assert.equal(s.self, [
    { name: 'dispatch', ms: 2 },
    { name: 'record engine/runtime.js:181', ms: 3.5 },
    { name: 'step cases/model.js:55', ms: 0.5 },
  ].sort((a, b) => b.ms - a.ms));
});

t('inclusive time counts a function once per stack, recursion included', () => {
  const s = summarizeCpuProfile(profile);
  // step: every script sample (0.5 own + 2 + 3.5 under it); record: its own 3.5 plus dispatch's 2.
  assert.equal(s.inclusive, [
    { name: 'step cases/model.js:55', ms: 6 },
    { name: 'record engine/runtime.js:181', ms: 5.5 },
    { name: 'dispatch', ms: 2 },
  ]);
});

t('keeps the slowest `top` functions', () => {
  const s = summarizeCpuProfile(profile, 1);
  assert.equal(s.self.map((f) => f.name), ['record engine/runtime.js:181']);
  assert.equal(s.inclusive.map((f) => f.name), ['step cases/model.js:55']);
});

t('leaves out samples under an ignored file', () => {
  const s = summarizeCpuProfile(profile, 25, ['file:///x/engine/runtime.js']);
  // dispatch (under record) and both record samples go; step's own 0.5 ms and the pseudo-nodes stay.
  assert.equal(s.self, [{ name: 'step cases/model.js:55', ms: 0.5 }]);
  assert.is(s.totalMs, 24.7 - 5.5);
});

t.run();
