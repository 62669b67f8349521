/**
 * JPEG decoder: baseline and extended sequential (SOF0/SOF1) and progressive (SOF2) Huffman-coded
 * JPEGs with 8-bit samples, 1 (gray) or 3 components (YCbCr per JFIF, or RGB when an Adobe APP14
 * segment says "no transform" or the component ids are 'R','G','B'), any sampling factors 1..4,
 * interleaved and single-component scans, and restart intervals (DRI/RSTn).
 *
 * Output matches libjpeg's defaults closely (and so PIL's): chroma planes subsampled by 2 are
 * upsampled with libjpeg's "fancy" triangle filter (3/4 nearest + 1/4 next sample), other ratios by
 * replication; the inverse DCT is a straightforward separable float IDCT, so samples can differ from
 * libjpeg's integer IDCT by a level or so.
 *
 * Refused with a FormatError naming the marker and byte offset: lossless, hierarchical and
 * arithmetic-coded JPEGs (rare, and each a separate decoder), 12-bit samples, CMYK/YCCK (4
 * components), entropy data that ends inside a block, Huffman codes not in the table, tables a scan
 * uses but nobody defined, and frames over `maxPixels` (checked before allocating).
 */
import { expectBytes, expectOptions, optionKeys, type BytesLike } from '../../engine/arguments.js';
import { readBytes } from '../../engine/platform.js';
import { fail, sourceName, type FileSource } from './common.js';

export interface JpegImage {
  width: number;
  height: number;
  /** 1 for grayscale files, 3 (RGB) otherwise. */
  channels: 1 | 3;
  /** Row-major, channels interleaved. */
  data: Uint8Array;
}

export interface JpegOptions {
  /** Largest width * height accepted; the default (2^25) covers a 6000x5000 photo. */
  maxPixels?: number;
}

const JPEG_OPTIONS = optionKeys<JpegOptions>({ maxPixels: true });

/** Zigzag position k -> natural (row-major) index within the 8x8 block. */
const ZIGZAG = new Uint8Array([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
  28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61,
  54, 47, 55, 62, 63,
]);

/** IDCT basis: BASIS[x * 8 + u] = C(u)/2 * cos((2x + 1) u pi / 16), C(0) = 1/sqrt(2). */
const BASIS = (() => {
  const b = new Float64Array(64);
  for (let x = 0; x < 8; x++)
    for (let u = 0; u < 8; u++) b[x * 8 + u] = (u === 0 ? Math.SQRT1_2 : 1) * 0.5 * Math.cos(((2 * x + 1) * u * Math.PI) / 16);
  return b;
})();

interface HuffmanTable {
  /** Largest code of each length (index 1..16), -1 when there is none. */
  maxCode: Int32Array;
  /** Index into `symbols` of the first code of each length, minus that code. */
  offset: Int32Array;
  symbols: Uint8Array;
}

interface Component {
  id: number;
  h: number;
  v: number;
  quantId: number;
  /** Zigzag-ordered quantization table, latched when the component is first scanned. */
  quant?: Uint16Array;
  /** Blocks per row / column of the MCU-padded plane. */
  blocksPerLine: number;
  blocksPerColumn: number;
  /** Coefficients, 64 per block in natural order, allocated at the first scan that uses the component. */
  coefficients?: Int16Array;
  dcTable?: HuffmanTable;
  acTable?: HuffmanTable;
  predictor: number;
}

interface Frame {
  progressive: boolean;
  width: number;
  height: number;
  components: Component[];
  hMax: number;
  vMax: number;
  mcusPerLine: number;
  mcusPerColumn: number;
}

function buildHuffman(counts: Uint8Array, symbols: Uint8Array, name: string, what: string, offset: number): HuffmanTable {
  const maxCode = new Int32Array(18).fill(-1);
  const off = new Int32Array(18);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    off[len] = k - code;
    code += counts[len - 1]!;
    k += counts[len - 1]!;
    if (code > 1 << len) fail(name, `${what}: too many codes of length ${len}`, offset);
    if (counts[len - 1]! > 0) maxCode[len] = code - 1;
    code <<= 1;
  }
  return { maxCode, offset: off, symbols };
}

