import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ArgumentError } from '../../engine/errors.js';
import { decodeWav, encodeWav, readWavFile, resample, toMono } from '../../metatransformer/io/wav.js';
import { assertClose, assertFormatError, assertThrows, fixture, fixtureJSON } from '../helpers.js';
import { fuzzReader } from './fuzz.js';

const t = suite('io: wav');

/** Builds a WAV from a fmt body and raw data, optionally with extra chunks before fmt. */
function wav(fmt: number[], data: Uint8Array, extra: number[] = []): Uint8Array {
  const body = [
    ...'WAVE'.split('').map((c) => c.charCodeAt(0)),
    ...extra,
    ...'fmt '.split('').map((c) => c.charCodeAt(0)),
    ...u32(fmt.length),
    ...fmt,
    ...'data'.split('').map((c) => c.charCodeAt(0)),
    ...u32(data.length),
    ...data,
  ];
  return new Uint8Array([...'RIFF'.split('').map((c) => c.charCodeAt(0)), ...u32(body.length), ...body]);
}
function u32(v: number): number[] {
  return [v & 255, (v >> 8) & 255, (v >> 16) & 255, (v >>> 24) & 255];
}
function u16(v: number): number[] {
  return [v & 255, (v >> 8) & 255];
}
function fmtBody(tag: number, channels: number, rate: number, bits: number, blockAlign = (channels * bits) / 8): number[] {
  return [...u16(tag), ...u16(channels), ...u32(rate), ...u32(rate * blockAlign), ...u16(blockAlign), ...u16(bits)];
}

type Expected = Record<string, { sampleRate: number; channels: number[][] }>;

t('decodes PCM 8/16/24/32, float 32/64 and EXTENSIBLE fixtures, skipping LIST/fact chunks', async () => {
  const expected = await fixtureJSON<Expected>('io/wav_expected.json');
  assert.is(Object.keys(expected).length, 7);
  for (const [name, e] of Object.entries(expected)) {
    const audio = decodeWav(await fixture(`io/${name}`), name);
    assert.is(audio.sampleRate, e.sampleRate, name);
    assert.is(audio.channels.length, e.channels.length, name);
    audio.channels.forEach((ch, i) => assertClose(ch, e.channels[i]!, { atol: 1e-7, rtol: 1e-6, what: `${name} channel ${i}` }));
  }
  const viaBlob = await readWavFile(new Blob([(await fixture('io/pcm16.wav')).slice()]));
  assert.is(viaBlob.sampleRate, 22050);
});

t('encodeWav round-trips pcm16 (to 1/32768) and float32 (exactly)', () => {
  const left = Float32Array.from({ length: 101 }, (_, i) => Math.sin(i / 7) * 0.9);
  const right = Float32Array.from({ length: 101 }, (_, i) => (i % 13) / 13 - 0.5);
  const audio = { sampleRate: 16000, channels: [left, right] };
  const pcm = decodeWav(encodeWav(audio));
  assert.is(pcm.sampleRate, 16000);
  assertClose(pcm.channels[0]!, left, { atol: 0.5 / 32768 + 1e-9, rtol: 0 });
  assertClose(pcm.channels[1]!, right, { atol: 0.5 / 32768 + 1e-9, rtol: 0 });
  const float = decodeWav(encodeWav(audio, { format: 'float32' }));
  assert.equal(Array.from(float.channels[0]!), Array.from(left));
  const clipped = decodeWav(encodeWav({ sampleRate: 8000, channels: [Float32Array.from([2, -2, NaN])] }));
  assert.equal(Array.from(clipped.channels[0]!), [32767 / 32768, -1, 0]);
  // An odd-sized data chunk is padded and still reads back.
  const odd = encodeWav({ sampleRate: 8000, channels: [new Float32Array(3)] }, { format: 'pcm16' });
  assert.is(odd.length % 2, 0);
  assert.is(decodeWav(odd).channels[0]!.length, 3);
  assertThrows(() => encodeWav(audio, { format: 'mp3' as 'pcm16' }), ArgumentError, /unknown format 'mp3'/);
  assertThrows(() => encodeWav({ sampleRate: 0, channels: [left] }), ArgumentError, /sample rate 0/);
  assertThrows(() => encodeWav({ sampleRate: 8000, channels: [] }), ArgumentError, /0 channels/);
  assertThrows(() => encodeWav({ sampleRate: 8000, channels: [left, new Float32Array(3)] }), ArgumentError, /channel lengths differ/);
});

t('toMono averages channels', () => {
  const mono = toMono({ sampleRate: 1, channels: [Float32Array.from([1, 0]), Float32Array.from([0, -1])] });
  assert.equal(Array.from(mono), [0.5, -0.5]);
  assertThrows(() => toMono({ sampleRate: 1, channels: [] }), ArgumentError, /no channels/);
  assertThrows(() => toMono({ sampleRate: 1, channels: [new Float32Array(2), new Float32Array(3)] }), ArgumentError, /lengths differ/);
});

function rms(x: Float32Array, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i]! ** 2;
  return Math.sqrt(s / (to - from));
}

