import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ArgumentError } from '../../engine/errors.js';
import { crc32, decodePng, encodePng, readPngFile, type PngImage } from '../../metatransformer/io/png.js';
import { assertFormatRejection, assertRejects, compress, fixture, fixtureJSON } from '../helpers.js';
import { fuzzReader } from './fuzz.js';

const t = suite('io: png');

type Expected = Record<string, { width: number; height: number; channels: number; bitDepth: number; data: number[] }>;

/** Rewrites every chunk's CRC so a mutation inside chunk data reaches the decoder proper. */
function fixCrcs(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  const dv = new DataView(out.buffer);
  for (let pos = 8; pos + 12 <= out.length; ) {
    const length = dv.getUint32(pos);
    if (pos + 12 + length > out.length) break;
    dv.setUint32(pos + 8 + length, crc32(out, pos + 4, pos + 8 + length));
    pos += 12 + length;
  }
  return out;
}

/** Builds a PNG from raw chunks, with correct CRCs. */
function buildPng(chunks: [string, Uint8Array][]): Uint8Array {
  const parts: number[] = [137, 80, 78, 71, 13, 10, 26, 10];
  for (const [type, data] of chunks) {
    const c = new Uint8Array(12 + data.length);
    const dv = new DataView(c.buffer);
    dv.setUint32(0, data.length);
    for (let i = 0; i < 4; i++) c[4 + i] = type.charCodeAt(i);
    c.set(data, 8);
    dv.setUint32(8 + data.length, crc32(c, 4, 8 + data.length));
    parts.push(...c);
  }
  return new Uint8Array(parts);
}

/** IDAT data is a zlib stream, which CompressionStream calls 'deflate'. */
const zlib = (raw: number[]): Promise<Uint8Array> => compress(new Uint8Array(raw), 'deflate');

function ihdr(width: number, height: number, depth: number, colorType: number, interlace = 0): Uint8Array {
  const b = new Uint8Array(13);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  b.set([depth, colorType, 0, 0, interlace], 8);
  return b;
}

t('decodes every fixture (PIL-written and hand-written with all filters, Adam7, palettes, tRNS) exactly', async () => {
  const expected = await fixtureJSON<Expected>('io/png_expected.json');
  assert.ok(Object.keys(expected).length >= 14);
  for (const [name, e] of Object.entries(expected)) {
    const img = await decodePng(await fixture(`io/${name}`), name);
    assert.is(img.width, e.width, name);
    assert.is(img.height, e.height, name);
    assert.is(img.channels, e.channels, name);
    assert.is(img.bitDepth, e.bitDepth, name);
    assert.instance(img.data, e.bitDepth === 16 ? Uint16Array : Uint8Array, name);
    assert.equal(Array.from(img.data), e.data, name);
  }
});

t('readPngFile reads any byte source and names it in errors', async () => {
  const img = await readPngFile(new Blob([(await fixture('io/rgb8.png')).slice()]));
  assert.is(img.channels, 3);
  const bytes = (await fixture('io/rgb8.png')).slice(0, 40);
  await assertFormatRejection(decodePng(bytes, 'cut.png'), /^cut\.png: /);
});

t('encodePng round-trips 8-bit gray, gray+alpha, RGB, RGBA and 16-bit gray', async () => {
  for (const [channels, bitDepth] of [[1, 8], [2, 8], [3, 8], [4, 8], [1, 16], [3, 16]] as const) {
    const width = 13;
    const height = 7;
    const n = width * height * channels;
    // A smooth ramp plus a pattern, so that every filter type wins on some row.
    const max = bitDepth === 16 ? 65535 : 255;
    const values = Array.from({ length: n }, (_, i) => (i % 5 === 0 ? (i * 7919) % (max + 1) : (i * 37) % (max + 1)));
    const data = bitDepth === 16 ? Uint16Array.from(values) : Uint8Array.from(values);
    const image: PngImage = { width, height, channels, bitDepth, data };
    const back = await decodePng(await encodePng(image));
    assert.equal({ ...back, data: Array.from(back.data) }, { ...image, data: values }, `${channels}ch ${bitDepth}-bit`);
  }
});

t('16-bit grayscale (X-ray range) survives encode/decode bit-exactly', async () => {
  const data = Uint16Array.from({ length: 64 * 3 }, (_, i) => (i * 1021 + 40000) % 65536);
  const back = await decodePng(await encodePng({ width: 64, height: 3, channels: 1, bitDepth: 16, data }));
  assert.equal(Array.from(back.data), Array.from(data));
});

