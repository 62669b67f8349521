import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ArgumentError, attentionTuning, init, matmulTuning, ops, profile, runtime, setAttentionTuning, setMatmulTuning, tuneAttention, tuneMatmul,
  type AttentionKernelSpec, type AttentionTuning, type MatmulKernelSpec, type MatmulTuning,
} from '../../engine/index.js';
import { lanesSupported } from '../../kernels/launch.js';
import { kernelPerSize, mergedRows } from '../../engine/tuning/common.js';
import { matmul as refMatmul, randomPair, transpose as refTranspose, zip } from '../oracle.js';
import { assertClose, assertRejects, assertThrows, resetTestDevice, testDevice } from '../helpers.js';

// engine/tuning/: GEMM and attention tuning on the device at hand. These check what the tuners measure and
// build, that an installed table decides the kernels and changes no result, and that bad tables and
// options are refused with errors naming the row and field before any GPU work. They time nothing against
// anything: the figures are bench/tune.ts's.
const t = suite('engine: tuning (tuneMatmul, tuneAttention and their tables)');
t.before(async () => {
  await testDevice();
});
t.after.each(() => {
  setMatmulTuning(null);
  setAttentionTuning(null);
});

const lanes = () => lanesSupported(runtime().features.has('subgroups'), runtime().fixedSubgroupSize);
/** Two cheap kernels this adapter runs: the lanes kernel where it can, and the portable 64x64 tile. */
const cheapCandidates = (): MatmulKernelSpec[] => [
  lanes() ? { kernel: 'lanes', rows: 8 } : { kernel: 'tiled', tile: { blocks: [1, 1], tk: 8 } },
  { kernel: 'tiled', tile: { blocks: [1, 1], tk: 16 } },
];

async function checkProducts(): Promise<void> {
  const [a, ra] = randomPair([37, 19], 11);
  const [b, rb] = randomPair([19, 23], 12);
  const [w, rw] = randomPair([23, 19], 13);
  const [bias, rbias] = randomPair([23], 14);
  assertClose(await ops.matmul(a, b).data(), refMatmul(ra, rb).data, { atol: 1e-4, what: 'A @ B' });
  const lin = zip(refMatmul(ra, refTranspose(rw)), rbias, (x, y) => x + y);
  assertClose(await ops.linear(a, w, bias).data(), lin.data, { atol: 1e-4, what: 'x @ w^T + b' });
  for (const x of [a, b, w, bias]) x.dispose();
}

t('tables: the built-in kernel stays within 10% of the best, the previous row within 5%; equal rows merge', () => {
  const trial = (size: number, kernel: string, ms: number | null, workload = `w${size}`) => ({ size, workload, kernel, ms, builtIn: kernel === 'a' });
  const same = (k: string) => k;
  const trials = [
    trial(8, 'a', 1.08), trial(8, 'b', 1.0), // built-in within 10%: kept
    trial(64, 'a', 1.2), trial(64, 'b', 1.0), trial(64, 'c', 1.01),
    trial(197, 'a', 1.3), trial(197, 'b', 1.04), trial(197, 'c', 1.0), // the previous row's b within 5%: kept
    trial(512, 'a', 3), trial(512, 'b', 1.5), trial(512, 'c', 1), trial(512, 'c', null, 'other'), trial(512, 'b', 1, 'other'), // c failed one workload
  ];
  const chosen = kernelPerSize(trials, same, 'test');
  assert.equal(chosen.map((c) => c.kernel), ['a', 'b', 'b', 'b']);
  assert.equal(mergedRows(chosen, same), [{ kernel: 'a', max: 8 }, { kernel: 'b', max: null }]);
  assertThrows(() => kernelPerSize([trial(4, 'a', null)], same, 'tuneX'), ArgumentError, /tuneX: no candidate produced a correct result on every workload of size 4/);
});

