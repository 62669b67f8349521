/** Tensor creation: from host data, constants, ranges, identity, and seeded random streams. */
import { describe, expectNumber, expectOptionalNumber, expectOptions, optionKeys } from '../arguments.js';
import { checkDType, type DType } from '../dtype.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { f32ArrayToF16 } from '../f16.js';
import { globalGenerator, type Generator } from '../random.js';
import { runtime } from '../runtime.js';
import { checkShape, sizeOf, type Shape } from '../shape.js';
import { checkBindable, empty, Tensor } from '../tensor.js';
import { contiguousCopy } from './elementwise.js';

export interface CreateOptions {
  dtype?: DType;
}

const CREATE_OPTIONS = optionKeys<CreateOptions>({ dtype: true });

export type HostData = number | readonly HostData[] | ArrayLike<number>;

function isArrayLike(v: unknown): v is ArrayLike<number> {
  return ArrayBuffer.isView(v) || Array.isArray(v);
}

/** Shape of nested arrays; throws on ragged nesting. */
function inferShape(data: HostData): number[] {
  const shape: number[] = [];
  let v: unknown = data;
  while (isArrayLike(v) && !ArrayBuffer.isView(v)) {
    shape.push((v as unknown[]).length);
    v = (v as unknown[])[0];
  }
  if (ArrayBuffer.isView(v)) shape.push((v as unknown as ArrayLike<number>).length);
  return shape;
}

function flatten(data: HostData, shape: number[], op: string): ArrayLike<number> {
  if (ArrayBuffer.isView(data)) return data as ArrayLike<number>;
  if (typeof data === 'number') return [data];
  const out: number[] = [];
  const walk = (v: unknown, dim: number, path: string): void => {
    if (dim === shape.length) {
      if (typeof v !== 'number') throw new ArgumentError(`${op}: element ${path || '[]'} is ${typeof v}, expected a number`);
      out.push(v);
      return;
    }
    if (!isArrayLike(v) || v.length !== shape[dim])
      throw new ShapeError(`${op}: ragged nested array at ${path || 'top level'}: expected length ${shape[dim]} for shape ${fmtShape(shape)}`);
    for (let i = 0; i < v.length; i++) walk((v as ArrayLike<unknown>)[i], dim + 1, `${path}[${i}]`);
  };
  walk(data, 0, '');
  return out;
}

function defaultDType(data: HostData): DType {
  if (data instanceof Int32Array || data instanceof Int16Array || data instanceof Int8Array) return 'i32';
  if (data instanceof Uint32Array || data instanceof Uint16Array || data instanceof Uint8Array) return 'u32';
  return 'f32';
}

/** Encodes values for upload, refusing values the dtype cannot hold (no silent truncation or wrapping). */
function encode(values: ArrayLike<number>, dtype: DType, op: string): ArrayBufferView {
  if (dtype === 'f32') return values instanceof Float32Array ? values : Float32Array.from(values);
  if (dtype === 'f16') {
    if (!runtime(op).features.has('shader-f16')) throw new DTypeError(`${op}: f16 needs the adapter feature shader-f16, which this adapter lacks`);
    return f32ArrayToF16(values);
  }
  checkIntegers(values, dtype, op);
  return dtype === 'i32' ? Int32Array.from(values) : Uint32Array.from(values);
}

/** Throws unless every value is an integer inside the range of the integer dtype `dtype`. */
export function checkIntegers(values: ArrayLike<number>, dtype: 'i32' | 'u32', op: string): void {
  const [lo, hi] = dtype === 'i32' ? [-2147483648, 2147483647] : [0, 4294967295];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < lo || v > hi)
      throw new DTypeError(`${op}: value ${v} at flat index ${i} is not representable as ${dtype}`);
  }
}

