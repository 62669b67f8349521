import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ArgumentError } from '../../engine/errors.js';
import { readNpy, readNpyFile, writeNpy, type NpyDType } from '../../metatransformer/io/npy.js';
import { assertFormatError, assertThrows, fixture, fixtureJSON } from '../helpers.js';
import { fuzzReader } from './fuzz.js';

const t = suite('io: npy');

/** A v1 .npy file with the given header text (padded like NumPy) and data bytes. */
function npy(header: string, data: number[] = [], version = 1): Uint8Array {
  const prefix = version === 1 ? 10 : 12;
  const padded = header + ' '.repeat(63 - ((prefix + header.length) % 64)) + '\n';
  const out = new Uint8Array(prefix + padded.length + data.length);
  out.set([0x93, 78, 85, 77, 80, 89, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, padded.length, true);
  else dv.setUint32(8, padded.length, true);
  for (let i = 0; i < padded.length; i++) out[prefix + i] = padded.charCodeAt(i);
  out.set(data, prefix + padded.length);
  return out;
}

type Expected = Record<string, { dtype: string; shape: number[]; data: (number | string)[] }>;

t('reads NumPy-written files: all dtypes, big-endian, Fortran order, scalars, empty, v2 and v3', async () => {
  const expected = await fixtureJSON<Expected>('io/npy_expected.json');
  assert.is(Object.keys(expected).length, 17);
  for (const [name, e] of Object.entries(expected)) {
    const arr = readNpy(await fixture(`io/${name}`), name);
    assert.is(arr.dtype, e.dtype === 'b1' ? 'b1' : e.dtype, name);
    assert.equal(arr.shape, e.shape, name);
    const got = Array.from(arr.data as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? v.toString() : v));
    const isFloat = arr.dtype[0] === 'f';
    // Infinities are stored as strings in JSON; float32 values as the doubles NumPy printed.
    const want = e.data.map((v) => (isFloat ? (arr.dtype === 'f8' ? Number(v) : Math.fround(Number(v))) : v));
    assert.equal(got, want, name);
  }
  const viaBlob = await readNpyFile(new Blob([(await fixture('io/f4.npy')).slice()]));
  assert.equal(viaBlob.shape, [2, 3]);
});

t('writeNpy round-trips every dtype, including f2 rounding and b1', () => {
  const cases: [ArrayLike<number> | bigint[], NpyDType, number[]][] = [
    [Float32Array.from([1.5, -2, 3e-8]), 'f4', [3]],
    [Float64Array.from([Math.PI, -0, 1e300, 4, 5, 6]), 'f8', [2, 3]],
    [Int8Array.from([-128, 127]), 'i1', [2]],
    [Int16Array.from([-32768, 7]), 'i2', [2, 1]],
    [Int32Array.from([-5, 2 ** 31 - 1]), 'i4', [1, 2]],
    [Uint8Array.from([0, 255]), 'u1', [2]],
    [Uint16Array.from([65535]), 'u2', [1]],
    [Uint32Array.from([2 ** 32 - 1]), 'u4', [1]],
    [new Float32Array(0), 'f4', [0, 5]],
  ];
  for (const [values, dtype, shape] of cases) {
    const back = readNpy(writeNpy(values as Float32Array, shape));
    assert.is(back.dtype, dtype);
    assert.equal(back.shape, shape);
    assert.equal(Array.from(back.data as Float32Array), Array.from(values as Float32Array), dtype);
  }
  const big = readNpy(writeNpy(BigInt64Array.from([-(2n ** 63n), 2n ** 53n + 1n]), [2]));
  assert.equal(Array.from(big.data as BigInt64Array), [-(2n ** 63n), 2n ** 53n + 1n]);
  const ubig = readNpy(writeNpy(BigUint64Array.from([2n ** 64n - 1n]), [1]));
  assert.equal(Array.from(ubig.data as BigUint64Array), [2n ** 64n - 1n]);
  const scalar = readNpy(writeNpy(Float64Array.from([2.5]), []));
  assert.equal(scalar.shape, []);
  // float16: exact values, ties to even, overflow to infinity, subnormals, NaN.
  const halves = Float32Array.from([1, -2.5, 65504, 65520, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -24, 2 ** -26, 6e-5, NaN, -Infinity, -0]);
  const h = readNpy(writeNpy(halves, [halves.length], 'f2'));
  assert.is(h.dtype, 'f2');
  assert.equal(Array.from(h.data as Float32Array), [1, -2.5, 65504, Infinity, 1, 1 + 2 ** -9, 2 ** -24, 0, 6.0021877288818359375e-5, NaN, -Infinity, -0]);
  const b = readNpy(writeNpy(Uint8Array.from([0, 3, 1]), [3], 'b1'));
  assert.is(b.dtype, 'b1');
  assert.equal(Array.from(b.data as Uint8Array), [0, 1, 1]);
  // Header lengths keep the data 64-byte aligned, as NumPy does.
  const file = writeNpy(new Float32Array(3), [3]);
  assert.is((10 + new DataView(file.buffer).getUint16(8, true)) % 64, 0);
  assertThrows(() => writeNpy(new Float32Array(3), [2]), ArgumentError, /needs 2 elements, data has 3/);
  assertThrows(() => writeNpy(new Float32Array(3), [-3]), ArgumentError, /bad shape/);
  assertThrows(() => writeNpy(new Int32Array(3), [3], 'f4'), ArgumentError, /dtype 'f4' cannot be written from Int32Array/);
});

