/**
 * Fused scaled-dot-product attention, forward and backward, on kernels/wgsl/attention*.wgsl:
 *
 *   out = softmax(Q K^T * scale + mask) V      q [B, H, Tq, d], k and v [B, H, Tk, d]
 *
 * in one kernel with an online softmax, so the Tq x Tk matrix is never materialised (extra memory is the
 * [B, H, Tq] log-sum-exp only; where a GPU splits each row's keys across workgroups because the grid is
 * small, a few partial outputs too, merged by a second kernel: O(T) still). Inputs may be any strided
 * views — e.g. q/k/v sliced out of a fused [B, T, 3, H, d] projection and permuted, or k/v expanded
 * across heads with stride 0 — and are read in place. Head dims 1..256 compile (one pipeline per head
 * dim); 32, 64, 80, 96 and 128 are the measured ones. f32 and f16 (math in f32). The forward runs the 'lanes' kernel on CPU adapters with fixed-width
 * subgroups (lavapipe: ~2x faster than the unfused matmul/softmax/matmul composition at ViT-B shapes,
 * see kernels/wgsl/attention_lanes.wgsl) and the 'tiled' kernel elsewhere; `kernel` forces one.
 *
 * Masks (all optional, combinable):
 *  - `keyPaddingMask` [B, Tk], any dtype: NON-ZERO MEANS IGNORE THAT KEY (PyTorch's `key_padding_mask`
 *    convention, where True marks padding).
 *  - `mask`: an additive float mask broadcastable to [B, H, Tq, Tk] (rank <= 4, e.g. [Tq, Tk] or
 *    [B, 1, Tq, Tk]); -inf entries remove a key like the padding mask does.
 *  - `causal`: query i sees keys 0..i (top-left aligned, as PyTorch's `is_causal`, also when Tq != Tk).
 * A query row that sees no key at all gets output 0 and lse -inf (PyTorch would give NaN).
 *
 * `multiHeadSelfAttention` is the same attention on a packed [B, T, 3 * H * d] projection (a transformer
 * block's qkv Linear): the kernels read q, k and v out of it, write the output with its heads merged,
 * [B, T, H * d], and the backward writes dQ, dK and dV into one [B, T, 3 * H * d] gradient. Outputs go
 * through the kernels' output strides, so nothing is permuted, copied, zero-filled or added around them.
 */
import {
  MAX_HEAD_DIM,
  attentionBlockedBackwardTile,
  attentionBlockedDkDvLaunch,
  attentionBlockedDqLaunch,
  attentionBlockedForwardLaunch,
  attentionBlockedTile,
  attentionCombineLaunch,
  attentionBackwardSplits,
  attentionDeltaLaunch,
  attentionDkDvLaunch,
  attentionDqLaunch,
  attentionForwardLaunch,
  attentionKeySplit,
  attentionLanesForwardLaunch,
  attentionLanesBackwardLaunch,
  attentionLanesBackwardTile,
  attentionLanesTile,
  attentionTile,
  attentionTileBytes,
  attentionTuningEntry,
  chooseAttentionKernel,
  fittedAttentionTile,
  type AttentionKernel,
  type AttentionBackwardOperands,
  type AttentionOperands,
  type AttentionShape,
  type AttentionTile,
} from '../../kernels/attention.js';
import type { Operand } from '../../kernels/elementwise.js';
import { LANES_REQUIREMENT, MAX_GRID_DIM, lanesSupported, splitOf, unsplit, type Launch, type Split } from '../../kernels/launch.js';
import { describe, expectOptions, optionKeys } from '../arguments.js';
import { isFloat, type DType } from '../dtype.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { broadcastStrides, contiguousStrides, sameShape, sizeOf, type Shape } from '../shape.js';
import { empty, expectTensor, type Tensor } from '../tensor.js';
import { cast } from './elementwise.js';
import { assign } from './inplace.js';
import { sum } from './reduce.js';

export interface AttentionOptions {
  /** Additive float mask (f32 or f16) broadcastable to [B, H, Tq, Tk]; -inf removes a key. No gradient. */
  mask?: Tensor;
  /** [B, Tk]; a non-zero entry marks a padding key that no query attends to (PyTorch `key_padding_mask`). */
  keyPaddingMask?: Tensor;
  /** Query i attends to keys 0..i only. */
  causal?: boolean;
  /** Multiplies Q K^T; defaults to 1 / sqrt(d). */
  scale?: number;
}