/** Reads entropy-coded bits, undoing 0xFF00 byte stuffing; refuses to read into a marker. */
class BitReader {
  private bits = 0;
  private count = 0;
  constructor(
    private readonly bytes: Uint8Array,
    public pos: number,
    private readonly name: string,
  ) {}

  bit(): number {
    if (this.count === 0) {
      const b = this.bytes[this.pos];
      if (b === undefined) fail(this.name, 'scan data ends inside a block (truncated file)', this.pos);
      if (b === 0xff) {
        const next = this.bytes[this.pos + 1];
        if (next !== 0)
          fail(this.name, `scan data ends inside a block (marker 0xFF${(next ?? 0).toString(16).toUpperCase()} reached)`, this.pos);
        this.pos += 2;
      } else this.pos += 1;
      this.bits = b;
      this.count = 8;
    }
    this.count--;
    return (this.bits >> this.count) & 1;
  }

  receive(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = (v << 1) | this.bit();
    return v;
  }

  /** Reads an n-bit magnitude category value and sign-extends it (JPEG's EXTEND). */
  signed(n: number): number {
    if (n === 0) return 0;
    const v = this.receive(n);
    return v < 1 << (n - 1) ? v - (1 << n) + 1 : v;
  }

  decode(table: HuffmanTable): number {
    let code = 0;
    const start = this.pos;
    for (let len = 1; len <= 16; len++) {
      code = (code << 1) | this.bit();
      if (code <= table.maxCode[len]!) return table.symbols[table.offset[len]! + code]!;
    }
    return fail(this.name, 'invalid Huffman code in scan data', start);
  }

  /** Drops the bits left in the current byte (before a restart marker). */
  align(): void {
    this.count = 0;
  }
}

interface Scan {
  components: Component[];
  spectralStart: number;
  spectralEnd: number;
  approxHigh: number;
  approxLow: number;
}

