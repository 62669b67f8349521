/**
 * Launcher for the GEMM kernels: matmul.wgsl (tiled, workgroup memory; GPUs and the portable fallback),
 * matmul_lanes.wgsl (one subgroup = one SIMD register; CPU adapters such as lavapipe) and
 * matmul_subgroup_matrix.wgsl (f16 on matrix units, where the adapter has them), all with the strided
 * operand reads and fused epilogue of matmul_common.wgsl; matmul_split_k.wgsl sums the partial products
 * of a GEMM whose K was split across workgroups (chooseKSplit).
 *
 * Operands are described by strides only, so transposed views and PyTorch [out, in] weights read as
 * w^T reach the kernels without copies.
 */
import {
  MAX_GRID_DIM, ParamWriter, WG1D, gridFillingSplit, grid1d, lanesSupported, specialize, unsplit, type AdapterClass, type ElementType, type Launch, type Split,
} from './launch.js';
import { WGSL_SOURCES } from './wgsl/embedded.js';

export type MatmulVariant = 'tiled' | 'lanes' | 'subgroup-matrix';
export type Activation = 'none' | 'gelu' | 'relu';

/** A matrix operand: element offset, strides of its two matrix dims, and strides of the batch dims. */
export interface MatrixOperand {
  readonly dtype: ElementType;
  readonly offset: number;
  /** Stride between rows (A: along M, B: along K, residual: along M). */
  readonly rowStride: number;
  /** Stride between columns (A: along K, B: along N, residual: along N). */
  readonly colStride: number;
  /** One stride per batch dim of the output (0 where broadcast). */
  readonly batchStrides: readonly number[];
}

export interface GemmSpec {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** Broadcast batch shape of the output (empty for a plain 2-D product). */
  readonly batchShape: readonly number[];
  readonly a: MatrixOperand;
  readonly b: MatrixOperand;
  readonly out: ElementType;
  /** Per-column bias: element offset and stride along N. */
  readonly bias?: { readonly dtype: ElementType; readonly offset: number; readonly stride: number };
  readonly residual?: MatrixOperand;
  readonly activation: Activation;
  /** Also write act's input (acc + bias) to an extra output bound after `out`. */
  readonly savePre: boolean;
}

/** Batch entries of a GEMM: the product of its batch shape (1 for a plain 2-D product). */
export function batchCount(spec: Pick<GemmSpec, 'batchShape'>): number {
  return spec.batchShape.reduce((x, d) => x * d, 1);
}

/** The lanes kernel (matmul_lanes.wgsl): ROWS output rows per workgroup of one subgroup of LANES. */
export interface LanesChoice {
  readonly variant: 'lanes';
  readonly rows: number;
  readonly lanes: number;
}

/** The tiled kernel (matmul.wgsl): blocks x 4x4 register blocks per invocation, K slabs of tk. */
export interface TiledChoice {
  readonly variant: 'tiled';
  readonly blocks: readonly [m: number, n: number];
  readonly tk: number;
  /**
   * Stage A and B through 16-byte loads where the layout allows (4-aligned A k-contiguous, B
   * n-contiguous or k-contiguous; see vectorA / vectorB): whole-vec4 workgroup stores along A's k and
   * B's n, four component stores for a k-contiguous B (tiledColumnStaging). TUNING.gpu uses it for the
   * 128x128 tile without an epilogue (H200: 4096^3 A @ B 34900 against 30300 GFLOP/s, x @ w^T 31200
   * against 21700).
   */
  readonly vec4?: boolean;
  /**
   * Straight-line products over named accumulators instead of arrays indexed in loops (tiledUnrolledCode):
   * the form that took the subgroup-matrix kernel from 27 to 62-75 TFLOP/s on NVIDIA through Dawn. Not
   * in the tuning table: on the H200 it cost the f32 kernel 10-15% (4096^3: 26100 against 30300 GFLOP/s,
   * with vec4 staging 31900 against 34900), whose loops the driver already keeps in registers.
   */
  readonly unrolled?: boolean;
  /**
   * Slabs per operand in workgroup memory (default 1). With 2, each step stores the next slab into the
   * other one, so a slab costs one barrier instead of two, for twice the workgroup memory. Not in the
   * tuning table: not yet measured on a GPU (`scripts/device-session.sh f32` times it).
   */
  readonly stages?: 1 | 2;
}

/**
 * The subgroup-matrix kernel (matmul_subgroup_matrix.wgsl): a workgroup of subgroups[0] x subgroups[1]
 * subgroups, each computing frags[0] x frags[1] 16x16 result fragments from slabs of tk K staged in
 * workgroup memory.
 */
export interface SubgroupMatrixChoice {
  readonly variant: 'subgroup-matrix';
  readonly subgroups: readonly [m: number, n: number];
  readonly frags: readonly [m: number, n: number];
  readonly tk: number;
  /** Slabs per operand: 2 refills one while the products read the other, 1 leaves room for a deeper tk. */
  readonly stages: 1 | 2;
  /**
   * How slabs are filled (default 'chunks'): every invocation loads 8-half chunks as vec4<u32>s into
   * registers ahead of the products and stores them half by half, the staging the kernel's header
   * measured as its bound; 'packed': the same chunks stored whole into slabs of vec4<u32> units kept in
   * each operand's own orientation, read by the proposal's newer fragment loads; 'fragments': every
   * subgroup loads whole 16x16 fragments from the storage buffers and stores them into the slab with
   * one matrix instruction each (no register prefetch). 'packed' and 'fragments' are not in the tuning
   * table: written 2026-11-28, checked only with the emulated builtins so far (`scripts/device-session.sh
   * gemm` times them).
   */
  readonly staging?: 'chunks' | 'packed' | 'fragments';
  readonly lanes: number;
}

/** The subgroup-matrix kernel's shape without the adapter's subgroup size (options, tuning). */
export type SubgroupMatrixTile = Pick<SubgroupMatrixChoice, 'subgroups' | 'frags' | 'tk' | 'stages' | 'staging'>;

export type KernelChoice = LanesChoice | TiledChoice | SubgroupMatrixChoice;