t('encodePng rejects inconsistent images', async () => {
  const bad = [
    { width: 0, height: 1, channels: 1, bitDepth: 8, data: new Uint8Array(0) },
    { width: 2, height: 2, channels: 5, bitDepth: 8, data: new Uint8Array(20) },
    { width: 2, height: 2, channels: 1, bitDepth: 16, data: new Uint8Array(4) },
    { width: 2, height: 2, channels: 1, bitDepth: 8, data: new Uint8Array(3) },
  ] as unknown as PngImage[];
  for (const image of bad) await assertRejects(encodePng(image), ArgumentError);
});

t('error paths: signature, CRC, truncation, chunk order and sizes', async () => {
  const good = await fixture('io/rgb8.png');
  await assertFormatRejection(decodePng(new Uint8Array([1, 2, 3])), /not a PNG file/, 0);
  const badSig = good.slice();
  badSig[3] = 0;
  await assertFormatRejection(decodePng(badSig), /bad signature/, 3);
  const badCrc = good.slice();
  badCrc[20] ^= 1; // inside IHDR data
  await assertFormatRejection(decodePng(badCrc), /chunk IHDR: CRC mismatch/, 29);
  await assertFormatRejection(decodePng(good.slice(0, good.length - 12)), /file ends before the IEND chunk/, good.length - 12);
  const longChunk = good.slice();
  new DataView(longChunk.buffer).setUint32(8, 0x7ffffff0);
  await assertFormatRejection(decodePng(longChunk), /chunk IHDR: length 2147483632 runs past the end/, 8);
  const idat = new Uint8Array([120, 156, 99, 0, 0, 0, 1, 0, 1]); // zlib of one zero byte
  await assertFormatRejection(decodePng(buildPng([['IDAT', idat]])), /first chunk is IDAT, expected IHDR/, 8);
  await assertFormatRejection(decodePng(buildPng([['IHDR', ihdr(1, 1, 8, 0)], ['IEND', new Uint8Array(0)]])), /no IDAT chunk/);
  await assertFormatRejection(decodePng(buildPng([['IHDR', ihdr(1, 1, 8, 0)], ['IDAT', idat], ['IHDR', ihdr(1, 1, 8, 0)]])), /second IHDR/);
  await assertFormatRejection(
    decodePng(buildPng([['IHDR', ihdr(1, 1, 8, 0)], ['IDAT', idat], ['tEXt', new Uint8Array(1)], ['IDAT', idat], ['IEND', new Uint8Array(0)]])),
    /IDAT chunks are not consecutive/,
  );
  await assertFormatRejection(decodePng(buildPng([['IHDR', ihdr(1, 1, 8, 0)], ['12ab', new Uint8Array(0)]])), /chunk type "12ab" is not four letters/, 37);
  await assertFormatRejection(decodePng(buildPng([['IHDR', ihdr(1, 1, 8, 0)], ['ZZZZ', new Uint8Array(0)]])), /unsupported critical chunk ZZZZ/, 33);
});

t('error paths: IHDR fields', async () => {
  const idat = new Uint8Array([120, 156, 99, 0, 0, 0, 1, 0, 1]);
  const cases: [Uint8Array, RegExp, number][] = [
    [ihdr(0, 1, 8, 0), /image size 0x1 is not allowed/, 16],
    [ihdr(1, 1, 8, 5), /unknown color type 5/, 25],
    [ihdr(1, 1, 16, 3), /bit depth 16 is illegal for color type 3/, 24],
    [ihdr(1, 1, 4, 2), /bit depth 4 is illegal for color type 2/, 24],
    [ihdr(1, 1, 8, 0, 2), /unknown interlace method 2/, 28],
  ];
  for (const [h, pattern, offset] of cases) await assertFormatRejection(decodePng(buildPng([['IHDR', h], ['IDAT', idat], ['IEND', new Uint8Array(0)]])), pattern, offset);
  const compression = ihdr(1, 1, 8, 0);
  compression[10] = 1;
  await assertFormatRejection(decodePng(buildPng([['IHDR', compression]])), /unknown compression method 1/, 26);
  const filter = ihdr(1, 1, 8, 0);
  filter[11] = 1;
  await assertFormatRejection(decodePng(buildPng([['IHDR', filter]])), /unknown filter method 1/, 27);
  await assertFormatRejection(decodePng(buildPng([['IHDR', new Uint8Array(12)]])), /IHDR: length 12, expected 13/, 8);
  // A 30000 x 30000 RGBA header is refused before anything is allocated or inflated.
  await assertFormatRejection(decodePng(buildPng([['IHDR', ihdr(30000, 30000, 8, 6)], ['IDAT', idat], ['IEND', new Uint8Array(0)]])), /exceeds the 268435456-sample limit/, 16);
});