/** Decodes one scan's entropy-coded data starting at `pos`; returns the offset just after it. */
function decodeScan(bytes: Uint8Array, pos: number, frame: Frame, scan: Scan, restartInterval: number, name: string): number {
  const reader = new BitReader(bytes, pos, name);
  const { spectralStart: ss, spectralEnd: se, approxHigh: ah, approxLow: al } = scan;
  let eobrun = 0;
  const decodeBlock = (c: Component, block: number): void => {
    const coef = c.coefficients!;
    const base = block * 64;
    if (!frame.progressive) {
      const t = reader.decode(c.dcTable!);
      if (t > 11) fail(name, `DC magnitude category ${t} exceeds 11`, reader.pos);
      c.predictor += reader.signed(t);
      coef[base] = c.predictor;
      for (let k = 1; k < 64; ) {
        const rs = reader.decode(c.acTable!);
        const s = rs & 15;
        const r = rs >> 4;
        if (s === 0) {
          if (r !== 15) break;
          k += 16;
          continue;
        }
        k += r;
        if (k > 63) fail(name, 'AC coefficient run goes past the end of the block', reader.pos);
        coef[base + ZIGZAG[k]!] = reader.signed(s);
        k++;
      }
      return;
    }
    if (ss === 0) {
      if (ah === 0) {
        const t = reader.decode(c.dcTable!);
        if (t > 11) fail(name, `DC magnitude category ${t} exceeds 11`, reader.pos);
        c.predictor += reader.signed(t);
        coef[base] = c.predictor * (1 << al);
      } else if (reader.bit()) coef[base] |= 1 << al;
      return;
    }
    if (ah === 0) {
      if (eobrun > 0) {
        eobrun--;
        return;
      }
      for (let k = ss; k <= se; ) {
        const rs = reader.decode(c.acTable!);
        const s = rs & 15;
        const r = rs >> 4;
        if (s === 0) {
          if (r < 15) {
            eobrun = (1 << r) - 1 + reader.receive(r);
            break;
          }
          k += 16;
          continue;
        }
        k += r;
        if (k > se) fail(name, 'AC coefficient run goes past the end of the spectral band', reader.pos);
        coef[base + ZIGZAG[k]!] = reader.signed(s) * (1 << al);
        k++;
      }
      return;
    }
    // Successive approximation refinement of AC coefficients: each already-nonzero coefficient gets a
    // correction bit; newly nonzero ones (always +-1 << al) are placed after skipping r zero ones.
    const p1 = 1 << al;
    const m1 = -1 << al;
    const refine = (z: number): void => {
      if (reader.bit() && (coef[z]! & p1) === 0) coef[z] = coef[z]! + (coef[z]! >= 0 ? p1 : m1);
    };
    let k = ss;
    if (eobrun === 0) {
      for (; k <= se; k++) {
        const rs = reader.decode(c.acTable!);
        const s = rs & 15;
        let r = rs >> 4;
        let value = 0;
        if (s !== 0) {
          if (s !== 1) fail(name, `refinement scan has magnitude category ${s}, expected 1`, reader.pos);
          value = reader.bit() ? p1 : m1;
        } else if (r !== 15) {
          eobrun = (1 << r) + reader.receive(r);
          break;
        }
        while (k <= se) {
          const z = base + ZIGZAG[k]!;
          if (coef[z] !== 0) refine(z);
          else {
            if (r === 0) {
              if (value !== 0) coef[z] = value;
              break;
            }
            r--;
          }
          k++;
        }
        if (k > se && value !== 0) fail(name, 'refinement places a coefficient past the end of the spectral band', reader.pos);
      }
    }
    if (eobrun > 0) {
      for (; k <= se; k++) {
        const z = base + ZIGZAG[k]!;
        if (coef[z] !== 0) refine(z);
      }
      eobrun--;
    }
  };

  const single = scan.components.length === 1;
  const only = scan.components[0]!;
  // A single-component scan covers only the blocks inside the image, in raster order (no MCU padding).
  const singleW = Math.ceil(Math.ceil((frame.width * only.h) / frame.hMax) / 8);
  const singleH = Math.ceil(Math.ceil((frame.height * only.v) / frame.vMax) / 8);
  const totalMcus = single ? singleW * singleH : frame.mcusPerLine * frame.mcusPerColumn;
  let expectedRst = 0;
  for (let mcu = 0; mcu < totalMcus; mcu++) {
    if (restartInterval > 0 && mcu > 0 && mcu % restartInterval === 0) {
      reader.align();
      let p = reader.pos;
      while (bytes[p] === 0xff && bytes[p + 1] === 0xff) p++;
      if (bytes[p] !== 0xff || bytes[p + 1] !== 0xd0 + expectedRst)
        fail(name, `expected restart marker RST${expectedRst} after ${mcu} MCUs`, p);
      reader.pos = p + 2;
      expectedRst = (expectedRst + 1) & 7;
      eobrun = 0;
      for (const c of scan.components) c.predictor = 0;
    }
    if (single) {
      const row = Math.floor(mcu / singleW);
      decodeBlock(only, row * only.blocksPerLine + (mcu % singleW));
      continue;
    }
    const mx = mcu % frame.mcusPerLine;
    const my = Math.floor(mcu / frame.mcusPerLine);
    for (const c of scan.components)
      for (let v = 0; v < c.v; v++)
        for (let h = 0; h < c.h; h++) decodeBlock(c, (my * c.v + v) * c.blocksPerLine + mx * c.h + h);
  }
  // Skip to the next marker: a byte-aligned 0xFF not followed by 0x00 (stuffing) or 0xFF (fill).
  let p = reader.pos;
  while (p + 1 < bytes.length && !(bytes[p] === 0xff && bytes[p + 1] !== 0 && bytes[p + 1] !== 0xff)) p++;
  return p;
}

