/**
 * GEMM tuning on the device at hand (the timing and table building it shares with attention's:
 * engine/tuning/common.ts). The built-in tables (kernels/matmul.ts TUNING) were measured on Mesa lavapipe
 * ('cpu') and on NVIDIA H100 / H200 ('gpu'); every other adapter gets the table of its class, which may
 * suit it badly (an integrated GPU, Apple silicon, a browser's SwiftShader). `tuneMatmul`
 * times candidate kernels on transformer-sized products on this device and builds the table of the
 * fastest per M, with and without a fused epilogue; `matmulTuning` and `setMatmulTuning` read and install
 * a table as plain JSON-able data, so a page can keep one per adapter (in localStorage, say) and skip the
 * measurement next time. `node dist/bench/tune.js` runs the same measurement and prints the rows in the
 * form of kernels/matmul.ts TUNING, which is how the built-in tables are regenerated.
 *
 * Every candidate's first result is checked against a float64 oracle on sampled entries before it is
 * timed, so a kernel that a driver miscompiles is reported and never chosen. An installed table is
 * validated against the device's limits first (lanes kernel support, workgroup memory), so whatever it
 * holds, every GEMM still runs a kernel the device can run.
 */
import {
  entryChoice, lanesRowsProblem, tiledChoiceOf, tiledProblem, tunedChoice, TUNING, type GemmCaps, type LanesChoice, type MatmulTuningEntry, type TiledChoice,
} from '../../kernels/matmul.js';
import { LANES_REQUIREMENT, lanesSupported } from '../../kernels/launch.js';
import { describe, expectOptions, optionKeys } from '../arguments.js';
import { ArgumentError } from '../errors.js';
import { fromFlat, zeros } from '../ops/creation.js';
import { gemmCaps, linear, matmul, type MatmulOptions } from '../ops/matmul.js';
import { runtime } from '../runtime.js';
import type { Tensor } from '../tensor.js';
import { adapterName, checkCount, checkShapes, isPlainObject, kernelPerSize, measureKernels, mergedRows, quantized, rowBound, tableParts, type Trial } from './common.js';

/** A GEMM kernel as MatmulOptions force it: the lanes kernel with its rows per workgroup, or the tiled kernel with its tile. */
export type MatmulKernelSpec =
  | { kernel: 'lanes'; rows: number }
  | { kernel: 'tiled'; tile: { blocks: [number, number]; tk: number; vec4?: boolean; unrolled?: boolean; stages?: 1 | 2 } };

/**
 * One row of a tuning table: the kernel for GEMMs with M <= maxM (null: any M) and, where `epilogue` is
 * given, only for GEMMs that do (true) or do not (false) fuse a bias, activation or residual. The first
 * row that applies wins.
 */
export type MatmulTuningRow = MatmulKernelSpec & { maxM: number | null; epilogue?: boolean };

/** A tuning table as plain data (JSON.stringify / JSON.parse keep it whole). */
export interface MatmulTuning {
  /** The adapter it was measured on (adapterName: its description, else vendor, architecture and device), for the caller's bookkeeping. */
  adapter: string;
  rows: MatmulTuningRow[];
  /** What matmulTuning() read: the table installed on the device, or the adapter class's built-in one (ignored by setMatmulTuning). */
  source?: 'installed' | 'built-in';
}

export interface TuneMatmulOptions {
  /** Products [M, N, K] to time (default: transformer-sized ones, smaller on CPU adapters; see defaultShapes). */
  shapes?: [number, number, number][];
  /** Kernels to try (default: those this adapter can run that are worth trying on its class; see defaultCandidates). */
  candidates?: MatmulKernelSpec[];
  /** Products per timing, dispatched back to back before one wait (default 3 on CPU adapters, 20 on GPUs). */
  repeats?: number;
  /**
   * Timing rounds (default 3); each round times every candidate once, in turn, so that a machine's drifting
   * load falls on all of them alike, and a candidate's fastest round counts. One over 4x (and 1 ms) slower
   * than the best in the first round is not timed again.
   */
  rounds?: number;
  /** Install the table on this device when done (default true). */
  install?: boolean;
}

