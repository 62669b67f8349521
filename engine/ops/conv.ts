/**
 * Convolutions (1-d, 2-d, 3-d) and their gradients, following torch.nn.functional.conv{1,2,3}d semantics:
 * cross-correlation, weights [Cout, Cin/groups, ...kernel], per-dim stride/padding/dilation, groups, padding
 * 'same' (stride 1 only; odd total padding puts the extra element after) and 'valid', and padding_mode
 * 'circular' (torch's nn.Conv*d option: wrap-around instead of zeros).
 *
 * All three ranks share one path: shapes are padded to three spatial dims with unit dims, and the kernels
 * (kernels/conv.ts) evaluate forward, input gradient and weight gradient as implicit GEMMs: conv.wgsl's
 * conv_gemm on GPUs, and on CPU adapters with fixed-width subgroups conv_lanes.wgsl for the forward, the
 * weight gradient and the stride-1 input gradient (2-5x faster there). The input gradient of a strided
 * convolution is a batched GEMM into columns (w^T dy) plus col2im on every adapter (`inputGradByColumns`).
 * Circular padding is an explicit wrap-around copy of the input followed by an unpadded convolution,
 * exactly torch's definition; its gradient folds the padded input gradient back. Gradients are
 * deterministic.
 *
 * Patchify convolutions (kernel = stride, no padding or dilation, one group, sizes divisible by the kernel:
 * the ViT patch embedding, video tubelets, audio patches without overlap) have their gradients computed as
 * GEMMs, and on GPUs their forward too: the patches do not overlap, so im2col is a pure rearrangement
 * (reshape + permute + one copy), the product is `linear` with the bias fused, and the gradients are two
 * GEMMs and the inverse rearrangement. On CPU adapters the lanes kernel's forward measured faster than that
 * rearrangement plus GEMM, so it takes those forwards as well.
 */
import {
  CONV_TILES, biasGradLaunch, circularLaunch, col2imLaunch, convForwardLaunch, convInputGradLaunch, convLanesTile, convWeightGradLaunch,
  spatiallyCompact, type ConvGeometry, type ConvKernelChoice, type FloatType, type Strided5, type Vec3,
} from '../../kernels/conv.js';
import { LANES_REQUIREMENT, MAX_GRID_DIM, lanesSupported, type Launch } from '../../kernels/launch.js';
import { expectOptions, optionKeys } from '../arguments.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { runtime } from '../runtime.js';
import { empty, expectTensor, type Tensor } from '../tensor.js';
import { contiguous } from './elementwise.js';
import { linear, matmul } from './matmul.js';
import { narrow, permute, reshape, transpose } from './views.js';

/** One value for every spatial dim, or one per dim. */
export type IntOrTuple = number | readonly number[];

export interface ConvOptions {
  /** Default 1. */
  stride?: IntOrTuple;
  /** Per-dim padding on both sides, or 'same' (output size = input size; stride 1) or 'valid' (0). Default 0. */
  padding?: IntOrTuple | 'same' | 'valid';
  /** Default 1. */
  dilation?: IntOrTuple;
  /** Channel groups: Cin and Cout must both be divisible; groups = Cin is depthwise. Default 1. */
  groups?: number;
  /** 'zeros' (default) or 'circular' (each padding must not exceed its input dim). */
  paddingMode?: 'zeros' | 'circular';
  /**
   * Forces the kernel (for tests and benchmarks): 'tiled' (conv.wgsl's conv_gemm), 'lanes' (conv_lanes.wgsl;
   * needs subgroups of a fixed width) or 'gemm' (patchify convolutions only: the rearrangement into one
   * GEMM). By default patchify convolutions take 'gemm' on GPUs, and on CPU adapters with fixed-width
   * subgroups 'lanes' except for their input gradient; others take 'lanes' on such CPUs and 'tiled'
   * elsewhere. The input gradient of a strided convolution runs as GEMMs plus col2im unless 'tiled' is
   * forced (conv_gemm's phases; also the fallback when the columns would not fit their memory budget), or
   * as the patchify GEMM for patchify convolutions.
   */
  kernel?: ConvKernel;
}

/**
 * The kernels: conv.wgsl's register-tiled conv_gemm, conv_lanes.wgsl (CPU adapters), or the patchify
 * convolutions' rearrangement plus GEMM (matmul*.wgsl).
 */
