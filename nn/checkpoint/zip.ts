/**
 * Minimal ZIP reader for the archives `torch.save` writes (and ordinary ones): stored and deflate entries,
 * ZIP64 sizes and offsets, random access through a ByteSource so entries are read one at a time.
 *
 * Format: entries are found through the central directory at the end of the file (end-of-central-directory
 * record, or its ZIP64 variant when a count, size or offset overflows 16/32 bits); each entry points back to a
 * local header that precedes its data.
 *
 * Safety rules: every offset and size is checked against the file before it is used; the central directory
 * must lie inside the file and hold as many entries as it claims; each local header must carry the signature
 * and the same name as its central record, and entry data may not overlap one another or the directory;
 * duplicate names, encryption, multi-disk archives and compression methods other than stored/deflate are
 * refused; a deflate entry may not declare more output than deflate can produce from its input, and
 * inflation stops as soon as the output exceeds the declared size. Every entry read is checked against its CRC-32.
 */
import { FormatError } from '../../engine/errors.js';
import type { ByteSource } from '../../engine/platform.js';

export interface ZipEntry {
  readonly name: string;
  /** 0 = stored, 8 = deflate. */
  readonly method: number;
  readonly compressedSize: number;
  /** Uncompressed size in bytes. */
  readonly size: number;
  readonly crc32: number;
  /** Absolute offset of the entry's (possibly compressed) data. */
  readonly dataOffset: number;
}

export interface ZipArchive {
  /** Entries by name, in central-directory order. */
  readonly entries: ReadonlyMap<string, ZipEntry>;
  /** The entry's uncompressed bytes, CRC-checked. */
  read(entry: ZipEntry): Promise<Uint8Array>;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const SIG_END64 = 0x06064b50;
const SIG_END64_LOCATOR = 0x07064b50;
const END_SIZE = 22;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
/** Deflate cannot expand input by more than about 1032:1; a larger claim is a lie or a bomb. */
const MAX_DEFLATE_RATIO = 1032;

function u16(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}
function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}
/** A 64-bit little-endian size or offset; values beyond 2^53 cannot describe a real file and are refused. */
function u64(b: Uint8Array, at: number, what: string, offset: number): number {
  const high = u32(b, at + 4);
  if (high >= 0x200000) throw new FormatError(`zip: ${what} is beyond 2^53`, offset);
  return high * 2 ** 32 + u32(b, at);
}

let crcTable: Uint32Array | undefined;
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  const table = crcTable;
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

async function readChecked(source: ByteSource, offset: number, length: number, what: string): Promise<Uint8Array> {
  if (offset < 0 || length < 0 || offset + length > source.size)
    throw new FormatError(`zip: ${what} [${offset}, ${offset + length}) lies outside the ${source.size}-byte file`, offset);
  return source.read(offset, length);
}

