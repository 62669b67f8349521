/**
 * Launcher for kernels/wgsl/reduce.wgsl. Picks the strategy (one workgroup per output, one invocation per
 * output, or a two-pass split), the workgroup size per adapter class, and injects each reduction's
 * accumulator algebra (identity / load / combine / finish) and subgroup step into the shader.
 */
import { coalesce } from './elementwise.js';
import { ParamWriter, grid1d, specialize, type ElementType, type Launch } from './launch.js';

export type ReduceKind = 'sum' | 'mean' | 'prod' | 'max' | 'min' | 'argmax' | 'argmin' | 'var' | 'std' | 'logsumexp';

/** The input as the kernel sees it: kept dims and reduced dims, each with the input's strides. */
export interface ReduceInput {
  readonly dtype: ElementType;
  readonly offset: number;
  readonly outShape: readonly number[];
  readonly outStrides: readonly number[];
  readonly redShape: readonly number[];
  readonly redStrides: readonly number[];
}

export interface ReduceConfig {
  readonly adapterClass: 'cpu' | 'gpu';
  /** Use the subgroup intra-step (the caller checks the device feature). */
  readonly subgroups: boolean;
  /** var/std divisor is max(0, n - correction). */
  readonly correction?: number;
}

/** One or two dispatches; with two, `partials` Acc records (12 bytes each) pass between them. */
export interface ReducePlan {
  readonly launches: readonly Launch[];
  readonly partials: number;
}

/** Bytes of one partial accumulator record (struct Acc: three 4-byte fields). */
export const PARTIAL_BYTES = 12;

interface Algebra {
  identity: string;
  load: string;
  combine: string;
  finish: string;
  /** Subgroup intra-step; defaults to a shuffle-xor butterfly running `combine`. */
  subgroup?: string;
}

function extremes(acc: ElementType): { lowest: string; highest: string } {
  if (acc === 'i32') return { lowest: 'i32(-2147483647 - 1)', highest: 'i32(2147483647)' };
  if (acc === 'u32') return { lowest: '0u', highest: '4294967295u' };
  return { lowest: 'neg_inf()', highest: 'pos_inf()' };
}

const NAN_WINS_MAX = 'select(max(a.v, b.v), a.v + b.v, is_nan(a.v) || is_nan(b.v))';
const NAN_WINS_MIN = 'select(min(a.v, b.v), a.v + b.v, is_nan(a.v) || is_nan(b.v))';

/** argmax (`better` = '>') / argmin ('<'): NaN beats numbers, ties and NaN-vs-NaN go to the lower index. */
function argCombine(better: '>' | '<'): string {
  return `
  let a_nan = is_nan(a.v);
  let b_nan = is_nan(b.v);
  var a_wins = a.i < b.i;
  if (a_nan != b_nan) { a_wins = a_nan; }
  else if (!a_nan && a.v != b.v) { a_wins = a.v ${better} b.v; }
  if (a_wins) { return a; }
  return b;`;
}

const WELFORD_COMBINE = `
  let n = a.i + b.i;
  if (n == 0u) { return a; }
  let delta = b.v - a.v;
  let fb = f32(b.i) / f32(n);
  return Acc(a.v + delta * fb, a.w + b.w + delta * delta * f32(a.i) * fb, n);`;

// Online logsumexp merge. Infinite maxima are handled before the rescale, where inf - inf would give NaN.
const LSE_COMBINE = `
  if (is_nan(a.v) || is_nan(b.v)) { return Acc(a.v + b.v, 1.0, 0u); }
  let m = max(a.v, b.v);
  if (m < -0x1.fffffep+127f) { return a; }
  if (m > 0x1.fffffep+127f) { return Acc(m, 1.0, 0u); }
  return Acc(m, a.w * exp(a.v - m) + b.w * exp(b.v - m), 0u);`;