/** What the adapter offers that the choice depends on. */
export interface GemmCaps {
  readonly adapterClass: AdapterClass;
  readonly subgroups: boolean;
  /** The subgroup width when the adapter fixes it (min == max). */
  readonly subgroupSize: number | undefined;
  /** chromium-experimental-subgroup-matrix with an f16 x f16 -> f32 16x16x16 configuration. */
  readonly subgroupMatrixF16: boolean;
  /** The device's maxComputeWorkgroupStorageSize in bytes (the tiled kernel's big tiles need 32 KiB). */
  readonly workgroupStorage: number;
  /** The device's maxComputeInvocationsPerWorkgroup (the subgroup-matrix kernel's workgroups are 2x4 subgroups). */
  readonly maxInvocations: number;
  /** A table measured on this device and installed at run time (engine/tuning/matmul.ts), used instead of TUNING[adapterClass]. */
  readonly tuning?: readonly MatmulTuningEntry[];
}

/**
 * One row of a tuning table: the kernel for GEMMs with M <= maxM and, where `epilogue` is given, only for
 * GEMMs that do (true) or do not (false) fuse an epilogue (bias, activation, residual or a saved
 * pre-activation; see hasEpilogue).
 */
export type MatmulTuningEntry = { readonly maxM: number; readonly epilogue?: boolean } & (
  | { readonly variant: 'lanes'; readonly rows: number }
  | ({ readonly variant: 'tiled' } & Pick<TiledChoice, 'blocks' | 'tk' | 'vec4' | 'unrolled' | 'stages'>));

/** Whether the GEMM's stores run more than the plain write: a bias, an activation, a residual or a saved pre-activation. */
export function hasEpilogue(spec: GemmSpec): boolean {
  return spec.bias !== undefined || spec.residual !== undefined || spec.activation !== 'none' || spec.savePre;
}

/** The portable default: 64x64 tiles, which any WebGPU device runs (8 KiB of workgroup memory). */
export const DEFAULT_TILED: TiledChoice = { variant: 'tiled', blocks: [1, 1], tk: 16 };

/** A tiled choice from a tile's shape and options (a tuning entry's or a forced one), naming only the options that are on. */
export function tiledChoiceOf(tile: Pick<TiledChoice, 'blocks' | 'tk' | 'vec4' | 'unrolled' | 'stages'>): TiledChoice {
  return {
    variant: 'tiled', blocks: tile.blocks, tk: tile.tk, ...(tile.vec4 ? { vec4: true } : {}), ...(tile.unrolled ? { unrolled: true } : {}),
    ...(tile.stages === 2 ? { stages: 2 } : {}),
  };
}

/** Workgroup memory of the tiled kernel's slabs (A's and B's, `stages` of each), in bytes. */
export function tiledBytes(choice: TiledChoice): number {
  return 64 * (choice.blocks[0] + choice.blocks[1]) * choice.tk * 4 * (choice.stages ?? 1);
}

/**
 * Why a tiled kernel's tile cannot run on a device with `workgroupStorage` bytes of workgroup memory, or
 * null when it can: 1..4 register blocks along each of M and N, K slabs a positive multiple of 4, one or
 * two stages (forced tiles and tuning tables are checked with it).
 */
export function tiledProblem(tile: Pick<TiledChoice, 'blocks' | 'tk' | 'stages'>, workgroupStorage: number): string | null {
  const blocks: readonly unknown[] = Array.isArray(tile.blocks) ? tile.blocks : [];
  if (blocks.length !== 2 || !blocks.every((x) => Number.isInteger(x) && (x as number) >= 1 && (x as number) <= 4)) return 'blocks must be two integers in 1..4';
  if (!(Number.isInteger(tile.tk) && tile.tk >= 4 && tile.tk % 4 === 0)) return `tk must be a positive multiple of 4, got ${String(tile.tk)}`;
  if (tile.stages !== undefined && tile.stages !== 1 && tile.stages !== 2) return `stages must be 1 or 2, got ${String(tile.stages)}`;
  const bytes = tiledBytes(tiledChoiceOf(tile));
  return bytes > workgroupStorage ? `needs ${bytes} bytes of workgroup memory, the device allows ${workgroupStorage}` : null;
}

/** Why `rows` cannot be the lanes kernel's rows per workgroup (it reads A 4 rows at a time, and past 32 rows its accumulators leave registers), or null. */
export function lanesRowsProblem(rows: unknown): string | null {
  return Number.isInteger(rows) && (rows as number) >= 4 && (rows as number) <= 32 && (rows as number) % 4 === 0 ? null : `rows must be a multiple of 4 in 4..32, got ${String(rows)}`;
}

/**
 * Kernel and tile per adapter class and shape bucket (the first entry whose maxM >= M and whose epilogue
 * condition, if any, holds wins). A table measured on the device at hand replaces it at run time
 * (engine/tuning/matmul.ts tuneMatmul / setMatmulTuning, GemmCaps.tuning); `node dist/bench/tune.js` prints such
 * a table's rows in this syntax, which is how these are regenerated. On 2026-11-28 that run reproduced the
 * 'cpu' rows on lavapipe and on Chromium's SwiftShader (every default product within 2% of these choices),
 * and with every row count and M = 10-28 it found the 12- and 24-row entries below.
 *
 * How 'cpu' was measured: bench/gemm-probe.ts on Mesa lavapipe 25.0.7 (2 cores, AVX-512 Xeon, 8-wide
 * subgroups), f32, back-to-back dispatches of one submit after a validated run, timed by process CPU
 * time (PROBE_CPU_TIME=1; the machine is shared); the probe prints this table from its measurements.
 * 32 rows wins from M = 25 up (1024^3 26-27 GFLOP/s, ViT-B shapes 18-22; 24 rows 17-23; at 20 rows or
 * fewer NIR unrolls the kernel's 4-k step and the code runs 30-50% slower, see matmul_lanes.wgsl).
 * Small M gets fewer rows per workgroup because rows past M are computed and thrown away. The 12- and
 * 24-row entries came from the tuning run (engine/tuning/matmul.ts, 2026-11-28, best of 5 rounds, wall
 * clock, x768 and x3072 products, plain and with a bias): M = 10-12 took 1.23-5.82 ms with 12 rows
 * against 1.95-8.13 with 32 (1.4-1.8x), M = 16-24 1.24-7.61 ms with 24 rows against 1.40-8.94 (1.1-1.3x);
 * at M = 28 32 rows won again (2.38 against 3.57 ms).
 * How 'gpu' was measured: the same probe on an NVIDIA H100 (Dawn + Vulkan, driver 580.159, 2026-11-27),
 * f32, GFLOP/s for 64x64 / 128x128 TK 16 / 128x128 TK 32 tiles:
 *   4096^3 26300 / 28400 / 31500, 2048^3 17700 / 21800 / 23300, 1576x3072x768 12700 / 14600 / 15400,
 *   1576x768x768 2400 / 6700 / 6900 (256x128 TK 8: 27700 at 4096^3, slower elsewhere).
 * Below M = 256 the 64x64 tile keeps enough workgroups in flight (not measured separately).
 * Later on an H200 (2026-11-27), 128x128 TK 32 with vec4 staging against scalar staging: 4096^3 A @ B
 * 34900 / 30300, x @ w^T 31200 / 21700; 1576x3072x768 A @ B 18900 / 18300, x @ w^T 17800 / 13800.
 * GEMMs with a fused epilogue keep 16-deep slabs: in the same H200 run the TK 32 tile with a bias
 * ran 10x slower than without one (`npm run bench -- --profile`: the patch-embedding GEMM 1568x768x768
 * 5.31 ms with its bias against 0.467 ms without; the B16 encoder's linear layers at B = 32 1-2 TFLOP/s
 * against 20 for the backward's epilogue-free GEMMs; B16 forward at B = 32 549 ms), the signature of
 * accumulators moved out of registers, while the H100 ran the same model at B = 32 in 145 ms with
 * 16-deep slabs (2026-11-27, before the TK 32 retune). The TK 16 tile with an epilogue has not been
 * re-measured since (`scripts/device-session.sh epilogue` times both).
 */