/** Locates the central directory: its offset, size and entry count (ZIP64-aware). */
async function findCentralDirectory(source: ByteSource): Promise<{ offset: number; size: number; count: number }> {
  const tailLength = Math.min(source.size, END_SIZE + 0xffff);
  const tailStart = source.size - tailLength;
  const tail = await source.read(tailStart, tailLength);
  let at = -1;
  for (let i = tail.length - END_SIZE; i >= 0; i--) {
    if (u32(tail, i) === SIG_END && i + END_SIZE + u16(tail, i + 20) <= tail.length) {
      at = i;
      break;
    }
  }
  if (at < 0) throw new FormatError('zip: no end-of-central-directory record (not a zip file, or truncated)', source.size);
  const endOffset = tailStart + at;
  let count = u16(tail, at + 10);
  let size = u32(tail, at + 12);
  let offset = u32(tail, at + 16);
  let end = endOffset;
  if (u16(tail, at + 4) !== 0 || u16(tail, at + 6) !== 0 || u16(tail, at + 8) !== count)
    throw new FormatError('zip: multi-disk archives are not supported', endOffset);
  if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    const locator = await readChecked(source, endOffset - 20, 20, 'ZIP64 locator');
    if (u32(locator, 0) !== SIG_END64_LOCATOR) throw new FormatError('zip: ZIP64 end locator missing', endOffset - 20);
    const end64Offset = u64(locator, 8, 'ZIP64 end record offset', endOffset - 12);
    const end64 = await readChecked(source, end64Offset, 56, 'ZIP64 end record');
    if (u32(end64, 0) !== SIG_END64) throw new FormatError('zip: ZIP64 end record signature missing', end64Offset);
    count = u64(end64, 32, 'ZIP64 entry count', end64Offset + 32);
    size = u64(end64, 40, 'ZIP64 central directory size', end64Offset + 40);
    offset = u64(end64, 48, 'ZIP64 central directory offset', end64Offset + 48);
    end = end64Offset;
  }
  if (offset + size > end)
    throw new FormatError(`zip: central directory [${offset}, ${offset + size}) overlaps the end record at ${end}`, endOffset);
  if (count * CENTRAL_SIZE > size)
    throw new FormatError(`zip: ${count} entries cannot fit a ${size}-byte central directory`, endOffset);
  return { offset, size, count };
}

