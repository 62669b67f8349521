import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ag from '../../autograd/index.js';
import { ArgumentError, FormatError, ShapeError } from '../../engine/errors.js';
import type { Tensor } from '../../engine/tensor.js';
import { hostTensor } from '../../nn/checkpoint/index.js';
import type { Module } from '../../nn/module.js';
import type { Grid } from '../../metatransformer/data/types.js';
import { CLIP_MEAN, CLIP_STD } from '../../metatransformer/io/image.js';
import { encodePng } from '../../metatransformer/io/png.js';
import { writeNpy } from '../../metatransformer/io/npy.js';
import {
  GRAY_NORMALIZATION, ImageTokenizer, gridFromImageSource, gridFromRGBA, imageToGrid, positionInterpolationMatrix, readImageGrid,
  type PositionInterpolation,
} from '../../metatransformer/tokenizers/image.js';
import {
  HyperspectralTokenizer, gridFromRaw, minMaxPerBand, readHyperspectral, type HyperspectralMode,
} from '../../metatransformer/tokenizers/hyperspectral.js';
import { VideoTokenizer, clipFromFrames, sinusoidTable } from '../../metatransformer/tokenizers/video.js';
import { assertClose, assertRejects, assertThrows, fixtureJSON, testDevice } from '../helpers.js';

interface Named {
  shape: number[];
  data: number[];
}
interface Case {
  x: Named;
  out: Named;
  w: number[];
  grads: Record<string, number[]>;
  interpolation?: PositionInterpolation;
}
interface Fixture {
  dim: number;
  params: Record<string, Named>;
  cases: Case[];
}
interface ImageFixture extends Fixture {
  patchSize: number;
  inChannels: number;
  imageSize: number;
}
interface VideoFixture extends Fixture {
  tubelet: [number, number, number];
  inChannels: number;
  frames: number;
  imageSize: number;
  posEmbed: Named;
}
interface HyperspectralFixture extends Fixture {
  bands: number;
  mode: HyperspectralMode;
  patchSize: number;
  bandGroup: number;
}
interface Vision {
  image: ImageFixture;
  infrared: ImageFixture;
  video: VideoFixture;
  spectral: HyperspectralFixture;
  patch: HyperspectralFixture;
  prepare: { width: number; height: number; rgb: number[]; size: number; method: 'bicubic' | 'bilinear'; antialias: boolean; out: Named }[];
  posInterp: { grid: [number, number]; newGrid: [number, number]; mode: PositionInterpolation; matrix: Named }[];
}

const t = suite('metatransformer: vision tokenizers against PyTorch (test/fixtures/gen_tokenizers_vision.py)');
let fx: Vision;
t.before(async () => {
  await testDevice();
  fx = await fixtureJSON<Vision>('tokenizers_vision.json');
});

const stateDict = (params: Record<string, Named>) =>
  new Map(Object.entries(params).map(([k, v]) => [k, hostTensor('f32', v.shape, Float32Array.from(v.data))]));

/** Splits a fixture input [B, ...] into B grids. */
function grids(x: Named): Grid[] {
  const [batch, ...shape] = x.shape as [number, ...number[]];
  const per = x.data.length / batch;
  return Array.from({ length: batch }, (_, b) => ({ shape, data: Float32Array.from(x.data.slice(b * per, (b + 1) * per)) }));
}

/**
 * Forward + backward of L = sum(tokens * w), compared with PyTorch. The references are float64 from the same
 * float32 inputs; our f32 sums run over at most a few dozen terms of O(1) values, so 1e-5 relative (plus 1e-5
 * absolute for values near zero) leaves ~100x headroom and still catches a wrong layout or a missing term.
 */
async function checkParity(module: Module & { forward(b: Grid[]): { tokens: Tensor } }, c: Case, inputs: Grid[]): Promise<void> {
  const { tokens } = module.forward(inputs);
  assert.equal(tokens.shape, c.out.shape);
  const w = ag.tensor(c.w, c.out.shape);
  const loss = ag.sum(ag.mul(tokens, w));
  ag.backward(loss);
  const tol = { atol: 1e-5, rtol: 1e-5 };
  assertClose(await tokens.data(), c.out.data, { ...tol, what: 'tokens' });
  for (const [name, p] of module.namedParameters()) {
    assert.ok(p.grad, `${name} received a gradient`);
    assertClose(await p.grad!.data(), c.grads[name]!, { ...tol, what: `d/d${name}` });
    p.grad!.dispose();
    p.grad = null;
  }
  for (const v of [tokens, w, loss]) v.dispose();
}

