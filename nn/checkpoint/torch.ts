/**
 * PyTorch checkpoint reader (`torch.save` output, .pth/.pt/.bin) without Python.
 *
 * Formats:
 * - zip (torch >= 1.6): `<prefix>/data.pkl` holds the pickled object; each storage is the record
 *   `<prefix>/data/<key>`; an optional `<prefix>/byteorder` says 'little' or 'big'.
 * - legacy (`_use_new_zipfile_serialization=False`): consecutive pickles — magic number, protocol version,
 *   sys info, the object, the list of storage keys — then each storage as an 8-byte element count and its bytes.
 * In both, tensors are pickled as `_rebuild_tensor_v2(storage, offset, size, stride, ...)` calls whose storage is
 * a persistent id `('storage', torch.XStorage, key, location, numel)`; legacy ids add a sixth field for storage
 * views, None since torch 1.0 (views themselves are refused).
 *
 * Safety rules: the unpickler (pickle.ts) never evaluates anything and resolves only the globals listed in
 * ALLOWED_GLOBALS. Before any allocation, storage sizes are checked against the bytes that hold them and
 * the file size (and 2^31 elements), and each tensor's offset, sizes and strides must stay inside its storage.
 * Non-contiguous tensors are copied, with the total copied bytes bounded by the file size, so a tiny file
 * cannot ask for gigabytes through zero strides. Nesting deeper than MAX_DEPTH is refused. Dict keys from
 * the file become Map keys only.
 */
import { expectOptions } from '../../engine/arguments.js';
import { ArgumentError, FormatError } from '../../engine/errors.js';
import { openBytes, type ByteSource } from '../../engine/platform.js';
import {
  ITEMSIZE, allocData, decodeData, hostTensor, numel,
  type CheckpointSource, type HostData, type HostDType, type HostTensor,
} from './host-tensor.js';
import { PickleTruncatedError, PyDict, PyGlobal, PyList, PyTuple, describe, unpickle, type GlobalFn, type PickleValue } from './pickle.js';
import { openZip } from './zip.js';

/** What a checkpoint holds: tensors, dicts (OrderedDict included), lists and tuples (as arrays), scalars. */
export type TorchValue =
  | null | boolean | number | bigint | string | Uint8Array | HostTensor
  | TorchValue[] | Map<string | number, TorchValue>;

const MAX_ELEMENTS = 2 ** 31;
const MAX_DEPTH = 1000;
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

const STORAGE_DTYPE: ReadonlyMap<string, HostDType> = new Map([
  ['FloatStorage', 'f32'], ['HalfStorage', 'f16'], ['BFloat16Storage', 'bf16'], ['DoubleStorage', 'f64'],
  ['LongStorage', 'i64'], ['IntStorage', 'i32'], ['ShortStorage', 'i16'], ['CharStorage', 'i8'],
  ['ByteStorage', 'u8'], ['BoolStorage', 'bool'],
]);

/** A storage named by a persistent id. */
class StorageRef {
  constructor(readonly key: string, readonly dtype: HostDType, readonly numel: number) {}
}

/** A tensor view of a storage, materialized once the storage bytes are loaded. */
class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: readonly number[],
    readonly stride: readonly number[],
    readonly at: number,
  ) {}
}

type Ref = StorageRef | TensorRef;
type Value = PickleValue<Ref>;

function fail(msg: string, at?: number): never {
  throw new FormatError(`loadTorch: ${msg}`, at);
}

function intArg(v: Value, what: string, at: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    fail(`${what} is not a non-negative integer (got ${typeof v === 'number' ? v : describe(v)})`, at);
  return v as number;
}

function intTuple(v: Value, what: string, at: number): number[] {
  if (!(v instanceof PyTuple)) return fail(`${what} is a ${describe(v)}, not a tuple`, at);
  return v.items.map((item, i) => intArg(item, `${what}[${i}]`, at));
}

