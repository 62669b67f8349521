/**
 * Indexing and data movement: concat, stack, indexSelect / embeddingLookup, gather, scatterAdd, oneHot,
 * pad, tril / triu (kernels/wgsl/indexing.wgsl). Inputs are read through their strides; outputs are contiguous.
 *
 * Index tensors are i32. Indices given as host arrays are checked up front and raise an ArgumentError
 * naming the bad index; so do i32 tensors whose values the host made (`tensor`, `fromFlat`, `zeros`) where
 * gather, indexSelect, embeddingLookup or oneHot reads all of them, from the bounds recorded at creation
 * (`hostValueRange`). A kernel cannot throw, so an out-of-range index the host cannot see (computed on
 * the GPU, or in part of a larger upload) is reported in the data instead: gather / indexSelect write NaN
 * (floats) or 0 (integers) for that element, oneHot writes a NaN row. scatterAdd and indexAdd skip such
 * elements, by definition, wherever the index comes from.
 */
import {
  copyIntoLaunch, gatherLaunch, oneHotLaunch, padLaunch, scatterAddLaunch, triangleLaunch, type PadMode, type Strided,
} from '../../kernels/indexing.js';
import { indexAddPlan, type IndexAddBuffer } from '../../kernels/index-add.js';
import { expectArray, expectNumber, expectOptions, optionKeys } from '../arguments.js';
import { isFloat } from '../dtype.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { checkShape, contiguousStrides, normAxis, type Shape } from '../shape.js';
import { empty, expectTensor, expectTensorList, hostValueRange, type Tensor } from '../tensor.js';
import { fromFlat, zeros } from './creation.js';
import { cast, contiguous } from './elementwise.js';
import { reshape, unsqueeze } from './views.js';

/** Indices as an i32 tensor, or host integers (validated on the host before any GPU work). */
export type IndexLike = Tensor | readonly number[] | Int32Array;

const strided = (t: Tensor): Strided => ({ offset: t.offset, strides: t.strides });
const shapes = (ts: readonly Tensor[]) => ts.map((t) => fmtShape(t.shape)).join(', ');

function requireIndex(op: string, index: Tensor): void {
  expectTensor(op, 'indices', index);
  index.storage(op);
  if (index.dtype !== 'i32') throw new DTypeError(`${op}: indices must be an i32 tensor, got ${index.dtype} ${fmtShape(index.shape)}`);
}

/** Rejects, before any GPU work, an index tensor whose host-known values leave [0, size). */
function checkKnownIndices(op: string, index: Tensor, size: number, what: string): void {
  const range = hostValueRange(index);
  if (!range || (range.min >= 0 && range.max < size)) return;
  const bad = range.min < 0 ? range.min : range.max;
  throw new ArgumentError(`${op}: the i32 indices ${fmtShape(index.shape)} hold ${bad} (as created on the host), out of range for ${what} of size ${size}`);
}

/** Uploads host indices after checking each lies in [0, size). */
function hostIndex(op: string, values: readonly number[] | Int32Array, size: number, what: string): Tensor {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= size)
      throw new ArgumentError(`${op}: index ${v} at position ${i} is out of range for ${what} of size ${size}`);
  }
  return fromFlat(values, [values.length], 'i32', op);
}

