/**
 * The image tokenizer (ViT's patch embedding, named as timm's VisionTransformer so its checkpoints load
 * as they are) and the host-side preparation of its inputs. Infrared and X-ray images use the same
 * tokenizer with their own modality name, usually with one input channel.
 *
 * Tokens: a Conv2d with kernel = stride = patchSize cuts the [C, H, W] image into (H/p)(W/p) patches
 * (`patch_embed.proj`), a learned `cls_token` [1, 1, D] goes in front, and a learned `pos_embed`
 * [1, 1 + N, D] is added. For an input whose patch grid differs from the one `imageSize` gives, the patch
 * part of `pos_embed` is resampled to the new grid (timm's resample_abs_pos_embed: torch's interpolate,
 * align_corners = false, no antialias; the CLS position is kept), differentiably: the resampling is a
 * fixed linear map, applied as a matrix product.
 *
 * Inputs are Grids [C, H, W] that are already normalised. `imageToGrid` and friends make them from
 * decoded images, RGBA pixel arrays (canvas ImageData), browser image sources, or PNG/JPEG files:
 * convert to float in [0, 1] (8-bit / 255, 16-bit / 65535), convert channels, resize the shorter side,
 * center crop, normalise. Working in float avoids PIL's rounding to 8 bits after the resize, so results
 * equal torch's interpolate on float tensors rather than PIL's.
 */
import * as ag from '../../autograd/index.js';
import { expectOptions, optionKeys } from '../../engine/arguments.js';
import { ArgumentError, ShapeError, fmtShape } from '../../engine/errors.js';
import { expectBytesSource } from '../../engine/platform.js';
import type { Generator } from '../../engine/random.js';
import type { Tensor } from '../../engine/tensor.js';
import { truncNormal } from '../../nn/init.js';
import { Conv2d } from '../../nn/layers.js';
import type { FileSource } from '../io/common.js';
import {
  CLIP_MEAN, CLIP_STD, centerCrop, readImageFile, resize, toCHW, toFloat, toGray, toRGB,
  type Image, type Normalization, type ResizeMethod,
} from '../io/image.js';
import type { Grid } from '../data/types.js';
import { Tokenizer, type TokenBatch } from '../types.js';
import { PatchEmbed, disposeAll, packGrids, prependClsToken } from './patch.js';

export type ImageModality = 'image' | 'infrared' | 'xray';
export type PositionInterpolation = 'bicubic' | 'bilinear';

export interface ImageTokenizerOptions {
  /** Token width D. */
  dim: number;
  /** Default 16. */
  patchSize?: number;
  /** Default 3; infrared and X-ray tokenizers trained from scratch usually take 1. */
  inChannels?: number;
  /** Side of the square training images (or [height, width]); fixes the grid of `pos_embed`. Default 224. */
  imageSize?: number | readonly [number, number];
  /** Default 'image'. */
  modality?: ImageModality;
  /** How `pos_embed` is resampled for other input sizes. Default 'bicubic' (timm's default). */
  interpolation?: PositionInterpolation;
  generator?: Generator;
}

function positiveInt(who: string, name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new ArgumentError(`${who}: ${name} must be a positive integer, got ${v}`);
  return v;
}

/**
 * The weights that resample one axis from `inSize` to `outSize` samples, [outSize, inSize] row-major:
 * `resize` applied to an image 1 pixel wide whose channel j is the indicator of row j, so the weights are
 * exactly those of the image resize (and torch's interpolate).
 */
function axisWeights(inSize: number, outSize: number, method: PositionInterpolation): Float32Array {
  const identity = new Float32Array(inSize * inSize);
  for (let i = 0; i < inSize; i++) identity[i * inSize + i] = 1;
  return resize({ width: 1, height: inSize, channels: inSize, data: identity }, 1, outSize, method).data as Float32Array;
}

/**
 * The matrix M [outH*outW, inH*inW] with resampled = M @ grid for a row-major [inH, inW] grid of vectors:
 * torch.nn.functional.interpolate(size = [outH, outW], mode, align_corners = False) as a linear map.
 */
