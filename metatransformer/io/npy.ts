/**
 * NumPy .npy arrays: reading format versions 1.0, 2.0 and 3.0, writing 1.0 (2.0 when the header
 * needs more than 64 KiB).
 *
 * Supported dtypes: f2 f4 f8, i1 i2 i4 i8, u1 u2 u4 u8 and b1, in either byte order ('<', '>', '|',
 * and '=' which NumPy never writes but means native, here little-endian); big-endian data is swapped
 * on read. float16 is widened to a Float32Array (the dtype still says 'f2'); 64-bit integers stay
 * exact in BigInt64Array / BigUint64Array. Fortran-ordered arrays are transposed to C order.
 *
 * The header is a Python dict literal. It is parsed by a small strict parser (never evaluated) that
 * accepts exactly the keys descr, fortran_order and shape with a string, a bool and a tuple of
 * non-negative ints. Refused with a FormatError naming the field and byte offset: bad magic or
 * version, headers running past the file, anything else in the header (structured or object dtypes,
 * unknown keys, duplicate keys), shapes whose element count overflows, and data shorter than the
 * shape needs (checked before allocating).
 */
import { expectBytes, type BytesLike } from '../../engine/arguments.js';
import { ArgumentError } from '../../engine/errors.js';
import { readBytes } from '../../engine/platform.js';
import { fail, need, sourceName, viewOf, type FileSource } from './common.js';

export type NpyDType = 'f2' | 'f4' | 'f8' | 'i1' | 'i2' | 'i4' | 'i8' | 'u1' | 'u2' | 'u4' | 'u8' | 'b1';

export type NpyData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array;

export interface NpyArray {
  /** Kind and size without byte order, e.g. 'f4'. */
  dtype: NpyDType;
  shape: number[];
  /** Elements in C (row-major) order. */
  data: NpyData;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const ITEM_SIZE: Readonly<Record<NpyDType, number>> = {
  f2: 2, f4: 4, f8: 8, i1: 1, i2: 2, i4: 4, i8: 8, u1: 1, u2: 2, u4: 4, u8: 8, b1: 1,
};

type HeaderValue = string | boolean | number | HeaderValue[];

/** Parses the header dict literal: strings, True/False, non-negative ints, tuples; nothing else. */
function parseHeaderDict(text: string, name: string, headerOffset: number): Map<string, HeaderValue> {
  let i = 0;
  const error = (msg: string): never => fail(name, `header: ${msg} at character ${i} of ${JSON.stringify(text.slice(0, 200))}`, headerOffset + i);
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const expect = (ch: string): void => {
    ws();
    if (text[i] !== ch) error(`expected '${ch}'`);
    i++;
  };
  const value = (depth: number): HeaderValue => {
    ws();
    const ch = text[i];
    if (ch === "'" || ch === '"') {
      const end = text.indexOf(ch, i + 1);
      if (end < 0) error('unterminated string');
      const s = text.slice(i + 1, end);
      if (s.includes('\\')) error('escapes in strings are not supported');
      i = end + 1;
      return s;
    }
    if (text.startsWith('True', i)) return (i += 4), true;
    if (text.startsWith('False', i)) return (i += 5), false;
    if (ch !== undefined && ch >= '0' && ch <= '9') {
      const m = /^\d+/.exec(text.slice(i, i + 32))!;
      // Python 2 wrote longs as 3L.
      i += m[0].length + (text[i + m[0].length] === 'L' ? 1 : 0);
      return Number(m[0]);
    }
    if (ch === '(' || ch === '[') {
      if (depth > 0) error('nested sequences are not allowed');
      const close = ch === '(' ? ')' : ']';
      i++;
      const items: HeaderValue[] = [];
      for (;;) {
        ws();
        if (text[i] === close) break;
        items.push(value(depth + 1));
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== close) error(`expected ',' or '${close}'`);
      }
      i++;
      return items;
    }
    return error('unexpected value');
  };
  const entries = new Map<string, HeaderValue>();
  expect('{');
  for (;;) {
    ws();
    if (text[i] === '}') break;
    const keyAt = i;
    const key = value(1);
    if (typeof key !== 'string') error('dict keys must be strings');
    if (!['descr', 'fortran_order', 'shape'].includes(key as string)) fail(name, `header: unexpected key '${String(key)}'`, headerOffset + keyAt);
    if (entries.has(key as string)) fail(name, `header: duplicate key '${String(key)}'`, headerOffset + keyAt);
    expect(':');
    entries.set(key as string, value(0));
    ws();
    if (text[i] === ',') i++;
    else if (text[i] !== '}') error("expected ',' or '}'");
  }
  i++;
  ws();
  if (i !== text.length) error('trailing characters after the dict');
  return entries;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Rounds a number to the nearest float16 (ties to even) and returns its bits. */
function floatToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = m >> shift;
    const rem = m & ((1 << shift) - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) r++; // may carry into the exponent, which is correct
  return sign | r;
}

