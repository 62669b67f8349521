/**
 * Launchers for kernels/wgsl/layernorm.wgsl: LayerNorm forward (plain or fused with a residual add),
 * the per-row input gradient, and the two-stage weight/bias gradient reduction.
 *
 * Rows are the leading dims of the operands, which may be strided (their strides are merged like the
 * elementwise kernels'); the D normalized elements of each row must be contiguous. Rows are loaded as
 * vec4 when D % 4 == 0 and every row start is 4-aligned, else element by element.
 */
import { coalesce } from './elementwise.js';
import { ParamWriter, grid1d, specialize, type Launch, type AdapterClass } from './launch.js';

export type FloatType = 'f32' | 'f16';

/** Where the rows of one operand start: element offset plus one stride per leading dim. */
export interface RowOperand {
  readonly offset: number;
  readonly strides: readonly number[];
}

/** Rows of D elements, indexed over `leading` (the leading shape, rows = its product). */
export interface RowsSpec {
  readonly dtype: FloatType;
  readonly leading: readonly number[];
  readonly d: number;
  readonly adapterClass: AdapterClass;
}

/** Rows below which the one-invocation-per-row form would leave the CPU's cores idle. */
const MIN_COLUMN_ROWS = 16;

/**
 * Kernel form and workgroup size. GPUs run one workgroup per row with enough invocations to cover the
 * row in one sweep (up to 256): neighbouring invocations read neighbouring vectors. On lavapipe a
 * workgroup is a loop over 8-wide SIMD batches with a coroutine switch per barrier; there one invocation
 * per row (no barriers, no reduction) beat 8-wide row workgroups by 1.4-1.6x on 4096 x 768, and wider
 * row workgroups were slower still (WG 8 / 16 / 32 / 64 / 128: 41 / 48 / 78 / 92 / 156 ms in one
 * interleaved run; 2 busy cores, so only the ranking is meaningful).
 */
function plan(rows: number, units: number, adapterClass: AdapterClass): { columns: boolean; wg: number; groups: [number, number, number] } {
  if (adapterClass === 'cpu') {
    if (rows >= MIN_COLUMN_ROWS) return { columns: true, wg: 16, groups: grid1d(Math.ceil(rows / 16)) };
    return { columns: false, wg: 8, groups: grid1d(rows) };
  }
  let wg = 32;
  while (wg < units && wg < 256) wg *= 2;
  return { columns: false, wg, groups: grid1d(rows) };
}

/** Columns of vectors per workgroup in the weight/bias gradient kernels. */
const COLUMN_WG = 64;

interface Layout {
  readonly lanes: 1 | 4;
  readonly rank: number;
  readonly shape: number[];
  readonly strides: number[][];
  readonly offsets: number[];
}

/**
 * Merges the leading dims and picks the load unit. `operands` are the row-strided inputs (at most two
 * travel with strides); `aligned` lists other element offsets (weight, bias) that vec4 loads must divide.
 */
function layout(d: number, leading: readonly number[], operands: readonly RowOperand[], aligned: readonly number[]): Layout {
  const merged = coalesce(leading, operands.map((o) => o.strides));
  const offsets = operands.map((o) => o.offset);
  const vec4 =
    d % 4 === 0 &&
    [...offsets, ...aligned].every((o) => o % 4 === 0) &&
    merged.strides.every((s) => s.every((v) => v % 4 === 0));
  const lanes = vec4 ? 4 : 1;
  return {
    lanes,
    rank: merged.shape.length,
    shape: merged.shape,
    strides: merged.strides.map((s) => s.map((v) => v / lanes)),
    offsets: offsets.map((o) => o / lanes),
  };
}

function code(dtype: FloatType, lanes: 1 | 4): string {
  if (lanes === 4) return specialize('layernorm', { T: dtype, V: `vec4<${dtype}>`, VF: 'vec4<f32>' });
  return specialize('layernorm', { T: dtype, V: dtype, VF: 'f32' }, { lanes: 'const LANES = 1u;', hsum: 'return v;' });
}

interface ParamFields {
  rows: number;
  dv: number;
  eps?: number;
  offsets: readonly number[];
  w?: number;
  bias?: number;
  mean?: number;
  rstd?: number;
  chunkRows?: number;
  chunks?: number;
  lay: Layout;
}

function params(f: ParamFields): ArrayBuffer {
  return new ParamWriter()
    .u32(f.rows)
    .u32(f.dv)
    .u32(f.lay.rank)
    .f32(f.eps ?? 0)
    .u32(f.offsets[0] ?? 0)
    .u32(f.offsets[1] ?? 0)
    .u32(f.w ?? 0)
    .u32(f.bias ?? 0)
    .u32(f.mean ?? 0)
    .u32(f.rstd ?? 0)
    .u32(f.chunkRows ?? 0)
    .u32(f.chunks ?? 0)
    .u32x4Array(f.lay.shape, 2, 1)
    .u32x4Array(f.lay.strides[0] ?? [], 2, 0)
    .u32x4Array(f.lay.strides[1] ?? [], 2, 0)
    .finish();
}

const rowsOf = (leading: readonly number[]): number => leading.reduce((n, v) => n * v, 1);

export interface LayerNormSpec extends RowsSpec {
  readonly eps: number;
  readonly x: RowOperand;
  /** Present for the fused residual variant (bindings: x, w, b, y, stats, residual, sum). */
  readonly residual?: RowOperand;
  /** Element offsets of weight / bias (contiguous, D elements), when present. */
  readonly weightOffset?: number;
  readonly biasOffset?: number;
}

