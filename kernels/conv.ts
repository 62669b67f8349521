/**
 * Launchers for kernels/wgsl/conv.wgsl: convolution forward, input gradient and weight gradient as three
 * recipes for one implicit-GEMM kernel (`conv_gemm`), plus the bias gradient, circular padding and col2im
 * (the strided input gradient's second half, after a GEMM into columns); and for
 * kernels/wgsl/conv_lanes.wgsl, which CPU adapters use for the forward, the weight gradient and the stride-1
 * input gradient.
 *
 * Everything is expressed in 3 spatial dims: 1-d and 2-d convolutions arrive here with unit leading dims
 * (size 1, stride 0, kernel 1), which cost nothing in the kernel's loops.
 */
import { ParamWriter, grid1d, specialize, type Launch } from './launch.js';

export type FloatType = 'f32' | 'f16';
export type Vec3 = readonly [number, number, number];

/** Convolution geometry with spatial dims padded to three. Paddings are per side (torch 'same' may be asymmetric). */
export interface ConvGeometry {
  readonly batch: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly groups: number;
  readonly inSize: Vec3;
  readonly kernel: Vec3;
  readonly stride: Vec3;
  readonly dilation: Vec3;
  readonly padBefore: Vec3;
  readonly outSize: Vec3;
}

/** A 5-d operand [lead, channel, d, h, w] as a kernel reads it: element offset and strides. */
export interface Strided5 {
  readonly offset: number;
  readonly strides: readonly [number, number, number, number, number];
}

/** Register tile per adapter class: on lavapipe a wide TN pays, since B loads are uniform (scalar + broadcast). */
export interface ConvTile {
  readonly wg: number;
  readonly tm: number;
  readonly tn: number;
}
export const CONV_TILES: Readonly<Record<'cpu' | 'gpu', ConvTile>> = {
  cpu: { wg: 64, tm: 4, tn: 8 },
  gpu: { wg: 64, tm: 4, tn: 4 },
};

const prod = (v: Vec3): number => v[0] * v[1] * v[2];
const sp = (s: Strided5): Vec3 => [s.strides[2], s.strides[3], s.strides[4]];
const contiguous3 = (v: Vec3): Vec3 => [v[1] * v[2], v[2], 1];
const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
const map3 = (f: (d: 0 | 1 | 2) => number): Vec3 => [f(0), f(1), f(2)];

/** Every field of the kernel's GemmParams, named as there. */
interface GemmSpec {
  mLeadCount: number;
  nCount: number;
  cCount: number;
  phases: number;
  phased: boolean;
  bias: { offset: number; stride: number } | null;
  aOffset: number;
  aLead: number;
  aGroup: number;
  aC: number;
  bOffset: number;
  bN: number;
  bGroup: number;
  bC: number;
  oLead: number;
  oN: number;
  oGroup: number;
  grid: Vec3;
  aStep: Vec3;
  aStart: Vec3;
  aLim: Vec3;
  aSp: Vec3;
  taps: Vec3;
  tapStep: Vec3;
  bTap: Vec3;
  oStep: Vec3;
  oStart: Vec3;
  oLim: Vec3;
  oSp: Vec3;
  phase?: { dil: Vec3; pad: Vec3; ksize: Vec3; kstep: Vec3; wsp: Vec3 };
}