t('ImageTokenizer: timm PatchEmbed + cls_token + pos_embed, with resampled positions for other sizes', async () => {
  const f = fx.image;
  for (const c of f.cases) {
    const tok = new ImageTokenizer({ dim: f.dim, patchSize: f.patchSize, inChannels: f.inChannels, imageSize: f.imageSize, interpolation: c.interpolation! });
    assert.equal(tok.loadStateDict(stateDict(f.params)), { missing: [], unexpected: [], mismatched: [] });
    assert.ok(tok.hasClsToken);
    await checkParity(tok, c, grids(c.x));
    tok.dispose();
  }
});

t('ImageTokenizer: 1-channel infrared', async () => {
  const f = fx.infrared;
  const tok = new ImageTokenizer({ dim: f.dim, patchSize: f.patchSize, inChannels: 1, imageSize: f.imageSize, modality: 'infrared' });
  tok.loadStateDict(stateDict(f.params));
  assert.is(tok.modality, 'infrared');
  await checkParity(tok, f.cases[0]!, grids(f.cases[0]!.x));
  tok.dispose();
});

t('positionInterpolationMatrix equals interpolate applied to an identity', () => {
  for (const p of fx.posInterp) {
    // Products of two f32 tap weights against float64: ~1e-7.
    assertClose(positionInterpolationMatrix(p.grid, p.newGrid, p.mode), p.matrix.data, { atol: 2e-6, rtol: 1e-6, what: `${p.mode} ${p.grid} -> ${p.newGrid}` });
  }
});

t('VideoTokenizer: VideoMAE Conv3d tubelets + fixed sinusoid table, no CLS', async () => {
  const f = fx.video;
  const tok = new VideoTokenizer({ dim: f.dim, tubelet: f.tubelet, inChannels: f.inChannels, frames: f.frames, imageSize: f.imageSize });
  // VideoMAE's state dict has no pos_embed; ours holds the same table as a buffer.
  assert.equal(tok.loadStateDict(stateDict(f.params), { strict: false }), { missing: ['pos_embed'], unexpected: [], mismatched: [] });
  assert.not.ok(tok.hasClsToken);
  assert.equal(tok.namedParameters().map(([n]) => n), ['patch_embed.proj.weight', 'patch_embed.proj.bias']);
  // sin/cos of float64 angles rounded to f32 on both sides.
  assertClose(await tok.pos_embed.data(), f.posEmbed.data, { atol: 1e-6, rtol: 1e-6, what: 'sinusoid table' });
  const clips = grids(f.cases[0]!.x);
  await checkParity(tok, f.cases[0]!, clips);
  // The same clips given as frame lists tokenise identically.
  const [c, frames, h, w] = clips[0]!.shape as [number, number, number, number];
  const asFrames = clips.map((clip) =>
    Array.from({ length: frames }, (_, fr) => {
      const data = new Float32Array(c * h * w);
      for (let ch = 0; ch < c; ch++) data.set(clip.data.subarray((ch * frames + fr) * h * w, (ch * frames + fr + 1) * h * w), ch * h * w);
      return { shape: [c, h, w], data };
    }),
  );
  assert.equal(clipFromFrames(asFrames[0]!), clips[0]);
  const { tokens } = tok.forward(asFrames);
  assertClose(await tokens.data(), f.cases[0]!.out.data, { atol: 1e-5, rtol: 1e-5, what: 'tokens from frames' });
  tokens.dispose();
  tok.dispose();
});

t('VideoTokenizer: a shorter clip gets the table for its own token count', async () => {
  const tok = new VideoTokenizer({ dim: 8, tubelet: [1, 2, 2], inChannels: 1, frames: 4, imageSize: 4 });
  tok.patch_embed.proj.weight.dispose();
  tok.patch_embed.proj.weight = ag.zeros([8, 1, 1, 2, 2]);
  const { tokens } = tok.forward([{ shape: [1, 2, 2, 4], data: new Float32Array(16) }]);
  const bias = await tok.patch_embed.proj.bias!.data();
  // [1, 2, 2, 4] with [1, 2, 2] tubelets: 2 frames x 1 x 2 = 4 tokens, fewer than the 16 of a full clip.
  const expected = sinusoidTable(4, 8).map((v, i) => v + bias[i % 8]!);
  assertClose(await tokens.data(), expected, { atol: 1e-6, rtol: 1e-6, what: 'zero clip = bias + table' });
  tokens.dispose();
  tok.dispose();
});

