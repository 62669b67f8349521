/**
 * Builders for hand-crafted (often hostile) checkpoint bytes: pickle programs, stored zip archives, torch zip
 * archives and legacy torch files. The tests use them to reach error paths that torch never writes.
 */
import { crc32 } from '../../nn/checkpoint/zip.js';

const utf8 = new TextEncoder();

/** Emits pickle opcodes; method names follow the opcode they write. */
export class PickleBuilder {
  private readonly out: number[] = [];

  raw(...bytes: number[]): this {
    return this.rawBytes(bytes);
  }
  rawBytes(bytes: ArrayLike<number>): this {
    for (let i = 0; i < bytes.length; i++) this.out.push(bytes[i]!);
    return this;
  }
  private u32(n: number): this {
    return this.raw(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  proto(version = 2): this {
    return this.raw(0x80, version);
  }
  stop(): this {
    return this.raw(0x2e);
  }
  mark(): this {
    return this.raw(0x28);
  }
  none(): this {
    return this.raw(0x4e);
  }
  bool(v: boolean): this {
    return this.raw(v ? 0x88 : 0x89);
  }
  /** BININT (signed 32-bit). */
  int(n: number): this {
    return this.raw(0x4a).u32(n);
  }
  /** LONG1 of an arbitrary integer (two's complement, little-endian). */
  long(n: bigint): this {
    const bytes: number[] = [];
    let v = n;
    do {
      bytes.push(Number(v & 0xffn));
      v >>= 8n;
    } while (!((v === 0n && !(bytes[bytes.length - 1]! & 0x80)) || (v === -1n && bytes[bytes.length - 1]! & 0x80)));
    return this.raw(0x8a, bytes.length, ...bytes);
  }
  float(x: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, x, false);
    return this.raw(0x47, ...b);
  }
  str(s: string): this {
    const b = utf8.encode(s);
    return this.raw(0x58).u32(b.length).rawBytes(b);
  }
  global(module: string, name: string): this {
    return this.raw(0x63).rawBytes(utf8.encode(`${module}\n${name}\n`));
  }
  stackGlobal(module: string, name: string): this {
    return this.str(module).str(name).raw(0x93);
  }
  emptyDict(): this {
    return this.raw(0x7d);
  }
  emptyList(): this {
    return this.raw(0x5d);
  }
  emptyTuple(): this {
    return this.raw(0x29);
  }
  tuple(): this {
    return this.raw(0x74);
  }
  setitem(): this {
    return this.raw(0x73);
  }
  setitems(): this {
    return this.raw(0x75);
  }
  append(): this {
    return this.raw(0x61);
  }
  appends(): this {
    return this.raw(0x65);
  }
  reduce(): this {
    return this.raw(0x52);
  }
  build(): this {
    return this.raw(0x62);
  }
  binput(i: number): this {
    return this.raw(0x71, i);
  }
  binget(i: number): this {
    return this.raw(0x68, i);
  }
  binpersid(): this {
    return this.raw(0x51);
  }
  /** A tuple of ints via MARK ... TUPLE. */
  ints(values: readonly number[]): this {
    this.mark();
    for (const v of values) this.int(v);
    return this.tuple();
  }
  /** The persistent id of a storage: ('storage', torch.<type>, key, 'cpu', numel[, view]). */
  storage(type: string, key: string, numel: number | bigint, legacyView?: 'none' | 'view'): this {
    this.mark().str('storage').global('torch', type).str(key).str('cpu');
    if (typeof numel === 'bigint') this.long(numel);
    else this.int(numel);
    if (legacyView === 'none') this.none();
    if (legacyView === 'view') this.mark().str(key).int(0).int(1).tuple();
    return this.tuple().binpersid();
  }
  /** `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())` for a storage pushed by `storage()`. */
  tensor(storage: (b: this) => this, offset: number, size: readonly number[], stride: readonly number[]): this {
    this.global('torch._utils', '_rebuild_tensor_v2').mark();
    storage(this).int(offset).ints(size).ints(stride).bool(false).global('collections', 'OrderedDict').emptyTuple().reduce();
    return this.tuple().reduce();
  }
  bytes(): Uint8Array {
    return new Uint8Array(this.out);
  }
}

/** A stored (uncompressed) zip archive with correct CRCs and a plain end record. */
export function storedZip(entries: readonly (readonly [string, Uint8Array])[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const nameBytes = utf8.encode(name);
    const local = new Uint8Array(30 + nameBytes.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint32(14, crc32(data), true);
    lv.setUint32(18, data.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, nameBytes.length, true);
    local.set(nameBytes, 30);
    const c = new Uint8Array(46 + nameBytes.length);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint32(16, crc32(data), true);
    cv.setUint32(20, data.length, true);
    cv.setUint32(24, data.length, true);
    cv.setUint16(28, nameBytes.length, true);
    cv.setUint32(42, offset, true);
    c.set(nameBytes, 46);
    parts.push(local, data);
    central.push(c);
    offset += local.length + data.length;
  }
  const cdSize = central.reduce((n, c) => n + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  return concat([...parts, ...central, end]);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A torch zip archive: archive/data.pkl, archive/data/<key> for each storage, optional byteorder. */
export function torchZip(pickle: Uint8Array, storages: Record<string, Uint8Array> = {}, byteorder?: string): Uint8Array {
  const entries: [string, Uint8Array][] = [['archive/data.pkl', pickle]];
  if (byteorder !== undefined) entries.push(['archive/byteorder', utf8.encode(byteorder)]);
  for (const [key, data] of Object.entries(storages)) entries.push([`archive/data/${key}`, data]);
  entries.push(['archive/version', utf8.encode('3\n')]);
  return storedZip(entries);
}

/** Float32 values as little-endian bytes. */
export function f32Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

/**
 * A legacy torch file: magic, protocol and sys-info pickles (each replaceable), the main pickle, the storage
 * key list, then each storage as an int64 element count and its bytes.
 */
export function legacyFile(
  main: Uint8Array,
  storages: readonly { key: string; count: bigint; data: Uint8Array }[],
  { magic = 0x1950a86a20f9469cfc6cn, protocol = 1001, keys = storages.map((s) => s.key) }: { magic?: bigint; protocol?: number; keys?: string[] } = {},
): Uint8Array {
  const magicPickle = new PickleBuilder().proto().long(magic).stop().bytes();
  const protocolPickle = new PickleBuilder().proto().int(protocol).stop().bytes();
  const sysInfo = new PickleBuilder().proto().emptyDict().mark().str('protocol_version').int(1001).str('little_endian').bool(true).setitems().stop().bytes();
  const keyList = new PickleBuilder().proto().emptyList().mark();
  for (const k of keys) keyList.str(k);
  const parts = [magicPickle, protocolPickle, sysInfo, main, keyList.appends().stop().bytes()];
  for (const { count, data } of storages) {
    const c = new Uint8Array(8);
    new DataView(c.buffer).setBigInt64(0, count, true);
    parts.push(c, data);
  }
  return concat(parts);
}
