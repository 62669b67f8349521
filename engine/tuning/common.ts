/**
 * What the GEMM and attention tuners share (engine/tuning/matmul.ts, engine/tuning/attention.ts): the
 * interleaved timing of candidate kernels after a correctness check, the choice of one kernel per size
 * with noise-resistant tie-breaking, the merging of those choices into table rows, and argument checks.
 */
import { describe, expectOptions } from '../arguments.js';
import { ArgumentError, DeviceLostError, OmniError } from '../errors.js';
import { sync, type Runtime } from '../runtime.js';
import type { Tensor } from '../tensor.js';

/** An object literal or JSON.parse result (not an array, a class instance or null). */
export function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/**
 * Values j/256 with |j| < 128 from a seeded generator: exact in f16, and their products exact in f32, so
 * only the order of the sums differs between kernels (bench/gemm-probe.ts uses them too).
 */
export function quantized(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s >>> 24) - 128) / 256;
  }
  return out;
}

/** The adapter as the browser or Dawn describes it (browsers may leave the description empty). */
export function adapterName(rt: Runtime): string {
  const { description, vendor, architecture, device } = rt.info;
  return description || [vendor, architecture, device].filter(Boolean).join(' ') || 'unknown adapter';
}

/** An optional count option in 1..1000, or its default. */
export function checkCount(op: string, name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 1000) throw new ArgumentError(`${op}: options.${name} must be an integer in 1..1000, got ${describe(value)}`);
  return value as number;
}

/** options.shapes: a non-empty array of `names.length` integers in 1..max each. */
export function checkShapes(op: string, shapes: unknown, names: readonly string[], max: number): number[][] {
  const form = `[${names.join(', ')}]`;
  if (!Array.isArray(shapes) || shapes.length === 0) throw new ArgumentError(`${op}: options.shapes must be a non-empty array of ${form}, got ${describe(shapes)}`);
  return shapes.map((s: unknown, i) => {
    if (!Array.isArray(s) || s.length !== names.length || !s.every((x) => Number.isInteger(x) && x >= 1 && x <= max))
      throw new ArgumentError(`${op}: options.shapes[${i}] must be ${form} of integers in 1..${max}, got ${describe(s)}`);
    return [...s] as number[];
  });
}

/**
 * The parts of a table given to setMatmulTuning / setAttentionTuning: a plain object { adapter, rows } (and
 * the `source` a reader reported, ignored) with a string adapter and a non-empty rows array; the rows
 * are the caller's to check.
 */
export function tableParts(op: string, table: unknown): { adapter: string; rows: unknown[] } {
  expectOptions(op, table, ['adapter', 'rows', 'source'], 'the table');
  if (table === undefined) throw new ArgumentError(`${op}: expected a table { adapter, rows } or null, got undefined`);
  const { adapter, rows } = table as { adapter?: unknown; rows?: unknown };
  if (typeof adapter !== 'string') throw new ArgumentError(`${op}: table.adapter must be a string, got ${describe(adapter)}`);
  if (!Array.isArray(rows) || rows.length === 0) throw new ArgumentError(`${op}: table.rows must be a non-empty array, got ${describe(rows)}`);
  return { adapter, rows: rows as unknown[] };
}

/** A row's size bound (`field` of rows[i]: maxM, maxT) as the launcher keeps it: a positive integer, or null for any size (Infinity). */
export function rowBound(op: string, i: number, field: string, value: unknown, size: string): number {
  if (value === null) return Infinity;
  if (!Number.isInteger(value) || (value as number) < 1) throw new ArgumentError(`${op}: rows[${i}].${field} must be a positive integer or null (any ${size}), got ${describe(value)}`);
  return value as number;
}

/** One kernel's result on one workload: its time per run (best round), or why it has none. */
export interface Trial<K> {
  kernel: K;
  /** Whether this is the kernel the built-in choice picks for the workload (the baseline). */
  builtIn: boolean;
  /** Milliseconds per run (best round), or null when the kernel failed its check. */
  ms: number | null;
  /** Why the kernel was not timed, or was timed in the first round only. */
  note?: string;
}

/**
 * Runs each candidate, and the built-in kernel (equal `key`s: the same kernel), once and checks the
 * result (`check` returns the error as a multiple of what the arithmetic allows: above 1 the kernel is
 * reported and never timed; one the workload's limits refuse with the engine's typed error is reported
 * too), then times the correct ones in `rounds` interleaved rounds of `repeats` back-to-back runs and one
 * wait for the device, so that a machine's drifting load falls on all of them alike; each keeps its
 * fastest round. One over 4x (and 1 ms) slower than the best in the first round is not timed again.
 * `run` returns the tensors to free.
 */
