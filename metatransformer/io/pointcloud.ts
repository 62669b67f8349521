/**
 * Point-cloud readers for the point-cloud tokenizer: PLY, OFF and XYZ/CSV text.
 *
 * PLY: ascii, binary_little_endian and binary_big_endian bodies; any number of elements in any order,
 * of which `vertex` is read (x, y, z required; nx, ny, nz and red, green, blue optional) and every
 * other element (faces, edges, ...) is skipped exactly, list properties included; all scalar types
 * (char/int8 ... double/float64). Integer colors are scaled to [0, 1] by their type's maximum.
 * OFF: plain, COFF (per-vertex colors, integers 0-255 or floats 0-1), NOFF (normals) and CNOFF,
 * '#' comments, and the common ModelNet quirk of counts glued to the keyword ("OFF490 518 0").
 * Faces are not needed for points and are not read. XYZ/CSV: one point per line, fields separated by
 * whitespace, commas or semicolons, optional header naming columns (x, y, z, nx, ny, nz, r/red,
 * g/green, b/blue); without one, 6 columns mean x y z nx ny nz, 9 add r g b (the ModelNet40
 * "normal_resampled" layout) and other widths keep only x y z from the first three; `columns` overrides this.
 *
 * Refused with a FormatError naming the element/property and byte offset (binary) or line (text):
 * binary OFF and the ST/4D/n-dimensional OFF variants, PLY headers without end_header, unknown PLY
 * types or keywords, element counts the body cannot possibly hold (checked before allocating),
 * values that are not numbers, integers where a PLY integer type is declared that are not integers,
 * negative list counts, and bodies that end early.
 */
import { expectBytes, expectOptions, optionKeys, type BytesLike } from '../../engine/arguments.js';
import { ArgumentError } from '../../engine/errors.js';
import { readBytes } from '../../engine/platform.js';
import { fail, failAtLine, need, sourceName, viewOf, type FileSource } from './common.js';

export interface PointCloud {
  /** xyz per point, [count * 3]. */
  points: Float32Array;
  /** Unit normals per point when the file has them, [count * 3]. */
  normals?: Float32Array;
  /** RGB in [0, 1] per point when the file has them, [count * 3]. */
  colors?: Float32Array;
  count: number;
}

export type PointCloudFormat = 'ply' | 'off' | 'xyz';

export interface PointCloudOptions {
  /** Force a format instead of sniffing the first bytes. */
  format?: PointCloudFormat;
  /** XYZ/CSV only: the meaning of each column (x, y, z, nx, ny, nz, r, g, b; anything else is ignored). */
  columns?: readonly string[];
}

const POINT_CLOUD_OPTIONS = optionKeys<PointCloudOptions>({ format: true, columns: true });

interface PlyType {
  size: number;
  integer: boolean;
  /** Largest value, used to scale integer colors to [0, 1]. */
  max: number;
}

/** Each PLY scalar type under both its old and its sized name. */
const PLY_TYPES: ReadonlyMap<string, PlyType> = new Map(
  ([
    [['char', 'int8'], 1, true, 127],
    [['uchar', 'uint8'], 1, true, 255],
    [['short', 'int16'], 2, true, 32767],
    [['ushort', 'uint16'], 2, true, 65535],
    [['int', 'int32'], 4, true, 2147483647],
    [['uint', 'uint32'], 4, true, 4294967295],
    [['float', 'float32'], 4, false, 1],
    [['double', 'float64'], 8, false, 1],
  ] as const).flatMap(([names, size, integer, max]) => names.map((n): [string, PlyType] => [n, { size, integer, max }])),
);

interface PlyProperty {
  name: string;
  type: string;
  /** Type of the element count for list properties. */
  countType?: string;
}

interface PlyElement {
  name: string;
  count: number;
  properties: PlyProperty[];
  line: number;
}

/** The semantic slots a vertex property can fill: [array, component]. */
const VERTEX_SLOTS: ReadonlyMap<string, readonly ['points' | 'normals' | 'colors', number]> = new Map([
  ['x', ['points', 0]], ['y', ['points', 1]], ['z', ['points', 2]],
  ['nx', ['normals', 0]], ['ny', ['normals', 1]], ['nz', ['normals', 2]],
  ['red', ['colors', 0]], ['green', ['colors', 1]], ['blue', ['colors', 2]],
  ['r', ['colors', 0]], ['g', ['colors', 1]], ['b', ['colors', 2]],
]);