export interface AttentionKernelOption {
  /**
   * Force a kernel family instead of the adapter's choice (tests and benchmarks): 'tiled' and 'blocked'
   * (register-blocked kernels for GPUs, not yet any adapter's default) run everywhere, 'lanes' needs
   * subgroups of a fixed width (kernels/attention.ts).
   */
  kernel?: AttentionKernel;
  /**
   * Force the 'tiled' family's tile instead of the adapter class's (tests and tuning): invocations (own
   * rows) per workgroup, and rows of the other operand staged per step in workgroup memory. Implies
   * kernel 'tiled'.
   */
  tile?: AttentionTile;
  /**
   * Force the 'tiled' kernels' split of the rows they walk (tests and tuning): in the forward each query
   * block's keys are shared among this many workgroups, whose partial results a second kernel merges
   * (kernels/wgsl/attention_combine.wgsl); in the backward the dK/dV pass splits the queries and the dQ
   * pass the keys the same way, and the partial gradients are added up. Rounded so that every segment
   * holds whole staged tiles; 1 turns the split off. By default GPUs split where a grid is too small to
   * fill them (kernels/attention.ts attentionKeySplit, attentionBackwardSplits). Implies kernel 'tiled'.
   */
  keySplits?: number;
}

/** The forced family: `kernel`, or 'tiled' when only a tile or a key split is forced. */
function familyOf(options: AttentionKernelOption): AttentionKernel | undefined {
  return options.kernel ?? (options.tile || options.keySplits !== undefined ? 'tiled' : undefined);
}

export interface AttentionForwardOptions extends AttentionOptions, AttentionKernelOption {
  /** Also return the per-row log-sum-exp [B, H, Tq] (f32) that the backward pass needs. */
  returnLse?: boolean;
}

export interface AttentionWithLse {
  out: Tensor;
  /** log sum_j exp(s_ij) per query row, f32 [B, H, Tq]; -inf for rows that see no key. */
  lse: Tensor;
}

export interface AttentionGradients {
  dq: Tensor;
  /** dk and dv are views of one buffer (freed when both are disposed). */
  dk: Tensor;
  dv: Tensor;
}

interface Plan {
  rt: Runtime;
  shape: AttentionShape;
  operands: AttentionOperands;
  tile: AttentionTile;
  /** The family the installed tuning table gives this sequence length (rt.attentionTuning), when no kernel is forced. */
  tuned?: AttentionKernel;
  /** Buffers for bindings q, k, v, mask, keyPadding (absent masks bind q's buffer, never read). */
  buffers: GPUBuffer[];
}

function operand(t: Tensor, strides: readonly number[] = t.strides): Operand {
  return { dtype: t.dtype, offset: t.offset, strides };
}

function storageOn(op: string, rt: Runtime, t: Tensor, name: string): GPUBuffer {
  expectTensor(op, name, t);
  const st = t.storage(op);
  if (st.rt !== rt) throw new ArgumentError(`${op}: ${name} ${fmtShape(t.shape)} lives on a different device than q`);
  return st.buffer;
}

/** The most invocations one workgroup of a 1-D dispatch may have on this device. */
export function maxInvocations(rt: Runtime): number {
  return Math.min(rt.info.limits.maxComputeInvocationsPerWorkgroup ?? 256, rt.info.limits.maxComputeWorkgroupSizeX ?? 256);
}

/** A forced tile, checked against the device's workgroup limits (`storage` bytes) before any GPU work. */
function forcedTile(op: string, rt: Runtime, headDim: number, storage: number, tile: AttentionTile): AttentionTile {
  const maxRows = maxInvocations(rt);
  const { rows, tile: staged } = tile;
  if (!Number.isInteger(rows) || rows < 1 || rows > maxRows || !Number.isInteger(staged) || staged < 1)
    throw new ArgumentError(`${op}: tile ${JSON.stringify(tile)} is invalid (rows 1..${maxRows} invocations, tile >= 1 rows)`);
  const bytes = attentionTileBytes(headDim, staged);
  if (bytes > storage)
    throw new ArgumentError(`${op}: tile ${JSON.stringify(tile)} stages ${bytes} bytes of workgroup memory at head dim ${headDim}, the device allows ${storage}`);
  return { rows, tile: staged };
}