export type ConvKernel = 'tiled' | 'lanes' | 'gemm';

export interface ConvGradRequest {
  needInput?: boolean;
  needWeight?: boolean;
  needBias?: boolean;
}

/** Gradients of a convolution; null where not requested. */
export interface ConvGrads {
  dx: Tensor | null;
  dw: Tensor | null;
  db: Tensor | null;
}

/** Validated geometry of one call: the 3-d form the kernels take plus the n-d facts needed for outputs. */
interface Plan {
  op: string;
  rank: number;
  dtype: FloatType;
  circular: boolean;
  padAfter: Vec3;
  geometry: ConvGeometry;
  outShape: number[];
}

function perDim(op: string, name: string, value: IntOrTuple, rank: number, min: number): number[] {
  const list = typeof value === 'number' ? new Array<number>(rank).fill(value) : [...value];
  if (list.length !== rank || list.some((v) => !Number.isInteger(v) || v < min))
    throw new ArgumentError(
      `${op}: ${name} must be an integer >= ${min} or ${rank} of them, got ${Array.isArray(value) ? `[${value.join(',')}]` : String(value)}`,
    );
  return list;
}

/** Pads an n-d list (n <= 3) to three dims by prepending `fill`. */
function to3(values: readonly number[], fill: number): Vec3 {
  const v = [...new Array<number>(3 - values.length).fill(fill), ...values];
  return [v[0]!, v[1]!, v[2]!];
}

export const CONV_OPTIONS = optionKeys<ConvOptions>({ stride: true, padding: true, dilation: true, groups: true, paddingMode: true, kernel: true });

function plan(op: string, rank: number, x: Tensor, w: Tensor, bias: Tensor | null, opts: ConvOptions): Plan {
  expectTensor(op, 'x', x);
  expectTensor(op, 'weight', w);
  if (bias !== null) expectTensor(op, 'bias', bias);
  expectOptions(op, opts, CONV_OPTIONS);
  x.storage(op);
  w.storage(op);
  const shapes = `input ${fmtShape(x.shape)}, weight ${fmtShape(w.shape)}`;
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw new DTypeError(`${op}: expects float tensors (f32 or f16), got ${x.dtype} input`);
  if (w.dtype !== x.dtype) throw new DTypeError(`${op}: input is ${x.dtype} but weight is ${w.dtype}`);
  if (x.rank !== rank + 2) throw new ShapeError(`${op}: input must have rank ${rank + 2} [batch, channels, ...${rank} spatial], got ${fmtShape(x.shape)}`);
  if (w.rank !== rank + 2) throw new ShapeError(`${op}: weight must have rank ${rank + 2} [out channels, in channels / groups, ...kernel], got ${fmtShape(w.shape)}`);
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new ArgumentError(`${op}: groups must be an integer >= 1, got ${groups}`);
  const [batch, cin] = [x.shape[0]!, x.shape[1]!];
  const cout = w.shape[0]!;
  if (cin % groups !== 0 || cout % groups !== 0)
    throw new ShapeError(`${op}: groups = ${groups} must divide both input channels ${cin} and output channels ${cout} (${shapes})`);
  if (w.shape[1]! * groups !== cin)
    throw new ShapeError(`${op}: weight expects ${w.shape[1]! * groups} input channels (${w.shape[1]} per group x ${groups} groups) but the input has ${cin} (${shapes})`);
  if (bias) {
    bias.storage(op);
    if (bias.dtype !== x.dtype) throw new DTypeError(`${op}: input is ${x.dtype} but bias is ${bias.dtype}`);
    if (bias.rank !== 1 || bias.shape[0] !== cout) throw new ShapeError(`${op}: bias must have shape [${cout}], got ${fmtShape(bias.shape)}`);
  }
  if ([...x.shape, ...w.shape].includes(0))
    throw new ShapeError(`${op}: zero-size operands are not supported (${shapes})`);
  const mode = opts.paddingMode ?? 'zeros';
  if (mode !== 'zeros' && mode !== 'circular') throw new ArgumentError(`${op}: paddingMode must be 'zeros' or 'circular', got '${String(mode)}'`);

  const inSize = x.shape.slice(2);
  const kernel = w.shape.slice(2);
  const stride = perDim(op, 'stride', opts.stride ?? 1, rank, 1);
  const dilation = perDim(op, 'dilation', opts.dilation ?? 1, rank, 1);
  const padding = opts.padding ?? 0;
  let before: number[];
  let after: number[];
  if (padding === 'same') {
    if (stride.some((s) => s !== 1)) throw new ArgumentError(`${op}: padding 'same' needs stride 1, got stride [${stride.join(',')}]`);
    const total = kernel.map((k, d) => dilation[d]! * (k - 1));
    before = total.map((t) => Math.floor(t / 2));
    after = total.map((t, d) => t - before[d]!);
  } else if (padding === 'valid') {
    before = new Array<number>(rank).fill(0);
    after = before;
  } else if (typeof padding === 'string') {
    throw new ArgumentError(`${op}: padding must be a number, a list, 'same' or 'valid', got '${padding}'`);
  } else {
    before = perDim(op, 'padding', padding, rank, 0);
    after = before;
  }
  const outSize = inSize.map((l, d) => Math.floor((l + before[d]! + after[d]! - dilation[d]! * (kernel[d]! - 1) - 1) / stride[d]!) + 1);
  for (let d = 0; d < rank; d++) {
    const reach = dilation[d]! * (kernel[d]! - 1) + 1;
    if (reach > inSize[d]! + before[d]! + after[d]!)
      throw new ShapeError(
        `${op}: kernel ${fmtShape(kernel)} (dilation [${dilation.join(',')}]) is larger than the padded input in spatial dim ${d}: ` +
          `${inSize[d]} + padding ${before[d]! + after[d]!} < ${reach} (${shapes})`,
      );
    if (mode === 'circular' && Math.max(before[d]!, after[d]!) > inSize[d]!)
      throw new ShapeError(`${op}: circular padding ${Math.max(before[d]!, after[d]!)} exceeds input size ${inSize[d]} in spatial dim ${d} (${shapes})`);
  }

  const circular = mode === 'circular' && before.some((p, d) => p + after[d]! > 0);
  const geometry: ConvGeometry = {
    batch, inChannels: cin, outChannels: cout, groups,
    inSize: to3(inSize, 1), kernel: to3(kernel, 1), stride: to3(stride, 1), dilation: to3(dilation, 1),
    padBefore: to3(before, 0), outSize: to3(outSize, 1),
  };
  return { op, rank, dtype: x.dtype, circular, padAfter: to3(after, 0), geometry, outShape: [batch, cout, ...outSize] };
}