t('HyperspectralTokenizer: SpectralFormer front end, spectral and patch modes', async () => {
  for (const f of [fx.spectral, fx.patch]) {
    const [, ...shape] = f.cases[0]!.x.shape;
    const tok = new HyperspectralTokenizer({
      dim: f.dim, bands: f.bands, mode: f.mode,
      ...(f.mode === 'patch' ? { patchSize: f.patchSize, bandGroup: f.bandGroup, cubeSize: [shape[0]!, shape[1]!] as [number, number] } : {}),
    });
    assert.equal(tok.inputShape, shape);
    assert.equal(tok.loadStateDict(stateDict(f.params)), { missing: [], unexpected: [], mismatched: [] });
    await checkParity(tok, f.cases[0]!, grids(f.cases[0]!.x));
    tok.dispose();
  }
});

t('imageToGrid: shorter-side resize, center crop and CLIP normalisation match torch', () => {
  for (const p of fx.prepare) {
    const img = { width: p.width, height: p.height, channels: 3, data: Uint8Array.from(p.rgb) };
    const grid = imageToGrid(img, { size: p.size, method: p.method, antialias: p.antialias });
    assert.equal(grid.shape, p.out.shape);
    // f32 filter taps over 8-bit values, divided by std ~0.27: errors ~1e-6.
    assertClose(grid.data, p.out.data, { atol: 2e-5, rtol: 1e-5, what: `${p.method} antialias=${p.antialias}` });
  }
});

t('16-bit grayscale PNG -> infrared/X-ray grids (values / 65535), 1 channel or replicated to 3', async () => {
  const values = Uint16Array.from({ length: 16 }, (_, i) => i * 4001 + 7);
  const png = await encodePng({ width: 4, height: 4, channels: 1, bitDepth: 16, data: values });
  const gray = await readImageGrid(png, { size: 4, channels: 1 });
  assert.equal(gray.shape, [1, 4, 4]);
  const [mean, std] = [GRAY_NORMALIZATION.mean[0]!, GRAY_NORMALIZATION.std[0]!];
  assertClose(gray.data, Array.from(values, (v) => (v / 65535 - mean) / std), { atol: 1e-6, rtol: 1e-6, what: '1 channel' });
  const rgb = await readImageGrid(png, { size: 4, channels: 3 });
  const expected = [0, 1, 2].flatMap((c) => Array.from(values, (v) => (v / 65535 - CLIP_MEAN[c]!) / CLIP_STD[c]!));
  assertClose(rgb.data, expected, { atol: 1e-6, rtol: 1e-6, what: 'replicated to 3 channels' });
  // Both feed tokenizers of the matching channel count.
  for (const [grid, inChannels] of [[gray, 1], [rgb, 3]] as const) {
    const tok = new ImageTokenizer({ dim: 8, patchSize: 2, inChannels, imageSize: 4, modality: 'xray' });
    const { tokens } = tok.forward([grid]);
    assert.equal(tokens.shape, [1, 5, 8]);
    tokens.dispose();
    tok.dispose();
  }
  // GRAY_NORMALIZATION is CLIP's constants under the luma weights.
  assertClose(GRAY_NORMALIZATION.mean, [0.299 * CLIP_MEAN[0]! + 0.587 * CLIP_MEAN[1]! + 0.114 * CLIP_MEAN[2]!], { atol: 1e-12, rtol: 0 });
});

t('RGBA pixels and ImageData-shaped sources give the same grid as the decoded image (alpha dropped)', async () => {
  const [width, height] = [5, 3];
  const rgba = Uint8ClampedArray.from({ length: width * height * 4 }, (_, i) => (i % 4 === 3 ? 255 : (i * 37) % 256));
  const rgb = Uint8Array.from({ length: width * height * 3 }, (_, i) => rgba[Math.floor(i / 3) * 4 + (i % 3)]!);
  const options = { size: 3, method: 'bilinear' as const, antialias: false };
  const reference = imageToGrid({ width, height, channels: 3, data: rgb }, options);
  assert.equal(gridFromRGBA(rgba, width, height, options), reference);
  const imageData = { data: rgba, width, height, colorSpace: 'srgb' } as ImageData;
  assert.equal(gridFromImageSource(imageData, options), reference);
  if (typeof createImageBitmap === 'function' && typeof ImageData === 'function') {
    // Browsers: an ImageBitmap goes through an OffscreenCanvas and reads back the same opaque pixels.
    const bitmap = await createImageBitmap(new ImageData(rgba, width, height));
    assertClose(gridFromImageSource(bitmap, options).data, reference.data, { atol: 1e-6, rtol: 0, what: 'ImageBitmap' });
  } else {
    assertThrows(() => gridFromImageSource({ width, height } as ImageBitmap, options), ArgumentError, /OffscreenCanvas/);
  }
});