/** One candidate on one product (see Trial: its best time per product, or why it has none). */
export interface MatmulTiming extends Trial<MatmulKernelSpec> {
  shape: [number, number, number];
  /** Whether the product fused an epilogue (x @ w^T + bias, w stored [N, K]) or was a plain A @ B. */
  epilogue: boolean;
  gflops: number | null;
}

export interface MatmulTuningReport {
  tuning: MatmulTuning;
  timings: MatmulTiming[];
}

const TUNE_OPTIONS = optionKeys<TuneMatmulOptions>({ shapes: true, candidates: true, repeats: true, rounds: true, install: true });
const ROW_BOUNDS = ['maxM', 'epilogue'];
const TILE_KEYS = ['blocks', 'tk', 'vec4', 'unrolled', 'stages'];

/**
 * Products timed by default. M sets the table's rows, so the shapes spread M: a decode-sized 8 (and 24 on
 * CPU adapters, whose table has rows for M <= 24), 64, ViT's 197 tokens and a large M. CPU adapters
 * (1-50 GFLOP/s) get products of at most ~0.3 GFLOP.
 */
export function defaultShapes(caps: GemmCaps): [number, number, number][] {
  return caps.adapterClass === 'cpu'
    ? [[8, 768, 768], [24, 768, 768], [64, 768, 768], [197, 768, 768], [512, 512, 512]]
    : [[64, 768, 768], [256, 768, 3072], [1576, 768, 768], [2048, 2048, 2048]];
}

/**
 * Kernels tried by default: on CPU adapters the lanes kernel at every row count it takes (where the
 * adapter can run it) and two tiled tiles, on GPUs the tiled kernel's tiles and slab depths, with and
 * without vec4 staging and two stages; tiles this device's workgroup memory cannot hold are left out.
 */
export function defaultCandidates(caps: GemmCaps): MatmulKernelSpec[] {
  const tiles: { blocks: [number, number]; tk: number; vec4?: boolean; stages?: 2 }[] =
    caps.adapterClass === 'cpu'
      ? [{ blocks: [1, 1], tk: 16 }, { blocks: [2, 2], tk: 16, vec4: true }]
      : [
          { blocks: [1, 1], tk: 16 },
          { blocks: [2, 2], tk: 16 },
          { blocks: [2, 2], tk: 16, vec4: true },
          { blocks: [2, 2], tk: 32 },
          { blocks: [2, 2], tk: 32, vec4: true },
          { blocks: [2, 2], tk: 16, vec4: true, stages: 2 },
        ];
  const lanes: MatmulKernelSpec[] =
    caps.adapterClass === 'cpu' && lanesSupported(caps.subgroups, caps.subgroupSize) ? [4, 8, 16, 24, 32].map((rows) => ({ kernel: 'lanes', rows })) : [];
  return [...lanes, ...tiles.filter((tile) => tiledProblem(tile, caps.workgroupStorage) === null).map((tile): MatmulKernelSpec => ({ kernel: 'tiled', tile }))];
}

/**
 * Why `spec` (a candidate, or a table row when `extraKeys` admits maxM and epilogue; named `where` in
 * messages) cannot run on this device, or null.
 */
