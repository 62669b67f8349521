// conv_lanes.wgsl — convolution forward and gradients for CPU-backed WebGPU (Mesa lavapipe): the implicit
// GEMM of conv.wgsl laid out like matmul_lanes.wgsl, whose header explains the lavapipe costs this design
// answers.
//
// What it computes
//   conv.wgsl's strided correlation, for the recipes whose output positions are contiguous (no phases):
//     out[lead, n, u] = bias[n] + sum_{c, t} A[lead, c, u*a_step + a_start + t*tap_step] * B[n, c, t]
//   with u and t three-dimensional (1-d and 2-d convolutions have unit leading dims), A reads outside
//   [0, a_lim) reading zero, and per group (workgroup z) offsets on A, B and out. kernels/conv.ts fills it
//   for three recipes:
//     forward  y = conv(x, w):   A = x (lead = batch), B = w, u = output pixel, t = kernel tap
//     weight   dw = corr(x, dy): A = x (lead = input channel, u = kernel tap), B = dy, reduction over
//                                batch (c) and output pixels (t)
//     input    dx = conv^T(dy, w) for stride 1 only: A = dy at u + pad - t * dil (tap_step = -dil), B = w
//                                read transposed (n = input channel, c = output channel). A strided
//                                convolution's transpose splits into phases (conv.wgsl) and stays there.
//   As a GEMM: rows are the n values with B's rows B[n, k] (k = c * prod(taps) + t; the taps of one c are
//   one contiguous run, and in a contiguous weight all of k is), columns are the positions m = (lead, u),
//   and the im2col operand A[k, m] is never stored: each lane gathers its own columns.
//
// How work is split
//   A workgroup is one subgroup of LANES invocations and computes ROWS rows x 4 * LANES positions: lane l
//   owns positions 4l .. 4l + 3 of the workgroup's span, one vec4 accumulator per row. k advances in
//   blocks of LANES. Each block of B is read as ROWS / 4 groups of 4 rows x LANES k: in each group, lane
//   l loads 4 consecutive k of one row (one vec4 load when that chunk is always one aligned vec4), and for
//   each row subgroupShuffle hands every lane that row's 4 values, as matmul_lanes.wgsl does with A.
//   For each k, (c, t) is the same in every lane, so the odometer that tracks it (no division) and the A
//   offset and coordinate step it implies are computed once per k, not per lane; per lane only the 4
//   reads at its positions differ (gathers, bounds-tested when some tap leaves A), and 4 k are chained
//   into each accumulator write. No workgroup memory, no barriers.
//
// Why not conv_gemm (conv.wgsl) here
//   That kernel gives each invocation a 4 x 8 register tile with one f32 accumulator per output: on an
//   8-wide SIMD CPU its 32 accumulators spill, each k writes every one of them (a masked blend plus a
//   stack load and store) and its 4 reads of A per k are gathers with their own bounds tests. Here 4 k
//   share one write of a vec4 accumulator and B travels by shuffle.
//
// Memory traffic
//   B: each row once per workgroup (ROWS rows x K). A: each element gathered once per workgroup and tap
//   that reaches it, so a 3x3 convolution re-reads x 9 times, from cache. Outputs written once.
//
// Specialisation and constraints (kernels/conv.ts)
//   T is the tensor element type (math in f32). `tile` sets ROWS (a multiple of 4, at most 32: the rows
//   of one group, rounded up to 4) and LANES (the adapter's fixed subgroup width). `b_chunk` drops its
//   division when c follows the taps contiguously (b_c == prod(taps)); `b_binding` and `load_b4` bind B
//   as array<vec4<T>> when every chunk is one aligned vec4. The caller copies a B whose taps are not one
//   contiguous run. CHECKED = false drops the bounds tests when no tap of any position leaves A. Needs
//   `subgroups`; grid (ceil(positions / (4 * LANES)), ceil(n / ROWS), groups), each <= 65535.
//
// Measured (lavapipe 25.0.7, 2 cores, quiet machine, 2026-11-27; bench/conv-probe.ts with
// PROBE_KERNELS=tiled,lanes,gemm: wall clock of back-to-back calls for ~1 s, GFLOP/s counting 2 * outputs *
// Cin/groups * kernel volume; ranges over three runs; every forced kernel's y and dw agreed bit for bit)
//                                             forward                         weight gradient
//                                             lanes      conv_gemm  GEMM      lanes      conv_gemm  GEMM
//   3x3 pad 1, 64->64, 56x56, B=1             20.9-22.7  6.2-7.1    -         21.9-22.6  3.4-5.8    -
//   AST audio patches 1024x128, k=16 s=10     20.4-25.2  6.6-7.8    -         20.9-26.8  7.9-8.5    -
//   conv1d circular k=3, 7->512, L=96, B=32   6.9-8.7    2.9-4.5    -         8.7-11.2   0.6-1.0    -
//   ViT patches B=1, k=s=16, 3->768           13.2-20.8  3.2-6.2    12.5-19.4 21.8       7.3        17.0
//   ViT patches B=8                           27.7-28.1  4.7-7.6    22.4-26.8 28.4       8.7        19.8
//   MNIST patches B=32 28x28, k=s=7, 1->64    4.6        2.4        1.1       6.6        0.9        1.0
//   video tubelets B=32 8x32x32, 2x8x8, 1->64 9.0        5.7        4.2       9.4        3.4        4.1
//   ('GEMM': the patchify rearrangement plus matmul, engine/ops/conv.ts.) The lanes kernel is 3-5x
//   conv_gemm here, 15x on conv1d's weight gradient (whose 21 positions left most of conv_gemm's 64-wide
//   workgroups idle), and from even to 7x the GEMM path on patchify shapes, whose copies dominate small
//   problems; so CPU adapters run it for every forward and weight gradient, patchify ones included. The
//   input gradient of stride-1 convolutions runs here too: 3x3 12.3-15.2 against conv_gemm's 5.9-6.8 (two
//   runs, the second on a busier machine); conv1d's (n = 7 input channels: 8-row tiles, so its gathers
//   serve few rows) 4.7-4.9 against 3.1-5.5. Strided ones run as a GEMM into columns plus conv.wgsl's
//   col2im (the audio patches' 100 phases of 2 x 2 taps ran 0.4-0.9 on conv_gemm) or, for patchify
//   convolutions, the GEMM. conv1d's K = 21 leaves its
//   weight loads scalar with a masked tail. ROWS is 32, as in the GEMM; other tiles were not swept.