t('hyperspectral loaders: .npy, raw float32 / big-endian uint16, per-band min-max', async () => {
  const cube = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 0.5 - 3);
  const fromNpy = await readHyperspectral(writeNpy(cube, [2, 3, 4]));
  assert.equal(fromNpy, { shape: [2, 3, 4], data: cube });
  const ints = Uint16Array.from({ length: 6 }, (_, i) => 1000 * i + 1);
  assert.equal((await readHyperspectral(writeNpy(ints, [6]))).data, Float32Array.from(ints));
  const f32 = new Uint8Array(cube.buffer.slice(0));
  assert.equal(await readHyperspectral(f32, { dtype: 'f32', shape: [2, 3, 4] }), { shape: [2, 3, 4], data: cube });
  const be = new Uint8Array(12);
  ints.forEach((v, i) => new DataView(be.buffer).setUint16(2 * i, v, false));
  assert.equal(gridFromRaw(be, { dtype: 'u16', shape: [2, 3], littleEndian: false }).data, Float32Array.from(ints));
  const scaled = minMaxPerBand({ shape: [3, 2], data: Float32Array.from([1, 5, 3, 5, 5, 5]) });
  assert.equal(scaled.data, Float32Array.from([0, 0, 0.5, 0, 1, 0]));
  // Errors: byte count not matching the shape, a non-npy file without a raw description.
  assertThrows(() => gridFromRaw(be, { dtype: 'f32', shape: [2, 3] }, 'cube.raw'), FormatError, /cube\.raw: 12 bytes, but f32 of shape \[2,3\] needs 24/);
  await assertRejects(readHyperspectral(be), ArgumentError, /not a \.npy file/);
});

t('tokenizer parameters receive gradients through a sum loss', async () => {
  const tokenizers: [Module & { forward(b: Grid[]): { tokens: Tensor } }, Grid][] = [
    [new ImageTokenizer({ dim: 8, patchSize: 2, imageSize: 4 }), { shape: [3, 6, 4], data: new Float32Array(72).fill(0.5) }],
    [new VideoTokenizer({ dim: 8, tubelet: [2, 2, 2], inChannels: 1, frames: 2, imageSize: 4 }), { shape: [1, 2, 4, 4], data: new Float32Array(32).fill(1) }],
    [new HyperspectralTokenizer({ dim: 8, bands: 6, mode: 'patch', patchSize: 2, bandGroup: 3 }), { shape: [2, 2, 6], data: new Float32Array(24).fill(1) }],
  ];
  for (const [tok, input] of tokenizers) {
    const { tokens } = tok.forward([input, input]);
    ag.backward(ag.sum(tokens));
    for (const [name, p] of tok.namedParameters()) {
      assert.ok(p.grad, `${name} has a gradient`);
      const g = await p.grad!.data();
      assert.ok(g.some((v) => v !== 0), `${name}'s gradient is not all zero`);
    }
    tokens.dispose();
    tok.dispose();
  }
});