export async function measureKernels<K>(
  candidates: readonly K[],
  builtIn: K,
  key: (kernel: K) => string,
  run: (kernel: K) => Tensor[],
  check: (results: Tensor[]) => Promise<number>,
  repeats: number,
  rounds: number,
): Promise<Trial<K>[]> {
  // The built-in kernel is always timed: among the candidates, or first when they leave it out.
  const kernels = candidates.some((c) => key(c) === key(builtIn)) ? candidates : [builtIn, ...candidates];
  const trials: Trial<K>[] = kernels.map((kernel) => ({ kernel, builtIn: key(kernel) === key(builtIn), ms: null }));
  let live: Trial<K>[] = [];
  for (const trial of trials) {
    let results: Tensor[] = [];
    let error: number;
    try {
      results = run(trial.kernel);
      error = await check(results);
    } catch (err) {
      // A candidate this workload cannot take (a grid or memory limit) is reported, not fatal; a lost device is.
      if (!(err instanceof OmniError) || err instanceof DeviceLostError) throw err;
      trial.note = `failed: ${err.message}`;
      continue;
    } finally {
      for (const t of results) t.dispose();
    }
    if (error <= 1) live.push(trial);
    else trial.note = `wrong result: error ${error.toPrecision(3)}x what the arithmetic allows`;
  }
  const best = new Map<Trial<K>, number>();
  for (let round = 0; round < rounds; round++) {
    for (const trial of live) {
      const start = performance.now();
      const results: Tensor[] = [];
      for (let r = 0; r < repeats; r++) results.push(...run(trial.kernel));
      await sync();
      const ms = (performance.now() - start) / repeats;
      for (const t of results) t.dispose();
      best.set(trial, Math.min(best.get(trial) ?? Infinity, ms));
    }
    if (round > 0) continue;
    // A clear loser is not timed again (a millisecond of slack: tiny workloads are mostly overhead and noise).
    const fastest = Math.min(...live.map((t) => best.get(t)!));
    for (const trial of live) if (best.get(trial)! > 4 * fastest && best.get(trial)! > fastest + 1) trial.note = 'timed in the first round only: over 4x slower than the best';
    live = live.filter((t) => t.note === undefined);
  }
  for (const [trial, ms] of best) trial.ms = ms;
  return trials;
}

/**
 * One kernel per distinct size (ascending) from trials on workloads of that size: the kernel with the
 * least total time over the size's workloads, among those correct on all of them. Run-to-run noise should
 * neither overturn the built-in choice nor split the table, so the built-in kernel stays within 10% of the
 * best (on Chromium's SwiftShader two families' order flipped between runs at 6%), else the previous
 * size's within 5%, else the fastest is taken. `key` names a kernel (equal keys, same kernel).
 */
export function kernelPerSize<K>(trials: readonly (Trial<K> & { size: number; workload: string })[], key: (kernel: K) => string, what: string): { size: number; kernel: K }[] {
  const sizes = [...new Set(trials.map((t) => t.size))].sort((x, y) => x - y);
  const chosen: { size: number; kernel: K }[] = [];
  for (const size of sizes) {
    const atSize = trials.filter((t) => t.size === size);
    const workloads = new Set(atSize.map((t) => t.workload)).size;
    const totals = new Map<string, { kernel: K; total: number }>();
    for (const t of atSize) {
      const runs = atSize.filter((u) => key(u.kernel) === key(t.kernel));
      if (runs.length === workloads && runs.every((u) => u.ms !== null)) totals.set(key(t.kernel), { kernel: t.kernel, total: runs.reduce((s, u) => s + u.ms!, 0) });
    }
    if (totals.size === 0) throw new ArgumentError(`${what}: no candidate produced a correct result on every workload of size ${size}; see the timings' notes`);
    const fastest = Math.min(...[...totals.values()].map((x) => x.total));
    const within = (kernel: K | undefined, margin: number) => kernel !== undefined && (totals.get(key(kernel))?.total ?? Infinity) <= margin * fastest;
    const builtIn = atSize.find((t) => t.builtIn)?.kernel;
    const previous = chosen[chosen.length - 1]?.kernel;
    chosen.push({ size, kernel: within(builtIn, 1.1) ? builtIn! : within(previous, 1.05) ? previous! : [...totals.values()].find((x) => x.total === fastest)!.kernel });
  }
  return chosen;
}

/** Table rows from kernelPerSize's choices: consecutive equal kernels merged, each row bounding the size by the largest it was chosen at, the last unbounded (null). */
export function mergedRows<K>(chosen: readonly { size: number; kernel: K }[], key: (kernel: K) => string): { kernel: K; max: number | null }[] {
  const rows: { kernel: K; max: number | null }[] = [];
  chosen.forEach(({ size, kernel }, i) => {
    const max = i === chosen.length - 1 ? null : size;
    const previous = rows[rows.length - 1];
    if (previous && key(previous.kernel) === key(kernel)) previous.max = max;
    else rows.push({ kernel, max });
  });
  return rows;
}
