/**
 * Host tensors: the dtype, shape and typed-array data that checkpoint readers hand back before anything
 * goes to the GPU, plus the conversions callers need (f16/bf16/f64/i64 -> f32, i64 -> i32).
 *
 * Storage convention per dtype: f16 and bf16 keep their raw 16-bit patterns in a Uint16Array (JavaScript
 * has no half type; convert with `toFloat32`), i64 is a BigInt64Array, bool is a Uint8Array of 0/1.
 * Conversions never lose information silently: an i64 that does not fit the target throws a FormatError
 * naming the tensor. The f16 and bf16 codecs live in engine/f16.ts (bit operations, rounding to nearest
 * even like IEEE 754 hardware does).
 */
import { DTypeError, FormatError, ShapeError, fmtShape } from '../../engine/errors.js';
import { f16BitsToF32 } from '../../engine/f16.js';
import type { BytesSource } from '../../engine/platform.js';

/** Anything a checkpoint reader opens: what `openBytes` accepts (file path in Node, URL, Blob, Response, bytes). */
export type CheckpointSource = BytesSource;

export type HostDType = 'f32' | 'f16' | 'bf16' | 'f64' | 'i32' | 'i64' | 'u8' | 'i8' | 'i16' | 'bool';

/** The typed array each dtype's data lives in. */
export interface HostDataOf {
  f32: Float32Array;
  f16: Uint16Array;
  bf16: Uint16Array;
  f64: Float64Array;
  i32: Int32Array;
  i64: BigInt64Array;
  u8: Uint8Array;
  i8: Int8Array;
  i16: Int16Array;
  bool: Uint8Array;
}
export type HostData = HostDataOf[HostDType];

/** A tensor in host memory, row-major and contiguous: `data.length` is the product of `shape`. */
export type HostTensor = { [D in HostDType]: { dtype: D; shape: number[]; data: HostDataOf[D] } }[HostDType];

export const ITEMSIZE: Readonly<Record<HostDType, number>> = {
  f32: 4, f16: 2, bf16: 2, f64: 8, i32: 4, i64: 8, u8: 1, i8: 1, i16: 2, bool: 1,
};

const ARRAY_OF: { readonly [D in HostDType]: new (buffer: ArrayBuffer, byteOffset?: number, length?: number) => HostDataOf[D] } = {
  f32: Float32Array, f16: Uint16Array, bf16: Uint16Array, f64: Float64Array, i32: Int32Array,
  i64: BigInt64Array, u8: Uint8Array, i8: Int8Array, i16: Int16Array, bool: Uint8Array,
};

export function isHostDType(s: string): s is HostDType {
  return Object.prototype.hasOwnProperty.call(ITEMSIZE, s);
}

/** Number of elements of a shape (1 for a scalar shape []). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Builds a HostTensor after checking that the data's type matches the dtype and its length the shape. */
export function hostTensor(dtype: HostDType, shape: readonly number[], data: HostData): HostTensor {
  for (const d of shape)
    if (!Number.isSafeInteger(d) || d < 0) throw new ShapeError(`hostTensor: bad shape ${fmtShape(shape)}`);
  if (!(data instanceof ARRAY_OF[dtype]))
    throw new DTypeError(`hostTensor: dtype ${dtype} needs a ${ARRAY_OF[dtype].name}, got ${data.constructor.name}`);
  if (data.length !== numel(shape))
    throw new ShapeError(`hostTensor: shape ${fmtShape(shape)} needs ${numel(shape)} elements, data has ${data.length}`);
  return { dtype, shape: [...shape], data } as HostTensor;
}

/** True when the host stores multi-byte numbers little-endian (every platform WebGPU runs on, in practice). */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** An empty typed array of `count` elements of `dtype`, backed by a fresh (so aligned) buffer. */
export function allocData<D extends HostDType>(dtype: D, count: number): HostDataOf[D] {
  return new ARRAY_OF[dtype](new ArrayBuffer(count * ITEMSIZE[dtype]));
}

