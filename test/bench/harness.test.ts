import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ops from '../../engine/ops/index.js';
import { parseArgs } from '../../bench/cli.js';
import { oursRunner } from '../../bench/cases/ours.js';
import {
  chooseIterations,
  measureVariant,
  randomArray,
  ratiosOf,
  runCase,
  sampledCheck,
  summarize,
  throughputOf,
  Unsupported,
  type BenchCase,
  type CaseResult,
  type RunContext,
  type VariantResult,
} from '../../bench/harness.js';
import { toMarkdown } from '../../bench/report/markdown.js';
import { METHODS, toJSON, type BenchReport } from '../../bench/report/report.js';
import { charts, ratioChart, throughputChart } from '../../bench/report/svg.js';
import { testDevice } from '../helpers.js';

const t = suite('bench: harness');
t.before(async () => {
  await testDevice();
});

const ctx: RunContext = {
  timing: { warmups: 1, repeats: 2, targetMs: 1, maxIterations: 2 },
  engines: new Set(['omnitensor']),
};

/** relu(x) cased as if it were exp: a correct kernel (exp) and a deliberately wrong one (relu). */
function expCase(): BenchCase & { input: Float32Array } {
  const input = randomArray(300, 7);
  return {
    input,
    name: 'exp 300',
    group: 'gelu',
    shape: '300',
    dtype: 'f32',
    bytes: 2400,
    async setup() {
      const host = { data: input, shape: [300] };
      return {
        check: sampledCheck({ size: 300, expectedAt: (i) => Math.exp(input[i]!), atol: 1e-6, rtol: 1e-5 }),
        variants: [
          { engine: 'omnitensor', label: 'exp', primary: true, create: async () => oursRunner([host], ([x]) => ops.exp(x!)) },
          { engine: 'omnitensor', label: 'wrong kernel', timestamps: true, create: async () => oursRunner([host], ([x]) => ops.relu(x!)) },
          {
            engine: 'omnitensor',
            label: 'missing op',
            create: async () => {
              throw new Unsupported('engine/ops does not export frobnicate yet');
            },
          },
          {
            engine: 'omnitensor',
            label: 'crashing op',
            create: async () => {
              throw new Error('kaboom');
            },
          },
        ],
      };
    },
  };
}

t('summarize: min / median / max for odd and even counts', () => {
  assert.equal(summarize([3, 1, 2]), { min: 1, median: 2, max: 3 });
  assert.equal(summarize([4, 1, 3, 2]), { min: 1, median: 2.5, max: 4 });
  assert.throws(() => summarize([]), /no samples/);
});

t('throughputOf: best throughput comes from the minimum time', () => {
  // 2e9 FLOPs in 1 ms = 2000 GFLOP/s; in 4 ms = 500 GFLOP/s.
  const tp = throughputOf({ min: 1, median: 2, max: 4 }, 2e9);
  assert.equal(tp, { min: 500, median: 1000, max: 2000 });
});

t('chooseIterations: aims at the batch target within bounds', () => {
  const o = { warmups: 1, repeats: 3, targetMs: 100, maxIterations: 50 };
  assert.is(chooseIterations(10, o), 10);
  assert.is(chooseIterations(1000, o), 1);
  assert.is(chooseIterations(0.01, o), 50);
  assert.is(chooseIterations(0.01, o, { max: 8 }), 8);
  assert.is(chooseIterations(50, o, { min: 500 }), 500);
});

t('sampledCheck: passes correct output, names the first wrong, missing or non-finite element', () => {
  const check = sampledCheck({ size: 100, expectedAt: (i) => i * 2, atol: 1e-6, rtol: 0, samples: 100 });
  const good = Float32Array.from({ length: 100 }, (_, i) => i * 2);
  assert.is(check(good), null);
  const bad = good.slice();
  bad[37] = 0;
  assert.match(check(bad) ?? '', /element 37 is 0, oracle says 74/);
  assert.match(check(good.slice(0, 99)) ?? '', /99 elements, expected 100/);
  const nan = good.slice();
  nan[5] = NaN;
  assert.match(check(nan) ?? '', /element 5 is NaN/);
});