function kernelProblem(spec: unknown, caps: GemmCaps, where: string, extraKeys: readonly string[]): string | null {
  if (!isPlainObject(spec)) return `${where} must be an object, got ${describe(spec)}`;
  if (spec.kernel !== 'lanes' && spec.kernel !== 'tiled') return `${where}.kernel must be 'lanes' or 'tiled', got ${describe(spec.kernel)}`;
  const known = ['kernel', spec.kernel === 'lanes' ? 'rows' : 'tile', ...extraKeys];
  const unknown = Object.keys(spec).find((k) => !known.includes(k));
  if (unknown !== undefined) return `${where} has an unknown key '${unknown}' for the ${spec.kernel} kernel; known: ${known.join(', ')}`;
  if (spec.kernel === 'lanes') {
    if (!lanesSupported(caps.subgroups, caps.subgroupSize)) return `${where}: this adapter cannot run the lanes kernel (it needs ${LANES_REQUIREMENT})`;
    const rows = lanesRowsProblem(spec.rows);
    return rows && `${where}: ${rows}`;
  }
  const tile = spec.tile;
  if (!isPlainObject(tile)) return `${where}.tile must be an object, got ${describe(tile)}`;
  const badKey = Object.keys(tile).find((k) => !TILE_KEYS.includes(k));
  if (badKey !== undefined) return `${where}.tile has an unknown key '${badKey}'; known: ${TILE_KEYS.join(', ')}`;
  for (const flag of ['vec4', 'unrolled'])
    if (tile[flag] !== undefined && typeof tile[flag] !== 'boolean') return `${where}.tile.${flag} must be a boolean, got ${describe(tile[flag])}`;
  const problem = tiledProblem(tile as Parameters<typeof tiledProblem>[0], caps.workgroupStorage);
  return problem && `${where}.tile: ${problem}`;
}

/** A lanes or tiled choice as MatmulKernelSpec spells it, naming only the tile options that are on. */
function specOf(choice: LanesChoice | TiledChoice): MatmulKernelSpec {
  if (choice.variant === 'lanes') return { kernel: 'lanes', rows: choice.rows };
  const { blocks, tk, vec4, unrolled, stages } = choice;
  return { kernel: 'tiled', tile: { blocks: [blocks[0], blocks[1]], tk, ...(vec4 ? { vec4 } : {}), ...(unrolled ? { unrolled } : {}), ...(stages ? { stages } : {}) } };
}

/** Checks a table (typed errors naming the row and field) and converts it to the launcher's entries. */
function tableEntries(op: string, table: unknown, caps: GemmCaps): MatmulTuningEntry[] {
  const entries = tableParts(op, table).rows.map((row: unknown, i): MatmulTuningEntry => {
    const problem = kernelProblem(row, caps, `rows[${i}]`, ROW_BOUNDS);
    if (problem) throw new ArgumentError(`${op}: ${problem}`);
    const r = row as MatmulTuningRow;
    const maxM = rowBound(op, i, 'maxM', r.maxM, 'M');
    if (r.epilogue !== undefined && typeof r.epilogue !== 'boolean') throw new ArgumentError(`${op}: rows[${i}].epilogue must be a boolean if given, got ${describe(r.epilogue)}`);
    const bounds = { maxM, ...(r.epilogue === undefined ? {} : { epilogue: r.epilogue }) };
    return r.kernel === 'lanes' ? { ...bounds, variant: 'lanes', rows: r.rows } : { ...bounds, ...tiledChoiceOf(r.tile) };
  });
  for (const fused of [false, true])
    if (!entries.some((e) => e.maxM === Infinity && (e.epilogue === undefined || e.epilogue === fused)))
      throw new ArgumentError(`${op}: no row with maxM null covers GEMMs ${fused ? 'with' : 'without'} an epilogue; a table must choose a kernel for every M`);
  return entries;
}

/** A table entry as a row: the kernel it runs on this device (entryChoice), with its bounds. */
function rowOf(caps: GemmCaps, entry: MatmulTuningEntry): MatmulTuningRow {
  const bounds = { maxM: entry.maxM === Infinity ? null : entry.maxM, ...(entry.epilogue === undefined ? {} : { epilogue: entry.epilogue }) };
  return { ...specOf(entryChoice(caps, entry)), ...bounds };
}

