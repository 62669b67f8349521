/**
 * Matrix products: `matmul` (torch.matmul semantics: 1-D vectors, batched operands with broadcast
 * leading dims) and `linear` (x @ w^T + b with activation and residual fused into the GEMM epilogue).
 * Operands are read through their strides, so transposed and sliced views (and PyTorch [out, in]
 * weights) are never copied. Kernels: kernels/matmul.ts. On GPUs a product of few output tiles splits K
 * across workgroups and sums the partials in a second kernel (f32 scratch of a few M x N).
 */
import {
  batchCount, chooseKernel, chooseKSplit, DEFAULT_TILED, lanesRowsProblem, matmulLaunches, matmulSplitKSumLaunch, splitKPartialSpec,
  subgroupMatrixLayout, subgroupMatrixProblem, subgroupMatrixTile, tiledChoiceOf, tiledProblem, tileOf,
  type Activation, type GemmCaps, type GemmSpec, type KernelChoice, type MatmulVariant, type MatrixOperand, type SubgroupMatrixTile,
} from '../../kernels/matmul.js';
import { LANES_REQUIREMENT, MAX_GRID_DIM, lanesSupported, splitOf, unsplit, type Split } from '../../kernels/launch.js';
import { expectOptions, optionKeys } from '../arguments.js';
import type { DType } from '../dtype.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { runtime, type Runtime } from '../runtime.js';
import { broadcastShapes, broadcastStrides } from '../shape.js';
import { empty, expectTensor, type Tensor } from '../tensor.js';

export interface MatmulOptions {
  /** Output dtype; f16 inputs may produce f32 (accumulation is always f32). Default: the input dtype. */
  outDtype?: 'f32' | 'f16';
  /** Force a kernel instead of the tuning table's choice (tests and benchmarks). */
  kernel?: MatmulVariant;
  /** Force the rows per workgroup of the 'lanes' kernel, a multiple of 4 up to 32 (tests and benchmarks). */
  rows?: number;
  /**
   * Force the tile of the 'tiled' kernel: 4x4 register blocks per invocation along M and N, K per slab,
   * and whether to stage through vec4 loads where the layout allows (see kernels/matmul.ts TiledChoice).
   */
  tile?: { blocks: [number, number]; tk: number; vec4?: boolean; unrolled?: boolean; stages?: 1 | 2 };
  /**
   * Force the shape of the 'subgroup-matrix' kernel: subgroups per workgroup and 16x16 result fragments
   * per subgroup, along M and N, K per staged slab, slabs per operand and how slabs are filled (see
   * kernels/matmul.ts SubgroupMatrixChoice).
   */
  subgroupMatrix?: { subgroups: [number, number]; fragments: [number, number]; tk: number; stages?: 1 | 2; staging?: 'chunks' | 'packed' | 'fragments' };
  /**
   * Force how many K segments the 'tiled' or 'subgroup-matrix' kernel splits the product into (tests and
   * tuning): each runs its own workgroups into f32 partials that a second kernel sums through the epilogue
   * (kernels/wgsl/matmul_split_k.wgsl), rounded so that every segment holds whole slabs; 1 turns the
   * split off. By default GPUs split GEMMs of few output tiles (kernels/matmul.ts chooseKSplit).
   */
  splitK?: number;
}

export interface LinearOptions extends MatmulOptions {
  activation?: Activation;
  /** Added after the activation: out = act(x @ w^T + b) + residual; broadcast to the output shape. */
  residual?: Tensor;
  /** Also return act's input x @ w^T + b (autograd needs it for the GELU backward). */
  savePreActivation?: boolean;
}

const MATMUL_KEYS = { outDtype: true, kernel: true, rows: true, tile: true, subgroupMatrix: true, splitK: true } as const;
const MATMUL_OPTIONS = optionKeys<MatmulOptions>(MATMUL_KEYS);
export const LINEAR_OPTIONS = optionKeys<LinearOptions>({ ...MATMUL_KEYS, activation: true, residual: true, savePreActivation: true });

function checkFloat(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype)
    throw new DTypeError(`${op}: dtypes differ: ${a.dtype} ${fmtShape(a.shape)} and ${b.dtype} ${fmtShape(b.shape)}`);
  if (a.dtype !== 'f32' && a.dtype !== 'f16')
    throw new DTypeError(`${op}: expects f32 or f16 tensors, got ${a.dtype} ${fmtShape(a.shape)} and ${b.dtype} ${fmtShape(b.shape)}`);
}

