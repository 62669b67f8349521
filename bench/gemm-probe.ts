/**
 * GEMM probe: validates, then times matmul/linear kernels on the current adapter and prints GFLOP/s
 * plus a TUNING table for kernels/matmul.ts (rows per workgroup of the lanes kernel by M bucket).
 *
 *   node scripts/run-test.mjs bench/gemm-probe.ts            (XDG_RUNTIME_DIR=/tmp on headless Linux)
 *   PROBE_SHAPES=1024x1024x1024 PROBE_REPS=5 node scripts/run-test.mjs bench/gemm-probe.ts
 *
 * Timing: wall clock over PROBE_REPS back-to-back dispatches recorded into one submit, ended by one
 * small readback, after a warm-up run whose result is checked against a float64 oracle on sampled
 * entries; the best of PROBE_ROUNDS is reported. On a shared CPU-only machine set PROBE_CPU_TIME=1
 * (Node): time is then the process's CPU time / PROBE_CORES (default 2), which other tenants'
 * load does not inflate (lavapipe's worker threads belong to this process).
 */
import { init, runtime } from '../engine/runtime.js';
import { linear, matmul, type MatmulOptions } from '../engine/ops/matmul.js';
import { fromFlat } from '../engine/ops/creation.js';
import type { Tensor } from '../engine/tensor.js';

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const SHAPES = (env.PROBE_SHAPES ?? '256x256x256,512x512x512,1024x1024x1024,197x768x768,197x3072x768,197x768x3072')
  .split(',')
  .map((s) => s.split('x').map(Number) as [number, number, number]);
const REPS = Number(env.PROBE_REPS ?? 4);
const ROUNDS = Number(env.PROBE_ROUNDS ?? 2);
const ROW_CHOICES = (env.PROBE_ROWS ?? '4,8,12').split(',').map(Number);

function random(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

interface Case {
  label: string;
  run: (o: MatmulOptions) => Tensor;
  check: (c: Float32Array) => number;
}

/** Case for C = A @ B ('nn') or C = x @ w^T ('linear', w stored [N, K]). */
function makeCase(m: number, n: number, k: number, layout: 'nn' | 'linear'): Case {
  const a = random(m * k, 1);
  const b = random(k * n, 2); // nn: [K, N]; linear: [N, K]
  const at = fromFlat(a, [m, k], 'f32');
  const bt = fromFlat(b, layout === 'nn' ? [k, n] : [n, k], 'f32');
  const bAt = (kk: number, j: number) => (layout === 'nn' ? b[kk * n + j]! : b[j * k + kk]!);
  return {
    label: `${layout} ${m}x${n}x${k}`,
    run: (o) => (layout === 'nn' ? matmul(at, bt, o) : linear(at, bt, null, o)),
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
  };
}

async function time(c: Case, o: MatmulOptions, m: number, n: number, k: number): Promise<number> {
  const first = c.run(o);
  const err = c.check((await first.data()) as Float32Array);
  first.dispose();
  if (!(err <= 1e-5 * Math.sqrt(k))) throw new Error(`${c.label} ${JSON.stringify(o)}: max error ${err}`);
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const c0 = cpu();
    const t0 = performance.now();
    const outs: Tensor[] = [];
    for (let r = 0; r < REPS; r++) outs.push(c.run(o));
    await outs[outs.length - 1]!.data();
    const wall = (performance.now() - t0) / REPS;
    // On a shared machine, CPU time spread over the cores we may use bounds the uncontended wall time.
    const busy = CPU_TIME ? (cpu() - c0) / CORES / REPS : wall;
    best = Math.min(best, busy);
    for (const t of outs) t.dispose();
  }
  return (2 * m * n * k) / best / 1e6;
}

const proc = (globalThis as { process?: { cpuUsage(): { user: number; system: number } } }).process;
const CPU_TIME = env.PROBE_CPU_TIME === '1' && proc !== undefined;
const CORES = Number(env.PROBE_CORES ?? 2);
function cpu(): number {
  const u = proc?.cpuUsage();
  return u ? (u.user + u.system) / 1000 : 0;
}

await init();
const rt = runtime('gemm-probe');
console.log(`adapter: ${rt.info.adapterClass} ${rt.info.vendor} ${rt.info.description}`);
const bestRows = new Map<number, number>();
for (const [m, n, k] of SHAPES) {
  for (const layout of ['nn', 'linear'] as const) {
    const c = makeCase(m, n, k, layout);
    const results: string[] = [];
    let top = 0;
    const kernels: MatmulOptions[] = rt.features.has('subgroups')
      ? [...ROW_CHOICES.map((rows) => ({ kernel: 'lanes' as const, rows })), { kernel: 'tiled' as const }, {}]
      : [{ kernel: 'tiled' }, {}];
    for (const o of kernels) {
      const g = await time(c, o, m, n, k);
      results.push(`${o.kernel ?? 'auto'}${o.rows ? `/${o.rows}` : ''} ${g.toFixed(2)}`);
      if (o.kernel === 'lanes' && g > top) {
        top = g;
        bestRows.set(m, o.rows!);
      }
    }
    console.log(`${c.label.padEnd(22)} GFLOP/s: ${results.join('  ')}`);
  }
}
const buckets = [...bestRows.entries()].sort((x, y) => x[0] - y[0]);
console.log('suggested TUNING.cpu (best lanes rows per M seen):');
for (const [m, rows] of buckets) console.log(`  { maxM: ${m}, variant: 'lanes', rows: ${rows} },`);
