import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ArgumentError } from '../../engine/errors.js';
import {
  centerCrop,
  CLIP_MEAN,
  CLIP_STD,
  decodeImage,
  IMAGENET_MEAN,
  IMAGENET_STD,
  readImageFile,
  resize,
  toCHW,
  toFloat,
  toGray,
  toRGB,
  type Image,
  type ResizeMethod,
} from '../../metatransformer/io/image.js';
import { assertClose, assertFormatRejection, assertThrows, fixture, fixtureJSON } from '../helpers.js';

const t = suite('io: image');

interface ResizeFixture {
  input: { width: number; height: number; data: number[] };
  cases: { method: ResizeMethod; antialias: boolean; width: number; height: number; data: number[] }[];
}

t('resize matches torch.nn.functional.interpolate (align_corners=False) with and without antialias', async () => {
  const f = await fixtureJSON<ResizeFixture>('io/resize_expected.json');
  const input: Image = { width: f.input.width, height: f.input.height, channels: 3, data: Float32Array.from(f.input.data) };
  assert.is(f.cases.length, 15);
  for (const c of f.cases) {
    const out = resize(input, c.width, c.height, c.method, { antialias: c.antialias });
    assert.is(out.width, c.width);
    assert.is(out.height, c.height);
    assertClose(out.data, c.data, { atol: 1e-5, what: `${c.method} aa=${c.antialias} ${c.width}x${c.height}` });
  }
});

t('resize keeps integer kinds (rounded, clamped) and identity sizes', () => {
  const img: Image = { width: 2, height: 1, channels: 1, data: new Uint8Array([0, 255]) };
  const up = resize(img, 4, 1, 'bicubic');
  assert.instance(up.data, Uint8Array);
  assert.ok(up.data.every((v) => v >= 0 && v <= 255));
  assert.equal(Array.from(resize(img, 4, 1, 'bilinear').data), [0, 64, 191, 255]);
  const same = resize({ width: 3, height: 2, channels: 1, data: Float32Array.from([1, 2, 3, 4, 5, 6]) }, 3, 2, 'bicubic');
  assertClose(same.data, [1, 2, 3, 4, 5, 6]);
  assertThrows(() => resize(img, 0, 2), ArgumentError, /target size 0x2/);
  assertThrows(() => resize(img, 2, 2, 'lanczos' as ResizeMethod), ArgumentError, /unknown method 'lanczos'/);
  assertThrows(() => resize({ ...img, data: new Uint8Array(3) }, 2, 2), ArgumentError, /data has 3 values, expected 2x1x1/);
});

t('centerCrop places the window like torchvision (Python round half to even)', () => {
  const data = Uint8Array.from({ length: 7 * 4 }, (_, i) => i);
  const img: Image = { width: 7, height: 4, channels: 1, data };
  // left = round((7 - 4) / 2) = round(1.5) = 2; top = round((4 - 3) / 2) = round(0.5) = 0.
  const c = centerCrop(img, 4, 3);
  assert.equal(Array.from(c.data), [2, 3, 4, 5, 9, 10, 11, 12, 16, 17, 18, 19]);
  // left = round(2.5) = 2.
  assert.equal(Array.from(centerCrop({ width: 6, height: 1, channels: 1, data: Uint8Array.from([0, 1, 2, 3, 4, 5]) }, 1, 1).data), [2]);
  assertThrows(() => centerCrop(img, 8, 1), ArgumentError, /crop 8x1 must be positive and fit in 7x4/);
});

t('toFloat, toRGB, toGray and toCHW with CLIP / ImageNet constants', () => {
  const rgb: Image = { width: 2, height: 1, channels: 3, data: new Uint8Array([255, 0, 0, 0, 128, 255]) };
  assertClose(toFloat(rgb).data, [1, 0, 0, 0, 128 / 255, 1]);
  assertClose(toFloat({ width: 1, height: 1, channels: 1, data: new Uint16Array([65535]) }).data, [1]);
  const chw = toCHW(rgb);
  const expected = [0, 1, 2].flatMap((c) => [0, 1].map((p) => ([[1, 0, 0], [0, 128 / 255, 1]][p]![c]! - CLIP_MEAN[c]!) / CLIP_STD[c]!));
  assertClose(chw, expected);
  assertClose(toCHW(rgb, { mean: IMAGENET_MEAN, std: IMAGENET_STD }).subarray(0, 1), [(1 - 0.485) / 0.229]);
  assertThrows(() => toCHW({ width: 1, height: 1, channels: 1, data: new Uint8Array(1) }), ArgumentError, /mean\/std have 3\/3 values for a 1-channel image/);
  assertThrows(() => toCHW(rgb, { mean: [0, 0, 0], std: [1, 0, 1] }), ArgumentError, /std must be positive/);
  const gray: Image = { width: 2, height: 1, channels: 1, data: new Uint8Array([10, 20]) };
  assert.equal(Array.from(toRGB(gray).data), [10, 10, 10, 20, 20, 20]);
  assert.equal(Array.from(toRGB({ width: 1, height: 1, channels: 4, data: new Uint8Array([1, 2, 3, 4]) }).data), [1, 2, 3]);
  assert.equal(Array.from(toRGB({ width: 1, height: 1, channels: 2, data: new Uint8Array([9, 4]) }).data), [9, 9, 9]);
  assert.equal(Array.from(toGray(rgb).data), [76, 104]); // PIL's convert('L') gives the same
  assert.equal(Array.from(toGray({ width: 1, height: 1, channels: 2, data: new Uint8Array([9, 4]) }).data), [9]);
  assertThrows(() => toRGB({ width: 1, height: 1, channels: 5, data: new Uint8Array(5) }), ArgumentError, /5 channels; expected 1 to 4/);
  assertThrows(() => toGray({ width: 1, height: 1, channels: 5, data: new Uint8Array(5) }), ArgumentError, /5 channels; expected 1 to 4/);
  assertThrows(() => toFloat({ width: 1.5, height: 1, channels: 1, data: new Uint8Array(1) }), ArgumentError, /must be positive integers/);
});

t('decodeImage sniffs PNG and JPEG; unknown magic is a FormatError at offset 0', async () => {
  const png = await decodeImage(await fixture('io/rgb8.png'));
  assert.is(png.channels, 3);
  const jpg = await readImageFile(new Blob([(await fixture('io/rgb444.jpg')).slice()]));
  assert.is(jpg.width, 23);
  await assertFormatRejection(decodeImage(new Uint8Array([1, 2, 3, 4]), 'what.bin'), /what\.bin: unknown image format/, 0);
});

t.run();