function tiledChoice(op: string, rt: Runtime, tile: MatmulOptions['tile']): KernelChoice {
  if (!tile) return DEFAULT_TILED;
  const problem = tiledProblem(tile, rt.workgroupStorageBytes);
  if (problem) throw new ArgumentError(`${op}: tile ${JSON.stringify(tile)}: ${problem}`);
  return tiledChoiceOf(tile);
}

/** What the device offers that the kernel choice depends on, with the tuning table installed on it, if any. */
export function gemmCaps(rt: Runtime): GemmCaps {
  return {
    adapterClass: rt.info.adapterClass,
    subgroups: rt.features.has('subgroups'),
    subgroupSize: rt.fixedSubgroupSize,
    subgroupMatrixF16: rt.info.subgroupMatrixF16,
    workgroupStorage: rt.workgroupStorageBytes,
    maxInvocations: rt.info.limits.maxComputeInvocationsPerWorkgroup ?? 256,
    ...(rt.matmulTuning ? { tuning: rt.matmulTuning.entries } : {}),
  };
}

function pickKernel(op: string, rt: Runtime, spec: GemmSpec, options: MatmulOptions): KernelChoice {
  if (options.splitK !== undefined && !(Number.isInteger(options.splitK) && options.splitK >= 1))
    throw new ArgumentError(`${op}: splitK must be an integer >= 1, got ${String(options.splitK)}`);
  const caps = gemmCaps(rt);
  const rowsProblem = options.rows === undefined ? null : lanesRowsProblem(options.rows);
  if (rowsProblem) throw new ArgumentError(`${op}: ${rowsProblem}`);
  switch (options.kernel) {
    case undefined: {
      const choice = chooseKernel(caps, spec);
      return options.rows !== undefined && choice.variant === 'lanes' ? { ...choice, rows: options.rows } : choice;
    }
    case 'tiled':
      return tiledChoice(op, rt, options.tile);
    case 'lanes':
      if (!lanesSupported(caps.subgroups, caps.subgroupSize))
        throw new ArgumentError(`${op}: the 'lanes' kernel needs ${LANES_REQUIREMENT}, which this adapter lacks`);
      return { variant: 'lanes', rows: options.rows ?? 8, lanes: caps.subgroupSize! };
    case 'subgroup-matrix': {
      if (!caps.subgroupMatrixF16 || caps.subgroupSize === undefined)
        throw new ArgumentError(`${op}: the 'subgroup-matrix' kernel needs chromium-experimental-subgroup-matrix with an f16 16x16x16 configuration and a fixed subgroup size, which this adapter lacks`);
      const layout = subgroupMatrixLayout(spec);
      if (!layout)
        throw new ArgumentError(`${op}: the 'subgroup-matrix' kernel needs f16 operands, each with a unit stride on one matrix dim and 8-aligned offsets and strides, and K % 16 == 0`);
      const forced = options.subgroupMatrix;
      const tile: SubgroupMatrixTile = forced
        ? { subgroups: forced.subgroups, frags: forced.fragments, tk: forced.tk, stages: forced.stages ?? 2, ...(forced.staging ? { staging: forced.staging } : {}) }
        : subgroupMatrixTile(spec);
      const problem = subgroupMatrixProblem(tile, caps.subgroupSize, caps.workgroupStorage, caps.maxInvocations, layout);
      if (problem) throw new ArgumentError(`${op}: subgroup-matrix shape ${JSON.stringify(forced ?? tile)}: ${problem}`);
      return { variant: 'subgroup-matrix', ...tile, lanes: caps.subgroupSize };
    }
    default:
      throw new ArgumentError(`${op}: unknown kernel '${String(options.kernel)}' (expected 'tiled', 'lanes' or 'subgroup-matrix')`);
  }
}

function outDtype(op: string, input: DType, options: MatmulOptions): DType {
  const out = options.outDtype ?? input;
  if (out !== 'f32' && out !== 'f16') throw new DTypeError(`${op}: outDtype must be 'f32' or 'f16', got '${String(out)}'`);
  if (out === 'f16' && input !== 'f16') throw new DTypeError(`${op}: outDtype f16 needs f16 inputs, got ${input}`);
  return out;
}