/**
 * Forward launch. Buffers: x, weight (x when absent), bias (x when absent), y, stats [2, rows]
 * (mean then rstd, f32); the residual variant appends residual and sum.
 */
export function layerNormLaunch(spec: LayerNormSpec): Launch {
  const operands = spec.residual ? [spec.x, spec.residual] : [spec.x];
  const aligned = [spec.weightOffset ?? 0, spec.biasOffset ?? 0];
  const lay = layout(spec.d, spec.leading, operands, aligned);
  const rows = rowsOf(spec.leading);
  const dv = spec.d / lay.lanes;
  const { columns, wg, groups } = plan(rows, dv, spec.adapterClass);
  const hasWeight = spec.weightOffset !== undefined;
  const hasBias = spec.biasOffset !== undefined;
  const entryPoint = `${spec.residual ? 'layer_norm_residual' : 'layer_norm'}${columns ? '_cols' : ''}`;
  return {
    key: `layernorm/${entryPoint}/${spec.dtype}/v${lay.lanes}/wg${wg}/w${+hasWeight}b${+hasBias}`,
    code: () => code(spec.dtype, lay.lanes),
    entryPoint,
    constants: { WG: wg, HAS_WEIGHT: +hasWeight, HAS_BIAS: +hasBias },
    params: params({
      rows,
      dv,
      eps: spec.eps,
      offsets: lay.offsets,
      w: (spec.weightOffset ?? 0) / lay.lanes,
      bias: (spec.biasOffset ?? 0) / lay.lanes,
      lay,
    }),
    workgroups: groups,
  };
}

export interface LayerNormBackwardSpec extends RowsSpec {
  readonly dy: RowOperand;
  readonly x: RowOperand;
  /** Element offsets of the saved f32 statistics (contiguous over rows). */
  readonly meanOffset: number;
  readonly rstdOffset: number;
  readonly weightOffset?: number;
}

/** dx launch. Buffers: dy, x, mean, rstd, weight (x when absent), dx. */
export function layerNormDxLaunch(spec: LayerNormBackwardSpec): Launch {
  const lay = layout(spec.d, spec.leading, [spec.dy, spec.x], [spec.weightOffset ?? 0]);
  const rows = rowsOf(spec.leading);
  const dv = spec.d / lay.lanes;
  const { columns, wg, groups } = plan(rows, dv, spec.adapterClass);
  const hasWeight = spec.weightOffset !== undefined;
  const entryPoint = columns ? 'layer_norm_dx_cols' : 'layer_norm_dx';
  return {
    key: `layernorm/${entryPoint}/${spec.dtype}/v${lay.lanes}/wg${wg}/w${+hasWeight}`,
    code: () => code(spec.dtype, lay.lanes),
    entryPoint,
    constants: { WG: wg, HAS_WEIGHT: +hasWeight },
    params: params({
      rows,
      dv,
      offsets: lay.offsets,
      w: (spec.weightOffset ?? 0) / lay.lanes,
      mean: spec.meanOffset,
      rstd: spec.rstdOffset,
      lay,
    }),
    workgroups: groups,
  };
}

/** Rows per chunk of the column reduction: at least 32, and at most 256 chunks. */
const MIN_CHUNK_ROWS = 32;
const MAX_CHUNKS = 256;

export interface ColumnGradLaunches {
  /** f32 elements of the partials buffer ([2, chunks, D]). */
  readonly partialElements: number;
  /** Buffers: dy, x, mean, rstd, partials. */
  readonly partials: Launch;
  /** Buffers: partials, dweight, dbias. */
  readonly reduce: Launch;
}

/**
 * The two launches computing dweight = sum over rows of dy * xhat and dbias = sum of dy. Stage 1 splits
 * the rows into fixed chunks (a function of the shape only), stage 2 adds the chunk partials in order:
 * the result is deterministic and needs no atomics (which WGSL has only for integers).
 */
export function layerNormColumnGradLaunches(spec: LayerNormBackwardSpec): ColumnGradLaunches {
  const lay = layout(spec.d, spec.leading, [spec.dy, spec.x], []);
  const rows = rowsOf(spec.leading);
  const dv = spec.d / lay.lanes;
  const chunks = Math.max(1, Math.min(MAX_CHUNKS, Math.ceil(rows / MIN_CHUNK_ROWS)));
  const chunkRows = Math.max(1, Math.ceil(rows / chunks));
  const columnGroups = Math.min(65535, Math.ceil(dv / COLUMN_WG));
  const text = () => code(spec.dtype, lay.lanes);
  const keyBase = `layernorm/%/${spec.dtype}/v${lay.lanes}/wg${COLUMN_WG}`;
  const fields = { rows, dv, offsets: lay.offsets, mean: spec.meanOffset, rstd: spec.rstdOffset, chunkRows, chunks, lay };
  return {
    partialElements: 2 * chunks * spec.d,
    partials: {
      key: keyBase.replace('%', 'column_partials'),
      code: text,
      entryPoint: 'column_partials',
      constants: { WG: COLUMN_WG },
      params: params(fields),
      workgroups: [columnGroups, chunks, 1],
    },
    reduce: {
      key: keyBase.replace('%', 'column_reduce'),
      code: text,
      entryPoint: 'column_reduce',
      constants: { WG: COLUMN_WG },
      params: params(fields),
      workgroups: [columnGroups, 1, 1],
    },
  };
}
