import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeJpeg, readJpegFile } from '../../metatransformer/io/jpeg.js';
import { assertFormatError, fixture, fixtureJSON } from '../helpers.js';
import { fuzzReader } from './fuzz.js';

const t = suite('io: jpeg');

type Expected = Record<string, { width: number; height: number; channels: number; data: number[] }>;

/** Offset of the first marker 0xFF `code` after SOI. */
function markerOffset(bytes: Uint8Array, code: number): number {
  for (let i = 2; i + 1 < bytes.length; i++) if (bytes[i] === 0xff && bytes[i + 1] === code) return i;
  throw new Error(`marker ${code.toString(16)} not found`);
}

t('matches PIL/libjpeg-turbo decoding: 4:4:4, 4:2:2, 4:2:0, 4:4:0, 4:1:1, gray, progressive, restarts, multi-scan, Adobe RGB', async () => {
  const expected = await fixtureJSON<Expected>('io/jpeg_expected.json');
  assert.is(Object.keys(expected).length, 12);
  for (const [name, e] of Object.entries(expected)) {
    const img = decodeJpeg(await fixture(`io/${name}`), name);
    assert.is(img.width, e.width, name);
    assert.is(img.height, e.height, name);
    assert.is(img.channels, e.channels, name);
    let sum = 0;
    let max = 0;
    for (let i = 0; i < e.data.length; i++) {
      const d = Math.abs(img.data[i]! - e.data[i]!);
      sum += d;
      max = Math.max(max, d);
    }
    // Our float IDCT differs from libjpeg's integer one by rounding only.
    assert.ok(sum / e.data.length < 1.5 && max < 8, `${name}: mean abs error ${sum / e.data.length}, max ${max}`);
  }
});

t('readJpegFile reads any byte source', async () => {
  const img = await readJpegFile(new Blob([(await fixture('io/gray.jpg')).slice()]));
  assert.is(img.channels, 1);
});

t('error paths: magic, truncation, unsupported variants', async () => {
  const good = await fixture('io/rgb420.jpg');
  assertFormatError(() => decodeJpeg(new Uint8Array([0x89, 0x50])), /missing SOI/, 0);
  const sof = markerOffset(good, 0xc0);
  for (const [code, kind] of [[0xc3, 'lossless'], [0xc9, 'arithmetic-coded'], [0xc5, 'hierarchical']] as const) {
    const b = good.slice();
    b[sof + 1] = code;
    assertFormatError(() => decodeJpeg(b), new RegExp(`${kind} JPEG`), sof);
  }
  const twelveBit = good.slice();
  twelveBit[sof + 4] = 12;
  assertFormatError(() => decodeJpeg(twelveBit), /12-bit samples are not supported/, sof + 4);
  const cmyk = good.slice();
  cmyk[sof + 9] = 4;
  assertFormatError(() => decodeJpeg(cmyk), /4 components; only grayscale/, sof + 9);
  const huge = good.slice();
  huge.set([0xff, 0xff, 0xff, 0xff], sof + 5);
  assertFormatError(() => decodeJpeg(huge), /65535x65535 exceeds the 33554432-pixel limit/, sof + 5);
  assertFormatError(() => decodeJpeg(good, 'x', { maxPixels: 100 }), /23x17 exceeds the 100-pixel limit/);
  const zeroHeight = good.slice();
  zeroHeight.set([0, 0], sof + 5);
  assertFormatError(() => decodeJpeg(zeroHeight), /height 0/, sof + 5);
  const badSampling = good.slice();
  badSampling[sof + 11] = 0x50;
  assertFormatError(() => decodeJpeg(badSampling), /sampling factors 5x0/, sof + 11);
  // Cut inside the entropy-coded data: the reader meets the end of the file inside a block.
  const sos = markerOffset(good, 0xda);
  assertFormatError(() => decodeJpeg(good.slice(0, sos + 30)), /scan data ends inside a block \(truncated file\)/);
  // Cut right before EOI.
  assertFormatError(() => decodeJpeg(good.slice(0, good.length - 2)), /expected a marker|file ends before the EOI/);
  assertFormatError(() => decodeJpeg(good.slice(0, 4)), /file ends before its length/, 2);
  const longSegment = good.slice();
  longSegment.set([0xff, 0xff], 4);
  assertFormatError(() => decodeJpeg(longSegment), /segment length 65535 runs past the end/, 2);
  const notMarker = good.slice();
  notMarker[2] = 0x12;
  assertFormatError(() => decodeJpeg(notMarker), /expected a marker, found byte 0x12/, 2);
});