/** A rank-(n+2) tensor's view as the kernels' 5-d [lead, channel, d, h, w] operand (unit dims get stride 0). */
function strided5(t: Tensor): Strided5 {
  const s = t.strides;
  const spatial = to3(s.slice(2), 0);
  return { offset: t.offset, strides: [s[0]!, s[1]!, ...spatial] };
}

const tileFor = (): (typeof CONV_TILES)['cpu'] => CONV_TILES[runtime('conv').info.adapterClass];

/** The unpadded convolution over a circularly padded input: its [B, C, ...padded] shape and geometry. */
function circularGeometry(p: Plan): { shape: number[]; padded: Vec3; geometry: ConvGeometry } {
  const g = p.geometry;
  const padded = to3([0, 1, 2].map((d) => g.inSize[d]! + g.padBefore[d]! + p.padAfter[d]!).slice(3 - p.rank), 1);
  const shape = [g.batch, g.inChannels, ...padded.slice(3 - p.rank)];
  return { shape, padded, geometry: { ...g, inSize: padded, padBefore: [0, 0, 0] } };
}

/** x itself and the plan's geometry, or for circular padding x copied with wrap-around and the unpadded geometry. */
function paddedInput(p: Plan, x: Tensor): { xp: Tensor; geometry: ConvGeometry } {
  const g = p.geometry;
  if (!p.circular) return { xp: x, geometry: g };
  const c = circularGeometry(p);
  const xp = empty(c.shape, p.dtype, p.op);
  runtime(p.op).run(circularLaunch(p.dtype, false, g.batch, g.inChannels, g.inSize, g.padBefore, c.padded, strided5(x)), [
    x.storage(p.op).buffer,
    xp.storage(p.op).buffer,
  ]);
  return { xp, geometry: c.geometry };
}

