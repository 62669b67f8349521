/**
 * Tensor: a typed view (shape, strides, element offset) of a reference-counted GPU buffer.
 *
 * Views (reshape of contiguous data, transpose, permute, slice, expand, squeeze) share the storage and
 * copy nothing; kernels read any strided view directly. Memory is freed deterministically: `dispose()`
 * drops a view's reference, and the buffer returns to the pool when its last view is gone. `tidy(fn)`
 * disposes every tensor created inside `fn` except those it returns or `keep`s.
 */
import { describe, TENSOR_BRAND } from './arguments.js';
import { byteSize, checkDType, isFloat, type DType, type AnyTypedArray } from './dtype.js';
import { ArgumentError, DisposedError, DTypeError, ShapeError, fmtShape } from './errors.js';
import { f16ArrayToF32 } from './f16.js';
import { runtime, type Runtime } from './runtime.js';
import { contiguousStrides, sizeOf, type Shape } from './shape.js';

/** Bounds of the `count` values a storage holds. */
export interface ValueRange {
  min: number;
  max: number;
  count: number;
}

/** A GPU buffer shared by all views of it. */
export class Storage {
  refs = 0;
  /**
   * Bounds of the values the host put there (i32 tensors made by `tensor`/`fromFlat`, or `zeros`), so
   * index ops can reject an out-of-range index before any GPU work. GPU results never have one, and anything that
   * writes into an existing storage clears it (ops/inplace.ts).
   */
  hostRange: ValueRange | null = null;
  constructor(
    readonly buffer: GPUBuffer,
    readonly bytes: number,
    readonly rt: Runtime,
  ) {}
}

let liveTensors = 0;
let liveBytes = 0;
const scopes: Set<Tensor>[] = [];

/**
 * Autograd bookkeeping lives in the autograd layer; the engine only reserves the slot so a tensor can
 * point at the node that produced it.
 */
export interface GradNode {
  readonly name: string;
}

let nextId = 1;

