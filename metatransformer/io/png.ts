/**
 * PNG decoder and encoder.
 *
 * Decodes every standard PNG: color types 0 (gray), 2 (RGB), 3 (palette), 4 (gray+alpha), 6 (RGBA) at
 * all their legal bit depths (1, 2, 4, 8, 16), Adam7 interlacing and the five row filters. Every chunk's
 * CRC is checked. A tRNS chunk becomes an alpha channel (palette entries, or the one transparent
 * gray/RGB value), as image libraries do when converting to RGBA. Sub-byte depths are scaled to 8 bits
 * (a 4-bit 15 becomes 255); 16-bit samples stay 16-bit, so medical and infrared images keep their range.
 *
 * Refused, with a FormatError naming the chunk and byte offset: bad signature or CRC, chunks running
 * past the end of the file, a missing IHDR/IDAT/IEND, illegal type/depth pairs, unknown *critical*
 * chunks (the spec says a decoder must not guess at them), palette indices outside the palette, and
 * images over `MAX_PNG_SAMPLES` samples (checked before allocating, since a tiny file can claim any size).
 * APNG animation and color management chunks (gAMA, iCCP, ...) are ancillary and ignored.
 *
 * `encodePng` writes 8- or 16-bit gray, gray+alpha, RGB or RGBA, choosing each row's filter by the
 * usual minimum-sum-of-absolute-differences heuristic.
 */
import { expectBytes, type BytesLike } from '../../engine/arguments.js';
import { ArgumentError } from '../../engine/errors.js';
import { readBytes } from '../../engine/platform.js';
import { deflate, fail, fourCC, inflate, sourceName, viewOf, type FileSource } from './common.js';

export interface PngImage {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  bitDepth: 8 | 16;
  /** Row-major, channels interleaved; Uint16Array when bitDepth is 16. */
  data: Uint8Array | Uint16Array;
}

/** Largest decoded image accepted (width * height * channels); 2^28 is a 16k x 16k RGBA image. */
export const MAX_PNG_SAMPLES = 2 ** 28;

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

/** Channels stored per pixel for each color type. */
const STORED_CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const LEGAL_DEPTHS: Readonly<Record<number, readonly number[]>> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

/** Adam7 passes: [x0, y0, dx, dy]. */
const ADAM7: readonly (readonly [number, number, number, number])[] = [
  [0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2],
];

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (the zlib/PNG polynomial) of bytes[start, end). */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

interface Header {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlaced: boolean;
}

function parseHeader(data: Uint8Array, name: string, offset: number): Header {
  if (data.length !== 13) fail(name, `IHDR: length ${data.length}, expected 13`, offset);
  const dv = viewOf(data);
  const width = dv.getUint32(0);
  const height = dv.getUint32(4);
  const [bitDepth, colorType, compression, filter, interlace] = [data[8]!, data[9]!, data[10]!, data[11]!, data[12]!];
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff)
    fail(name, `IHDR: image size ${width}x${height} is not allowed`, offset + 8);
  const depths = LEGAL_DEPTHS[colorType];
  if (!depths) fail(name, `IHDR: unknown color type ${colorType}`, offset + 17);
  if (!depths.includes(bitDepth)) fail(name, `IHDR: bit depth ${bitDepth} is illegal for color type ${colorType}`, offset + 16);
  if (compression !== 0) fail(name, `IHDR: unknown compression method ${compression}`, offset + 18);
  if (filter !== 0) fail(name, `IHDR: unknown filter method ${filter}`, offset + 19);
  if (interlace > 1) fail(name, `IHDR: unknown interlace method ${interlace}`, offset + 20);
  return { width, height, bitDepth, colorType, interlaced: interlace === 1 };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Reverses the row filters of one (sub-)image in place. `raw` holds rows of 1 filter byte + `stride`
 * bytes starting at `start`; `bpp` is the byte distance to the corresponding byte of the previous pixel.
 */