/** `_rebuild_tensor_v2(storage, storage_offset, size, stride, ...)`: validated against the storage now. */
function rebuildTensor(args: readonly Value[], at: number): TensorRef {
  const [storage, offsetArg, sizeArg, strideArg] = args;
  if (args.length < 4 || !(storage instanceof StorageRef)) return fail('tensor rebuild arguments are not (storage, offset, size, stride, ...)', at);
  const offset = intArg(offsetArg!, 'storage offset', at);
  const size = intTuple(sizeArg!, 'size', at);
  const stride = intTuple(strideArg!, 'stride', at);
  if (size.length !== stride.length) fail(`size [${size}] and stride [${stride}] differ in length`, at);
  let count = 1;
  let last = offset;
  for (let i = 0; i < size.length; i++) {
    count *= size[i]!;
    last += (size[i]! - 1) * stride[i]!;
    if (count > MAX_ELEMENTS) fail(`tensor of size [${size}] has more than 2^31 elements`, at);
  }
  if (count > 0 && last >= storage.numel)
    fail(`tensor (offset ${offset}, size [${size}], stride [${stride}]) reaches element ${last} of storage '${storage.key}' with ${storage.numel}`, at);
  return new TensorRef(storage, offset, size, stride, at);
}

function parameterData(args: readonly Value[], at: number): TensorRef {
  if (!(args[0] instanceof TensorRef)) return fail(`Parameter data is a ${describe(args[0] ?? null)}, not a tensor`, at);
  return args[0];
}

const notCallable = (name: string): GlobalFn<Ref> => (_args, at) => fail(`${name} cannot be called`, at);

/** The only globals a checkpoint may name. Each builds plain data; none runs anything from the file. */
const ALLOWED_GLOBALS: ReadonlyMap<string, GlobalFn<Ref>> = new Map<string, GlobalFn<Ref>>([
  ['collections.OrderedDict', (args, at) => (args.length === 0 ? new PyDict<Ref>() : fail('OrderedDict called with arguments', at))],
  ['torch._utils._rebuild_tensor', rebuildTensor],
  ['torch._utils._rebuild_tensor_v2', rebuildTensor],
  ['torch._utils._rebuild_parameter', parameterData],
  ['torch._utils._rebuild_parameter_with_state', parameterData],
  ['torch.Size', (args, at) => (args[0] instanceof PyTuple ? args[0] : fail('torch.Size argument is not a tuple', at))],
  ...[...STORAGE_DTYPE.keys()].map((name): [string, GlobalFn<Ref>] => [`torch.${name}`, notCallable(`torch.${name}`)]),
]);

/**
 * Turns persistent ids into StorageRefs, checking each storage's size against the file before anything is
 * read, and that a key always names the same storage.
 */
class StorageRegistry {
  readonly roots = new Map<string, StorageRef>();
  constructor(private readonly fileSize: number) {}

  load = (pid: Value, at: number): Value => {
    if (!(pid instanceof PyTuple) || pid.items[0] !== 'storage' || (pid.items.length !== 5 && pid.items.length !== 6))
      return fail(`persistent id is not ('storage', type, key, location, size[, view])`, at);
    const [, type, keyArg, , sizeArg, view = null] = pid.items;
    const dtype = type instanceof PyGlobal && type.module === 'torch' ? STORAGE_DTYPE.get(type.name) : undefined;
    if (!dtype) return fail(`storage type ${describe(type!)} is not a supported torch storage`, at);
    if (typeof keyArg !== 'string') return fail(`storage key is a ${describe(keyArg!)}, not a string`, at);
    // Legacy files carry a sixth field for storage views, which torch itself stopped writing in 1.0.
    if (view !== null) fail(`storage '${keyArg}' is a legacy storage view, which is not supported`, at);
    const count = intArg(sizeArg!, `size of storage '${keyArg}'`, at);
    if (count > MAX_ELEMENTS || count * ITEMSIZE[dtype] > this.fileSize)
      fail(`storage '${keyArg}' of ${count} ${dtype} elements cannot fit in a ${this.fileSize}-byte file`, at);
    const known = this.roots.get(keyArg);
    if (known && (known.dtype !== dtype || known.numel !== count))
      fail(`storage '${keyArg}' is declared again with a different type or size`, at);
    const ref = known ?? new StorageRef(keyArg, dtype, count);
    this.roots.set(keyArg, ref);
    return ref;
  };
}