function algebra(kind: ReduceKind, acc: ElementType): Algebra {
  const { lowest, highest } = extremes(acc);
  const value = (combine: string, identity: string): Algebra => ({
    identity: `Acc(${identity}, 0.0, 0u)`,
    load: 'Acc(A(x), 0.0, 0u)',
    combine: `Acc(${combine}, 0.0, 0u)`,
    finish: 'R(a.v)',
  });
  switch (kind) {
    case 'sum':
      return { ...value('a.v + b.v', 'A(0)'), subgroup: 'Acc(subgroupAdd(own.v), 0.0, 0u)' };
    case 'mean':
      return { ...value('a.v + b.v', 'A(0)'), finish: 'R(a.v / f32(p.n_red))', subgroup: 'Acc(subgroupAdd(own.v), 0.0, 0u)' };
    case 'prod':
      return { ...value('a.v * b.v', 'A(1)'), subgroup: 'Acc(subgroupMul(own.v), 0.0, 0u)' };
    case 'max':
      return value(NAN_WINS_MAX, lowest);
    case 'min':
      return value(NAN_WINS_MIN, highest);
    case 'argmax':
    case 'argmin':
      return {
        identity: `Acc(${kind === 'argmax' ? lowest : highest}, 0.0, 0xffffffffu)`,
        load: 'Acc(A(x), 0.0, r)',
        combine: argCombine(kind === 'argmax' ? '>' : '<'),
        finish: 'R(i32(a.i))',
      };
    case 'var':
    case 'std': {
      const variance = 'a.w / max(0.0, f32(a.i) - p.correction)';
      const value = kind === 'std' ? `sqrt(${variance})` : variance;
      return {
        identity: 'Acc(0.0, 0.0, 0u)',
        load: 'Acc(f32(x), 0.0, 1u)',
        combine: WELFORD_COMBINE,
        finish: `R(select(nan_f32(), ${value}, is_finite_f32(a.v)))`,
      };
    }
    case 'logsumexp':
      return {
        identity: 'Acc(neg_inf(), 0.0, 0u)',
        load: 'Acc(f32(x), 1.0, 0u)',
        combine: LSE_COMBINE,
        finish: 'R(a.v + log(a.w))',
      };
  }
}

const BUTTERFLY = `
  var acc = own;
  for (var m = ids.sg_size / 2u; m > 0u; m = m / 2u) {
    let other = Acc(subgroupShuffleXor(acc.v, m), subgroupShuffleXor(acc.w, m), subgroupShuffleXor(acc.i, m));
    acc = combine(acc, other);
  }
  return acc;`;

// Subgroup totals go to one workgroup slot per subgroup; every subgroup then folds the slots (each lane
// takes every sg_size-th) and runs the subgroup step again, so all control flow stays uniform.
const SUBGROUP_TREE = `
  let total = subgroup_step(own, ids);
  let n_sg = (WG + ids.sg_size - 1u) / ids.sg_size;
  if (ids.sg_lane == 0u) { sh[ids.lid / ids.sg_size] = total; }
  workgroupBarrier();
  var acc = identity();
  for (var k = ids.sg_lane; k < n_sg; k += ids.sg_size) {
    acc = combine(acc, sh[k]);
  }
  return subgroup_step(acc, ids);`;

/** Expressions become `return expr;`; multi-statement snippets carry their own returns. */
function body(code: string): string {
  return code.includes('return') ? code : `return ${code};`;
}

/** Accumulator and output element types for a reduction of `input` elements. */
export function reduceTypes(kind: ReduceKind, input: ElementType): { acc: ElementType; out: ElementType } {
  const acc: ElementType = input === 'f16' ? 'f32' : input;
  return { acc, out: kind === 'argmax' || kind === 'argmin' ? 'i32' : input };
}

/** reduce.wgsl's accumulate body and input binding for contiguous, 4-aligned reduced runs. */
const VEC4_BODIES = {
  x_binding: '@group(0) @binding(1) var<storage, read> x: array<vec4<T>>;',
  x_at: 'return x[i >> 2u][i & 3u];',
  x4_at: 'return x[i >> 2u];',
  accumulate: `for (var r = start + 4u * lid; r < end; r += 4u * lanes) {
    let q = x4_at(base + r);
    for (var e = 0u; e < 4u; e++) {
      if (r + e < end) { acc = combine(acc, load(q[e], r + e)); }
    }
  }`,
};

/** The shader source for a reduction variant, built only when its pipeline is first compiled (see Launch.code). */
function shaderFor(kind: ReduceKind | 'cumsum', input: ElementType, subgroups: boolean, vec4 = false): () => string {
  return () => generateShader(kind, input, subgroups, vec4);
}