function unfilter(raw: Uint8Array, start: number, rows: number, stride: number, bpp: number, name: string): void {
  for (let y = 0; y < rows; y++) {
    const f = start + y * (stride + 1);
    const row = f + 1;
    const prev = y > 0 ? row - (stride + 1) : -1;
    const type = raw[f]!;
    switch (type) {
      case 0:
        break;
      case 1:
        for (let i = bpp; i < stride; i++) raw[row + i] = (raw[row + i]! + raw[row + i - bpp]!) & 255;
        break;
      case 2:
        if (prev >= 0) for (let i = 0; i < stride; i++) raw[row + i] = (raw[row + i]! + raw[prev + i]!) & 255;
        break;
      case 3:
        for (let i = 0; i < stride; i++) {
          const left = i >= bpp ? raw[row + i - bpp]! : 0;
          const up = prev >= 0 ? raw[prev + i]! : 0;
          raw[row + i] = (raw[row + i]! + ((left + up) >> 1)) & 255;
        }
        break;
      case 4:
        for (let i = 0; i < stride; i++) {
          const left = i >= bpp ? raw[row + i - bpp]! : 0;
          const up = prev >= 0 ? raw[prev + i]! : 0;
          const upLeft = prev >= 0 && i >= bpp ? raw[prev + i - bpp]! : 0;
          raw[row + i] = (raw[row + i]! + paeth(left, up, upLeft)) & 255;
        }
        break;
      default:
        fail(name, `IDAT: unknown filter type ${type} on row ${y} (offset is into the inflated image data)`, f);
    }
  }
}