/** Python-repr-like text for dict keys that are neither strings nor numbers. */
function keyText(k: Value): string {
  if (k === null) return 'None';
  if (typeof k === 'boolean') return k ? 'True' : 'False';
  if (typeof k === 'bigint') return String(k);
  if (typeof k === 'string') return JSON.stringify(k);
  if (k instanceof PyTuple) return `(${k.items.map(keyText).join(', ')}${k.items.length === 1 ? ',' : ''})`;
  return String(k);
}

/** Converts the unpickled tree to TorchValues, materializing tensors; shared and cyclic objects stay shared. */
function convert(root: Value, storages: ReadonlyMap<string, HostData>, copyBudget: number): TorchValue {
  const done = new Map<object, TorchValue>();
  let budget = copyBudget;

  const tensor = (ref: TensorRef): HostTensor => {
    const { storage, size, stride, at } = ref;
    const data = storages.get(storage.key)!;
    const start = ref.offset;
    const count = numel(size);
    let contiguous = true;
    for (let i = size.length - 1, expected = 1; i >= 0; expected *= size[i]!, i--)
      if (size[i] !== 1 && stride[i] !== expected) contiguous = false;
    if (contiguous || count === 0) return hostTensor(storage.dtype, size, data.subarray(start, start + count));
    budget -= count * ITEMSIZE[storage.dtype];
    if (budget < 0) fail(`strided tensors expand to more bytes than the file could reasonably describe`, at);
    const out = allocData(storage.dtype, count);
    stridedCopy(data, start, size, stride, out);
    return hostTensor(storage.dtype, size, out);
  };

  const visit = (v: Value, depth: number): TorchValue => {
    if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return v;
    const seen = done.get(v);
    if (seen !== undefined) return seen;
    if (depth > MAX_DEPTH) fail(`objects nested deeper than ${MAX_DEPTH} levels`);
    if (v instanceof TensorRef) {
      const t = tensor(v);
      done.set(v, t);
      return t;
    }
    if (v instanceof StorageRef) {
      const whole = new TensorRef(v, 0, [v.numel], [1], 0);
      const t = tensor(whole);
      done.set(v, t);
      return t;
    }
    if (v instanceof PyTuple || v instanceof PyList) {
      const out: TorchValue[] = [];
      done.set(v, out); // registered before filling, so a list that contains itself terminates
      for (const item of v.items) out.push(visit(item, depth + 1));
      return out;
    }
    if (v instanceof PyDict) {
      const out = new Map<string | number, TorchValue>();
      done.set(v, out);
      for (const { key, value } of v.entries.values())
        out.set(typeof key === 'string' || typeof key === 'number' ? key : keyText(key), visit(value, depth + 1));
      return out;
    }
    // Only a global is left, such as a class pickled by reference.
    return fail(`global '${v.module}.${v.name}' appears as a plain value, which is not supported`);
  };
  return visit(root, 0);
}

type Indexable = { [index: number]: number | bigint };

/** Copies a strided view into a contiguous row-major array (odometer over all but the last dimension). */
function stridedCopy(src: HostData, start: number, size: readonly number[], stride: readonly number[], out: HostData): void {
  const from = src as Indexable;
  const to = out as Indexable;
  const rank = size.length;
  const inner = size[rank - 1]!;
  const innerStride = stride[rank - 1]!;
  const index = new Array<number>(rank).fill(0);
  let base = start;
  for (let written = 0; written < out.length; ) {
    for (let j = 0, s = base; j < inner; j++, s += innerStride) to[written++] = from[s]!;
    // Advance the odometer over dimensions rank-2 .. 0.
    for (let d = rank - 2; d >= 0; d--) {
      index[d]!++;
      base += stride[d]!;
      if (index[d]! < size[d]!) break;
      base -= stride[d]! * size[d]!;
      index[d] = 0;
    }
  }
}

/** Copy budget for strided tensors: the file's size twice over, plus slack for small files. */
const copyBudgetFor = (fileSize: number): number => 2 * fileSize + 64 * 2 ** 20;

