/**
 * Element types. Storage follows WGSL: f32, f16 (needs the adapter's shader-f16 feature), i32, u32.
 * Booleans (comparison results, masks) are u32 0/1, since WGSL has no storable bool.
 */
import { DTypeError } from './errors.js';

export type DType = 'f32' | 'f16' | 'i32' | 'u32';
export const DTYPES: readonly DType[] = ['f32', 'f16', 'i32', 'u32'];

/** The typed array a tensor's `data()` returns. f16 is widened to Float32Array (JS has no Float16Array in Node 20). */
export type TypedArrayFor<D extends DType> = D extends 'i32' ? Int32Array : D extends 'u32' ? Uint32Array : Float32Array;
export type AnyTypedArray = Float32Array | Int32Array | Uint32Array;

export function byteSize(dtype: DType): number {
  return dtype === 'f16' ? 2 : 4;
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'f32' || dtype === 'f16';
}

export function checkDType(op: string, dtype: string): DType {
  if ((DTYPES as readonly string[]).includes(dtype)) return dtype as DType;
  throw new DTypeError(`${op}: unknown dtype '${dtype}' (expected one of ${DTYPES.join(', ')})`);
}
