/**
 * The timing loop of the kernel probes (bench/*-probe.ts; Node scripts, not tests): a call is timed in
 * batches that run back to back until a time window has passed, a few times over, and the best batch
 * counts. Both clocks are kept: wall time, and this process's CPU time, which on a CPU adapter includes
 * lavapipe's shader threads and which other tenants of a shared machine do not inflate.
 *
 *   PROBE_CPU_TIME=1   report CPU time / PROBE_CORES (default 2) as the probes' time: the uncontended
 *                      estimate on a shared CPU-only machine (`probeMs`)
 */
import { sync } from '../engine/runtime.js';
import type { Tensor } from '../engine/tensor.js';

const proc = (globalThis as { process?: { env: Record<string, string | undefined>; cpuUsage(): { user: number; system: number } } }).process;
const env = proc?.env ?? {};

/** PROBE_CPU_TIME=1: the probes report CPU time spread over PROBE_CORES instead of wall time. */
export const CPU_TIME = env.PROBE_CPU_TIME === '1' && proc !== undefined;
export const CORES = Number(env.PROBE_CORES ?? 2);

/** This process's CPU time so far, in milliseconds (0 where there is no process). */
export function cpuMs(): number {
  const u = proc?.cpuUsage();
  return u ? (u.user + u.system) / 1000 : 0;
}

/** Milliseconds per call. */
export interface ProbeTime {
  readonly wall: number;
  readonly cpu: number;
}

/**
 * Times `fn` (its results disposed each call): one warm-up call, then `rounds` batches, each calling it
 * `repeat` times per synchronisation until `windowMs` have passed; the lowest wall and CPU milliseconds
 * per call over the batches.
 */
export async function probeTime(fn: () => Tensor[], { windowMs = 500, rounds = 3, repeat = 1 } = {}): Promise<ProbeTime> {
  const once = (): void => {
    for (let i = 0; i < repeat; i++) for (const t of fn()) t.dispose();
  };
  once();
  await sync();
  let wall = Infinity;
  let cpu = Infinity;
  for (let round = 0; round < rounds; round++) {
    let reps = 0;
    const start = performance.now();
    const cpu0 = cpuMs();
    while (performance.now() - start < windowMs || reps === 0) {
      once();
      await sync();
      reps++;
    }
    wall = Math.min(wall, (performance.now() - start) / reps / repeat);
    cpu = Math.min(cpu, (cpuMs() - cpu0) / reps / repeat);
  }
  return { wall, cpu };
}

/** The time a probe reports: CPU time / CORES with PROBE_CPU_TIME=1, else wall time. */
export function probeMs(t: ProbeTime): number {
  return CPU_TIME ? t.cpu / CORES : t.wall;
}