/**
 * Copies raw file bytes into a typed array of `dtype`. Copying is what makes the data aligned; bytes are
 * swapped when the file's byte order differs from the host's.
 */
export function decodeData<D extends HostDType>(dtype: D, bytes: Uint8Array, fileLittleEndian = true): HostDataOf[D] {
  const size = ITEMSIZE[dtype];
  if (bytes.byteLength % size !== 0)
    throw new FormatError(`decodeData: ${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  if (size > 1 && fileLittleEndian !== HOST_LITTLE_ENDIAN) {
    for (let i = 0; i < copy.length; i += size) copy.subarray(i, i + size).reverse();
  }
  return new ARRAY_OF[dtype](copy.buffer);
}

/** The tensor's data as little-endian bytes (a view when the host is little-endian, else a swapped copy). */
export function encodeData(h: HostTensor): Uint8Array {
  const view = new Uint8Array(h.data.buffer, h.data.byteOffset, h.data.byteLength);
  const size = ITEMSIZE[h.dtype];
  if (size === 1 || HOST_LITTLE_ENDIAN) return view;
  const copy = view.slice();
  for (let i = 0; i < copy.length; i += size) copy.subarray(i, i + size).reverse();
  return copy;
}

// ---- 16-bit float codecs: engine/f16.ts --------------------------------------------------------

let f16Table: Float32Array | undefined;

// ---- conversions ---------------------------------------------------------------------------------

/**
 * The tensor's values as float32. An f32 tensor returns its own data (no copy). i64 values beyond 2^53
 * cannot be represented even approximately as the caller expects, so they throw a FormatError naming `what`.
 */
export function toFloat32(h: HostTensor, what = 'tensor'): Float32Array {
  switch (h.dtype) {
    case 'f32':
      return h.data;
    case 'f16': {
      if (!f16Table) {
        f16Table = new Float32Array(65536);
        for (let b = 0; b < 65536; b++) f16Table[b] = f16BitsToF32(b);
      }
      const table = f16Table;
      const out = new Float32Array(h.data.length);
      for (let i = 0; i < out.length; i++) out[i] = table[h.data[i]!]!;
      return out;
    }
    case 'bf16': {
      const bits = new Uint32Array(h.data.length);
      for (let i = 0; i < bits.length; i++) bits[i] = h.data[i]! << 16;
      return new Float32Array(bits.buffer);
    }
    case 'i64': {
      const out = new Float32Array(h.data.length);
      const limit = 2n ** 53n;
      for (let i = 0; i < out.length; i++) {
        const v = h.data[i]!;
        if (v > limit || v < -limit)
          throw new FormatError(`toFloat32: ${what} element ${i} is ${v}, beyond the ±2^53 that floats hold exactly`);
        out[i] = Number(v);
      }
      return out;
    }
    default:
      return Float32Array.from(h.data);
  }
}

/**
 * The tensor's values as int32. An i32 tensor returns its own data. i64 values outside the int32 range throw
 * a FormatError naming `what`; float tensors throw a DTypeError since the conversion would round.
 */
export function toInt32(h: HostTensor, what = 'tensor'): Int32Array {
  switch (h.dtype) {
    case 'i32':
      return h.data;
    case 'i64': {
      const out = new Int32Array(h.data.length);
      for (let i = 0; i < out.length; i++) {
        const v = h.data[i]!;
        if (v > 2147483647n || v < -2147483648n)
          throw new FormatError(`toInt32: ${what} element ${i} is ${v}, outside the int32 range`);
        out[i] = Number(v);
      }
      return out;
    }
    case 'u8':
    case 'i8':
    case 'i16':
    case 'bool':
      return Int32Array.from(h.data);
    default:
      throw new DTypeError(`toInt32: ${what} has float dtype ${h.dtype}; convert it explicitly`);
  }
}