export function positionInterpolationMatrix(
  from: readonly [number, number],
  to: readonly [number, number],
  method: PositionInterpolation,
): Float32Array {
  const [ih, iw] = from;
  const [oh, ow] = to;
  const wy = axisWeights(ih, oh, method);
  const wx = axisWeights(iw, ow, method);
  const m = new Float32Array(oh * ow * ih * iw);
  for (let oy = 0; oy < oh; oy++)
    for (let ox = 0; ox < ow; ox++) {
      const row = (oy * ow + ox) * ih * iw;
      for (let iy = 0; iy < ih; iy++) {
        const a = wy[oy * ih + iy]!;
        if (a === 0) continue;
        for (let ix = 0; ix < iw; ix++) m[row + iy * iw + ix] = a * wx[ox * iw + ix]!;
      }
    }
  return m;
}

const IMAGE_TOKENIZER_OPTIONS = optionKeys<ImageTokenizerOptions>({
  dim: true, patchSize: true, inChannels: true, imageSize: true, modality: true, interpolation: true, generator: true,
});

/**
 * ViT patch tokenizer for 'image', 'infrared' and 'xray': Grid [C, H, W] -> [B, 1 + (H/p)(W/p), D], token 0
 * the CLS token. H and W must be multiples of patchSize; other sizes than `imageSize` resample `pos_embed`.
 */
export class ImageTokenizer extends Tokenizer<Grid> {
  readonly modality: ImageModality;
  readonly dim: number;
  readonly hasClsToken = true;
  readonly patchSize: number;
  readonly inChannels: number;
  /** [height, width] of the training images. */
  readonly imageSize: readonly [number, number];
  readonly interpolation: PositionInterpolation;
  cls_token: Tensor;
  pos_embed: Tensor;
  patch_embed: PatchEmbed<Conv2d>;
  /** Resampling matrices by target grid, computed once per input size. */
  private readonly resampling = new Map<string, Float32Array>();

  constructor(options: ImageTokenizerOptions) {
    super();
    expectOptions('ImageTokenizer', options, IMAGE_TOKENIZER_OPTIONS);
    const { dim, patchSize = 16, inChannels = 3, imageSize = 224, modality = 'image', interpolation = 'bicubic', generator } = options;
    const who = 'ImageTokenizer';
    this.dim = positiveInt(who, 'dim', dim);
    this.patchSize = positiveInt(who, 'patchSize', patchSize);
    this.inChannels = positiveInt(who, 'inChannels', inChannels);
    const [h, w] = typeof imageSize === 'number' ? [imageSize, imageSize] : imageSize;
    if (positiveInt(who, 'image height', h) % patchSize || positiveInt(who, 'image width', w) % patchSize)
      throw new ArgumentError(`${who}: imageSize ${h}x${w} is not a multiple of patchSize ${patchSize}`);
    if (!['image', 'infrared', 'xray'].includes(modality)) throw new ArgumentError(`${who}: modality must be image, infrared or xray, got '${modality}'`);
    if (!['bicubic', 'bilinear'].includes(interpolation)) throw new ArgumentError(`${who}: interpolation must be bicubic or bilinear, got '${interpolation}'`);
    this.imageSize = [h, w];
    this.modality = modality;
    this.interpolation = interpolation;
    const patches = (h / patchSize) * (w / patchSize);
    // timm's initialisation: truncated normal, std 0.02, for both; the convolution keeps PyTorch's default.
    this.cls_token = truncNormal([1, 1, dim], { std: 0.02, generator });
    this.pos_embed = truncNormal([1, 1 + patches, dim], { std: 0.02, generator });
    this.cls_token.requiresGrad = true;
    this.pos_embed.requiresGrad = true;
    this.patch_embed = new PatchEmbed(new Conv2d(inChannels, dim, patchSize, { stride: patchSize, generator }));
  }

