// fbank.wgsl — Kaldi-compatible log-mel filterbank features (torchaudio.compliance.kaldi.fbank).
//
// What it computes
//   For a mono signal x[0..n) and frames f = 0 .. F-1 (F = 1 + (n - frame_length) / frame_shift, Kaldi's
//   snip_edges=true), entry point `power_spectrum` produces |FFT(w * preemph(frame - mean(frame)))|^2 over
//   the padded window (next power of two, 512 for a 25 ms window at 16 kHz), keeping bins 0 .. N/2:
//     1. frame:     s[i] = x[f * shift + i], i < frame_length            (a strided read, no copy)
//     2. DC offset: s[i] -= mean(s)                                       (remove_dc_offset=true)
//     3. pre-emphasis: s[i] -= coeff * s[i-1], s[0] -= coeff * s[0]      (coefficient 0.97)
//     4. window:    s[i] *= window[i]  (Hanning or Povey = Hanning^0.85, precomputed on the host in f64)
//     5. zero-pad to N and take the power spectrum of a radix-2 complex FFT.
//   Entry point `log_mel` then computes out[f, m] = log(max(sum_k power[f, k] * mel[k, m], eps)) with the
//   triangular HTK-mel filterbank (1127 ln(1 + f/700)) built on the host, eps = f32 epsilon as Kaldi uses.
//
// How work is split
//   power_spectrum: one workgroup of WG invocations per frame (override: 256 on GPUs, 8 on CPU adapters,
//   where each barrier switches between the workgroup's SIMD groups and one 8-wide group has none to
//   switch). The frame lives in workgroup memory as N complex values (N <= 1024). Invocations first
//   reduce the frame mean (tree in workgroup memory), then write the pre-emphasised, windowed samples to
//   bit-reversed positions, then run log2(N) butterfly stages: at each stage every invocation performs
//   N/2/WG butterflies, separated by workgroup barriers.
//   Twiddle factors come from a host-computed table (f64 cos/sin rounded to f32), which keeps the FFT as
//   accurate as the f32 FFT torch uses.
//   log_mel: one invocation per (frame, mel bin); each sums the bins where that mel filter has weight (a
//   host-computed range per bin: a triangle spans ~2 (N/2+1) / (num_mel + 1) bins). Summing all N/2+1
//   bins, as this kernel did before 2026-11-27, was half of a clip's filterbank time on lavapipe.
//
// Memory traffic
//   Reads each signal sample ~frame_length/frame_shift = 2.5 times (overlapping frames), writes F*(N/2+1)
//   powers, then reads them once per mel bin from cache. For 10 s of 16 kHz audio (998 frames) that is
//   ~1 MB of power spectra: the cost is dominated by the FFT arithmetic (N log N per frame).
//
// Constraints
//   N (fft_size) a power of two in [2, 1024]; frame_length <= N. Signal and outputs f32.
//
// Measured (lavapipe 25.0.7, 2 cores, 2026-11-27; 16 kHz, 25 ms frames, 10 ms shift, 512-point FFT; wall
// clock of 64 back-to-back calls, /tmp script, two runs): 10 s of audio (998 frames), 128 mel: 81.6 ms
// with 256 invocations and every bin summed per mel, 74.8 with shifts for the FFT's divisions, 35.8 with
// the mel ranges, 17.4-17.7 with WG 8 (WG 4: 23.7, 16: 18.4, 32: 20.4). One 0.64 s clip (64 frames,
// 64 mel): 3.9 -> 1.2 ms. Without the butterfly stages (wrong output) the 10 s case ran 40.7 of its then
// 53.9 ms: the stages were never the main cost; log_mel's full-bin sums were.