t('tuneMatmul checks and times every candidate beside the built-in choice, then installs the fastest per M', async () => {
  assert.is(matmulTuning().source, 'built-in');
  const shapes: [number, number, number][] = [[3, 20, 12], [37, 16, 9]];
  const candidates = cheapCandidates();
  const report = await tuneMatmul({ shapes, candidates, repeats: 1, rounds: 2 });
  for (const epilogue of [false, true])
    for (const shape of shapes) {
      const mine = report.timings.filter((x) => x.epilogue === epilogue && x.shape.join() === shape.join());
      assert.ok(mine.length >= candidates.length, `${shape} ${epilogue}: every candidate timed`);
      assert.is(mine.filter((x) => x.builtIn).length, 1, 'exactly one built-in choice per product');
      // A candidate far behind in the first round keeps that time (tiny products are mostly overhead, so noise can do it).
      for (const x of mine) assert.ok(x.ms !== null && x.ms > 0 && x.gflops! > 0 && (!x.note || /first round only/.test(x.note)), JSON.stringify(x));
    }
  // The table: a catch-all row for GEMMs with and without an epilogue, every kernel one of those timed.
  const rows = report.tuning.rows;
  for (const fused of [false, true]) assert.ok(rows.some((r) => r.maxM === null && (r.epilogue === undefined || r.epilogue === fused)));
  const timed = new Set(report.timings.map((x) => JSON.stringify(x.kernel)));
  for (const { maxM: _m, epilogue: _e, ...kernel } of rows) assert.ok(timed.has(JSON.stringify(kernel)), JSON.stringify(kernel));
  assert.ok(rows.every((r) => r.maxM === null || r.maxM === 3), 'rows bound M at the timed M values only');
  assert.is(report.tuning.adapter, matmulTuning().adapter);
  assert.ok(report.tuning.adapter.length > 0);
  assert.equal(matmulTuning(), { ...report.tuning, source: 'installed' });
  await checkProducts();
  setMatmulTuning(null);
  assert.is(matmulTuning().source, 'built-in');

  const kept = await tuneMatmul({ shapes: [[4, 8, 8]], candidates, repeats: 1, rounds: 1, install: false });
  assert.is(matmulTuning().source, 'built-in', 'install: false leaves the table alone');
  assert.ok(kept.tuning.rows.length >= 1);
});

t('an installed table decides the kernels (plain and fused rows apart) and changes no result', async () => {
  const table: MatmulTuning = {
    adapter: 'hand-written',
    rows: [
      { kernel: 'tiled', tile: { blocks: [1, 1], tk: 8 }, maxM: null, epilogue: true },
      { kernel: 'tiled', tile: { blocks: [1, 1], tk: 12 }, maxM: null, epilogue: false },
    ],
  };
  setMatmulTuning(table);
  assert.equal(matmulTuning(), { ...table, source: 'installed' });
  await checkProducts();
  if (!runtime().features.has('timestamp-query')) return;
  const { kernels } = await profile(async () => {
    const x = ops.ones([5, 16]);
    const y = ops.matmul(x, ops.ones([16, 6]));
    const z = ops.linear(x, ops.ones([6, 16]), ops.zeros([6]));
    await y.data();
    await z.data();
  });
  const keys = kernels.map((k) => k.key).filter((k) => k.startsWith('matmul/'));
  assert.ok(keys.some((k) => k.includes('tiled/1x1/12')), keys.join('\n'));
  assert.ok(keys.some((k) => k.includes('tiled/1x1/8')), keys.join('\n'));
});

t('matmulTuning reads the built-in table as data that JSON and setMatmulTuning take back unchanged', () => {
  const builtIn = matmulTuning();
  assert.ok(builtIn.adapter.length > 0);
  assert.ok(builtIn.rows.some((r) => r.maxM === null));
  setMatmulTuning(JSON.parse(JSON.stringify(builtIn)) as MatmulTuning);
  assert.equal(matmulTuning(), { ...builtIn, source: 'installed' });
});

