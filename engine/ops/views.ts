/**
 * Views: new shapes and strides over the same storage, no data movement. Only `reshape` of a
 * non-contiguous tensor (and `contiguous`) copies, as in PyTorch.
 */
import { describe, expectArray, expectOptions, optionKeys } from '../arguments.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { checkShape, contiguousStrides, normAxis, sizeOf, type Shape } from '../shape.js';
import { expectTensor, type Tensor } from '../tensor.js';
import { contiguousCopy } from './elementwise.js';

/** Resolves one -1 entry and checks the element count. */
function resolveShape(op: string, x: Tensor, shape: Shape): number[] {
  expectArray(op, 'shape', shape);
  const s = [...shape];
  const neg = s.filter((d) => d === -1).length;
  if (neg > 1) throw new ShapeError(`${op}: only one dimension can be -1, got ${fmtShape(shape)}`);
  if (neg === 1) {
    const known = sizeOf(s.filter((d) => d !== -1));
    const idx = s.indexOf(-1);
    if (known === 0 || x.size % known !== 0)
      throw new ShapeError(`${op}: cannot reshape ${fmtShape(x.shape)} (${x.size} elements) into ${fmtShape(shape)}`);
    s[idx] = x.size / known;
  }
  checkShape(op, s);
  if (sizeOf(s) !== x.size) throw new ShapeError(`${op}: cannot reshape ${fmtShape(x.shape)} (${x.size} elements) into ${fmtShape(shape)}`);
  return s;
}

/**
 * Strides for viewing x with `shape` without copying, or null when impossible. Walks the old dims from
 * the innermost, grouping them into chunks that are contiguous among themselves; each chunk must be
 * covered exactly by a run of new dims, which then get strides inside the chunk (PyTorch's rule).
 */
function viewStrides(x: Tensor, shape: number[]): number[] | null {
  if (x.isContiguous || x.size === 0 || x.rank === 0) return contiguousStrides(shape);
  const out = new Array<number>(shape.length).fill(1);
  let viewD = shape.length - 1;
  let chunkBase = x.strides[x.rank - 1]!;
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let d = x.rank - 1; d >= 0; d--) {
    tensorNumel *= x.shape[d]!;
    const chunkEnds = d === 0 || (x.shape[d - 1] !== 1 && x.strides[d - 1] !== tensorNumel * chunkBase);
    if (!chunkEnds) continue;
    while (viewD >= 0 && (viewNumel < tensorNumel || shape[viewD] === 1)) {
      out[viewD] = viewNumel * chunkBase;
      viewNumel *= shape[viewD]!;
      viewD--;
    }
    if (viewNumel !== tensorNumel) return null;
    if (d > 0) {
      chunkBase = x.strides[d - 1]!;
      tensorNumel = 1;
      viewNumel = 1;
    }
  }
  return viewD === -1 ? out : null;
}

/** Same elements in a new shape (one dim may be -1). A view when the layout allows, else a copy. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  expectTensor('reshape', 'x', x);
  x.storage('reshape');
  const s = resolveShape('reshape', x, shape);
  const strides = viewStrides(x, s);
  if (strides) return x.view(s, strides);
  const c = contiguousCopy(x);
  const v = c.view(s, contiguousStrides(s));
  c.dispose();
  return v;
}

/** Like reshape, but throws instead of copying. */
export function view(x: Tensor, shape: Shape): Tensor {
  expectTensor('view', 'x', x);
  x.storage('view');
  const s = resolveShape('view', x, shape);
  const strides = viewStrides(x, s);
  if (!strides)
    throw new ShapeError(`view: a tensor of shape ${fmtShape(x.shape)} and strides ${fmtShape(x.strides)} cannot be viewed as ${fmtShape(shape)}; use reshape (copies)`);
  return x.view(s, strides);
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  expectTensor('permute', 'x', x);
  x.storage('permute');
  expectArray('permute', 'dims', dims);
  if (dims.length !== x.rank) throw new ShapeError(`permute: ${dims.length} dims given for a tensor of rank ${x.rank}`);
  const d = dims.map((a) => normAxis('permute', a, x.rank));
  if (new Set(d).size !== d.length) throw new ArgumentError(`permute: dims [${dims}] repeat an axis`);
  return x.view(d.map((i) => x.shape[i]!), d.map((i) => x.strides[i]!));
}

/** Swaps two dims (default: the last two). */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  expectTensor('transpose', 'x', x);
  x.storage('transpose');
  if (x.rank < 2 && dim0 === -2 && dim1 === -1) return x.view(x.shape, x.strides);
  const a = normAxis('transpose', dim0, x.rank);
  const b = normAxis('transpose', dim1, x.rank);
  const order = Array.from({ length: x.rank }, (_, i) => i);
  order[a] = b;
  order[b] = a;
  return permute(x, order);
}

export interface SliceSpec {
  start?: number;
  end?: number;
  step?: number;
}

const SLICE_SPEC_KEYS = optionKeys<SliceSpec>({ start: true, end: true, step: true });

/**
 * Python-style slicing per dim: `slice(x, [{start: 1}, {step: 2}])`, negative start/end count from the
 * end, steps must be positive. Missing trailing dims are kept whole. A number selects one index and
 * removes the dim.
 */