t('error paths name the shapes', () => {
  const image = new ImageTokenizer({ dim: 8, patchSize: 2, imageSize: 4 });
  const grid = (shape: number[]): Grid => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
  assertThrows(() => image.forward([grid([1, 4, 4])]), ShapeError, /input \[1,4,4\] has 1 channels, the tokenizer takes 3 \(replicate gray/);
  assertThrows(() => image.forward([grid([3, 5, 4])]), ShapeError, /input \[3,5,4\]: height and width must be multiples of patchSize 2/);
  assertThrows(() => image.forward([grid([3, 4, 4]), grid([3, 6, 4])]), ShapeError, /input 1 has shape \[3,6,4\] but input 0 has \[3,4,4\]/);
  assertThrows(() => image.forward([{ shape: [3, 4, 4], data: new Float32Array(5) }]), ShapeError, /needs a Float32Array of 48 values, got 5/);
  assertThrows(() => image.forward([]), ArgumentError, /non-empty array/);
  assertThrows(() => image.forward([grid([3, 4])]), ShapeError, /input 0 has shape \[3,4\], expected 3 positive dims/);
  image.dispose();
  // An L14 config written with PyTorch's spelling would otherwise build 16x16 patches without a word.
  assertThrows(() => new ImageTokenizer({ dim: 8, patch_size: 14 } as never), ArgumentError, /^ImageTokenizer: unknown key 'patch_size' in options; known: dim, patchSize/);
  assertThrows(() => new ImageTokenizer({ dim: 8, patchSize: 3, imageSize: 8 }), ArgumentError, /imageSize 8x8 is not a multiple of patchSize 3/);

  const video = new VideoTokenizer({ dim: 8, tubelet: [2, 2, 2], inChannels: 1, frames: 2, imageSize: 4 });
  assertThrows(() => video.forward([grid([3, 2, 4, 4])]), ShapeError, /clip \[3,2,4,4\] has 3 channels, the tokenizer takes 1/);
  assertThrows(() => video.forward([grid([1, 3, 4, 4])]), ShapeError, /clip \[1,3,4,4\] \(\[C, T, H, W\]\) is not a multiple of the tubelet \[2,2,2\]/);
  video.dispose();
  assertThrows(() => new VideoTokenizer({ dim: 8, tubelet: [2, 16, 16], frames: 3, imageSize: 32 }), ArgumentError, /clip 3x32x32 is not a multiple of the tubelet 2x16x16/);

  const spectral = new HyperspectralTokenizer({ dim: 8, bands: 5, mode: 'spectral' });
  assertThrows(() => spectral.forward([grid([6])]), ShapeError, /input \[6\] does not match \[5\] \(\[bands\]\)/);
  spectral.dispose();
  const patch = new HyperspectralTokenizer({ dim: 8, bands: 4, mode: 'patch', patchSize: 2 });
  assertThrows(() => patch.forward([grid([2, 2, 5])]), ShapeError, /input \[2,2,5\] does not match \[2,2,4\] \(\[height, width, bands\]\)/);
  patch.dispose();
  assertThrows(() => new HyperspectralTokenizer({ dim: 8, bands: 5, mode: 'patch', bandGroup: 2 }), ArgumentError, /bandGroup 2 does not divide bands 5/);
  assertThrows(() => new HyperspectralTokenizer({ dim: 8, bands: 5, mode: 'spectral', patchSize: 3 }), ArgumentError, /apply to 'patch' mode/);
  assertThrows(() => new HyperspectralTokenizer({ dim: 8, bands: 4, mode: 'patch', patchSize: 2, cubeSize: [3, 4] }), ArgumentError, /cubeSize 3x4 is not a multiple of patchSize 2/);

  assertThrows(() => new ImageTokenizer({ dim: 0 }), ArgumentError, /dim must be a positive integer, got 0/);
  assertThrows(() => new ImageTokenizer({ dim: 8, modality: 'video' as 'image' }), ArgumentError, /modality must be image, infrared or xray, got 'video'/);
  assertThrows(() => new ImageTokenizer({ dim: 8, interpolation: 'nearest' as 'bicubic' }), ArgumentError, /interpolation must be bicubic or bilinear, got 'nearest'/);
  assertThrows(() => new VideoTokenizer({ dim: 8, tubelet: [2, 2] as unknown as [number, number, number] }), ArgumentError, /tubelet must be \[frames, height, width\], got \[2, 2\]/);
  assertThrows(() => new VideoTokenizer({ dim: 8, frames: 2.5 }), ArgumentError, /frames must be a positive integer, got 2.5/);
  assertThrows(() => new HyperspectralTokenizer({ dim: 8, bands: 4, mode: 'pixel' as 'patch' }), ArgumentError, /mode must be 'spectral' or 'patch', got 'pixel'/);
  assertThrows(() => new HyperspectralTokenizer({ dim: 8, bands: 0, mode: 'spectral' }), ArgumentError, /bands must be a positive integer, got 0/);
  assertThrows(() => gridFromRaw(new Uint8Array(4), { dtype: 'f64' as 'f32', shape: [1] }), ArgumentError, /dtype must be 'f32' or 'u16', got 'f64'/);
  assertThrows(() => gridFromRaw(new Uint8Array(4), { dtype: 'f32', shape: [0] }), ArgumentError, /shape \[0\] must be positive integers/);
  assertThrows(() => minMaxPerBand({ shape: [], data: new Float32Array(1) }), ShapeError, /cube \[\] has no band axis/);

  const img = { width: 4, height: 4, channels: 3, data: new Uint8Array(48) };
  assertThrows(() => imageToGrid(img, { size: 4, channels: 2 as 3 }), ArgumentError, /channels must be 1 or 3, got 2/);
  assertThrows(() => imageToGrid(img, { size: 4, resizeTo: 3 }), ArgumentError, /resizeTo 3 is smaller than the crop size 4/);
  assertThrows(() => gridFromRGBA(new Uint8ClampedArray(10), 2, 2, { size: 2 }), ArgumentError, /10 bytes for a 2x2 RGBA image, expected 16/);
});

t.run();
