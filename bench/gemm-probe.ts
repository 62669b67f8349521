/**
 * GEMM probe: validates, then times matmul/linear kernels and tiles on the current adapter and prints
 * GFLOP/s plus the TUNING entries for kernels/matmul.ts that its measurements suggest (and, when
 * subgroup-matrix shapes were forced, SUBGROUP_MATRIX_TUNING entries by output size).
 *
 *   node scripts/run-test.mjs bench/gemm-probe.ts            (XDG_RUNTIME_DIR=/tmp on headless Linux)
 *   PROBE_SHAPES=1024x1024x1024 PROBE_REPS=5 node scripts/run-test.mjs bench/gemm-probe.ts
 *   PROBE_DTYPE=f16 PROBE_KERNELS=subgroup-matrix:2x4:4x2:32,tiled:2x2:16 node dist/bench/gemm-probe.js
 *
 * PROBE_KERNELS lists kernels as `auto`, `lanes:ROWS`, `tiled:BMxBN:TK[:v4][:u][:s2][:kS]` (4x4 register blocks per
 * invocation, K per slab, vec4 staging, unrolled products over named accumulators, two slabs per operand,
 * K split into S segments: k1 forces no split where the adapter would split) and
 * `subgroup-matrix[:SMxSN:FMxFN:TK[:STAGES[:frag|:packed]]]` (subgroups per workgroup, 16x16 result fragments
 * per subgroup, K per slab, slabs per operand, fragment or packed staging); the default depends on the adapter class.
 * `:kS` after any but lanes forces S K segments. Inputs are multiples of 1/256 below 0.5
 * in magnitude, exact in f16 and with exact f32 products, so f32 and f16 runs share one oracle.
 * PROBE_EPILOGUE=bias or residual gives the 'linear' layout a fused bias (and residual), zero-filled.
 *
 * Timing: wall clock over PROBE_REPS back-to-back dispatches recorded into one submit and waited for
 * with one queue sync, after a warm-up run whose result is checked against a float64 oracle on sampled
 * entries; the best of PROBE_ROUNDS is reported. On a shared CPU-only machine set PROBE_CPU_TIME=1
 * (Node): time is then the process's CPU time / PROBE_CORES (default 2), which other tenants' load
 * does not inflate (lavapipe's worker threads belong to this process).
 */
import { init, runtime, sync } from '../engine/runtime.js';
import { linear, matmul, type MatmulOptions } from '../engine/ops/matmul.js';
import { fromFlat } from '../engine/ops/creation.js';
import { quantized } from '../engine/tuning/common.js';
import type { Tensor } from '../engine/tensor.js';
import { CORES, CPU_TIME, cpuMs } from './probe-timing.js';

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const SHAPES = (env.PROBE_SHAPES ?? '256x256x256,512x512x512,1024x1024x1024,197x768x768,197x3072x768,197x768x3072')
  .split(',')
  .map((s) => s.split('x').map(Number) as [number, number, number]);
const REPS = Number(env.PROBE_REPS ?? 4);
const ROUNDS = Number(env.PROBE_ROUNDS ?? 2);
const DTYPE = env.PROBE_DTYPE === 'f16' ? 'f16' : 'f32';
const CHECK = env.PROBE_CHECK !== '0';
const LAYOUTS = (env.PROBE_LAYOUTS ?? 'nn,linear').split(',') as ('nn' | 'linear')[];
/**
 * The 'linear' layout's epilogue: none, a bias, or a bias and a residual (what a transformer's fc2 and
 * attention projection run). Both are zero-filled, so the oracle is unchanged while the kernel still
 * binds and reads them: the epilogue's cost, and whether it costs the kernel its registers, is what's timed.
 */
const EPILOGUE = (env.PROBE_EPILOGUE ?? 'none') as 'none' | 'bias' | 'residual';
if (!['none', 'bias', 'residual'].includes(EPILOGUE)) throw new Error(`gemm-probe: PROBE_EPILOGUE must be none, bias or residual, got '${EPILOGUE}'`);