function generateShader(kind: ReduceKind | 'cumsum', input: ElementType, subgroups: boolean, vec4: boolean): string {
  const { acc, out } = reduceTypes(kind === 'cumsum' ? 'sum' : kind, input);
  const alg = algebra(kind === 'cumsum' ? 'sum' : kind, acc);
  const bodies: Record<string, string> = {
    is_nan: acc === 'f32' ? 'return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;' : 'return false;',
    identity: body(alg.identity),
    load: body(alg.load),
    combine: body(alg.combine),
    finish: body(alg.finish),
    ...(vec4 ? VEC4_BODIES : {}),
  };
  if (subgroups) {
    bodies.sg_ids = '@builtin(subgroup_size) sg_size: u32, @builtin(subgroup_invocation_id) sg_lane: u32,';
    bodies.sg_step = alg.subgroup ? `return ${alg.subgroup};` : BUTTERFLY;
    bodies.tree = SUBGROUP_TREE;
  }
  const code = specialize('reduce', { T: input, A: acc, R: out }, bodies);
  // subgroup_size is uniform, but the uniformity analysis sees it through the Ids struct parameter
  // (which also carries the lane id) and cannot tell.
  return subgroups ? `enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n${code}` : code;
}

/** Kept and reduced dims after merging contiguous neighbours, with the element counts of each side. */
interface Layout {
  outShape: readonly number[];
  outStrides: readonly number[];
  redShape: readonly number[];
  redStrides: readonly number[];
  nOut: number;
  nRed: number;
}

function params(offset: number, shape: Layout, chunk: number, splits: number, correction: number): ArrayBuffer {
  return new ParamWriter()
    .u32(shape.nOut)
    .u32(shape.nRed)
    .u32(chunk)
    .u32(splits)
    .u32(shape.outShape.length)
    .u32(shape.redShape.length)
    .u32(offset)
    .f32(correction)
    .u32x4Array(shape.outShape, 2, 1)
    .u32x4Array(shape.outStrides, 2, 0)
    .u32x4Array(shape.redShape, 2, 1)
    .u32x4Array(shape.redStrides, 2, 0)
    .finish();
}

function coalesced(input: ReduceInput): Layout {
  const o = coalesce(input.outShape, [input.outStrides]);
  const r = coalesce(input.redShape, [input.redStrides]);
  return {
    outShape: o.shape,
    outStrides: o.strides[0]!,
    redShape: r.shape,
    redStrides: r.strides[0]!,
    nOut: input.outShape.reduce((n, d) => n * d, 1),
    nRed: input.redShape.reduce((n, d) => n * d, 1),
  };
}

/**
 * Tuning per adapter class. CPU (lavapipe): a workgroup is a loop on one core over 8-wide SIMD lanes,
 * barriers are expensive and only a few workgroups run at once, so workgroups are small and a split
 * needs only a handful of chunks; with `runsMinOutputs` outputs or more (16 workgroups of one invocation
 * per output, enough for a many-core CPU too) every reduction takes the barrier-free reduce_cols. GPU:
 * 256-wide workgroups and enough chunks to fill every SM; one invocation per output only where outputs
 * are neighbours in memory (`columnLayout`) or extents short.
 */
const TUNING = {
  cpu: { wg: 32, splitTarget: 16, minChunk: 4096, colsMinOutputs: 64, colsMaxExtent: 16, runsMinOutputs: 512 },
  gpu: { wg: 256, splitTarget: 512, minChunk: 8192, colsMinOutputs: 4096, colsMaxExtent: 16, runsMinOutputs: Infinity },
} as const;

