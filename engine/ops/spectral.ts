/** Spectral features computed on the GPU: Kaldi-compatible log-mel filterbanks. */
import { fftTwiddles, kaldiMelBanks, kaldiWindow, logMelLaunch, melRanges, powerSpectrumLaunch, type WindowType } from '../../kernels/fbank.js';
import { expectOptions, optionKeys } from '../arguments.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { empty, expectTensor, keep, type Tensor } from '../tensor.js';
import { runtime } from '../runtime.js';
import { fromFlat } from './creation.js';
import { contiguous } from './elementwise.js';

export interface FbankOptions {
  sampleRate?: number;
  /** Frame length in ms (default 25). */
  frameLengthMs?: number;
  /** Frame shift in ms (default 10). */
  frameShiftMs?: number;
  numMelBins?: number;
  preemphasis?: number;
  windowType?: WindowType;
  lowFreq?: number;
  /** <= 0: offset from Nyquist (Kaldi convention). */
  highFreq?: number;
}

const FBANK_OPTIONS = optionKeys<FbankOptions>({
  sampleRate: true, frameLengthMs: true, frameShiftMs: true, numMelBins: true, preemphasis: true, windowType: true, lowFreq: true, highFreq: true,
});

/** Host tables uploaded once per configuration and device. */
interface FbankTables {
  window: Tensor;
  twiddles: Tensor;
  mel: Tensor;
  /** Per mel bin, the first bin with a non-zero weight and one past the last ([numMel, 2], u32). */
  melRange: Tensor;
}
const tables = new Map<string, FbankTables & { generation: number }>();

function tablesFor(key: string, make: () => [Float32Array, Float32Array, Float32Array, Uint32Array]): FbankTables {
  const gen = runtime('kaldiFbank').generation;
  const hit = tables.get(key);
  if (hit && hit.generation === gen && !hit.window.disposed) return hit;
  const [w, t, m, r] = make();
  const entry = {
    window: keep(fromFlat(w, [w.length], 'f32', 'kaldiFbank')),
    twiddles: keep(fromFlat(t, [t.length], 'f32', 'kaldiFbank')),
    mel: keep(fromFlat(m, [m.length], 'f32', 'kaldiFbank')),
    melRange: keep(fromFlat(r, [r.length / 2, 2], 'u32', 'kaldiFbank')),
    generation: gen,
  };
  tables.set(key, entry);
  return entry;
}

/**
 * Log-mel filterbank features of a mono f32 signal [n] (samples in any scale; Kaldi expects int16 scale,
 * AST feeds [-1, 1]), as torchaudio.compliance.kaldi.fbank with dither 0, remove_dc_offset, snip_edges,
 * use_power, use_log_fbank. Returns [frames, numMelBins].
 */
export function kaldiFbank(signal: Tensor, options: FbankOptions = {}): Tensor {
  const op = 'kaldiFbank';
  expectTensor(op, 'signal', signal);
  expectOptions(op, options, FBANK_OPTIONS);
  signal.storage(op);
  if (signal.dtype !== 'f32') throw new DTypeError(`${op}: expects an f32 signal, got ${signal.dtype}`);
  if (signal.rank !== 1) throw new ShapeError(`${op}: expects a mono signal of shape [samples], got ${fmtShape(signal.shape)}`);
  const rate = options.sampleRate ?? 16000;
  const frameLength = Math.round((rate * (options.frameLengthMs ?? 25)) / 1000);
  const frameShift = Math.round((rate * (options.frameShiftMs ?? 10)) / 1000);
  const numMel = options.numMelBins ?? 128;
  if (frameLength < 2 || frameShift < 1) throw new ArgumentError(`${op}: frame length ${frameLength} / shift ${frameShift} samples are too small`);
  const fftSize = 2 ** Math.ceil(Math.log2(frameLength));
  if (fftSize > 1024) throw new ArgumentError(`${op}: frame of ${frameLength} samples needs an FFT of ${fftSize} > 1024 points`);
  if (!Number.isInteger(numMel) || numMel < 1) throw new ArgumentError(`${op}: numMelBins must be a positive integer, got ${numMel}`);
  const n = signal.shape[0]!;
  if (n < frameLength) throw new ShapeError(`${op}: signal of ${n} samples is shorter than one frame (${frameLength} samples)`);
  const numFrames = 1 + Math.floor((n - frameLength) / frameShift);
  const windowType = options.windowType ?? 'povey';
  const lowFreq = options.lowFreq ?? 20;
  const highFreq = options.highFreq ?? 0;
  const key = `${rate}/${frameLength}/${fftSize}/${numMel}/${windowType}/${lowFreq}/${highFreq}`;
  const t = tablesFor(key, () => {
    const banks = kaldiMelBanks(numMel, fftSize, rate, lowFreq, highFreq);
    return [kaldiWindow(windowType, frameLength), fftTwiddles(fftSize), banks, melRanges(banks, numMel)];
  });
  const x = contiguous(signal);
  const geometry = { numFrames, frameLength, frameShift, fftSize, numMel, preemph: options.preemphasis ?? 0.97, signalOffset: x.offset };
  const power = empty([numFrames, fftSize / 2 + 1], 'f32', op);
  const out = empty([numFrames, numMel], 'f32', op);
  try {
    const rt = x.storage(op).rt;
    rt.run(powerSpectrumLaunch(geometry, rt.info.adapterClass), [x.storage(op).buffer, t.window.storage(op).buffer, t.twiddles.storage(op).buffer, power.storage(op).buffer]);
    rt.run(logMelLaunch(geometry), [power.storage(op).buffer, t.mel.storage(op).buffer, t.melRange.storage(op).buffer, out.storage(op).buffer]);
  } finally {
    x.dispose();
    power.dispose();
  }
  return out;
}