t('validation stops a wrong kernel before timing; unsupported and failing variants are reported', async () => {
  const c = expCase();
  const r = await runCase(c, ctx);
  const [exp, wrong, missing, crashing] = r.variants as [VariantResult, VariantResult, VariantResult, VariantResult];
  assert.is(exp.status, 'ok');
  assert.ok(exp.figures.some((f) => f.method === 'wall' && f.unit === 'GB/s' && f.ms.min <= f.ms.median && f.ms.median <= f.ms.max));
  assert.is(wrong.status, 'invalid');
  assert.match(wrong.reason ?? '', /validation failed: element \d+ is/);
  assert.equal(wrong.figures, []);
  assert.is(missing.status, 'unsupported');
  assert.match(missing.reason ?? '', /frobnicate/);
  assert.is(crashing.status, 'failed');
  assert.match(crashing.reason ?? '', /kaboom/);
  assert.is(r.status, 'ok');
});

t('measureVariant adds GPU-timestamp figures when a GPU timer is given', async () => {
  const c = expCase();
  const setup = await c.setup();
  let calls = 0;
  const gpuTime = async (record: () => void) => {
    record();
    calls++;
    return 5;
  };
  const r = await measureVariant(c, setup.variants[0]!, setup.check, { ...ctx, gpuTime });
  const gpu = r.figures.find((f) => f.method === 'gpu-timestamp');
  assert.ok(gpu);
  assert.is(calls, ctx.timing.repeats);
  assert.is(gpu!.ms.median, 5 / gpu!.iterations);
});

t('measureVariant under --profile: our variants get GPU time per kernel, per iteration', async () => {
  const c = expCase();
  const setup = await c.setup();
  let batches = 0;
  const profile = async (work: () => Promise<void>) => {
    await work();
    batches++;
    return [{ key: 'elementwise/1/exp', dispatches: 4, ms: 8 }];
  };
  const r = await measureVariant(c, setup.variants[0]!, setup.check, { ...ctx, profile });
  const iterations = r.figures[0]!.iterations;
  assert.is(batches, 1, 'one profiled batch');
  assert.equal(r.kernels, [{ key: 'elementwise/1/exp', dispatches: 4 / iterations, ms: 8 / iterations }]);
  // Without a profile function nothing is attached.
  assert.is((await measureVariant(c, setup.variants[0]!, setup.check, ctx)).kernels, undefined);
});

t('a case whose setup throws Unsupported is reported, not fatal', async () => {
  const c: BenchCase = {
    name: 'model',
    group: 'model',
    shape: '-',
    dtype: 'f32',
    async setup() {
      throw new Unsupported('no encoder');
    },
  };
  const r = await runCase(c, ctx);
  assert.is(r.status, 'unsupported');
  assert.is(r.reason, 'no encoder');
});

function okVariant(engine: VariantResult['engine'], label: string, median: number, primary = false): VariantResult {
  const ms = { min: median, median, max: median };
  return { engine, label, primary, status: 'ok', figures: [{ method: 'wall', iterations: 1, repeats: 1, ms, throughput: throughputOf(ms, 1e9), unit: 'GFLOP/s' }] };
}

t('ratiosOf: peer median time over ours (> 1 means ours faster)', () => {
  const rs = ratiosOf([okVariant('omnitensor', 'fused', 2, true), okVariant('omnitensor', 'unfused', 3), okVariant('tfjs-webgpu', 'x', 6), okVariant('jax-js', 'y', 1)]);
  assert.equal(rs, [
    { peer: 'tfjs-webgpu (x)', speedup: 3 },
    { peer: 'jax-js (y)', speedup: 0.5 },
  ]);
  assert.equal(ratiosOf([okVariant('tfjs-webgpu', 'x', 6)]), []);
});

function sampleReport(): BenchReport {
  const gemm = (n: number, ours: number): CaseResult => {
    const variants = [okVariant('omnitensor', 'matmul', ours, true), okVariant('tfjs-webgpu', 'tf.matMul | pipes', 4), okVariant('jax-js', 'np.matmul', 2)];
    return { name: `gemm ${n}`, group: 'gemm', shape: `${n}x${n}`, dtype: 'f32', flops: 1e9, status: 'ok', variants, ratios: ratiosOf(variants) };
  };
  return {
    tool: 'omnitensor-bench',
    date: '2025-01-01T00:00:00.000Z',
    adapter: { vendor: 'v', architecture: 'a', device: 'd', description: 'desc <&>', adapterClass: 'cpu', platform: 'node', features: [] },
    environment: {},
    options: { quick: true, large: false, groups: [], dawnFlags: [] },
    methods: METHODS,
    notes: ['model cases not registered'],
    cases: [
      gemm(256, 1),
      gemm(512, 3),
      { name: 'attention <T=77>', group: 'attention', shape: 'q', dtype: 'f32', status: 'unsupported', reason: 'no op | yet', variants: [], ratios: [] },
    ],
  };
}