/** Plans the dispatches of one reduction (n_out >= 1 and n_red >= 1; the engine handles empty cases). */
export function reducePlan(kind: ReduceKind, input: ReduceInput, config: ReduceConfig): ReducePlan {
  const tune = TUNING[config.adapterClass];
  const shape = coalesced(input);
  const correction = config.correction ?? 0;
  const constants = { WG: tune.wg };
  // The vec4 variant needs every output's reduced run contiguous and 4-aligned (split chunks are then
  // rounded to multiples of 4 below).
  const vec4 = shape.redShape.length === 1 && shape.redStrides[0] === 1 && input.offset % 4 === 0 && shape.outStrides.every((s) => s % 4 === 0);
  const launch = (entryPoint: string, chunk: number, splits: number, groups: number, wide = false): Launch => ({
    key: `reduce/${kind}/${input.dtype}/${config.subgroups ? 'sg' : 'plain'}/${tune.wg}${wide ? '/v4' : ''}/${entryPoint}`,
    code: shaderFor(kind, input.dtype, config.subgroups, wide),
    entryPoint,
    constants,
    params: params(input.offset, shape, chunk, splits, correction),
    workgroups: grid1d(groups),
  });

  // Outer-axis reductions whose outputs sit next to each other in memory: one invocation per output
  // reads consecutive addresses across the workgroup. Short extents: a workgroup per output would idle.
  const innerOutputStride = shape.outStrides[shape.outStrides.length - 1];
  const innerRedStride = shape.redStrides[shape.redStrides.length - 1];
  const columnLayout = innerOutputStride === 1 && innerRedStride !== 1 && shape.nOut >= tune.colsMinOutputs;
  const shortOrColumns = shape.nRed <= tune.colsMaxExtent || columnLayout;
  if (shortOrColumns) {
    // Four adjacent outputs per invocation when the innermost kept dim is contiguous with a multiple of 4
    // entries (so each group of four shares its other coordinates) and every other step keeps 4-alignment.
    const outer = shape.outStrides.slice(0, -1);
    const innerOutputs = shape.outShape[shape.outShape.length - 1]!;
    const cols4 = innerOutputStride === 1 && (shape.outShape.length === 1 || innerOutputs % 4 === 0) && outer.every((s) => s % 4 === 0) &&
      input.offset % 4 === 0 && shape.redStrides.every((s) => s % 4 === 0);
    if (cols4) return { launches: [launch('reduce_cols4', shape.nRed, 1, Math.ceil(shape.nOut / 4 / tune.wg), true)], partials: 0 };
  }
  // One invocation per output, walking its run (as vec4s where it is contiguous and 4-aligned): the short
  // and column cases above, and, on CPU adapters (runsMinOutputs), any contiguous runs with enough outputs:
  // no barrier; see reduce.wgsl's header.
  if (shortOrColumns || (innerRedStride === 1 && shape.nOut >= tune.runsMinOutputs))
    return { launches: [launch('reduce_cols', shape.nRed, 1, Math.ceil(shape.nOut / tune.wg), vec4)], partials: 0 };
  if (shape.nOut < tune.splitTarget && shape.nRed >= 2 * tune.minChunk) {
    const wanted = Math.min(Math.ceil(tune.splitTarget / shape.nOut), Math.floor(shape.nRed / tune.minChunk));
    const chunk = Math.ceil(shape.nRed / wanted / 4) * 4;
    const splits = Math.ceil(shape.nRed / chunk);
    const partials = shape.nOut * splits;
    return {
      launches: [launch('reduce_partial', chunk, splits, partials, vec4), launch('reduce_final', chunk, splits, shape.nOut)],
      partials,
    };
  }
  return { launches: [launch('reduce_rows', shape.nRed, 1, shape.nOut, vec4)], partials: 0 };
}

/**
 * Inclusive cumsum along the innermost dim of `input` (its single reduced dim), one invocation per line;
 * the output is contiguous [lines..., extent].
 */
export function cumsumLaunch(input: ReduceInput, adapterClass: 'cpu' | 'gpu'): Launch {
  const tune = TUNING[adapterClass];
  const o = coalesce(input.outShape, [input.outStrides]);
  const shape: Layout = {
    outShape: o.shape,
    outStrides: o.strides[0]!,
    redShape: input.redShape,
    redStrides: input.redStrides,
    nOut: input.outShape.reduce((n, d) => n * d, 1),
    nRed: input.redShape.reduce((n, d) => n * d, 1),
  };
  return {
    key: `reduce/cumsum/${input.dtype}/${tune.wg}`,
    code: shaderFor('cumsum', input.dtype, false),
    entryPoint: 'cumsum_lines',
    constants: { WG: tune.wg },
    params: params(input.offset, shape, shape.nRed, 1, 0),
    workgroups: grid1d(Math.ceil(shape.nOut / tune.wg)),
  };
}
