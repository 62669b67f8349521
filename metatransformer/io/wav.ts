/**
 * WAV (RIFF/WAVE) audio: reading, writing, mono downmix and band-limited resampling for the audio
 * tokenizer.
 *
 * Reads integer PCM of 8 (unsigned), 16, 24 and 32 bits, IEEE float of 32 and 64 bits, and
 * WAVE_FORMAT_EXTENSIBLE wrapping either, with any number of channels. Unknown chunks (LIST, fact,
 * cue, ...) are skipped, honouring RIFF's pad byte after odd-sized chunks. Samples come back as one
 * Float32Array per channel: integers divided by 2^(bits-1) (8-bit after removing its 128 offset), so
 * values lie in [-1, 1).
 *
 * Refused with a FormatError naming the chunk and byte offset: a missing RIFF/WAVE magic, fmt or data
 * chunk; chunk sizes running past the end of the file (a RIFF size larger than the file too, so a cut
 * download is reported, not silently shortened); compressed codecs (ADPCM, mu-law, MP3...), which
 * need their own decoders; a block align that disagrees with channels x bits; and a data size that is
 * not a whole number of frames.
 */
import { expectBytes, expectOptions, optionKeys, type BytesLike } from '../../engine/arguments.js';
import { ArgumentError } from '../../engine/errors.js';
import { readBytes } from '../../engine/platform.js';
import { fail, fourCC, need, sourceName, viewOf, type FileSource } from './common.js';

export interface Audio {
  sampleRate: number;
  /** One array per channel, all the same length, values in [-1, 1]. */
  channels: Float32Array[];
}

const PCM = 1;
const IEEE_FLOAT = 3;
const EXTENSIBLE = 0xfffe;

/** Decodes a WAV file. `name` is used in error messages. */
export function decodeWav(input: BytesLike, name = '<wav>'): Audio {
  const bytes = expectBytes('decodeWav', 'the file', input);
  need(bytes, 0, 12, name, 'RIFF header');
  if (fourCC(bytes, 0) !== 'RIFF') fail(name, 'not a WAV file (no RIFF magic)', 0);
  if (fourCC(bytes, 8) !== 'WAVE') fail(name, `RIFF form type is '${fourCC(bytes, 8)}', expected 'WAVE'`, 8);
  const dv = viewOf(bytes);
  const riffEnd = 8 + dv.getUint32(4, true);
  if (riffEnd > bytes.length) fail(name, `RIFF size ${riffEnd - 8} runs past the end of the file (${bytes.length} bytes): truncated?`, 4);
  let format: { tag: number; channels: number; sampleRate: number; blockAlign: number; bits: number } | undefined;
  let data: { offset: number; size: number } | undefined;
  for (let pos = 12; pos + 8 <= riffEnd && !data; ) {
    const id = fourCC(bytes, pos);
    const size = dv.getUint32(pos + 4, true);
    const body = pos + 8;
    if (body + size > riffEnd) fail(name, `chunk '${id}': size ${size} runs past the end of the RIFF data`, pos);
    if (id === 'fmt ') {
      if (size < 16) fail(name, `fmt chunk: size ${size}, expected at least 16`, pos);
      let tag = dv.getUint16(body, true);
      const channels = dv.getUint16(body + 2, true);
      const sampleRate = dv.getUint32(body + 4, true);
      const blockAlign = dv.getUint16(body + 12, true);
      const bits = dv.getUint16(body + 14, true);
      if (tag === EXTENSIBLE) {
        if (size < 40) fail(name, `fmt chunk: WAVE_FORMAT_EXTENSIBLE needs 40 bytes, chunk has ${size}`, pos);
        tag = dv.getUint16(body + 24, true); // the first two bytes of the sub-format GUID are the format tag
      }
      if (tag !== PCM && tag !== IEEE_FLOAT)
        fail(name, `fmt chunk: format tag 0x${tag.toString(16)} is compressed audio; only PCM and IEEE float are supported`, body);
      const legal = tag === PCM ? [8, 16, 24, 32] : [32, 64];
      if (!legal.includes(bits)) fail(name, `fmt chunk: ${bits}-bit ${tag === PCM ? 'PCM' : 'float'} is not supported`, body + 14);
      if (channels === 0) fail(name, 'fmt chunk: 0 channels', body + 2);
      if (sampleRate === 0) fail(name, 'fmt chunk: sample rate 0', body + 4);
      if (blockAlign !== (channels * bits) / 8)
        fail(name, `fmt chunk: block align ${blockAlign}, expected ${channels} channels x ${bits / 8} bytes`, body + 12);
      format = { tag, channels, sampleRate, blockAlign, bits };
    } else if (id === 'data') {
      if (!format) fail(name, 'data chunk before fmt chunk', pos);
      data = { offset: body, size };
    }
    pos = body + size + (size & 1);
  }
  if (!format) fail(name, 'no fmt chunk', 12);
  if (!data) fail(name, 'no data chunk', 12);
  const { tag, channels, blockAlign, bits } = format;
  if (data.size % blockAlign !== 0)
    fail(name, `data chunk: size ${data.size} is not a whole number of ${blockAlign}-byte frames`, data.offset - 4);
  const frames = data.size / blockAlign;
  const out = Array.from({ length: channels }, () => new Float32Array(frames));
  const bytesPerSample = bits / 8;
  for (let f = 0; f < frames; f++)
    for (let c = 0; c < channels; c++) {
      const p = data.offset + f * blockAlign + c * bytesPerSample;
      let v: number;
      if (tag === IEEE_FLOAT) v = bits === 32 ? dv.getFloat32(p, true) : dv.getFloat64(p, true);
      else if (bits === 8) v = (bytes[p]! - 128) / 128;
      else if (bits === 16) v = dv.getInt16(p, true) / 32768;
      else if (bits === 24) v = (((bytes[p + 2]! << 24) | (bytes[p + 1]! << 16) | (bytes[p]! << 8)) >> 8) / 8388608;
      else v = dv.getInt32(p, true) / 2147483648;
      out[c]![f] = v;
    }
  return { sampleRate: format.sampleRate, channels: out };
}

