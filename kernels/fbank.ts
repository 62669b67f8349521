/**
 * Launchers and host-side tables for kernels/wgsl/fbank.wgsl (Kaldi log-mel filterbanks). The window,
 * FFT twiddles and mel filterbank are computed here in float64 and uploaded once per configuration.
 */
import { ParamWriter, WG1D, grid1d, specialize, type AdapterClass, type Launch } from './launch.js';

export type WindowType = 'hanning' | 'povey' | 'hamming' | 'rectangular';

/** Kaldi's analysis windows (symmetric, "periodic=False"). */
export function kaldiWindow(type: WindowType, length: number): Float32Array {
  const w = new Float32Array(length);
  const a = (2 * Math.PI) / (length - 1);
  for (let i = 0; i < length; i++) {
    const hann = 0.5 - 0.5 * Math.cos(a * i);
    w[i] = type === 'hanning' ? hann : type === 'povey' ? hann ** 0.85 : type === 'hamming' ? 0.54 - 0.46 * Math.cos(a * i) : 1;
  }
  return w;
}

/** (cos, -sin)(2 pi k / N) for k < N/2, interleaved. */
export function fftTwiddles(n: number): Float32Array {
  const t = new Float32Array(n);
  for (let k = 0; k < n / 2; k++) {
    t[2 * k] = Math.cos((2 * Math.PI * k) / n);
    t[2 * k + 1] = -Math.sin((2 * Math.PI * k) / n);
  }
  return t;
}

const melScale = (hz: number): number => 1127 * Math.log(1 + hz / 700);

/**
 * Triangular mel filterbank as Kaldi builds it, laid out [N/2 + 1, numMel] (the Nyquist bin gets zero
 * weight, as torchaudio pads it). Filters are spaced evenly on the HTK mel scale between lowFreq and
 * highFreq (highFreq <= 0 means Nyquist + highFreq).
 */
export function kaldiMelBanks(numMel: number, fftSize: number, sampleRate: number, lowFreq = 20, highFreq = 0): Float32Array {
  const nyquist = sampleRate / 2;
  const high = highFreq <= 0 ? nyquist + highFreq : highFreq;
  const binWidth = sampleRate / fftSize;
  const melLow = melScale(lowFreq);
  const delta = (melScale(high) - melLow) / (numMel + 1);
  const bins = fftSize / 2 + 1;
  const banks = new Float32Array(bins * numMel);
  for (let m = 0; m < numMel; m++) {
    const left = melLow + m * delta;
    const center = left + delta;
    const right = center + delta;
    for (let k = 0; k < fftSize / 2; k++) {
      const mel = melScale(binWidth * k);
      const up = (mel - left) / (center - left);
      const down = (right - mel) / (right - center);
      banks[k * numMel + m] = Math.max(0, Math.min(up, down));
    }
  }
  return banks;
}

/**
 * For each mel bin m of `banks` ([bins, numMel]), the first bin with a non-zero weight and one past the
 * last (0, 0 for an empty filter), as numMel (first, end) pairs: log_mel sums only that range. A
 * triangular filter spans about 2 * bins / (numMel + 1) bins, so this skips ~95% of the products at 64 mel.
 */
export function melRanges(banks: Float32Array, numMel: number): Uint32Array {
  const bins = banks.length / numMel;
  const ranges = new Uint32Array(2 * numMel);
  for (let m = 0; m < numMel; m++) {
    let first = -1;
    let end = 0;
    for (let k = 0; k < bins; k++) {
      if (banks[k * numMel + m] !== 0) {
        if (first < 0) first = k;
        end = k + 1;
      }
    }
    ranges[2 * m] = Math.max(first, 0);
    ranges[2 * m + 1] = end;
  }
  return ranges;
}

export interface FbankGeometry {
  numFrames: number;
  frameLength: number;
  frameShift: number;
  fftSize: number;
  numMel: number;
  preemph: number;
  signalOffset: number;
}

function params(g: FbankGeometry): ArrayBuffer {
  return new ParamWriter()
    .u32(g.numFrames)
    .u32(g.frameLength)
    .u32(g.frameShift)
    .u32(g.fftSize)
    .u32(Math.log2(g.fftSize))
    .u32(g.fftSize / 2 + 1)
    .u32(g.numMel)
    .f32(g.preemph)
    .f32(1.1920928955078125e-7) // float32 epsilon: Kaldi's floor before the log
    .u32(g.signalOffset)
    .finish();
}

/**
 * power_spectrum's workgroup width per adapter class: on lavapipe each workgroup barrier switches between
 * the workgroup's SIMD groups, so one 8-wide group per frame runs fastest (see fbank.wgsl's header); GPUs
 * keep 256 invocations (not measured there).
 */
export const FFT_WG: Readonly<Record<AdapterClass, number>> = { cpu: 8, gpu: 256 };

/** Bindings: signal, window, twiddles, power (out). One workgroup per frame. */
export function powerSpectrumLaunch(g: FbankGeometry, adapterClass: AdapterClass): Launch {
  const wg = FFT_WG[adapterClass];
  return { key: `fbank/power_spectrum/${wg}`, code: specialize('fbank'), entryPoint: 'power_spectrum', constants: { WG: wg }, params: params(g), workgroups: grid1d(g.numFrames) };
}

/** Bindings: power, mel banks, mel ranges (melRanges), out. */
export function logMelLaunch(g: FbankGeometry): Launch {
  return { key: 'fbank/log_mel', code: specialize('fbank'), entryPoint: 'log_mel', params: params(g), workgroups: grid1d(Math.ceil((g.numFrames * g.numMel) / WG1D)) };
}