/** Uploads a flat array into a new contiguous tensor. */
export function fromFlat(values: ArrayLike<number>, shape: Shape, dtype: DType, op = 'tensor'): Tensor {
  if (!isArrayLike(values)) throw new ArgumentError(`${op}: values must be an array or a typed array, got ${describe(values)}`);
  if (!ArrayBuffer.isView(values))
    for (let i = 0; i < values.length; i++)
      if (typeof values[i] !== 'number') throw new ArgumentError(`${op}: element ${i} is ${describe(values[i])}, expected a number`);
  checkBindable(op, shape, dtype);
  const bytes = encode(values, dtype, op);
  const t = empty(shape, dtype, op);
  const st = t.storage(op);
  // writeBuffer needs a multiple of 4 bytes: pad odd-length f16 data.
  let view = bytes;
  if (bytes.byteLength % 4) {
    const padded = new Uint8Array(bytes.byteLength + 2);
    padded.set(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    view = padded;
  }
  if (view.byteLength > 0) st.rt.write(st.buffer, 0, view);
  if (dtype === 'i32' && values.length > 0) {
    const ints = new Int32Array(bytes.buffer, bytes.byteOffset, values.length);
    let min = ints[0]!;
    let max = min;
    for (const v of ints) {
      if (v < min) min = v;
      else if (v > max) max = v;
    }
    st.hostRange = { min, max, count: values.length };
  }
  return t;
}

/**
 * Creates a tensor from a number, nested arrays, or a flat array / typed array with an explicit shape.
 * The element count must match the shape exactly.
 */
export function tensor(data: HostData, shape?: Shape, options: CreateOptions = {}): Tensor {
  expectOptions('tensor', options, CREATE_OPTIONS);
  const dtype = checkDType('tensor', options.dtype ?? defaultDType(data));
  if (shape !== undefined) {
    const s = checkShape('tensor', shape);
    const flat = typeof data === 'number' ? [data] : flatten(data, inferShape(data), 'tensor');
    if (flat.length !== sizeOf(s))
      throw new ShapeError(`tensor: ${flat.length} values do not fill shape ${fmtShape(s)} (${sizeOf(s)} elements)`);
    return fromFlat(flat, s, dtype);
  }
  const inferred = typeof data === 'number' ? [] : inferShape(data);
  checkShape('tensor', inferred);
  return fromFlat(flatten(data, inferred, 'tensor'), inferred, dtype);
}

/** A 0-d tensor holding `v` (used for scalar operands). */
export function scalarLike(v: number, dtype: DType, op = 'scalar'): Tensor {
  return fromFlat([v], [], dtype, op);
}

/**
 * On GPUs, nonzero fills from this size on are one value uploaded and broadcast by the copy kernel,
 * instead of every value built on the host and sent over the bus (a 64 MiB ones() would be 64 MiB of
 * host memory and bus traffic). CPU adapters keep the upload: their device memory is host memory, and
 * the broadcast was no faster there (lavapipe, 2 cores, 2026-11-28, median of 5: 16 MiB 14.7 ms against
 * 11.1 ms by upload, 64 MiB 58.9 against 60.0).
 */
const GPU_FILL_BYTES = 1 << 20;

/**
 * A tensor of `shape` holding `value` everywhere; `op` is the public name errors report (full, zeros,
 * ones). Zeros (all bits clear in every dtype; not -0) are a clear on the device, other values an upload,
 * or on GPUs from GPU_FILL_BYTES on one value broadcast by a copy on the device.
 */
function filled(op: string, shape: Shape, value: number, options: CreateOptions): Tensor {
  const s = checkShape(op, shape);
  expectNumber(op, 'value', value);
  expectOptions(op, options, CREATE_OPTIONS);
  const dtype = checkDType(op, options.dtype ?? 'f32');
  const bytes = checkBindable(op, s, dtype);
  if (Object.is(value, 0)) {
    const t = empty(s, dtype, op);
    const st = t.storage(op);
    st.rt.clear(st.buffer, bytes);
    // As for uploads (fromFlat): index ops check i32 indices whose values the host knows before any GPU work.
    if (dtype === 'i32' && t.size > 0) st.hostRange = { min: 0, max: 0, count: t.size };
    return t;
  }
  if (bytes >= GPU_FILL_BYTES && runtime(op).info.adapterClass === 'gpu') {
    const one = fromFlat([value], [1], dtype, op);
    const t = contiguousCopy(one.view(s, s.map(() => 0)));
    const range = one.storage(op).hostRange;
    if (range) t.storage(op).hostRange = { ...range, count: t.size };
    one.dispose();
    return t;
  }
  const n = sizeOf(s);
  const values = dtype === 'i32' ? new Int32Array(n) : dtype === 'u32' ? new Uint32Array(n) : new Float32Array(n);
  values.fill(value);
  if (dtype !== 'f32' && dtype !== 'f16') encode([value], dtype, op);
  return fromFlat(values, s, dtype, op);
}

export const full = (shape: Shape, value: number, options: CreateOptions = {}): Tensor => filled('full', shape, value, options);
export const zeros = (shape: Shape, options: CreateOptions = {}): Tensor => filled('zeros', shape, 0, options);
export const ones = (shape: Shape, options: CreateOptions = {}): Tensor => filled('ones', shape, 1, options);

/** Values start, start+step, ... below end (like numpy.arange). */
export function arange(start: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  expectNumber('arange', 'start', start);
  expectOptionalNumber('arange', 'end', end);
  expectNumber('arange', 'step', step);
  expectOptions('arange', options, CREATE_OPTIONS);
  if (end === undefined || end === null) [start, end] = [0, start];
  if (step === 0 || !Number.isFinite(step)) throw new ArgumentError(`arange: step must be finite and non-zero, got ${step}`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  const isInt = Number.isInteger(start) && Number.isInteger(step);
  const dtype = checkDType('arange', options.dtype ?? (isInt ? 'i32' : 'f32'));
  checkBindable('arange', [n], dtype);
  const values = Array.from({ length: n }, (_, i) => start + i * step);
  return fromFlat(values, [n], dtype, 'arange');
}

/** `count` evenly spaced values from start to end inclusive. */
export function linspace(start: number, end: number, count: number, options: CreateOptions = {}): Tensor {
  expectNumber('linspace', 'start', start);
  expectNumber('linspace', 'end', end);
  expectOptions('linspace', options, CREATE_OPTIONS);
  if (!Number.isInteger(count) || count < 0) throw new ArgumentError(`linspace: count must be an integer >= 0, got ${count}`);
  const dtype = checkDType('linspace', options.dtype ?? 'f32');
  checkBindable('linspace', [count], dtype);
  const values = Array.from({ length: count }, (_, i) => (count === 1 ? start : start + ((end - start) * i) / (count - 1)));
  return fromFlat(values, [count], dtype, 'linspace');
}

/** n x m identity (m defaults to n). */
export function eye(n: number, m = n, options: CreateOptions = {}): Tensor {
  expectOptions('eye', options, CREATE_OPTIONS);
  const s = checkShape('eye', [n, m]);
  const dtype = checkDType('eye', options.dtype ?? 'f32');
  checkBindable('eye', s, dtype);
  const values = new Float32Array(n * m);
  for (let i = 0; i < Math.min(n, m); i++) values[i * m + i] = 1;
  return fromFlat(values, s, dtype, 'eye');
}

export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}

type UniformOptions = RandomOptions & { low?: number; high?: number };
type NormalOptions = RandomOptions & { mean?: number; std?: number };
const RANDOM_OPTIONS = optionKeys<RandomOptions>({ dtype: true, generator: true });
const UNIFORM_OPTIONS = optionKeys<UniformOptions>({ dtype: true, generator: true, low: true, high: true });
const NORMAL_OPTIONS = optionKeys<NormalOptions>({ dtype: true, generator: true, mean: true, std: true });

/** Uniform [low, high) samples from the seeded generator (see manualSeed). */
export function rand(shape: Shape, options: UniformOptions = {}): Tensor {
  const s = checkShape('rand', shape);
  expectOptions('rand', options, UNIFORM_OPTIONS);
  expectOptionalNumber('rand', 'options.low', options.low);
  expectOptionalNumber('rand', 'options.high', options.high);
  const dtype = checkDType('rand', options.dtype ?? 'f32');
  checkBindable('rand', s, dtype);
  const g = options.generator ?? globalGenerator;
  const lo = options.low ?? 0;
  const hi = options.high ?? 1;
  const values = new Float32Array(sizeOf(s));
  for (let i = 0; i < values.length; i++) values[i] = lo + (hi - lo) * g.uniform();
  return fromFlat(values, s, dtype, 'rand');
}

/** Normal samples with the given mean and standard deviation from the seeded generator. */
export function randn(shape: Shape, options: NormalOptions = {}): Tensor {
  const s = checkShape('randn', shape);
  expectOptions('randn', options, NORMAL_OPTIONS);
  expectOptionalNumber('randn', 'options.mean', options.mean);
  expectOptionalNumber('randn', 'options.std', options.std);
  const dtype = checkDType('randn', options.dtype ?? 'f32');
  checkBindable('randn', s, dtype);
  const g = options.generator ?? globalGenerator;
  const mean = options.mean ?? 0;
  const std = options.std ?? 1;
  const values = new Float32Array(sizeOf(s));
  for (let i = 0; i < values.length; i++) values[i] = mean + std * g.normal();
  return fromFlat(values, s, dtype, 'randn');
}

/** Uniform integers in [low, high). */
export function randint(low: number, high: number, shape: Shape, options: RandomOptions = {}): Tensor {
  const s = checkShape('randint', shape);
  expectOptions('randint', options, RANDOM_OPTIONS);
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) throw new ArgumentError(`randint: need integers low < high, got ${low}, ${high}`);
  const dtype = checkDType('randint', options.dtype ?? 'i32');
  checkBindable('randint', s, dtype);
  const g = options.generator ?? globalGenerator;
  const values = new Int32Array(sizeOf(s));
  for (let i = 0; i < values.length; i++) values[i] = low + g.int(high - low);
  return fromFlat(values, s, dtype, 'randint');
}