function gemmLaunch(spec: GemmSpec, groups: number, dtype: FloatType, tile: ConvTile, checked: boolean): Launch {
  const mCount = spec.mLeadCount * prod(spec.grid);
  // Narrow problems (the input gradient of a 3-channel patch embedding, the weight gradient of a short
  // kernel) take a narrower tile instead of computing padding; one narrow variant per side keeps the number
  // of compiled pipelines small.
  const tn = spec.nCount <= 4 ? Math.min(4, tile.tn) : tile.tn;
  const tm = mCount <= tile.wg ? 1 : tile.tm;
  const mTiles = Math.ceil(mCount / (tile.wg * tm));
  const nTiles = Math.ceil(spec.nCount / tn);
  const v = (x: Vec3): number[] => [...x, 0];
  const ph = spec.phase ?? { dil: [0, 0, 0], pad: [0, 0, 0], ksize: [0, 0, 0], kstep: [0, 0, 0], wsp: [0, 0, 0] };
  const w = new ParamWriter(1024)
    .u32(mCount).u32(spec.nCount).u32(spec.cCount).u32(mTiles).u32(nTiles).u32(groups).u32(spec.phases)
    .u32(spec.phased ? 1 : 0).u32(spec.bias ? 1 : 0)
    .i32(spec.aOffset).i32(spec.aLead).i32(spec.aGroup).i32(spec.aC)
    .i32(spec.bOffset).i32(spec.bN).i32(spec.bGroup).i32(spec.bC)
    .i32(spec.oLead).i32(spec.oN).i32(spec.oGroup)
    .i32(spec.bias?.offset ?? 0).i32(spec.bias?.stride ?? 0);
  for (const f of [spec.grid, spec.aStep, spec.aStart, spec.aLim, spec.aSp, spec.taps, spec.tapStep, spec.bTap,
    spec.oStep, spec.oStart, spec.oLim, spec.oSp, ph.dil, ph.pad, ph.ksize, ph.kstep, ph.wsp])
    w.u32x4Array(v(f), 1);
  const tileCode = `const WG = ${tile.wg}u;\nconst TM = ${tm}u;\nconst TN = ${tn}u;`;
  return {
    key: `conv/gemm/${dtype}/${tile.wg}x${tm}x${tn}/${checked ? 'checked' : 'unchecked'}`,
    code: () => specialize('conv', { T: dtype }, { tile: tileCode }),
    entryPoint: 'conv_gemm',
    constants: { CHECKED: checked ? 1 : 0 },
    params: w.finish(),
    workgroups: grid1d(mTiles * nTiles * groups * spec.phases),
  };
}

/** Tile of conv_lanes.wgsl: rows (n values) per workgroup, a multiple of 4, and the subgroup width. */
export interface ConvLanesTile {
  readonly rows: number;
  readonly lanes: number;
}

/** Most rows per workgroup of the lanes kernel: 32, as the lanes GEMM takes (other tiles not swept). */
const CONV_LANES_ROWS = 32;

/** The lanes kernel's tile for N rows per group: all of them up to CONV_LANES_ROWS, rounded up to 4. */
export function convLanesTile(rowsPerGroup: number, lanes: number): ConvLanesTile {
  return { rows: Math.min(CONV_LANES_ROWS, Math.ceil(rowsPerGroup / 4) * 4), lanes };
}

/** The kernel that evaluates a recipe: conv.wgsl's conv_gemm with a register tile, or conv_lanes.wgsl. */
export type ConvKernelChoice = { readonly kind: 'tiled'; readonly tile: ConvTile } | { readonly kind: 'lanes'; readonly tile: ConvLanesTile };

const isCompact = (strides: Vec3, extents: Vec3): boolean => [0, 1, 2].every((d) => extents[d] === 1 || strides[d] === contiguous3(extents)[d]);

/**
 * A recipe on conv_lanes.wgsl, which takes the unphased recipes whose output positions are contiguous
 * (forward, weight gradient) and whose B taps form one contiguous run (callers copy other layouts).
 */
