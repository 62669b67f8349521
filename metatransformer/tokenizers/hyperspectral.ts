/**
 * The hyperspectral tokenizer. Meta-Transformer's hyperspectral branch builds on SpectralFormer (Hong et
 * al. 2022), whose front end treats the spectrum as the sequence: each band (with the pixels around the
 * classified one) becomes a token through `patch_to_embedding` (Linear), a learned `cls_token` goes in
 * front and a learned `pos_embedding` [1, 1 + T, D] marks the band positions. The names match, so a
 * SpectralFormer-style checkpoint with the same sizes loads as it is.
 *
 * Modes:
 * - 'spectral': input Grid [bands], one pixel's spectrum; token b = Linear(1 -> D)(value of band b).
 * - 'patch': input Grid [h, w, bands], a cube; a token holds a patchSize x patchSize block of pixels and
 *   `bandGroup` consecutive bands: Linear(p*p*bandGroup -> D). Features inside a token are ordered (band,
 *   row, column), SpectralFormer's neighbourhood layout; tokens are ordered (band group, block row, block
 *   column). With a cube of exactly one block (the default) the tokens are the band groups, as in
 *   SpectralFormer with near_band = 1 when bandGroup = 1.
 * Values are used as given: normalise scenes first (SpectralFormer scales each band to [0, 1] over the
 * scene: `minMaxPerBand`).
 */
import * as ag from '../../autograd/index.js';
import { expectBytes, expectOptions, optionKeys, type BytesLike } from '../../engine/arguments.js';
import { ArgumentError, FormatError, ShapeError, fmtShape } from '../../engine/errors.js';
import type { Generator } from '../../engine/random.js';
import type { Tensor } from '../../engine/tensor.js';
import { readBytes } from '../../engine/platform.js';
import { truncNormal } from '../../nn/init.js';
import { Linear } from '../../nn/layers.js';
import { sourceName, type FileSource } from '../io/common.js';
import { readNpy, type NpyArray } from '../io/npy.js';
import type { Grid } from '../data/types.js';
import { Tokenizer, type TokenBatch } from '../types.js';
import { disposeAll, packGrids, prependClsToken } from './patch.js';

export type HyperspectralMode = 'spectral' | 'patch';

export interface HyperspectralTokenizerOptions {
  dim: number;
  /** Spectral bands per pixel. */
  bands: number;
  mode: HyperspectralMode;
  /** 'patch' mode: pixels per block side. Default 1. */
  patchSize?: number;
  /** 'patch' mode: consecutive bands per token; must divide `bands`. Default 1. */
  bandGroup?: number;
  /** 'patch' mode: [height, width] of the input cubes (multiples of patchSize). Default one block. */
  cubeSize?: readonly [number, number];
  generator?: Generator;
}

const HYPERSPECTRAL_TOKENIZER_OPTIONS = optionKeys<HyperspectralTokenizerOptions>({
  dim: true, bands: true, mode: true, patchSize: true, bandGroup: true, cubeSize: true, generator: true,
});

export class HyperspectralTokenizer extends Tokenizer<Grid> {
  readonly modality = 'hyperspectral' as const;
  readonly dim: number;
  readonly hasClsToken = true;
  readonly bands: number;
  readonly mode: HyperspectralMode;
  readonly patchSize: number;
  readonly bandGroup: number;
  readonly cubeSize: readonly [number, number];
  /** Tokens per input, CLS excluded. */
  readonly tokenCount: number;
  pos_embedding: Tensor;
  patch_to_embedding: Linear;
  cls_token: Tensor;