export const TUNING: Readonly<Record<AdapterClass, readonly MatmulTuningEntry[]>> = {
  cpu: [
    { maxM: 4, variant: 'lanes', rows: 4 },
    { maxM: 8, variant: 'lanes', rows: 8 },
    { maxM: 12, variant: 'lanes', rows: 12 },
    { maxM: 24, variant: 'lanes', rows: 24 },
    { maxM: Infinity, variant: 'lanes', rows: 32 },
  ],
  gpu: [
    { maxM: 256, variant: 'tiled', blocks: [1, 1], tk: 16 },
    { maxM: Infinity, epilogue: true, variant: 'tiled', blocks: [2, 2], tk: 16 },
    { maxM: Infinity, variant: 'tiled', blocks: [2, 2], tk: 32, vec4: true },
  ],
};

/**
 * Subgroup-matrix tiles by output size (M * N * batch entries; the first entry whose maxOutputs is not
 * exceeded wins): small products need many small tiles to fill the GPU, large ones the reuse of large
 * tiles. Measured with bench/gemm-probe.ts on an NVIDIA H200 (Dawn + Vulkan), f16 in, f32 out; see the
 * figures in matmul_subgroup_matrix.wgsl. The probe prints suggested entries when given forced shapes
 * (`scripts/device-session.sh tune`). f16 GEMMs take this kernel wherever the adapter has matrix
 * units and the operands suit it (subgroupMatrixLayout): it beat the tiled kernel on every shape tried.
 */
export const SUBGROUP_MATRIX_TUNING: readonly { readonly maxOutputs: number; readonly tile: SubgroupMatrixTile }[] = [
  { maxOutputs: 1 << 20, tile: { subgroups: [2, 2], frags: [2, 2], tk: 32, stages: 2 } },   // 64x64 tiles
  { maxOutputs: 1 << 23, tile: { subgroups: [2, 4], frags: [4, 2], tk: 32, stages: 2 } },   // 128x128
  { maxOutputs: Infinity, tile: { subgroups: [2, 4], frags: [4, 4], tk: 32, stages: 1 } },  // 128x256
];

/** The tuned subgroup-matrix tile for a GEMM (SUBGROUP_MATRIX_TUNING). */
export function subgroupMatrixTile(spec: GemmSpec): SubgroupMatrixTile {
  const outputs = spec.m * spec.n * batchCount(spec);
  return (SUBGROUP_MATRIX_TUNING.find((e) => outputs <= e.maxOutputs) ?? SUBGROUP_MATRIX_TUNING[SUBGROUP_MATRIX_TUNING.length - 1]!).tile;
}

/**
 * Why a subgroup-matrix shape cannot run on a device with `lanes`-wide subgroups, `workgroupStorage`
 * bytes of workgroup memory and `maxInvocations` per workgroup, or null when it can. Chunk and packed
 * staging have every invocation stage whole 8-half chunks of both slabs, in either orientation; fragment
 * staging has every subgroup stage the same number of 16-row bands of each. The operands' `layout` sets
 * the size of packed staging's slabs (without it, the larger).
 */
export function subgroupMatrixProblem(
  tile: SubgroupMatrixTile, lanes: number, workgroupStorage: number, maxInvocations: number, layout?: SubgroupMatrixLayout,
): string | null {
  const [sm, sn] = tile.subgroups;
  const [fm, fn] = tile.frags;
  if (![sm, sn, fm, fn].every((x) => Number.isInteger(x) && x >= 1 && x <= 8)) return 'subgroups and fragments must be integers in 1..8';
  if (!(Number.isInteger(tile.tk) && tile.tk >= 16 && tile.tk % 16 === 0)) return `tk must be a positive multiple of 16, got ${tile.tk}`;
  if (tile.stages !== 1 && tile.stages !== 2) return `stages must be 1 or 2, got ${String(tile.stages)}`;
  const invocations = sm * sn * lanes;
  if (invocations > maxInvocations) return `${invocations} invocations per workgroup, the device allows ${maxInvocations}`;
  const [tileM, tileN] = [16 * sm * fm, 16 * sn * fn];
  if (tile.staging === 'fragments') {
    if ((sm * fm) % (sm * sn) !== 0 || (sn * fn) % (sm * sn) !== 0)
      return `fragment staging needs the ${sm * fm} and ${sn * fn} bands of the slabs to split evenly over ${sm * sn} subgroups`;
  } else if ((tileM * tile.tk / 8) % invocations !== 0 || (tileN * tile.tk / 8) % invocations !== 0) {
    return `the ${tileM}x${tile.tk} and ${tile.tk}x${tileN} slabs do not split into 8-half chunks evenly over ${invocations} invocations`;
  }
  const bytes = subgroupMatrixBytes(tile, layout);
  if (bytes > workgroupStorage) return `needs ${bytes} bytes of workgroup memory, the device allows ${workgroupStorage}`;
  return null;
}

