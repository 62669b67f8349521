/**
 * The expectations gen_checkpoints.py writes (checkpoints_expected.json) and an exact comparison of a
 * HostTensor against one of them.
 */
import * as assert from 'uvu/assert';
import { toFloat32, type HostTensor } from '../../nn/checkpoint/host-tensor.js';
import { assertClose } from '../helpers.js';

export interface ExpectedTensor {
  path: (string | number)[];
  dtype: string;
  shape: number[];
  /** Floats (or 'inf' / '-inf' / 'nan'), ints, i64 as decimal strings. */
  values: (number | string)[];
  /** Raw 16-bit patterns of f16 / bf16 tensors. */
  bits?: number[];
}
export interface ExpectedFile {
  tensors: ExpectedTensor[];
  values: { path: (string | number)[]; value: unknown }[];
}

const SPECIAL: Record<string, number> = { inf: Infinity, '-inf': -Infinity, nan: NaN };

/** Asserts dtype, shape and values match exactly (f16/bf16 by bit pattern, f64 in full precision). */
export function assertTensorMatches(h: HostTensor, e: ExpectedTensor): void {
  const what = e.path.join('/');
  assert.is(h.dtype, e.dtype, `${what} dtype`);
  assert.equal(h.shape, e.shape, `${what} shape`);
  if (h.dtype === 'i64') {
    assert.equal(Array.from(h.data, String), e.values, `${what} values`);
    return;
  }
  if (h.dtype === 'f16' || h.dtype === 'bf16') {
    if (e.bits) assert.equal(Array.from(h.data), e.bits, `${what} bits`);
    assertClose(toFloat32(h), e.values.map((v) => (typeof v === 'string' ? SPECIAL[v]! : v)), { atol: 0, rtol: 0, what });
    return;
  }
  const actual = h.dtype === 'f32' ? h.data : Array.from(h.data); // f64 and ints exactly, without rounding to f32
  assertClose(actual, e.values.map((v) => (typeof v === 'string' ? SPECIAL[v]! : v)), { atol: 0, rtol: 0, what });
}