function checkGrid(op: string, shapes: string, blocks: number, heads: number, batch: number): void {
  if (blocks > MAX_GRID_DIM || heads > MAX_GRID_DIM || batch > MAX_GRID_DIM)
    throw new ShapeError(`${op}: ${shapes} needs a ${blocks} x ${heads} x ${batch} workgroup grid; each dimension is limited to ${MAX_GRID_DIM}`);
}

/**
 * The kernel family: the forced one, else the adapter's choice; returns the subgroup width for 'lanes'
 * (checked before any GPU work).
 */
function kernelOf(op: string, p: Plan, kernel: AttentionKernel | undefined): { kernel: AttentionKernel; lanes: number } {
  const hasSubgroups = p.rt.features.has('subgroups');
  const lanes = p.rt.fixedSubgroupSize;
  if (kernel !== undefined && kernel !== 'tiled' && kernel !== 'lanes' && kernel !== 'blocked')
    throw new ArgumentError(`${op}: unknown kernel '${String(kernel)}' (expected 'tiled', 'lanes' or 'blocked')`);
  if (kernel === 'lanes' && !lanesSupported(hasSubgroups, lanes))
    throw new ArgumentError(`${op}: the 'lanes' kernel needs ${LANES_REQUIREMENT}, which this adapter lacks`);
  return { kernel: kernel ?? p.tuned ?? chooseAttentionKernel(p.rt.info.adapterClass, hasSubgroups, lanes), lanes: lanes ?? 0 };
}

/** The scratch of a key-split forward's partial outputs: segment s of batch b is batch s * B + b. */
function partialShape(shape: AttentionShape, split: Split): number[] {
  return [split.segments * shape.batch, shape.heads, shape.tq, shape.headDim];
}

/**
 * The forward launch for the chosen kernel family writing to `out`, and its key split: one segment but
 * for the 'tiled' kernel (forced by `keySplits`, else the adapter's choice), whose split forward writes
 * into a contiguous partialShape scratch instead (forwardInto allocates it and merges).
 */
function forwardLaunch(op: string, p: Plan, out: Operand, options: AttentionKernelOption): { launch: Launch; split: Split } {
  const { kernel, lanes } = kernelOf(op, p, familyOf(options));
  const { shape } = p;
  const q = `q ${fmtShape([shape.batch, shape.heads, shape.tq, shape.headDim])}`;
  if (kernel === 'tiled') {
    const split = options.keySplits === undefined ? attentionKeySplit(p.rt.info.adapterClass, shape, p.tile) : splitOf(shape.tk, p.tile.tile, options.keySplits);
    checkGrid(op, `${q} in ${split.segments} key segments`, Math.ceil(shape.tq / p.tile.rows) * split.segments, shape.heads, shape.batch);
    const target = split.segments > 1 ? { dtype: out.dtype, offset: 0, strides: contiguousStrides(partialShape(shape, split)) } : out;
    return { launch: attentionForwardLaunch(shape, { ...p.operands, out: target }, p.tile, split), split };
  }
  const ops = { ...p.operands, out };
  const launch = kernel === 'blocked'
    ? attentionBlockedForwardLaunch(shape, ops, attentionBlockedTile(shape.headDim, p.rt.workgroupStorageBytes, maxInvocations(p.rt)))
    : attentionLanesForwardLaunch(shape, ops, attentionLanesTile(shape.headDim, lanes));
  checkGrid(op, q, launch.workgroups[0]!, shape.heads, shape.batch);
  return { launch, split: unsplit(shape.tk) };
}

/**
 * A backward pass and where it writes: `launch` writes its gradient(s) straight to their destinations, or,
 * split, each into contiguous f32 partial gradients of shape `partial`, [segments, B, H, T, d], one after
 * the other in one scratch buffer (runPass adds the segments up into the destinations).
 */
interface BackwardPass {
  launch: Launch;
  partial: number[] | null;
}

/**
 * The dK/dV and dQ passes of the chosen kernel family (checked before any GPU work). The tiled family
 * splits the rows each pass walks where `keySplits` forces it or the grid is too small for the GPU
 * (attentionBackwardSplits); a split pass writes to contiguous f32 scratch at offset 0 (dK then dV).
 */
