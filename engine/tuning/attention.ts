/**
 * Fused-attention tuning on the device at hand, as engine/tuning/matmul.ts does for GEMMs. The built-in
 * choice is one kernel family per adapter class (kernels/attention.ts chooseAttentionKernel: 'lanes' on
 * CPU adapters with fixed-width subgroups, else 'tiled') and one tile per class (PREFERRED, measured on
 * lavapipe and an NVIDIA H200). `tuneAttention` times each candidate family and tile on self-attention
 * shapes, forward and backward together (one training step's attention: the forward with its
 * log-sum-exp, then dQ, dK and dV), and builds the table of the fastest per sequence length;
 * `attentionTuning` and `setAttentionTuning` read and install such a table as JSON-able data. A forced
 * `kernel` or `tile` in an op's options still wins over the table.
 *
 * Every candidate's first step is checked against a float64 oracle (the output and all three gradients
 * of the first head) before it is timed. An installed tiled tile whose staged rows do not fit a head
 * dim's workgroup memory is halved until they do (kernels/attention.ts fittedAttentionTile), as the
 * built-in tile is.
 */
import { attentionTile, chooseAttentionKernel, fittedAttentionTile, type AttentionTuningEntry } from '../../kernels/attention.js';
import { LANES_REQUIREMENT, lanesSupported } from '../../kernels/launch.js';
import { describe, expectOptions, optionKeys } from '../arguments.js';
import { ArgumentError } from '../errors.js';
import { fromFlat } from '../ops/creation.js';
import { maxInvocations, scaledDotProductAttention, scaledDotProductAttentionBackward, type AttentionKernelOption } from '../ops/attention.js';
import { runtime, type Runtime } from '../runtime.js';
import type { Tensor } from '../tensor.js';
import { adapterName, checkCount, checkShapes, isPlainObject, kernelPerSize, measureKernels, mergedRows, quantized, rowBound, tableParts, type Trial } from './common.js';

/** A fused-attention kernel family, and for 'tiled' its tile: query rows (invocations) per workgroup and key rows staged per step. */
export type AttentionKernelSpec = { kernel: 'lanes' } | { kernel: 'blocked' } | { kernel: 'tiled'; tile: { rows: number; tile: number } };

/** One row of an attention tuning table: the kernel for attention over at most maxT rows (the larger of Tq and Tk; null: any). The first row that covers T wins. */
export type AttentionTuningRow = AttentionKernelSpec & { maxT: number | null };

/** An attention tuning table as plain data (JSON.stringify / JSON.parse keep it whole). */
export interface AttentionTuning {
  /** The adapter it was measured on, for the caller's bookkeeping. */
  adapter: string;
  rows: AttentionTuningRow[];
  /** What attentionTuning() read: the installed table, or the adapter class's built-in choice (ignored by setAttentionTuning). */
  source?: 'installed' | 'built-in';
}

export interface TuneAttentionOptions {
  /** Self-attention shapes [B, H, T, d] to time (default: ViT and text sizes, fewer on CPU adapters; see defaultAttentionShapes). */
  shapes?: [number, number, number, number][];
  /** Kernels to try (default: see defaultAttentionCandidates). */
  candidates?: AttentionKernelSpec[];
  /** Steps per timing, dispatched back to back before one wait (default 2 on CPU adapters, 10 on GPUs). */
  repeats?: number;
  /** Interleaved timing rounds, the fastest counting (default 3; engine/tuning/common.ts measureKernels). */
  rounds?: number;
  /** Install the table on this device when done (default true). */
  install?: boolean;
}

/** One candidate on one shape (see Trial: its best time per forward + backward step, or why it has none). */
export interface AttentionTiming extends Trial<AttentionKernelSpec> {
  shape: [number, number, number, number];
  /** Counting 4 B H T^2 d for the forward and 10 B H T^2 d for the backward (which recomputes the scores). */
  gflops: number | null;
}

export interface AttentionTuningReport {
  tuning: AttentionTuning;
  timings: AttentionTiming[];
}

const TUNE_OPTIONS = optionKeys<TuneAttentionOptions>({ shapes: true, candidates: true, repeats: true, rounds: true, install: true });

/** Shapes timed by default: T sets the table's rows, so they spread T (CLIP text 77, ViT 197 and 257, a long 1024). */
export function defaultAttentionShapes(rt: Runtime): [number, number, number, number][] {
  return rt.info.adapterClass === 'cpu'
    ? [[1, 12, 77, 64], [1, 12, 197, 64]]
    : [[1, 12, 197, 64], [8, 12, 197, 64], [1, 16, 257, 64], [1, 8, 1024, 64]];
}