/** Dequantizes and inverse-transforms every block of a component into an 8-bit plane. */
function componentPlane(c: Component): Uint8Array {
  const width = c.blocksPerLine * 8;
  const plane = new Uint8Array(width * c.blocksPerColumn * 8);
  const coef = c.coefficients!;
  const q = c.quant!;
  const block = new Float64Array(64);
  const tmp = new Float64Array(64);
  for (let by = 0; by < c.blocksPerColumn; by++)
    for (let bx = 0; bx < c.blocksPerLine; bx++) {
      const base = (by * c.blocksPerLine + bx) * 64;
      for (let k = 0; k < 64; k++) block[ZIGZAG[k]!] = coef[base + ZIGZAG[k]!]! * q[k]!;
      // Rows: tmp[v][x] = sum_u F[v][u] B[x][u]; then columns: f[y][x] = sum_v B[y][v] tmp[v][x].
      for (let v = 0; v < 8; v++)
        for (let x = 0; x < 8; x++) {
          let s = 0;
          for (let u = 0; u < 8; u++) s += block[v * 8 + u]! * BASIS[x * 8 + u]!;
          tmp[v * 8 + x] = s;
        }
      for (let y = 0; y < 8; y++)
        for (let x = 0; x < 8; x++) {
          let s = 0;
          for (let v = 0; v < 8; v++) s += BASIS[y * 8 + v]! * tmp[v * 8 + x]!;
          const value = Math.round(s + 128);
          plane[(by * 8 + y) * width + bx * 8 + x] = value < 0 ? 0 : value > 255 ? 255 : value;
        }
    }
  return plane;
}

/**
 * Upsamples a component plane to full resolution (width x height). Factor-2 ratios use libjpeg's
 * fancy upsampling (triangle filter, edge samples replicated), others replicate samples.
 */
function upsample(plane: Uint8Array, planeWidth: number, c: Component, frame: Frame): Uint8Array {
  const { width, height } = frame;
  const sx = frame.hMax / c.h;
  const sy = frame.vMax / c.v;
  const cw = Math.ceil((width * c.h) / frame.hMax);
  const ch = Math.ceil((height * c.v) / frame.vMax);
  const out = new Uint8Array(width * height);
  const at = (x: number, y: number): number => plane[Math.min(y, ch - 1) * planeWidth + Math.min(Math.max(x, 0), cw - 1)]!;
  const fancy = cw > 2 && Number.isInteger(sx) && Number.isInteger(sy) && sx <= 2 && sy <= 2;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      let value: number;
      if (!fancy || (sx === 1 && sy === 1)) value = at(Math.floor(x / sx), Math.floor(y / sy));
      else if (sy === 1) {
        const i = x >> 1;
        value = x & 1 ? (3 * at(i, y) + at(i + 1, y) + 2) >> 2 : (3 * at(i, y) + at(i - 1, y) + 1) >> 2;
      } else {
        const j = y >> 1;
        const nj = y & 1 ? Math.min(j + 1, ch - 1) : Math.max(j - 1, 0);
        if (sx === 1) {
          const i = x;
          value = (3 * at(i, j) + at(i, nj) + (y & 1 ? 2 : 1)) >> 2;
        } else {
          const i = x >> 1;
          const col = (k: number): number => 3 * at(k, j) + at(k, nj);
          value = x & 1 ? (3 * col(i) + col(i + 1) + 7) >> 4 : (3 * col(i) + col(i - 1) + 8) >> 4;
        }
      }
      out[y * width + x] = value;
    }
  return out;
}