function allocate(count: number, properties: readonly string[]): PointCloud {
  const has = (slot: string): boolean => properties.some((p) => VERTEX_SLOTS.get(p)?.[0] === slot);
  const cloud: PointCloud = { points: new Float32Array(count * 3), count };
  if (has('normals')) cloud.normals = new Float32Array(count * 3);
  if (has('colors')) cloud.colors = new Float32Array(count * 3);
  return cloud;
}

/** Checks that all three components of each optional slot are present, so none is silently zero. */
function checkSlots(properties: readonly string[], what: string, name: string, line: number): void {
  for (const slot of ['points', 'normals', 'colors'] as const) {
    const comps = new Set(properties.map((p) => VERTEX_SLOTS.get(p)).filter((s) => s?.[0] === slot).map((s) => s![1]));
    if ((slot === 'points' || comps.size > 0) && comps.size !== 3)
      failAtLine(name, line, `${what} has only some of the ${slot === 'points' ? 'x/y/z' : slot} components`);
  }
}

/** Iterates whitespace-separated tokens of a text, tracking line numbers. */
class Tokens {
  pos = 0;
  line: number;
  constructor(
    private readonly text: string,
    firstLine: number,
  ) {
    this.line = firstLine;
  }
  next(): string | undefined {
    const t = this.text;
    // Codes <= 32 are the ASCII whitespace and control characters that separate PLY tokens.
    while (this.pos < t.length && t.charCodeAt(this.pos) <= 32) {
      if (t.charCodeAt(this.pos) === 10) this.line++;
      this.pos++;
    }
    if (this.pos >= t.length) return undefined;
    const start = this.pos;
    while (this.pos < t.length && t.charCodeAt(this.pos) > 32) this.pos++;
    return t.slice(start, this.pos);
  }
}