enable subgroups;

alias T = f32;

/*@tile*/
const ROWS: u32 = 8u;
const LANES: u32 = 8u;
/*@end*/
const QUADS: u32 = LANES / 4u;   // lanes per row of a B block, each holding 4 consecutive k

override CHECKED: bool = true;

// conv.wgsl's GemmParams without the phase fields: the output positions are contiguous (o_step 1, o_start
// 0), so the output needs only the three strides below.
struct Params {
  m_count: u32,         // positions per group: lead count * prod(grid)
  n_count: u32,         // n per group
  k_count: u32,         // c_count * t_count
  t_count: u32,         // taps per channel, prod(taps)
  has_bias: u32,
  a_offset: i32,
  a_lead: i32,          // A strides of the lead index, the group and the reduction channel c
  a_group: i32,
  a_c: i32,
  b_offset: i32,
  b_n: i32,             // B strides of n, the group and c; B's taps are one contiguous run
  b_group: i32,
  b_c: i32,
  o_lead: i32,          // output strides of the lead index, the group and n
  o_group: i32,
  o_n: i32,
  bias_offset: i32,
  bias_stride: i32,
  grid: vec4<u32>,      // position extents (u)
  a_step: vec4<i32>,    // A coordinate of position u: u * a_step + a_start, plus t * tap_step for tap t
  a_start: vec4<i32>,
  a_lim: vec4<i32>,     // A extents (reads outside are zero)
  a_sp: vec4<i32>,      // A spatial strides
  taps: vec4<i32>,      // tap extents
  tap_step: vec4<i32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a_in: array<T>;
/*@b_binding*/
@group(0) @binding(2) var<storage, read> b_in: array<T>;
/*@end*/
@group(0) @binding(3) var<storage, read> bias_in: array<T>;
@group(0) @binding(4) var<storage, read_write> out: array<T>;

// Offsets from a B row's start of its elements k..k+3 (k a multiple of 4; k = c * t_count + t, t being
// contiguous). Computed once per block and lane, then shared by the lane's ROWS / 4 rows. The launcher
// swaps in `return vec4<i32>(ks);` when c is contiguous with t too (b_c == t_count: no division).
fn b_chunk(k: u32) -> vec4<i32> {
  let ks = min(vec4<u32>(k, k + 1u, k + 2u, k + 3u), vec4<u32>(p.k_count - 1u));
  /*@b_chunk*/
  return vec4<i32>(ks / p.t_count) * p.b_c + vec4<i32>(ks % p.t_count);
  /*@end*/
}

// B[row, k..k+3] given the chunk's offsets; k past K reads as 0. When the 4 elements are always one
// aligned vec4 (t_count % 4 == 0 or one flat run with K % 4 == 0, and 4-aligned offsets and strides),
// B is bound as array<vec4<T>> and the launcher swaps in one vec4 load at offs.x.
fn load_b4(row: i32, offs: vec4<i32>, k: u32) -> vec4<f32> {
  /*@load_b4*/
  let at = row + offs;
  let x = vec4<f32>(f32(b_in[at.x]), f32(b_in[at.y]), f32(b_in[at.z]), f32(b_in[at.w]));
  return select(vec4<f32>(0.0), x, vec4<u32>(k, k + 1u, k + 2u, k + 3u) < vec4<u32>(p.k_count));
  /*@end*/
}

// The reduction index after `tap` = (t0, t1, t2, c): taps fastest, as B stores them.
fn next_tap(tap: vec4<i32>) -> vec4<i32> {
  var t = tap;
  t.z += 1;
  if (t.z == p.taps.z) { t.z = 0; t.y += 1; }
  if (t.y == p.taps.y) { t.y = 0; t.x += 1; }
  if (t.x == p.taps.x) { t.x = 0; t.w += 1; }
  return t;
}

// This lane's 4 positions: A's element offset at tap 0 of channel 0, and the A coordinates there, one
// vec4 (over the positions) per spatial dim.
struct Positions {
  origin: vec4<i32>,
  d0: vec4<i32>,
  d1: vec4<i32>,
  d2: vec4<i32>,
}

// A at reduction index `tap` for the 4 positions; zero outside A and when `live` (k < K) is false.
fn load_a4(at: Positions, tap: vec4<i32>, live: bool) -> vec4<f32> {
  let step = tap.xyz * p.tap_step.xyz;
  let idx = at.origin + tap.w * p.a_c + dot(step, p.a_sp.xyz);
  var ok = vec4<bool>(live);
  if (CHECKED) {
    let c0 = at.d0 + step.x;
    let c1 = at.d1 + step.y;
    let c2 = at.d2 + step.z;
    ok = ok & (c0 >= vec4<i32>(0)) & (c0 < vec4<i32>(p.a_lim.x)) & (c1 >= vec4<i32>(0)) & (c1 < vec4<i32>(p.a_lim.y)) &
         (c2 >= vec4<i32>(0)) & (c2 < vec4<i32>(p.a_lim.z));
  }
  let safe = select(vec4<i32>(0), idx, ok);
  return select(vec4<f32>(0.0), vec4<f32>(f32(a_in[safe.x]), f32(a_in[safe.y]), f32(a_in[safe.z]), f32(a_in[safe.w])), ok);
}

@compute @workgroup_size(LANES)
fn conv_lanes(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let group = wid.z;
  let n0 = wid.y * ROWS;
  let m0 = (wid.x * LANES + lane) * 4u;
  let plane = p.grid.x * p.grid.y * p.grid.z;

  // Positions past the end are clamped to the last one for loads and not stored.
  var at: Positions;
  var out_at: vec4<i32>;
  for (var j = 0u; j < 4u; j++) {
    let m = min(m0 + j, p.m_count - 1u);
    let lead = m / plane;
    let sp = m % plane;
    let u = vec3<i32>(i32(sp / (p.grid.y * p.grid.z)), i32((sp / p.grid.z) % p.grid.y), i32(sp % p.grid.z));
    let c = u * p.a_step.xyz + p.a_start.xyz;
    at.d0[j] = c.x;
    at.d1[j] = c.y;
    at.d2[j] = c.z;
    at.origin[j] = p.a_offset + i32(group) * p.a_group + i32(lead) * p.a_lead + dot(c, p.a_sp.xyz);
    out_at[j] = i32(lead) * p.o_lead + i32(group) * p.o_group + i32(sp);
  }
  // A block of B is LANES k deep and 4 rows tall: this lane holds row 4i + lane / QUADS of group i, at
  // k0 + 4 * (lane % QUADS) .. +3.
  var b_rows: array<i32, ROWS / 4u>;
  for (var i = 0u; i < ROWS / 4u; i++) {
    b_rows[i] = p.b_offset + i32(group) * p.b_group + i32(min(n0 + 4u * i + lane / QUADS, p.n_count - 1u)) * p.b_n;
  }
  var acc: array<vec4<f32>, ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    acc[r] = vec4<f32>(0.0);
  }