/** Reads an .npy file. `name` is used in error messages. */
export function readNpy(input: BytesLike, name = '<npy>'): NpyArray {
  const bytes = expectBytes('readNpy', 'the file', input);
  for (let i = 0; i < 6; i++) if (bytes[i] !== MAGIC[i]) fail(name, 'not a .npy file (bad magic)', Math.min(i, bytes.length));
  need(bytes, 6, 2, name, 'version');
  const [major, minor] = [bytes[6]!, bytes[7]!];
  if (major < 1 || major > 3 || minor !== 0) fail(name, `unsupported .npy version ${major}.${minor}`, 6);
  const lenSize = major === 1 ? 2 : 4;
  need(bytes, 8, lenSize, name, 'header length');
  const dv = viewOf(bytes);
  const headerLength = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const headerAt = 8 + lenSize;
  need(bytes, headerAt, headerLength, name, 'header');
  const headerBytes = bytes.subarray(headerAt, headerAt + headerLength);
  const text = major === 3 ? new TextDecoder('utf-8', { fatal: false }).decode(headerBytes) : new TextDecoder('latin1').decode(headerBytes);
  const header = parseHeaderDict(text, name, headerAt);
  const descr = header.get('descr');
  const fortran = header.get('fortran_order');
  const shapeValue = header.get('shape');
  if (typeof descr !== 'string') fail(name, "header: 'descr' missing or not a string (structured dtypes are not supported)", headerAt);
  if (typeof fortran !== 'boolean') fail(name, "header: 'fortran_order' missing or not True/False", headerAt);
  if (!Array.isArray(shapeValue) || shapeValue.some((d) => typeof d !== 'number'))
    fail(name, "header: 'shape' missing or not a tuple of integers", headerAt);
  const shape = shapeValue as number[];
  const m = /^([<>|=])([fiub])(\d+)$/.exec(descr);
  const dtype = m ? (`${m[2]}${m[3]}` as NpyDType) : undefined;
  if (!m || !dtype || !(dtype in ITEM_SIZE)) return fail(name, `header: dtype '${descr}' is not supported`, headerAt);
  const bigEndian = m[1] === '>';
  let count = 1;
  for (const d of shape) count *= d;
  if (!Number.isSafeInteger(count)) fail(name, `header: shape (${shape.join(', ')}) has too many elements`, headerAt);
  const itemSize = ITEM_SIZE[dtype];
  const dataAt = headerAt + headerLength;
  need(bytes, dataAt, count * itemSize, name, `data of shape (${shape.join(', ')}) and dtype ${descr}`);
  // Copy into an aligned buffer, swapping to little-endian when needed.
  const raw = bytes.slice(dataAt, dataAt + count * itemSize);
  if (bigEndian && itemSize > 1)
    for (let p = 0; p < raw.length; p += itemSize) raw.subarray(p, p + itemSize).reverse();
  const buf = raw.buffer;
  let data: NpyData;
  switch (dtype) {
    case 'f2': {
      const halves = new Uint16Array(buf);
      data = Float32Array.from(halves, halfToFloat);
      break;
    }
    case 'f4': data = new Float32Array(buf); break;
    case 'f8': data = new Float64Array(buf); break;
    case 'i1': data = new Int8Array(buf); break;
    case 'i2': data = new Int16Array(buf); break;
    case 'i4': data = new Int32Array(buf); break;
    case 'i8': data = new BigInt64Array(buf); break;
    case 'u2': data = new Uint16Array(buf); break;
    case 'u4': data = new Uint32Array(buf); break;
    case 'u8': data = new BigUint64Array(buf); break;
    default: data = new Uint8Array(buf); // u1, b1
  }
  if (fortran && shape.length > 1) data = fortranToC(data, shape);
  return { dtype, shape, data };
}