t('error paths: tables and scans', async () => {
  const good = await fixture('io/rgb420.jpg');
  const sos = markerOffset(good, 0xda);
  const noFrame = new Uint8Array([0xff, 0xd8, 0xff, 0xda, 0, 8, 1, 1, 0, 0, 63, 0, 0xff, 0xd9]);
  assertFormatError(() => decodeJpeg(noFrame), /SOS before SOF/, 2);
  assertFormatError(() => decodeJpeg(new Uint8Array([0xff, 0xd8, 0xff, 0xd9])), /no image data/);
  const badComponent = good.slice();
  badComponent[sos + 5] = 99;
  assertFormatError(() => decodeJpeg(badComponent), /SOS: component id 99 is not in the frame/, sos + 5);
  const badTable = good.slice();
  badTable[sos + 6] = 0x33; // DC/AC tables 3, never defined
  assertFormatError(() => decodeJpeg(badTable), /undefined DC Huffman table/);
  const badSpectral = good.slice();
  badSpectral[sos + 4 + 1 + 6] = 5; // Ss = 5 in a sequential scan
  assertFormatError(() => decodeJpeg(badSpectral), /sequential scan with spectral selection 5..63/);
  const dqt = markerOffset(good, 0xdb);
  const badQuant = good.slice();
  badQuant[dqt + 4] = 0x25;
  assertFormatError(() => decodeJpeg(badQuant), /DQT: bad precision\/id 0x25/, dqt + 4);
  const dht = markerOffset(good, 0xc4);
  const badHuff = good.slice();
  badHuff[dht + 4] = 0x27;
  assertFormatError(() => decodeJpeg(badHuff), /DHT: bad table class\/id 0x27/, dht + 4);
  const overfull = good.slice();
  overfull[dht + 5] = 3; // three 1-bit codes cannot exist
  assertFormatError(() => decodeJpeg(overfull), /too many codes of length 1|DHT/);
  const progressive = await fixture('io/rgb420_progressive.jpg');
  const psos = markerOffset(progressive, 0xda);
  const badProgressive = progressive.slice();
  const count = badProgressive[psos + 4]!;
  badProgressive[psos + 4 + 1 + 2 * count + 1] = 5; // DC scan with Se = 5
  assertFormatError(() => decodeJpeg(badProgressive), /invalid progressive spectral selection 0..5/);
  const restart = await fixture('io/rgb420_restart.jpg');
  let rst = -1;
  for (let i = markerOffset(restart, 0xda); i + 1 < restart.length; i++)
    if (restart[i] === 0xff && restart[i + 1] === 0xd0) {
      rst = i;
      break;
    }
  const wrongRst = restart.slice();
  wrongRst[rst + 1] = 0xd3;
  assertFormatError(() => decodeJpeg(wrongRst), /expected restart marker RST0 after 1 MCUs/, rst);
  const unscanned = good.slice(0, sos);
  assertFormatError(() => decodeJpeg(new Uint8Array([...unscanned, 0xff, 0xd9])), /no image data/);
});