/** Decodes a JPEG file. `name` is used in error messages. */
export function decodeJpeg(input: BytesLike, name = '<jpeg>', options: JpegOptions = {}): JpegImage {
  const bytes = expectBytes('decodeJpeg', 'the file', input);
  expectOptions('decodeJpeg', options, JPEG_OPTIONS);
  const maxPixels = options.maxPixels ?? 2 ** 25;
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) fail(name, 'not a JPEG file (missing SOI marker)', 0);
  const quantTables: (Uint16Array | undefined)[] = [];
  const dcTables: (HuffmanTable | undefined)[] = [];
  const acTables: (HuffmanTable | undefined)[] = [];
  let frame: Frame | undefined;
  let restartInterval = 0;
  let adobeTransform: number | undefined;
  let scans = 0;
  let pos = 2;
  for (;;) {
    if (pos >= bytes.length) fail(name, 'file ends before the EOI marker', pos);
    if (bytes[pos] !== 0xff) fail(name, `expected a marker, found byte 0x${bytes[pos]!.toString(16)}`, pos);
    while (bytes[pos + 1] === 0xff) pos++;
    const markerAt = pos;
    const marker = bytes[pos + 1];
    if (marker === undefined) fail(name, 'file ends inside a marker', pos);
    pos += 2;
    if (marker === 0xd9) break;
    if (marker >= 0xd0 && marker <= 0xd7) continue; // stray restart marker between scans: nothing to do
    if (pos + 2 > bytes.length) fail(name, `marker 0xFF${marker.toString(16).toUpperCase()}: file ends before its length`, markerAt);
    const length = (bytes[pos]! << 8) | bytes[pos + 1]!;
    if (length < 2 || pos + length > bytes.length)
      fail(name, `marker 0xFF${marker.toString(16).toUpperCase()}: segment length ${length} runs past the end of the file`, markerAt);
    const seg = bytes.subarray(pos + 2, pos + length);
    const segAt = pos + 2;
    pos += length;
    const short = (n: number, what: string): void => {
      if (seg.length < n) fail(name, `${what}: segment too short`, markerAt);
    };
    switch (marker) {
      case 0xc0:
      case 0xc1:
      case 0xc2: {
        if (frame) fail(name, 'second SOF marker (multi-frame JPEGs are not supported)', markerAt);
        short(6, 'SOF');
        const precision = seg[0]!;
        const height = (seg[1]! << 8) | seg[2]!;
        const width = (seg[3]! << 8) | seg[4]!;
        const count = seg[5]!;
        if (precision !== 8) fail(name, `SOF: ${precision}-bit samples are not supported (only 8-bit)`, segAt);
        if (height === 0) fail(name, 'SOF: height 0 (a DNL marker defines it) is not supported', segAt + 1);
        if (width === 0) fail(name, 'SOF: width 0', segAt + 3);
        if (count !== 1 && count !== 3)
          fail(name, `SOF: ${count} components; only grayscale (1) and YCbCr/RGB (3) are supported (no CMYK)`, segAt + 5);
        short(6 + 3 * count, 'SOF');
        if (width * height > maxPixels) fail(name, `SOF: ${width}x${height} exceeds the ${maxPixels}-pixel limit`, segAt + 1);
        const components: Component[] = [];
        for (let i = 0; i < count; i++) {
          const id = seg[6 + 3 * i]!;
          const h = seg[7 + 3 * i]! >> 4;
          const v = seg[7 + 3 * i]! & 15;
          const quantId = seg[8 + 3 * i]!;
          if (h < 1 || h > 4 || v < 1 || v > 4) fail(name, `SOF: component ${id} has sampling factors ${h}x${v}`, segAt + 7 + 3 * i);
          if (quantId > 3) fail(name, `SOF: component ${id} uses quantization table ${quantId}`, segAt + 8 + 3 * i);
          if (components.some((c) => c.id === id)) fail(name, `SOF: duplicate component id ${id}`, segAt + 6 + 3 * i);
          components.push({ id, h, v, quantId, blocksPerLine: 0, blocksPerColumn: 0, predictor: 0 });
        }
        const hMax = Math.max(...components.map((c) => c.h));
        const vMax = Math.max(...components.map((c) => c.v));
        const mcusPerLine = Math.ceil(width / (8 * hMax));
        const mcusPerColumn = Math.ceil(height / (8 * vMax));
        for (const c of components) {
          c.blocksPerLine = mcusPerLine * c.h;
          c.blocksPerColumn = mcusPerColumn * c.v;
        }
        frame = { progressive: marker === 0xc2, width, height, components, hMax, vMax, mcusPerLine, mcusPerColumn };
        break;
      }
      case 0xc3: case 0xc5: case 0xc6: case 0xc7: case 0xc9: case 0xca: case 0xcb: case 0xcd: case 0xce: case 0xcf: {
        const kind = marker === 0xc3 ? 'lossless' : marker >= 0xc9 ? 'arithmetic-coded' : 'hierarchical';
        fail(name, `${kind} JPEG (SOF${marker - 0xc0}) is not supported`, markerAt);
      }
      case 0xc4: {
        let p = 0;
        while (p < seg.length) {
          short(p + 17, 'DHT');
          const tc = seg[p]! >> 4;
          const th = seg[p]! & 15;
          if (tc > 1 || th > 3) fail(name, `DHT: bad table class/id 0x${seg[p]!.toString(16)}`, segAt + p);
          const counts = seg.subarray(p + 1, p + 17);
          const total = counts.reduce((s, n) => s + n, 0);
          if (total > 256) fail(name, `DHT: ${total} symbols (more than 256)`, segAt + p);
          short(p + 17 + total, 'DHT');
          const table = buildHuffman(counts, seg.slice(p + 17, p + 17 + total), name, `DHT table ${tc ? 'AC' : 'DC'}${th}`, segAt + p);
          (tc ? acTables : dcTables)[th] = table;
          p += 17 + total;
        }
        break;
      }
      case 0xdb: {
        let p = 0;
        while (p < seg.length) {
          const pq = seg[p]! >> 4;
          const tq = seg[p]! & 15;
          if (pq > 1 || tq > 3) fail(name, `DQT: bad precision/id 0x${seg[p]!.toString(16)}`, segAt + p);
          short(p + 1 + 64 * (pq + 1), 'DQT');
          const table = new Uint16Array(64);
          for (let k = 0; k < 64; k++) table[k] = pq ? (seg[p + 1 + 2 * k]! << 8) | seg[p + 2 + 2 * k]! : seg[p + 1 + k]!;
          quantTables[tq] = table;
          p += 1 + 64 * (pq + 1);
        }
        break;
      }
      case 0xdd:
        short(2, 'DRI');
        restartInterval = (seg[0]! << 8) | seg[1]!;
        break;
      case 0xee:
        if (seg.length >= 12 && String.fromCharCode(...seg.subarray(0, 5)) === 'Adobe') adobeTransform = seg[11]!;
        break;
      case 0xda: {
        if (!frame) fail(name, 'SOS before SOF', markerAt);
        short(1, 'SOS');
        const count = seg[0]!;
        short(1 + 2 * count + 3, 'SOS');
        if (count < 1 || count > 4) fail(name, `SOS: ${count} components`, segAt);
        const components: Component[] = [];
        for (let i = 0; i < count; i++) {
          const id = seg[1 + 2 * i]!;
          const c = frame.components.find((x) => x.id === id);
          if (!c) fail(name, `SOS: component id ${id} is not in the frame`, segAt + 1 + 2 * i);
          if (components.includes(c)) fail(name, `SOS: component id ${id} listed twice`, segAt + 1 + 2 * i);
          c.dcTable = dcTables[seg[2 + 2 * i]! >> 4];
          c.acTable = acTables[seg[2 + 2 * i]! & 15];
          c.predictor = 0;
          components.push(c);
        }
        const spectralStart = seg[1 + 2 * count]!;
        const spectralEnd = seg[2 + 2 * count]!;
        const approxHigh = seg[3 + 2 * count]! >> 4;
        const approxLow = seg[3 + 2 * count]! & 15;
        const paramsAt = segAt + 1 + 2 * count;
        if (frame.progressive) {
          if (spectralStart === 0 ? spectralEnd !== 0 : spectralEnd < spectralStart || spectralEnd > 63 || count !== 1)
            fail(name, `SOS: invalid progressive spectral selection ${spectralStart}..${spectralEnd} for ${count} components`, paramsAt);
          if (approxLow > 13) fail(name, `SOS: successive approximation bit ${approxLow}`, paramsAt + 2);
        } else if (spectralStart !== 0 || spectralEnd !== 63 || approxHigh !== 0 || approxLow !== 0) {
          fail(name, `SOS: sequential scan with spectral selection ${spectralStart}..${spectralEnd}`, paramsAt);
        }
        const blocksInMcu = components.reduce((s, c) => s + c.h * c.v, 0);
        if (count > 1 && blocksInMcu > 10) fail(name, `SOS: ${blocksInMcu} blocks per MCU (the limit is 10)`, segAt);
        for (const c of components) {
          const needsDc = !frame.progressive || (spectralStart === 0 && approxHigh === 0);
          const needsAc = !frame.progressive || spectralStart > 0;
          if (needsDc && !c.dcTable) fail(name, `SOS: component ${c.id} uses an undefined DC Huffman table`, segAt);
          if (needsAc && !c.acTable) fail(name, `SOS: component ${c.id} uses an undefined AC Huffman table`, segAt);
          if (!c.quant) {
            const q = quantTables[c.quantId];
            if (!q) fail(name, `SOS: component ${c.id} uses undefined quantization table ${c.quantId}`, segAt);
            c.quant = q.slice();
            c.coefficients = new Int16Array(c.blocksPerLine * c.blocksPerColumn * 64);
          }
        }
        pos = decodeScan(bytes, pos, frame, { components, spectralStart, spectralEnd, approxHigh, approxLow }, restartInterval, name);
        scans++;
        break;
      }
      default:
        break; // APPn, COM and other informational segments
    }
  }
  if (!frame || scans === 0) fail(name, 'no image data (no SOF or SOS before EOI)', pos);
  for (const c of frame.components)
    if (!c.coefficients) fail(name, `component ${c.id} never appears in a scan`, pos);
  const planes = frame.components.map((c) => upsample(componentPlane(c), c.blocksPerLine * 8, c, frame));
  const { width, height } = frame;
  if (planes.length === 1) return { width, height, channels: 1, data: planes[0]! };
  const ids = frame.components.map((c) => c.id);
  const isRgb = adobeTransform === 0 || (adobeTransform === undefined && ids[0] === 82 && ids[1] === 71 && ids[2] === 66);
  const data = new Uint8Array(width * height * 3);
  const [p0, p1, p2] = planes as [Uint8Array, Uint8Array, Uint8Array];
  const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
  for (let i = 0; i < width * height; i++) {
    if (isRgb) {
      data[3 * i] = p0[i]!;
      data[3 * i + 1] = p1[i]!;
      data[3 * i + 2] = p2[i]!;
      continue;
    }
    const y = p0[i]!;
    const cb = p1[i]! - 128;
    const cr = p2[i]! - 128;
    data[3 * i] = clamp(y + 1.402 * cr);
    data[3 * i + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr);
    data[3 * i + 2] = clamp(y + 1.772 * cb);
  }
  return { width, height, channels: 3, data };
}

/** Reads and decodes a JPEG from a path (Node), URL, Blob, Response or bytes. */
export async function readJpegFile(src: FileSource, options: JpegOptions = {}): Promise<JpegImage> {
  return decodeJpeg(await readBytes(src, 'readJpegFile'), sourceName(src), options);
}