/**
 * Workgroup memory of the subgroup-matrix kernel: `stages` slabs per operand and a 16x16 f32 scratch per
 * subgroup. A slab is 16-row bands of padded k-contiguous rows, 16 * (tk + 8) halves each; with packed
 * staging the band of an m- or n-contiguous operand is tk k-rows of 24 halves and 16 more
 * (matmul_subgroup_matrix.wgsl), which is what both operands are taken to be when `layout` is not given.
 */
export function subgroupMatrixBytes(tile: SubgroupMatrixTile, layout?: SubgroupMatrixLayout): number {
  const [sm, sn] = tile.subgroups;
  const [bandsA, bandsB] = [sm * tile.frags[0], sn * tile.frags[1]];
  const kBand = 16 * (tile.tk + 8);
  const rowsBand = tile.staging === 'packed' ? 24 * tile.tk + 16 : kBand;
  const halves = bandsA * (layout?.aKContiguous ? kBand : rowsBand) + bandsB * (layout && !layout.bNContiguous ? kBand : rowsBand);
  return tile.stages * halves * 2 + sm * sn * 256 * 4;
}

/** Which matrix dim each operand of a subgroup-matrix GEMM is contiguous along (subgroupMatrixLayout). */
export interface SubgroupMatrixLayout {
  readonly aKContiguous: boolean;
  readonly bNContiguous: boolean;
}

/**
 * Which operand dims the subgroup-matrix kernel stages along, or null when it cannot run: f16
 * operands, each with unit stride along one matrix dim and 8-aligned offset and other strides (it
 * reads 8 halves at a time as one vec4<u32>), and K % 16 == 0 (fragments take K in whole steps of 16).
 */
export function subgroupMatrixLayout(spec: GemmSpec): SubgroupMatrixLayout | null {
  const aligned = (o: MatrixOperand, stride: number) => o.offset % 8 === 0 && stride % 8 === 0 && o.batchStrides.every((s) => s % 8 === 0);
  const aK = spec.a.colStride === 1 && aligned(spec.a, spec.a.rowStride);
  const aM = spec.a.rowStride === 1 && aligned(spec.a, spec.a.colStride);
  const bN = spec.b.colStride === 1 && aligned(spec.b, spec.b.rowStride);
  const bK = spec.b.rowStride === 1 && aligned(spec.b, spec.b.colStride);
  if (spec.a.dtype !== 'f16' || spec.b.dtype !== 'f16' || spec.k % 16 !== 0 || !(aK || aM) || !(bN || bK)) return null;
  return { aKContiguous: aK, bNContiguous: bN };
}

/**
 * Picks the kernel for a GEMM. The lanes kernel needs the `subgroups` feature and a known fixed
 * subgroup size (it shuffles across exactly one subgroup per workgroup), the subgroup-matrix kernel
 * f16 operands the adapter's matrix units can take (see subgroupMatrixLayout) and a tuned tile the
 * device's limits allow; otherwise the tiled kernel runs, with the largest tuned tile the device's
 * workgroup memory holds.
 */
export function chooseKernel(caps: GemmCaps, spec: GemmSpec): KernelChoice {
  const lanes = caps.subgroupSize;
  const layout = subgroupMatrixLayout(spec);
  if (caps.subgroupMatrixF16 && lanes !== undefined && layout) {
    const tile = subgroupMatrixTile(spec);
    if (subgroupMatrixProblem(tile, lanes, caps.workgroupStorage, caps.maxInvocations, layout) === null) return { variant: 'subgroup-matrix', ...tile, lanes };
  }
  return tunedChoice(caps, spec.m, hasEpilogue(spec));
}

/**
 * The lanes or tiled kernel the tuning table (the installed one, else TUNING for the adapter class) gives
 * GEMMs of `m` rows with or without a fused epilogue, or the portable default where the device cannot
 * run that entry.
 */
export function tunedChoice(caps: GemmCaps, m: number, fused: boolean): LanesChoice | TiledChoice {
  const table = caps.tuning ?? TUNING[caps.adapterClass];
  return entryChoice(caps, table.find((e) => m <= e.maxM && (e.epilogue === undefined || e.epilogue === fused)) ?? table[table.length - 1]!);
}

/** What a tuning entry runs on this device: its kernel, or the portable default where the device cannot run it. */
export function entryChoice(caps: GemmCaps, entry: MatmulTuningEntry): LanesChoice | TiledChoice {
  const lanes = caps.subgroupSize;
  if (entry.variant === 'lanes') return lanesSupported(caps.subgroups, lanes) ? { variant: 'lanes', rows: entry.rows, lanes: lanes! } : DEFAULT_TILED;
  const tiled = tiledChoiceOf(entry);
  return tiledBytes(tiled) <= caps.workgroupStorage ? tiled : DEFAULT_TILED;
}

/** Output tile (rows, columns) one workgroup of the chosen kernel covers. */
export function tileOf(choice: KernelChoice): [number, number] {
  switch (choice.variant) {
    case 'lanes':
      return [choice.rows, choice.lanes * 4];
    case 'tiled':
      return [64 * choice.blocks[0], 64 * choice.blocks[1]];
    case 'subgroup-matrix':
      return [16 * choice.subgroups[0] * choice.frags[0], 16 * choice.subgroups[1] * choice.frags[1]];
  }
}

const RELU = 'v = select(0.0, v, v > 0.0) + select(0.0, v, v != v);'; // keeps NaN, as torch.relu

/**
 * Whether the lanes kernel, or the tiled one with vec4 staging, may bind A as array<vec4<TA>>: k-contiguous
 * with K and every offset it forms (base, row and batch strides) a multiple of 4 elements, so
 * A[row, 4i .. 4i + 3] is one aligned vec4.
 */
export function vectorA(spec: GemmSpec, choice: KernelChoice): boolean {
  const a = spec.a;
  const kernel = choice.variant === 'lanes' || (choice.variant === 'tiled' && choice.vec4 === true && (64 * choice.blocks[0] * choice.tk) % VEC4_SLAB === 0);
  return kernel && a.colStride === 1 && spec.k % 4 === 0 && a.offset % 4 === 0 &&
    a.rowStride % 4 === 0 && a.batchStrides.every((s) => s % 4 === 0);
}

/** Elements of a tiled slab whose vec4 staging gives each of the 256 invocations a whole number of vec4s. */
const VEC4_SLAB = 4 * 256;