function lanesLaunch(spec: GemmSpec, groups: number, dtype: FloatType, tile: ConvLanesTile, checked: boolean): Launch {
  if (spec.phased || !isCompact(spec.bTap, spec.taps) || !isCompact(spec.oSp, spec.grid) || spec.oStep.some((s) => s !== 1) || spec.oStart.some((s) => s !== 0))
    throw new Error('conv_lanes: needs an unphased recipe with contiguous output positions and contiguous B taps');
  const tCount = prod(spec.taps);
  const kCount = spec.cCount * tCount;
  const mCount = spec.mLeadCount * prod(spec.grid);
  const v = (x: Vec3): number[] => [...x, 0];
  const w = new ParamWriter(512)
    .u32(mCount).u32(spec.nCount).u32(kCount).u32(tCount).u32(spec.bias ? 1 : 0)
    .i32(spec.aOffset).i32(spec.aLead).i32(spec.aGroup).i32(spec.aC)
    .i32(spec.bOffset).i32(spec.bN).i32(spec.bGroup).i32(spec.bC)
    .i32(spec.oLead).i32(spec.oGroup).i32(spec.oN)
    .i32(spec.bias?.offset ?? 0).i32(spec.bias?.stride ?? 0);
  for (const f of [spec.grid, spec.aStep, spec.aStart, spec.aLim, spec.aSp, spec.taps, spec.tapStep]) w.u32x4Array(v(f), 1);
  // One flat run when c follows the taps contiguously; vec4 loads when every 4-chunk is one aligned vec4.
  const flat = spec.cCount === 1 || spec.bC === tCount;
  const vec4 = (flat ? kCount : tCount) % 4 === 0 && [spec.bOffset, spec.bN, spec.bGroup, flat ? 0 : spec.bC].every((x) => x % 4 === 0);
  const bodies: Record<string, string> = { tile: `const ROWS: u32 = ${tile.rows}u;\nconst LANES: u32 = ${tile.lanes}u;` };
  if (flat) bodies.b_chunk = 'return vec4<i32>(ks);';
  if (vec4) {
    bodies.b_binding = '@group(0) @binding(2) var<storage, read> b_in: array<vec4<T>>;';
    bodies.load_b4 = 'return select(vec4<f32>(0.0), vec4<f32>(b_in[(row + offs.x) / 4]), k < p.k_count);';
  }
  return {
    key: `conv/lanes/${dtype}/${tile.rows}x${tile.lanes}/${flat ? 'flat' : 'runs'}/${vec4 ? 'v4' : 's'}/${checked ? 'checked' : 'unchecked'}`,
    code: () => specialize('conv_lanes', { T: dtype }, bodies),
    entryPoint: 'conv_lanes',
    constants: { CHECKED: checked ? 1 : 0 },
    params: w.finish(),
    workgroups: [Math.ceil(mCount / (4 * tile.lanes)), Math.ceil(spec.nCount / tile.rows), groups],
  };
}

function recipeLaunch(spec: GemmSpec, groups: number, dtype: FloatType, choice: ConvKernelChoice, checked: boolean): Launch {
  return choice.kind === 'lanes' ? lanesLaunch(spec, groups, dtype, choice.tile, checked) : gemmLaunch(spec, groups, dtype, choice.tile, checked);
}

/** Whether a 5-d operand's spatial strides are the contiguous ones for `extents` (the lanes kernel's B taps). */
export function spatiallyCompact(t: Strided5, extents: Vec3): boolean {
  return isCompact(sp(t), extents);
}

const hasPadding = (g: ConvGeometry): boolean => {
  // Unpadded means every tap of every output pixel lands inside the input: then the kernel skips bounds tests.
  for (let d = 0; d < 3; d++) {
    if (g.padBefore[d] !== 0) return true;
    if ((g.outSize[d] - 1) * g.stride[d] + (g.kernel[d] - 1) * g.dilation[d] >= g.inSize[d]) return true;
  }
  return false;
};

/** y[b, co, o] = bias[co] + sum_{ci in group, k} x[b, ci, o*stride - pad + k*dil] * w[co, ci, k]; y is contiguous. */
export function convForwardLaunch(
  g: ConvGeometry, dtype: FloatType, x: Strided5, w: Strided5, bias: { offset: number; stride: number } | null, choice: ConvKernelChoice,
): Launch {
  const cg = g.inChannels / g.groups;
  const og = g.outChannels / g.groups;
  const plane = prod(g.outSize);
  const spec: GemmSpec = {
    mLeadCount: g.batch, nCount: og, cCount: cg, phases: 1, phased: false, bias,
    aOffset: x.offset, aLead: x.strides[0], aGroup: cg * x.strides[1], aC: x.strides[1],
    bOffset: w.offset, bN: w.strides[0], bGroup: og * w.strides[0], bC: w.strides[1],
    oLead: g.outChannels * plane, oN: plane, oGroup: og * plane,
    grid: g.outSize, aStep: g.stride, aStart: map3((d) => -g.padBefore[d]), aLim: g.inSize, aSp: sp(x),
    taps: g.kernel, tapStep: g.dilation, bTap: sp(w),
    oStep: [1, 1, 1], oStart: [0, 0, 0], oLim: g.outSize, oSp: contiguous3(g.outSize),
  };
  return recipeLaunch(spec, g.groups, dtype, choice, hasPadding(g));
}