function parsePly(bytes: Uint8Array, name: string): PointCloud {
  // The header is ASCII; find its end without decoding a possibly huge binary body.
  const marker = 'end_header';
  let headerEnd = -1;
  for (let i = 0; i + marker.length <= bytes.length && i < 1 << 20; i++) {
    let match = true;
    for (let j = 0; j < marker.length && match; j++) match = bytes[i + j] === marker.charCodeAt(j);
    if (match && (i === 0 || bytes[i - 1] === 10 || bytes[i - 1] === 13)) {
      headerEnd = i + marker.length;
      break;
    }
  }
  if (headerEnd < 0) fail(name, 'PLY header has no end_header line (within the first MiB)', 0);
  if (bytes[headerEnd] === 13) headerEnd++;
  if (bytes[headerEnd] !== 10) fail(name, 'end_header is not followed by a newline', headerEnd);
  const bodyStart = headerEnd + 1;
  const lines = new TextDecoder('latin1').decode(bytes.subarray(0, headerEnd)).split(/\r?\n/);
  if (lines[0] !== 'ply') fail(name, "not a PLY file (first line is not 'ply')", 0);
  let format: string | undefined;
  const elements: PlyElement[] = [];
  for (let i = 1; i < lines.length - 1; i++) {
    const line = i + 1;
    const words = lines[i]!.trim().split(/\s+/);
    const keyword = words[0]!;
    if (keyword === 'comment' || keyword === 'obj_info' || keyword === '') continue;
    if (keyword === 'format') {
      if (words.length !== 3 || !['ascii', 'binary_little_endian', 'binary_big_endian'].includes(words[1]!) || words[2] !== '1.0')
        failAtLine(name, line, `unsupported PLY format '${words.slice(1).join(' ')}'`);
      format = words[1];
    } else if (keyword === 'element') {
      const count = Number(words[2]);
      if (words.length !== 3 || !Number.isSafeInteger(count) || count < 0) failAtLine(name, line, `bad element line '${lines[i]}'`);
      elements.push({ name: words[1]!, count, properties: [], line });
    } else if (keyword === 'property') {
      const element = elements[elements.length - 1];
      if (!element) failAtLine(name, line, 'property before any element');
      if (words[1] === 'list') {
        if (words.length !== 5) failAtLine(name, line, `bad list property line '${lines[i]}'`);
        const [countType, type, prop] = [words[2]!, words[3]!, words[4]!];
        if (!PLY_TYPES.get(countType)?.integer) failAtLine(name, line, `list count type '${countType}' is not an integer type`);
        if (!PLY_TYPES.has(type)) failAtLine(name, line, `unknown property type '${type}'`);
        element.properties.push({ name: prop, type, countType });
      } else {
        if (words.length !== 3) failAtLine(name, line, `bad property line '${lines[i]}'`);
        if (!PLY_TYPES.has(words[1]!)) failAtLine(name, line, `unknown property type '${words[1]}'`);
        element.properties.push({ name: words[2]!, type: words[1]! });
      }
    } else failAtLine(name, line, `unknown PLY header keyword '${keyword}'`);
  }
  if (!format) fail(name, 'PLY header has no format line', 0);
  const vertex = elements.find((e) => e.name === 'vertex');
  if (!vertex) fail(name, 'PLY file has no vertex element', 0);
  const vertexProps = vertex.properties.map((p) => p.name);
  checkSlots(vertexProps, 'vertex element', name, vertex.line);
  for (const p of vertex.properties)
    if (p.countType && VERTEX_SLOTS.has(p.name)) failAtLine(name, vertex.line, `vertex property '${p.name}' is a list`);

  let cloud: PointCloud | undefined;
  const store = (prop: PlyProperty, index: number, value: number): void => {
    const slot = VERTEX_SLOTS.get(prop.name);
    if (!slot) return;
    const info = PLY_TYPES.get(prop.type)!;
    const scaled = slot[0] === 'colors' && info.integer ? value / info.max : value;
    cloud![slot[0]]![index * 3 + slot[1]] = scaled;
  };

  if (format === 'ascii') {
    const tokens = new Tokens(new TextDecoder('latin1').decode(bytes.subarray(bodyStart)), lines.length + 1);
    const remaining = bytes.length - bodyStart;
    const number = (prop: PlyProperty, type: string, element: string): number => {
      const tok = tokens.next();
      if (tok === undefined) failAtLine(name, tokens.line, `file ends inside element '${element}' (property '${prop.name}')`);
      const v = Number(tok);
      if (Number.isNaN(v) && !/^[+-]?nan$/i.test(tok)) failAtLine(name, tokens.line, `'${tok}' is not a number (property '${prop.name}')`);
      if (PLY_TYPES.get(type)!.integer && !Number.isInteger(v))
        failAtLine(name, tokens.line, `'${tok}' is not an integer (property '${prop.name}' is ${type})`);
      return v;
    };
    for (const e of elements) {
      if (e.properties.length === 0) continue;
      // Each value takes at least one character and one separator.
      if (e.count * e.properties.length > remaining)
        failAtLine(name, e.line, `element '${e.name}' declares ${e.count} records, more than the body can hold`);
      if (e === vertex) cloud = allocate(e.count, vertexProps);
      for (let r = 0; r < e.count; r++)
        for (const p of e.properties) {
          if (!p.countType) {
            const v = number(p, p.type, e.name);
            if (e === vertex) store(p, r, v);
            continue;
          }
          const n = number(p, p.countType, e.name);
          if (n < 0) failAtLine(name, tokens.line, `negative list length ${n} (property '${p.name}')`);
          for (let k = 0; k < n; k++) number(p, p.type, e.name);
        }
    }
    return cloud!;
  }

  const little = format === 'binary_little_endian';
  const dv = viewOf(bytes);
  const read = (type: string, at: number): number => {
    switch (type) {
      case 'char': case 'int8': return dv.getInt8(at);
      case 'uchar': case 'uint8': return dv.getUint8(at);
      case 'short': case 'int16': return dv.getInt16(at, little);
      case 'ushort': case 'uint16': return dv.getUint16(at, little);
      case 'int': case 'int32': return dv.getInt32(at, little);
      case 'uint': case 'uint32': return dv.getUint32(at, little);
      case 'float': case 'float32': return dv.getFloat32(at, little);
      default: return dv.getFloat64(at, little);
    }
  };
  let pos = bodyStart;
  for (const e of elements) {
    if (e.properties.length === 0) continue;
    const minRecord = e.properties.reduce((s, p) => s + PLY_TYPES.get(p.countType ?? p.type)!.size, 0);
    if (e.count * minRecord > bytes.length - pos)
      fail(name, `element '${e.name}' declares ${e.count} records of at least ${minRecord} bytes, more than the file holds`, pos);
    if (e === vertex) cloud = allocate(e.count, vertexProps);
    for (let r = 0; r < e.count; r++)
      for (const p of e.properties) {
        if (!p.countType) {
          const size = PLY_TYPES.get(p.type)!.size;
          need(bytes, pos, size, name, `element '${e.name}' record ${r} property '${p.name}'`);
          if (e === vertex) store(p, r, read(p.type, pos));
          pos += size;
          continue;
        }
        const countSize = PLY_TYPES.get(p.countType)!.size;
        need(bytes, pos, countSize, name, `element '${e.name}' record ${r} list '${p.name}' length`);
        const n = read(p.countType, pos);
        if (n < 0) fail(name, `element '${e.name}' record ${r}: negative list length ${n} (property '${p.name}')`, pos);
        pos += countSize;
        const itemsSize = n * PLY_TYPES.get(p.type)!.size;
        need(bytes, pos, itemsSize, name, `element '${e.name}' record ${r} list '${p.name}' (${n} items)`);
        pos += itemsSize;
      }
  }
  return cloud!;
}

