import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ArgumentError, FormatError } from '../../engine/errors.js';
import type { HostTensor } from '../../nn/checkpoint/host-tensor.js';
import { flattenStateDict, isHostTensor, loadTorch, type TorchValue } from '../../nn/checkpoint/torch.js';
import { assertFormatRejection, fixture, fixtureJSON } from '../helpers.js';
import { PickleBuilder, concat, f32Bytes, legacyFile, storedZip, torchZip } from './craft.js';
import { assertTensorMatches, type ExpectedFile } from './expected.js';

const t = suite('checkpoint: torch .pth');

const TORCH_FIXTURES = [
  'ckpt_zip.pth', 'ckpt_legacy.pth', 'ckpt_f16.pth', 'ckpt_bf16.pth', 'ckpt_dtypes.pth', 'ckpt_shared.pth',
  'ckpt_shared_legacy.pth', 'ckpt_nested.pth', 'ckpt_linear.pth', 'ckpt_linear_deflate.pth', 'ckpt_linear_zip64.pth',
];

function at(root: TorchValue, path: readonly (string | number)[]): TorchValue | undefined {
  let v: TorchValue | undefined = root;
  for (const key of path) {
    if (v instanceof Map) v = v.get(key);
    else if (Array.isArray(v) && typeof key === 'number') v = v[key];
    else return undefined;
  }
  return v;
}

function tensorAt(root: TorchValue, path: readonly (string | number)[]): HostTensor {
  const v = at(root, path);
  if (!isHostTensor(v)) throw new Error(`no tensor at ${path.join('/')}`);
  return v;
}