/**
 * How the lanes kernel, or the tiled one with vec4 staging, may bind B as array<vec4<TB>>: 'rows' when B
 * is row-major along N (a vec4 is 4 columns of one k), 'columns' when it is k-contiguous, as a PyTorch
 * [out, in] weight read as w^T (a vec4 is 4 consecutive k of one column), each only if every offset it
 * forms (base, strides, N or K) is a multiple of 4 elements; null otherwise (scalar loads).
 */
export function vectorB(spec: GemmSpec, choice: KernelChoice): 'rows' | 'columns' | null {
  const tiled = choice.variant === 'tiled' && choice.vec4 === true && (64 * choice.blocks[1] * choice.tk) % VEC4_SLAB === 0;
  if (choice.variant !== 'lanes' && !tiled) return null;
  const b = spec.b;
  const aligned = b.offset % 4 === 0 && b.batchStrides.every((s) => s % 4 === 0);
  if (aligned && b.colStride === 1 && spec.n % 4 === 0 && b.rowStride % 4 === 0) return 'rows';
  if (aligned && b.rowStride === 1 && spec.k % 4 === 0 && b.colStride % 4 === 0) return 'columns';
  return null;
}

/** load_b4 over an array<vec4<TB>> binding at any element offsets (the 'columns' binding, where only load_b_block reads B). */
const LOAD_B4_FROM_VEC4 = 'return vec4<f32>(f32(b_in[bo.x / 4u][bo.x % 4u]), f32(b_in[bo.y / 4u][bo.y % 4u]), f32(b_in[bo.z / 4u][bo.z % 4u]), f32(b_in[bo.w / 4u][bo.w % 4u]));';

/** load_b_block for a k-contiguous B: one vec4 along k per column, transposed in registers. */
const LOAD_B_COLUMNS = `let on = kb < p.k;
  let kc = min(kb, p.k - 4u);
  let c0 = select(vec4<f32>(0.0), vec4<f32>(b_in[(b_cols.x + kc) / 4u]), on);
  let c1 = select(vec4<f32>(0.0), vec4<f32>(b_in[(b_cols.y + kc) / 4u]), on);
  let c2 = select(vec4<f32>(0.0), vec4<f32>(b_in[(b_cols.z + kc) / 4u]), on);
  let c3 = select(vec4<f32>(0.0), vec4<f32>(b_in[(b_cols.w + kc) / 4u]), on);
  return transpose(mat4x4<f32>(c0, c1, c2, c3));`;

/**
 * The tiled kernel's vec4 staging of operand `x`. Its slab is `outer` rows (A: m; B: k) of `inner`
 * contiguous elements (A: k; B: n), laid out [outer][inner / 4] in workgroup memory: invocation e of the
 * slab's vec4s loads the 16 bytes at row e / LD4, elements 4 * (e % LD4) .. +3, and stores them whole as
 * element e. The inner extent is a multiple of 4, so a vec4 lies all inside it or all outside.
 */
function tiledVec4Staging(x: 'a' | 'b'): Record<string, string> {
  const [X, offset, outerBase, outerLimit, outerStride, innerBase, innerLimit] = x === 'a'
    ? ['A', 'offs.x', 'row_base', 'p.m', 'p.a_sm', 'k0', 'p.k']
    : ['B', 'offs.y', 'k0', 'p.k', 'p.b_sk', 'col_base', 'p.n'];
  return {
    [`${x}_next`]: `var<private> ${x}_next: array<vec4<f32>, ${X}_LOADS / 4u>;`,
    [`fetch_${x}`]: `for (var j = 0u; j < ${X}_LOADS / 4u; j++) {
    let e = li + WG * WG * j;
    let outer = ${outerBase} + e / ${X}_LD4;
    let inner = ${innerBase} + (e % ${X}_LD4) * 4u;
    let at = ${offset} + min(outer, ${outerLimit} - 1u) * ${outerStride} + min(inner, ${innerLimit} - 4u);
    ${x}_next[j] = select(vec4<f32>(0.0), vec4<f32>(${x}_in[at / 4u]), outer < ${outerLimit} && inner < ${innerLimit});
  }`,
    [`store_${x}`]: `for (var j = 0u; j < ${X}_LOADS / 4u; j++) { ${x}_tile[${x}_at + li + WG * WG * j] = ${x}_next[j]; }`,
  };
}

/**
 * The tiled kernel's staging of a k-contiguous B (a PyTorch [out, in] weight read as w^T) bound as
 * vec4s. Invocation e of the slab's vec4s loads k0 + 4 * (e / TILE_N) .. +3 of column e % TILE_N as one
 * 16-byte load and stores the 4 values down that column of the [k][n] slab. Consecutive invocations
 * take consecutive columns, so a warp's stores hit consecutive banks; its loads touch one cache line
 * per column, whose other 16-byte pieces the same fetch reads through the other chunks (with TK 32 a
 * line is one column's whole slab), a quarter of the load instructions of scalar staging, which walks
 * n with one element per load. An earlier variant walked k with scalar loads and strided stores
 * (padded rows): 2x slower than scalar staging on an H100, and removed.
 */
function tiledColumnStaging(): Record<string, string> {
  const chunk = `let e = li + WG * WG * j;
    let n = e % TILE_N;
    let k = (e / TILE_N) * 4u;`;
  return {
    b_next: 'var<private> b_next: array<vec4<f32>, B_LOADS / 4u>;',
    fetch_b: `for (var j = 0u; j < B_LOADS / 4u; j++) {
    ${chunk}
    let col = col_base + n;
    let at = offs.y + min(col, p.n - 1u) * p.b_sn + min(k0 + k, p.k - 4u);
    b_next[j] = select(vec4<f32>(0.0), vec4<f32>(b_in[at / 4u]), col < p.n && k0 + k < p.k);
  }`,
    store_b: `for (var j = 0u; j < B_LOADS / 4u; j++) {
      ${chunk}
      for (var c = 0u; c < 4u; c++) { b_tile[b_at + (k + c) * B_LD4 + n / 4u][n % 4u] = b_next[j][c]; }
    }`,
  };
}

/**
 * How the kernel binds A and B: the lanes and tiled kernels through vec4 bindings where vectorA / vectorB allow,
 * the subgroup-matrix kernel always as raw vec4<u32>s of 8 halves (`packedHalves`).
 */
interface VectorLoads {
  readonly a: boolean;
  readonly b: 'rows' | 'columns' | null;
  readonly packedHalves: boolean;
}

