/**
 * Backward rules for data movement:
 *   concat / stack   -> each input gets its slice of the gradient (views, no copies)
 *   indexSelect / embeddingLookup -> indexAdd of the gradient back to the selected slices (deterministic)
 *   gather           -> scatterAdd of the gradient back to the gathered elements (atomic)
 *   scatterAdd       -> gather of the gradient at the scattered positions (src gets no gradient outside index)
 *   indexAdd         -> indexSelect of the gradient at the indexed slices
 *   pad              -> constant: the interior slice; reflect/circular: every output position is a copy of
 *                       one input position per padded dim, so the gradient is scatter-added back dim by dim
 * oneHot has no gradient (its input is an index tensor).
 */
import { fromFlat } from '../../engine/ops/creation.js';
import * as raw from '../../engine/ops/index.js';
import type { IndexLike, PadOptions } from '../../engine/ops/indexing.js';
import { normAxis, sameShape, type Shape } from '../../engine/shape.js';
import { Tensor } from '../../engine/tensor.js';
import { reshape } from '../ops.js';
import { alias, anyNeedsGrad, record, save } from '../tape.js';

/** An i32 index tensor the tape owns: host indices are uploaded, tensors get a saved reference. */
function ownIndex(indices: IndexLike): Tensor {
  return indices instanceof Tensor ? save(indices) : fromFlat(indices, [indices.length], 'i32', 'indexSelect');
}

/**
 * Sum of `g` into a tensor whose `axis` has `size` entries, g's slice j going to position index[j]:
 * raw.indexAdd, whose sums run in a fixed order, so repeated ids (a token twice in a batch) give the same
 * gradient bits on every run.
 */
function indexAddBack(g: Tensor, axis: number, index: Tensor, size: number): Tensor {
  const target = [...g.shape];
  target[axis] = size;
  return raw.indexAdd(target, axis, index, g);
}

/** concat backward: the gradient's slice for each input. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  const out = raw.concat(tensors, axis);
  if (!anyNeedsGrad(...tensors)) return out;
  const a = normAxis('concat', axis, out.rank);
  const sizes = tensors.map((t) => t.shape[a]!);
  return record('concat', out, tensors, [], (g, needs) => {
    let start = 0;
    return sizes.map((n, i) => {
      const s = start;
      start += n;
      return needs[i] ? raw.narrow(g, a, s, n) : null;
    });
  });
}

/** stack backward: the gradient's i-th entry along the new axis for input i. */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  const out = raw.stack(tensors, axis);
  if (!anyNeedsGrad(...tensors)) return out;
  const a = normAxis('stack', axis, out.rank);
  return record('stack', out, tensors, [], (g, needs) =>
    tensors.map((_, i) => {
      if (!needs[i]) return null;
      const n = raw.narrow(g, a, i, 1);
      const s = raw.squeeze(n, a);
      n.dispose();
      return s;
    }),
  );
}

/** indexSelect backward: scatter-add of the gradient rows to the selected positions (repeats accumulate). */
export function indexSelect(x: Tensor, axis: number, indices: IndexLike): Tensor {
  const out = raw.indexSelect(x, axis, indices);
  if (!anyNeedsGrad(x)) return out;
  const a = normAxis('indexSelect', axis, x.rank);
  const idx = ownIndex(indices);
  const size = x.shape[a]!;
  return record('indexSelect', out, [x], [idx], (g) => [indexAddBack(g, a, idx, size)]);
}

/** embeddingLookup backward: indexSelect's, over the flattened ids. */
export function embeddingLookup(table: Tensor, ids: IndexLike): Tensor {
  if (!(ids instanceof Tensor)) return indexSelect(table, 0, ids);
  const flat = raw.reshape(ids, [ids.size]);
  const rows = indexSelect(table, 0, flat);
  flat.dispose();
  const out = reshape(rows, [...ids.shape, ...table.shape.slice(1)]);
  rows.dispose();
  return out;
}

/** gather backward: scatterAdd of the gradient at the gathered positions. */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  const out = raw.gather(x, axis, index);
  if (!anyNeedsGrad(x)) return out;
  const a = normAxis('gather', axis, Math.max(x.rank, 1));
  const idx = save(index);
  const shape = x.shape;
  return record('gather', out, [x], [idx], (g) => [raw.scatterAdd(shape, a, idx, g)]);
}

/**
 * indexAdd backward: src's slice j gets g's slice index[j] (indexSelect; like the forward's skipped
 * out-of-range entries, those slices read indexSelect's poison).
 */
export function indexAdd(shape: Shape, axis: number, index: Tensor, src: Tensor): Tensor {
  const out = raw.indexAdd(shape, axis, index, src);
  if (!anyNeedsGrad(src)) return out;
  const a = normAxis('indexAdd', axis, Math.max(shape.length, 1));
  const idx = save(index);
  return record('indexAdd', out, [src], [idx], (g) => [raw.indexSelect(g, a, idx)]);
}

/** scatterAdd backward: src's gradient is g gathered at the index positions (zero where index does not reach). */
export function scatterAdd(shape: Shape, axis: number, index: Tensor, src: Tensor): Tensor {
  const out = raw.scatterAdd(shape, axis, index, src);
  if (!anyNeedsGrad(src)) return out;
  const a = normAxis('scatterAdd', axis, Math.max(shape.length, 1));
  const idx = save(index);
  const srcShape = src.shape;
  return record('scatterAdd', out, [src], [idx], (g) => {
    const picked = raw.gather(g, a, idx);
    if (sameShape(picked.shape, srcShape)) return [picked];
    const z = raw.zeros(srcShape, { dtype: g.dtype });
    const region = raw.slice(z, idx.shape.map((d) => ({ end: d })));
    raw.assign(region, picked);
    region.dispose();
    picked.dispose();
    return [z];
  });
}

/** Source position of each output position of one padded dim (reflect / circular). */
function padSource(mode: 'reflect' | 'circular', n: number, before: number, outSize: number): Int32Array {
  return Int32Array.from({ length: outSize }, (_, j) => {
    const i = j - before;
    if (mode === 'circular') return ((i % n) + n) % n;
    return i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i;
  });
}

/** pad backward (see the file header). */
export function pad(x: Tensor, pads: readonly number[], options: PadOptions = {}): Tensor {
  const out = raw.pad(x, pads, options);
  if (!anyNeedsGrad(x)) return out;
  const mode = options.mode ?? 'constant';
  const inShape = x.shape;
  const padded: { dim: number; before: number }[] = [];
  for (let k = 0; k < pads.length / 2; k++) padded.push({ dim: x.rank - 1 - k, before: pads[2 * k]! });
  return record('pad', out, [x], [], (g) => {
    if (mode === 'constant') {
      const before = (d: number) => padded.find((e) => e.dim === d)?.before ?? 0;
      return [raw.slice(g, inShape.map((n, d) => ({ start: before(d), end: before(d) + n })))];
    }
    let acc = alias(g);
    for (const { dim, before } of padded) {
      const n = inShape[dim]!;
      const index = fromFlat(padSource(mode, n, before, acc.shape[dim]!), [acc.shape[dim]!], 'i32', 'pad');
      const next = indexAddBack(acc, dim, index, n);
      index.dispose();
      acc.dispose();
      acc = next;
    }
    return [acc];
  });
}