/** Reads and decodes a WAV file from a path (Node), URL, Blob, Response or bytes. */
export async function readWavFile(src: FileSource): Promise<Audio> {
  return decodeWav(await readBytes(src, 'readWavFile'), sourceName(src));
}

/** Averages all channels into one. */
export function toMono(audio: Audio): Float32Array {
  const n = audio.channels.length;
  if (n === 0) throw new ArgumentError('toMono: audio has no channels');
  if (n === 1) return audio.channels[0]!;
  const length = audio.channels[0]!.length;
  const out = new Float32Array(length);
  for (const ch of audio.channels) {
    if (ch.length !== length) throw new ArgumentError(`toMono: channel lengths differ (${ch.length} vs ${length})`);
    for (let i = 0; i < length; i++) out[i] = out[i]! + ch[i]!;
  }
  for (let i = 0; i < length; i++) out[i] = out[i]! / n;
  return out;
}

/** Zeroth-order modified Bessel function of the first kind (power series; converges fast for the betas used). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Zero crossings of the sinc kept on each side of the filter centre. */
const ZERO_CROSSINGS = 32;
/** Pass-band edge as a fraction of the lower Nyquist frequency. */
const ROLLOFF = 0.92;
/** Kaiser window shape; 7.86 gives about 80 dB of stop-band attenuation. */
const KAISER_BETA = 7.86;

/**
 * Resamples a signal from `from` Hz to `to` Hz (integer rates) with a Kaiser-windowed sinc low-pass.
 *
 * The filter's cutoff is fc = 0.92 x min(from, to) / 2 and it spans 32 sinc zero crossings each side,
 * so its transition band (about 5 fc / 32 wide, centred on fc) ends just below the lower Nyquist
 * frequency: for 48 kHz -> 16 kHz, content above ~7.9 kHz is attenuated by ~80 dB before it could fold
 * back (alias-free), and everything below ~6.8 kHz passes unchanged. Output sample n sits at input
 * time n x from / to; samples outside the signal count as zero. Output length is ceil(N x to / from).
 * The filter is evaluated once per distinct fractional phase (to / gcd(from, to) of them).
 */