/** Parses one PROBE_KERNELS entry into matmul options. */
function parseKernel(text: string): MatmulOptions {
  const parts = text.split(':');
  const [name, a, b, depth, stages] = parts;
  const pair = (s: string | undefined) => (s ?? '').split('x').map(Number) as [number, number];
  if (name === 'auto') return splitFlag(parts.slice(1));
  if (name === 'lanes') return { kernel: 'lanes', rows: Number(a) };
  if (name === 'tiled') {
    const flags = text.split(':').slice(3);
    return {
      kernel: 'tiled',
      tile: {
        blocks: pair(a), tk: Number(b), ...(flags.includes('v4') ? { vec4: true } : {}), ...(flags.includes('u') ? { unrolled: true } : {}),
        ...(flags.includes('s2') ? { stages: 2 as const } : {}),
      },
      ...splitFlag(flags),
    };
  }
  if (name === 'subgroup-matrix') {
    if (a === undefined || /^k\d+$/.test(a)) return { kernel: 'subgroup-matrix', ...splitFlag(parts.slice(1)) };
    const shape = { subgroups: pair(a), fragments: pair(b), tk: Number(depth), stages: stages === '1' ? 1 as const : 2 as const };
    const flags = parts.slice(4); // STAGES, then 'frag' or 'packed' and 'kS' in any order
    const staging = flags.includes('frag') ? 'fragments' as const : flags.includes('packed') ? 'packed' as const : undefined;
    return { kernel: 'subgroup-matrix', subgroupMatrix: { ...shape, ...(staging ? { staging } : {}) }, ...splitFlag(flags) };
  }
  throw new Error(`gemm-probe: unknown kernel '${text}'`);
}

/** A `kS` flag: split K into S segments (kernels/matmul.ts chooseKSplit; k1 turns the adapter's split off). */
function splitFlag(flags: readonly string[]): { splitK?: number } {
  const flag = flags.find((f) => /^k\d+$/.test(f));
  return flag ? { splitK: Number(flag.slice(1)) } : {};
}

/** The PROBE_KERNELS flag of each subgroup-matrix staging (chunk staging, the default, has none). */
const STAGING_FLAG = { chunks: '', packed: ':packed', fragments: ':frag' } as const;

function kernelName(o: MatmulOptions): string {
  if (o.kernel === 'lanes') return `lanes:${o.rows}`;
  const split = o.splitK !== undefined ? `:k${o.splitK}` : '';
  if (o.kernel === 'tiled')
    return o.tile ? `tiled:${o.tile.blocks.join('x')}:${o.tile.tk}${o.tile.vec4 ? ':v4' : ''}${o.tile.unrolled ? ':u' : ''}${o.tile.stages === 2 ? ':s2' : ''}${split}` : `tiled${split}`;
  const sgm = o.subgroupMatrix;
  if (o.kernel === 'subgroup-matrix')
    return sgm ? `subgroup-matrix:${sgm.subgroups.join('x')}:${sgm.fragments.join('x')}:${sgm.tk}:${sgm.stages ?? 2}${STAGING_FLAG[sgm.staging ?? 'chunks']}${split}` : `subgroup-matrix${split}`;
  return `auto${split}`;
}

interface Case {
  label: string;
  run: (o: MatmulOptions) => Tensor;
  check: (c: Float32Array) => number;
  dispose: () => void;
}

/** Case for C = A @ B ('nn') or C = x @ w^T ('linear', w stored [N, K]). */
function makeCase(m: number, n: number, k: number, layout: 'nn' | 'linear'): Case {
  const a = quantized(m * k, 1);
  const b = quantized(k * n, 2); // nn: [K, N]; linear: [N, K]
  const at = fromFlat(a, [m, k], DTYPE);
  const bt = fromFlat(b, layout === 'nn' ? [k, n] : [n, k], DTYPE);
  const bAt = (kk: number, j: number) => (layout === 'nn' ? b[kk * n + j]! : b[j * k + kk]!);
  const outDtype = 'f32' as const;
  const bias = layout === 'linear' && EPILOGUE !== 'none' ? fromFlat(new Float32Array(n), [n], DTYPE) : null;
  const residual = layout === 'linear' && EPILOGUE === 'residual' ? fromFlat(new Float32Array(m * n), [m, n], 'f32') : undefined;
  const epilogue = bias ? (residual ? '+bias+residual' : '+bias') : '';
  return {
    label: `${layout}${epilogue} ${m}x${n}x${k}`,
    run: (o) => (layout === 'nn' ? matmul(at, bt, { ...o, outDtype }) : linear(at, bt, bias, { ...o, outDtype, ...(residual ? { residual } : {}) })),
    check: (c) => {
      let worst = 0;
      for (let t = 0; t < 64; t++) {
        const i = (t * 7919) % m;
        const j = (t * 104729 + 13) % n;
        let s = 0;
        for (let kk = 0; kk < k; kk++) s += a[i * k + kk]! * bAt(kk, j);
        worst = Math.max(worst, Math.abs(s - c[i * n + j]!));
      }
      return worst;
    },
    dispose: () => {
      at.dispose();
      bt.dispose();
      bias?.dispose();
      residual?.dispose();
    },
  };
}