t('JSON report round-trips', () => {
  const report = sampleReport();
  assert.equal(JSON.parse(toJSON(report)), report);
});

t('markdown: every table row has the header column count; pipes are escaped', () => {
  const md = toMarkdown(sampleReport());
  const rows = md.split('\n').filter((l) => l.startsWith('|'));
  const cells = (l: string) => l.replace(/\\\|/g, '').split('|').length;
  assert.ok(rows.length >= 8);
  for (const r of rows) assert.is(cells(r), cells(rows[0]!), r);
  assert.ok(md.includes('tf.matMul \\| pipes'));
  assert.ok(md.includes('unsupported: no op \\| yet'));
});

t('markdown under --profile: a per-kernel section, top kernels then the rest summed, pipes escaped', () => {
  const report = sampleReport();
  const ours = report.cases[0]!.variants[0]!;
  ours.kernels = Array.from({ length: 7 }, (_, i) => ({ key: `k${i}|x`, dispatches: 1, ms: 7 - i }));
  const md = toMarkdown(report);
  const section = md.slice(md.indexOf('## GPU time per kernel (--profile)'));
  assert.ok(section.length > 0 && md.includes('## GPU time per kernel'));
  const rows = section.split('\n').filter((l) => l.startsWith('|'));
  const cells = (l: string) => l.replace(/\\\|/g, '').split('|').length;
  for (const r of rows) assert.is(cells(r), cells(rows[0]!), r);
  assert.is(rows.length, 2 + 5 + 1, 'header, rule, 5 kernels, the rest');
  assert.ok(section.includes('k0\\|x'), 'pipes in keys escaped');
  assert.ok(section.includes('| (2 more) | 2.00 | 3.00 | 10.7% |'), section);
  assert.not.ok(toMarkdown(sampleReport()).includes('GPU time per kernel'), 'no section without --profile');
});

/** Checks that tags nest and close, and that text holds no raw '<' or '&' outside entities. */
function assertWellFormed(svgText: string): void {
  const stack: string[] = [];
  const re = /<(\/?)([a-zA-Z]+)((?:\s+[a-zA-Z0-9:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = re.exec(svgText); m; m = re.exec(svgText)) {
    const between = svgText.slice(last, m.index);
    assert.not.match(between, /<|&(?!amp;|lt;|gt;|quot;)/, `stray markup before ${m[0]}`);
    last = re.lastIndex;
    if (m[4]) continue;
    if (m[1]) assert.is(stack.pop(), m[2], `closing </${m[2]}>`);
    else stack.push(m[2]!);
  }
  assert.equal(stack, []);
  assert.not.match(svgText.slice(last), /</);
}

t('SVG charts are well-formed and escape text', () => {
  const report = sampleReport();
  const tp = throughputChart(report, 'gemm');
  assert.ok(tp && tp.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assertWellFormed(tp!);
  assert.ok(tp!.includes('<polyline'));
  const bars = ratioChart(report);
  assert.ok(bars);
  assertWellFormed(bars!);
  assert.is(throughputChart(report, 'attention'), null);
  assert.equal([...charts(report).keys()], ['throughput-gemm.svg', 'ratios.svg']);
});

t('parseArgs: groups, flags and errors', () => {
  const o = parseArgs(['gemm', 'attention', '--quick', '--json', 'a.json', '--dawn-flags', 'enable-dawn-features=x,y', '--engines', 'omnitensor,jax-js']);
  assert.equal(o.groups, ['gemm', 'attention']);
  assert.is(o.quick, true);
  assert.is(o.json, 'a.json');
  assert.equal(o.dawnFlags, ['enable-dawn-features=x,y']);
  assert.equal(o.engines, ['omnitensor', 'jax-js']);
  assert.is(o.profile, undefined);
  assert.is(parseArgs(['model', '--profile']).profile, true);
  assert.throws(() => parseArgs(['gemmm']), /unknown argument 'gemmm'/);
  assert.throws(() => parseArgs(['--json']), /--json needs a value/);
  assert.throws(() => parseArgs(['--engines', 'torch']), /unknown engine\(s\) torch/);
});

t.run();