function backwardPasses(op: string, p: Plan, ops: AttentionBackwardOperands, options: AttentionKernelOption): { dkdv: BackwardPass; dq: BackwardPass } {
  const { kernel, lanes } = kernelOf(op, p, familyOf(options));
  const { shape } = p;
  let launches: { dkdv: Launch; dqLaunch: Launch };
  let partials: { dkdv: number[] | null; dq: number[] | null } = { dkdv: null, dq: null };
  if (kernel === 'tiled') {
    const n = options.keySplits;
    const splits = n === undefined
      ? attentionBackwardSplits(p.rt.info.adapterClass, shape, p.tile)
      : { dkdv: splitOf(shape.tq, p.tile.tile, n), dq: splitOf(shape.tk, p.tile.tile, n) };
    const partial = (rows: number, split: Split) => (split.segments > 1 ? [split.segments, shape.batch, shape.heads, rows, shape.headDim] : null);
    partials = { dkdv: partial(shape.tk, splits.dkdv), dq: partial(shape.tq, splits.dq) };
    // Segment s of batch b is batch s * B + b of the kernel's [segments * B, H, T, d] view of the partials.
    const at = (shapeOf: number[], index: number): Operand => ({ dtype: 'f32', offset: index * sizeOf(shapeOf), strides: contiguousStrides(shapeOf).slice(1) });
    const dkdvOps = partials.dkdv ? { ...ops, dk: at(partials.dkdv, 0), dv: at(partials.dkdv, 1) } : ops;
    const dqOps = partials.dq ? { ...ops, dq: at(partials.dq, 0) } : ops;
    launches = { dkdv: attentionDkDvLaunch(shape, dkdvOps, p.tile, splits.dkdv), dqLaunch: attentionDqLaunch(shape, dqOps, p.tile, splits.dq) };
  } else if (kernel === 'blocked') {
    const tile = attentionBlockedBackwardTile(shape.headDim, p.rt.workgroupStorageBytes, maxInvocations(p.rt));
    launches = { dkdv: attentionBlockedDkDvLaunch(shape, ops, tile), dqLaunch: attentionBlockedDqLaunch(shape, ops, tile) };
  } else {
    const tile = attentionLanesBackwardTile(shape.headDim, lanes);
    launches = {
      dkdv: attentionLanesBackwardLaunch('attention_lanes_dkdv', shape, ops, tile),
      dqLaunch: attentionLanesBackwardLaunch('attention_lanes_dq', shape, ops, tile),
    };
  }
  const blocks = Math.max(launches.dkdv.workgroups[0]!, launches.dqLaunch.workgroups[0]!);
  checkGrid(op, `q ${fmtShape([shape.batch, shape.heads, shape.tq, shape.headDim])}, k ${fmtShape([shape.batch, shape.heads, shape.tk, shape.headDim])}`, blocks, shape.heads, shape.batch);
  return { dkdv: { launch: launches.dkdv, partial: partials.dkdv }, dq: { launch: launches.dqLaunch, partial: partials.dq } };
}

/** Every option of the forward (the backward takes the forward's options as they were). */
export const ATTENTION_OPTIONS = optionKeys<AttentionForwardOptions>({
  mask: true, keyPaddingMask: true, causal: true, scale: true, kernel: true, tile: true, keySplits: true, returnLse: true,
});