/** Non-overlapping patches that tile the input exactly: the convolution is a rearrangement plus a GEMM. */
function isPatchify(p: Plan): boolean {
  const g = p.geometry;
  return (
    g.groups === 1 && !p.circular &&
    [0, 1, 2].every((d) => g.stride[d] === g.kernel[d] && g.dilation[d] === 1 && g.padBefore[d] === 0 && p.padAfter[d] === 0 && g.inSize[d]! % g.kernel[d]! === 0)
  );
}

/**
 * The rearrangements between a patchify convolution's operands and its GEMM form, for spatial rank n:
 * x [B, C, o1*k1, ..., on*kn] <-> patches [B*N, C*K] (N = o1...on, K = k1...kn), and
 * y [B, Cout, o1, ..., on] <-> rows [B*N, Cout]. Each direction is a view plus one contiguous copy.
 */
function patchLayout(p: Plan, x: Tensor) {
  const g = p.geometry;
  const n = p.rank;
  const kernel = g.kernel.slice(3 - n);
  const out = g.outSize.slice(3 - n);
  const [batch, cin, cout] = [g.batch, g.inChannels, g.outChannels];
  const tokens = batch * out.reduce((a, b) => a * b, 1);
  const patch = cin * kernel.reduce((a, b) => a * b, 1);
  // x as [B, C, o1, k1, ..., on, kn]; patches order [B, o1..on, C, k1..kn].
  const split = [batch, cin, ...out.flatMap((o, d) => [o, kernel[d]!])];
  const toPatches = [0, ...out.map((_, d) => 2 + 2 * d), 1, ...out.map((_, d) => 3 + 2 * d)];
  const fromPatches = toPatches.map((_, i) => toPatches.indexOf(i));
  const rowsOrder = [0, ...out.map((_, d) => 2 + d), 1];
  const unrowsOrder = rowsOrder.map((_, i) => rowsOrder.indexOf(i));
  return {
    patches: (): Tensor => pipe(x, (t) => reshape(t, split), (t) => permute(t, toPatches), contiguous, (t) => reshape(t, [tokens, patch])),
    unpatch: (cols: Tensor): Tensor =>
      pipe(cols, (t) => reshape(t, toPatches.map((d) => split[d]!)), (t) => permute(t, fromPatches), contiguous, (t) => reshape(t, x.shape)),
    rows: (y: Tensor): Tensor => pipe(y, (t) => permute(t, rowsOrder), contiguous, (t) => reshape(t, [tokens, cout])),
    unrows: (rows: Tensor): Tensor => pipe(rows, (t) => reshape(t, [batch, ...out, cout]), (t) => permute(t, unrowsOrder), contiguous),
    /** The weight [Cout, C, k...] as the GEMM's [Cout, C*K] (a view). */
    weight: (w: Tensor): Tensor => reshape(w, [cout, patch]),
  };
}

/** Applies `steps` in turn, disposing every intermediate result (but not `x`): ops here run outside tidy scopes. */
function pipe(x: Tensor, ...steps: ((t: Tensor) => Tensor)[]): Tensor {
  let t = x;
  for (const step of steps) {
    const next = step(t);
    if (t !== x) t.dispose();
    t = next;
  }
  return t;
}

/** The patchify convolution as one GEMM with the bias fused. */
function patchifyForward(p: Plan, x: Tensor, w: Tensor, bias: Tensor | null): Tensor {
  const layout = patchLayout(p, x);
  const weight = layout.weight(w);
  try {
    return pipe(layout.patches(), (cols) => linear(cols, weight, bias), layout.unrows);
  } finally {
    weight.dispose();
  }
}

/** The patchify convolution's gradients: dW = dY^T patches and dX = unpatch(dY W), linear's backward GEMMs. */
function patchifyBackward(p: Plan, dy: Tensor, x: Tensor, w: Tensor, need: ConvGradRequest, grads: ConvGrads): void {
  const layout = patchLayout(p, x);
  const weight = layout.weight(w);
  const rows = layout.rows(dy);
  // A transposed view: the GEMM reads it in place.
  const rowsT = transpose(rows);
  try {
    if (need.needWeight) grads.dw = pipe(layout.patches(), (cols) => matmul(rowsT, cols), (t) => reshape(t, w.shape));
    if (need.needInput) grads.dx = pipe(rows, (r) => matmul(r, weight), layout.unpatch);
  } finally {
    for (const t of [rowsT, rows, weight]) t.dispose();
  }
}

