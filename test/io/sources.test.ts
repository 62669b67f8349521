import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { expectBytes } from '../../engine/arguments.js';
import { ArgumentError } from '../../engine/errors.js';
import { isNode, readBytes } from '../../engine/platform.js';
import { runtime } from '../../engine/runtime.js';
import { memoryStats } from '../../engine/tensor.js';
import { MetaTransformerEncoder } from '../../metatransformer/encoder.js';
import { parseCsv } from '../../metatransformer/io/csv.js';
import { decodeImage, readImageFile } from '../../metatransformer/io/image.js';
import { decodeJpeg } from '../../metatransformer/io/jpeg.js';
import { readNpy, readNpyFile, writeNpy } from '../../metatransformer/io/npy.js';
import { decodePng, encodePng, readPngFile } from '../../metatransformer/io/png.js';
import { parsePointCloud } from '../../metatransformer/io/pointcloud.js';
import { decodeWav, encodeWav, readWavFile } from '../../metatransformer/io/wav.js';
import { loadPretrainedEncoder, readEncoderInfo } from '../../metatransformer/pretrain/checkpoint.js';
import { readAudioClip } from '../../metatransformer/tokenizers/audio.js';
import { readGraphFile } from '../../metatransformer/tokenizers/graph.js';
import { gridFromRaw, readHyperspectral } from '../../metatransformer/tokenizers/hyperspectral.js';
import { readImageGrid } from '../../metatransformer/tokenizers/image.js';
import { ClipBpeTokenizer } from '../../metatransformer/tokenizers/text/clip-bpe.js';
import { WordPieceTokenizer } from '../../metatransformer/tokenizers/text/wordpiece.js';
import { loadTorch, openSafetensors, readSafetensors } from '../../nn/checkpoint/index.js';
import { loadCheckpoint } from '../../nn/io.js';
import { assertRejects, assertThrows, testDevice } from '../helpers.js';

// Every reader takes a file path or URL, a URL, a Blob, a Response or bytes; every decoder takes bytes.
// From plain JavaScript anything else used to fail late and misleadingly: loadCheckpoint(undefined) with
// "Cannot read properties of undefined", readNpy(42) with "bad magic (at offset NaN)", decodePng(buffer)
// of an ArrayBuffer with "not a PNG file". Each is now an ArgumentError naming the reader, and every
// kind of bytes (ArrayBuffer, typed arrays, DataView, Node's Buffer) reads as the same bytes.
const t = suite('io: byte sources and bytes arguments');
t.before(async () => {
  await testDevice();
});

/** Calls with a value the types forbid (the cast is the point: JavaScript does not stop it). */
const bad = <T>(v: unknown): T => v as T;

const SOURCE = /the source must be a file path or URL string, a URL, a Blob, a Response or bytes \(a Uint8Array, an ArrayBuffer or a typed array\), got /;

/** [reader, call with a wrong-typed source, what the message must say after the reader's name] */
const SOURCE_CASES: [string, () => Promise<unknown>, string][] = [
  ['loadCheckpoint', () => loadCheckpoint(bad(undefined)), 'undefined'],
  ['loadTorch', () => loadTorch(bad(42)), 'the number 42'],
  ['openSafetensors', () => openSafetensors(bad({ path: 'a.safetensors' })), 'an object'],
  ['readSafetensors', () => readSafetensors(bad(null)), 'null'],
  ['readEncoderInfo', () => readEncoderInfo(bad(['a.safetensors'])), 'an array'],
  ['loadPretrainedEncoder', () => loadPretrainedEncoder(bad(undefined)), 'undefined'],
  ['MetaTransformerEncoder.fromCheckpoint', () => MetaTransformerEncoder.fromCheckpoint(bad(7)), 'the number 7'],
  ['readNpyFile', () => readNpyFile(bad(true)), 'the boolean true'],
  ['readWavFile', () => readWavFile(bad(() => 'a.wav')), 'a function'],
  ['readImageFile', () => readImageFile(bad(undefined)), 'undefined'],
  ['readImageGrid', () => readImageGrid(bad(3), { size: 8, channels: 1 }), 'the number 3'],
  ['readAudioClip', () => readAudioClip(bad(null)), 'null'],
  ['readGraphFile', () => readGraphFile(bad(1)), 'the number 1'],
  ['readHyperspectral', () => readHyperspectral(bad({})), 'an object'],
  ['ClipBpeTokenizer.fromMergesFile', () => ClipBpeTokenizer.fromMergesFile(bad(0)), 'the number 0'],
  ['ClipBpeTokenizer.fromHuggingFace', () => ClipBpeTokenizer.fromHuggingFace(new Uint8Array(2), bad(undefined)), 'undefined'],
  ['WordPieceTokenizer.fromVocabFile', () => WordPieceTokenizer.fromVocabFile(bad(12)), 'the number 12'],
  ['readBytes', () => readBytes(bad(Symbol.iterator)), 'a symbol'],
  // An async reader's result passed on without await, and class instances, say what they are.
  ['readPngFile', () => readPngFile(bad(readBytes(new Uint8Array(4)))), 'a Promise (a missing await?)'],
  ['loadTorch', () => loadTorch(bad(new Map())), 'a Map'],
];