async function time(c: Case, o: MatmulOptions, m: number, n: number, k: number): Promise<number> {
  const first = c.run(o);
  const err = c.check((await first.data()) as Float32Array);
  first.dispose();
  // f16 runs may sum on matrix units whose f32 accumulation does not round to nearest: 10x the slack.
  // PROBE_CHECK=0 times kernels whose results are knowingly wrong (a kernel edited to leave out one
  // stage, to see what that stage costs).
  if (CHECK && !(err <= (DTYPE === 'f16' ? 1e-4 : 1e-5) * Math.sqrt(k))) throw new Error(`${c.label} ${kernelName(o)}: max error ${err}`);
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const c0 = cpuMs();
    const t0 = performance.now();
    const outs: Tensor[] = [];
    for (let r = 0; r < REPS; r++) outs.push(c.run(o));
    await sync();
    const wall = (performance.now() - t0) / REPS;
    // On a shared machine, CPU time spread over the cores we may use bounds the uncontended wall time.
    const busy = CPU_TIME ? (cpuMs() - c0) / CORES / REPS : wall;
    best = Math.min(best, busy);
    for (const t of outs) t.dispose();
  }
  return (2 * m * n * k) / best / 1e6;
}


await init();
const rt = runtime('gemm-probe');
console.log(`adapter: ${rt.info.adapterClass} ${rt.info.vendor} ${rt.info.architecture} ${rt.info.description}; ` +
  `subgroup size ${rt.fixedSubgroupSize ?? 'varies'}; f16 subgroup matrices: ${rt.info.subgroupMatrixF16}; dtype ${DTYPE}`);
const defaults =
  rt.info.adapterClass === 'cpu'
    ? rt.features.has('subgroups') ? 'lanes:4,lanes:8,lanes:16,lanes:24,lanes:32,tiled:1x1:16,auto' : 'tiled:1x1:16,auto'
    : 'tiled:1x1:16,tiled:2x2:8,tiled:2x2:16,auto';
const kernels = (env.PROBE_KERNELS ?? defaults).split(',').map(parseKernel);
/** Best kernel per M seen (for the suggested TUNING entries). */
const bestByM = new Map<number, { name: string; gflops: number }>();
/** Best forced subgroup-matrix shape per output size M * N seen (for SUBGROUP_MATRIX_TUNING). */
const bestByOutputs = new Map<number, { name: string; gflops: number }>();
for (const [m, n, k] of SHAPES) {
  for (const layout of LAYOUTS) {
    const c = makeCase(m, n, k, layout);
    const results: string[] = [];
    for (const o of kernels) {
      let g: number;
      try {
        g = await time(c, o, m, n, k);
      } catch (err) {
        results.push(`${kernelName(o)} FAILED (${(err as Error).message})`);
        continue;
      }
      results.push(`${kernelName(o)} ${g.toFixed(1)}`);
      if (o.kernel !== undefined && g > (bestByM.get(m)?.gflops ?? 0)) bestByM.set(m, { name: kernelName(o), gflops: g });
      if (o.subgroupMatrix && g > (bestByOutputs.get(m * n)?.gflops ?? 0)) bestByOutputs.set(m * n, { name: kernelName(o), gflops: g });
    }
    c.dispose();
    console.log(`${DTYPE} ${c.label.padEnd(EPILOGUE === 'none' ? 24 : 40)} GFLOP/s: ${results.join('  ')}`);
  }
}
console.log(`suggested TUNING.${rt.info.adapterClass} (fastest forced kernel per M seen):`);
for (const [m, best] of [...bestByM.entries()].sort((x, y) => x[0] - y[0])) console.log(`  M <= ${m}: ${best.name} (${best.gflops.toFixed(1)} GFLOP/s)`);
if (bestByOutputs.size > 0) {
  console.log('suggested SUBGROUP_MATRIX_TUNING (fastest forced subgroup-matrix shape per output size M * N seen):');
  for (const [outputs, best] of [...bestByOutputs.entries()].sort((x, y) => x[0] - y[0]))
    console.log(`  outputs <= ${outputs}: ${best.name} (${best.gflops.toFixed(1)} GFLOP/s)`);
}
// Dawn keeps the event loop alive while devices exist.
(globalThis as { process?: { exit(code: number): void } }).process?.exit(0);