async function loadZip(source: ByteSource): Promise<TorchValue> {
  const zip = await openZip(source);
  const pickles = [...zip.entries.keys()].filter((n) => /^([^/]+\/)?data\.pkl$/.test(n));
  if (pickles.length !== 1)
    fail(pickles.length ? `archive has several data.pkl records (${pickles.join(', ')})` : 'archive has no data.pkl record: not a torch.save file');
  const pickleName = pickles[0]!;
  const prefix = pickleName.slice(0, -'data.pkl'.length);
  const byteorderEntry = zip.entries.get(`${prefix}byteorder`);
  let littleEndian = true;
  if (byteorderEntry) {
    const order = new TextDecoder().decode(await zip.read(byteorderEntry));
    if (order !== 'little' && order !== 'big') fail(`record ${prefix}byteorder says '${order}', not 'little' or 'big'`);
    littleEndian = order === 'little';
  }
  const registry = new StorageRegistry(source.size);
  const pickleEntry = zip.entries.get(pickleName)!;
  const { value } = unpickle(await zip.read(pickleEntry), 0, {
    globals: ALLOWED_GLOBALS, persistentLoad: registry.load, label: `loadTorch: ${pickleName}`, baseOffset: pickleEntry.dataOffset,
  });

  const storages = new Map<string, HostData>();
  for (const ref of registry.roots.values()) {
    const name = `${prefix}data/${ref.key}`;
    const entry = zip.entries.get(name);
    if (!entry) fail(`storage record '${name}' is missing`);
    const bytes = ref.numel * ITEMSIZE[ref.dtype];
    if (entry!.size !== bytes) fail(`storage record '${name}' has ${entry!.size} bytes, ${ref.numel} ${ref.dtype} elements need ${bytes}`, entry!.dataOffset);
    storages.set(ref.key, decodeData(ref.dtype, await zip.read(entry!), littleEndian));
  }
  return convert(value, storages, copyBudgetFor(source.size));
}

/**
 * Unpickles the pickle at `offset`, reading a window of the file that grows until the pickle fits, so the
 * storages that follow a legacy pickle are not read into memory with it. Each try gets a fresh registry.
 */
async function pickleAt(
  source: ByteSource,
  offset: number,
  label: string,
): Promise<{ value: Value; end: number; registry: StorageRegistry }> {
  for (let window = 1 << 16; ; window *= 4) {
    const length = Math.min(window, source.size - offset);
    const registry = new StorageRegistry(source.size);
    try {
      const chunk = await source.read(offset, length);
      const { value, end } = unpickle(chunk, 0, { globals: ALLOWED_GLOBALS, persistentLoad: registry.load, label, baseOffset: offset });
      return { value, end: offset + end, registry };
    } catch (err) {
      if (!(err instanceof PickleTruncatedError) || offset + length >= source.size) throw err;
    }
  }
}

async function loadLegacy(source: ByteSource): Promise<TorchValue> {
  const magic = await pickleAt(source, 0, 'loadTorch: magic number');
  if (magic.value !== LEGACY_MAGIC) fail('bad magic number: not a torch.save file', 0);
  const protocol = await pickleAt(source, magic.end, 'loadTorch: protocol version');
  if (protocol.value !== LEGACY_PROTOCOL) fail(`unsupported legacy protocol version ${String(protocol.value)}`, magic.end);
  const sysInfo = await pickleAt(source, protocol.end, 'loadTorch: sys info');
  const littleEndian = sysInfo.value instanceof PyDict ? sysInfo.value.get('little_endian') : undefined;
  if (typeof littleEndian !== 'boolean') return fail('sys info lacks little_endian', protocol.end);
  const main = await pickleAt(source, sysInfo.end, 'loadTorch: data pickle');
  const { registry } = main;
  const keys = await pickleAt(source, main.end, 'loadTorch: storage keys');
  if (!(keys.value instanceof PyList) || !keys.value.items.every((k) => typeof k === 'string'))
    fail('storage key list is not a list of strings', main.end);

  const storages = new Map<string, HostData>();
  let at = keys.end;
  for (const key of (keys.value as PyList<Ref>).items as string[]) {
    const ref = registry.roots.get(key);
    if (!ref) fail(`storage '${key}' is listed but no tensor uses it`, at);
    if (storages.has(key)) fail(`storage '${key}' is listed twice`, at);
    if (at + 8 > source.size) fail(`truncated: storage '${key}' element count is missing`, at);
    const countBytes = await source.read(at, 8);
    const count = new DataView(countBytes.buffer, countBytes.byteOffset, 8).getBigInt64(0, littleEndian);
    if (count !== BigInt(ref!.numel)) fail(`storage '${key}' has ${count} elements in the file, ${ref!.numel} in its persistent id`, at);
    const bytes = ref!.numel * ITEMSIZE[ref!.dtype];
    if (at + 8 + bytes > source.size) fail(`truncated: storage '${key}' needs ${bytes} bytes after offset ${at + 8}`, at);
    storages.set(key, decodeData(ref!.dtype, await source.read(at + 8, bytes), littleEndian));
    at += 8 + bytes;
  }
  for (const key of registry.roots.keys()) if (!storages.has(key)) fail(`storage '${key}' is used but its data is missing`, at);
  return convert(main.value, storages, copyBudgetFor(source.size));
}