/** Validates q/k/v, options and limits, naming every operand involved; no GPU work happens before. */
function plan(op: string, q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions & AttentionKernelOption): Plan {
  for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) expectTensor(op, name, t);
  expectOptions(op, options, ATTENTION_OPTIONS);
  if (options.causal !== undefined && typeof options.causal !== 'boolean')
    throw new ArgumentError(`${op}: options.causal must be a boolean, got ${describe(options.causal)}`);
  const rt = q.storage(op).rt;
  const named = { q, k, v };
  for (const [name, t] of Object.entries(named)) {
    t.storage(op);
    if (t.rank !== 4) throw new ShapeError(`${op}: ${name} must have rank 4 [B, H, T, d], got ${fmtShape(t.shape)}`);
    if (!isFloat(t.dtype)) throw new DTypeError(`${op}: ${name} must be f32 or f16, got ${t.dtype}`);
  }
  if (k.dtype !== q.dtype || v.dtype !== q.dtype)
    throw new DTypeError(`${op}: q, k, v dtypes differ: q ${q.dtype}, k ${k.dtype}, v ${v.dtype}`);
  const [batch, heads, tq, headDim] = q.shape as [number, number, number, number];
  const tk = k.shape[2]!;
  const shapes = `q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}`;
  if (k.shape[0] !== batch || v.shape[0] !== batch) throw new ShapeError(`${op}: batch sizes differ: ${shapes}`);
  if (k.shape[1] !== heads || v.shape[1] !== heads) throw new ShapeError(`${op}: head counts differ: ${shapes}`);
  if (v.shape[2] !== tk) throw new ShapeError(`${op}: k and v need the same number of rows: ${shapes}`);
  if (k.shape[3] !== headDim || v.shape[3] !== headDim) throw new ShapeError(`${op}: head dims differ: ${shapes}`);
  if (headDim < 1 || headDim > MAX_HEAD_DIM)
    throw new ShapeError(`${op}: head dim ${headDim} is unsupported (kernels compile head dims 1..${MAX_HEAD_DIM}): ${shapes}`);
  const scale = options.scale ?? 1 / Math.sqrt(headDim);
  if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new ArgumentError(`${op}: scale must be a finite number, got ${String(scale)}`);

  const buffers = [storageOn(op, rt, q, 'q'), storageOn(op, rt, k, 'k'), storageOn(op, rt, v, 'v')];
  let mask: Operand | null = null;
  const target = [batch, heads, tq, tk];
  if (options.mask) {
    const m = options.mask;
    buffers.push(storageOn(op, rt, m, 'mask'));
    if (!isFloat(m.dtype)) throw new DTypeError(`${op}: mask must be an additive f32 or f16 mask, got ${m.dtype} ${fmtShape(m.shape)}`);
    const fits = m.rank <= 4 && m.shape.every((d, i) => d === 1 || d === target[4 - m.rank + i]);
    if (!fits) throw new ShapeError(`${op}: mask ${fmtShape(m.shape)} does not broadcast to [B, H, Tq, Tk] = ${fmtShape(target)}`);
    mask = operand(m, broadcastStrides(m.shape, m.strides, target));
  } else buffers.push(buffers[0]!);
  let keyPadding: Operand | null = null;
  if (options.keyPaddingMask) {
    const kp = options.keyPaddingMask;
    buffers.push(storageOn(op, rt, kp, 'keyPaddingMask'));
    if (!sameShape(kp.shape, [batch, tk]))
      throw new ShapeError(`${op}: keyPaddingMask must be [B, Tk] = ${fmtShape([batch, tk])}, got ${fmtShape(kp.shape)}`);
    keyPadding = operand(kp);
  } else buffers.push(buffers[0]!);

  const storage = rt.workgroupStorageBytes;
  if (options.tile && options.kernel !== undefined && options.kernel !== 'tiled')
    throw new ArgumentError(`${op}: a forced tile applies to the 'tiled' kernel, not '${options.kernel}'`);
  if (options.keySplits !== undefined) {
    if (!Number.isInteger(options.keySplits) || options.keySplits < 1)
      throw new ArgumentError(`${op}: keySplits must be an integer >= 1, got ${String(options.keySplits)}`);
    if (options.kernel !== undefined && options.kernel !== 'tiled')
      throw new ArgumentError(`${op}: a key split applies to the 'tiled' kernel, not '${options.kernel}'`);
  }
  // An installed tuning table picks the family (and the tiled family's tile) unless the caller forces one.
  const tuned = familyOf(options) === undefined && rt.attentionTuning ? attentionTuningEntry(rt.attentionTuning.entries, Math.max(tq, tk)) : undefined;
  const tile = options.tile
    ? forcedTile(op, rt, headDim, storage, options.tile)
    : tuned?.kernel === 'tiled' ? fittedAttentionTile(tuned.tile, headDim, storage) : attentionTile(rt.info.adapterClass, headDim, storage);
  checkGrid(op, shapes, Math.ceil(Math.max(tq, tk) / tile.rows), heads, batch);
  return {
    rt,
    shape: { batch, heads, tq, tk, headDim, causal: options.causal === true, scale },
    operands: { q: operand(q), k: operand(k), v: operand(v), mask, keyPadding },
    tile,
    ...(tuned ? { tuned: tuned.kernel } : {}),
    buffers,
  };
}