/** The most bytes of f32 columns `inputGradByColumns` holds at once; larger batches run in chunks. */
const COLUMN_BYTES = 64 * 2 ** 20;

/**
 * The input gradient of a strided convolution as GEMMs plus col2im (conv.wgsl `col2im`): per chunk of the
 * batch, the columns cols[b, g] = w_g^T dy[b, g] ([cg * taps, og] @ [og, positions], one batched GEMM over
 * batch and groups), then dx = col2im(cols), every input pixel summing the columns that read it. The phased
 * conv_gemm runs each stride residue as its own small correlation, which on lavapipe measured 10-40x slower
 * on overlapping strided patches (conv.wgsl's header). Null when one batch element's columns exceed
 * COLUMN_BYTES: the caller then runs the phased kernel.
 */
function inputGradByColumns(p: Plan, g: ConvGeometry, dy: Tensor, w: Tensor, dxShape: readonly number[]): Tensor | null {
  const [groups, cg, og] = [g.groups, g.inChannels / g.groups, g.outChannels / g.groups];
  const taps = g.kernel[0] * g.kernel[1] * g.kernel[2];
  const positions = g.outSize[0] * g.outSize[1] * g.outSize[2];
  const chunk = Math.floor(COLUMN_BYTES / (g.inChannels * taps * positions * 4));
  // The GEMM's columns are the positions: past MAX_GRID_DIM tiles of its narrowest (32-column) tile it
  // could not launch them.
  if (chunk < 1 || positions > MAX_GRID_DIM * 32) return null;
  // w_g^T copied k-contiguous (a weight-sized copy), so that the GEMM loads it as vec4s.
  const wT = pipe(w, (t) => reshape(t, [groups, og, cg * taps]), (t) => transpose(t), contiguous);
  const dyRows = reshape(dy, [g.batch, groups, og, positions]);
  const dx = empty(dxShape, p.dtype, p.op);
  try {
    for (let b0 = 0; b0 < g.batch; b0 += chunk) {
      const count = Math.min(chunk, g.batch - b0);
      const part = narrow(dyRows, 0, b0, count);
      const cols = matmul(wT, part, { outDtype: 'f32' });
      part.dispose();
      runtime(p.op).run(col2imLaunch(g, p.dtype, b0, count), [cols.storage(p.op).buffer, dx.storage(p.op).buffer]);
      cols.dispose();
    }
  } catch (err) {
    dx.dispose();
    throw err;
  } finally {
    wT.dispose();
    dyRows.dispose();
  }
  return dx;
}

/**
 * Where the lanes kernel may run (checked before any GPU work): a forced 'lanes' needs subgroups of a fixed
 * width; by default CPU adapters with them take it and every other adapter takes 'tiled'.
 */
function lanesWidth(p: Plan, forced: ConvKernel | undefined): number | null {
  const rt = runtime(p.op);
  if (forced !== undefined && forced !== 'tiled' && forced !== 'lanes' && forced !== 'gemm')
    throw new ArgumentError(`${p.op}: unknown kernel '${String(forced)}' (expected 'tiled', 'lanes' or 'gemm')`);
  if (forced === 'gemm' && !isPatchify(p))
    throw new ArgumentError(`${p.op}: the 'gemm' kernel takes only patchify convolutions (kernel = stride, no padding or dilation, one group, sizes divisible by the kernel)`);
  const lanes = rt.fixedSubgroupSize;
  const supported = lanesSupported(rt.features.has('subgroups'), lanes);
  if (forced === 'lanes' && !supported)
    throw new ArgumentError(`${p.op}: the 'lanes' kernel needs ${LANES_REQUIREMENT}, which this adapter lacks`);
  if (forced === 'tiled' || forced === 'gemm' || !supported || (forced === undefined && rt.info.adapterClass !== 'cpu')) return null;
  return lanes!;
}

/**
 * The launch of a forward or weight-gradient recipe: on the lanes kernel where `lanesWidth` allows and its
 * grid fits (else a forced 'lanes' is a ShapeError), otherwise on conv_gemm.
 */