/** Decodes a PNG file. `name` is used in error messages. */
export async function decodePng(input: BytesLike, name = '<png>'): Promise<PngImage> {
  const bytes = expectBytes('decodePng', 'the file', input);
  for (let i = 0; i < 8; i++)
    if (bytes[i] !== SIGNATURE[i]) fail(name, 'not a PNG file (bad signature)', Math.min(i, bytes.length));
  const dv = viewOf(bytes);
  let header: Header | undefined;
  let palette: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let idatOffset = -1;
  let idatEnded = false;
  let pos = 8;
  for (;;) {
    if (pos + 12 > bytes.length) fail(name, 'file ends before the IEND chunk', pos);
    const length = dv.getUint32(pos);
    const type = fourCC(bytes, pos + 4);
    if (!/^[A-Za-z]{4}$/.test(type)) fail(name, `chunk type ${JSON.stringify(type)} is not four letters`, pos + 4);
    if (length > 0x7fffffff || pos + 12 + length > bytes.length)
      fail(name, `chunk ${type}: length ${length} runs past the end of the file (${bytes.length} bytes)`, pos);
    const stored = dv.getUint32(pos + 8 + length);
    const computed = crc32(bytes, pos + 4, pos + 8 + length);
    if (stored !== computed)
      fail(name, `chunk ${type}: CRC mismatch (stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)})`, pos + 8 + length);
    const data = bytes.subarray(pos + 8, pos + 8 + length);
    if (!header && type !== 'IHDR') fail(name, `first chunk is ${type}, expected IHDR`, pos);
    if (idat.length > 0 && type !== 'IDAT') idatEnded = true;
    switch (type) {
      case 'IHDR':
        if (header) fail(name, 'second IHDR chunk', pos);
        header = parseHeader(data, name, pos);
        break;
      case 'PLTE': {
        const ct = header!.colorType;
        if (ct === 0 || ct === 4) fail(name, `PLTE: not allowed for color type ${ct}`, pos);
        if (palette) fail(name, 'PLTE: second palette', pos);
        if (idat.length > 0) fail(name, 'PLTE: after IDAT', pos);
        const entries = length / 3;
        const limit = ct === 3 ? 1 << header!.bitDepth : 256;
        if (length % 3 !== 0 || entries < 1 || entries > limit)
          fail(name, `PLTE: length ${length} is not 3 x 1..${limit} entries`, pos);
        palette = data;
        break;
      }
      case 'tRNS': {
        const ct = header!.colorType;
        if (idat.length > 0) fail(name, 'tRNS: after IDAT', pos);
        if (ct === 4 || ct === 6) fail(name, `tRNS: not allowed for color type ${ct} (it has alpha)`, pos);
        if (ct === 3) {
          if (!palette) fail(name, 'tRNS: before PLTE', pos);
          if (length > palette.length / 3) fail(name, `tRNS: ${length} entries for a ${palette.length / 3}-entry palette`, pos);
        } else if (length !== (ct === 0 ? 2 : 6)) {
          fail(name, `tRNS: length ${length}, expected ${ct === 0 ? 2 : 6} for color type ${ct}`, pos);
        }
        trns = data;
        break;
      }
      case 'IDAT':
        if (idatEnded) fail(name, 'IDAT chunks are not consecutive', pos);
        if (idat.length === 0) idatOffset = pos;
        idat.push(data);
        break;
      case 'IEND':
        break;
      default:
        // Bit 5 of the first byte clear (upper case) marks a critical chunk we would have to understand.
        if ((bytes[pos + 4]! & 0x20) === 0) fail(name, `unsupported critical chunk ${type}`, pos);
    }
    pos += 12 + length;
    if (type === 'IEND') break;
  }
  const h = header!;
  if (idat.length === 0) fail(name, 'no IDAT chunk', pos);
  if (h.colorType === 3 && !palette) fail(name, 'palette image without PLTE chunk', idatOffset);

  const stored = STORED_CHANNELS[h.colorType]!;
  const outChannels = (h.colorType === 3 ? (trns ? 4 : 3) : trns ? stored + 1 : stored) as 1 | 2 | 3 | 4;
  if (h.width * h.height * outChannels > MAX_PNG_SAMPLES)
    fail(name, `IHDR: ${h.width}x${h.height}x${outChannels} exceeds the ${MAX_PNG_SAMPLES}-sample limit`, 16);
  const bitsPerPixel = stored * h.bitDepth;
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const passes = (h.interlaced ? ADAM7 : [[0, 0, 1, 1] as const]).map(([x0, y0, dx, dy]) => {
    const w = h.width > x0 ? Math.ceil((h.width - x0) / dx) : 0;
    const rows = h.height > y0 ? Math.ceil((h.height - y0) / dy) : 0;
    return { x0, y0, dx, dy, w, rows: w > 0 ? rows : 0, stride: Math.ceil((w * bitsPerPixel) / 8) };
  });
  const expected = passes.reduce((s, p) => s + p.rows * (p.stride + 1), 0);

  let compressedLength = 0;
  for (const part of idat) compressedLength += part.length;
  const compressed = new Uint8Array(compressedLength);
  let at = 0;
  for (const part of idat) {
    compressed.set(part, at);
    at += part.length;
  }
  const raw = await inflate(compressed, expected, name, 'IDAT', idatOffset);
  if (raw.length !== expected)
    fail(name, `IDAT: inflated to ${raw.length} bytes, expected ${expected} for a ${h.width}x${h.height} image`, idatOffset);

  const out16 = h.bitDepth === 16;
  const data = out16 ? new Uint16Array(h.width * h.height * outChannels) : new Uint8Array(h.width * h.height * outChannels);
  const maxValue = out16 ? 65535 : 255;
  const depthScale = h.bitDepth < 8 && h.colorType === 0 ? 255 / ((1 << h.bitDepth) - 1) : 1;
  const paletteEntries = palette ? palette.length / 3 : 0;
  const sample = new Array<number>(stored);
  let passStart = 0;
  for (const p of passes) {
    if (p.rows === 0) continue;
    unfilter(raw, passStart, p.rows, p.stride, bpp, name);
    for (let py = 0; py < p.rows; py++) {
      const row = passStart + py * (p.stride + 1) + 1;
      const y = p.y0 + py * p.dy;
      for (let px = 0; px < p.w; px++) {
        for (let c = 0; c < stored; c++) {
          const index = px * stored + c;
          if (h.bitDepth === 8) sample[c] = raw[row + index]!;
          else if (out16) sample[c] = (raw[row + 2 * index]! << 8) | raw[row + 2 * index + 1]!;
          else {
            const bit = index * h.bitDepth;
            sample[c] = (raw[row + (bit >> 3)]! >> (8 - h.bitDepth - (bit & 7))) & ((1 << h.bitDepth) - 1);
          }
        }
        const o = ((y * h.width) + p.x0 + px * p.dx) * outChannels;
        if (h.colorType === 3) {
          const idx = sample[0]!;
          if (idx >= paletteEntries)
            fail(name, `pixel (${p.x0 + px * p.dx},${y}) uses palette index ${idx} but the palette has ${paletteEntries} entries`, idatOffset);
          data[o] = palette![3 * idx]!;
          data[o + 1] = palette![3 * idx + 1]!;
          data[o + 2] = palette![3 * idx + 2]!;
          if (trns) data[o + 3] = idx < trns.length ? trns[idx]! : 255;
          continue;
        }
        let transparent = trns !== undefined;
        for (let c = 0; c < stored; c++) {
          data[o + c] = Math.round(sample[c]! * depthScale);
          if (trns && sample[c] !== ((trns[2 * c]! << 8) | trns[2 * c + 1]!)) transparent = false;
        }
        if (trns) data[o + stored] = transparent ? 0 : maxValue;
      }
    }
    passStart += p.rows * (p.stride + 1);
  }
  return { width: h.width, height: h.height, channels: outChannels, bitDepth: out16 ? 16 : 8, data };
}