/** Joins tensors along an existing axis. All dims but `axis` must match, and dtypes must agree. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  expectTensorList('concat', 'tensors', tensors);
  if (tensors.length === 0) throw new ArgumentError('concat: needs at least one tensor');
  const first = tensors[0]!;
  for (const t of tensors) t.storage('concat');
  if (tensors.some((t) => t.rank !== first.rank)) throw new ShapeError(`concat: ranks differ: shapes ${shapes(tensors)}`);
  if (first.rank === 0) throw new ShapeError(`concat: 0-d tensors have no axis to join along; use stack`);
  if (tensors.some((t) => t.dtype !== first.dtype))
    throw new DTypeError(`concat: dtypes differ: ${tensors.map((t) => `${t.dtype} ${fmtShape(t.shape)}`).join(', ')}`);
  const a = normAxis('concat', axis, first.rank);
  if (tensors.some((t) => t.shape.some((d, i) => i !== a && d !== first.shape[i])))
    throw new ShapeError(`concat: shapes ${shapes(tensors)} differ outside axis ${a}`);
  const shape = [...first.shape];
  shape[a] = tensors.reduce((n, t) => n + t.shape[a]!, 0);
  const out = empty(checkShape('concat', shape), first.dtype, 'concat');
  const st = out.storage('concat');
  const outStrides = contiguousStrides(shape);
  let start = 0;
  for (const t of tensors) {
    if (t.size > 0) {
      const launch = copyIntoLaunch(t.dtype, t.shape, strided(t), { offset: start * outStrides[a]!, strides: outStrides }, st.rt.info.adapterClass);
      st.rt.run(launch, [t.storage('concat').buffer, st.buffer]);
    }
    start += t.shape[a]!;
  }
  return out;
}

/** Joins same-shaped tensors along a new axis (`axis` counts in the result's rank). */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  expectTensorList('stack', 'tensors', tensors);
  if (tensors.length === 0) throw new ArgumentError('stack: needs at least one tensor');
  const first = tensors[0]!;
  for (const t of tensors) t.storage('stack');
  if (tensors.some((t) => t.rank !== first.rank || t.shape.some((d, i) => d !== first.shape[i])))
    throw new ShapeError(`stack: all shapes must be equal, got ${shapes(tensors)}`);
  const a = normAxis('stack', axis, first.rank + 1);
  const expanded = tensors.map((t) => unsqueeze(t, a));
  try {
    return concat(expanded, a);
  } finally {
    for (const t of expanded) t.dispose();
  }
}

/**
 * Selects slices of `x` along `axis`: out.shape = x.shape with `axis` replaced by the index count
 * (torch.index_select). `indices` is a 1-D i32 tensor or host integers.
 */
export function indexSelect(x: Tensor, axis: number, indices: IndexLike): Tensor {
  expectTensor('indexSelect', 'x', x);
  x.storage('indexSelect');
  if (x.rank === 0) throw new ShapeError(`indexSelect: a 0-d tensor has no axis to index`);
  const a = normAxis('indexSelect', axis, x.rank);
  const size = x.shape[a]!;
  const index = Array.isArray(indices) || indices instanceof Int32Array
    ? hostIndex('indexSelect', indices as readonly number[] | Int32Array, size, `axis ${a} of ${fmtShape(x.shape)}`)
    : (indices as Tensor);
  try {
    requireIndex('indexSelect', index);
    if (index.rank !== 1) throw new ShapeError(`indexSelect: indices must be 1-D, got shape ${fmtShape(index.shape)}`);
    checkKnownIndices('indexSelect', index, size, `axis ${a} of ${fmtShape(x.shape)}`);
    const shape = [...x.shape];
    shape[a] = index.shape[0]!;
    const out = empty(shape, x.dtype, 'indexSelect');
    if (out.size === 0) return out;
    // The index broadcasts over every dim but `axis`.
    const indexStrides = shape.map((_, d) => (d === a ? index.strides[0]! : 0));
    const xStrides = x.strides.map((s, d) => (d === a ? 0 : s));
    const st = out.storage('indexSelect');
    const launch = gatherLaunch(x.dtype, shape, size, x.strides[a]!, { offset: x.offset, strides: xStrides }, { offset: index.offset, strides: indexStrides }, st.rt.info.adapterClass);
    st.rt.run(launch, [x.storage('indexSelect').buffer, index.storage('indexSelect').buffer, st.buffer]);
    return out;
  } finally {
    if (index !== indices) index.dispose();
  }
}

/** Rows of `table` ([V, ...]) for ids of any shape: result [...ids.shape, ...table.shape.slice(1)]. */
export function embeddingLookup(table: Tensor, ids: IndexLike): Tensor {
  expectTensor('embeddingLookup', 'table', table);
  table.storage('embeddingLookup');
  if (Array.isArray(ids) || ids instanceof Int32Array) return indexSelect(table, 0, ids as readonly number[] | Int32Array);
  const idTensor = ids as Tensor;
  requireIndex('embeddingLookup', idTensor);
  if (table.rank === 0) throw new ShapeError('embeddingLookup: a 0-d table has no rows');
  checkKnownIndices('embeddingLookup', idTensor, table.shape[0]!, `the rows of table ${fmtShape(table.shape)}`);
  const flat = reshape(idTensor, [idTensor.size]);
  try {
    const rows = indexSelect(table, 0, flat);
    try {
      return reshape(rows, [...idTensor.shape, ...table.shape.slice(1)]);
    } finally {
      rows.dispose();
    }
  } finally {
    flat.dispose();
  }
}

