/**
 * The `--profile` summary: GPU time per kernel (engine `profile`), as text rows for the terminal.
 */
import { summarizeKernels, type KernelTime } from '../../engine/profiler.js';

/**
 * The `top` kernels by GPU time as aligned rows (share of the profiled GPU time, milliseconds,
 * dispatches, mean per dispatch, pipeline key), then one row for the rest and one for the total.
 */
export function kernelTable(kernels: readonly KernelTime[], top: number): string[] {
  const { top: shown, rest, total } = summarizeKernels(kernels, top);
  const share = (ms: number) => `${total.ms > 0 ? ((100 * ms) / total.ms).toFixed(1) : '0.0'}%`.padStart(6);
  const row = (ms: number, dispatches: number, name: string) =>
    `${share(ms)} ${ms.toFixed(1).padStart(10)} ms ${String(dispatches).padStart(8)} x ${(dispatches ? (1000 * ms) / dispatches : 0).toFixed(0).padStart(7)} us  ${name}`;
  return [
    `${'share'.padStart(6)} ${'GPU time'.padStart(13)} ${'dispatches'.padStart(10)} ${'mean'.padStart(9)}  kernel`,
    ...shown.map((k) => row(k.ms, k.dispatches, k.key)),
    ...(rest ? [row(rest.ms, rest.dispatches, `(${rest.kernels} more kernels)`)] : []),
    row(total.ms, total.dispatches, 'total GPU time'),
  ];
}