  var tap = vec4<i32>(0);
  for (var k0 = 0u; k0 < p.k_count; k0 += LANES) {
    let k_mine = k0 + 4u * (lane % QUADS);
    let offs = b_chunk(k_mine);
    var b_mine: array<vec4<f32>, ROWS / 4u>;
    for (var i = 0u; i < ROWS / 4u; i++) {
      b_mine[i] = load_b4(b_rows[i], offs, k_mine);
    }
    for (var kk = 0u; kk < LANES; kk += 4u) {
      let a0 = load_a4(at, tap, k0 + kk < p.k_count);
      tap = next_tap(tap);
      let a1 = load_a4(at, tap, k0 + kk + 1u < p.k_count);
      tap = next_tap(tap);
      let a2 = load_a4(at, tap, k0 + kk + 2u < p.k_count);
      tap = next_tap(tap);
      let a3 = load_a4(at, tap, k0 + kk + 3u < p.k_count);
      tap = next_tap(tap);
      for (var r = 0u; r < ROWS; r++) {
        let b = subgroupShuffle(b_mine[r / 4u], (r % 4u) * QUADS + kk / 4u);
        var s = fma(vec4<f32>(b.x), a0, acc[r]);
        s = fma(vec4<f32>(b.y), a1, s);
        s = fma(vec4<f32>(b.z), a2, s);
        acc[r] = fma(vec4<f32>(b.w), a3, s);
      }
    }
  }

  for (var r = 0u; r < ROWS; r++) {
    let n = n0 + r;
    if (n < p.n_count) {
      var v = acc[r];
      if (p.has_bias != 0u) {
        v += vec4<f32>(f32(bias_in[p.bias_offset + i32(group * p.n_count + n) * p.bias_stride]));
      }
      for (var j = 0u; j < 4u; j++) {
        if (m0 + j < p.m_count) { out[out_at[j] + i32(n) * p.o_n] = T(v[j]); }
      }
    }
  }
}