/** The table GEMMs on this device use now: the installed one, or the built-in table of its adapter class. */
export function matmulTuning(): Required<MatmulTuning> {
  const rt = runtime('matmulTuning');
  const installed = rt.matmulTuning;
  const caps = gemmCaps(rt);
  // The built-in rows as this device runs them (lanes rows become the portable tile where lanes cannot run), so they install back.
  const rows = (installed?.entries ?? TUNING[rt.info.adapterClass]).map((e) => rowOf(caps, e));
  return installed ? { adapter: installed.adapter, rows, source: 'installed' } : { adapter: adapterName(rt), rows, source: 'built-in' };
}

/**
 * Installs `table` for every later GEMM on this device (null: back to the built-in table); a new device
 * (init) starts with the built-in one. The table is checked first, with an ArgumentError naming the row
 * and field: known keys only, maxM a positive integer or null, kernels this device can run, and a row
 * with maxM null for GEMMs with and for GEMMs without an epilogue. Whether it was measured on this
 * adapter is not checked (`adapter` is the caller's to compare).
 */
export function setMatmulTuning(table: MatmulTuning | null): void {
  const rt = runtime('setMatmulTuning');
  if (table === null) rt.matmulTuning = null;
  else {
    const entries = tableEntries('setMatmulTuning', table, gemmCaps(rt));
    rt.matmulTuning = { adapter: table.adapter, entries };
  }
}

/** One product to time: A [M, K] @ B [K, N], or x [M, K] @ w^T + bias with w stored [N, K] (a zero bias: the oracle is the same). */
interface Product {
  run(kernel: MatmulKernelSpec): Tensor;
  /** The largest error over sampled entries, as a multiple of what f32 summation order may cost there. */
  error(result: Float32Array): number;
  dispose(): void;
}

function product([m, n, k]: [number, number, number], epilogue: boolean): Product {
  const a = quantized(m * k, 1);
  const b = quantized(k * n, 2); // [K, N] for A @ B, [N, K] for x @ w^T
  const at = fromFlat(a, [m, k], 'f32', 'tuneMatmul');
  const bt = fromFlat(b, epilogue ? [n, k] : [k, n], 'f32', 'tuneMatmul');
  const bias = epilogue ? zeros([n]) : null;
  const bAt = (kk: number, j: number) => (epilogue ? b[j * k + kk]! : b[kk * n + j]!);
  const samples = Array.from({ length: Math.min(32, m * n) }, (_, i) => Math.floor(((i + 0.5) * m * n) / Math.min(32, m * n)));
  return {
    run: (kernel) => (bias ? linear(at, bt, bias, optionsOf(kernel)) : matmul(at, bt, optionsOf(kernel))),
    error(result) {
      let worst = 0;
      for (const e of samples) {
        const [i, j] = [Math.floor(e / n), e % n];
        let exact = 0;
        let magnitude = 0;
        for (let kk = 0; kk < k; kk++) {
          const p = a[i * k + kk]! * bAt(kk, j);
          exact += p;
          magnitude += Math.abs(p);
        }
        // Any summation order in f32 stays within k * 2^-24 of the sum of magnitudes.
        worst = Math.max(worst, Math.abs(result[e]! - exact) / (k * 2 ** -24 * magnitude + 1e-30));
      }
      return worst;
    },
    dispose() {
      for (const t of [at, bt, bias]) t?.dispose();
    },
  };
}

function optionsOf(spec: MatmulKernelSpec): MatmulOptions {
  return spec.kernel === 'lanes' ? { kernel: 'lanes', rows: spec.rows } : { kernel: 'tiled', tile: spec.tile };
}

/** A kernel's identity: its MatmulOptions form (a row's maxM and epilogue do not count). */
const kernelKey = (spec: MatmulKernelSpec): string => JSON.stringify(optionsOf(spec));

/** The kernel the built-in table of the adapter class picks for GEMMs of `m` rows, with or without an epilogue. */
function builtInKernel(caps: GemmCaps, m: number, epilogue: boolean): MatmulKernelSpec {
  const { tuning: _installed, ...builtIn } = caps;
  return specOf(tunedChoice(builtIn, m, epilogue));
}