/** Reorders column-major (Fortran) data of the given shape into row-major order. */
function fortranToC<T extends NpyData>(data: T, shape: readonly number[]): T {
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const n = shape.length;
  // Fortran strides: the first axis varies fastest.
  const fStride = new Array<number>(n);
  let s = 1;
  for (let a = 0; a < n; a++) {
    fStride[a] = s;
    s *= shape[a]!;
  }
  const index = new Array<number>(n).fill(0);
  for (let c = 0; c < data.length; c++) {
    let f = 0;
    for (let a = 0; a < n; a++) f += index[a]! * fStride[a]!;
    out[c] = data[f]!;
    for (let a = n - 1; a >= 0; a--) {
      if (++index[a]! < shape[a]!) break;
      index[a] = 0;
    }
  }
  return out;
}

/** Reads an .npy file from a path (Node), URL, Blob, Response or bytes. */
export async function readNpyFile(src: FileSource): Promise<NpyArray> {
  return readNpy(await readBytes(src, 'readNpyFile'), sourceName(src));
}

const DEFAULT_DTYPE: ReadonlyArray<[new (n: number) => NpyData, NpyDType]> = [
  [Float32Array, 'f4'], [Float64Array, 'f8'], [Int8Array, 'i1'], [Int16Array, 'i2'], [Int32Array, 'i4'],
  [BigInt64Array, 'i8'], [Uint8Array, 'u1'], [Uint16Array, 'u2'], [Uint32Array, 'u4'], [BigUint64Array, 'u8'],
];

/**
 * Writes an array as a little-endian, C-ordered .npy file. The dtype defaults to the data's own
 * ('f4' for Float32Array, ...); 'f2' is written from a Float32Array (rounded to nearest even), and
 * 'b1' from a Uint8Array (any non-zero byte becomes 1).
 */
export function writeNpy(data: NpyData, shape: readonly number[], dtype?: NpyDType): Uint8Array {
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new ArgumentError(`writeNpy: bad shape (${shape.join(', ')})`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new ArgumentError(`writeNpy: shape (${shape.join(', ')}) needs ${count} elements, data has ${data.length}`);
  const natural = DEFAULT_DTYPE.find(([ctor]) => data instanceof ctor)?.[1];
  const type = dtype ?? natural;
  const compatible = type === natural || (type === 'f2' && natural === 'f4') || (type === 'b1' && natural === 'u1');
  if (!type || !compatible) throw new ArgumentError(`writeNpy: dtype '${String(type)}' cannot be written from ${data.constructor.name}`);
  const descr = type === 'b1' || type === 'u1' || type === 'i1' ? `|${type}` : `<${type}`;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // NumPy pads so the data starts on a 64-byte boundary, and ends the header with a newline.
  const version = header.length + 12 > 65535 ? 2 : 1;
  const prefix = version === 1 ? 10 : 12;
  header += ' '.repeat(63 - ((prefix + header.length) % 64)) + '\n';
  const itemSize = ITEM_SIZE[type];
  const out = new Uint8Array(prefix + header.length + count * itemSize);
  out.set(MAGIC, 0);
  out[6] = version;
  const dv = viewOf(out);
  if (version === 1) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[prefix + i] = header.charCodeAt(i);
  const at = prefix + header.length;
  if (type === 'f2') for (let i = 0; i < count; i++) dv.setUint16(at + 2 * i, floatToHalf((data as Float32Array)[i]!), true);
  else if (type === 'b1') for (let i = 0; i < count; i++) out[at + i] = (data as Uint8Array)[i] ? 1 : 0;
  else out.set(new Uint8Array(data.buffer, data.byteOffset, count * itemSize), at);
  return out;
}