/**
 * torch.gather: out[..., j, ...] = x[..., index[..., j, ...], ...] along `axis`; out.shape = index.shape,
 * which must have x's rank and fit inside x on every other dim.
 */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  expectTensor('gather', 'x', x);
  x.storage('gather');
  requireIndex('gather', index);
  const a = normAxis('gather', axis, Math.max(x.rank, 1));
  if (index.rank !== x.rank || index.shape.some((d, i) => i !== a && d > x.shape[i]!))
    throw new ShapeError(`gather: index shape ${fmtShape(index.shape)} must have the rank of x ${fmtShape(x.shape)} and fit inside it outside axis ${a}`);
  const size = x.rank === 0 ? 1 : x.shape[a]!;
  checkKnownIndices('gather', index, size, `axis ${a} of x ${fmtShape(x.shape)}`);
  const out = empty(index.shape, x.dtype, 'gather');
  if (out.size === 0) return out;
  const xStrides = x.strides.map((s, d) => (d === a ? 0 : s));
  const st = out.storage('gather');
  const launch = gatherLaunch(x.dtype, index.shape, size, x.strides[a] ?? 0, { offset: x.offset, strides: xStrides }, strided(index), st.rt.info.adapterClass);
  st.rt.run(launch, [x.storage('gather').buffer, index.storage('gather').buffer, st.buffer]);
  return out;
}

/**
 * A zero tensor of `shape` with src added at the positions index names along `axis`
 * (torch.zeros(shape).scatter_add_(axis, index, src)); the backward of gather. Atomic accumulation:
 * f32 sums may differ in the last bits between runs (see indexing.wgsl).
 */
export function scatterAdd(shape: Shape, axis: number, index: Tensor, src: Tensor): Tensor {
  const target = checkShape('scatterAdd', shape);
  expectTensor('scatterAdd', 'src', src);
  src.storage('scatterAdd');
  requireIndex('scatterAdd', index);
  const a = normAxis('scatterAdd', axis, Math.max(target.length, 1));
  if (index.rank !== target.length || src.rank !== target.length)
    throw new ShapeError(`scatterAdd: index ${fmtShape(index.shape)}, src ${fmtShape(src.shape)} and target ${fmtShape(target)} must have the same rank`);
  if (index.shape.some((d, i) => d > src.shape[i]! || (i !== a && d > target[i]!)))
    throw new ShapeError(`scatterAdd: index shape ${fmtShape(index.shape)} must fit inside src ${fmtShape(src.shape)}, and inside target ${fmtShape(target)} outside axis ${a}`);
  // Whole slices (the index constant outside the axis, as an expanded 1-D index is, and covering src and
  // the target there): indexAdd gives the same sums deterministically, and faster.
  const wholeSlices = index.rank > 0 && index.strides.every((st, i) => i === a || st === 0 || index.shape[i] === 1) &&
    index.shape.every((d, i) => d === src.shape[i] && (i === a || d === target[i]));
  if (wholeSlices) {
    const line = index.view([index.shape[a]!], [index.strides[a]!]);
    try {
      return indexAdd(target, a, line, src);
    } finally {
      line.dispose();
    }
  }
  const accType = src.dtype === 'f16' ? 'f32' : src.dtype;
  const acc = zeros(target, { dtype: accType });
  if (index.size > 0) {
    const outStrides = contiguousStrides(target).map((s, d) => (d === a ? 0 : s));
    const axisStride = contiguousStrides(target)[a] ?? 0;
    const st = acc.storage('scatterAdd');
    const launch = scatterAddLaunch(src.dtype, index.shape, target[a] ?? 1, axisStride, strided(src), strided(index), { offset: 0, strides: outStrides }, st.rt.info.adapterClass);
    st.rt.run(launch, [index.storage('scatterAdd').buffer, src.storage('scatterAdd').buffer, st.buffer]);
  }
  if (accType === src.dtype) return acc;
  try {
    return cast(acc, src.dtype);
  } finally {
    acc.dispose();
  }
}