for (const [reader, call, got] of SOURCE_CASES) {
  t(`${reader}: a wrong-typed source is an ArgumentError naming it, before any GPU work`, async () => {
    const rt = runtime();
    const [dispatches, bytes] = [rt.dispatches, memoryStats().bytesLive];
    const err = await assertRejects(call(), ArgumentError, SOURCE);
    assert.ok(err.message.startsWith(`${reader}: `), err.message);
    assert.ok(err.message.endsWith(`got ${got}`), err.message);
    assert.is(rt.dispatches, dispatches, 'no dispatch recorded');
    assert.is(memoryStats().bytesLive, bytes, 'no tensor left allocated');
  });
}

const BYTES = /must be bytes \(a Uint8Array, an ArrayBuffer or a typed array\), got /;

t('decoders: a wrong-typed file is an ArgumentError naming the decoder', async () => {
  assertThrows(() => readNpy(bad(42)), ArgumentError, /^readNpy: the file must be bytes .*got the number 42$/);
  assertThrows(() => decodeWav(bad('RIFF')), ArgumentError, /^decodeWav: the file must be bytes .*got the string "RIFF"$/);
  assertThrows(() => decodeJpeg(bad([0xff, 0xd8])), ArgumentError, /^decodeJpeg: .*got an array$/);
  assertThrows(() => parsePointCloud(bad(null)), ArgumentError, /^parsePointCloud: .*got null$/);
  assertThrows(() => gridFromRaw(bad(undefined), { dtype: 'f32', shape: [1] }), ArgumentError, /^gridFromRaw: .*got undefined$/);
  for (const e of [await assertRejects(decodePng(bad({})), ArgumentError), await assertRejects(decodeImage(bad(9)), ArgumentError)])
    assert.match(e.message, BYTES);
  assertThrows(() => parseCsv(bad(12)), ArgumentError, /^parseCsv: input must be a string or bytes \(a Uint8Array, an ArrayBuffer or a typed array\), got the number 12$/);
});

t('a missing file or a folder is an ArgumentError naming the reader and the path', async () => {
  const missing = isNode ? /^readNpyFile: cannot read test\/fixtures\/no-such\.npy: ENOENT/ : /^readNpyFile: fetching \/test\/fixtures\/no-such\.npy failed with HTTP 404/;
  const err = await assertRejects(readNpyFile(isNode ? 'test/fixtures/no-such.npy' : '/test/fixtures/no-such.npy'), ArgumentError, missing);
  if (!isNode) return;
  assert.ok(err.cause instanceof Error, 'the system error is the cause');
  // Node's own message for reading a folder names no path ("EISDIR: illegal operation on a directory, read").
  await assertRejects(readWavFile('test/fixtures'), ArgumentError, /^readWavFile: cannot read test\/fixtures: EISDIR/);
  await assertRejects(loadCheckpoint('test/fixtures'), ArgumentError, /^loadCheckpoint: test\/fixtures is a directory, not a file$/);
  await assertRejects(loadCheckpoint(new URL('file:///no/such/file.pth')), ArgumentError, /^loadCheckpoint: cannot read \/no\/such\/file\.pth: ENOENT/);
});

t('every kind of bytes reads as the same bytes: ArrayBuffer, typed arrays at an offset, DataView', async () => {
  const png = await encodePng({ width: 2, height: 1, channels: 1, bitDepth: 8, data: new Uint8Array([7, 200]) });
  // The same file at byte 8 of a larger buffer: views at an offset must read from there, not from 0.
  const backing = new ArrayBuffer(8 + png.byteLength + 8);
  new Uint8Array(backing, 8, png.byteLength).set(png);
  const views = [png.slice().buffer, new Uint8Array(backing, 8, png.byteLength), new DataView(backing, 8, png.byteLength)];
  for (const view of views) {
    const image = await decodePng(view);
    assert.equal([...image.data], [7, 200]);
  }
  assert.is(expectBytes('test', 'x', new Uint16Array(backing, 8, 2)).byteLength, 4, 'a Uint16Array counts its bytes');
  assert.is(expectBytes('test', 'x', png), png, 'a Uint8Array is passed through');

  const npy = writeNpy(new Float32Array([1, 2, 3]), [3]);
  assert.equal([...readNpy(npy.slice().buffer).data], [1, 2, 3]);
  assert.equal([...(await readNpyFile(npy.slice().buffer)).data], [1, 2, 3]);

  const wav = encodeWav({ sampleRate: 8000, channels: [new Float32Array([0, 0.5, -0.5])] });
  assert.is(decodeWav(new DataView(wav.buffer, wav.byteOffset, wav.byteLength)).sampleRate, 8000);

  const table = parseCsv(new TextEncoder().encode('a,b\n1,2\n').buffer);
  assert.equal(table.columns, ['a', 'b']);
});

t.run();