/**
 * softmax(q k^T * scale + masks) v over the last two dims, fused. Returns [B, H, Tq, d] in q's dtype,
 * plus the f32 log-sum-exp [B, H, Tq] when `returnLse` is set.
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionForwardOptions & { returnLse: true }): AttentionWithLse;
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options?: AttentionForwardOptions & { returnLse?: false }): Tensor;
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionForwardOptions): Tensor | AttentionWithLse;
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionForwardOptions = {}): Tensor | AttentionWithLse {
  const op = 'scaledDotProductAttention';
  const p = plan(op, q, k, v, options);
  const out = empty([p.shape.batch, p.shape.heads, p.shape.tq, p.shape.headDim], q.dtype, op);
  return forwardInto(op, p, out, operand(out), options);
}

/**
 * Runs the planned forward into `out`, written at `outOperand` (its offset and [batch, head, row, column]
 * strides); returns `out`, with the log-sum-exp when `returnLse` is set.
 */
function forwardInto(op: string, p: Plan, out: Tensor, outOperand: Operand, options: AttentionForwardOptions): Tensor | AttentionWithLse {
  const { rt, shape, buffers } = p;
  const { launch, split } = forwardLaunch(op, p, outOperand, options);
  const lse = empty([shape.batch, shape.heads, shape.tq], 'f32', op);
  if (out.size > 0) {
    const results = [out.storage(op).buffer, lse.storage(op).buffer];
    if (split.segments === 1) rt.run(launch, [...buffers, ...results]);
    else {
      const partials = partialShape(shape, split);
      const partialOut = empty(partials, out.dtype, op);
      const partialLse = empty(partials.slice(0, 3), 'f32', op);
      const scratch = [partialOut.storage(op).buffer, partialLse.storage(op).buffer];
      rt.run(launch, [...buffers, ...scratch]);
      rt.run(attentionCombineLaunch(shape, out.dtype, outOperand, split), [...scratch, ...results]);
      partialOut.dispose();
      partialLse.dispose();
    }
  }
  if (options.returnLse) return { out, lse };
  lse.dispose();
  return out;
}

/**
 * Gradients of `scaledDotProductAttention` with respect to q, k and v, given the forward's output `out`,
 * its log-sum-exp `lse`, the incoming gradient `dOut` and the same options as the forward. P is recomputed
 * from `lse`, so memory stays O(T): a [B, H, Tq] pre-pass (delta = rowsum(dOut * out)), then one kernel
 * for dK/dV and one for dQ (see kernels/wgsl/attention_backward.wgsl for why two and no atomics), from
 * the same kernel family the forward picks on this adapter unless `kernel` forces one.
 */
export function scaledDotProductAttentionBackward(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  out: Tensor,
  dOut: Tensor,
  lse: Tensor,
  options: AttentionOptions & AttentionKernelOption = {},
): AttentionGradients {
  const op = 'scaledDotProductAttentionBackward';
  const p = plan(op, q, k, v, options);
  const { batch, heads, tq, tk, headDim } = p.shape;
  checkBackwardInputs(op, p, { out, dOut }, { shape: q.shape, shapeOf: 'q', dtype: q.dtype, dtypeOf: 'q' }, lse);
  const dq = empty([batch, heads, tq, headDim], q.dtype, op);
  const dkv = empty([2, batch, heads, tk, headDim], q.dtype, op);
  const gradShape = [batch, heads, tk, headDim];
  const dk = dkv.view(gradShape, contiguousStrides(gradShape), 0);
  const dv = dkv.view(gradShape, contiguousStrides(gradShape), batch * heads * tk * headDim);
  const ops: AttentionBackwardOperands = {
    ...p.operands, out: operand(out), dOut: operand(dOut), lse: operand(lse), dq: operand(dq), dk: operand(dk), dv: operand(dv),
  };
  try {
    backwardInto(op, p, ops, { out, dOut, lse, dq, dkv }, options);
  } finally {
    dkv.dispose();
  }
  return { dq, dk, dv };
}

/**
 * Checks the tensors the backward pass reads besides q, k, v: `out` and `dOut` have the expected shape
 * and dtype (`shapeOf` / `dtypeOf` name where they come from in the messages: q, or the merged heads and
 * qkv of a packed attention), and the lse is the forward's.
 */
