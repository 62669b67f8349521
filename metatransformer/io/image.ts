/**
 * Host-side image preprocessing for the vision encoders: the common `Image` type, conversion to
 * float, resizing, center cropping, channel replication and CHW normalization with the CLIP and
 * ImageNet constants, plus `decodeImage`, which sniffs PNG or JPEG by magic bytes.
 *
 * Resizing uses the half-pixel convention (align_corners = false): output pixel o samples input
 * coordinate (o + 0.5) * in / out - 0.5. Without `antialias` the result matches
 * `torch.nn.functional.interpolate(mode, align_corners=False, antialias=False)` — bilinear clamps the
 * source coordinate at 0, bicubic uses a = -0.75 with edge replication, and 'nearest' takes
 * floor(o * in / out), torch's legacy 'nearest'. With `antialias: true` the filter is widened by the
 * downscale factor and normalized over the taps inside the image, which is what PIL's resize (and
 * torch's antialias=True, bicubic a = -0.5) does; use it when shrinking photos, as CLIP's PIL-based
 * preprocessing does.
 */
import { expectBytes, expectOptions, optionKeys, type BytesLike } from '../../engine/arguments.js';
import { ArgumentError, FormatError } from '../../engine/errors.js';
import { readBytes } from '../../engine/platform.js';
import { sourceName, type FileSource } from './common.js';
import { decodeJpeg } from './jpeg.js';
import { decodePng } from './png.js';

/**
 * An image in row-major, channel-interleaved layout. Float data is in [0, 1]; integer data uses the
 * full range of its type (0..255 for Uint8Array, 0..65535 for Uint16Array).
 */
export interface Image {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array | Uint16Array | Float32Array;
}

export type FloatImage = Image & { data: Float32Array };

/** Normalization constants of OpenAI CLIP, used by Meta-Transformer's image tokenizer. */
export const CLIP_MEAN: readonly number[] = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: readonly number[] = [0.26862954, 0.26130258, 0.27577711];
/** torchvision's ImageNet normalization constants. */
export const IMAGENET_MEAN: readonly number[] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly number[] = [0.229, 0.224, 0.225];

function check(img: Image, op: string): void {
  const { width, height, channels, data } = img;
  if (![width, height, channels].every((n) => Number.isInteger(n) && n > 0))
    throw new ArgumentError(`${op}: image size ${width}x${height}x${channels} must be positive integers`);
  if (data.length !== width * height * channels)
    throw new ArgumentError(`${op}: data has ${data.length} values, expected ${width}x${height}x${channels}`);
}

function maxOf(data: Image['data']): number {
  return data instanceof Uint8Array ? 255 : data instanceof Uint16Array ? 65535 : 1;
}

/** Allocates data of the same kind as `like`, storing rounded and clamped values for integer kinds. */
function sameKind(like: Image['data'], values: Float32Array): Image['data'] {
  if (like instanceof Float32Array) return values;
  const max = maxOf(like);
  const out = like instanceof Uint8Array ? new Uint8Array(values.length) : new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.min(max, Math.max(0, Math.round(values[i]!)));
  return out;
}

/** Converts to Float32 in [0, 1] (integer data divided by its type's maximum). */
export function toFloat(img: Image): FloatImage {
  check(img, 'toFloat');
  if (img.data instanceof Float32Array) return { ...img, data: img.data };
  const scale = 1 / maxOf(img.data);
  return { ...img, data: Float32Array.from(img.data, (v) => v * scale) };
}

export type ResizeMethod = 'nearest' | 'bilinear' | 'bicubic';

export interface ResizeOptions {
  /** Widen the filter when shrinking (PIL behaviour). Default false (torch interpolate's default). */
  antialias?: boolean;
}

const RESIZE_OPTIONS = optionKeys<ResizeOptions>({ antialias: true });

/** For each output position: `size` input indices and weights (zero-padded). */
interface Taps {
  size: number;
  index: Int32Array;
  weight: Float32Array;
}

function cubic(x: number, a: number): number {
  x = Math.abs(x);
  if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0;
}

