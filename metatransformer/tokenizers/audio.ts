/**
 * Audio tokenizer, following the Audio Spectrogram Transformer (AST, Gong et al. 2021) that
 * Meta-Transformer uses for audio: a mono 16 kHz waveform -> Kaldi log-mel filterbank (128 bins, Hann
 * window, 25 ms frames every 10 ms, the waveform's mean removed first) -> zero-padded or cropped to
 * `targetFrames` -> normalised as (x - mean) / (2 * std) with AudioSet's statistics -> overlapping 16x16
 * patches with stride 10 (a Conv2d, `patch_embed.proj`) -> a CLS token in front -> learned positions.
 *
 * Layout follows AST's forward, so AST checkpoints' `patch_embed.proj.weight` applies unchanged: the
 * spectrogram enters the convolution as [B, 1, mel, frames] (frequency on the kernel's first axis), and
 * the patches are ordered frequency-major (12 frequency rows for 128 bins, then time within each row).
 *
 * Deviation: AST prepends two tokens (DeiT's cls and distillation tokens, positions for both); this
 * tokenizer has one CLS token, so `pos_embed` is [1, 1 + patches, D]. Loading an AST checkpoint needs the
 * distillation row dropped from its pos_embed.
 *
 * The filterbank is computed per clip on the GPU and is input preprocessing: nothing flows back into it.
 */
import * as ag from '../../autograd/index.js';
import { expectOptions, optionKeys } from '../../engine/arguments.js';
import { ArgumentError, ShapeError } from '../../engine/errors.js';
import * as raw from '../../engine/ops/index.js';
import { expectBytesSource } from '../../engine/platform.js';
import type { Generator } from '../../engine/random.js';
import type { Tensor } from '../../engine/tensor.js';
import { Conv2d } from '../../nn/index.js';
import type { FileSource } from '../io/common.js';
import { readWavFile, resample, toMono } from '../io/wav.js';
import { Tokenizer, type TokenBatch } from '../types.js';
import { PatchEmbed, prependClsToken } from './patch.js';
import { learnedTensor, requireBatch, requireInt } from './tokens.js';

/** AudioSet statistics of the AST filterbank (AST's norm_mean / norm_std). */
export const AUDIOSET_FBANK_MEAN = -4.2677393;
export const AUDIOSET_FBANK_STD = 4.5689974;

export interface AudioTokenizerOptions {
  dim: number;
  /** Spectrogram length in frames (10 ms each); shorter clips are zero-padded, longer ones cropped. */
  targetFrames: number;
  numMelBins?: number;
  /** Patch side (default 16). */
  patch?: number;
  /** Patch stride on both axes (default 10: AST's 6-frame overlap). */
  stride?: number;
  sampleRate?: number;
  /** Filterbank normalisation: (x - mean) / (2 * std). */
  mean?: number;
  std?: number;
  generator?: Generator;
}

const AUDIO_TOKENIZER_OPTIONS = optionKeys<AudioTokenizerOptions>({
  dim: true, targetFrames: true, numMelBins: true, patch: true, stride: true, sampleRate: true, mean: true, std: true, generator: true,
});

export class AudioTokenizer extends Tokenizer<Float32Array> {
  readonly modality = 'audio' as const;
  readonly dim: number;
  readonly hasClsToken = true;
  readonly targetFrames: number;
  readonly numMelBins: number;
  readonly sampleRate: number;
  readonly mean: number;
  readonly std: number;
  /** Patch grid: rows along frequency, columns along time. */
  readonly grid: readonly [number, number];
  patch_embed: PatchEmbed<Conv2d>;
  cls_token: Tensor;
  pos_embed: Tensor;