export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  /** Offset of element [0,...,0] in the storage, in elements. */
  readonly offset: number;
  readonly dtype: DType;
  private gradRequired = false;
  /** Accumulated gradient after `backward()` (autograd layer). */
  grad: Tensor | null = null;
  /** The autograd node that produced this tensor, if any. */
  gradNode: GradNode | null = null;
  private store: Storage | null;

  /** Lets argument messages recognise a tensor whatever a bundler renamed the class to (engine/arguments.ts). */
  get [TENSOR_BRAND](): true {
    return true;
  }

  /** Whether gradients flow to this tensor (autograd layer). Only float tensors can require them, as in PyTorch. */
  get requiresGrad(): boolean {
    return this.gradRequired;
  }

  set requiresGrad(on: boolean) {
    if (typeof on !== 'boolean') throw new ArgumentError(`requiresGrad: must be set to a boolean, got ${describe(on)}`);
    if (on && !isFloat(this.dtype))
      throw new DTypeError(`requiresGrad: only float tensors (f32, f16) can require gradients, got ${this.dtype} ${fmtShape(this.shape)}`);
    this.gradRequired = on;
  }

  constructor(storage: Storage, shape: Shape, strides: Shape, offset: number, dtype: DType) {
    this.store = storage;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze([...strides]);
    this.offset = offset;
    this.dtype = dtype;
    if (storage.refs++ === 0) liveBytes += storage.bytes;
    liveTensors++;
    scopes[scopes.length - 1]?.add(this);
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }
  get rank(): number {
    return this.shape.length;
  }
  get disposed(): boolean {
    return this.store === null;
  }

  /** The storage, or a DisposedError naming the op that tried to use a disposed tensor. */
  storage(op = 'use'): Storage {
    if (!this.store) throw new DisposedError(`${op}: tensor #${this.id} ${fmtShape(this.shape)} was disposed`);
    this.store.rt.checkAlive(op);
    return this.store;
  }

  /** True when elements are laid out row-major without gaps (offset may be non-zero). */
  get isContiguous(): boolean {
    let expected = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.strides[i] !== expected) return false;
      expected *= this.shape[i]!;
    }
    return true;
  }

  /** Drops this view's reference; the buffer goes back to the pool when no view uses it. Idempotent. */
  dispose(): void {
    const s = this.store;
    if (!s) return;
    this.store = null;
    liveTensors--;
    if (--s.refs === 0) {
      liveBytes -= s.bytes;
      if (!s.rt.lost) s.rt.pool.release(s.buffer);
    }
    this.grad?.dispose();
    this.grad = null;
    this.gradNode = null;
  }

  /** A new view of the same storage (no copy). Shape/stride validity is the caller's responsibility. */
  view(shape: Shape, strides: Shape, offset = this.offset): Tensor {
    if (!Array.isArray(shape) || !Array.isArray(strides))
      throw new ArgumentError('view: Tensor.view(shape, strides, offset?) is the raw storage view and takes both arrays; x.reshape(shape) (or ops.view) is the PyTorch-style view');
    return new Tensor(this.storage('view'), shape, strides, offset, this.dtype);
  }

  /**
   * Reads the elements back in row-major order. Non-contiguous views are first made contiguous on the
   * GPU. f16 tensors come back widened to Float32Array.
   */
  async data(): Promise<AnyTypedArray> {
    const st = this.storage('data');
    if (!this.isContiguous) {
      const c = contiguousCopy(this);
      try {
        return await c.data();
      } finally {
        c.dispose();
      }
    }
    const n = this.size;
    const bytes = byteSize(this.dtype);
    if (n === 0) return this.dtype === 'i32' ? new Int32Array(0) : this.dtype === 'u32' ? new Uint32Array(0) : new Float32Array(0);
    if (this.dtype === 'f16') {
      // Copies must be 4-byte aligned: read the enclosing aligned range and slice.
      const start = this.offset * 2;
      const alignedStart = start & ~3;
      const raw = await st.rt.read(st.buffer, alignedStart, Math.ceil((start + n * 2 - alignedStart) / 4) * 4);
      return f16ArrayToF32(new Uint16Array(raw, start - alignedStart, n));
    }
    const raw = await st.rt.read(st.buffer, this.offset * bytes, n * bytes);
    return this.dtype === 'i32' ? new Int32Array(raw) : this.dtype === 'u32' ? new Uint32Array(raw) : new Float32Array(raw);
  }

  /** The single element of a tensor with one element, as a number. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new ShapeError(`item: tensor of shape ${fmtShape(this.shape)} has ${this.size} elements, expected 1`);
    return (await this.data())[0]!;
  }

  /** Nested arrays (a number for rank 0). */
  async toArray(): Promise<NestedArray> {
    const flat = await this.data();
    const build = (dim: number, start: number): NestedArray => {
      if (dim === this.shape.length) return flat[start]!;
      const stride = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim]! }, (_, i) => build(dim + 1, start + i * stride));
    };
    return build(0, 0);
  }

  toString(): string {
    return `Tensor(${fmtShape(this.shape)}, ${this.dtype}${this.disposed ? ', disposed' : ''})`;
  }
}

export type NestedArray = number | NestedArray[];

/**
 * Bounds of the values the view `t` reads, when known on the host: its storage was uploaded from host
 * values or cleared to zeros, and the view reads every one of them (any reshape, transpose, permute or
 * expansion of the whole storage does). A view of part of it gets null: the storage's bounds may come
 * from elements it does not read.
 */
export function hostValueRange(t: Tensor): { min: number; max: number } | null {
  const range = t.storage('hostValueRange').hostRange;
  if (!range) return null;
  // Distinct elements read: the product of the non-broadcast dims, provided those dims do not overlap
  // (each stride at least the extent of the smaller-strided dims under it).
  const dims = t.shape.map((d, i) => [d, t.strides[i]!] as const).filter(([d, s]) => d > 1 && s !== 0).sort((a, b) => a[1] - b[1]);
  let extent = 1;
  for (const [d, s] of dims) {
    if (s < extent) return null;
    extent = s * d;
  }
  const distinct = dims.reduce((n, [d]) => n * d, 1);
  return distinct === range.count && t.size > 0 ? { min: range.min, max: range.max } : null;
}

/** Allocates an uninitialised contiguous tensor on the active device. */
export function empty(shape: Shape, dtype: DType, op = 'empty'): Tensor {
  const rt = runtime(op);
  const bytes = checkBindable(op, shape, dtype, rt);
  const storage = new Storage(rt.pool.acquire(bytes), bytes, rt);
  return new Tensor(storage, shape, contiguousStrides(shape), 0, dtype);
}

