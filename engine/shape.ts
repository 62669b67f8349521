/** Shape arithmetic shared by every op: sizes, strides, broadcasting, axis normalisation. */
import { describe } from './arguments.js';
import { ArgumentError, ShapeError, fmtShape } from './errors.js';

export type Shape = readonly number[];

/** Highest rank the kernels index (shape and strides travel as two vec4<u32> each). */
export const MAX_RANK = 8;

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

export function checkShape(op: string, shape: Shape): number[] {
  if (!Array.isArray(shape)) throw new ArgumentError(`${op}: shape must be an array of integers, got ${describe(shape)}`);
  for (const d of shape)
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`${op}: invalid shape ${fmtShape(shape)}: dims must be integers >= 0`);
  if (shape.length > MAX_RANK) throw new ShapeError(`${op}: rank ${shape.length} exceeds the maximum ${MAX_RANK} (shape ${fmtShape(shape)})`);
  return [...shape];
}

/** NumPy broadcasting of two shapes; throws naming the op when they do not broadcast. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1)
      throw new ShapeError(`${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} do not broadcast`);
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides that read a tensor of `shape`/`strides` as if it had the (broadcast) shape `target`: 0 on expanded dims. */
export function broadcastStrides(shape: Shape, strides: Shape, target: Shape): number[] {
  const out = new Array<number>(target.length).fill(0);
  const off = target.length - shape.length;
  for (let i = 0; i < shape.length; i++) out[off + i] = shape[i] === 1 && target[off + i] !== 1 ? 0 : strides[i]!;
  return out;
}

/** Normalises a possibly negative axis against `rank`. */
export function normAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= Math.max(rank, 1))
    throw new ArgumentError(`${op}: axis ${axis} out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

/** Normalises a set of axes (undefined = all), sorted and unique. */
export function normAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  if (typeof axes !== 'number' && !Array.isArray(axes))
    throw new ArgumentError(`${op}: axes must be an axis, an array of axes or undefined (all), got ${describe(axes)}`);
  const list = (typeof axes === 'number' ? [axes] : [...axes]).map((a) => normAxis(op, a, rank));
  const set = [...new Set(list)].sort((x, y) => x - y);
  if (set.length !== list.length) throw new ArgumentError(`${op}: repeated axis in [${axes}]`);
  return set;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
