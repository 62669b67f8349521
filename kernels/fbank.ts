/**
 * Launchers and host-side tables for kernels/wgsl/fbank.wgsl (Kaldi log-mel filterbanks). The window,
 * FFT twiddles and mel filterbank are computed here in float64 and uploaded once per configuration.
 */
import { ParamWriter, WG1D, grid1d, specialize, type Launch } from './launch.js';

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

/** Bindings: signal, window, twiddles, power (out). */
export function powerSpectrumLaunch(g: FbankGeometry): Launch {
  return { key: 'fbank/power_spectrum', code: specialize('fbank'), entryPoint: 'power_spectrum', params: params(g), workgroups: grid1d(g.numFrames) };
}

/** Bindings: power, mel banks, out. */
export function logMelLaunch(g: FbankGeometry): Launch {
  return { key: 'fbank/log_mel', code: specialize('fbank'), entryPoint: 'log_mel', params: params(g), workgroups: grid1d(Math.ceil((g.numFrames * g.numMel) / WG1D)) };
}