/**
 * Loads a `torch.save` file (zip or legacy format) from a path, URL, Blob, Response or bytes. Tensors come
 * back as HostTensors (contiguous views share their storage's memory, as in torch); dicts as Maps.
 */
export async function loadTorch(src: CheckpointSource): Promise<TorchValue> {
  const source = await openBytes(src, 'loadTorch');
  try {
    if (source.size < 4) fail(`${source.name} has ${source.size} bytes, too few for a checkpoint`, 0);
    const head = await source.read(0, 4);
    if (head[0] === 0x50 && head[1] === 0x4b) return await loadZip(source); // 'PK'
    if (head[0] === 0x80) return await loadLegacy(source); // pickle PROTO opcode
    return fail(`${source.name} is neither a zip nor a legacy torch.save file (starts with ${[...head].map((b) => b.toString(16).padStart(2, '0')).join(' ')})`, 0);
  } finally {
    await source.close();
  }
}

export function isHostTensor(v: TorchValue | undefined): v is HostTensor {
  return typeof v === 'object' && v !== null && !(v instanceof Map) && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Keys under which training scripts commonly nest the model's state dict, tried in this order. */
const WRAPPER_KEYS = ['state_dict', 'model_state_dict', 'model', 'module', 'net'];

/**
 * Finds the state dict in a loaded checkpoint and flattens it to name -> tensor. A top-level dict with one
 * of WRAPPER_KEYS holding a dict is unwrapped first; nested dicts and lists are joined with dots ('a.b.0');
 * non-tensor leaves (epoch counters, strings) are skipped. A tensor listed under two names (tied weights)
 * appears under both; a container reachable along two paths is walked only along the first. With `prefix`,
 * only names starting with it are kept, with the prefix removed (e.g. 'module.' from DataParallel checkpoints).
 */
export function flattenStateDict(value: TorchValue, options: { prefix?: string } = {}): Map<string, HostTensor> {
  expectOptions('flattenStateDict', options, ['prefix']);
  const { prefix = '' } = options;
  let root = value;
  if (root instanceof Map) {
    for (const key of WRAPPER_KEYS) {
      const inner = root.get(key);
      if (inner instanceof Map) {
        root = inner;
        break;
      }
    }
  }
  const out = new Map<string, HostTensor>();
  // Each container is walked once: re-walking shared containers could take exponential time on a hostile
  // file (a list holding the same list twice, nested 40 deep) and would only repeat the same tensors.
  const walked = new Set<object>();
  const walk = (v: TorchValue, name: string): void => {
    if (isHostTensor(v)) {
      if (!name.startsWith(prefix)) return;
      const key = name.slice(prefix.length);
      if (out.has(key)) throw new FormatError(`flattenStateDict: two tensors flatten to the name '${key}'`);
      out.set(key, v);
      return;
    }
    if (!(v instanceof Map) && !Array.isArray(v)) return;
    if (walked.has(v)) return;
    walked.add(v);
    const entries: Iterable<[string | number, TorchValue]> = v instanceof Map ? v : v.entries();
    for (const [k, child] of entries) walk(child, name ? `${name}.${k}` : String(k));
  };
  walk(root, '');
  if (out.size === 0) throw new ArgumentError(`flattenStateDict: no tensors found${prefix ? ` under prefix '${prefix}'` : ''}`);
  return out;
}