function checkBackwardInputs(
  op: string,
  p: Plan,
  reads: { out: Tensor; dOut: Tensor },
  like: { shape: Shape; shapeOf: string; dtype: DType; dtypeOf: string },
  lse: Tensor,
): void {
  const { batch, heads, tq } = p.shape;
  for (const [name, t] of Object.entries(reads)) {
    storageOn(op, p.rt, t, name);
    if (!sameShape(t.shape, like.shape)) throw new ShapeError(`${op}: ${name} ${fmtShape(t.shape)} must match ${like.shapeOf} ${fmtShape(like.shape)}`);
    if (t.dtype !== like.dtype) throw new DTypeError(`${op}: ${name} is ${t.dtype} but ${like.dtypeOf} is ${like.dtype}`);
  }
  storageOn(op, p.rt, lse, 'lse');
  if (!sameShape(lse.shape, [batch, heads, tq])) throw new ShapeError(`${op}: lse ${fmtShape(lse.shape)} must be [B, H, Tq] = ${fmtShape([batch, heads, tq])}`);
  if (lse.dtype !== 'f32') throw new DTypeError(`${op}: lse must be f32 (as the forward returns it), got ${lse.dtype}`);
}

/**
 * The backward dispatches: the delta pre-pass, then dK/dV into `dkv` (at ops.dk / ops.dv) and dQ into
 * `dq` (at ops.dq); the two may be one buffer. A split pass writes f32 partials to scratch first, whose
 * segments are then summed, cast to q's dtype and written into those destinations.
 */
function backwardInto(
  op: string,
  p: Plan,
  ops: AttentionBackwardOperands,
  t: { out: Tensor; dOut: Tensor; lse: Tensor; dq: Tensor; dkv: Tensor },
  options: AttentionKernelOption,
): void {
  const { rt, shape, buffers } = p;
  const passes = backwardPasses(op, p, ops, options);
  if (shape.batch * shape.heads * shape.headDim === 0) return;  // empty gradients
  const stats = empty([shape.batch, shape.heads, shape.tq, 2], 'f32', op);
  try {
    const statsBuffer = stats.storage(op).buffer;
    const dOutBuffer = t.dOut.storage(op).buffer;
    if (shape.tq > 0) rt.run(attentionDeltaLaunch(shape, ops), [t.out.storage(op).buffer, dOutBuffer, t.lse.storage(op).buffer, statsBuffer]);
    const reads = [...buffers, dOutBuffer, statsBuffer];
    if (shape.tk > 0) runPass(op, passes.dkdv, reads, t.dkv, [ops.dk, ops.dv]);
    if (shape.tq > 0) runPass(op, passes.dq, reads, t.dq, [ops.dq]);
  } finally {
    stats.dispose();
  }
}

/**
 * Runs one backward pass: straight into `target`, or, split, into f32 scratch whose partial gradients
 * (one [segments, B, H, T, d] block per destination operand, in turn) are summed over the segments, cast
 * to the target's dtype and written into `target` at each operand's offset and strides.
 */
function runPass(op: string, pass: BackwardPass, reads: GPUBuffer[], target: Tensor, destinations: Operand[]): void {
  const rt = target.storage(op).rt;
  const { partial } = pass;
  if (!partial) {
    rt.run(pass.launch, [...reads, target.storage(op).buffer]);
    return;
  }
  const scratch = empty([destinations.length * sizeOf(partial)], 'f32', op);
  try {
    rt.run(pass.launch, [...reads, scratch.storage(op).buffer]);
    destinations.forEach((d, i) => {
      const parts = scratch.view(partial, contiguousStrides(partial), i * sizeOf(partial));
      const summed = sum(parts, [0]);
      const typed = target.dtype === 'f32' ? summed : cast(summed, target.dtype);
      const destination = target.view(partial.slice(1), d.strides, d.offset);
      try {
        assign(destination, typed);
      } finally {
        for (const x of new Set([parts, summed, typed, destination])) x.dispose();
      }
    });
  } finally {
    scratch.dispose();
  }
}

/**
 * Multi-head self-attention on a packed projection, as a transformer block computes it:
 *
 *   qkv [B, T, 3 * H * d] (the output of one Linear, viewed as [B, T, 3, H, d])
 *   -> q, k, v [B, H, T, d] -> scaledDotProductAttention -> heads merged back: [B, T, H * d]
 *
 * q, k and v are read in place out of `qkv` (any strides) and the output is written straight in the
 * merged [B, T, H * d] layout the output projection reads, so no permute, slice or copy runs around the
 * kernel (the unpacked composition copies the merged heads once, and its backward zero-fills and adds
 * the three gradients). Masks and options as `scaledDotProductAttention`, with Tq = Tk = T.
 */