  constructor(options: HyperspectralTokenizerOptions) {
    super();
    expectOptions('HyperspectralTokenizer', options, HYPERSPECTRAL_TOKENIZER_OPTIONS);
    const { dim, bands, mode, patchSize = 1, bandGroup = 1, cubeSize, generator } = options;
    const who = 'HyperspectralTokenizer';
    if (mode !== 'spectral' && mode !== 'patch') throw new ArgumentError(`${who}: mode must be 'spectral' or 'patch', got '${String(mode)}'`);
    if (mode === 'spectral' && (patchSize !== 1 || bandGroup !== 1 || cubeSize))
      throw new ArgumentError(`${who}: patchSize, bandGroup and cubeSize apply to 'patch' mode; 'spectral' takes one band per token`);
    const [h, w] = cubeSize ?? [patchSize, patchSize];
    for (const [name, v] of [['dim', dim], ['bands', bands], ['patchSize', patchSize], ['bandGroup', bandGroup], ['cube height', h], ['cube width', w]] as const)
      if (!Number.isSafeInteger(v) || v < 1) throw new ArgumentError(`${who}: ${name} must be a positive integer, got ${v}`);
    if (bands % bandGroup) throw new ArgumentError(`${who}: bandGroup ${bandGroup} does not divide bands ${bands}`);
    if (h % patchSize || w % patchSize) throw new ArgumentError(`${who}: cubeSize ${h}x${w} is not a multiple of patchSize ${patchSize}`);
    this.dim = dim;
    this.bands = bands;
    this.mode = mode;
    this.patchSize = patchSize;
    this.bandGroup = bandGroup;
    this.cubeSize = [h, w];
    this.tokenCount = (bands / bandGroup) * (h / patchSize) * (w / patchSize);
    // SpectralFormer draws both from N(0, 1); ViT's std 0.02 keeps the tokens on the encoder's scale.
    this.pos_embedding = truncNormal([1, this.tokenCount + 1, dim], { std: 0.02, generator });
    this.patch_to_embedding = new Linear(patchSize * patchSize * bandGroup, dim, { generator });
    this.cls_token = truncNormal([1, 1, dim], { std: 0.02, generator });
    this.pos_embedding.requiresGrad = true;
    this.cls_token.requiresGrad = true;
  }

  /** The shape one input must have: [bands] or [h, w, bands]. */
  get inputShape(): number[] {
    return this.mode === 'spectral' ? [this.bands] : [...this.cubeSize, this.bands];
  }

  forward(batch: readonly Grid[]): TokenBatch {
    const who = `HyperspectralTokenizer(${this.mode})`;
    const expected = this.inputShape;
    const { shape, data } = packGrids(who, batch, expected.length);
    if (shape.some((d, i) => d !== expected[i]))
      throw new ShapeError(
        `${who}: input ${fmtShape(shape)} does not match ${fmtShape(expected)} (${this.mode === 'spectral' ? '[bands]' : '[height, width, bands]'})`,
      );
    const features = this.gatherTokens(data, batch.length);
    const x = ag.fromFlat(features, [batch.length, this.tokenCount, this.patch_to_embedding.inFeatures], this.pos_embedding.dtype, who);
    const embedded = this.patch_to_embedding.forward(x);
    const withCls = prependClsToken(embedded, this.cls_token);
    const tokens = ag.add(withCls, this.pos_embedding);
    disposeAll(x, embedded, withCls);
    return { tokens };
  }

  /** Cubes [B, h, w, bands] -> token features [B, T, p*p*g] in the orders the file comment gives. */
  private gatherTokens(cubes: Float32Array, batchSize: number): Float32Array {
    const [h, w] = this.cubeSize;
    const { bands, patchSize: p, bandGroup: g } = this;
    const [rows, cols, groups] = [h / p, w / p, bands / g];
    const featureCount = p * p * g;
    const out = new Float32Array(batchSize * this.tokenCount * featureCount);
    let at = 0;
    for (let b = 0; b < batchSize; b++)
      for (let group = 0; group < groups; group++)
        for (let br = 0; br < rows; br++)
          for (let bc = 0; bc < cols; bc++)
            for (let k = 0; k < g; k++)
              for (let dy = 0; dy < p; dy++)
                for (let dx = 0; dx < p; dx++)
                  out[at++] = cubes[((b * h + br * p + dy) * w + bc * p + dx) * bands + group * g + k]!;
    return out;
  }
}