/** Matrix view of a (promoted) operand: last two dims are the matrix, leading dims broadcast to `batch`. */
function matrixOperand(t: Tensor, shape: readonly number[], strides: readonly number[], batch: readonly number[]): MatrixOperand {
  const r = shape.length;
  return {
    dtype: t.dtype,
    offset: t.offset,
    rowStride: strides[r - 2]!,
    colStride: strides[r - 1]!,
    batchStrides: broadcastStrides(shape.slice(0, r - 2), strides.slice(0, r - 2), batch),
  };
}

interface Gemm {
  readonly op: string;
  readonly a: Tensor;
  readonly b: Tensor;
  readonly spec: Omit<GemmSpec, 'out'>;
  readonly outShape: readonly number[];
  readonly bias?: Tensor;
  readonly residual?: Tensor;
}

/**
 * Row stride of `o` with the batch dims folded into M, or null when its rows do not continue from one
 * batch entry into the next with one stride. With M = 1 the innermost batch dim supplies the stride.
 */
function foldedRowStride(o: MatrixOperand, m: number, batch: readonly number[]): number | null {
  let stride = m > 1 ? o.rowStride : null;
  let rows = m;
  for (let i = batch.length - 1; i >= 0; i--) {
    if (batch[i] === 1) continue;
    const s = o.batchStrides[i]!;
    if (stride === null) stride = s;
    else if (s !== stride * rows) return null;
    rows *= batch[i]!;
  }
  return stride ?? o.rowStride;
}

/**
 * The same product as one GEMM of batch x M rows, when that is only a relabelling: B is shared by every
 * batch entry (stride 0 on each batch dim, as a linear layer's weight), and A's and the residual's rows
 * continue from one entry into the next with one stride (the output is contiguous, so its rows always
 * do). torch.matmul folds the same way. It matters when M is small: x [512, 8, 16] @ w^T was 512 GEMMs
 * of 8 rows, each a quarter of a 32-row lanes tile on lavapipe, and is now one of 4096 rows.
 */
function foldBatch(spec: Omit<GemmSpec, 'out'>): Omit<GemmSpec, 'out'> | null {
  const batch = spec.batchShape;
  if (batch.length === 0 || spec.b.batchStrides.some((s) => s !== 0)) return null;
  const aStride = foldedRowStride(spec.a, spec.m, batch);
  const resStride = spec.residual ? foldedRowStride(spec.residual, spec.m, batch) : 0;
  if (aStride === null || resStride === null) return null;
  const flat = (o: MatrixOperand, rowStride: number): MatrixOperand => ({ ...o, rowStride, batchStrides: [] });
  return {
    ...spec,
    m: spec.m * batch.reduce((x, y) => x * y, 1),
    batchShape: [],
    a: flat(spec.a, aStride),
    b: flat(spec.b, spec.b.rowStride),
    ...(spec.residual ? { residual: flat(spec.residual, resStride) } : {}),
  };
}

function runGemm(g: Gemm, options: MatmulOptions): Tensor[] {
  const rt = runtime(g.op);
  const dtype = outDtype(g.op, g.a.dtype, options);
  const folded = foldBatch(g.spec);
  let spec: GemmSpec = { ...(folded ?? g.spec), out: dtype };
  let choice = pickKernel(g.op, rt, spec, options);
  // More folded rows than one grid dimension holds: keep the batch in the grid's third dimension.
  if (folded && Math.ceil(spec.m / tileOf(choice)[0]) > MAX_GRID_DIM) {
    spec = { ...g.spec, out: dtype };
    choice = pickKernel(g.op, rt, spec, options);
  }
  const [tileM, tileN] = tileOf(choice);
  if (Math.ceil(spec.m / tileM) > MAX_GRID_DIM || Math.ceil(spec.n / tileN) > MAX_GRID_DIM)
    throw new ShapeError(`${g.op}: ${fmtShape(g.outShape)} needs more than ${MAX_GRID_DIM} workgroups along M or N`);
  const split = kSplit(g.op, rt, spec, choice, options);
  const out = empty(g.outShape, dtype, g.op);
  const pre = g.spec.savePre ? empty(g.outShape, dtype, g.op) : null;
  if (out.size > 0) {
    const epilogue = [g.bias, g.residual].filter((t): t is Tensor => t !== undefined).map((t) => t.storage(g.op).buffer);
    const outputs = [out, pre].filter((t): t is Tensor => t !== null).map((t) => t.storage(g.op).buffer);
    const [a, b] = [g.a.storage(g.op).buffer, g.b.storage(g.op).buffer];
    if (split.segments === 1) {
      for (const launch of matmulLaunches(spec, choice)) rt.run(launch, [a, b, ...epilogue, ...outputs]);
    } else {
      // K in segments: f32 partial products [segments * batch, M, N], then their sum through the epilogue.
      const batch = batchCount(spec);
      const partials = empty([split.segments * batch, spec.m, spec.n], 'f32', g.op);
      for (const launch of matmulLaunches(splitKPartialSpec(spec), choice, split)) rt.run(launch, [a, b, partials.storage(g.op).buffer]);
      rt.run(matmulSplitKSumLaunch(spec, split), [partials.storage(g.op).buffer, ...epilogue, ...outputs]);
      partials.dispose();
    }
  }
  return pre ? [out, pre] : [out];
}