/**
 * torch's index_add into zeros, deterministically (scatterAdd takes this path when its index names whole
 * slices): out has `shape`, and slice j of `src` along `axis` is
 * added to out's slice index[j] (index: a 1-D i32 tensor with src.shape[axis] entries; out-of-range entries
 * are skipped, as scatterAdd does). Every output element sums its contributions in increasing j, so the
 * result has the same bits on every run (kernels/wgsl/index_add.wgsl), unlike scatterAdd's atomics. The
 * backward of indexSelect and embeddingLookup. Floats (f16 too) sum in f32, integers exactly (wrapping).
 */
export function indexAdd(shape: Shape, axis: number, index: Tensor, src: Tensor): Tensor {
  const op = 'indexAdd';
  const target = checkShape(op, shape);
  expectTensor(op, 'src', src);
  src.storage(op);
  requireIndex(op, index);
  const a = normAxis(op, axis, Math.max(target.length, 1));
  if (index.rank !== 1) throw new ShapeError(`${op}: index must be 1-D, got ${fmtShape(index.shape)}`);
  if (src.rank !== target.length || src.shape.some((d, i) => (i === a ? d !== index.size : d !== target[i])))
    throw new ShapeError(`${op}: src ${fmtShape(src.shape)} must match target ${fmtShape(target)} except along axis ${a}, where it needs index's ${index.size} entries`);
  const n = index.size;
  // Nothing to add (or nowhere to add it): zeros, and no sort.
  if (n === 0 || target.some((d) => d === 0)) return zeros(target, { dtype: src.dtype });
  const out = empty(target, src.dtype, op);
  const rt = out.storage(op).rt;
  const outer = target.slice(0, a).reduce((p, d) => p * d, 1);
  const inner = target.slice(a + 1).reduce((p, d) => p * d, 1);
  const srcC = contiguous(src);
  const indexC = contiguous(index);
  const plan = indexAddPlan({
    dtype: src.dtype, n, size: target[a]!, outer, inner, indexOffset: indexC.offset, srcOffset: srcC.offset, adapterClass: rt.info.adapterClass,
  });
  const scratch = {
    keysA: empty([n], 'u32', op), posA: empty([n], 'u32', op), keysB: empty([n], 'u32', op), posB: empty([n], 'u32', op),
    hist: empty([256 * plan.blocks], 'u32', op), starts: empty([target[a]! + 1], 'u32', op),
  };
  const buffers: Record<IndexAddBuffer, Tensor> = { ...scratch, index: indexC, src: srcC, out };
  try {
    for (const { launch, binds } of plan.launches) rt.run(launch, binds.map((role) => buffers[role].storage(op).buffer));
  } finally {
    for (const t of [...Object.values(scratch), srcC, indexC]) t.dispose();
  }
  return out;
}

/** f32 one-hot encoding: result [...indices.shape, numClasses]. */
export function oneHot(indices: Tensor, numClasses: number): Tensor {
  requireIndex('oneHot', indices);
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new ArgumentError(`oneHot: numClasses must be an integer >= 1, got ${numClasses}`);
  checkKnownIndices('oneHot', indices, numClasses, 'numClasses');
  const out = empty(checkShape('oneHot', [...indices.shape, numClasses]), 'f32', 'oneHot');
  if (out.size === 0) return out;
  const st = out.storage('oneHot');
  st.rt.run(oneHotLaunch(indices.shape, numClasses, strided(indices)), [indices.storage('oneHot').buffer, st.buffer]);
  return out;
}

export interface PadOptions {
  /** 'constant' (default) fills with `value`; 'circular' wraps around; 'reflect' mirrors without repeating the edge. */
  mode?: PadMode;
  /** Fill value for 'constant' (default 0; must be an integer for integer tensors). */
  value?: number;
}

const PAD_OPTIONS = optionKeys<PadOptions>({ mode: true, value: true });

/**
 * Pads like torch.nn.functional.pad: `pads` lists (before, after) pairs starting from the LAST dim, so
 * [1, 2] pads the last dim by 1 before and 2 after, [1, 1, 2, 2] also pads the dim before it by 2.
 * Pads must be >= 0; reflect needs pad < dim size, circular pad <= dim size.
 */
