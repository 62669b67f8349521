/**
 * The video tokenizer, following VideoMAE: a Conv3d with kernel = stride = tubelet [t, h, w] turns a clip
 * [C, T, H, W] into (T/t)(H/h)(W/w) tubelet tokens (`patch_embed.proj`), plus FIXED sinusoidal positions
 * (VideoMAE's get_sinusoid_encoding_table over the flattened token index; not trained). There is no CLS
 * token, as in VideoMAE: heads pool by averaging the tokens ('mean' pooling).
 *
 * The table is a buffer named `pos_embed` [1, N, D], so it is saved with the module. VideoMAE keeps it as
 * a plain attribute, outside its state dict: load VideoMAE checkpoints with `{ strict: false }` (the only
 * missing entry is then `pos_embed`, which the constructor has already filled with the same values).
 * A clip of another length or size gets the table for its own token count.
 */
import * as ag from '../../autograd/index.js';
import { expectOptions, optionKeys } from '../../engine/arguments.js';
import { ArgumentError, ShapeError, fmtShape } from '../../engine/errors.js';
import type { Generator } from '../../engine/random.js';
import type { Tensor } from '../../engine/tensor.js';
import { Conv3d } from '../../nn/layers.js';
import type { Grid } from '../data/types.js';
import { Tokenizer, type TokenBatch } from '../types.js';
import { PatchEmbed, disposeAll, packGrids } from './patch.js';

/** A clip: one Grid [C, T, H, W], or its frames as Grids [C, H, W] in order. */
export type Clip = Grid | readonly Grid[];

export interface VideoTokenizerOptions {
  dim: number;
  /** [frames, height, width] per token. Default [2, 16, 16] (VideoMAE). */
  tubelet?: readonly [number, number, number];
  /** Default 3. */
  inChannels?: number;
  /** Frames per training clip. Default 16. */
  frames?: number;
  /** Side of the square training frames, or [height, width]. Default 224. */
  imageSize?: number | readonly [number, number];
  generator?: Generator;
}

/**
 * VideoMAE's sinusoid table [n, d] (row-major): angle(pos, j) = pos / 10000^(2 floor(j/2) / d), sine on even
 * j and cosine on odd j. Computed in float64.
 */
export function sinusoidTable(n: number, d: number): Float32Array {
  const table = new Float32Array(n * d);
  for (let j = 0; j < d; j++) {
    const rate = Math.pow(10000, (2 * Math.floor(j / 2)) / d);
    for (let pos = 0; pos < n; pos++) {
      const angle = pos / rate;
      table[pos * d + j] = j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  return table;
}

/** Stacks frames [C, H, W] into a clip [C, T, H, W]. */
export function clipFromFrames(frames: readonly Grid[]): Grid {
  const who = 'clipFromFrames';
  const { shape, data: packed } = packGrids(who, frames, 3);
  const [c, h, w] = shape as [number, number, number];
  const t = frames.length;
  const plane = h * w;
  // packed is [T, C, H, W]; the clip is channel-major.
  const data = new Float32Array(packed.length);
  for (let f = 0; f < t; f++)
    for (let ch = 0; ch < c; ch++) data.set(packed.subarray((f * c + ch) * plane, (f * c + ch + 1) * plane), (ch * t + f) * plane);
  return { shape: [c, t, h, w], data };
}

const VIDEO_TOKENIZER_OPTIONS = optionKeys<VideoTokenizerOptions>({
  dim: true, tubelet: true, inChannels: true, frames: true, imageSize: true, generator: true,
});

/** VideoMAE tubelet tokenizer: clip [C, T, H, W] -> [B, (T/t)(H/h)(W/w), D], no CLS token. */
export class VideoTokenizer extends Tokenizer<Clip> {
  readonly modality = 'video' as const;
  readonly dim: number;
  readonly hasClsToken = false;
  readonly tubelet: readonly [number, number, number];
  readonly inChannels: number;
  readonly frames: number;
  readonly imageSize: readonly [number, number];
  patch_embed: PatchEmbed<Conv3d>;
  pos_embed: Tensor;

  constructor(options: VideoTokenizerOptions) {
    super();
    expectOptions('VideoTokenizer', options, VIDEO_TOKENIZER_OPTIONS);
    const { dim, tubelet = [2, 16, 16], inChannels = 3, frames = 16, imageSize = 224, generator } = options;
    const who = 'VideoTokenizer';
    const [h, w] = typeof imageSize === 'number' ? [imageSize, imageSize] : imageSize;
    for (const [name, v] of [['dim', dim], ['inChannels', inChannels], ['frames', frames], ['image height', h], ['image width', w], ...tubelet.map((v, i) => [`tubelet[${i}]`, v] as const)] as const)
      if (!Number.isSafeInteger(v) || v < 1) throw new ArgumentError(`${who}: ${name} must be a positive integer, got ${v}`);
    if (tubelet.length !== 3) throw new ArgumentError(`${who}: tubelet must be [frames, height, width], got [${tubelet.join(', ')}]`);
    if (frames % tubelet[0] || h % tubelet[1] || w % tubelet[2])
      throw new ArgumentError(`${who}: clip ${frames}x${h}x${w} is not a multiple of the tubelet ${tubelet.join('x')}`);
    this.dim = dim;
    this.tubelet = [...tubelet];
    this.inChannels = inChannels;
    this.frames = frames;
    this.imageSize = [h, w];
    this.patch_embed = new PatchEmbed(new Conv3d(inChannels, dim, tubelet, { stride: tubelet, generator }));
    const n = this.tokenCount(frames, h, w);
    this.pos_embed = this.buffer('pos_embed', ag.fromFlat(sinusoidTable(n, dim), [1, n, dim], 'f32', who));
  }

  private tokenCount(t: number, h: number, w: number): number {
    return (t / this.tubelet[0]) * (h / this.tubelet[1]) * (w / this.tubelet[2]);
  }

  forward(batch: readonly Clip[]): TokenBatch {
    const who = 'VideoTokenizer';
    if (!Array.isArray(batch)) throw new ArgumentError(`${who}: expected an array of clips`);
    const clips = batch.map((clip: Clip) => (Array.isArray(clip) ? clipFromFrames(clip) : (clip as Grid)));
    const { shape, data } = packGrids(who, clips, 4);
    const [c, t, h, w] = shape as [number, number, number, number];
    if (c !== this.inChannels) throw new ShapeError(`${who}: clip ${fmtShape(shape)} has ${c} channels, the tokenizer takes ${this.inChannels}`);
    const [tt, th, tw] = this.tubelet;
    if (t % tt || h % th || w % tw)
      throw new ShapeError(`${who}: clip ${fmtShape(shape)} ([C, T, H, W]) is not a multiple of the tubelet [${tt},${th},${tw}] in T, H and W`);
    const n = this.tokenCount(t, h, w);
    const dtype = this.pos_embed.dtype;
    const x = ag.fromFlat(data, [clips.length, c, t, h, w], dtype, who);
    const patches = this.patch_embed.forward(x);
    const pos = n === this.pos_embed.shape[1] ? this.pos_embed : ag.fromFlat(sinusoidTable(n, this.dim), [1, n, this.dim], dtype, who);
    const tokens = ag.add(patches, pos);
    disposeAll(x, patches);
    if (pos !== this.pos_embed) pos.dispose();
    return { tokens };
  }
}