  /** The patch grid `imageSize` gives, [rows, columns]. */
  get grid(): [number, number] {
    return [this.imageSize[0] / this.patchSize, this.imageSize[1] / this.patchSize];
  }

  forward(batch: readonly Grid[]): TokenBatch {
    const who = `ImageTokenizer(${this.modality})`;
    const { shape, data } = packGrids(who, batch, 3);
    const [c, h, w] = shape as [number, number, number];
    if (c !== this.inChannels)
      throw new ShapeError(
        `${who}: input ${fmtShape(shape)} has ${c} channels, the tokenizer takes ${this.inChannels}` +
          (c === 1 && this.inChannels === 3 ? ' (replicate gray to 3 channels: imageToGrid with channels: 3)' : ''),
      );
    const p = this.patchSize;
    if (h % p || w % p) throw new ShapeError(`${who}: input ${fmtShape(shape)}: height and width must be multiples of patchSize ${p}`);
    const x = ag.fromFlat(data, [batch.length, c, h, w], this.pos_embed.dtype, who);
    const patches = this.patch_embed.forward(x);
    const withCls = prependClsToken(patches, this.cls_token);
    const pos = this.positions(h / p, w / p);
    const tokens = ag.add(withCls, pos);
    disposeAll(x, patches, withCls);
    if (pos !== this.pos_embed) pos.dispose();
    return { tokens };
  }

  /** pos_embed for a [rows, cols] patch grid: as stored, or with its patch part resampled. */
  private positions(rows: number, cols: number): Tensor {
    const [gh, gw] = this.grid;
    if (rows === gh && cols === gw) return this.pos_embed;
    const key = `${rows}x${cols}`;
    let m = this.resampling.get(key);
    if (!m) {
      m = positionInterpolationMatrix([gh, gw], [rows, cols], this.interpolation);
      this.resampling.set(key, m);
    }
    const cls = ag.narrow(this.pos_embed, 1, 0, 1);
    const patchPart = ag.narrow(this.pos_embed, 1, 1, gh * gw);
    const patchPos = ag.reshape(patchPart, [gh * gw, this.dim]);
    const matrix = ag.fromFlat(m, [rows * cols, gh * gw], this.pos_embed.dtype, 'ImageTokenizer');
    const resampled = ag.matmul(matrix, patchPos);
    const shaped = ag.reshape(resampled, [1, rows * cols, this.dim]);
    const out = ag.concat([cls, shaped], 1);
    disposeAll(cls, patchPart, patchPos, matrix, resampled, shaped);
    return out;
  }
}

// ---- input preparation -----------------------------------------------------------------------------

const LUMA = [0.299, 0.587, 0.114] as const;
const luma = (rgb: readonly number[]): number => LUMA.reduce((s, w, i) => s + w * rgb[i]!, 0);

/**
 * Constants for 1-channel images (the default for infrared and X-ray): CLIP's RGB mean and std weighted
 * like `toGray` weights the channels (ITU-R 601 luma), so a gray image lands on the scale a CLIP-normalised
 * RGB image of the same scene would have. A 3-channel replica of a gray image (to feed an RGB checkpoint)
 * uses CLIP's own constants instead.
 */
export const GRAY_NORMALIZATION: Normalization = { mean: [luma(CLIP_MEAN)], std: [luma(CLIP_STD)] };
export const CLIP_NORMALIZATION: Normalization = { mean: CLIP_MEAN, std: CLIP_STD };

export interface ImagePrepOptions {
  /** Side of the square result (the tokenizer's imageSize). */
  size: number;
  /** Length of the shorter side after resizing, before the center crop. Default `size` (CLIP's Resize + CenterCrop). */
  resizeTo?: number;
  /** Default 'bicubic' (CLIP's). */
  method?: ResizeMethod;
  /** Widen the filter when shrinking, as PIL does. Default true. */
  antialias?: boolean;
  /** 3: gray is replicated, alpha dropped; 1: luma. Default 3. */
  channels?: 1 | 3;
  /** Default CLIP_NORMALIZATION for 3 channels, GRAY_NORMALIZATION for 1. */
  normalization?: Normalization;
}