/** The kernel file specialised for a choice, and the constants that make it distinct. */
function kernelSource(spec: GemmSpec, choice: KernelChoice, loads: VectorLoads): { code: () => string; entryPoint: string; key: string } {
  switch (choice.variant) {
    case 'lanes':
      return {
        code: () => specialize('matmul_lanes', {}, {
          ROWS: `${choice.rows}u`,
          LANES: `${choice.lanes}u`,
          ...(loads.a ? { load_a4: 'return select(vec4<f32>(0.0), vec4<f32>(a_in[(ao + min(k, p.k - 4u)) / 4u]), k < p.k);' } : {}),
          ...(loads.b === 'rows' ? { load_b4: 'return vec4<f32>(b_in[bo.x / 4u]);' } : {}),
          ...(loads.b === 'columns' ? { load_b4: LOAD_B4_FROM_VEC4, load_b_block: LOAD_B_COLUMNS } : {}),
        }),
        entryPoint: 'matmul_lanes',
        key: `lanes/${choice.rows}/${choice.lanes}`,
      };
    case 'tiled':
      return {
        code: () => specialize('matmul', {}, {
          BLOCKS_M: `${choice.blocks[0]}u`, BLOCKS_N: `${choice.blocks[1]}u`, TK: `${choice.tk}u`, STAGES: `${choice.stages ?? 1}u`,
          ...(loads.a ? tiledVec4Staging('a') : {}),
          ...(loads.b === 'rows' ? tiledVec4Staging('b') : loads.b === 'columns' ? tiledColumnStaging() : {}),
          ...(choice.unrolled ? tiledUnrolledCode(choice.blocks[0], choice.blocks[1]) : {}),
          stores: tiledStoresCode(choice.blocks[0], choice.blocks[1], choice.unrolled ? (r, j) => `acc_${r}_${j}` : (r, j) => `acc[${r * choice.blocks[1] + j}u]`),
        }),
        entryPoint: 'matmul_tiled',
        key: `tiled/${choice.blocks.join('x')}/${choice.tk}${choice.stages === 2 ? '/2stages' : ''}${choice.unrolled ? '/unrolled' : ''}`,
      };
    case 'subgroup-matrix': {
      const layout = subgroupMatrixLayout(spec);
      if (!layout) throw new Error('matmul: the subgroup-matrix kernel needs f16 operands with 8-aligned rows and K % 16 == 0');
      return {
        code: () => specialize('matmul_subgroup_matrix', {}, {
          SUBGROUPS_M: `${choice.subgroups[0]}u`,
          SUBGROUPS_N: `${choice.subgroups[1]}u`,
          TK: `${choice.tk}u`,
          STAGES: `${choice.stages}u`,
          FRAGS_M: `${choice.frags[0]}u`,
          FRAGS_N: `${choice.frags[1]}u`,
          LANES: `${choice.lanes}u`,
          A_K_CONTIGUOUS: String(layout.aKContiguous),
          B_K_CONTIGUOUS: String(!layout.bNContiguous),
          ...subgroupMatrixFragmentCode(choice.frags[0], choice.frags[1], choice.tk, choice.staging === 'packed' ? layout : undefined),
          ...SUBGROUP_MATRIX_STAGING[choice.staging ?? 'chunks'],
        }),
        entryPoint: 'matmul_subgroup_matrix',
        key: `subgroup-matrix/${choice.subgroups.join('x')}/${choice.frags.join('x')}/${choice.tk}/${choice.stages}/${choice.lanes}/${layout.aKContiguous}/${layout.bNContiguous}` +
          (choice.staging && choice.staging !== 'chunks' ? `/${choice.staging}` : ''),
      };
    }
  }
}

/**
 * matmul_subgroup_matrix.wgsl's blocks for each way of filling the slabs: chunk staging is the file as
 * written less the other two; packed staging swaps the f16 slabs and half stores for the unit slabs and
 * store_units; fragment staging drops the register prefetch, and its slab fills call stage_fragments
 * (A and B bound as f16 arrays, see moduleCode's bindings).
 */
const SUBGROUP_MATRIX_STAGING: Record<NonNullable<SubgroupMatrixChoice['staging']>, Record<string, string>> = {
  chunks: { packed_staging: '', fragment_staging: '' },
  packed: {
    PACKED: 'true',
    half_slabs: '',
    chunk_staging: '',
    fragment_staging: '',
    stage_first: 'fetch_slabs(li, offs, row_base, col_base, seg.k_begin);\n  store_units(li, 0u);',
    store_next: 'if (more) { store_units(li, next); }',
  },
  fragments: {
    chunk_registers: '',
    chunk_staging: '',
    packed_staging: '',
    stage_first: 'stage_fragments(sg, offs, row_base, col_base, seg.k_begin, 0u);',
    fetch_next: '',
    store_next: 'if (more) { stage_fragments(sg, offs, row_base, col_base, k0 + TK, next); }',
  },
};

/**
 * matmul.wgsl's `stores` loop written out for blocksM x blocksN register blocks: one store_block_row call
 * per (row r of 4 * blocksM, block column j), its accumulator named by `accumulator(r, j)` with constant
 * indices. Every tiled kernel gets this. Left as a loop, the stores index the accumulator array by loop
 * counters, and a compiler that declines to unroll the loop (a fused epilogue makes its body long: a bias
 * load, GELU's erf, a residual load per element) must keep the whole array in addressable memory for the
 * entire kernel. On an H200 the 128x128 tile ran 10x slower with a bias than without, the same factor as
 * the 128x256 tile whose product loops kept their accumulators out of registers (matmul.wgsl's header).
 */
export function tiledStoresCode(blocksM: number, blocksN: number, accumulator: (r: number, j: number) => string): string {
  const calls: string[] = [];
  for (let r = 0; r < 4 * blocksM; r++) {
    for (let j = 0; j < blocksN; j++) calls.push(`store_block_row(out_bi, row_base, col_base, lid.xy, ${r}u, ${j}u, ${accumulator(r, j)}, offs.z);`);
  }
  return calls.join('\n  ');
}

/**
 * matmul.wgsl's accumulators and products written out for blocksM x blocksN register blocks: accumulator
 * acc_r_j for row r (of 4 * blocksM) and block column j, the A values of one 4-deep k step as a_r, the B
 * vectors as b_c_j, and one fma per (r, j, c) with constant indices only (the stores: tiledStoresCode).
 */