/** Splits text into lines without comments, keeping 1-based line numbers. */
function contentLines(text: string, comment: RegExp): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  text.split(/\r\n|\n|\r/).forEach((raw, i) => {
    const stripped = raw.replace(comment, '').trim();
    if (stripped) out.push({ text: stripped, line: i + 1 });
  });
  return out;
}

function parseNumber(tok: string, name: string, line: number, what: string): number {
  const v = Number(tok);
  if (tok === '' || !Number.isFinite(v)) failAtLine(name, line, `'${tok}' is not a finite number (${what})`);
  return v;
}

function parseOff(text: string, name: string): PointCloud {
  const lines = contentLines(text, /#.*/);
  const first = lines[0];
  const m = first && /^(C?)(N?)OFF(.*)$/.exec(first.text);
  if (!first || !m) {
    if (first && /^(ST)?C?N?4?n?OFF/.test(first.text))
      failAtLine(name, first.line, `OFF variant '${first.text.split(/\s/)[0]}' is not supported (only OFF, COFF, NOFF, CNOFF)`);
    return fail(name, 'not an OFF file (no OFF keyword)', 0);
  }
  const hasColor = m[1] === 'C';
  const hasNormal = m[2] === 'N';
  const rest = m[3]!.trim();
  if (/^BINARY\b/i.test(rest)) failAtLine(name, first.line, 'binary OFF is not supported');
  if (rest !== '' && !/^[\d\s]+$/.test(rest)) failAtLine(name, first.line, `unexpected text after OFF keyword: '${rest}'`);
  let cursor = 1;
  const countsLine = rest !== '' ? first : lines[cursor++];
  if (!countsLine) fail(name, 'OFF file ends before the vertex/face counts', 0);
  const counts = (rest !== '' ? rest : countsLine.text).split(/\s+/);
  const nv = Number(counts[0]);
  if (counts.length < 2 || !Number.isSafeInteger(nv) || nv < 0)
    failAtLine(name, countsLine.line, `bad counts line '${countsLine.text}' (expected: vertices faces [edges])`);
  if (nv > lines.length - cursor) failAtLine(name, countsLine.line, `declares ${nv} vertices but only ${lines.length - cursor} lines follow`);
  const cloud: PointCloud = { points: new Float32Array(nv * 3), count: nv };
  if (hasNormal) cloud.normals = new Float32Array(nv * 3);
  if (hasColor) cloud.colors = new Float32Array(nv * 3);
  const base = hasNormal ? 6 : 3;
  for (let i = 0; i < nv; i++) {
    const { text: t, line } = lines[cursor + i]!;
    const toks = t.split(/\s+/);
    const expected = hasColor ? [base + 3, base + 4] : [base];
    if (!expected.includes(toks.length))
      failAtLine(name, line, `vertex ${i} has ${toks.length} values, expected ${expected.join(' or ')}`);
    for (let k = 0; k < 3; k++) cloud.points[i * 3 + k] = parseNumber(toks[k]!, name, line, `vertex ${i}`);
    if (hasNormal) for (let k = 0; k < 3; k++) cloud.normals![i * 3 + k] = parseNumber(toks[3 + k]!, name, line, `vertex ${i} normal`);
    if (hasColor)
      for (let k = 0; k < 3; k++) {
        const tok = toks[base + k]!;
        const v = parseNumber(tok, name, line, `vertex ${i} color`);
        // OFF colors are integers 0..255 or floats 0..1; a decimal point tells which.
        cloud.colors![i * 3 + k] = /[.eE]/.test(tok) ? v : v / 255;
      }
  }
  return cloud;
}

const COLUMN_ALIASES: ReadonlyMap<string, string> = new Map([
  ['x', 'x'], ['y', 'y'], ['z', 'z'], ['nx', 'nx'], ['ny', 'ny'], ['nz', 'nz'],
  ['normal_x', 'nx'], ['normal_y', 'ny'], ['normal_z', 'nz'],
  ['r', 'r'], ['g', 'g'], ['b', 'b'], ['red', 'r'], ['green', 'g'], ['blue', 'b'],
]);

function parseXyz(text: string, name: string, columns?: readonly string[]): PointCloud {
  const lines = contentLines(text, /(#|\/\/).*/);
  const split = (s: string): string[] => s.split(/\s*[,;]\s*|\s+/);
  let start = 0;
  let names = columns?.map((c) => c.toLowerCase());
  if (lines.length > 0 && split(lines[0]!.text).some((tok) => !Number.isFinite(Number(tok)))) {
    names ??= split(lines[0]!.text).map((c) => c.toLowerCase().replace(/^["']|["']$/g, ''));
    start = 1;
  }
  const width = lines.length > start ? split(lines[start]!.text).length : (names?.length ?? 3);
  if (!names) {
    names = ['x', 'y', 'z'];
    if (width === 6 || width === 9) names.push('nx', 'ny', 'nz');
    if (width === 9) names.push('r', 'g', 'b');
    while (names.length < width) names.push(''); // e.g. LiDAR intensity: not a point attribute we keep
  }
  if (names.length !== width) failAtLine(name, lines[start]?.line ?? 1, `${width} fields but ${names.length} column names`);
  const slots = names.map((n) => COLUMN_ALIASES.get(n));
  const props = slots.map((s) => (s === 'r' ? 'red' : s === 'g' ? 'green' : s === 'b' ? 'blue' : s ?? ''));
  checkSlots(props, 'column list', name, lines[0]?.line ?? 1);
  const count = lines.length - start;
  const cloud = allocate(count, props);
  let maxColor = 0;
  for (let i = 0; i < count; i++) {
    const { text: t, line } = lines[start + i]!;
    const toks = split(t);
    if (toks.length !== width) failAtLine(name, line, `${toks.length} fields, expected ${width}`);
    toks.forEach((tok, c) => {
      const slot = VERTEX_SLOTS.get(props[c]!);
      if (!slot) return;
      const v = parseNumber(tok, name, line, `column ${c + 1}`);
      cloud[slot[0]]![i * 3 + slot[1]] = v;
      if (slot[0] === 'colors') maxColor = Math.max(maxColor, v);
    });
  }
  // Colors given as 0..255 integers are scaled; colors already in [0, 1] are kept.
  if (cloud.colors && maxColor > 1) for (let i = 0; i < cloud.colors.length; i++) cloud.colors[i] = cloud.colors[i]! / 255;
  return cloud;
}

/** Parses a point cloud, sniffing PLY ('ply' first line), OFF (OFF keyword) or XYZ/CSV text. */
export function parsePointCloud(input: BytesLike, name = '<pointcloud>', options: PointCloudOptions = {}): PointCloud {
  const bytes = expectBytes('parsePointCloud', 'the file', input);
  expectOptions('parsePointCloud', options, POINT_CLOUD_OPTIONS);
  let format = options.format;
  if (format !== undefined && !['ply', 'off', 'xyz'].includes(format))
    throw new ArgumentError(`parsePointCloud: unknown format '${String(format)}' (ply, off or xyz)`);
  if (!format) {
    const head = new TextDecoder('latin1').decode(bytes.subarray(0, 64));
    format = /^ply\r?\n/.test(head) ? 'ply' : /^\s*(#[^\n]*\n\s*)*[A-Z0-9]*OFF/.test(head) ? 'off' : 'xyz';
  }
  if (format === 'ply') return parsePly(bytes, name);
  const text = new TextDecoder().decode(bytes);
  return format === 'off' ? parseOff(text, name) : parseXyz(text, name, options.columns);
}

/** Reads a point cloud from a path (Node), URL, Blob, Response or bytes; the extension picks the format when given. */
export async function readPointCloudFile(src: FileSource, options: PointCloudOptions = {}): Promise<PointCloud> {
  const name = sourceName(src);
  const ext = /\.([a-z]+)$/i.exec(name)?.[1]?.toLowerCase();
  const byExt: PointCloudFormat | undefined = ext === 'ply' ? 'ply' : ext === 'off' ? 'off' : ext && ['xyz', 'txt', 'csv', 'pts'].includes(ext) ? 'xyz' : undefined;
  return parsePointCloud(await readBytes(src, 'readPointCloudFile'), name, { ...options, format: options.format ?? byExt });
}