/**
 * Kernels tried by default: the lanes family where the adapter runs it (CPU adapters only: it is built
 * for SIMD lanes), the blocked family, and tiled tiles (on GPUs those of the H200 sweep in
 * kernels/attention.ts) with no more rows than the device's workgroups take.
 */
export function defaultAttentionCandidates(rt: Runtime): AttentionKernelSpec[] {
  const cpu = rt.info.adapterClass === 'cpu';
  const tiles = cpu
    ? [{ rows: 16, tile: 32 }, { rows: 64, tile: 32 }]
    : [{ rows: 32, tile: 32 }, { rows: 64, tile: 16 }, { rows: 64, tile: 32 }, { rows: 128, tile: 16 }, { rows: 128, tile: 32 }, { rows: 256, tile: 8 }];
  const lanes: AttentionKernelSpec[] = cpu && lanesSupported(rt.features.has('subgroups'), rt.fixedSubgroupSize) ? [{ kernel: 'lanes' }] : [];
  return [...lanes, { kernel: 'blocked' }, ...tiles.filter((t) => t.rows <= maxInvocations(rt)).map((tile): AttentionKernelSpec => ({ kernel: 'tiled', tile }))];
}

/** Why `spec` (a candidate, or a table row when `withBound`; named `where` in messages) cannot run on this device, or null. */
function kernelProblem(spec: unknown, rt: Runtime, where: string, withBound: boolean): string | null {
  if (!isPlainObject(spec)) return `${where} must be an object, got ${describe(spec)}`;
  if (spec.kernel !== 'lanes' && spec.kernel !== 'blocked' && spec.kernel !== 'tiled')
    return `${where}.kernel must be 'lanes', 'blocked' or 'tiled', got ${describe(spec.kernel)}`;
  const known = ['kernel', ...(spec.kernel === 'tiled' ? ['tile'] : []), ...(withBound ? ['maxT'] : [])];
  const unknown = Object.keys(spec).find((k) => !known.includes(k));
  if (unknown !== undefined) return `${where} has an unknown key '${unknown}' for the ${spec.kernel} kernel; known: ${known.join(', ')}`;
  if (spec.kernel === 'lanes' && !lanesSupported(rt.features.has('subgroups'), rt.fixedSubgroupSize))
    return `${where}: this adapter cannot run the lanes kernel (it needs ${LANES_REQUIREMENT})`;
  if (spec.kernel !== 'tiled') return null;
  const tile = spec.tile;
  if (!isPlainObject(tile)) return `${where}.tile must be an object { rows, tile }, got ${describe(tile)}`;
  const badKey = Object.keys(tile).find((k) => k !== 'rows' && k !== 'tile');
  if (badKey !== undefined) return `${where}.tile has an unknown key '${badKey}'; known: rows, tile`;
  const maxRows = maxInvocations(rt);
  if (!Number.isInteger(tile.rows) || (tile.rows as number) < 1 || (tile.rows as number) > maxRows)
    return `${where}.tile.rows must be an integer in 1..${maxRows} (invocations per workgroup on this device), got ${describe(tile.rows)}`;
  if (!Number.isInteger(tile.tile) || (tile.tile as number) < 1 || (tile.tile as number) > 1024) return `${where}.tile.tile must be an integer in 1..1024, got ${describe(tile.tile)}`;
  return null;
}

/** Checks a table (typed errors naming the row and field) and converts it to the launcher's entries. */
function tableEntries(op: string, table: unknown, rt: Runtime): AttentionTuningEntry[] {
  const entries = tableParts(op, table).rows.map((row: unknown, i): AttentionTuningEntry => {
    const problem = kernelProblem(row, rt, `rows[${i}]`, true);
    if (problem) throw new ArgumentError(`${op}: ${problem}`);
    const r = row as AttentionTuningRow;
    const maxT = rowBound(op, i, 'maxT', r.maxT, 'T');
    return r.kernel === 'tiled' ? { maxT, kernel: 'tiled', tile: { rows: r.tile.rows, tile: r.tile.tile } } : { maxT, kernel: r.kernel };
  });
  if (!entries.some((e) => e.maxT === Infinity)) throw new ArgumentError(`${op}: no row with maxT null; a table must choose a kernel for every sequence length`);
  return entries;
}

function rowOf(entry: AttentionTuningEntry): AttentionTuningRow {
  const maxT = entry.maxT === Infinity ? null : entry.maxT;
  return entry.kernel === 'tiled' ? { kernel: 'tiled', tile: { ...entry.tile }, maxT } : { kernel: entry.kernel, maxT };
}