t('bad tables are ArgumentErrors naming the row and field; the installed table stays', () => {
  const good: MatmulTuning = { adapter: 'a', rows: [{ kernel: 'tiled', tile: { blocks: [1, 1], tk: 16 }, maxM: null }] };
  setMatmulTuning(good);
  const tiled = (tile: unknown, extra: object = {}) => ({ adapter: 'a', rows: [{ kernel: 'tiled', tile, maxM: null, ...extra }] });
  const bad: [unknown, RegExp][] = [
    [undefined, /expected a table/],
    [[], /the table must be an object/],
    [{ adapter: 1, rows: [] }, /table\.adapter must be a string/],
    [{ adapter: 'a', rows: [] }, /table\.rows must be a non-empty array/],
    [{ adapter: 'a', rows: [], speed: 1 }, /unknown key 'speed'/],
    [{ adapter: 'a', rows: [{ kernel: 'fast', maxM: null }] }, /rows\[0\]\.kernel must be 'lanes' or 'tiled'/],
    [{ adapter: 'a', rows: [null] }, /rows\[0\] must be an object/],
    [tiled({ blocks: [5, 1], tk: 16 }), /rows\[0\]\.tile: blocks must be two integers in 1\.\.4/],
    [tiled({ blocks: [1, 1], tk: 6 }), /rows\[0\]\.tile: tk must be a positive multiple of 4, got 6/],
    [tiled({ blocks: [1, 1], tk: 16, stages: 3 }), /stages must be 1 or 2/],
    [tiled({ blocks: [4, 4], tk: 1024 }), /rows\[0\]\.tile: needs \d+ bytes of workgroup memory, the device allows \d+/],
    [tiled({ blocks: [1, 1], tk: 16, vec4: 'yes' }), /rows\[0\]\.tile\.vec4 must be a boolean/],
    [tiled({ blocks: [1, 1], tk: 16, width: 2 }), /rows\[0\]\.tile has an unknown key 'width'/],
    [tiled({ blocks: [1, 1], tk: 16 }, { speed: 1 }), /rows\[0\] has an unknown key 'speed' for the tiled kernel/],
    [tiled({ blocks: [1, 1], tk: 16 }, { maxM: 0 }), /rows\[0\]\.maxM must be a positive integer or null \(any M\), got the number 0/],
    [tiled({ blocks: [1, 1], tk: 16 }, { maxM: Infinity }), /rows\[0\]\.maxM must be a positive integer or null/],
    [tiled({ blocks: [1, 1], tk: 16 }, { epilogue: 1 }), /rows\[0\]\.epilogue must be a boolean/],
    [tiled({ blocks: [1, 1], tk: 16 }, { maxM: 64 }), /no row with maxM null covers GEMMs without an epilogue/],
    [tiled({ blocks: [1, 1], tk: 16 }, { epilogue: false }), /no row with maxM null covers GEMMs with an epilogue/],
    // A hostile JSON text: its __proto__ is an own key here, refused like any other unknown one.
    [JSON.parse('{"adapter":"a","rows":[{"kernel":"tiled","tile":{"blocks":[1,1],"tk":16},"maxM":null,"__proto__":{"polluted":1}}]}'), /unknown key '__proto__'/],
  ];
  if (lanes()) bad.push([{ adapter: 'a', rows: [{ kernel: 'lanes', rows: 6, maxM: null }] }, /rows\[0\]: rows must be a multiple of 4 in 4\.\.32, got 6/]);
  for (const [table, pattern] of bad) assertThrows(() => setMatmulTuning(table as MatmulTuning), ArgumentError, pattern);
  assert.is(({} as { polluted?: number }).polluted, undefined);
  assert.equal(matmulTuning(), { ...good, source: 'installed' });
});

t('bad tuneMatmul options are ArgumentErrors before any GPU work', async () => {
  const before = runtime().dispatches;
  const bad: [object, RegExp][] = [
    [{ shapes: [] }, /options\.shapes must be a non-empty array/],
    [{ shapes: [[0, 4, 4]] }, /options\.shapes\[0\] must be \[M, N, K\] of integers in 1\.\.65536/],
    [{ shapes: [[4, 4]] }, /options\.shapes\[0\]/],
    [{ candidates: [] }, /options\.candidates must be a non-empty array/],
    [{ candidates: [{ kernel: 'tiled', tile: { blocks: [1, 1], tk: 16 }, maxM: 4 }] }, /options\.candidates\[0\] has an unknown key 'maxM'/],
    [{ candidates: [{ kernel: 'tiled', tile: { blocks: [9, 1], tk: 16 } }] }, /options\.candidates\[0\]\.tile: blocks/],
    [{ repeats: 0 }, /options\.repeats must be an integer in 1\.\.1000/],
    [{ rounds: 1.5 }, /options\.rounds must be an integer/],
    [{ install: 'yes' }, /options\.install must be a boolean/],
    [{ reps: 3 }, /unknown key 'reps'/],
  ];
  for (const [options, pattern] of bad) await assertRejects(tuneMatmul(options as never), ArgumentError, pattern);
  assert.is(runtime().dispatches, before, 'nothing dispatched');
  assert.is(matmulTuning().source, 'built-in');
});

