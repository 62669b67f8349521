/**
 * Tuning run (Node, or a browser page through bench/web/probe.ts): `tuneMatmul` and `tuneAttention` on
 * this adapter, then per workload the built-in choice's time against the fastest candidate's, the tuned
 * tables as JSON for `setMatmulTuning` / `setAttentionTuning`, and the GEMM rows in the syntax of
 * kernels/matmul.ts TUNING, which is how the built-in GEMM tables are regenerated.
 *
 *   node dist/bench/tune.js                                  (XDG_RUNTIME_DIR=/tmp on headless Linux)
 *   TUNE_SHAPES=197x768x768,1024x1024x1024 TUNE_REPEATS=5 node dist/bench/tune.js
 *   TUNE_ONLY=attention TUNE_ATTENTION_SHAPES=8x12x197x64 node dist/bench/tune.js
 *   node scripts/probe-chromium.mjs tune                     (the same in headless Chromium)
 *
 * TUNE_ONLY picks one tuner (matmul or attention; default both). TUNE_SHAPES lists GEMMs MxNxK and
 * TUNE_ATTENTION_SHAPES self-attention shapes BxHxTxd (defaults: engine/tuning/matmul.ts defaultShapes and
 * engine/tuning/attention.ts defaultAttentionShapes for the adapter class); TUNE_REPEATS and TUNE_ROUNDS
 * set the runs per timing and the timings per candidate of both.
 */
import { deviceInfo, init } from '../engine/runtime.js';
import type { Trial } from '../engine/tuning/common.js';
import { tuneAttention, type AttentionKernelSpec } from '../engine/tuning/attention.js';
import { tuneMatmul, type MatmulKernelSpec, type MatmulTuningRow } from '../engine/tuning/matmul.js';

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};

/** A kernel as the probes spell it (gemm-probe's PROBE_KERNELS; attention families and tiles as ROWSxTILE). */
export function kernelLabel(kernel: MatmulKernelSpec | AttentionKernelSpec): string {
  if (kernel.kernel === 'lanes') return 'rows' in kernel ? `lanes:${kernel.rows}` : 'lanes';
  if (kernel.kernel === 'blocked') return 'blocked';
  const t = kernel.tile;
  if ('rows' in t) return `tiled:${t.rows}x${t.tile}`;
  return `tiled:${t.blocks.join('x')}:${t.tk}${t.vec4 ? ':v4' : ''}${t.unrolled ? ':u' : ''}${t.stages === 2 ? ':s2' : ''}`;
}

/** A GEMM row in the syntax of kernels/matmul.ts TUNING. */
export function tuningEntryText(row: MatmulTuningRow): string {
  const bounds = `maxM: ${row.maxM ?? 'Infinity'}${row.epilogue === undefined ? '' : `, epilogue: ${row.epilogue}`}`;
  if (row.kernel === 'lanes') return `{ ${bounds}, variant: 'lanes', rows: ${row.rows} },`;
  const t = row.tile;
  const flags = `${t.vec4 ? ', vec4: true' : ''}${t.unrolled ? ', unrolled: true' : ''}${t.stages === 2 ? ', stages: 2' : ''}`;
  return `{ ${bounds}, variant: 'tiled', blocks: [${t.blocks.join(', ')}], tk: ${t.tk}${flags} },`;
}

type Timed = Trial<MatmulKernelSpec | AttentionKernelSpec> & { workload: string; gflops: number | null };

/** Per workload: the built-in choice's time, the fastest candidate's, and their ratio. */
export function summaryLines(timings: readonly Timed[]): string[] {
  const workloads = [...new Set(timings.map((t) => t.workload))];
  const ms = (t: Timed | undefined) => (t?.ms == null ? 'n/a' : `${t.ms.toFixed(2)} ms (${t.gflops!.toFixed(1)} GFLOP/s)`);
  return workloads.map((workload) => {
    const mine = timings.filter((t) => t.workload === workload);
    const builtIn = mine.find((t) => t.builtIn);
    const best = mine.filter((t) => t.ms !== null).sort((x, y) => x.ms! - y.ms!)[0];
    const failed = mine.filter((t) => t.ms === null).map((t) => kernelLabel(t.kernel));
    const ratio = builtIn?.ms != null && best?.ms != null ? ` ${(builtIn.ms / best.ms).toFixed(2)}x` : '';
    const head = `${workload.padEnd(24)} built-in ${builtIn ? kernelLabel(builtIn.kernel) : 'none'} ${ms(builtIn).padEnd(28)}`;
    return `${head} best ${best ? kernelLabel(best.kernel) : 'none'} ${ms(best)}${ratio}${failed.length ? `  failed: ${failed.join(', ')}` : ''}`;
  });
}

function print(title: string, timings: readonly Timed[], seconds: number): void {
  console.log(`${title}: tuned in ${seconds.toFixed(1)} s (compiles included)`);
  for (const line of summaryLines(timings)) console.log(line);
  console.log('every timing (* the built-in choice):');
  for (const t of timings)
    console.log(`  ${t.workload} ${(kernelLabel(t.kernel) + (t.builtIn ? '*' : '')).padEnd(17)} ${t.ms === null ? 'n/a' : `${t.ms.toFixed(3)} ms`}${t.note ? `  (${t.note})` : ''}`);
}

const list = (name: string) => env[name]?.split(',').map((s) => s.split('x').map(Number));
const counts = {
  ...(env.TUNE_REPEATS ? { repeats: Number(env.TUNE_REPEATS) } : {}),
  ...(env.TUNE_ROUNDS ? { rounds: Number(env.TUNE_ROUNDS) } : {}),
};

await init();
console.log(`adapter: ${deviceInfo().description} (${deviceInfo().adapterClass})`);
if (env.TUNE_ONLY !== 'attention') {
  const start = performance.now();
  const shapes = list('TUNE_SHAPES') as [number, number, number][] | undefined;
  const report = await tuneMatmul({ ...(shapes ? { shapes } : {}), ...counts });
  const timed = report.timings.map((t) => ({ ...t, workload: `${t.shape.join('x')} ${t.epilogue ? '+bias' : 'plain'}` }));
  print('GEMM', timed, (performance.now() - start) / 1000);
  console.log(`setMatmulTuning(${JSON.stringify(report.tuning)})`);
  console.log(`TUNING.${deviceInfo().adapterClass} rows (kernels/matmul.ts):`);
  for (const row of report.tuning.rows) console.log(`  ${tuningEntryText(row)}`);
}
if (env.TUNE_ONLY !== 'matmul') {
  const start = performance.now();
  const shapes = list('TUNE_ATTENTION_SHAPES') as [number, number, number, number][] | undefined;
  const report = await tuneAttention({ ...(shapes ? { shapes } : {}), ...counts });
  const timed = report.timings.map((t) => ({ ...t, workload: `attention ${t.shape.join('x')}` }));
  print('attention (forward + backward)', timed, (performance.now() - start) / 1000);
  console.log(`setAttentionTuning(${JSON.stringify(report.tuning)})`);
}