/** The family and tile the adapter class picks when no table is installed, at head dim `headDim`. */
function builtInKernel(rt: Runtime, headDim: number): AttentionKernelSpec {
  const family = chooseAttentionKernel(rt.info.adapterClass, rt.features.has('subgroups'), rt.fixedSubgroupSize);
  return family === 'tiled' ? { kernel: 'tiled', tile: { ...attentionTile(rt.info.adapterClass, headDim, rt.workgroupStorageBytes) } } : { kernel: family };
}

/** The table fused attention on this device uses now: the installed one, or the adapter class's built-in choice (at head dim 64). */
export function attentionTuning(): Required<AttentionTuning> {
  const rt = runtime('attentionTuning');
  const installed = rt.attentionTuning;
  return installed
    ? { adapter: installed.adapter, rows: installed.entries.map(rowOf), source: 'installed' }
    : { adapter: adapterName(rt), rows: [{ ...builtInKernel(rt, 64), maxT: null }], source: 'built-in' };
}

/**
 * Installs `table` for every later fused attention on this device that forces no kernel (null: back to
 * the built-in choice); a new device (init) starts with the built-in one. Checked first, with an
 * ArgumentError naming the row and field: known keys only, maxT a positive integer or null, families and
 * tiles this device can run, and a row with maxT null.
 */
export function setAttentionTuning(table: AttentionTuning | null): void {
  const rt = runtime('setAttentionTuning');
  if (table === null) rt.attentionTuning = null;
  else {
    const entries = tableEntries('setAttentionTuning', table, rt);
    rt.attentionTuning = { adapter: table.adapter, entries };
  }
}

/** A kernel's identity for comparisons. */
const kernelKey = (spec: AttentionKernelSpec): string => JSON.stringify(spec.kernel === 'tiled' ? { kernel: 'tiled', tile: { rows: spec.tile.rows, tile: spec.tile.tile } } : { kernel: spec.kernel });

/** The op options that force `spec`, its tile fitted to this head dim's workgroup memory. */
function optionsOf(spec: AttentionKernelSpec, headDim: number, rt: Runtime): AttentionKernelOption {
  return spec.kernel === 'tiled' ? { kernel: 'tiled', tile: fittedAttentionTile(spec.tile, headDim, rt.workgroupStorageBytes) } : { kernel: spec.kernel };
}

/** float64 attention of one head and its gradients: O = P V, dV = P^T dO, dS = P (dO V^T - rowsum(dO O)), dQ = s dS K, dK = s dS^T Q. */
function headOracle(q: Float32Array, k: Float32Array, v: Float32Array, dO: Float32Array, t: number, d: number): { out: Float64Array; dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const scale = 1 / Math.sqrt(d);
  const p = new Float64Array(t * t);
  const out = new Float64Array(t * d);
  const dq = new Float64Array(t * d);
  const dk = new Float64Array(t * d);
  const dv = new Float64Array(t * d);
  const dot = (a: Float32Array, i: number, b: Float32Array | Float64Array, j: number) => {
    let s = 0;
    for (let c = 0; c < d; c++) s += a[i * d + c]! * b[j * d + c]!;
    return s;
  };
  for (let i = 0; i < t; i++) {
    let max = -Infinity;
    for (let j = 0; j < t; j++) max = Math.max(max, (p[i * t + j] = scale * dot(q, i, k, j)));
    let sum = 0;
    for (let j = 0; j < t; j++) sum += p[i * t + j] = Math.exp(p[i * t + j]! - max);
    for (let j = 0; j < t; j++) {
      const pij = (p[i * t + j]! /= sum);
      for (let c = 0; c < d; c++) out[i * d + c] += pij * v[j * d + c]!;
    }
  }
  for (let i = 0; i < t; i++) {
    const delta = dot(dO, i, out, i);
    for (let j = 0; j < t; j++) {
      const pij = p[i * t + j]!;
      const ds = pij * (dot(dO, i, v, j) - delta);
      for (let c = 0; c < d; c++) {
        dv[j * d + c] += pij * dO[i * d + c]!;
        dq[i * d + c] += scale * ds * k[j * d + c]!;
        dk[j * d + c] += scale * ds * q[i * d + c]!;
      }
    }
  }
  return { out, dq, dk, dv };
}