/** q, k, v [1, 2, T, 16] and the float64 attention of their first head's first row (checks results under a table). */
async function checkAttention(t: number): Promise<void> {
  const [q, rq] = randomPair([1, 2, t, 16], 21);
  const [k, rk] = randomPair([1, 2, t, 16], 22);
  const [v, rv] = randomPair([1, 2, t, 16], 23);
  const scores = Array.from({ length: t }, (_, j) => rq.data.slice(0, 16).reduce((s, x, c) => s + x * rk.data[j * 16 + c]!, 0) / 4);
  const max = Math.max(...scores);
  const weights = scores.map((x) => Math.exp(x - max));
  const total = weights.reduce((a, b) => a + b, 0);
  const row = Array.from({ length: 16 }, (_, c) => weights.reduce((s, w, j) => s + (w / total) * rv.data[j * 16 + c]!, 0));
  const out = ops.scaledDotProductAttention(q, k, v);
  assertClose((await out.data()).subarray(0, 16), row, { atol: 1e-5, what: `attention T = ${t}` });
  for (const x of [q, k, v, out]) x.dispose();
}

t('tuneAttention checks and times every family beside the built-in choice, then installs the fastest per T', async () => {
  assert.is(attentionTuning().source, 'built-in');
  const shapes: [number, number, number, number][] = [[1, 2, 9, 16], [2, 1, 40, 16]];
  const candidates: AttentionKernelSpec[] = [{ kernel: 'blocked' }, { kernel: 'tiled', tile: { rows: 8, tile: 8 } }];
  const report = await tuneAttention({ shapes, candidates, repeats: 1, rounds: 2 });
  for (const shape of shapes) {
    const mine = report.timings.filter((x) => x.shape.join() === shape.join());
    assert.ok(mine.length >= candidates.length, `${shape}: every candidate timed`);
    assert.is(mine.filter((x) => x.builtIn).length, 1, 'exactly one built-in choice per shape');
    for (const x of mine) assert.ok(x.ms !== null && x.ms > 0 && x.gflops! > 0 && (!x.note || /first round only/.test(x.note)), JSON.stringify(x));
  }
  const rows = report.tuning.rows;
  assert.ok(rows[rows.length - 1]!.maxT === null && rows.every((r) => r.maxT === null || r.maxT === 9), JSON.stringify(rows));
  const timed = new Set(report.timings.map((x) => JSON.stringify(x.kernel)));
  for (const { maxT: _t, ...kernel } of rows) assert.ok(timed.has(JSON.stringify(kernel)), JSON.stringify(kernel));
  assert.equal(attentionTuning(), { ...report.tuning, source: 'installed' });
  await checkAttention(9);
  await checkAttention(40);
});

t('an installed attention table picks the family per sequence length; forced options still win', async () => {
  const table: AttentionTuning = {
    adapter: 'hand-written',
    rows: [{ kernel: 'blocked', maxT: 16 }, { kernel: 'tiled', tile: { rows: 8, tile: 4 }, maxT: null }],
  };
  setAttentionTuning(table);
  assert.equal(attentionTuning(), { ...table, source: 'installed' });
  await checkAttention(9);
  await checkAttention(40);
  if (!runtime().features.has('timestamp-query')) return;
  const families = async (t: number, options = {}) => {
    const { kernels } = await profile(async () => {
      const x = ops.ones([1, 1, t, 16]);
      await ops.scaledDotProductAttention(x, x, x, options).data();
    });
    return kernels.map((k) => k.entryPoint).filter((e) => e.startsWith('attention'));
  };
  assert.ok((await families(9)).includes('attention_blocked_forward'), 'T <= 16: blocked');
  assert.ok((await families(40)).includes('attention_forward'), 'T > 16: tiled');
  assert.not.ok((await families(9, { kernel: 'tiled' })).includes('attention_blocked_forward'), 'a forced kernel wins');
});