function computeTaps(inSize: number, outSize: number, method: ResizeMethod, antialias: boolean): Taps {
  const scale = inSize / outSize;
  if (method === 'nearest') {
    const index = Int32Array.from({ length: outSize }, (_, o) => Math.min(Math.floor(o * scale), inSize - 1));
    return { size: 1, index, weight: new Float32Array(outSize).fill(1) };
  }
  const clampIndex = (i: number): number => Math.min(Math.max(i, 0), inSize - 1);
  if (!antialias) {
    const size = method === 'bilinear' ? 2 : 4;
    const index = new Int32Array(outSize * size);
    const weight = new Float32Array(outSize * size);
    for (let o = 0; o < outSize; o++) {
      let src = (o + 0.5) * scale - 0.5;
      if (method === 'bilinear') {
        src = Math.max(src, 0);
        const i0 = Math.floor(src);
        const t = src - i0;
        index.set([i0, clampIndex(i0 + 1)], o * 2);
        weight.set([1 - t, t], o * 2);
      } else {
        const i0 = Math.floor(src);
        const t = src - i0;
        index.set([i0 - 1, i0, i0 + 1, i0 + 2].map(clampIndex), o * 4);
        weight.set([cubic(t + 1, -0.75), cubic(t, -0.75), cubic(1 - t, -0.75), cubic(2 - t, -0.75)], o * 4);
      }
    }
    return { size, index, weight };
  }
  const stretch = Math.max(scale, 1);
  const support = (method === 'bilinear' ? 1 : 2) * stretch;
  const filter = method === 'bilinear' ? (x: number) => Math.max(0, 1 - Math.abs(x)) : (x: number) => cubic(x, -0.5);
  const size = Math.ceil(support) * 2 + 1;
  const index = new Int32Array(outSize * size);
  const weight = new Float32Array(outSize * size);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(Math.floor(center - support + 0.5), 0);
    const hi = Math.min(Math.floor(center + support + 0.5), inSize);
    const ws: number[] = [];
    for (let i = lo; i < hi; i++) ws.push(filter((i - center + 0.5) / stretch));
    const total = ws.reduce((s, w) => s + w, 0);
    ws.forEach((w, j) => {
      index[o * size + j] = lo + j;
      weight[o * size + j] = total !== 0 ? w / total : w;
    });
  }
  return { size, index, weight };
}

/**
 * Resizes to width x height (see the file comment for the exact conventions). The result has the
 * same data kind as the input; integer data is rounded and clamped.
 */
export function resize(img: Image, width: number, height: number, method: ResizeMethod = 'bilinear', options: ResizeOptions = {}): Image {
  expectOptions('resize', options, RESIZE_OPTIONS);
  check(img, 'resize');
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1)
    throw new ArgumentError(`resize: target size ${width}x${height} must be positive integers`);
  if (!['nearest', 'bilinear', 'bicubic'].includes(method))
    throw new ArgumentError(`resize: unknown method '${method}' (nearest, bilinear or bicubic)`);
  const antialias = options.antialias ?? false;
  const c = img.channels;
  const src = img.data;
  const tx = computeTaps(img.width, width, method, antialias);
  const ty = computeTaps(img.height, height, method, antialias);
  const rows = new Float32Array(img.height * width * c);
  for (let y = 0; y < img.height; y++)
    for (let x = 0; x < width; x++)
      for (let k = 0; k < tx.size; k++) {
        const w = tx.weight[x * tx.size + k]!;
        if (w === 0) continue;
        const from = (y * img.width + tx.index[x * tx.size + k]!) * c;
        const to = (y * width + x) * c;
        for (let ch = 0; ch < c; ch++) rows[to + ch] = rows[to + ch]! + w * src[from + ch]!;
      }
  const out = new Float32Array(height * width * c);
  for (let y = 0; y < height; y++)
    for (let k = 0; k < ty.size; k++) {
      const w = ty.weight[y * ty.size + k]!;
      if (w === 0) continue;
      const from = ty.index[y * ty.size + k]! * width * c;
      for (let i = 0; i < width * c; i++) out[y * width * c + i] = out[y * width * c + i]! + w * rows[from + i]!;
    }
  return { width, height, channels: c, data: sameKind(src, out) };
}