/** One self-attention shape to time: inputs, the step (forward with lse, then the backward) and its check on the first head. */
function workload([b, h, t, d]: [number, number, number, number], rt: Runtime) {
  const n = b * h * t * d;
  const host = [quantized(n, 11), quantized(n, 12), quantized(n, 13), quantized(n, 14)];
  const [q, k, v, dOut] = host.map((x) => fromFlat(x, [b, h, t, d], 'f32', 'tuneAttention')) as [Tensor, Tensor, Tensor, Tensor];
  let oracle: ReturnType<typeof headOracle> | null = null;
  return {
    run(spec: AttentionKernelSpec): Tensor[] {
      const options = optionsOf(spec, d, rt);
      const { out, lse } = scaledDotProductAttention(q, k, v, { ...options, returnLse: true });
      const { dq, dk, dv } = scaledDotProductAttentionBackward(q, k, v, out, dOut, lse, options);
      return [out, lse, dq, dk, dv];
    },
    /** The largest error over the first head's output and gradients, against 1e-4 + 1e-3 |exact| (f32 sums of T products). */
    async error([out, , dq, dk, dv]: Tensor[]): Promise<number> {
      oracle ??= headOracle(...(host.map((x) => x.subarray(0, t * d)) as [Float32Array, Float32Array, Float32Array, Float32Array]), t, d);
      let worst = 0;
      for (const [got, exact] of [[out, oracle.out], [dq, oracle.dq], [dk, oracle.dk], [dv, oracle.dv]] as const) {
        const values = (await got!.data()).subarray(0, t * d);
        for (let i = 0; i < t * d; i++) worst = Math.max(worst, Math.abs(values[i]! - exact[i]!) / (1e-4 + 1e-3 * Math.abs(exact[i]!)));
      }
      return worst;
    },
    dispose() {
      for (const x of [q, k, v, dOut]) x.dispose();
    },
  };
}

/**
 * Times each candidate family (and tile) on each self-attention shape, forward and backward together,
 * beside the built-in choice, and returns the table of the fastest per sequence length with every timing;
 * by default it installs the table on this device. Each candidate's first step is checked against a
 * float64 oracle on the first head (output, dQ, dK, dV) before it is timed; see measureKernels and
 * kernelPerSize (engine/tuning/common.ts) for the timing and the choice.
 */
export async function tuneAttention(options: TuneAttentionOptions = {}): Promise<AttentionTuningReport> {
  const op = 'tuneAttention';
  expectOptions(op, options, TUNE_OPTIONS);
  const rt = runtime(op);
  const shapes = checkShapes(op, options.shapes ?? defaultAttentionShapes(rt), ['B', 'H', 'T', 'd'], 4096) as [number, number, number, number][];
  for (const [i, s] of shapes.entries()) if (s[3] > 256) throw new ArgumentError(`${op}: options.shapes[${i}] has head dim ${s[3]}; the kernels take 1..256`);
  const candidates = options.candidates ?? defaultAttentionCandidates(rt);
  if (!Array.isArray(candidates) || candidates.length === 0) throw new ArgumentError(`${op}: options.candidates must be a non-empty array, got ${describe(candidates)}`);
  candidates.forEach((c, i) => {
    const problem = kernelProblem(c, rt, `options.candidates[${i}]`, false);
    if (problem) throw new ArgumentError(`${op}: ${problem}`);
  });
  const cpu = rt.info.adapterClass === 'cpu';
  const repeats = checkCount(op, 'repeats', options.repeats, cpu ? 2 : 10);
  const rounds = checkCount(op, 'rounds', options.rounds, 3);
  if (options.install !== undefined && typeof options.install !== 'boolean') throw new ArgumentError(`${op}: options.install must be a boolean, got ${describe(options.install)}`);

  const timings: AttentionTiming[] = [];
  for (const shape of shapes) {
    const w = workload(shape, rt);
    const builtIn = builtInKernel(rt, shape[3]);
    try {
      const trials = await measureKernels(candidates, builtIn, kernelKey, (k) => w.run(k), (results) => w.error(results), repeats, rounds);
      const [b, h, t, d] = shape;
      const flops = 14 * b * h * t * t * d;
      for (const trial of trials) timings.push({ ...trial, shape, gflops: trial.ms === null ? null : flops / trial.ms / 1e6 });
    } finally {
      w.dispose();
    }
  }
  const chosen = kernelPerSize(timings.map((x) => ({ ...x, size: x.shape[2], workload: x.shape.join('x') })), kernelKey, op);
  const rows = mergedRows(chosen, kernelKey).map(({ kernel, max }): AttentionTuningRow => ({ ...kernel, maxT: max }));
  const tuning: AttentionTuning = { adapter: adapterName(rt), rows };
  if (options.install ?? true) setAttentionTuning(tuning);
  return { tuning, timings };
}