t('bad attention tables and options are ArgumentErrors naming the row and field, before any GPU work', async () => {
  const good: AttentionTuning = { adapter: 'a', rows: [{ kernel: 'blocked', maxT: null }] };
  setAttentionTuning(good);
  const bad: [unknown, RegExp][] = [
    [undefined, /expected a table/],
    [{ adapter: 'a', rows: [] }, /table\.rows must be a non-empty array/],
    [{ adapter: 'a', rows: [{ kernel: 'flash', maxT: null }] }, /rows\[0\]\.kernel must be 'lanes', 'blocked' or 'tiled'/],
    [{ adapter: 'a', rows: [{ kernel: 'blocked', maxT: null, tile: { rows: 8, tile: 8 } }] }, /rows\[0\] has an unknown key 'tile' for the blocked kernel/],
    [{ adapter: 'a', rows: [{ kernel: 'tiled', maxT: null }] }, /rows\[0\]\.tile must be an object/],
    [{ adapter: 'a', rows: [{ kernel: 'tiled', tile: { rows: 0, tile: 8 }, maxT: null }] }, /rows\[0\]\.tile\.rows must be an integer in 1\.\.\d+/],
    [{ adapter: 'a', rows: [{ kernel: 'tiled', tile: { rows: 8, tile: 8, depth: 2 }, maxT: null }] }, /rows\[0\]\.tile has an unknown key 'depth'/],
    [{ adapter: 'a', rows: [{ kernel: 'blocked', maxT: -3 }] }, /rows\[0\]\.maxT must be a positive integer or null/],
    [{ adapter: 'a', rows: [{ kernel: 'blocked', maxT: 64 }] }, /no row with maxT null/],
    [JSON.parse('{"adapter":"a","rows":[{"kernel":"blocked","maxT":null,"__proto__":{"polluted":1}}]}'), /unknown key '__proto__'/],
  ];
  for (const [table, pattern] of bad) assertThrows(() => setAttentionTuning(table as AttentionTuning), ArgumentError, pattern);
  assert.is(({} as { polluted?: number }).polluted, undefined);
  assert.equal(attentionTuning(), { ...good, source: 'installed' });
  setAttentionTuning(null);
  const before = runtime().dispatches;
  const badOptions: [object, RegExp][] = [
    [{ shapes: [[1, 2, 9]] }, /options\.shapes\[0\] must be \[B, H, T, d\]/],
    [{ shapes: [[1, 1, 8, 300]] }, /head dim 300/],
    [{ candidates: [{ kernel: 'tiled', tile: { rows: 8, tile: 0 } }] }, /options\.candidates\[0\]\.tile\.tile must be an integer/],
    [{ candidates: [{ kernel: 'blocked', maxT: 3 }] }, /options\.candidates\[0\] has an unknown key 'maxT'/],
    [{ rounds: 0 }, /options\.rounds must be an integer in 1\.\.1000/],
  ];
  for (const [options, pattern] of badOptions) await assertRejects(tuneAttention(options as never), ArgumentError, pattern);
  assert.is(runtime().dispatches, before, 'nothing dispatched');
  assert.is(attentionTuning().source, 'built-in');
});

// Last: a device without the subgroups feature cannot run the lanes kernels; the built-in tables read as
// what it runs instead, and install back. Restores the normal device for later suites.
t('without subgroups the built-in tables read as the portable kernels this device runs, and install back', async () => {
  await init({ disableFeatures: ['subgroups'] });
  try {
    const gemm = matmulTuning();
    assert.ok(gemm.rows.every((r) => r.kernel === 'tiled'), JSON.stringify(gemm.rows));
    setMatmulTuning(JSON.parse(JSON.stringify(gemm)) as MatmulTuning);
    assert.equal(matmulTuning(), { ...gemm, source: 'installed' });
    const att = attentionTuning();
    assert.ok(att.rows.every((r) => r.kernel !== 'lanes'), JSON.stringify(att.rows));
    setAttentionTuning(JSON.parse(JSON.stringify(att)) as AttentionTuning);
    assertThrows(() => setMatmulTuning({ adapter: 'a', rows: [{ kernel: 'lanes', rows: 8, maxM: null }] }), ArgumentError, /rows\[0\]: this adapter cannot run the lanes kernel \(it needs the subgroups feature and a fixed subgroup size of 4, 8, 16 or 32\)/);
  } finally {
    await resetTestDevice();
  }
});

t.run();
