/**
 * safetensors reader and writer.
 *
 * Format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the data buffer. The JSON maps
 * each tensor name to `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the data buffer),
 * plus an optional `__metadata__` map of strings to strings. Writers pad the JSON with spaces so the data
 * starts at a multiple of 8.
 *
 * Safety rules: the whole header is validated before any tensor byte is read — header length within the file
 * (and at most 100 MB), every dtype known, every shape a list of non-negative integers whose element count
 * times the item size equals the entry's byte range, ranges inside the data buffer, and (as the reference
 * implementation requires) the ranges tile the buffer exactly: no overlap, no gap, nothing left over.
 * Names from the file only ever become Map keys. Tensors are then read one at a time through a ByteSource,
 * so a large file is never held in memory twice.
 */
import { ArgumentError, FormatError } from '../../engine/errors.js';
import { expectBytesSource, openBytes, type ByteSource } from '../../engine/platform.js';
import { ITEMSIZE, decodeData, encodeData, hostTensor, type CheckpointSource, type HostDType, type HostTensor } from './host-tensor.js';

/** Where one tensor lives in a safetensors file. */
export interface SafetensorsInfo {
  dtype: HostDType;
  shape: number[];
  /** Absolute byte offset of the tensor's data in the file. */
  byteOffset: number;
  byteLength: number;
}

/** A safetensors file opened for reading tensors on demand. */
export interface SafetensorsFile {
  readonly metadata: Map<string, string>;
  /** Tensor names in the order their data appears in the file. */
  keys(): string[];
  info(name: string): SafetensorsInfo;
  read(name: string): Promise<HostTensor>;
  close(): Promise<void>;
}

const FILE_DTYPE: ReadonlyMap<string, HostDType> = new Map([
  ['F32', 'f32'], ['F16', 'f16'], ['BF16', 'bf16'], ['F64', 'f64'], ['I32', 'i32'],
  ['I64', 'i64'], ['U8', 'u8'], ['I8', 'i8'], ['I16', 'i16'], ['BOOL', 'bool'],
]);
const NAME_OF_DTYPE = new Map([...FILE_DTYPE].map(([fileName, dtype]) => [dtype, fileName]));

/** Headers larger than this are refused outright (the reference implementation uses the same bound). */
const MAX_HEADER_BYTES = 100_000_000;