/** Opens a zip archive: reads and validates the central directory and every local header. */
export async function openZip(source: ByteSource): Promise<ZipArchive> {
  const dir = await findCentralDirectory(source);
  const cd = await readChecked(source, dir.offset, dir.size, 'central directory');
  const names = new TextDecoder();
  const parsed: { entry: ZipEntry; nameBytes: Uint8Array; localOffset: number }[] = [];
  const seen = new Set<string>();
  let at = 0;
  for (let i = 0; i < dir.count; i++) {
    const where = dir.offset + at;
    if (at + CENTRAL_SIZE > cd.length || u32(cd, at) !== SIG_CENTRAL)
      throw new FormatError(`zip: central directory entry ${i} is missing or has a bad signature`, where);
    const flags = u16(cd, at + 8);
    const method = u16(cd, at + 10);
    const crc = u32(cd, at + 16);
    let compressedSize = u32(cd, at + 20);
    let size = u32(cd, at + 24);
    const nameLength = u16(cd, at + 28);
    const extraLength = u16(cd, at + 30);
    const commentLength = u16(cd, at + 32);
    let localOffset = u32(cd, at + 42);
    const next = at + CENTRAL_SIZE + nameLength + extraLength + commentLength;
    if (next > cd.length) throw new FormatError(`zip: central directory entry ${i} runs past the directory`, where);
    const nameBytes = cd.subarray(at + CENTRAL_SIZE, at + CENTRAL_SIZE + nameLength);
    const name = names.decode(nameBytes);
    // ZIP64 extra field: the 64-bit values, in this order, for exactly the fields saturated at 0xffffffff.
    const extra = cd.subarray(at + CENTRAL_SIZE + nameLength, at + CENTRAL_SIZE + nameLength + extraLength);
    for (let e = 0; e + 4 <= extra.length; ) {
      const id = u16(extra, e);
      const length = u16(extra, e + 2);
      if (e + 4 + length > extra.length) throw new FormatError(`zip: extra field of '${name}' runs past its record`, where);
      if (id === 0x0001) {
        const field = extra.subarray(e + 4, e + 4 + length);
        let f = 0;
        const take = (what: string): number => {
          if (f + 8 > field.length) throw new FormatError(`zip: ZIP64 field of '${name}' lacks the ${what}`, where);
          const v = u64(field, f, `${what} of '${name}'`, where);
          f += 8;
          return v;
        };
        if (size === 0xffffffff) size = take('size');
        if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
        if (localOffset === 0xffffffff) localOffset = take('local header offset');
      }
      e += 4 + length;
    }
    if (seen.has(name)) throw new FormatError(`zip: duplicate entry '${name}'`, where);
    seen.add(name);
    if (flags & 1) throw new FormatError(`zip: entry '${name}' is encrypted`, where);
    if (method !== 0 && method !== 8) throw new FormatError(`zip: entry '${name}' uses unsupported compression method ${method}`, where);
    if (method === 0 && compressedSize !== size)
      throw new FormatError(`zip: stored entry '${name}' has compressed size ${compressedSize} but size ${size}`, where);
    if (method === 8 && size > compressedSize * MAX_DEFLATE_RATIO + 1024)
      throw new FormatError(`zip: deflate entry '${name}' claims ${size} bytes from ${compressedSize}, more than deflate can produce`, where);
    parsed.push({ entry: { name, method, compressedSize, size, crc32: crc, dataOffset: 0 }, nameBytes, localOffset });
    at = next;
  }

  // Local headers, in file order, so overlapping entries are caught too.
  const byOffset = [...parsed].sort((a, b) => a.localOffset - b.localOffset);
  let previousEnd = 0;
  let previousName = '';
  const resolved = new Map<string, ZipEntry>();
  for (const { entry, nameBytes, localOffset } of byOffset) {
    if (localOffset < previousEnd)
      throw new FormatError(`zip: entry '${entry.name}' overlaps entry '${previousName}'`, localOffset);
    const local = await readChecked(source, localOffset, LOCAL_SIZE, `local header of '${entry.name}'`);
    if (u32(local, 0) !== SIG_LOCAL) throw new FormatError(`zip: local header of '${entry.name}' has a bad signature`, localOffset);
    const nameLength = u16(local, 26);
    const extraLength = u16(local, 28);
    const localName = await readChecked(source, localOffset + LOCAL_SIZE, nameLength, `local name of '${entry.name}'`);
    if (nameLength !== nameBytes.length || localName.some((b, i) => b !== nameBytes[i]))
      throw new FormatError(`zip: local header name differs from central directory name '${entry.name}'`, localOffset);
    const dataOffset = localOffset + LOCAL_SIZE + nameLength + extraLength;
    const dataEnd = dataOffset + entry.compressedSize;
    if (dataEnd > dir.offset)
      throw new FormatError(`zip: data of '${entry.name}' [${dataOffset}, ${dataEnd}) runs into the central directory at ${dir.offset}`, localOffset);
    previousEnd = dataEnd;
    previousName = entry.name;
    resolved.set(entry.name, { ...entry, dataOffset });
  }
  const entries = new Map(parsed.map(({ entry }) => [entry.name, resolved.get(entry.name)!]));

  return {
    entries,
    read: async (entry) => {
      const raw = await readChecked(source, entry.dataOffset, entry.compressedSize, `data of '${entry.name}'`);
      const data = entry.method === 0 ? raw : await inflate(raw, entry);
      if (crc32(data) !== entry.crc32) throw new FormatError(`zip: CRC-32 mismatch in '${entry.name}'`, entry.dataOffset);
      return data;
    },
  };
}

/** Inflates raw deflate data into exactly `entry.size` bytes, stopping early if the stream runs long. */
async function inflate(compressed: Uint8Array, entry: ZipEntry): Promise<Uint8Array> {
  const out = new Uint8Array(entry.size);
  let filled = 0;
  const input = new Blob([compressed.slice()]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  const reader = input.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (filled + value.length > out.length) {
        await reader.cancel();
        throw new FormatError(`zip: '${entry.name}' inflates to more than its declared ${entry.size} bytes`, entry.dataOffset);
      }
      out.set(value, filled);
      filled += value.length;
    }
  } catch (err) {
    if (err instanceof FormatError) throw err;
    throw new FormatError(`zip: deflate data of '${entry.name}' is corrupt (${(err as Error).message})`, entry.dataOffset);
  }
  if (filled !== out.length)
    throw new FormatError(`zip: '${entry.name}' inflates to ${filled} bytes, not its declared ${entry.size}`, entry.dataOffset);
  return out;
}