export function pad(x: Tensor, pads: readonly number[], options: PadOptions = {}): Tensor {
  expectTensor('pad', 'x', x);
  expectArray('pad', 'pads', pads);
  expectOptions('pad', options, PAD_OPTIONS);
  if (options.value !== undefined) expectNumber('pad', 'options.value', options.value);
  x.storage('pad');
  const mode = options.mode ?? 'constant';
  const value = options.value ?? 0;
  if (mode !== 'constant' && mode !== 'circular' && mode !== 'reflect')
    throw new ArgumentError(`pad: mode must be 'constant', 'circular' or 'reflect', got '${String(mode)}'`);
  if (pads.length % 2 !== 0 || pads.length > 2 * x.rank)
    throw new ArgumentError(`pad: pads [${pads}] must be (before, after) pairs for at most ${x.rank} dims of ${fmtShape(x.shape)}`);
  if (pads.some((p) => !Number.isInteger(p) || p < 0))
    throw new ArgumentError(`pad: pads [${pads}] must be integers >= 0 (crop with slice instead)`);
  const [lo, hi] = x.dtype === 'u32' ? [0, 2 ** 32 - 1] : [-(2 ** 31), 2 ** 31 - 1];
  if (!isFloat(x.dtype) && (!Number.isInteger(value) || value < lo || value > hi))
    throw new DTypeError(`pad: value ${value} is not representable in a ${x.dtype} tensor`);
  const before = x.shape.map(() => 0);
  const outShape = [...x.shape];
  for (let k = 0; k < pads.length / 2; k++) {
    const d = x.rank - 1 - k;
    const [padBefore, padAfter] = [pads[2 * k]!, pads[2 * k + 1]!];
    const n = x.shape[d]!;
    if (mode === 'reflect' && (padBefore >= n || padAfter >= n))
      throw new ArgumentError(`pad: reflect pads (${padBefore}, ${padAfter}) must be smaller than dim ${d} of ${fmtShape(x.shape)}`);
    if (mode === 'circular' && (padBefore > n || padAfter > n || n === 0))
      throw new ArgumentError(`pad: circular pads (${padBefore}, ${padAfter}) must not exceed dim ${d} of ${fmtShape(x.shape)} (and it must not be empty)`);
    before[d] = padBefore;
    outShape[d] = n + padBefore + padAfter;
  }
  const out = empty(checkShape('pad', outShape), x.dtype, 'pad');
  if (out.size === 0) return out;
  const st = out.storage('pad');
  st.rt.run(padLaunch(x.dtype, outShape, x.shape, before, strided(x), mode, value), [x.storage('pad').buffer, st.buffer]);
  return out;
}

function triangle(op: 'tril' | 'triu', x: Tensor, diagonal: number): Tensor {
  expectTensor(op, 'x', x);
  x.storage(op);
  if (x.rank < 2) throw new ShapeError(`${op}: needs a tensor of rank >= 2, got ${fmtShape(x.shape)}`);
  if (!Number.isInteger(diagonal)) throw new ArgumentError(`${op}: diagonal must be an integer, got ${diagonal}`);
  const out = empty(x.shape, x.dtype, op);
  if (out.size === 0) return out;
  // Offsets beyond the matrix keep everything or nothing; clamping keeps the value inside i32.
  const k = Math.max(-(x.shape[x.rank - 2]! + 1), Math.min(x.shape[x.rank - 1]! + 1, diagonal));
  const st = out.storage(op);
  st.rt.run(triangleLaunch(x.dtype, x.shape, strided(x), op === 'triu', k), [x.storage(op).buffer, st.buffer]);
  return out;
}

/**
 * Lower triangle of the last two dims (torch.tril): keeps [i, j] where j - i <= diagonal, zeros the rest.
 * `tril(ones([n, n]))` is the causal attention mask (query i sees keys 0..i).
 */
export function tril(x: Tensor, diagonal = 0): Tensor {
  return triangle('tril', x, diagonal);
}

/** Upper triangle of the last two dims (torch.triu): keeps [i, j] where j - i >= diagonal. */
export function triu(x: Tensor, diagonal = 0): Tensor {
  return triangle('triu', x, diagonal);
}