/** Parses and validates the JSON header; returns entries sorted by data offset. */
function parseHeader(
  json: Uint8Array,
  dataStart: number,
  dataSize: number,
): { entries: Map<string, SafetensorsInfo>; metadata: Map<string, string> } {
  const fail = (msg: string): never => {
    throw new FormatError(`readSafetensors: ${msg}`, 8);
  };
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (err) {
    fail(`header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return fail('header is not a JSON object');

  const metadata = new Map<string, string>();
  const found: [string, SafetensorsInfo & { begin: number; end: number }][] = [];
  // Object.entries only yields the parsed object's own keys, so names like "__proto__" stay plain data.
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(raw as object)) {
        if (typeof v !== 'string') fail(`__metadata__ value for '${k}' is not a string`);
        metadata.set(k, v as string);
      }
      continue;
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail(`entry '${name}' is not an object`);
    const { dtype: fileDtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    const dtype = typeof fileDtype === 'string' ? FILE_DTYPE.get(fileDtype) : undefined;
    if (!dtype) return fail(`tensor '${name}' has unsupported dtype ${JSON.stringify(fileDtype)}`);
    if (!Array.isArray(shape) || !shape.every((d): d is number => Number.isSafeInteger(d) && d >= 0))
      return fail(`tensor '${name}' has a shape that is not a list of non-negative integers`);
    if (
      !Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((o): o is number => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]
    )
      return fail(`tensor '${name}' has data_offsets that are not [begin, end] with 0 <= begin <= end`);
    const [begin, end] = offsets as [number, number];
    if (end > dataSize) fail(`tensor '${name}' data_offsets [${begin}, ${end}] run past the ${dataSize}-byte data buffer`);
    let bytes = ITEMSIZE[dtype];
    for (const d of shape) {
      bytes *= d;
      if (bytes > dataSize) break; // keeps the product exact; it can no longer match anyway
    }
    if (bytes !== end - begin)
      fail(`tensor '${name}' of dtype ${fileDtype} and shape [${shape.join(',')}] needs ${bytes} bytes, data_offsets give ${end - begin}`);
    found.push([name, { dtype, shape: [...shape], byteOffset: dataStart + begin, byteLength: end - begin, begin, end }]);
  }

  found.sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let covered = 0;
  let previous = '';
  for (const [name, { begin, end }] of found) {
    if (begin < covered) fail(`tensor '${name}' data [${begin}, ${end}) overlaps tensor '${previous}'`);
    if (begin > covered) fail(`bytes [${covered}, ${begin}) of the data buffer belong to no tensor (before '${name}')`);
    covered = end;
    previous = name;
  }
  if (covered !== dataSize) fail(`bytes [${covered}, ${dataSize}) at the end of the data buffer belong to no tensor`);
  const entries = new Map<string, SafetensorsInfo>();
  for (const [name, { dtype, shape, byteOffset, byteLength }] of found) entries.set(name, { dtype, shape, byteOffset, byteLength });
  return { entries, metadata };
}

/** Opens a safetensors file and validates its header; tensors are read when asked for. */
export async function openSafetensors(src: CheckpointSource): Promise<SafetensorsFile> {
  const source: ByteSource = await openBytes(src, 'openSafetensors');
  try {
    if (source.size < 8) throw new FormatError(`readSafetensors: ${source.name} has ${source.size} bytes, fewer than the 8-byte header length`, 0);
    const prefix = await source.read(0, 8);
    const low = prefix[0]! | (prefix[1]! << 8) | (prefix[2]! << 16) | (prefix[3]! << 24);
    const high = prefix[4]! | (prefix[5]! << 8) | (prefix[6]! << 16) | (prefix[7]! << 24);
    const headerSize = high * 2 ** 32 + (low >>> 0);
    if (high !== 0 || headerSize > MAX_HEADER_BYTES || headerSize > source.size - 8)
      throw new FormatError(
        `readSafetensors: header length ${headerSize} does not fit ${source.name} of ${source.size} bytes (or exceeds ${MAX_HEADER_BYTES})`,
        0,
      );
    const dataStart = 8 + headerSize;
    const { entries, metadata } = parseHeader(await source.read(8, headerSize), dataStart, source.size - dataStart);
    let closed = false;
    const info = (name: string): SafetensorsInfo => {
      const entry = entries.get(name);
      if (!entry) throw new ArgumentError(`readSafetensors: no tensor named '${name}' in ${source.name}`);
      return { ...entry, shape: [...entry.shape] };
    };
    return {
      metadata,
      keys: () => [...entries.keys()],
      info,
      read: async (name) => {
        if (closed) throw new ArgumentError(`readSafetensors: ${source.name} is closed`);
        const { dtype, shape, byteOffset, byteLength } = info(name);
        return hostTensor(dtype, shape, decodeData(dtype, await source.read(byteOffset, byteLength)));
      },
      close: async () => {
        if (closed) return;
        closed = true;
        await source.close();
      },
    };
  } catch (err) {
    await source.close();
    throw err;
  }
}

/** Reads every tensor of a safetensors file, in file order, plus its `__metadata__`. */
export async function readSafetensors(
  src: CheckpointSource,
): Promise<{ tensors: Map<string, HostTensor>; metadata: Map<string, string> }> {
  expectBytesSource('readSafetensors', src);
  const file = await openSafetensors(src);
  try {
    const tensors = new Map<string, HostTensor>();
    for (const name of file.keys()) tensors.set(name, await file.read(name));
    return { tensors, metadata: file.metadata };
  } finally {
    await file.close();
  }
}

/**
 * Serializes tensors (in the given order, data packed back to back) and optional string metadata into
 * safetensors bytes. Every tensor is checked: its data must fit its dtype and shape.
 */
export function writeSafetensors(
  tensors: ReadonlyMap<string, HostTensor> | Readonly<Record<string, HostTensor>>,
  metadata?: ReadonlyMap<string, string> | Readonly<Record<string, string>>,
): Uint8Array {
  const list = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  // Null-prototype objects: a tensor called "__proto__" becomes an ordinary key in the JSON.
  const header: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (metadata) {
    const meta: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [k, v] of metadata instanceof Map ? metadata : Object.entries(metadata)) {
      if (typeof v !== 'string') throw new ArgumentError(`writeSafetensors: metadata value for '${k}' is not a string`);
      meta[k] = v;
    }
    header.__metadata__ = meta;
  }
  const payloads: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of list) {
    if (name === '__metadata__') throw new ArgumentError("writeSafetensors: '__metadata__' is reserved and cannot name a tensor");
    const checked = hostTensor(t.dtype, t.shape, t.data); // validates dtype, shape and data length
    const bytes = encodeData(checked);
    header[name] = { dtype: NAME_OF_DTYPE.get(t.dtype), shape: checked.shape, data_offsets: [offset, offset + bytes.byteLength] };
    payloads.push(bytes);
    offset += bytes.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerSize = Math.ceil((8 + json.byteLength) / 8) * 8 - 8;
  const out = new Uint8Array(8 + headerSize + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerSize, true); // high 32 bits stay 0: a header never approaches 4 GB
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + headerSize);
  let at = 8 + headerSize;
  for (const p of payloads) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