/** The kernel per M for GEMMs with (true) or without (false) an epilogue. */
function choicesOf(timings: readonly MatmulTiming[], epilogue: boolean): { size: number; kernel: MatmulKernelSpec }[] {
  const trials = timings.filter((t) => t.epilogue === epilogue).map((t) => ({ ...t, size: t.shape[0], workload: t.shape.join('x') }));
  return kernelPerSize(trials, kernelKey, 'tuneMatmul');
}

/** Table rows from the choices per M, for GEMMs with or without an epilogue, or for both (undefined). */
function rowsOf(chosen: readonly { size: number; kernel: MatmulKernelSpec }[], epilogue?: boolean): MatmulTuningRow[] {
  return mergedRows(chosen, kernelKey).map(({ kernel, max }) => ({ ...kernel, maxM: max, ...(epilogue === undefined ? {} : { epilogue }) }));
}

/**
 * Times each candidate kernel on each product, plain (A @ B) and with a fused epilogue (x @ w^T + bias),
 * beside what the built-in table picks, and returns the table of the fastest per M together with every
 * timing; by default it installs the table on this device. Each candidate's first result is checked
 * against a float64 oracle on sampled entries (an error beyond what f32 summation order allows drops it);
 * see measureKernels (engine/tuning/common.ts) for the timing and kernelPerSize for the choice.
 */
export async function tuneMatmul(options: TuneMatmulOptions = {}): Promise<MatmulTuningReport> {
  const op = 'tuneMatmul';
  expectOptions(op, options, TUNE_OPTIONS);
  const rt = runtime(op);
  const caps = gemmCaps(rt);
  const shapes = checkShapes(op, options.shapes ?? defaultShapes(caps), ['M', 'N', 'K'], 1 << 16) as [number, number, number][];
  const candidates = options.candidates ?? defaultCandidates(caps);
  if (!Array.isArray(candidates) || candidates.length === 0) throw new ArgumentError(`${op}: options.candidates must be a non-empty array, got ${describe(candidates)}`);
  candidates.forEach((c, i) => {
    const problem = kernelProblem(c, caps, `options.candidates[${i}]`, []);
    if (problem) throw new ArgumentError(`${op}: ${problem}`);
  });
  const repeats = checkCount(op, 'repeats', options.repeats, caps.adapterClass === 'cpu' ? 3 : 20);
  const rounds = checkCount(op, 'rounds', options.rounds, 3);
  if (options.install !== undefined && typeof options.install !== 'boolean') throw new ArgumentError(`${op}: options.install must be a boolean, got ${describe(options.install)}`);

  const timings: MatmulTiming[] = [];
  for (const epilogue of [false, true]) {
    for (const shape of shapes) {
      const p = product(shape, epilogue);
      const builtIn = builtInKernel(caps, shape[0], epilogue);
      try {
        const trials = await measureKernels(candidates, builtIn, kernelKey, (k) => [p.run(k)], async ([c]) => p.error((await c!.data()) as Float32Array), repeats, rounds);
        const flops = 2 * shape[0] * shape[1] * shape[2];
        for (const t of trials) timings.push({ ...t, shape, epilogue, gflops: t.ms === null ? null : flops / t.ms / 1e6 });
      } finally {
        p.dispose();
      }
    }
  }

  const plain = choicesOf(timings, false);
  const fused = choicesOf(timings, true);
  const same = plain.every((c, i) => kernelKey(c.kernel) === kernelKey(fused[i]!.kernel));
  const rows = same ? rowsOf(plain) : [...rowsOf(fused, true), ...rowsOf(plain, false)];
  const tuning: MatmulTuning = { adapter: adapterName(rt), rows };
  if (options.install ?? true) setMatmulTuning(tuning);
  return { tuning, timings };
}
