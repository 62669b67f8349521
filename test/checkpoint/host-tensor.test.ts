import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from '../../engine/f16.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DTypeError, FormatError, ShapeError } from '../../engine/errors.js';
import {
  decodeData, hostTensor, toFloat32, toInt32,
} from '../../nn/checkpoint/host-tensor.js';

const t = suite('checkpoint: host tensors');

t('f16 -> f32 -> f16 returns every bit pattern (NaNs stay NaN)', () => {
  for (let bits = 0; bits < 65536; bits++) {
    const value = f16BitsToF32(bits);
    if (Number.isNaN(value)) {
      assert.ok((f32ToF16Bits(value) & 0x7c00) === 0x7c00 && (f32ToF16Bits(value) & 0x3ff) !== 0, `NaN pattern ${bits}`);
      continue;
    }
    assert.is(f32ToF16Bits(value), bits, `pattern 0x${bits.toString(16)}`);
  }
});

t('f16 decoding of special values', () => {
  assert.is(f16BitsToF32(0x3c00), 1);
  assert.is(f16BitsToF32(0xc000), -2);
  assert.is(f16BitsToF32(0x7bff), 65504);
  assert.is(f16BitsToF32(0x0001), 2 ** -24);
  assert.is(f16BitsToF32(0x7c00), Infinity);
  assert.is(f16BitsToF32(0xfc00), -Infinity);
  assert.ok(Object.is(f16BitsToF32(0x8000), -0));
});

t('f32 -> f16 rounds to nearest even, overflows to infinity, underflows to signed zero', () => {
  // 1 + 2^-11 is halfway between 1 and the next half (1 + 2^-10): ties go to the even mantissa (1).
  assert.is(f32ToF16Bits(1 + 2 ** -11), 0x3c00);
  // 1 + 3 * 2^-11 is halfway between 1 + 2^-10 (odd) and 1 + 2^-9 (even).
  assert.is(f32ToF16Bits(1 + 3 * 2 ** -11), 0x3c02);
  assert.is(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20), 0x3c01); // just above halfway rounds up
  assert.is(f32ToF16Bits(65519), 0x7bff); // below the halfway point to 65536 stays finite
  assert.is(f32ToF16Bits(65520), 0x7c00); // the tie rounds to even, which is infinity
  assert.is(f32ToF16Bits(1e10), 0x7c00);
  assert.is(f32ToF16Bits(-1e10), 0xfc00);
  assert.is(f32ToF16Bits(2 ** -25), 0x0000); // halfway to the smallest subnormal: ties to even (zero)
  assert.is(f32ToF16Bits(2 ** -25 * 1.5), 0x0001);
  assert.is(f32ToF16Bits(3 * 2 ** -25), 0x0002); // 1.5 subnormal steps: tie to even (2)
  assert.is(f32ToF16Bits(-1e-30), 0x8000);
  assert.is(f32ToF16Bits(2 ** -14 - 2 ** -25), 0x0400); // rounds up out of the subnormals into the smallest normal
});

t('bf16 codec rounds to nearest even and keeps NaN', () => {
  assert.is(f32ToBf16Bits(1), 0x3f80);
  assert.is(bf16BitsToF32(0xc040), -3);
  assert.is(f32ToBf16Bits(1 + 2 ** -8), 0x3f80); // tie, even stays
  assert.is(f32ToBf16Bits(1 + 3 * 2 ** -8), 0x3f82); // tie, rounds to even upward
  assert.ok(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN))));
  assert.is(bf16BitsToF32(f32ToBf16Bits(Infinity)), Infinity);
  for (const x of [0, -0, 0.5, -7.25, 2 ** 100, -(2 ** -130)]) assert.ok(Object.is(bf16BitsToF32(f32ToBf16Bits(x)), x), `${x} is exact in bf16`);
});

t('toFloat32 converts every dtype', () => {
  const half = hostTensor('f16', [3], new Uint16Array([0x3c00, 0xc000, 0x7c00]));
  assert.equal(Array.from(toFloat32(half)), [1, -2, Infinity]);
  assert.equal(Array.from(toFloat32(hostTensor('bf16', [2], new Uint16Array([0x3f80, 0xc040])))), [1, -3]);
  assert.equal(Array.from(toFloat32(hostTensor('f64', [1], new Float64Array([0.5])))), [0.5]);
  assert.equal(Array.from(toFloat32(hostTensor('i64', [2], new BigInt64Array([-(2n ** 53n), 7n])))), [-(2 ** 53), 7]);
  assert.equal(Array.from(toFloat32(hostTensor('i8', [1], new Int8Array([-5])))), [-5]);
  const f32 = hostTensor('f32', [1], new Float32Array([2]));
  assert.is(toFloat32(f32), f32.data, 'f32 data is returned as is');
});

t('toFloat32 refuses i64 values beyond 2^53, naming the tensor', () => {
  const big = hostTensor('i64', [2], new BigInt64Array([0n, 2n ** 53n + 1n]));
  assert.throws(() => toFloat32(big, "'ids'"), (e: unknown) => e instanceof FormatError && /'ids' element 1/.test((e as Error).message));
});

t('toInt32 narrows i64 when values fit and names the tensor when not', () => {
  assert.equal(Array.from(toInt32(hostTensor('i64', [2], new BigInt64Array([-(2n ** 31n), 2n ** 31n - 1n])))), [-(2 ** 31), 2 ** 31 - 1]);
  assert.equal(Array.from(toInt32(hostTensor('bool', [2], new Uint8Array([1, 0])))), [1, 0]);
  assert.throws(
    () => toInt32(hostTensor('i64', [1], new BigInt64Array([2n ** 31n])), "'position_ids'"),
    (e: unknown) => e instanceof FormatError && /'position_ids'/.test((e as Error).message),
  );
  assert.throws(() => toInt32(hostTensor('f32', [1], new Float32Array([1]))), (e: unknown) => e instanceof DTypeError);
});

t('hostTensor checks data type and length', () => {
  assert.throws(() => hostTensor('f32', [2], new Float32Array(3)), (e: unknown) => e instanceof ShapeError);
  assert.throws(() => hostTensor('f32', [-1], new Float32Array(0)), (e: unknown) => e instanceof ShapeError);
  assert.throws(() => hostTensor('f16', [1], new Float32Array(1)), (e: unknown) => e instanceof DTypeError);
});

t('decodeData swaps big-endian bytes and rejects partial elements', () => {
  assert.equal(Array.from(decodeData('i32', new Uint8Array([0, 0, 1, 2]), false)), [258]);
  assert.equal(Array.from(decodeData('i32', new Uint8Array([2, 1, 0, 0]))), [258]);
  assert.throws(() => decodeData('f32', new Uint8Array(3)), (e: unknown) => e instanceof FormatError);
});

t.run();