function recipe(p: Plan, lanes: number | null, forced: ConvKernel | undefined, rows: number, build: (choice: ConvKernelChoice) => Launch): Launch {
  if (lanes !== null) {
    const launch = build({ kind: 'lanes', tile: convLanesTile(rows, lanes) });
    if (launch.workgroups.every((n) => n <= MAX_GRID_DIM)) return launch;
    if (forced === 'lanes')
      throw new ShapeError(`${p.op}: the 'lanes' kernel needs a ${launch.workgroups.join(' x ')} workgroup grid; each dimension is limited to ${MAX_GRID_DIM}`);
  }
  return build({ kind: 'tiled', tile: tileFor() });
}

/** `t`, or a contiguous copy when the lanes kernel will run and t's spatial dims are not compact over `extents`. */
function compactFor(lanes: number | null, t: Tensor, extents: Vec3): Tensor {
  return lanes !== null && !spatiallyCompact(strided5(t), extents) ? contiguous(t) : t;
}

function forward(op: string, rank: number, x: Tensor, w: Tensor, bias: Tensor | null | undefined, opts: ConvOptions): Tensor {
  const p = plan(op, rank, x, w, bias ?? null, opts);
  const lanes = lanesWidth(p, opts.kernel);
  // On CPU adapters the lanes kernel measured faster than the patchify rearrangement plus GEMM (conv_lanes.wgsl).
  if (isPatchify(p) && (opts.kernel === 'gemm' || (opts.kernel === undefined && lanes === null))) return patchifyForward(p, x, w, bias ?? null);
  const g = p.geometry;
  // The lanes kernel reads each weight row's taps as one unit-stride run.
  const wk = compactFor(lanes, w, g.kernel);
  const y = empty(p.outShape, p.dtype, op);
  const { xp, geometry } = paddedInput(p, x);
  try {
    const b = bias ? { offset: bias.offset, stride: bias.strides[0]! } : null;
    const launch = recipe(p, lanes, opts.kernel, g.outChannels / g.groups, (choice) => convForwardLaunch(geometry, p.dtype, strided5(xp), strided5(wk), b, choice));
    // The bias binding must always be bound; without a bias the weight buffer stands in (never read then).
    runtime(op).run(launch, [xp.storage(op).buffer, wk.storage(op).buffer, (bias ?? wk).storage(op).buffer, y.storage(op).buffer]);
  } finally {
    if (xp !== x) xp.dispose();
    if (wk !== w) wk.dispose();
  }
  return y;
}