export function tiledUnrolledCode(blocksM: number, blocksN: number): Record<'accumulators' | 'products', string> {
  const rows = Array.from({ length: 4 * blocksM }, (_, r) => r);
  const cols = Array.from({ length: blocksN }, (_, j) => j);
  const pairs = rows.flatMap((r) => cols.map((j) => [r, j] as const));
  const lane = ['x', 'y', 'z', 'w'];
  return {
    accumulators: pairs.map(([r, j]) => `var acc_${r}_${j} = vec4<f32>(0.0);`).join('\n  '),
    products: [
      ...rows.map((r) => `let a_${r} = a_tile[a_at + (${Math.floor(r / 4)}u * WG * 4u + lid.y * 4u + ${r % 4}u) * A_LD4 + kq];`),
      ...[0, 1, 2, 3].flatMap((c) => [
        ...cols.map((j) => `let b_${c}_${j} = b_tile[b_at + (kq * 4u + ${c}u) * B_LD4 + ${j}u * WG + lid.x];`),
        ...pairs.map(([r, j]) => `acc_${r}_${j} = fma(vec4<f32>(a_${r}.${lane[c]}), b_${c}_${j}, acc_${r}_${j});`),
      ]),
    ].join('\n      '),
  };
}

/**
 * The per-fragment code of matmul_subgroup_matrix.wgsl for FRAGS_M x FRAGS_N fragments per subgroup and
 * slabs of TK: accumulators acc_i_j, the products of one slab as one block per 16-deep k step (fragment
 * loads at constant offsets into their bands), and the epilogue calls (the kernel file shows them for
 * one fragment and TK = 32). With `packed` (packed staging, the operands' layout) the fragments come
 * from the unit slabs, each with the majorness its operand's orientation gives, in the proposal's
 * template form; otherwise from the k-contiguous f16 slabs in the bool form this Dawn calls deprecated.
 */
export function subgroupMatrixFragmentCode(
  fragsM: number, fragsN: number, tk: number, packed?: SubgroupMatrixLayout,
): Record<'accumulators' | 'products' | 'stores', string> {
  const each = <T>(n: number, f: (i: number) => T) => Array.from({ length: n }, (_, i) => f(i));
  const pairs = each(fragsM, (i) => each(fragsN, (j) => [i, j] as const)).flat();
  // A's band is m x k: row-major when k-contiguous. B's is k x n: row-major when n-contiguous.
  const load = (side: 'left' | 'right', i: number, kk: number) => {
    const [slab, band, rowMajor] = side === 'left' ? ['a', 'a_band', packed?.aKContiguous] : ['b', 'b_band', packed?.bNContiguous];
    const type = `subgroup_matrix_${side}<f16, F, F>`;
    if (!packed) return `subgroupMatrixLoad<${type}>(&${slab}_slab[${band} + ${i}u], ${kk}u, ${side === 'right'}, ROW)`;
    const upper = slab.toUpperCase();
    return `subgroupMatrixLoad<${type}, ${rowMajor ? 'row_major' : 'col_major'}>(&${slab}_units[${band} + ${i}u], ${kk / 16}u * ${upper}_K_STEP, ${upper}_FRAG_STRIDE)`;
  };
  const step = (kk: number) => [
    '{',
    ...each(fragsM, (i) => `  let left_${i} = ${load('left', i, kk)};`),
    ...each(fragsN, (j) => `  let right_${j} = ${load('right', j, kk)};`),
    ...pairs.map(([i, j]) => `  acc_${i}_${j} = subgroupMatrixMultiplyAccumulate(left_${i}, right_${j}, acc_${i}_${j});`),
    '}',
  ];
  return {
    accumulators: pairs.map(([i, j]) => `var acc_${i}_${j}: subgroup_matrix_result<f32, F, F>;`).join('\n  '),
    products: each(tk / 16, (s) => step(16 * s)).flat().join('\n    '),
    stores: pairs
      .map(([i, j]) => `store_fragment(acc_${i}_${j}, sg, lane, out_bi, row_base + (sg_m * FRAGS_M + ${i}u) * F, col_base + (sg_n * FRAGS_N + ${j}u) * F, offs.z);`)
      .join('\n  '),
  };
}

/**
 * A kernel file completed by matmul_common.wgsl with the bindings and epilogue `spec` uses: A, B (unless
 * `withB` is false: the split-K sum binds only its partials, where A goes), [bias], [residual], out, [pre].
 */
function moduleCode(spec: GemmSpec, kernel: string, loads: VectorLoads, withB = true): string {
  const element = (vec4: boolean, type: string) => (loads.packedHalves ? 'vec4<u32>' : vec4 ? `vec4<${type}>` : type);
  const decl = [`@group(0) @binding(1) var<storage, read> a_in: array<${element(loads.a, 'TA')}>;`];
  if (withB) decl.push(`@group(0) @binding(2) var<storage, read> b_in: array<${element(loads.b !== null, 'TB')}>;`);
  const body: string[] = [];
  let next = decl.length + 1;
  if (spec.bias) {
    decl.push(`@group(0) @binding(${next++}) var<storage, read> bias_in: array<${spec.bias.dtype}>;`);
    body.push('v += f32(bias_in[p.bias_off + col * p.bias_sn]);');
  }
  if (spec.residual) decl.push(`@group(0) @binding(${next++}) var<storage, read> res_in: array<${spec.residual.dtype}>;`);
  decl.push(`@group(0) @binding(${next++}) var<storage, read_write> out: array<TO>;`);
  if (spec.savePre) {
    decl.push(`@group(0) @binding(${next++}) var<storage, read_write> pre_out: array<TO>;`);
    body.push('pre_out[idx] = TO(v);');
  }
  if (spec.activation === 'gelu') body.push('v = gelu_f32(v);');
  if (spec.activation === 'relu') body.push(RELU);
  body.push(spec.residual ? 'v += f32(res_in[res_base + row * p.res_sm + col * p.res_sn]);' : '_ = res_base;');
  const types = { TA: spec.a.dtype, TB: spec.b.dtype, TO: spec.out };
  const common = specialize('matmul_common', types, { bindings: decl.join('\n'), epilogue: body.join(' ') });
  // `specialize` put any `enable f16;` at the top of `common`; directives must open the module.
  const directives = [...new Set(`${kernel}\n${common}`.match(/^enable [a-z0-9_]+;$/gm) ?? [])];
  const strip = (s: string) => s.replace(/^enable [a-z0-9_]+;$/gm, '');
  return [...directives, strip(kernel), strip(common), spec.activation === 'gelu' ? WGSL_SOURCES.math : ''].join('\n');
}