/**
 * dx = the transposed convolution of dy with w: on conv_gemm one phase per stride residue (see conv.wgsl),
 * on the lanes kernel stride 1 only (one phase); dx is contiguous [batch, inChannels, ...inSize].
 */
export function convInputGradLaunch(g: ConvGeometry, dtype: FloatType, dy: Strided5, w: Strided5, choice: ConvKernelChoice): Launch {
  const cg = g.inChannels / g.groups;
  const og = g.outChannels / g.groups;
  const plane = prod(g.inSize);
  const operands = {
    mLeadCount: g.batch, nCount: cg, cCount: og, bias: null,
    aOffset: dy.offset, aLead: dy.strides[0], aGroup: og * dy.strides[1], aC: dy.strides[1],
    bOffset: w.offset, bN: w.strides[1], bGroup: og * w.strides[0], bC: w.strides[0],
    oLead: g.inChannels * plane, oN: plane, oGroup: cg * plane,
    aStep: [1, 1, 1] as Vec3, aLim: g.outSize, aSp: sp(dy), oLim: g.inSize, oSp: contiguous3(g.inSize),
  };
  if (choice.kind === 'lanes') {
    // Stride 1 has one phase, which needs no phase fields: dx[i] = sum_k dy[i + pad - k * dil] w[k], every
    // tap of the kernel, output positions contiguous from 0 (the lanes kernel's form).
    if (g.stride.some((s) => s !== 1)) throw new Error('conv_lanes: the input gradient needs stride 1');
    const spec: GemmSpec = {
      ...operands, phases: 1, phased: false, grid: g.inSize, aStart: g.padBefore,
      taps: g.kernel, tapStep: map3((d) => -g.dilation[d]), bTap: sp(w), oStep: [1, 1, 1], oStart: [0, 0, 0],
    };
    return lanesLaunch(spec, g.groups, dtype, choice.tile, true);
  }
  const kstep = map3((d) => g.stride[d] / gcd(g.stride[d], g.dilation[d]));
  const dstep = map3((d) => g.dilation[d] / gcd(g.stride[d], g.dilation[d]));
  const spec: GemmSpec = {
    ...operands, phases: prod(g.stride), phased: true,
    grid: map3((d) => Math.ceil(g.inSize[d] / g.stride[d])), aStart: [0, 0, 0],
    taps: [0, 0, 0], tapStep: map3((d) => -dstep[d]),
    bTap: map3((d) => kstep[d] * w.strides[2 + d]!),
    oStep: g.stride, oStart: [0, 0, 0],
    phase: { dil: g.dilation, pad: g.padBefore, ksize: g.kernel, kstep, wsp: sp(w) },
  };
  return gemmLaunch(spec, g.groups, dtype, choice.tile, true);
}

/**
 * col2im for the input gradient of a strided convolution: dx[b, g * cg + c, x] = the sum of the columns
 * cols[b, g, c, t, u] (contiguous f32, [chunk, groups, cg, prod(kernel), prod(outSize)]) over every tap t and
 * output position u that read input pixel x. Writes `batchCount` batch elements of the contiguous dx
 * [batch, inChannels, ...inSize] starting at batch element `batchStart`; conv.wgsl's `col2im`.
 */