struct Params {
  num_frames: u32,
  frame_length: u32,
  frame_shift: u32,
  fft_size: u32,       // N
  log2_fft_size: u32,
  num_bins: u32,       // N / 2 + 1
  num_mel: u32,
  preemph: f32,
  eps: f32,
  signal_offset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// power_spectrum's workgroup width, from the launcher (FFT_WG in kernels/fbank.ts: narrower on CPU adapters).
override WG: u32 = 256u;
const LOG_MEL_WG: u32 = 256u;
const MAX_N: u32 = 1024u;

var<workgroup> re: array<f32, MAX_N>;
var<workgroup> im: array<f32, MAX_N>;
var<workgroup> partial: array<f32, WG>;

@group(0) @binding(1) var<storage, read> signal: array<f32>;
@group(0) @binding(2) var<storage, read> window: array<f32>;     // [frame_length]
@group(0) @binding(3) var<storage, read> twiddle: array<vec2<f32>>; // [N/2]: (cos, -sin) of 2*pi*k/N
@group(0) @binding(4) var<storage, read_write> power: array<f32>; // [num_frames, num_bins]

fn reverse_bits(i: u32, bits: u32) -> u32 {
  return reverseBits(i) >> (32u - bits);
}

@compute @workgroup_size(WG)
fn power_spectrum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                  @builtin(num_workgroups) nwg: vec3<u32>) {
  let frame = wid.y * nwg.x + wid.x;
  // Every invocation must reach every barrier, so out-of-range workgroups compute on a clamped frame and
  // skip only the final store.
  let f = min(frame, p.num_frames - 1u);
  let base = p.signal_offset + f * p.frame_shift;
  let n = p.fft_size;

  // 1-2. Frame mean for DC removal: strided partial sums, then a tree over the workgroup.
  var s = 0.0;
  for (var i = lid; i < p.frame_length; i += WG) { s += signal[base + i]; }
  partial[lid] = s;
  workgroupBarrier();
  for (var width = WG / 2u; width > 0u; width /= 2u) {
    if (lid < width) { partial[lid] += partial[lid + width]; }
    workgroupBarrier();
  }
  let mean = partial[0] / f32(p.frame_length);

  // 3-4. Pre-emphasis (replicate-padded at i = 0) and window; zero padding; bit-reversed placement.
  for (var i = lid; i < n; i += WG) {
    var v = 0.0;
    if (i < p.frame_length) {
      let cur = signal[base + i] - mean;
      let prev = select(cur, signal[base + i - 1u] - mean, i > 0u);
      v = (cur - p.preemph * prev) * window[i];
    }
    let j = reverse_bits(i, p.log2_fft_size);
    re[j] = v;
    im[j] = 0.0;
  }
  workgroupBarrier();

  // 5. Iterative radix-2 Cooley-Tukey: at stage s (half-size h = 2^s), butterfly b pairs element
  //    (g*2h + k) with (g*2h + k + h), g = b / h, k = b % h, twiddle index k * N / 2h. h and N are powers of
  //    two, so shifts and masks stand in for the divisions (scalar code per lane on CPU adapters, and slow
  //    on GPUs too).
  for (var stage = 0u; stage < p.log2_fft_size; stage++) {
    let h = 1u << stage;
    for (var b = lid; b < n / 2u; b += WG) {
      let k = b & (h - 1u);
      let top = ((b >> stage) << (stage + 1u)) | k;
      let bot = top + h;
      let w = twiddle[k << (p.log2_fft_size - 1u - stage)];
      let br = re[bot] * w.x - im[bot] * w.y;
      let bi = re[bot] * w.y + im[bot] * w.x;
      re[bot] = re[top] - br;
      im[bot] = im[top] - bi;
      re[top] = re[top] + br;
      im[top] = im[top] + bi;
    }
    workgroupBarrier();
  }

  if (frame < p.num_frames) {
    for (var k = lid; k < p.num_bins; k += WG) {
      power[frame * p.num_bins + k] = re[k] * re[k] + im[k] * im[k];
    }
  }
}

@group(0) @binding(1) var<storage, read> power_in: array<f32>;   // [num_frames, num_bins]
@group(0) @binding(2) var<storage, read> mel: array<f32>;        // [num_bins, num_mel]
@group(0) @binding(3) var<storage, read> mel_range: array<vec2<u32>>;  // [num_mel]: first, one past last bin
@group(0) @binding(4) var<storage, read_write> out: array<f32>;  // [num_frames, num_mel]

@compute @workgroup_size(LOG_MEL_WG)
fn log_mel(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
           @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * LOG_MEL_WG + lid;
  if (i >= p.num_frames * p.num_mel) { return; }
  let f = i / p.num_mel;
  let m = i % p.num_mel;
  var acc = 0.0;
  let range = mel_range[m];
  for (var k = range.x; k < range.y; k++) {
    acc += power_in[f * p.num_bins + k] * mel[k * p.num_mel + m];
  }
  out[i] = log(max(acc, p.eps));
}