/**
 * The K split: the forced `splitK` (not on the lanes kernel), else the adapter's choice (kernels/matmul.ts
 * chooseKSplit: GPUs split GEMMs of few output tiles); none where segments x batch entries would
 * not fit one grid dimension.
 */
function kSplit(op: string, rt: Runtime, spec: GemmSpec, choice: KernelChoice, options: MatmulOptions): Split {
  const batch = batchCount(spec);
  let split: Split;
  if (options.splitK === undefined) split = chooseKSplit(rt.info.adapterClass, spec, choice);
  else if (options.splitK === 1) split = unsplit(spec.k);
  else if (choice.variant === 'lanes') throw new ArgumentError(`${op}: splitK applies to the 'tiled' and 'subgroup-matrix' kernels, not 'lanes'`);
  else split = splitOf(spec.k, choice.tk, options.splitK);
  return split.segments * batch > MAX_GRID_DIM ? unsplit(spec.k) : split;
}

/**
 * torch.matmul: 1-D x 1-D is a dot product (0-d result); a 1-D left operand is a row vector and a
 * 1-D right operand a column vector (the added dim is removed from the result); otherwise the last
 * two dims multiply and leading dims broadcast, e.g. [2,1,M,K] @ [3,K,N] -> [2,3,M,N].
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const op = 'matmul';
  expectTensor(op, 'a', a);
  expectTensor(op, 'b', b);
  expectOptions(op, options, MATMUL_OPTIONS);
  a.storage(op);
  b.storage(op);
  if (a.rank === 0 || b.rank === 0)
    throw new ShapeError(`matmul: both operands need at least 1 dim, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  checkFloat(op, a, b);
  const aShape = a.rank === 1 ? [1, a.shape[0]!] : [...a.shape];
  const aStrides = a.rank === 1 ? [0, a.strides[0]!] : [...a.strides];
  const bShape = b.rank === 1 ? [b.shape[0]!, 1] : [...b.shape];
  const bStrides = b.rank === 1 ? [b.strides[0]!, 0] : [...b.strides];
  const [m, k] = aShape.slice(-2) as [number, number];
  const [kb, n] = bShape.slice(-2) as [number, number];
  if (k !== kb)
    throw new ShapeError(`matmul: inner dims differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)} (${k} vs ${kb})`);
  let batch: number[];
  try {
    batch = broadcastShapes(op, aShape.slice(0, -2), bShape.slice(0, -2));
  } catch {
    throw new ShapeError(`matmul: batch dims of ${fmtShape(a.shape)} and ${fmtShape(b.shape)} do not broadcast`);
  }
  const outShape = [...batch, ...(a.rank === 1 ? [] : [m]), ...(b.rank === 1 ? [] : [n])];
  return runGemm(
    {
      op, a, b, outShape,
      spec: {
        m, n, k, batchShape: batch,
        a: matrixOperand(a, aShape, aStrides, batch),
        b: matrixOperand(b, bShape, bStrides, batch),
        activation: 'none', savePre: false,
      },
    },
    options,
  )[0]!;
}

export interface LinearWithPre {
  out: Tensor;
  /** x @ w^T + b, before the activation and residual. */
  pre: Tensor;
}

/**
 * act(x @ w^T + bias) + residual with everything after the product fused into the GEMM's store.
 * x is [..., in], w is [out, in] (PyTorch layout, read transposed in place), bias [out]; the result
 * is [..., out]. With `savePreActivation` also returns x @ w^T + bias.
 */
