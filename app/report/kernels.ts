/**
 * The `--profile` summary: GPU time per kernel (engine `profile`), as text rows for the terminal.
 */
import type { KernelTime } from '../../engine/profiler.js';

/**
 * The `top` kernels by GPU time as aligned rows (share of the profiled GPU time, milliseconds,
 * dispatches, mean per dispatch, pipeline key), then one row for the rest and one for the total.
 */
export function kernelTable(kernels: readonly KernelTime[], top: number): string[] {
  const total = kernels.reduce((s, k) => s + k.ms, 0);
  const share = (ms: number) => `${total > 0 ? ((100 * ms) / total).toFixed(1) : '0.0'}%`.padStart(6);
  const row = (pct: string, ms: number, dispatches: number, name: string) =>
    `${pct} ${ms.toFixed(1).padStart(10)} ms ${String(dispatches).padStart(8)} x ${(dispatches ? (1000 * ms) / dispatches : 0).toFixed(0).padStart(7)} us  ${name}`;
  const sorted = [...kernels].sort((a, b) => b.ms - a.ms);
  const shown = sorted.slice(0, top).map((k) => row(share(k.ms), k.ms, k.dispatches, k.key));
  const rest = sorted.slice(top);
  if (rest.length) {
    const ms = rest.reduce((s, k) => s + k.ms, 0);
    shown.push(row(share(ms), ms, rest.reduce((s, k) => s + k.dispatches, 0), `(${rest.length} more kernels)`));
  }
  shown.push(row(share(total), total, kernels.reduce((s, k) => s + k.dispatches, 0), 'total GPU time'));
  return [`${'share'.padStart(6)} ${'GPU time'.padStart(13)} ${'dispatches'.padStart(10)} ${'mean'.padStart(9)}  kernel`, ...shown];
}