/** Slabs per K segment at least: each segment still pays the tile's prologue and its partial store. */
const MIN_SLABS_PER_SEGMENT = 4;
/** K segments at most: each adds an M x N partial to write and read. */
const MAX_K_SEGMENTS = 8;

/**
 * The split-K choice for a GEMM on an adapter class (matmul.wgsl's "Split K"): on GPUs, a tiled or
 * subgroup-matrix GEMM whose output is fewer tiles (times batch entries) than half of
 * SPLIT_TARGET_WORKGROUPS splits K into as many segments of whole slabs as bring the grid to the target,
 * of at least MIN_SLABS_PER_SEGMENT slabs and at most MAX_K_SEGMENTS (ViT-B's 768-wide projections at 8
 * images: 78 tiles of 128 x 128 and K = 768 -> 4 segments of 192); never on CPU adapters, whose few cores
 * any grid fills, nor for the lanes kernel. `splitOf(spec.k, tk, n)` forces n.
 */
export function chooseKSplit(adapterClass: AdapterClass, spec: GemmSpec, choice: KernelChoice): Split {
  if (adapterClass === 'cpu' || choice.variant === 'lanes') return unsplit(spec.k);
  const [tileM, tileN] = tileOf(choice);
  const grid = Math.ceil(spec.m / tileM) * Math.ceil(spec.n / tileN) * batchCount(spec);
  return gridFillingSplit(grid, spec.k, choice.tk, MIN_SLABS_PER_SEGMENT, MAX_K_SEGMENTS);
}

/**
 * A split-K GEMM's first pass: `spec` without its epilogue, into f32 partials [segments * batch, M, N].
 * kernels/matmul.ts matmulLaunches runs it with the split; matmulSplitKSumLaunch finishes it.
 */
export function splitKPartialSpec(spec: GemmSpec): GemmSpec {
  return { ...spec, out: 'f32', bias: undefined, residual: undefined, activation: 'none', savePre: false };
}

/**
 * The launches for one GEMM: one per chunk of at most 65535 batch entries (grid z), or with K split (the
 * tiled and subgroup-matrix kernels, a spec from splitKPartialSpec, segments x batch entries <= 65535)
 * one launch whose grid z is (segment, batch entry). The caller binds a, b, [bias], [residual], out,
 * [pre] in that order.
 */
export function matmulLaunches(spec: GemmSpec, choice: KernelChoice, split: Split = unsplit(spec.k)): Launch[] {
  const loads: VectorLoads = {
    a: vectorA(spec, choice), b: vectorB(spec, choice), packedHalves: choice.variant === 'subgroup-matrix' && choice.staging !== 'fragments',
  };
  const kernel = kernelSource(spec, choice, loads);
  const code = () => moduleCode(spec, kernel.code(), loads);
  const [tileM, tileN] = tileOf(choice);
  const batch = batchCount(spec);
  const key = [
    'matmul', kernel.key, loads.a ? 'a4' : 'a1', loads.b ?? 'b1', spec.a.dtype, spec.b.dtype, spec.out,
    spec.bias?.dtype ?? '-', spec.residual?.dtype ?? '-', spec.activation, spec.savePre,
  ].join('/');
  if (split.segments > 1 && (choice.variant === 'lanes' || hasEpilogue(spec) || spec.out !== 'f32' || split.segments * batch > MAX_GRID_DIM))
    throw new Error('matmul: split K needs the tiled or subgroup-matrix kernel, an epilogue-free f32 partial spec and segments x batch <= 65535');
  const launches: Launch[] = [];
  for (let base = 0; base < batch; base += MAX_GRID_DIM) {
    const entries = Math.min(MAX_GRID_DIM, batch - base);
    launches.push({
      key,
      code,
      entryPoint: kernel.entryPoint,
      params: gemmParams(spec, base, split, entries),
      workgroups: [Math.ceil(spec.n / tileN), Math.ceil(spec.m / tileM), entries * split.segments],
    });
  }
  return launches;
}

/** matmul_common.wgsl's Params for the dispatch of `entries` batch entries from `base`. */
function gemmParams(spec: GemmSpec, base: number, split: Split, entries: number): ArrayBuffer {
  return new ParamWriter()
    .u32(spec.m).u32(spec.n).u32(spec.k).u32(spec.batchShape.length)
    .u32(spec.a.offset).u32(spec.a.rowStride).u32(spec.a.colStride)
    .u32(spec.b.offset).u32(spec.b.rowStride).u32(spec.b.colStride)
    .u32(spec.bias?.offset ?? 0).u32(spec.bias?.stride ?? 0)
    .u32(spec.residual?.offset ?? 0).u32(spec.residual?.rowStride ?? 0).u32(spec.residual?.colStride ?? 0)
    .u32(base)
    .u32(split.segments).u32(split.perSegment).u32(entries).u32(batchCount(spec))
    .u32x4Array(spec.batchShape, 2, 1)
    .u32x4Array(spec.a.batchStrides, 2, 0)
    .u32x4Array(spec.b.batchStrides, 2, 0)
    .u32x4Array(spec.residual?.batchStrides ?? [], 2, 0)
    .finish();
}

/**
 * The second pass of a split-K GEMM, matmul_split_k.wgsl: sums the segments' f32 partials and applies
 * `spec`'s epilogue into its output. The caller binds partials, [bias], [residual], out, [pre].
 */
export function matmulSplitKSumLaunch(spec: GemmSpec, split: Split): Launch {
  const batch = batchCount(spec);
  const sumSpec: GemmSpec = { ...spec, a: { ...spec.a, dtype: 'f32' } };
  return {
    key: ['matmul', 'split-k-sum', spec.b.dtype, spec.out, spec.bias?.dtype ?? '-', spec.residual?.dtype ?? '-', spec.activation, spec.savePre].join('/'),
    code: () => moduleCode(sumSpec, WGSL_SOURCES.matmul_split_k, { a: false, b: null, packedHalves: false }, false),
    entryPoint: 'matmul_split_k',
    params: gemmParams(spec, 0, split, batch),
    workgroups: grid1d(Math.ceil((batch * spec.m * spec.n) / WG1D)),
  };
}