/** JSON form of a non-tensor leaf, as the generator wrote it. */
function plain(v: TorchValue | undefined): unknown {
  if (typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

const rejects = (bytes: Uint8Array, pattern: RegExp): Promise<FormatError> => assertFormatRejection(loadTorch(bytes), pattern);

/** A zip checkpoint whose data.pkl is `body` wrapped in PROTO ... STOP. */
const zipOf = (body: (p: PickleBuilder) => PickleBuilder, storages: Record<string, Uint8Array> = {}, byteorder?: string) =>
  torchZip(body(new PickleBuilder().proto()).stop().bytes(), storages, byteorder);

const floatStorage = (key: string, numel: number | bigint) => (p: PickleBuilder) => p.storage('FloatStorage', key, numel);

t('every fixture matches what torch wrote (tensors and plain values)', async () => {
  const expected = await fixtureJSON<Record<string, ExpectedFile>>('checkpoints_expected.json');
  for (const name of TORCH_FIXTURES) {
    const e = expected[name]!;
    const loaded = await loadTorch(await fixture(name));
    for (const te of e.tensors) assertTensorMatches(tensorAt(loaded, te.path), te);
    for (const { path, value } of e.values) assert.equal(plain(at(loaded, path)), value, `${name}: ${path.join('/')}`);
  }
});

t('shared storage: contiguous views alias it, strided views are copied', async () => {
  const loaded = await loadTorch(await fixture('ckpt_shared.pth'));
  const base = tensorAt(loaded, ['base']);
  const row = tensorAt(loaded, ['row']);
  const flat = tensorAt(loaded, ['flat']);
  assert.is(row.data.buffer, base.data.buffer);
  assert.is(flat.data.buffer, base.data.buffer);
  assert.is(row.data.byteOffset, 16);
  assert.is.not(tensorAt(loaded, ['transposed']).data.buffer, base.data.buffer);
});

t('Blob and Response sources work like bytes', async () => {
  const bytes = await fixture('ckpt_linear.pth');
  for (const src of [new Blob([bytes.slice()]), new Response(bytes.slice())]) {
    const sd = flattenStateDict(await loadTorch(src));
    assert.equal([...sd.keys()], ['weight', 'bias']);
  }
});

t('flattenStateDict unwraps model/state_dict, joins nested names and applies a prefix', async () => {
  const nested = await loadTorch(await fixture('ckpt_nested.pth'));
  assert.equal([...flattenStateDict(nested).keys()], ['encoder.weight', 'encoder.bias']);
  assert.equal([...flattenStateDict(nested, { prefix: 'encoder.' }).keys()], ['weight', 'bias']);
  const w = tensorAt(nested, ['model', 'encoder.weight']);
  const tree: TorchValue = new Map<string | number, TorchValue>([
    ['state_dict', new Map<string | number, TorchValue>([['module', new Map<string | number, TorchValue>([['a', w], ['list', [w, 5]]])]])],
  ]);
  assert.equal([...flattenStateDict(tree).keys()], ['module.a', 'module.list.0']);
  assert.equal([...flattenStateDict(tree, { prefix: 'module.' }).keys()], ['a', 'list.0']);
  const noWrapper: TorchValue = new Map<string | number, TorchValue>([['enc', new Map<string | number, TorchValue>([['w', w]])], ['epoch', 1]]);
  assert.equal([...flattenStateDict(noWrapper).keys()], ['enc.w']);
  const clash: TorchValue = new Map<string | number, TorchValue>([['a.b', w], ['a', new Map<string | number, TorchValue>([['b', w]])]]);
  assert.throws(() => flattenStateDict(clash), (e: unknown) => e instanceof FormatError && /'a.b'/.test((e as Error).message));
  assert.throws(() => flattenStateDict(new Map([['epoch', 3]])), (e: unknown) => e instanceof ArgumentError);
  assert.throws(() => flattenStateDict(nested, { prefix: 'nope.' }), (e: unknown) => e instanceof ArgumentError);
});

t('shared containers are walked once, so doubling nests stay linear', async () => {
  const v = await loadTorch(
    zipOf((p) => {
      p.tensor(floatStorage('0', 1), 0, [1], [1]);
      for (let i = 0; i < 40; i++) p.binput(0).raw(0x30).mark().binget(0).binget(0).raw(0x6c); // [x, x]
      return p;
    }, { 0: f32Bytes([1]) }),
  );
  // The innermost list names the tensor twice (like tied weights); every outer list is walked once.
  const zeros = Array(39).fill('0').join('.');
  assert.equal([...flattenStateDict(v).keys()], [`${zeros}.0`, `${zeros}.1`]);
});

t('refuses dangerous globals by name and offset, via GLOBAL and STACK_GLOBAL', async () => {
  const system = zipOf((p) => p.global('os', 'system').str('echo pwned').raw(0x85).reduce());
  const err = await rejects(system, /refusing global 'os\.system'/);
  assert.ok(err.offset !== undefined && err.offset > 0, 'names an offset');
  await rejects(zipOf((p) => p.stackGlobal('builtins', 'eval').str('1+1').raw(0x85).reduce()), /refusing global 'builtins\.eval'/);
  await rejects(zipOf((p) => p.global('torch', 'load')), /refusing global 'torch\.load'/);
  const legacy = legacyFile(new PickleBuilder().proto().global('subprocess', 'Popen').stop().bytes(), []);
  await rejects(legacy, /refusing global 'subprocess\.Popen'/);
});

t('allowed globals are only usable as intended', async () => {
  await rejects(zipOf((p) => p.global('torch', 'FloatStorage').emptyTuple().reduce()), /torch\.FloatStorage cannot be called/);
  await rejects(zipOf((p) => p.global('collections', 'OrderedDict')), /appears as a plain value/);
  await rejects(zipOf((p) => p.global('collections', 'OrderedDict').mark().int(1).tuple().reduce()), /OrderedDict called with arguments/);
  await rejects(zipOf((p) => p.int(3).emptyTuple().reduce()), /REDUCE on a int/);
  await rejects(zipOf((p) => p.global('collections', 'OrderedDict').int(3).reduce()), /REDUCE arguments are a int/);
  await rejects(zipOf((p) => p.emptyList().emptyDict().build()), /BUILD on a list/);
  await rejects(zipOf((p) => p.global('torch._utils', '_rebuild_parameter').mark().int(1).bool(false).tuple().reduce()), /Parameter data is a int/);
  await rejects(zipOf((p) => p.global('torch._utils', '_rebuild_tensor_v2').mark().int(1).tuple().reduce()), /tensor rebuild arguments/);
  await rejects(zipOf((p) => p.global('torch', 'Size').mark().int(1).tuple().reduce()), /torch\.Size argument/);
});

t('OrderedDict state (BUILD) and torch.Size load as plain values', async () => {
  const v = await loadTorch(
    zipOf((p) => p.global('collections', 'OrderedDict').emptyTuple().reduce().emptyDict().build()
      .str('shape').global('torch', 'Size').mark().ints([2, 3]).tuple().reduce().setitem()),
  );
  assert.equal(v, new Map([['shape', [2, 3]]]));
});

t('__proto__ and constructor keys stay Map keys and pollute nothing', async () => {
  const v = await loadTorch(
    zipOf((p) => p.emptyDict().mark().str('__proto__').emptyDict().str('polluted').bool(true).setitem()
      .str('constructor').str('x').setitems()),
  );
  assert.ok(v instanceof Map);
  assert.equal([...(v as Map<string, TorchValue>).keys()], ['__proto__', 'constructor']);
  assert.is(({} as Record<string, unknown>).polluted, undefined);
});

t('dict keys of other types: numbers stay numbers, the rest become Python-like text', async () => {
  const v = await loadTorch(
    zipOf((p) => p.emptyDict().mark().int(0).str('zero').bool(true).str('one').none().str('none')
      .mark().int(1).str('a').tuple().str('tuple').float(0.5).str('half').setitems()),
  );
  // True == 1 in Python but 0 differs, so True is its own key; its text is 'True'.
  assert.equal(v, new Map<string | number, TorchValue>([[0, 'zero'], ['True', 'one'], ['None', 'none'], ['(1, "a")', 'tuple'], [0.5, 'half']]));
  await rejects(zipOf((p) => p.emptyDict().emptyList().int(1).setitem()), /unsupported dict key type list/);
});

t('shared and self-referencing containers load without looping', async () => {
  const v = await loadTorch(zipOf((p) => p.emptyList().binput(0).binget(0).append()));
  assert.ok(Array.isArray(v) && v[0] === v);
});

t('unknown opcodes, truncation and stack misuse are named', async () => {
  await rejects(zipOf((p) => p.raw(0xff)), /unknown or unsupported opcode 0xff/);
  await rejects(zipOf((p) => p.raw(0x69)), /opcode 0x69 \('i'\)/); // INST: instantiates classes
  await rejects(torchZip(new PickleBuilder().proto().int(1).bytes()), /truncated: pickle ends without STOP/);
  await rejects(torchZip(new PickleBuilder().proto().raw(0x58, 100, 0, 0, 0, 65).bytes()), /truncated: string needs 100 bytes/);
  await rejects(torchZip(new PickleBuilder().proto().raw(0x63, 0x6f, 0x73).bytes()), /GLOBAL name has no newline/);
  await rejects(torchZip(new PickleBuilder().proto(6).none().stop().bytes()), /unsupported pickle protocol 6/);
  await rejects(zipOf((p) => p.append()), /stack underflow/);
  await rejects(zipOf((p) => p.none().raw(0x31)), /no MARK/);
  await rejects(zipOf((p) => p.binget(7)), /memo entry 7 was never stored/);
  await rejects(zipOf((p) => p.int(1).int(2).append()), /APPEND to a int/);
  await rejects(zipOf((p) => p.none().mark().int(2).appends()), /APPENDS to a None/);
  await rejects(zipOf((p) => p.emptyList().str('k').int(2).setitem()), /SETITEM on a list/);
  await rejects(zipOf((p) => p.emptyList().mark().str('k').int(2).setitems()), /SETITEMS on a list/);
  await rejects(zipOf((p) => p.raw(0x32)), /stack underflow/); // DUP
  await rejects(zipOf((p) => p.raw(0x54, 0xff, 0xff, 0xff, 0xff)), /BINSTRING with negative length/);
  await rejects(zipOf((p) => p.emptyDict().mark().int(1).setitems()), /odd number of items for a dict/);
  await rejects(zipOf((p) => p.raw(0x58, 2, 0, 0, 0, 0xc3, 0x28)), /not valid UTF-8/);
  await rejects(zipOf((p) => p.raw(0x8b, 0xff, 0xff, 0xff, 0xff)), /LONG4 with negative length/);
  await rejects(zipOf((p) => p.raw(0x95, 0, 0, 0, 0, 0, 0, 0x40, 0)), /length beyond 2\^53/);
  await rejects(zipOf((p) => p.int(1).int(2).raw(0x93)), /STACK_GLOBAL needs two strings/);
});

t('nesting beyond the depth limit is refused', async () => {
  await rejects(
    zipOf((p) => {
      p.emptyList();
      for (let i = 0; i < 1100; i++) p.emptyList();
      for (let i = 0; i < 1100; i++) p.append();
      return p;
    }),
    /nested deeper than 1000/,
  );
});

t('tensors are checked against their storage before any allocation', async () => {
  const ok = await loadTorch(zipOf((p) => p.tensor(floatStorage('0', 4), 1, [3], [1]), { 0: f32Bytes([1, 2, 3, 4]) }));
  assert.equal(Array.from((ok as HostTensor).data as Float32Array), [2, 3, 4]);
  await rejects(zipOf((p) => p.tensor(floatStorage('0', 4), 2, [3], [1]), { 0: f32Bytes([1, 2, 3, 4]) }), /reaches element 4 of storage '0' with 4/);
  await rejects(zipOf((p) => p.tensor(floatStorage('0', 4), 0, [2, 2], [1]), { 0: f32Bytes([1, 2, 3, 4]) }), /differ in length/);
  await rejects(zipOf((p) => p.tensor(floatStorage('0', 4), -1, [1], [1]), { 0: f32Bytes([1, 2, 3, 4]) }), /storage offset is not a non-negative integer \(got -1\)/);
  await rejects(zipOf((p) => p.tensor(floatStorage('0', 1), 0, [65536, 65536], [0, 0]), { 0: f32Bytes([1]) }), /more than 2\^31 elements/);
  // Zero strides could expand one element to gigabytes: the copy budget stops that before allocating.
  await rejects(zipOf((p) => p.tensor(floatStorage('0', 1), 0, [32768, 32768], [0, 0]), { 0: f32Bytes([1]) }), /expand to more bytes/);
  await rejects(zipOf((p) => p.tensor(floatStorage('0', 2n ** 40n), 0, [1], [1]), { 0: f32Bytes([1]) }), /cannot fit in a \d+-byte file/);
  await rejects(zipOf((p) => p.tensor((b) => b.storage('ComplexFloatStorage', '0', 1), 0, [1], [1])), /refusing global 'torch\.ComplexFloatStorage'/);
  await rejects(zipOf((p) => p.mark().str('storage').tuple().binpersid()), /persistent id is not/);
  await rejects(zipOf((p) => p.mark().str('storage').int(1).str('0').str('cpu').int(1).tuple().binpersid()), /storage type int is not a supported/);
  await rejects(
    zipOf((p) => p.global('torch._utils', '_rebuild_tensor_v2').mark().storage('FloatStorage', '0', 1).int(0).int(1).ints([1]).tuple().reduce(), { 0: f32Bytes([1]) }),
    /size is a int, not a tuple/,
  );
  await rejects(zipOf((p) => p.mark().str('storage').global('torch', 'FloatStorage').int(0).str('cpu').int(1).tuple().binpersid()), /storage key is a int/);
  await rejects(
    zipOf((p) => p.emptyList().tensor(floatStorage('0', 1), 0, [1], [1]).append().tensor((b) => b.storage('IntStorage', '0', 1), 0, [1], [1]).append(), { 0: f32Bytes([1]) }),
    /declared again with a different type or size/,
  );
});

t('storage records: missing, wrong size, and a bare storage value', async () => {
  await rejects(zipOf((p) => p.tensor(floatStorage('7', 1), 0, [1], [1])), /storage record 'archive\/data\/7' is missing/);
  await rejects(zipOf((p) => p.tensor(floatStorage('0', 2), 0, [1], [1]), { 0: f32Bytes([1]) }), /has 4 bytes, 2 f32 elements need 8/);
  const bare = await loadTorch(zipOf((p) => floatStorage('0', 2)(p), { 0: f32Bytes([5, 6]) }));
  assert.equal([(bare as HostTensor).shape, Array.from((bare as HostTensor).data as Float32Array)], [[2], [5, 6]]);
});

t('byteorder record: big-endian storages are swapped, unknown orders refused', async () => {
  const bigEndian = new Uint8Array(8);
  new DataView(bigEndian.buffer).setFloat32(0, 1.5, false);
  new DataView(bigEndian.buffer).setFloat32(4, -2, false);
  const v = await loadTorch(zipOf((p) => p.tensor(floatStorage('0', 2), 0, [2], [1]), { 0: bigEndian }, 'big'));
  assert.equal(Array.from((v as HostTensor).data as Float32Array), [1.5, -2]);
  await rejects(zipOf((p) => p.none(), {}, 'middle'), /says 'middle'/);
});

t('zip structure errors', async () => {
  const good = await fixture('ckpt_linear.pth');
  await rejects(new Uint8Array([0x50, 0x4b, 3, 4, 0, 0]), /no end-of-central-directory/);
  await rejects(storedZip([['model/weights.bin', new Uint8Array(4)]]), /no data\.pkl record/);
  await rejects(storedZip([['a/data.pkl', new Uint8Array(1)], ['b/data.pkl', new Uint8Array(1)]]), /several data\.pkl/);
  await rejects(storedZip([['x', new Uint8Array(1)], ['x', new Uint8Array(1)]]), /duplicate entry 'x'/);

  const eocd = (bytes: Uint8Array) => bytes.length - 22;
  const cdOffset = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset).getUint32(eocd(bytes) + 16, true);
  /** Offset of the second central-directory record (after the first one's name, extra field and comment). */
  const secondCentral = (b: Uint8Array, v: DataView) =>
    cdOffset(b) + 46 + v.getUint16(cdOffset(b) + 28, true) + v.getUint16(cdOffset(b) + 30, true) + v.getUint16(cdOffset(b) + 32, true);
  /** Offset of the first entry's data, just past its local header. */
  const firstData = (v: DataView) => 30 + v.getUint16(26, true) + v.getUint16(28, true);
  const edit = (fn: (b: Uint8Array, v: DataView) => void): Uint8Array => {
    const b = good.slice();
    fn(b, new DataView(b.buffer));
    return b;
  };
  await rejects(edit((b, v) => v.setUint32(eocd(b) + 16, b.length, true)), /central directory .* overlaps the end record/);
  await rejects(edit((b, v) => (v.setUint16(eocd(b) + 8, 500, true), v.setUint16(eocd(b) + 10, 500, true))), /cannot fit a \d+-byte central directory/);
  await rejects(edit((b, v) => v.setUint16(eocd(b) + 4, 1, true)), /multi-disk/);
  await rejects(edit((b, v) => v.setUint32(cdOffset(b), 0, true)), /entry 0 is missing or has a bad signature/);
  await rejects(edit((b, v) => v.setUint16(cdOffset(b) + 8, 1, true)), /is encrypted/);
  await rejects(edit((b, v) => v.setUint16(cdOffset(b) + 10, 12, true)), /unsupported compression method 12/);
  await rejects(edit((b, v) => v.setUint32(cdOffset(b) + 20, 1, true)), /compressed size 1 but size/);
  await rejects(edit((b) => (b[30] ^= 1)), /local header name differs/);
  await rejects(edit((b, v) => v.setUint32(cdOffset(b) + 42, b.length, true)), /lies outside the \d+-byte file/);
  // The second entry pointing at the first entry's local header would read the same bytes twice.
  await rejects(edit((b, v) => v.setUint32(secondCentral(b, v) + 42, 0, true)), /overlaps entry/);
  await rejects(edit((b, v) => v.setUint32(v.getUint32(secondCentral(b, v) + 42, true), 0x12345678, true)), /local header of .* has a bad signature/);
  await rejects(edit((b, v) => (b[firstData(v)] ^= 0xff)), /CRC-32 mismatch/);
  await rejects(edit((b, v) => v.setUint16(cdOffset(b) + 32, 0xffff, true)), /entry 0 runs past the directory/);
  await rejects(
    edit((b, v) => (v.setUint32(cdOffset(b) + 20, cdOffset(b), true), v.setUint32(cdOffset(b) + 24, cdOffset(b), true))),
    /runs into the central directory/,
  );
});

t('ZIP64 records: locator, end record, extra fields', async () => {
  const good = await fixture('ckpt_linear_zip64.pth');
  const locator = good.length - 22 - 20;
  const edit = (fn: (v: DataView, end64: number, cd: number) => void): Uint8Array => {
    const b = good.slice();
    const v = new DataView(b.buffer);
    const end64 = Number(v.getBigUint64(locator + 8, true));
    fn(v, end64, Number(v.getBigUint64(end64 + 48, true)));
    return b;
  };
  await rejects(edit((v) => v.setUint32(locator, 0, true)), /ZIP64 end locator missing/);
  await rejects(edit((v, end64) => v.setUint32(end64, 0, true)), /ZIP64 end record signature missing/);
  await rejects(edit((v) => v.setUint32(locator + 12, 0x00200000, true)), /ZIP64 end record offset is beyond 2\^53/);
  await rejects(edit((v) => v.setUint32(locator + 8, good.length, true)), /ZIP64 end record .* lies outside/);
  // The first central record's ZIP64 extra field (id 1) starts after its 46-byte header and name.
  const extraOf = (v: DataView, cd: number) => cd + 46 + v.getUint16(cd + 28, true);
  await rejects(edit((v, _, cd) => v.setUint16(extraOf(v, cd) + 2, 8, true)), /ZIP64 field of '.*' lacks the compressed size/);
  await rejects(edit((v, _, cd) => v.setUint16(extraOf(v, cd) + 2, 100, true)), /extra field of '.*' runs past its record/);
});

t('deflate entries: corrupt data and impossible sizes are refused', async () => {
  const good = await fixture('ckpt_linear_deflate.pth');
  const v = new DataView(good.buffer, good.byteOffset);
  const cd = v.getUint32(good.length - 22 + 16, true);
  const corrupt = good.slice();
  corrupt[30 + v.getUint16(26, true) + v.getUint16(28, true)] = 0xff; // an invalid block type
  await rejects(corrupt, /deflate data of .* is corrupt|CRC-32 mismatch|inflates to/);
  const bomb = good.slice();
  new DataView(bomb.buffer).setUint32(cd + 24, 0x7fffffff, true);
  await rejects(bomb, /more than deflate can produce/);
  const short = good.slice();
  new DataView(short.buffer).setUint32(cd + 24, 1, true);
  await rejects(short, /inflates to more than its declared 1 bytes/);
  const long = good.slice();
  const lv = new DataView(long.buffer);
  lv.setUint32(cd + 24, lv.getUint32(cd + 24, true) + 1, true);
  await rejects(long, /inflates to \d+ bytes, not its declared/);
});

t('legacy format: header pickles, storage records and a main pickle larger than the first read window', async () => {
  const tensorPickle = (key = '0') => new PickleBuilder().proto().tensor((b) => b.storage('FloatStorage', key, 2, 'none'), 0, [2], [1]).stop().bytes();
  const storage = { key: '0', count: 2n, data: f32Bytes([3, 4]) };
  const v = await loadTorch(legacyFile(tensorPickle(), [storage]));
  assert.equal(Array.from((v as HostTensor).data as Float32Array), [3, 4]);

  const padding = 'x'.repeat(200_000);
  const big = new PickleBuilder().proto().mark().str(padding).tensor((b) => b.storage('FloatStorage', '0', 2, 'none'), 0, [2], [1]).tuple().stop().bytes();
  const loaded = (await loadTorch(legacyFile(big, [storage]))) as TorchValue[];
  assert.is(loaded[0], padding);
  assert.equal(Array.from((loaded[1] as HostTensor).data as Float32Array), [3, 4]);

  await rejects(legacyFile(tensorPickle(), [storage], { magic: 12345n }), /bad magic number/);
  await rejects(legacyFile(tensorPickle(), [storage], { protocol: 1000 }), /legacy protocol version 1000/);
  await rejects(legacyFile(tensorPickle(), [{ ...storage, count: 3n }]), /has 3 elements in the file, 2 in its persistent id/);
  await rejects(legacyFile(tensorPickle(), [{ ...storage, data: f32Bytes([3]) }]), /truncated: storage '0' needs 8 bytes/);
  await rejects(legacyFile(tensorPickle(), [], { keys: ['0'] }), /storage '0' element count is missing/);
  await rejects(legacyFile(tensorPickle(), [storage], { keys: ['0', '0'] }), /listed twice/);
  await rejects(legacyFile(tensorPickle(), [storage], { keys: ['9'] }), /storage '9' is listed but no tensor uses it/);
  await rejects(legacyFile(tensorPickle(), [], { keys: [] }), /storage '0' is used but its data is missing/);
  const view = new PickleBuilder().proto().tensor((b) => b.storage('FloatStorage', '0', 2, 'view'), 0, [2], [1]).stop().bytes();
  await rejects(legacyFile(view, [storage]), /legacy storage view/);
  const noSysInfo = concat([
    new PickleBuilder().proto().long(0x1950a86a20f9469cfc6cn).stop().bytes(),
    new PickleBuilder().proto().int(1001).stop().bytes(),
    new PickleBuilder().proto().emptyDict().stop().bytes(),
  ]);
  await rejects(noSysInfo, /sys info lacks little_endian/);
  const keysNotList = legacyFile(tensorPickle(), []).slice(0, -new PickleBuilder().proto().emptyList().mark().appends().stop().bytes().length);
  await rejects(concat([keysNotList, new PickleBuilder().proto().int(1).stop().bytes()]), /storage key list is not a list of strings/);
});

t('files that are neither format', async () => {
  await rejects(new Uint8Array([1, 2]), /too few for a checkpoint/);
  await rejects(new TextEncoder().encode('hello world'), /neither a zip nor a legacy/);
});

t.run();