export function slice(x: Tensor, specs: readonly (SliceSpec | number | null)[]): Tensor {
  expectTensor('slice', 'x', x);
  x.storage('slice');
  if (!Array.isArray(specs))
    throw new ArgumentError(`slice: specs must be an array with one entry per dim ({start, end, step}, an index or null), got ${describe(specs)}; narrow(dim, start, length) slices one dim by numbers`);
  if (specs.length > x.rank) throw new ShapeError(`slice: ${specs.length} slices for a tensor of rank ${x.rank}`);
  const shape: number[] = [];
  const strides: number[] = [];
  let offset = x.offset;
  for (let d = 0; d < x.rank; d++) {
    const size = x.shape[d]!;
    const spec = specs[d] ?? null;
    if (typeof spec === 'number') {
      if (!Number.isInteger(spec) || spec < -size || spec >= size)
        throw new ArgumentError(`slice: index ${spec} out of range for dim ${d} of size ${size}`);
      offset += (spec < 0 ? spec + size : spec) * x.strides[d]!;
      continue;
    }
    expectOptions('slice', spec ?? undefined, SLICE_SPEC_KEYS, `specs[${d}]`);
    const step = spec?.step ?? 1;
    if (!Number.isInteger(step) || step <= 0) throw new ArgumentError(`slice: step must be a positive integer, got ${step} for dim ${d}`);
    for (const bound of [spec?.start, spec?.end])
      if (bound !== undefined && !Number.isInteger(bound)) throw new ArgumentError(`slice: start/end must be integers, got ${bound} for dim ${d}`);
    const clampIdx = (v: number) => Math.min(size, Math.max(0, v < 0 ? v + size : v));
    const start = clampIdx(spec?.start ?? 0);
    const end = clampIdx(spec?.end ?? size);
    const n = Math.max(0, Math.ceil((end - start) / step));
    shape.push(n);
    strides.push(x.strides[d]! * step);
    if (n > 0) offset += start * x.strides[d]!;
  }
  return x.view(shape, strides, offset);
}

/** Narrow one dim to [start, start+length). */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  expectTensor('narrow', 'x', x);
  const d = normAxis('narrow', dim, x.rank);
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > x.shape[d]!)
    throw new ArgumentError(`narrow: [${start}, ${start + length}) out of range for dim ${d} of size ${x.shape[d]}`);
  const specs: SliceSpec[] = x.shape.map(() => ({}));
  specs[d] = { start, end: start + length };
  return slice(x, specs);
}

/** Broadcasts size-1 dims (and new leading dims) to `shape` with stride 0. -1 keeps a dim. */
export function expand(x: Tensor, shape: Shape): Tensor {
  expectTensor('expand', 'x', x);
  x.storage('expand');
  expectArray('expand', 'shape', shape);
  if (shape.length < x.rank) throw new ShapeError(`expand: target ${fmtShape(shape)} has lower rank than ${fmtShape(x.shape)}`);
  const off = shape.length - x.rank;
  const outShape: number[] = [];
  const strides: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    const src = i >= off ? x.shape[i - off]! : 1;
    const want = shape[i] === -1 ? src : shape[i]!;
    if (src !== want && src !== 1)
      throw new ShapeError(`expand: cannot expand ${fmtShape(x.shape)} to ${fmtShape(shape)} (dim ${i}: ${src} -> ${want})`);
    outShape.push(want);
    strides.push(src === want && i >= off ? x.strides[i - off]! : 0);
  }
  checkShape('expand', outShape);
  return x.view(outShape, strides);
}

/** Removes size-1 dims (all, or the given one). */
export function squeeze(x: Tensor, dim?: number): Tensor {
  expectTensor('squeeze', 'x', x);
  x.storage('squeeze');
  if (dim === undefined) return x.view(x.shape.filter((d) => d !== 1), x.strides.filter((_, i) => x.shape[i] !== 1));
  const d = normAxis('squeeze', dim, x.rank);
  if (x.shape[d] !== 1) return x.view(x.shape, x.strides);
  return x.view(x.shape.filter((_, i) => i !== d), x.strides.filter((_, i) => i !== d));
}

/** Inserts a size-1 dim at `dim` (negative counts from the end of the result). */
export function unsqueeze(x: Tensor, dim: number): Tensor {
  expectTensor('unsqueeze', 'x', x);
  x.storage('unsqueeze');
  const d = normAxis('unsqueeze', dim, x.rank + 1);
  const shape = [...x.shape];
  const strides = [...x.strides];
  shape.splice(d, 0, 1);
  strides.splice(d, 0, d < x.rank ? x.strides[d]! * x.shape[d]! : 1);
  return x.view(shape, strides);
}

/** Flattens dims [start, end] into one. */
export function flatten(x: Tensor, start = 0, end = -1): Tensor {
  expectTensor('flatten', 'x', x);
  if (x.rank === 0) return reshape(x, [1]);
  const s = normAxis('flatten', start, x.rank);
  const e = normAxis('flatten', end, x.rank);
  if (s > e) throw new ArgumentError(`flatten: start ${start} after end ${end}`);
  const shape = [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}
