/**
 * Text for tuning results (engine/tuning/): kernel labels, the GEMM rows in kernels/matmul.ts TUNING
 * syntax, and per-workload summaries of the built-in choice against the fastest candidate. Pure, so the
 * tuning run (bench/tune.ts) and the browser demo (app/web/main.ts) share it.
 */
import type { Trial } from '../../engine/tuning/common.js';
import type { AttentionKernelSpec, AttentionTiming } from '../../engine/tuning/attention.js';
import type { MatmulKernelSpec, MatmulTiming, MatmulTuningRow } from '../../engine/tuning/matmul.js';

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

/** A tuner's timing with the workload it was taken on, in words. */
export type Timed = Trial<MatmulKernelSpec | AttentionKernelSpec> & { workload: string; gflops: number | null };

/** Per workload: the built-in choice's time, the fastest candidate's, and their ratio (summaryRows as padded lines). */
export function summaryLines(timings: readonly Timed[]): string[] {
  return summaryRows(timings).map(([workload, builtIn, builtInTime, best, bestTime, ratio, failed]) =>
    `${workload!.padEnd(24)} built-in ${builtIn} ${builtInTime!.padEnd(28)} best ${best} ${bestTime}${ratio ? ` ${ratio}` : ''}${failed ? `  failed: ${failed}` : ''}`);
}

/** Per workload: [workload, built-in kernel, its time, fastest kernel, its time, built-in / fastest, kernels that failed their check]. */
export function summaryRows(timings: readonly Timed[]): string[][] {
  const workloads = [...new Set(timings.map((t) => t.workload))];
  const ms = (t: Timed | undefined) => (t?.ms == null ? 'n/a' : `${t.ms.toFixed(2)} ms (${t.gflops!.toFixed(1)} GFLOP/s)`);
  return workloads.map((workload) => {
    const mine = timings.filter((t) => t.workload === workload);
    const builtIn = mine.find((t) => t.builtIn);
    const best = mine.filter((t) => t.ms !== null).sort((x, y) => x.ms! - y.ms!)[0];
    const failed = mine.filter((t) => t.ms === null).map((t) => kernelLabel(t.kernel));
    const ratio = builtIn?.ms != null && best?.ms != null ? `${(builtIn.ms / best.ms).toFixed(2)}x` : '';
    return [workload, builtIn ? kernelLabel(builtIn.kernel) : 'none', ms(builtIn), best ? kernelLabel(best.kernel) : 'none', ms(best), ratio, failed.join(', ')];
  });
}

/** GEMM timings named by product: `MxNxK plain` or `MxNxK +bias`. */
export const matmulTimed = (timings: readonly MatmulTiming[]): Timed[] => timings.map((t) => ({ ...t, workload: `${t.shape.join('x')} ${t.epilogue ? '+bias' : 'plain'}` }));

/** Attention timings named by shape: `attention BxHxTxd`. */
export const attentionTimed = (timings: readonly AttentionTiming[]): Timed[] => timings.map((t) => ({ ...t, workload: `attention ${t.shape.join('x')}` }));