t('error paths: frame and scan headers', async () => {
  const good = await fixture('io/rgb420.jpg');
  const sof = markerOffset(good, 0xc0);
  const sos = markerOffset(good, 0xda);
  const sofSegment = good.subarray(sof, sof + 2 + ((good[sof + 2]! << 8) | good[sof + 3]!));
  const twoFrames = new Uint8Array([...good.subarray(0, sos), ...sofSegment, ...good.subarray(sos)]);
  assertFormatError(() => decodeJpeg(twoFrames), /second SOF marker/, sos);
  const zeroWidth = good.slice();
  zeroWidth.set([0, 0], sof + 7);
  assertFormatError(() => decodeJpeg(zeroWidth), /SOF: width 0/, sof + 7);
  const quantId = good.slice();
  quantId[sof + 12] = 4;
  assertFormatError(() => decodeJpeg(quantId), /uses quantization table 4/, sof + 12);
  const undefinedQuant = good.slice();
  undefinedQuant[sof + 12] = 3;
  assertFormatError(() => decodeJpeg(undefinedQuant), /component 1 uses undefined quantization table 3/);
  const duplicate = good.slice();
  duplicate[sof + 13] = duplicate[sof + 10]!;
  assertFormatError(() => decodeJpeg(duplicate), /duplicate component id 1/, sof + 13);
  const bigMcu = good.slice();
  bigMcu[sof + 11] = 0x44; // Y 4x4 + Cb + Cr = 18 blocks per MCU
  assertFormatError(() => decodeJpeg(bigMcu), /18 blocks per MCU \(the limit is 10\)/);
  const zeroComponents = good.slice();
  zeroComponents[sos + 4] = 0;
  assertFormatError(() => decodeJpeg(zeroComponents), /SOS: 0 components/, sos + 4);
  const twice = good.slice();
  twice[sos + 7] = twice[sos + 5]!;
  assertFormatError(() => decodeJpeg(twice), /SOS: component id 1 listed twice/, sos + 7);
  const noAc = good.slice();
  noAc[sos + 6] = 0x03;
  assertFormatError(() => decodeJpeg(noAc), /undefined AC Huffman table/);
  assertFormatError(() => decodeJpeg(new Uint8Array([0xff, 0xd8, 0xff])), /file ends inside a marker/, 2);
  // Entropy data of all one bits (0xFF 0x00 stuffed) is not a code in any JPEG table.
  const headerEnd = sos + 2 + ((good[sos + 2]! << 8) | good[sos + 3]!);
  const ones = new Uint8Array([...good.subarray(0, headerEnd), ...new Array(20).fill([0xff, 0x00]).flat(), 0xff, 0xd9]);
  assertFormatError(() => decodeJpeg(ones), /invalid Huffman code in scan data/, headerEnd);
  // Only the first of three single-component scans: the chroma planes never get data.
  const multi = await fixture('io/rgb420_multiscan.jpg');
  let second = -1;
  for (let i = markerOffset(multi, 0xda) + 2; i + 1 < multi.length; i++)
    if (multi[i] === 0xff && multi[i + 1] === 0xda) {
      second = i;
      break;
    }
  assertFormatError(() => decodeJpeg(new Uint8Array([...multi.subarray(0, second), 0xff, 0xd9])), /component 2 never appears in a scan/);
  const dht = markerOffset(good, 0xc4);
  const tooMany = good.slice();
  tooMany.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255], dht + 5);
  assertFormatError(() => decodeJpeg(tooMany), /DHT: 510 symbols \(more than 256\)/, dht + 4);
  const shortSof = good.slice();
  shortSof.set([0, 8], sof + 2); // 6 bytes of parameters: no room for the three components
  assertFormatError(() => decodeJpeg(shortSof), /SOF: segment too short/, sof);
  const progressive = await fixture('io/rgb420_progressive.jpg');
  const psos = markerOffset(progressive, 0xda);
  const badAl = progressive.slice();
  const count = badAl[psos + 4]!;
  badAl[psos + 4 + 1 + 2 * count + 2] = 0x0e;
  assertFormatError(() => decodeJpeg(badAl), /successive approximation bit 14/);
});

t('fuzz: mutated JPEGs decode or throw OmniError', async () => {
  for (const name of ['rgb420.jpg', 'rgb420_progressive.jpg', 'rgb420_restart.jpg', 'gray.jpg', 'rgb420_multiscan.jpg']) {
    const valid = await fixture(`io/${name}`);
    await fuzzReader(valid, (b) => decodeJpeg(b), { runs: 200 });
  }
});

t.run();