t('resample: pass-band tones keep their amplitude and frequency; tones above the new Nyquist vanish', () => {
  for (const from of [48000, 44100]) {
    const n = from / 2; // half a second
    const tone = (f: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * f * i) / from));
    const pass = resample(tone(1000), from, 16000);
    assert.is(pass.length, 8000);
    // Away from the zero-padded edges, the output is the same 1 kHz sine sampled at 16 kHz.
    const ideal = Float32Array.from({ length: 8000 }, (_, i) => Math.sin((2 * Math.PI * 1000 * i) / 16000));
    assertClose(pass.subarray(1000, 7000), ideal.subarray(1000, 7000), { atol: 2e-3, rtol: 0, what: `1 kHz from ${from}` });
    // 10 kHz and 15 kHz would alias to 6 kHz and 1 kHz; the low-pass must remove them (>= 60 dB).
    for (const f of [10000, 15000]) {
      const stop = resample(tone(f), from, 16000);
      assert.ok(rms(stop, 1000, 7000) < 1e-3 * Math.SQRT1_2, `${f} Hz from ${from}: rms ${rms(stop, 1000, 7000)}`);
    }
  }
  const up = resample(Float32Array.from({ length: 800 }, (_, i) => Math.sin((2 * Math.PI * 440 * i) / 8000)), 8000, 16000);
  const idealUp = Float32Array.from({ length: 1600 }, (_, i) => Math.sin((2 * Math.PI * 440 * i) / 16000));
  assertClose(up.subarray(200, 1400), idealUp.subarray(200, 1400), { atol: 2e-3, rtol: 0, what: 'upsampled 440 Hz' });
  assert.equal(Array.from(resample(Float32Array.from([1, 2]), 16000, 16000)), [1, 2]);
  assertThrows(() => resample(new Float32Array(4), 44100.5, 16000), ArgumentError, /positive integers/);
  assertThrows(() => resample(new Float32Array(4), 16000, 0), ArgumentError, /positive integers/);
});

t('error paths: magic, sizes, formats', () => {
  const pcm = new Uint8Array([0, 0, 1, 0]);
  assertFormatError(() => decodeWav(new Uint8Array(5)), /RIFF header needs 12 bytes/, 0);
  assertFormatError(() => decodeWav(new Uint8Array(12)), /no RIFF magic/, 0);
  const good = wav(fmtBody(1, 1, 8000, 16), pcm);
  const notWave = good.slice();
  notWave[8] = 65;
  assertFormatError(() => decodeWav(notWave), /form type is 'AAVE'/, 8);
  assertFormatError(() => decodeWav(good.slice(0, good.length - 1)), /RIFF size 40 runs past the end of the file \(47 bytes\)/, 4);
  const bigData = good.slice();
  bigData.set(u32(1000), 40);
  assertFormatError(() => decodeWav(bigData), /chunk 'data': size 1000 runs past the end/, 36);
  assertFormatError(() => decodeWav(wav(fmtBody(2, 1, 8000, 4), pcm)), /format tag 0x2 is compressed audio/, 20);
  assertFormatError(() => decodeWav(wav([...fmtBody(0xfffe, 1, 8000, 16), 22, 0, 16, 0, ...u32(4), 7, 0, ...new Array(14).fill(0)], pcm)), /format tag 0x7/);
  assertFormatError(() => decodeWav(wav([...fmtBody(0xfffe, 1, 8000, 16), 0, 0], pcm)), /EXTENSIBLE needs 40 bytes, chunk has 18/, 12);
  assertFormatError(() => decodeWav(wav(fmtBody(1, 1, 8000, 12), pcm)), /12-bit PCM is not supported/, 34);
  assertFormatError(() => decodeWav(wav(fmtBody(3, 1, 8000, 16), pcm)), /16-bit float is not supported/, 34);
  assertFormatError(() => decodeWav(wav(fmtBody(1, 0, 8000, 16, 2), pcm)), /0 channels/, 22);
  assertFormatError(() => decodeWav(wav(fmtBody(1, 1, 0, 16), pcm)), /sample rate 0/, 24);
  assertFormatError(() => decodeWav(wav(fmtBody(1, 2, 8000, 16, 3), pcm)), /block align 3, expected 2 channels x 2 bytes/, 32);
  assertFormatError(() => decodeWav(wav(fmtBody(1, 1, 8000, 16).slice(0, 14), pcm)), /fmt chunk: size 14/, 12);
  assertFormatError(() => decodeWav(wav(fmtBody(1, 2, 8000, 16), pcm.subarray(0, 2))), /size 2 is not a whole number of 4-byte frames/, 40);
  const noFmt = new Uint8Array([...'RIFF'.split('').map((c) => c.charCodeAt(0)), ...u32(4), 87, 65, 86, 69]);
  assertFormatError(() => decodeWav(noFmt), /no fmt chunk/, 12);
  const dataFirst = new Uint8Array([82, 73, 70, 70, ...u32(16), 87, 65, 86, 69, 100, 97, 116, 97, ...u32(0), 0, 0, 0, 0]);
  assertFormatError(() => decodeWav(dataFirst), /data chunk before fmt chunk/, 12);
  const fmtOnly = new Uint8Array([82, 73, 70, 70, ...u32(28), 87, 65, 86, 69, 102, 109, 116, 32, ...u32(16), ...fmtBody(1, 1, 8000, 16)]);
  assertFormatError(() => decodeWav(fmtOnly), /no data chunk/, 12);
});

t('fuzz: mutated WAVs decode or throw OmniError', async () => {
  for (const name of ['pcm16.wav', 'pcm24.wav', 'float32_list.wav', 'extensible16.wav']) {
    const valid = await fixture(`io/${name}`);
    await fuzzReader(valid, (b) => decodeWav(b), { runs: 300 });
  }
});

t.run();