const IMAGE_PREP_OPTIONS = optionKeys<ImagePrepOptions>({
  size: true, resizeTo: true, method: true, antialias: true, channels: true, normalization: true,
});

/**
 * Decoded image -> normalised Grid [channels, size, size]: float in [0, 1], channel conversion, shorter side
 * resized to `resizeTo` (longer side floor(resizeTo * long / short), as torchvision's Resize), center crop.
 */
export function imageToGrid(img: Image, options: ImagePrepOptions): Grid {
  expectOptions('imageToGrid', options, IMAGE_PREP_OPTIONS);
  const { size, resizeTo = size, method = 'bicubic', antialias = true, channels = 3, normalization } = options;
  const who = 'imageToGrid';
  positiveInt(who, 'size', size);
  if (positiveInt(who, 'resizeTo', resizeTo) < size) throw new ArgumentError(`${who}: resizeTo ${resizeTo} is smaller than the crop size ${size}`);
  if (channels !== 1 && channels !== 3) throw new ArgumentError(`${who}: channels must be 1 or 3, got ${channels}`);
  const float = toFloat(img);
  const converted = channels === 3 ? toRGB(float) : toGray(float);
  const short = Math.min(converted.width, converted.height);
  const scaled = (long: number): number => Math.floor((resizeTo * long) / short);
  const [width, height] = converted.width <= converted.height ? [resizeTo, scaled(converted.height)] : [scaled(converted.width), resizeTo];
  const resized = width === converted.width && height === converted.height ? converted : resize(converted, width, height, method, { antialias });
  const cropped = centerCrop(resized, size, size);
  const norm = normalization ?? (channels === 3 ? CLIP_NORMALIZATION : GRAY_NORMALIZATION);
  return { shape: [channels, size, size], data: toCHW(cropped, norm) };
}

/** RGBA bytes, row-major (a canvas ImageData's `data`), -> Grid, as `imageToGrid`. */
export function gridFromRGBA(rgba: Uint8ClampedArray | Uint8Array, width: number, height: number, options: ImagePrepOptions): Grid {
  if (rgba.length !== width * height * 4)
    throw new ArgumentError(`gridFromRGBA: ${rgba.length} bytes for a ${width}x${height} RGBA image, expected ${width * height * 4}`);
  const data = new Uint8Array(rgba.buffer, rgba.byteOffset, rgba.length);
  return imageToGrid({ width, height, channels: 4, data }, options);
}

/**
 * Browser image -> Grid. ImageData is read directly; an ImageBitmap is drawn on an OffscreenCanvas and read
 * back with getImageData (so Node, which lacks OffscreenCanvas, accepts only ImageData-shaped objects).
 */
export function gridFromImageSource(source: ImageData | ImageBitmap, options: ImagePrepOptions): Grid {
  if ('data' in source) return gridFromRGBA(source.data, source.width, source.height, options);
  if (typeof OffscreenCanvas === 'undefined')
    throw new ArgumentError('gridFromImageSource: an ImageBitmap needs OffscreenCanvas (browsers); in Node decode the file with readImageGrid');
  const canvas = new OffscreenCanvas(source.width, source.height);
  // A fresh canvas always grants its first '2d' request.
  const ctx = canvas.getContext('2d')!;
  ctx.drawImage(source, 0, 0);
  const pixels = ctx.getImageData(0, 0, source.width, source.height);
  return gridFromRGBA(pixels.data, pixels.width, pixels.height, options);
}

/**
 * PNG or JPEG (path in Node, URL, Blob, Response or bytes) -> Grid, as `imageToGrid`. 16-bit PNGs (common for
 * thermal and radiographic images) keep their full precision: values are divided by 65535.
 */
export async function readImageGrid(src: FileSource, options: ImagePrepOptions): Promise<Grid> {
  expectBytesSource('readImageGrid', src);
  return imageToGrid(await readImageFile(src), options);
}