/** Python's round(): halves go to the even neighbour (torchvision's center_crop uses it). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Crops the central width x height region, placed as torchvision's center_crop places it. */
export function centerCrop(img: Image, width: number, height: number): Image {
  check(img, 'centerCrop');
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > img.width || height > img.height)
    throw new ArgumentError(`centerCrop: crop ${width}x${height} must be positive and fit in ${img.width}x${img.height}`);
  const top = roundHalfEven((img.height - height) / 2);
  const left = roundHalfEven((img.width - width) / 2);
  const c = img.channels;
  const data = new (img.data.constructor as new (n: number) => Image['data'])(width * height * c);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * img.width + left) * c;
    data.set(img.data.subarray(from, from + width * c), y * width * c);
  }
  return { width, height, channels: c, data };
}

/**
 * Converts to 3 channels: gray is replicated, an alpha channel is dropped (not composited, like PIL's
 * convert('RGB')).
 */
export function toRGB(img: Image): Image {
  check(img, 'toRGB');
  const c = img.channels;
  if (c === 3) return img;
  if (c > 4) throw new ArgumentError(`toRGB: ${c} channels; expected 1 to 4`);
  const n = img.width * img.height;
  const data = new (img.data.constructor as new (n: number) => Image['data'])(n * 3);
  for (let i = 0; i < n; i++)
    for (let ch = 0; ch < 3; ch++) data[3 * i + ch] = img.data[i * c + (c < 3 ? 0 : ch)]!;
  return { width: img.width, height: img.height, channels: 3, data };
}

/** Converts to 1 channel with ITU-R 601 luma (0.299 R + 0.587 G + 0.114 B, as PIL's 'L'); drops alpha. */
export function toGray(img: Image): Image {
  check(img, 'toGray');
  const c = img.channels;
  if (c === 1) return img;
  if (c > 4) throw new ArgumentError(`toGray: ${c} channels; expected 1 to 4`);
  const n = img.width * img.height;
  const luma = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const d = img.data;
    luma[i] = c < 3 ? d[i * c]! : 0.299 * d[i * c]! + 0.587 * d[i * c + 1]! + 0.114 * d[i * c + 2]!;
  }
  return { width: img.width, height: img.height, channels: 1, data: sameKind(img.data, luma) };
}

export interface Normalization {
  mean: readonly number[];
  std: readonly number[];
}

/**
 * Converts to a planar [channels, height, width] Float32Array with (x - mean[c]) / std[c] applied to
 * values in [0, 1], ready to become a tensor of that shape.
 */
export function toCHW(img: Image, { mean, std }: Normalization = { mean: CLIP_MEAN, std: CLIP_STD }): Float32Array {
  const f = toFloat(img);
  const { width, height, channels } = f;
  if (mean.length !== channels || std.length !== channels)
    throw new ArgumentError(`toCHW: mean/std have ${mean.length}/${std.length} values for a ${channels}-channel image`);
  if (std.some((s) => !(s > 0))) throw new ArgumentError(`toCHW: std must be positive, got [${std.join(', ')}]`);
  const plane = width * height;
  const out = new Float32Array(channels * plane);
  for (let ch = 0; ch < channels; ch++) {
    const m = mean[ch]!;
    const s = std[ch]!;
    for (let i = 0; i < plane; i++) out[ch * plane + i] = (f.data[i * channels + ch]! - m) / s;
  }
  return out;
}

/** Decodes PNG or JPEG bytes, chosen by their magic number. */
export async function decodeImage(input: BytesLike, name = '<image>'): Promise<Image> {
  const bytes = expectBytes('decodeImage', 'the file', input);
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return decodePng(bytes, name);
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return decodeJpeg(bytes, name);
  throw new FormatError(`${name}: unknown image format (expected PNG or JPEG magic bytes)`, 0);
}

/** Reads and decodes a PNG or JPEG from a path (Node), URL, Blob, Response or bytes. */
export async function readImageFile(src: FileSource): Promise<Image> {
  return decodeImage(await readBytes(src, 'readImageFile'), sourceName(src));
}