// ---- loading -------------------------------------------------------------------------------------

/** Any numeric .npy array as a float Grid of the same shape (64-bit integers converted to Number). */
export function gridFromNpy(array: NpyArray): Grid {
  const { data, shape } = array;
  const values = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number | bigint>, Number);
  return { shape: [...shape], data: values };
}

export interface RawCubeOptions {
  /** Sample type of the file. */
  dtype: 'f32' | 'u16';
  /** Shape of the array, e.g. [height, width, bands] (band-interleaved-by-pixel). */
  shape: readonly number[];
  /** Default true. */
  littleEndian?: boolean;
}

const RAW_CUBE_OPTIONS = optionKeys<RawCubeOptions>({ dtype: true, shape: true, littleEndian: true });

/** A headerless float32 or uint16 file of the given shape as a Grid; the byte count must match exactly. */
export function gridFromRaw(input: BytesLike, options: RawCubeOptions, name = '<raw>'): Grid {
  const bytes = expectBytes('gridFromRaw', 'the file', input);
  expectOptions('gridFromRaw', options, RAW_CUBE_OPTIONS);
  const { dtype, shape, littleEndian = true } = options;
  if (dtype !== 'f32' && dtype !== 'u16') throw new ArgumentError(`gridFromRaw: dtype must be 'f32' or 'u16', got '${String(dtype)}'`);
  if (shape.length === 0 || !shape.every((d) => Number.isSafeInteger(d) && d > 0))
    throw new ArgumentError(`gridFromRaw: shape ${fmtShape(shape)} must be positive integers`);
  const count = shape.reduce((a, b) => a * b, 1);
  const size = dtype === 'f32' ? 4 : 2;
  if (!Number.isSafeInteger(count * size) || count * size !== bytes.length)
    throw new FormatError(`${name}: ${bytes.length} bytes, but ${dtype} of shape ${fmtShape(shape)} needs ${count * size}`, Math.min(bytes.length, count * size));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = new Float32Array(count);
  if (dtype === 'f32') for (let i = 0; i < count; i++) data[i] = view.getFloat32(4 * i, littleEndian);
  else for (let i = 0; i < count; i++) data[i] = view.getUint16(2 * i, littleEndian);
  return { shape: [...shape], data };
}

/**
 * Reads a hyperspectral array from a path (Node), URL, Blob, Response or bytes: a .npy file (recognised by
 * its magic bytes), or a headerless file described by `raw`.
 */
export async function readHyperspectral(src: FileSource, raw?: RawCubeOptions): Promise<Grid> {
  const bytes = await readBytes(src, 'readHyperspectral');
  const name = sourceName(src);
  const isNpy = bytes[0] === 0x93 && String.fromCharCode(...bytes.subarray(1, 6)) === 'NUMPY';
  if (isNpy) return gridFromNpy(readNpy(bytes, name));
  if (!raw) throw new ArgumentError(`readHyperspectral: ${name} is not a .npy file; pass its dtype and shape to read it as raw samples`);
  return gridFromRaw(bytes, raw, name);
}

/** Scales each band (last axis) to [0, 1] over all pixels, as SpectralFormer does per scene; flat bands become 0. */
export function minMaxPerBand(cube: Grid): Grid {
  const bands = cube.shape[cube.shape.length - 1];
  if (!bands || cube.data.length % bands) throw new ShapeError(`minMaxPerBand: cube ${fmtShape(cube.shape)} has no band axis to scale`);
  const lo = new Float64Array(bands).fill(Infinity);
  const hi = new Float64Array(bands).fill(-Infinity);
  cube.data.forEach((v, i) => {
    const b = i % bands;
    if (v < lo[b]!) lo[b] = v;
    if (v > hi[b]!) hi[b] = v;
  });
  const data = cube.data.map((v, i) => {
    const b = i % bands;
    const range = hi[b]! - lo[b]!;
    return range > 0 ? (v - lo[b]!) / range : 0;
  });
  return { shape: [...cube.shape], data };
}