export function col2imLaunch(g: ConvGeometry, dtype: FloatType, batchStart: number, batchCount: number): Launch {
  const perBatch = g.inChannels * prod(g.inSize);
  const count = batchCount * perBatch;
  const v = (x: Vec3): number[] => [...x, 0];
  const w = new ParamWriter()
    .u32(count).u32(prod(g.outSize)).u32(prod(g.kernel)).u32(batchStart * perBatch);
  for (const f of [g.inSize, g.outSize, g.kernel, g.stride, g.dilation, g.padBefore, map3((d) => g.stride[d] / gcd(g.stride[d], g.dilation[d]))])
    w.u32x4Array(v(f), 1);
  return {
    key: `conv/col2im/${dtype}`,
    code: () => specialize('conv', { T: dtype }),
    entryPoint: 'col2im',
    params: w.finish(),
    workgroups: grid1d(Math.ceil(count / 256)),
  };
}

/** dw[co, ci, k] = sum_{b, o} dy[b, co, o] * x[b, ci, o*stride - pad + k*dil]; dw is contiguous. */
export function convWeightGradLaunch(g: ConvGeometry, dtype: FloatType, x: Strided5, dy: Strided5, choice: ConvKernelChoice): Launch {
  const cg = g.inChannels / g.groups;
  const og = g.outChannels / g.groups;
  const kvol = prod(g.kernel);
  const spec: GemmSpec = {
    mLeadCount: cg, nCount: og, cCount: g.batch, phases: 1, phased: false, bias: null,
    aOffset: x.offset, aLead: x.strides[1], aGroup: cg * x.strides[1], aC: x.strides[0],
    bOffset: dy.offset, bN: dy.strides[1], bGroup: og * dy.strides[1], bC: dy.strides[0],
    oLead: kvol, oN: cg * kvol, oGroup: og * cg * kvol,
    grid: g.kernel, aStep: g.dilation, aStart: map3((d) => -g.padBefore[d]), aLim: g.inSize, aSp: sp(x),
    taps: g.outSize, tapStep: g.stride, bTap: sp(dy),
    oStep: [1, 1, 1], oStart: [0, 0, 0], oLim: g.kernel, oSp: contiguous3(g.kernel),
  };
  return recipeLaunch(spec, g.groups, dtype, choice, hasPadding(g));
}

/** db[co] = sum over batch and space of dy[b, co, ...]; deterministic tree per channel. */
export function biasGradLaunch(dtype: FloatType, batch: number, channels: number, spatial: Vec3, dy: Strided5): Launch {
  const w = new ParamWriter()
    .u32(channels).u32(batch).i32(dy.offset).i32(dy.strides[0]).i32(dy.strides[1]).u32(0).u32(0).u32(0)
    .u32x4Array([...spatial, 1], 1)
    .u32x4Array([...sp(dy), 0], 1);
  return {
    key: `conv/bias_grad/${dtype}`,
    code: () => specialize('conv', { T: dtype }),
    entryPoint: 'bias_grad',
    params: w.finish(),
    workgroups: grid1d(channels),
  };
}

/**
 * Circular padding (`fold` false): dst [B, C, ...padded] contiguous from src [B, C, ...extent] read strided.
 * Its adjoint (`fold` true): dst [B, C, ...extent] sums src [B, C, ...padded] over every copy of each position.
 */
export function circularLaunch(
  dtype: FloatType, fold: boolean, batch: number, channels: number, extent: Vec3, before: Vec3, padded: Vec3, src: Strided5,
): Launch {
  const count = batch * channels * prod(fold ? extent : padded);
  const w = new ParamWriter()
    .u32(count).u32(channels).i32(src.offset).i32(src.strides[0]).i32(src.strides[1]).u32(0).u32(0).u32(0)
    .u32x4Array([...extent, 1], 1)
    .u32x4Array([...padded, 1], 1)
    .u32x4Array([...before, 0], 1)
    .u32x4Array([...sp(src), 0], 1);
  const entryPoint = fold ? 'circular_fold' : 'circular_pad';
  return {
    key: `conv/${entryPoint}/${dtype}`,
    code: () => specialize('conv', { T: dtype }),
    entryPoint,
    params: w.finish(),
    workgroups: grid1d(Math.ceil(count / 256)),
  };
}