  constructor(options: AudioTokenizerOptions) {
    super();
    const op = 'AudioTokenizer';
    expectOptions(op, options, AUDIO_TOKENIZER_OPTIONS);
    const {
      dim, targetFrames, numMelBins = 128, patch = 16, stride = 10, sampleRate = 16000,
      mean = AUDIOSET_FBANK_MEAN, std = AUDIOSET_FBANK_STD, generator,
    } = options;
    requireInt(op, 'dim', dim);
    requireInt(op, 'patch', patch);
    requireInt(op, 'stride', stride);
    requireInt(op, 'sampleRate', sampleRate);
    if (!Number.isInteger(numMelBins) || numMelBins < patch || !Number.isInteger(targetFrames) || targetFrames < patch)
      throw new ArgumentError(`${op}: numMelBins (${numMelBins}) and targetFrames (${targetFrames}) must be integers >= patch (${patch})`);
    if (!Number.isFinite(mean) || !(std > 0)) throw new ArgumentError(`${op}: need a finite mean and std > 0, got ${mean}, ${std}`);
    this.dim = dim;
    this.targetFrames = targetFrames;
    this.numMelBins = numMelBins;
    this.sampleRate = sampleRate;
    this.mean = mean;
    this.std = std;
    this.grid = [Math.floor((numMelBins - patch) / stride) + 1, Math.floor((targetFrames - patch) / stride) + 1];
    // AST's PatchEmbed with overlapping patches: kernel `patch`, stride `stride`.
    this.patch_embed = new PatchEmbed(new Conv2d(1, dim, patch, { stride, generator }));
    this.cls_token = learnedTensor([1, 1, dim], generator);
    this.pos_embed = learnedTensor([1, 1 + this.grid[0] * this.grid[1], dim], generator);
  }

  /** Number of tokens per clip (CLS included). */
  get numTokens(): number {
    return 1 + this.grid[0] * this.grid[1];
  }

  /**
   * The normalised spectrograms [B, targetFrames, numMelBins] of mono waveforms at `sampleRate` (AST's
   * dataset transform). Not differentiable.
   */
  spectrograms(batch: readonly Float32Array[]): Tensor {
    const op = 'AudioTokenizer';
    requireBatch(op, batch);
    const minSamples = Math.round((this.sampleRate * 25) / 1000);
    const clips = batch.map((wave, i) => {
      if (!(wave instanceof Float32Array)) throw new ArgumentError(`${op}: clip ${i} is not a Float32Array waveform`);
      if (wave.length < minSamples)
        throw new ShapeError(`${op}: clip ${i} has ${wave.length} samples, fewer than one 25 ms frame (${minSamples} at ${this.sampleRate} Hz)`);
      return this.spectrogram(wave, i);
    });
    try {
      return raw.stack(clips, 0);
    } finally {
      for (const c of clips) c.dispose();
    }
  }

  private spectrogram(wave: Float32Array, index: number): Tensor {
    let sum = 0;
    for (let i = 0; i < wave.length; i++) sum += wave[i]!;
    const mean = sum / wave.length;
    if (!Number.isFinite(mean)) throw new ArgumentError(`AudioTokenizer: clip ${index} contains non-finite samples`);
    const centred = new Float32Array(wave.length);
    for (let i = 0; i < wave.length; i++) centred[i] = wave[i]! - mean;
    const signal = raw.fromFlat(centred, [centred.length], 'f32', 'AudioTokenizer');
    const temps: Tensor[] = [signal];
    try {
      const fbank = raw.kaldiFbank(signal, { sampleRate: this.sampleRate, numMelBins: this.numMelBins, windowType: 'hanning', frameShiftMs: 10 });
      temps.push(fbank);
      const frames = fbank.shape[0]!;
      const fitted = frames < this.targetFrames
        ? raw.pad(fbank, [0, 0, 0, this.targetFrames - frames])
        : raw.slice(fbank, [{ end: this.targetFrames }]);
      temps.push(fitted);
      // AST pads with zeros before normalising, so padded frames carry -mean / (2 std).
      const shifted = raw.sub(fitted, this.mean);
      temps.push(shifted);
      return raw.div(shifted, 2 * this.std);
    } finally {
      for (const t of temps) t.dispose();
    }
  }

  forward(batch: readonly Float32Array[]): TokenBatch {
    const spec = this.spectrograms(batch);
    // [B, frames, mel] -> [B, 1, mel, frames], AST's x.unsqueeze(1).transpose(2, 3).
    const image = raw.unsqueeze(raw.transpose(spec, 1, 2), 1);
    try {
      const seq = this.patch_embed.forward(image); // [B, rows * cols, D], frequency-major
      const withCls = prependClsToken(seq, this.cls_token);
      const tokens = ag.add(withCls, this.pos_embed);
      seq.dispose();
      withCls.dispose();
      return { tokens };
    } finally {
      spec.dispose();
      image.dispose();
    }
  }
}

/** Reads a WAV file as a mono waveform at `sampleRate` (channels averaged, resampled when needed). */
export async function readAudioClip(src: FileSource, sampleRate = 16000): Promise<Float32Array> {
  expectBytesSource('readAudioClip', src);
  const audio = await readWavFile(src);
  const mono = toMono(audio);
  return audio.sampleRate === sampleRate ? mono : resample(mono, audio.sampleRate, sampleRate);
}