export function resample(signal: Float32Array, from: number, to: number): Float32Array {
  if (!Number.isInteger(from) || !Number.isInteger(to) || from <= 0 || to <= 0)
    throw new ArgumentError(`resample: sample rates must be positive integers, got ${from} -> ${to}`);
  if (from === to) return signal.slice();
  const g = gcd(from, to);
  const up = to / g;
  const down = from / g;
  const cutoff = (ROLLOFF * Math.min(from, to)) / 2 / from; // cycles per input sample
  const halfWidth = ZERO_CROSSINGS / (2 * cutoff); // in input samples
  const taps = 2 * Math.ceil(halfWidth) + 1;
  // Phase p: output positions whose input time has fractional part p / up.
  const table = new Float32Array(up * taps);
  const i0 = besselI0(KAISER_BETA);
  for (let p = 0; p < up; p++) {
    const frac = p / up;
    for (let j = 0; j < taps; j++) {
      const t = j - Math.ceil(halfWidth) - frac; // input index offset minus fractional time
      if (Math.abs(t) > halfWidth) continue;
      const x = 2 * cutoff * t;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const r = t / halfWidth;
      table[p * taps + j] = 2 * cutoff * sinc * (besselI0(KAISER_BETA * Math.sqrt(1 - r * r)) / i0);
    }
  }
  const outLength = Math.ceil((signal.length * up) / down);
  const out = new Float32Array(outLength);
  const reach = Math.ceil(halfWidth);
  for (let n = 0; n < outLength; n++) {
    const base = Math.floor((n * down) / up);
    const phase = (n * down) % up;
    let s = 0;
    for (let j = 0; j < taps; j++) {
      const k = base + j - reach;
      if (k < 0 || k >= signal.length) continue;
      s += signal[k]! * table[phase * taps + j]!;
    }
    out[n] = s;
  }
  return out;
}

export interface EncodeWavOptions {
  /** 'pcm16' (default) clamps to [-1, 1] and rounds; 'float32' stores values as they are. */
  format?: 'pcm16' | 'float32';
}

const ENCODE_WAV_OPTIONS = optionKeys<EncodeWavOptions>({ format: true });

/** Encodes audio as a WAV file (16-bit PCM or 32-bit float). */
export function encodeWav(audio: Audio, options: EncodeWavOptions = {}): Uint8Array {
  expectOptions('encodeWav', options, ENCODE_WAV_OPTIONS);
  const fmt = options.format ?? 'pcm16';
  if (fmt !== 'pcm16' && fmt !== 'float32') throw new ArgumentError(`encodeWav: unknown format '${String(fmt)}'`);
  const { sampleRate, channels } = audio;
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) throw new ArgumentError(`encodeWav: sample rate ${sampleRate}`);
  if (channels.length === 0 || channels.length > 65535) throw new ArgumentError(`encodeWav: ${channels.length} channels`);
  const frames = channels[0]!.length;
  if (channels.some((c) => c.length !== frames)) throw new ArgumentError('encodeWav: channel lengths differ');
  const bytesPerSample = fmt === 'pcm16' ? 2 : 4;
  const blockAlign = channels.length * bytesPerSample;
  const dataSize = frames * blockAlign;
  if (dataSize + 36 > 0xffffffff) throw new ArgumentError('encodeWav: audio too long for a RIFF file (4 GiB)');
  const out = new Uint8Array(44 + dataSize + (dataSize & 1));
  const dv = viewOf(out);
  const ascii = (at: number, s: string): void => {
    for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  dv.setUint32(4, out.length - 8, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  dv.setUint32(16, 16, true);
  dv.setUint16(20, fmt === 'pcm16' ? PCM : IEEE_FLOAT, true);
  dv.setUint16(22, channels.length, true);
  dv.setUint32(24, sampleRate, true);
  dv.setUint32(28, sampleRate * blockAlign, true);
  dv.setUint16(32, blockAlign, true);
  dv.setUint16(34, bytesPerSample * 8, true);
  ascii(36, 'data');
  dv.setUint32(40, dataSize, true);
  for (let f = 0; f < frames; f++)
    for (let c = 0; c < channels.length; c++) {
      const p = 44 + f * blockAlign + c * bytesPerSample;
      const v = channels[c]![f]!;
      if (fmt === 'float32') dv.setFloat32(p, v, true);
      else dv.setInt16(p, Math.max(-32768, Math.min(32767, Math.round((Number.isNaN(v) ? 0 : v) * 32768))), true);
    }
  return out;
}