/**
 * Tensors must fit one storage-buffer binding: kernels index one binding per operand, and splitting a
 * tensor across bindings would make every kernel pay for a case that only enormous tensors need.
 * We refuse such tensors up front, naming the limit, instead of failing inside the GPU validation layer.
 * Returns the buffer size. Creation ops call it before building host arrays, so an absurd shape fails
 * here instead of allocating gigabytes on the CPU first.
 */
export function checkBindable(op: string, shape: Shape, dtype: DType, rt: Runtime = runtime(op)): number {
  // Plain-JavaScript callers can pass anything: an unknown dtype would otherwise reach a shader's source.
  checkDType(op, dtype);
  const bytes = Math.max(4, Math.ceil((sizeOf(shape) * byteSize(dtype)) / 4) * 4);
  const limit = rt.info.limits.maxStorageBufferBindingSize ?? 134217728;
  if (bytes > limit)
    throw new ShapeError(
      `${op}: a ${dtype} tensor of shape ${fmtShape(shape)} needs ${bytes} bytes, more than this adapter's ` +
        `maxStorageBufferBindingSize (${limit} bytes); split it into smaller tensors`,
    );
  return bytes;
}

/** Registered by engine/ops (the copy kernel lives above this module). */
let contiguousCopy: (t: Tensor) => Tensor = () => {
  throw new Error('contiguous copy kernel not registered');
};
export function registerContiguousCopy(fn: (t: Tensor) => Tensor): void {
  contiguousCopy = fn;
}

export interface MemoryStats {
  /** Tensors (views) not yet disposed. */
  liveTensors: number;
  /** Bytes of GPU buffers referenced by live tensors. */
  bytesLive: number;
  /** Bytes held by the buffer pool for reuse. */
  bytesPooled: number;
  buffersPooled: number;
}

export function memoryStats(): MemoryStats {
  const rt = runtime('memoryStats');
  return { liveTensors, bytesLive: liveBytes, bytesPooled: rt.pool.bytesPooled, buffersPooled: rt.pool.buffersPooled };
}

/** Frees the pooled buffers (keeps live tensors). */
export function emptyCache(): void {
  runtime('emptyCache').emptyCache();
}

type Kept = Tensor | readonly Kept[] | { readonly [k: string]: Kept } | void | number | string | boolean | null | undefined;

function collect(value: unknown, out: Set<Tensor>): void {
  if (value instanceof Tensor) out.add(value);
  else if (Array.isArray(value)) for (const v of value) collect(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) collect(v, out);
}

/**
 * Runs `fn` and disposes every tensor created during it, except tensors in its return value (arrays and
 * plain objects are searched) and those passed to `keep`. `fn` must be synchronous: an async function would
 * let tensors escape the scope before they are used.
 */
export function tidy<T extends Kept>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    // A throwing scope frees what it created too; only keep()-ed tensors survive.
    for (const t of scope) t.dispose();
    throw err;
  } finally {
    scopes.pop();
  }
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    throw new ArgumentError('tidy: fn returned a Promise; tidy scopes must be synchronous');
  }
  const kept = new Set<Tensor>();
  collect(result, kept);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (kept.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/** Exempts a tensor from the enclosing `tidy` scope(s). */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

// Checks for tensor arguments from JavaScript callers (engine/arguments.ts has the others): an
// ArgumentError naming the op and the argument instead of a TypeError from inside the op.

export function expectTensor(op: string, name: string, value: unknown): asserts value is Tensor {
  if (!(value instanceof Tensor)) throw new ArgumentError(`${op}: ${name} must be a Tensor, got ${describe(value)}`);
}

/** A tensor or a plain number (the operands of elementwise ops). */
export function expectTensorOrNumber(op: string, name: string, value: unknown): asserts value is Tensor | number {
  if (!(value instanceof Tensor) && typeof value !== 'number')
    throw new ArgumentError(`${op}: ${name} must be a Tensor or a number, got ${describe(value)}`);
}

/** An array of tensors (concat, stack). */
export function expectTensorList(op: string, name: string, value: unknown): asserts value is readonly Tensor[] {
  if (!Array.isArray(value)) throw new ArgumentError(`${op}: ${name} must be an array of Tensors, got ${describe(value)}`);
  value.forEach((t: unknown, i) => expectTensor(op, `${name}[${i}]`, t));
}