function backward(op: string, rank: number, dy: Tensor, x: Tensor, w: Tensor, opts: ConvOptions, need: ConvGradRequest): ConvGrads {
  const p = plan(op, rank, x, w, null, opts);
  expectTensor(op, 'dy', dy);
  dy.storage(op);
  if (dy.dtype !== p.dtype) throw new DTypeError(`${op}: input is ${p.dtype} but the output gradient is ${dy.dtype}`);
  if (dy.rank !== p.outShape.length || dy.shape.some((d, i) => d !== p.outShape[i]))
    throw new ShapeError(`${op}: output gradient has shape ${fmtShape(dy.shape)}, expected the convolution's output shape ${fmtShape(p.outShape)}`);
  const g = p.geometry;
  const rt = runtime(op);
  const lanes = lanesWidth(p, opts.kernel);
  // Patchify gradients are GEMMs (patchifyBackward), except the weight gradient where the lanes kernel runs:
  // it measured 1.3-7x faster than the rearrangement plus GEMM on lavapipe (conv_lanes.wgsl).
  const patchify = isPatchify(p) && (opts.kernel === undefined || opts.kernel === 'gemm');
  const grads: ConvGrads = { dx: null, dw: null, db: null };
  try {
    if (need.needBias) {
      grads.db = empty([g.outChannels], p.dtype, op);
      rt.run(biasGradLaunch(p.dtype, g.batch, g.outChannels, g.outSize, strided5(dy)), [dy.storage(op).buffer, grads.db.storage(op).buffer]);
    }
    const patchifyNeed = { needInput: need.needInput, needWeight: need.needWeight && lanes === null };
    if (patchify && (patchifyNeed.needInput || patchifyNeed.needWeight)) patchifyBackward(p, dy, x, w, patchifyNeed, grads);
    if (need.needWeight && grads.dw === null) {
      // The lanes kernel reads each output-gradient row's positions (its taps here) as one unit-stride run.
      const dyk = compactFor(lanes, dy, g.outSize);
      const { xp, geometry } = paddedInput(p, x);
      try {
        grads.dw = empty(w.shape, p.dtype, op);
        const launch = recipe(p, lanes, opts.kernel, g.outChannels / g.groups, (choice) => convWeightGradLaunch(geometry, p.dtype, strided5(xp), strided5(dyk), choice));
        // dy doubles as the unused bias binding.
        rt.run(launch, [xp.storage(op).buffer, dyk.storage(op).buffer, dyk.storage(op).buffer, grads.dw.storage(op).buffer]);
      } finally {
        if (xp !== x) xp.dispose();
        if (dyk !== dy) dyk.dispose();
      }
    }
    if (need.needInput && grads.dx === null) {
      const c = p.circular ? circularGeometry(p) : null;
      const dxGeometry = c ? c.geometry : g;
      const dxShape = c ? c.shape : x.shape;
      const strided = g.stride.some((s) => s !== 1);
      // The lanes kernel takes stride 1 (one phase), reading each weight row's taps as one unit-stride run.
      const dxLanes = strided ? null : lanes;
      const wk = compactFor(dxLanes, w, g.kernel);
      // With circular padding the transposed convolution yields the padded input's gradient, folded back after.
      let dxp = strided && opts.kernel !== 'tiled' ? inputGradByColumns(p, dxGeometry, dy, w, dxShape) : null;
      try {
        if (dxp === null) {
          dxp = empty(dxShape, p.dtype, op);
          const launch = recipe(p, dxLanes, opts.kernel, g.inChannels / g.groups, (choice) => convInputGradLaunch(dxGeometry, p.dtype, strided5(dy), strided5(wk), choice));
          rt.run(launch, [dy.storage(op).buffer, wk.storage(op).buffer, wk.storage(op).buffer, dxp.storage(op).buffer]);
        }
        if (c) {
          grads.dx = empty(x.shape, p.dtype, op);
          rt.run(circularLaunch(p.dtype, true, g.batch, g.inChannels, g.inSize, g.padBefore, c.padded, strided5(dxp)), [
            dxp.storage(op).buffer, grads.dx.storage(op).buffer,
          ]);
        } else {
          grads.dx = dxp;
        }
      } finally {
        if (dxp !== null && dxp !== grads.dx) dxp.dispose();
        if (wk !== w) wk.dispose();
      }
    }
  } catch (err) {
    grads.dx?.dispose();
    grads.dw?.dispose();
    grads.db?.dispose();
    throw err;
  }
  return grads;
}

/** x [B, Cin, L], w [Cout, Cin/groups, k] -> [B, Cout, Lout]. */
export function conv1d(x: Tensor, w: Tensor, bias?: Tensor | null, opts: ConvOptions = {}): Tensor {
  return forward('conv1d', 1, x, w, bias, opts);
}

/** x [B, Cin, H, W], w [Cout, Cin/groups, kH, kW] -> [B, Cout, Hout, Wout]. */
export function conv2d(x: Tensor, w: Tensor, bias?: Tensor | null, opts: ConvOptions = {}): Tensor {
  return forward('conv2d', 2, x, w, bias, opts);
}

/** x [B, Cin, T, H, W], w [Cout, Cin/groups, kT, kH, kW] -> [B, Cout, Tout, Hout, Wout]. */
export function conv3d(x: Tensor, w: Tensor, bias?: Tensor | null, opts: ConvOptions = {}): Tensor {
  return forward('conv3d', 3, x, w, bias, opts);
}

/** Gradients of conv1d given the output gradient dy (same options as the forward call). */
export function conv1dBackward(dy: Tensor, x: Tensor, w: Tensor, opts: ConvOptions, need: ConvGradRequest): ConvGrads {
  return backward('conv1dBackward', 1, dy, x, w, opts, need);
}

/** Gradients of conv2d given the output gradient dy (same options as the forward call). */
export function conv2dBackward(dy: Tensor, x: Tensor, w: Tensor, opts: ConvOptions, need: ConvGradRequest): ConvGrads {
  return backward('conv2dBackward', 2, dy, x, w, opts, need);
}

/** Gradients of conv3d given the output gradient dy (same options as the forward call). */
export function conv3dBackward(dy: Tensor, x: Tensor, w: Tensor, opts: ConvOptions, need: ConvGradRequest): ConvGrads {
  return backward('conv3dBackward', 3, dy, x, w, opts, need);
}