export function linear(x: Tensor, w: Tensor, bias?: Tensor | null, options?: LinearOptions & { savePreActivation?: false }): Tensor;
export function linear(x: Tensor, w: Tensor, bias: Tensor | null | undefined, options: LinearOptions & { savePreActivation: true }): LinearWithPre;
export function linear(x: Tensor, w: Tensor, bias?: Tensor | null, options: LinearOptions = {}): Tensor | LinearWithPre {
  const op = 'linear';
  expectTensor(op, 'x', x);
  expectTensor(op, 'weight', w);
  if (bias !== null && bias !== undefined) expectTensor(op, 'bias', bias);
  expectOptions(op, options, LINEAR_OPTIONS);
  x.storage(op);
  w.storage(op);
  if (x.rank === 0) throw new ShapeError(`linear: input must have at least 1 dim, got ${fmtShape(x.shape)}`);
  if (w.rank !== 2) throw new ShapeError(`linear: weight must be 2-D [out, in], got ${fmtShape(w.shape)}`);
  checkFloat(op, x, w);
  const [outF, inF] = w.shape as [number, number];
  const k = x.shape[x.rank - 1]!;
  if (k !== inF)
    throw new ShapeError(`linear: input ${fmtShape(x.shape)} has ${k} features but weight ${fmtShape(w.shape)} expects ${inF}`);
  const xShape = x.rank === 1 ? [1, k] : [...x.shape];
  const xStrides = x.rank === 1 ? [0, x.strides[0]!] : [...x.strides];
  const batch = xShape.slice(0, -2);
  const m = xShape[xShape.length - 2]!;
  const outShape = [...x.shape.slice(0, -1), outF];
  let biasSpec: GemmSpec['bias'];
  if (bias) {
    bias.storage(op);
    if (bias.rank !== 1 || bias.shape[0] !== outF)
      throw new ShapeError(`linear: bias ${fmtShape(bias.shape)} does not match weight ${fmtShape(w.shape)} (expected [${outF}])`);
    if (bias.dtype !== x.dtype) throw new DTypeError(`linear: bias is ${bias.dtype} but input is ${x.dtype}`);
    biasSpec = { dtype: bias.dtype, offset: bias.offset, stride: bias.strides[0]! };
  }
  const activation = options.activation ?? 'none';
  if (!['none', 'gelu', 'relu'].includes(activation))
    throw new ArgumentError(`linear: unknown activation '${String(activation)}' (expected 'none', 'gelu' or 'relu')`);
  const res = options.residual;
  let resSpec: MatrixOperand | undefined;
  if (res) {
    expectTensor(op, 'options.residual', res);
    res.storage(op);
    if (res.dtype !== 'f32' && res.dtype !== 'f16') throw new DTypeError(`linear: residual must be a float tensor, got ${res.dtype}`);
    let rs: number[];
    try {
      rs = broadcastStrides(res.shape, res.strides, broadcastShapesExact(op, res.shape, outShape));
    } catch {
      throw new ShapeError(`linear: residual ${fmtShape(res.shape)} does not broadcast to the output ${fmtShape(outShape)}`);
    }
    // Strides over the promoted [...batch, M, N] output (a 1-D input has no M dim).
    const full = x.rank === 1 ? [0, rs[0]!] : rs;
    resSpec = matrixOperand(res, [...batch, m, outF], full, batch);
  }
  const savePre = options.savePreActivation === true;
  const [out, pre] = runGemm(
    {
      op, a: x, b: w, outShape, ...(bias ? { bias } : {}), ...(res ? { residual: res } : {}),
      spec: {
        m, n: outF, k, batchShape: batch,
        a: matrixOperand(x, xShape, xStrides, batch),
        b: { dtype: w.dtype, offset: w.offset, rowStride: w.strides[1]!, colStride: w.strides[0]!, batchStrides: batch.map(() => 0) },
        ...(biasSpec ? { bias: biasSpec } : {}),
        ...(resSpec ? { residual: resSpec } : {}),
        activation, savePre,
      },
    },
    options,
  );
  return savePre ? { out: out!, pre: pre! } : out!;
}

/** `target` if `shape` broadcasts to it without changing it; throws otherwise. */
function broadcastShapesExact(op: string, shape: readonly number[], target: readonly number[]): readonly number[] {
  const joint = broadcastShapes(op, shape, target);
  if (joint.length !== target.length || joint.some((d, i) => d !== target[i])) throw new ShapeError(op);
  return target;
}