t('error paths: magic, version, header syntax and contents, data size', () => {
  assertFormatError(() => readNpy(new Uint8Array([0x93, 78, 85, 77, 80])), /bad magic/, 5);
  assertFormatError(() => readNpy(new Uint8Array([0x93, 78, 85, 77, 80, 89])), /version needs 2 bytes/, 6);
  const v4 = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }");
  v4[6] = 4;
  assertFormatError(() => readNpy(v4), /unsupported .npy version 4.0/, 6);
  const longHeader = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }");
  new DataView(longHeader.buffer).setUint16(8, 60000, true);
  assertFormatError(() => readNpy(longHeader), /header needs 60000 bytes/, 10);
  const bad: [string, RegExp][] = [
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", /unexpected key 'extra'/],
    ["{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", /duplicate key 'descr'/],
    ["{'descr': '<f4', 'fortran_order': False}", /'shape' missing/],
    ["{'descr': '<f4', 'shape': (1,)}", /'fortran_order' missing/],
    ["{'fortran_order': False, 'shape': (1,)}", /'descr' missing or not a string/],
    ["{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", /nested sequences are not allowed/],
    ["{'descr': '<U8', 'fortran_order': False, 'shape': (1,)}", /dtype '<U8' is not supported/],
    ["{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}", /dtype '<c8' is not supported/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", /unexpected value/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': ('a',)}", /'shape' missing or not a tuple of integers/],
    ["{'descr': '<f4', 'fortran_order': false, 'shape': (1,)}", /unexpected value/],
    ["{'descr': '<f4\\n', 'fortran_order': False, 'shape': (1,)}", /escapes in strings are not supported/],
    ["{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}", /expected ',' or '\}'/],
    ["{'descr' '<f4'}", /expected ':'/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk", /trailing characters/],
    ["{'descr': '<f4' 'fortran_order': False}", /expected ',' or '}'/],
    ["{1: 2}", /dict keys must be strings/],
    ["['descr']", /expected '\{'/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (1 2)}", /expected ',' or '\)'/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296)}", /has too many elements/],
    ["{'descr': \"<f4", /unterminated string/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000,)}", /needs 400000000000 bytes but the file ends/],
  ];
  for (const [header, pattern] of bad) assertFormatError(() => readNpy(npy(header)), pattern);
  assertFormatError(() => readNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", [0, 0, 0, 0])), /data of shape \(2\) and dtype <f4 needs 8 bytes but the file ends after 4/, 128);
  // Python 2 longs and list-valued shapes are accepted.
  const py2 = readNpy(npy("{'descr': '<i2', 'fortran_order': False, 'shape': [2L]}", [1, 0, 2, 0], 2));
  assert.equal(Array.from(py2.data as Int16Array), [1, 2]);
});

t('fuzz: mutated .npy files read or throw OmniError', async () => {
  for (const name of ['f4.npy', 'fortran.npy', 'be_i8.npy', 'v3.npy', 'f2.npy']) {
    const valid = await fixture(`io/${name}`);
    await fuzzReader(valid, (b) => readNpy(b), { runs: 300 });
  }
});

t.run();