t('error paths: palette and transparency chunks', async () => {
  const idat = new Uint8Array([120, 156, 99, 0, 0, 0, 1, 0, 1]);
  const end: [string, Uint8Array] = ['IEND', new Uint8Array(0)];
  const pal = new Uint8Array([1, 2, 3, 4, 5, 6]);
  const cases: [[string, Uint8Array][], RegExp][] = [
    [[['IHDR', ihdr(1, 1, 8, 3)], ['IDAT', idat], end], /palette image without PLTE/],
    [[['IHDR', ihdr(1, 1, 8, 0)], ['PLTE', pal], ['IDAT', idat], end], /PLTE: not allowed for color type 0/],
    [[['IHDR', ihdr(1, 1, 8, 3)], ['PLTE', pal.subarray(0, 5)], ['IDAT', idat], end], /PLTE: length 5 is not 3 x 1..256/],
    [[['IHDR', ihdr(1, 1, 1, 3)], ['PLTE', new Uint8Array(9)], ['IDAT', idat], end], /PLTE: length 9 is not 3 x 1..2 entries/],
    [[['IHDR', ihdr(1, 1, 8, 3)], ['PLTE', pal], ['PLTE', pal], ['IDAT', idat], end], /PLTE: second palette/],
    [[['IHDR', ihdr(1, 1, 8, 3)], ['IDAT', idat], ['PLTE', pal], end], /PLTE: after IDAT/],
    [[['IHDR', ihdr(1, 1, 8, 3)], ['tRNS', new Uint8Array(1)], ['PLTE', pal], ['IDAT', idat], end], /tRNS: before PLTE/],
    [[['IHDR', ihdr(1, 1, 8, 3)], ['PLTE', pal], ['tRNS', new Uint8Array(3)], ['IDAT', idat], end], /tRNS: 3 entries for a 2-entry palette/],
    [[['IHDR', ihdr(1, 1, 8, 6)], ['tRNS', new Uint8Array(6)], ['IDAT', idat], end], /tRNS: not allowed for color type 6/],
    [[['IHDR', ihdr(1, 1, 8, 2)], ['tRNS', new Uint8Array(2)], ['IDAT', idat], end], /tRNS: length 2, expected 6/],
    [[['IHDR', ihdr(1, 1, 8, 0)], ['IDAT', idat], ['tRNS', new Uint8Array(2)], end], /tRNS: after IDAT/],
    // A 1-entry palette and a pixel using index 1.
    [[['IHDR', ihdr(1, 1, 8, 3)], ['PLTE', pal.subarray(0, 3)], ['IDAT', await zlib([0, 1])], end], /palette index 1 but the palette has 1 entries/],
  ];
  for (const [chunks, pattern] of cases) await assertFormatRejection(decodePng(buildPng(chunks)), pattern);
});

t('error paths: IDAT contents', async () => {
  const end: [string, Uint8Array] = ['IEND', new Uint8Array(0)];
  await assertFormatRejection(decodePng(buildPng([['IHDR', ihdr(2, 1, 8, 0)], ['IDAT', new Uint8Array([1, 2, 3, 4])], end])), /IDAT: corrupt zlib data/, 33);
  await assertFormatRejection(decodePng(buildPng([['IHDR', ihdr(2, 1, 8, 0)], ['IDAT', await zlib([0, 1])], end])), /IDAT: inflated to 2 bytes, expected 3/, 33);
  await assertFormatRejection(decodePng(buildPng([['IHDR', ihdr(2, 1, 8, 0)], ['IDAT', await zlib(new Array(5000).fill(0))], end])), /inflates to more than the 3 bytes/, 33);
  await assertFormatRejection(decodePng(buildPng([['IHDR', ihdr(2, 1, 8, 0)], ['IDAT', await zlib([7, 1, 2])], end])), /unknown filter type 7 on row 0/, 0);
});

t('fuzz: mutated PNGs (with CRCs repaired) decode or throw OmniError', async () => {
  for (const name of ['rgb8.png', 'pal4_trns.png', 'gray2_adam7.png', 'rgb16_adam7.png', 'gray8_trns.png']) {
    const valid = await fixture(`io/${name}`);
    await fuzzReader(valid, (b) => decodePng(b), { runs: 150, fixup: fixCrcs });
    await fuzzReader(valid, (b) => decodePng(b), { runs: 50 });
  }
});

t.run();
