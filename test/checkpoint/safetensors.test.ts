import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ArgumentError, DTypeError, FormatError, ShapeError } from '../../engine/errors.js';
import { hostTensor, toFloat32, type HostTensor } from '../../nn/checkpoint/host-tensor.js';
import { openSafetensors, readSafetensors, writeSafetensors } from '../../nn/checkpoint/safetensors.js';
import { assertFormatRejection, fixture, fixtureJSON } from '../helpers.js';
import { assertTensorMatches, type ExpectedFile } from './expected.js';

const t = suite('checkpoint: safetensors');
const utf8 = new TextEncoder();

/** safetensors bytes from a header object and a data buffer, padded like the spec asks. */
function craft(header: unknown, data: Uint8Array = new Uint8Array(0), headerText = JSON.stringify(header)): Uint8Array {
  const json = utf8.encode(headerText);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const rejects = (bytes: Uint8Array, pattern: RegExp): Promise<FormatError> => assertFormatRejection(readSafetensors(bytes), pattern);

t('reads the hand-made fixture (every dtype) in file order with metadata', async () => {
  const expected = (await fixtureJSON<Record<string, ExpectedFile>>('checkpoints_expected.json'))['handmade.safetensors']!;
  const { tensors, metadata } = await readSafetensors(await fixture('handmade.safetensors'));
  assert.equal([...tensors.keys()], expected.tensors.map((e) => e.path[0]));
  for (const e of expected.tensors) assertTensorMatches(tensors.get(e.path[0] as string)!, e);
  assert.equal([...metadata], [['format', 'pt'], ['note', 'hand-made']]);
});

t('lazy API lists keys, describes and reads single tensors, and refuses unknown names', async () => {
  const file = await openSafetensors(new Blob([(await fixture('handmade.safetensors')).slice()]));
  assert.is(file.keys()[0], 'weight');
  const info = file.info('half');
  assert.equal([info.dtype, info.shape, info.byteLength], ['f16', [3], 6]);
  assert.equal(Array.from(toFloat32(await file.read('weight'))), [1, -2, 0.5, 3.25]);
  assert.throws(() => file.info('missing'), (e: unknown) => e instanceof ArgumentError && /'missing'/.test((e as Error).message));
  await file.close();
  let caught: unknown;
  await file.read('weight').catch((err: unknown) => (caught = err));
  assert.instance(caught, ArgumentError, 'read after close');
});

t('write -> read round trip keeps every dtype, shape, value, order and metadata', async () => {
  const tensors = new Map<string, HostTensor>([
    ['z.last-written-first', hostTensor('f32', [2, 3], new Float32Array([1, 2, 3, -4, 5.5, Infinity]))],
    ['half', hostTensor('f16', [2], new Uint16Array([0x3c00, 0x7e00]))],
    ['bf', hostTensor('bf16', [1], new Uint16Array([0x4049]))],
    ['d', hostTensor('f64', [1], new Float64Array([Math.PI]))],
    ['i', hostTensor('i32', [], new Int32Array([-7]))],
    ['l', hostTensor('i64', [2], new BigInt64Array([2n ** 62n, -1n]))],
    ['u', hostTensor('u8', [3], new Uint8Array([0, 1, 255]))],
    ['s8', hostTensor('i8', [1], new Int8Array([-100]))],
    ['s16', hostTensor('i16', [1], new Int16Array([-30000]))],
    ['b', hostTensor('bool', [2], new Uint8Array([1, 0]))],
    ['empty', hostTensor('f32', [0, 5], new Float32Array(0))],
    ['12', hostTensor('f32', [1], new Float32Array([12]))], // an integer-like name keeps its place
  ]);
  const bytes = writeSafetensors(tensors, { format: 'pt', 'ключ': 'значение' });
  const headerSize = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.is((8 + headerSize) % 8, 0, 'data starts 8-byte aligned');
  const { tensors: back, metadata } = await readSafetensors(bytes);
  assert.equal([...back.keys()], [...tensors.keys()]);
  for (const [name, h] of tensors) {
    const r = back.get(name)!;
    assert.is(r.dtype, h.dtype, name);
    assert.equal(r.shape, h.shape, name);
    assert.equal(Array.from(r.data as ArrayLike<unknown>), Array.from(h.data as ArrayLike<unknown>), name);
  }
  assert.is(metadata.get('ключ'), 'значение');
  // A Record works too, and the result is accepted by the same reader.
  const fromRecord = writeSafetensors({ a: hostTensor('f32', [1], new Float32Array([3])) });
  assert.equal(Array.from((await readSafetensors(fromRecord)).tensors.get('a')!.data as Float32Array), [3]);
});

t('names like __proto__ and constructor are ordinary keys and pollute nothing', async () => {
  const header =
    '{"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},' +
    '"constructor":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"__metadata__":{"__proto__":"x"}}';
  const bytes = craft(null, new Uint8Array([7, 9]), header);
  const { tensors, metadata } = await readSafetensors(bytes);
  assert.equal([...tensors.keys()], ['__proto__', 'constructor']);
  assert.equal(Array.from(tensors.get('__proto__')!.data as Uint8Array), [7]);
  assert.is(metadata.get('__proto__'), 'x');
  assert.is(({} as Record<string, unknown>).dtype, undefined);
  const rewritten = writeSafetensors(tensors);
  assert.equal([...(await readSafetensors(rewritten)).tensors.keys()], ['__proto__', 'constructor']);
  assert.is(({} as Record<string, unknown>).dtype, undefined);
});

t('every truncation of a valid file is a FormatError', async () => {
  const bytes = await fixture('handmade.safetensors');
  for (let n = 0; n < bytes.length; n++) {
    let caught: unknown;
    await readSafetensors(bytes.subarray(0, n)).catch((err: unknown) => (caught = err));
    assert.instance(caught, FormatError, `truncated to ${n} bytes`);
  }
});

t('header length problems', async () => {
  await rejects(new Uint8Array(5), /fewer than the 8-byte header length/);
  const tooLong = craft({});
  new DataView(tooLong.buffer).setUint32(0, 1000, true);
  await rejects(tooLong, /header length 1000 does not fit/);
  const huge = craft({});
  new DataView(huge.buffer).setUint32(4, 1, true);
  await rejects(huge, /does not fit/);
});

t('malformed header JSON', async () => {
  await rejects(craft(null, undefined, '{"a": '), /not valid UTF-8 JSON/);
  await rejects(craft(null, undefined, '[1,2]'), /not a JSON object/);
  const badUtf8 = craft({});
  badUtf8[8] = 0xff;
  await rejects(badUtf8, /not valid UTF-8 JSON/);
  await rejects(craft({ __metadata__: [] }), /__metadata__ is not an object/);
  await rejects(craft({ __metadata__: { n: 1 } }), /__metadata__ value for 'n' is not a string/);
  await rejects(craft({ a: 5 }), /entry 'a' is not an object/);
});

t('inconsistent tensor entries', async () => {
  const four = new Uint8Array(4);
  await rejects(craft({ a: { dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] } }, four), /'a' has unsupported dtype "F8_E4M3"/);
  await rejects(craft({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, four), /'a' has a shape/);
  await rejects(craft({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, four), /'a' has a shape/);
  await rejects(craft({ a: { dtype: 'F32', shape: 'x', data_offsets: [0, 4] } }, four), /'a' has a shape/);
  await rejects(craft({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, four), /data_offsets that are not/);
  await rejects(craft({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4, 8] } }, four), /data_offsets that are not/);
  await rejects(craft({ a: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, four), /data_offsets that are not/);
  await rejects(craft({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, four), /needs 8 bytes, data_offsets give 4/);
  await rejects(craft({ a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 4] } }, four), /data_offsets give 4/);
});

t('offsets out of range, overlapping, leaving gaps or trailing bytes', async () => {
  const eight = new Uint8Array(8);
  await rejects(craft({ a: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, eight), /run past the 8-byte data buffer/);
  await rejects(
    craft({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'U8', shape: [2], data_offsets: [2, 4] }, c: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, eight),
    /overlaps tensor/,
  );
  await rejects(craft({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, eight), /bytes \[0, 4\) of the data buffer belong to no tensor/);
  await rejects(craft({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, eight), /bytes \[4, 8\) at the end/);
});

t('writer refuses inconsistent tensors and reserved names', () => {
  const bad = { dtype: 'f32', shape: [3], data: new Float32Array(2) } as HostTensor;
  assert.throws(() => writeSafetensors({ a: bad }), (e: unknown) => e instanceof ShapeError);
  const wrongArray = { dtype: 'f16', shape: [1], data: new Float32Array(1) } as unknown as HostTensor;
  assert.throws(() => writeSafetensors({ a: wrongArray }), (e: unknown) => e instanceof DTypeError);
  const ok = hostTensor('u8', [1], new Uint8Array(1));
  assert.throws(() => writeSafetensors(new Map([['__metadata__', ok]])), (e: unknown) => e instanceof ArgumentError);
  assert.throws(() => writeSafetensors({ a: ok }, { n: 1 as unknown as string }), (e: unknown) => e instanceof ArgumentError);
});

t.run();