/** Reads and decodes a PNG from a path (Node), URL, Blob, Response or bytes. */
export async function readPngFile(src: FileSource): Promise<PngImage> {
  return decodePng(await readBytes(src, 'readPngFile'), sourceName(src));
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = viewOf(out);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

/** Encodes an 8- or 16-bit image (1-4 channels: gray, gray+alpha, RGB, RGBA) as a PNG file. */
export async function encodePng(image: PngImage): Promise<Uint8Array> {
  const { width, height, channels, bitDepth, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1)
    throw new ArgumentError(`encodePng: image size ${width}x${height} must be positive integers`);
  if (![1, 2, 3, 4].includes(channels)) throw new ArgumentError(`encodePng: ${channels} channels; expected 1, 2, 3 or 4`);
  if (bitDepth === 8 ? !(data instanceof Uint8Array) : bitDepth === 16 ? !(data instanceof Uint16Array) : true)
    throw new ArgumentError(`encodePng: bitDepth ${bitDepth} needs ${bitDepth === 16 ? 'Uint16Array' : 'Uint8Array'} data`);
  if (data.length !== width * height * channels)
    throw new ArgumentError(`encodePng: data has ${data.length} samples, expected ${width}x${height}x${channels}`);
  const bytesPerSample = bitDepth / 8;
  const stride = width * channels * bytesPerSample;
  const bpp = channels * bytesPerSample;
  const raw = new Uint8Array(height * (stride + 1));
  const rows: Uint8Array[] = [];
  for (let y = 0; y < height; y++) {
    const row = new Uint8Array(stride);
    for (let i = 0; i < width * channels; i++) {
      const v = data[y * width * channels + i]!;
      if (bitDepth === 8) row[i] = v;
      else {
        row[2 * i] = v >> 8;
        row[2 * i + 1] = v & 255;
      }
    }
    rows.push(row);
  }
  const candidate = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const row = rows[y]!;
    const prev = y > 0 ? rows[y - 1] : undefined;
    let bestCost = Infinity;
    for (let type = 0; type < 5; type++) {
      let cost = 0;
      for (let i = 0; i < stride; i++) {
        const left = i >= bpp ? row[i - bpp]! : 0;
        const up = prev ? prev[i]! : 0;
        const upLeft = prev && i >= bpp ? prev[i - bpp]! : 0;
        const predictor =
          type === 0 ? 0 : type === 1 ? left : type === 2 ? up : type === 3 ? (left + up) >> 1 : paeth(left, up, upLeft);
        const v = (row[i]! - predictor) & 255;
        candidate[i] = v;
        cost += v < 128 ? v : 256 - v;
      }
      if (cost < bestCost) {
        bestCost = cost;
        raw[y * (stride + 1)] = type;
        raw.set(candidate, y * (stride + 1) + 1);
      }
    }
  }
  const ihdr = new Uint8Array(13);
  const dv = viewOf(ihdr);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = bitDepth;
  ihdr[9] = [0, 0, 4, 2, 6][channels]!;
  const parts = [new Uint8Array(SIGNATURE), chunk('IHDR', ihdr), chunk('IDAT', await deflate(raw)), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