export function multiHeadSelfAttention(qkv: Tensor, heads: number, options: AttentionForwardOptions & { returnLse: true }): AttentionWithLse;
export function multiHeadSelfAttention(qkv: Tensor, heads: number, options?: AttentionForwardOptions & { returnLse?: false }): Tensor;
export function multiHeadSelfAttention(qkv: Tensor, heads: number, options: AttentionForwardOptions = {}): Tensor | AttentionWithLse {
  const op = 'multiHeadSelfAttention';
  const packed = packedViews(op, qkv, heads);
  try {
    const p = plan(op, packed.q, packed.k, packed.v, options);
    const out = empty([packed.batch, packed.tokens, packed.width], qkv.dtype, op);
    return forwardInto(op, p, out, packed.headsOf(out), options);
  } finally {
    packed.dispose();
  }
}

/**
 * Gradient of `multiHeadSelfAttention` with respect to `qkv`, given its output `out` [B, T, H * d], its
 * log-sum-exp `lse`, the incoming gradient `dOut` [B, T, H * d] and the same heads and options: one
 * contiguous [B, T, 3 * H * d] tensor, into which the kernels write dQ, dK and dV in place.
 */
export function multiHeadSelfAttentionBackward(
  qkv: Tensor,
  out: Tensor,
  dOut: Tensor,
  lse: Tensor,
  heads: number,
  options: AttentionOptions & AttentionKernelOption = {},
): Tensor {
  const op = 'multiHeadSelfAttentionBackward';
  const packed = packedViews(op, qkv, heads);
  try {
    const p = plan(op, packed.q, packed.k, packed.v, options);
    const merged = [packed.batch, packed.tokens, packed.width];
    checkBackwardInputs(op, p, { out, dOut }, { shape: merged, shapeOf: 'the merged heads [B, T, H * d] =', dtype: qkv.dtype, dtypeOf: 'qkv' }, lse);
    const dqkv = empty(qkv.shape, qkv.dtype, op);
    const [dq, dk, dv] = packed.slotsOf(dqkv);
    const ops: AttentionBackwardOperands = { ...p.operands, out: packed.headsOf(out), dOut: packed.headsOf(dOut), lse: operand(lse), dq, dk, dv };
    backwardInto(op, p, ops, { out, dOut, lse, dq: dqkv, dkv: dqkv }, options);
    return dqkv;
  } finally {
    packed.dispose();
  }
}

/**
 * q, k, v as [B, H, T, d] views of a packed [B, T, 3 * H * d] projection, and the [batch, head, row,
 * column] operands of tensors laid out like it: a merged [B, T, H * d] (headsOf) or another packed one
 * (slotsOf: its q, k and v parts).
 */
function packedViews(op: string, qkv: Tensor, heads: number) {
  expectTensor(op, 'qkv', qkv);
  qkv.storage(op);
  if (!Number.isInteger(heads) || heads < 1) throw new ArgumentError(`${op}: heads must be a positive integer, got ${String(heads)}`);
  if (qkv.rank !== 3 || qkv.shape[2]! % (3 * heads) !== 0)
    throw new ShapeError(`${op}: qkv must be [B, T, 3 * heads * d] with heads = ${heads}, got ${fmtShape(qkv.shape)}`);
  const [batch, tokens, packedWidth] = qkv.shape as [number, number, number];
  const width = packedWidth / 3;
  const headDim = width / heads;
  // A [B, T, ..., d] tensor's (batch, token, column) strides, as [batch, head, row, column] of its slot `part`.
  const slot = (t: Tensor, part: number): Operand => {
    const [sb, st, sc] = t.strides as [number, number, number];
    return { dtype: t.dtype, offset: t.offset + part * width * sc, strides: [sb, headDim * sc, st, sc] };
  };
  const headShape = [batch, heads, tokens, headDim];
  const views = [0, 1, 2].map((part) => {
    const o = slot(qkv, part);
    return qkv.view(headShape, o.strides, o.offset);
  }) as [Tensor, Tensor, Tensor];
  return {
    batch,
    tokens,
    width,
    q: views[0],
    k: views[1],
    v: views[2],
    headsOf: (t: Tensor): Operand => slot(t, 0),
    slotsOf: (t: Tensor): [Operand, Operand, Operand] => [slot(t, 0), slot(t, 1), slot(t, 2)],
    dispose: () => views.forEach((v) => v.dispose()),
  };
}
