// conv.wgsl — 1-d/2-d/3-d convolution forward and backward as one implicit GEMM, plus bias-gradient and
// circular-padding helpers.
//
// What it computes
//   Every convolution product here has one shape, the "strided correlation" that `conv_gemm` evaluates:
//     out[lead, n, u*o_step + o_start] = bias[n] + sum_{c, t}  A[lead, c, u*a_step + a_start + t*tap_step] * B[n, c, t]
//   with u and t three-dimensional (spatial dims; 1-d and 2-d convolutions use unit leading dims), A reads
//   that fall outside [0, a_lim) reading zero, and writes outside [0, o_lim) dropped. The launcher
//   (kernels/conv.ts) fills the strides and extents for three recipes:
//     forward  y  = conv(x, w):  A = x (lead = batch), B = w, u = output pixel, t = kernel tap
//     input    dx = conv^T(dy, w): A = dy, B = w read transposed (n = input channel, c = output channel).
//              A strided convolution's transpose splits into prod(stride) "phases": input pixels i with
//              equal (i + pad) mod stride meet exactly the taps k with k*dil = that residue (mod stride), at
//              dy row (i + pad - k*dil) / stride. Each phase is a plain stride-1 correlation with a sub-sampled
//              kernel, so no tap is visited only to be discarded (patch embedding's 16x16 stride would
//              otherwise waste 255 of every 256). Phases ride in the workgroup index; the per-phase first
//              tap, tap count and origin are derived in `phase_dim`.
//     weight   dw = corr(x, dy): A = x (lead = input channel, u = kernel tap), B = dy, and the reduction runs
//              over batch (c) and output pixels (t). Each dw element is one invocation's private sum in a
//              fixed order, so it is deterministic without atomics.
//   M = the u grid times lead (per group and phase), N = n (per group), K = c times taps; nothing like
//   im2col is materialised.
//   The phased input gradient serves stride 1 (one phase) and the fallback: strided input gradients run as
//   a GEMM into columns plus `col2im` (engine/ops/conv.ts inputGradByColumns): phases of few taps each
//   leave this kernel with little work per invocation (see Measured).
//   `col2im`: dx[b, c, x] = the sum of the columns cols[b, c, t, u] over the taps t and positions u that
//   read pixel x (the columns come from one batched GEMM, cols = w^T dy per group).
//   `bias_grad`: db[n] = sum of dy over batch and space. `circular_pad` / `circular_fold`: torch's
//   padding_mode='circular' as an explicit wrap-around copy of x (the convolution then runs unpadded), and its
//   adjoint, summing the padded gradient back onto the positions it was copied from.
//
// How work is split
//   conv_gemm: WG invocations per workgroup, each owning a TM x TN register tile: TM values of m strided by WG
//   (so neighbouring invocations read neighbouring pixels: coalesced on GPUs, contiguous gathers on lavapipe)
//   and TN consecutive n. n is the same for the whole workgroup, so every B load has a uniform address
//   (eligible for a scalar load plus broadcast on lavapipe; served from cache on GPUs). The workgroup index
//   is linear over (m tile, n tile, group, phase), spilled into y past 65535.
//   The reduction over (c, t0, t1, t2) is a single flat loop with odometer counters, not four nested loops:
//   lavapipe pays a fixed cost per loop entry, and short nested loops (one tap per dim in the phased input
//   gradient of a patch embedding) spent most of their time there. Small M or N picks a 1-row / 4-column
//   tile variant instead of computing padding.
//   bias_grad: one 64-wide workgroup per channel, fixed-order strided partial sums and a tree, so the result
//   is bitwise reproducible. circular_pad / circular_fold: one invocation per output element.
//
// Memory traffic
//   Per reduction step an invocation loads TM A values and TN B values for TM*TN FMAs; A rows are re-read
//   by the taps that overlap (cache-resident for small kernels), B is read once per workgroup. Outputs are
//   written once. Accumulation is f32 for f16 tensors too.
//
// Specialisation and constraints
//   alias T is the tensor element type (f32 or f16); WG, TM, TN come from the launcher (marker `tile`); the
//   override CHECKED = false drops all bounds tests (unpadded forward and weight gradient: every read is in
//   range, which is the patch-embedding fast path, a plain GEMM over non-overlapping patches).
//   Offsets, strides and extents are i32/u32 element counts (tensors are <= 128 MiB, far below 2^31).
//
// Measured (lavapipe 25.0.7, 2 cores, f32, quiet machine, 2026-11-27; bench/conv-probe.ts, wall clock of
// back-to-back calls for ~1 s; GFLOP/s counting 2 * outputs * Cin/groups * kernel volume, padded taps included)
//                                                  forward     dx (phased)   dw
//     3x3 pad 1, 64->64, 56x56, B=1                6.2-6.8     5.9-6.8       3.4-4.6
//     AST audio patches 1024x128, k=16 s=10, 1->768 7.3-7.8    0.8-0.9       7.9
//     conv1d circular k=3 p=1, 7->512, L=96, B=32  2.9-4.1     3.1-4.0       0.6-0.7
//   CPU adapters with fixed-width subgroups now run the forward, the weight gradient and the stride-1 input
//   gradient on conv_lanes.wgsl instead (3x3: 21, 23 and 12-15 GFLOP/s; its header has the comparison), so
//   on lavapipe this kernel serves the fallback of strided input gradients; GPUs run all three recipes
//   here (no GPU figures measured yet). The audio patches' dx is slow because each of its 100 phases is a
//   2 x 2-tap correlation over few pixels, so strided input gradients now run as a GEMM into columns plus
//   `col2im` on every adapter (bench/conv-probe.ts, wall clock, PROBE_KERNELS=tiled forcing the phases;
//   lavapipe, 2026-11-27, on a slower host than the figures above):
//     AST audio patches dx:                        phased 1168 ms (0.41 GFLOP/s) -> columns 37-42 ms (11-13)
//     3x3 stride 2 pad 1, 64->128, 56x56, B=4 dx:  phased 155 ms (3.0)            -> columns 79 ms (5.8)
//   The columns take Cin * taps * positions * 4 bytes per batch element; batches run in chunks of at most
//   64 MiB, and a single element over that budget falls back to the phases. GPUs take the columns too,
//   unmeasured there (`scripts/device-session.sh conv` times both).
//   Patchify convolutions (kernel = stride, no padding, sizes divisible) go through the GEMM on GPUs:
//   engine/ops/conv.ts rearranges them into one linear (kernels/wgsl/matmul*.wgsl), and their gradients
//   are GEMMs on every adapter.

alias T = f32;

/*@tile*/
const WG = 64u;
const TM = 4u;
const TN = 8u;
/*@end*/

override CHECKED: bool = true;

struct GemmParams {
  m_count: u32,        // m per group and phase: lead * prod(grid)
  n_count: u32,        // n per group
  c_count: u32,        // reduction channels
  m_tiles: u32,
  n_tiles: u32,
  groups: u32,
  phases: u32,         // 1, or prod(stride) for the phased input gradient
  phased: u32,
  has_bias: u32,
  a_offset: i32,
  a_lead: i32,         // A stride of the m-lead index
  a_group: i32,
  a_c: i32,
  b_offset: i32,
  b_n: i32,
  b_group: i32,
  b_c: i32,
  o_lead: i32,
  o_n: i32,
  o_group: i32,
  bias_offset: i32,
  bias_stride: i32,
  grid: vec4<u32>,     // u extents
  a_step: vec4<i32>,
  a_start: vec4<i32>,
  a_lim: vec4<i32>,
  a_sp: vec4<i32>,     // A spatial strides
  taps: vec4<i32>,
  tap_step: vec4<i32>, // A coordinate step per tap
  b_tap: vec4<i32>,    // B offset step per tap
  o_step: vec4<i32>,   // also the convolution stride in phased mode
  o_start: vec4<i32>,
  o_lim: vec4<i32>,
  o_sp: vec4<i32>,
  ph_dil: vec4<i32>,   // phased mode only: dilation, padding, kernel size, tap stride s/gcd(s, dil),
  ph_pad: vec4<i32>,   // and B's stride per kernel position
  ph_ksize: vec4<i32>,
  ph_kstep: vec4<i32>,
  ph_wsp: vec4<i32>,
}

@group(0) @binding(0) var<uniform> p: GemmParams;
@group(0) @binding(1) var<storage, read> a_in: array<T>;
@group(0) @binding(2) var<storage, read> b_in: array<T>;
@group(0) @binding(3) var<storage, read> bias_in: array<T>;
@group(0) @binding(4) var<storage, read_write> gemm_out: array<T>;

// One spatial dim of the input gradient for stride residue r: taps k = k0, k0 + kstep, ... meet dy row
// q - e0 - j*dil/g for input pixel i = q*s + r - pad (q from qlo on, so that i >= 0).
struct PhaseDim {
  taps: i32,
  a_start: i32,
  o_start: i32,
  b_shift: i32,
}

fn phase_dim(d: u32, r: i32) -> PhaseDim {
  let s = p.o_step[d];
  let dil = p.ph_dil[d];
  let kstep = p.ph_kstep[d];
  var k0 = -1;
  for (var k = 0; k < kstep; k++) {
    if (k0 < 0 && (k * dil) % s == r) { k0 = k; }
  }
  let pad = p.ph_pad[d];
  let qlo = (pad - r + s - 1) / s;  // ceil((pad - r) / s); the numerator is >= 0 since r < s
  var out: PhaseDim;
  out.o_start = qlo * s + r - pad;
  if (k0 < 0 || k0 >= p.ph_ksize[d]) {
    out.taps = 0;
    out.a_start = 0;
    out.b_shift = 0;
  } else {
    out.taps = (p.ph_ksize[d] - k0 + kstep - 1) / kstep;
    out.a_start = qlo - (k0 * dil - r) / s;
    out.b_shift = k0 * p.ph_wsp[d];
  }
  return out;
}

fn inside(coord: vec4<i32>, lim: vec4<i32>) -> bool {
  return all(coord.xyz >= vec3<i32>(0)) && all(coord.xyz < lim.xyz);
}

@compute @workgroup_size(WG)
fn conv_gemm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
             @builtin(num_workgroups) nwg: vec3<u32>) {
  let wg_index = wid.x + wid.y * nwg.x;
  let tiles = p.m_tiles * p.n_tiles;
  if (wg_index >= tiles * p.groups * p.phases) { return; }
  let tile = wg_index % tiles;
  let group = (wg_index / tiles) % p.groups;
  let phase = wg_index / (tiles * p.groups);
  let m_tile = tile % p.m_tiles;
  let n_tile = tile / p.m_tiles;

  var taps = p.taps;
  var a_start = p.a_start;
  var o_start = p.o_start;
  var b_base = p.b_offset + i32(group) * p.b_group;
  if (p.phased != 0u) {
    var rest = i32(phase);
    for (var d = 2; d >= 0; d--) {
      let s = p.o_step[d];
      let pd = phase_dim(u32(d), rest % s);
      rest = rest / s;
      taps[d] = pd.taps;
      a_start[d] = pd.a_start;
      o_start[d] = pd.o_start;
      b_base += pd.b_shift;
    }
  }

  // B rows of this workgroup's TN n values (clamped at the tail; those columns are not written).
  var b_row: array<i32, TN>;
  for (var i = 0u; i < TN; i++) {
    b_row[i] = b_base + i32(min(n_tile * TN + i, p.n_count - 1u)) * p.b_n;
  }

  // A origins and coordinates of this invocation's TM m values.
  let plane = p.grid.x * p.grid.y * p.grid.z;
  var a_row: array<i32, TM>;
  var coord: array<vec4<i32>, TM>;
  for (var j = 0u; j < TM; j++) {
    let m = min(m_tile * WG * TM + j * WG + lid, p.m_count - 1u);
    let lead = m / plane;
    let sp = m % plane;
    let u = vec4<i32>(i32(sp / (p.grid.y * p.grid.z)), i32((sp / p.grid.z) % p.grid.y), i32(sp % p.grid.z), 0);
    coord[j] = u * p.a_step + a_start;
    a_row[j] = p.a_offset + i32(group) * p.a_group + i32(lead) * p.a_lead + dot(coord[j].xyz, p.a_sp.xyz);
  }

  // The reduction over (c, t0, t1, t2) runs as one flat loop with odometer counters: lavapipe pays a fixed
  // cost per loop entry and iteration, and nested loops with short trip counts (the phased input gradient
  // of a patch embedding has one tap per dim) spent most of their time there.
  let a_tap = p.tap_step * p.a_sp;
  let k_count = i32(p.c_count) * taps.x * taps.y * taps.z;
  var t = vec4<i32>(0);  // (t0, t1, t2, c)
  var acc: array<array<f32, TN>, TM>;
  for (var k = 0; k < k_count; k++) {
    let a_k = t.w * p.a_c + dot(t.xyz, a_tap.xyz);
    let b_k = t.w * p.b_c + dot(t.xyz, p.b_tap.xyz);
    var bv: array<f32, TN>;
    for (var i = 0u; i < TN; i++) { bv[i] = f32(b_in[b_row[i] + b_k]); }
    for (var j = 0u; j < TM; j++) {
      let at = a_row[j] + a_k;
      var av: f32;
      if (CHECKED) {
        let ok = inside(coord[j] + vec4<i32>(t.xyz, 0) * p.tap_step, p.a_lim);
        av = select(0.0, f32(a_in[select(0, at, ok)]), ok);
      } else {
        av = f32(a_in[at]);
      }
      for (var i = 0u; i < TN; i++) { acc[j][i] = fma(av, bv[i], acc[j][i]); }
    }
    t.z += 1;
    if (t.z == taps.z) { t.z = 0; t.y += 1; }
    if (t.y == taps.y) { t.y = 0; t.x += 1; }
    if (t.x == taps.x) { t.x = 0; t.w += 1; }
  }

  for (var j = 0u; j < TM; j++) {
    let m = m_tile * WG * TM + j * WG + lid;
    if (m >= p.m_count) { continue; }
    let lead = m / plane;
    let sp = m % plane;
    let u = vec4<i32>(i32(sp / (p.grid.y * p.grid.z)), i32((sp / p.grid.z) % p.grid.y), i32(sp % p.grid.z), 0);
    let oc = u * p.o_step + o_start;
    if (!inside(oc, p.o_lim)) { continue; }
    let o_row = i32(lead) * p.o_lead + i32(group) * p.o_group + dot(oc.xyz, p.o_sp.xyz);
    for (var i = 0u; i < TN; i++) {
      let n = n_tile * TN + i;
      if (n >= p.n_count) { break; }
      var v = acc[j][i];
      if (p.has_bias != 0u) {
        v += f32(bias_in[p.bias_offset + i32(group * p.n_count + n) * p.bias_stride]);
      }
      gemm_out[o_row + i32(n) * p.o_n] = T(v);
    }
  }
}

// ---- bias gradient: db[n] = sum over batch and space of dy[b, n, ...] ----

struct ReduceParams {
  channels: u32,
  batch: u32,
  offset: i32,
  stride_b: i32,
  stride_c: i32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
  extent: vec4<u32>,   // spatial extents
  sp: vec4<i32>,       // spatial strides
}

@group(0) @binding(0) var<uniform> rp: ReduceParams;
@group(0) @binding(1) var<storage, read> dy_in: array<T>;
@group(0) @binding(2) var<storage, read_write> db_out: array<T>;

var<workgroup> partial: array<f32, 64>;

@compute @workgroup_size(64)
fn bias_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
             @builtin(num_workgroups) nwg: vec3<u32>) {
  let n = wid.x + wid.y * nwg.x;
  let live = n < rp.channels;
  let plane = rp.extent.x * rp.extent.y * rp.extent.z;
  var sum = 0.0;
  if (live) {
    for (var e = lid; e < rp.batch * plane; e += 64u) {
      let b = e / plane;
      let s = e % plane;
      let u = vec3<i32>(i32(s / (rp.extent.y * rp.extent.z)), i32((s / rp.extent.z) % rp.extent.y), i32(s % rp.extent.z));
      sum += f32(dy_in[rp.offset + i32(b) * rp.stride_b + i32(n) * rp.stride_c + dot(u, rp.sp.xyz)]);
    }
  }
  partial[lid] = sum;
  for (var width = 32u; width > 0u; width >>= 1u) {
    workgroupBarrier();
    if (lid < width) { partial[lid] += partial[lid + width]; }
  }
  if (live && lid == 0u) { db_out[n] = T(partial[0]); }
}

// ---- circular padding and its adjoint ----
// Both index [planes, D, H, W] where a plane is one (batch, channel) pair of the unpadded tensor.

struct PadParams {
  count: u32,          // elements written
  channels: u32,
  offset: i32,         // source offset
  stride_b: i32,       // source strides of batch and channel
  stride_c: i32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
  extent: vec4<i32>,   // unpadded spatial extents
  padded: vec4<i32>,   // padded spatial extents
  before: vec4<i32>,   // padding before each dim
  sp: vec4<i32>,       // source spatial strides
}

@group(0) @binding(0) var<uniform> cp: PadParams;
@group(0) @binding(1) var<storage, read> pad_src: array<T>;
@group(0) @binding(2) var<storage, read_write> pad_dst: array<T>;

fn unravel3(s: u32, ext: vec4<i32>) -> vec3<i32> {
  let e = vec3<u32>(ext.xyz);
  return vec3<i32>(vec3<u32>(s / (e.y * e.z), (s / e.z) % e.y, s % e.z));
}

// Positive remainder: coordinates to the left of the tensor wrap to its right end.
fn wrap(v: vec3<i32>, n: vec3<i32>) -> vec3<i32> {
  return ((v % n) + n) % n;
}

@compute @workgroup_size(256)
fn circular_pad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * 256u;
  if (e >= cp.count) { return; }
  let plane = u32(cp.padded.x * cp.padded.y * cp.padded.z);
  let bc = e / plane;
  let src = wrap(unravel3(e % plane, cp.padded) - cp.before.xyz, cp.extent.xyz);
  let b = bc / cp.channels;
  let c = bc % cp.channels;
  pad_dst[e] = pad_src[cp.offset + i32(b) * cp.stride_b + i32(c) * cp.stride_c + dot(src, cp.sp.xyz)];
}

// dx[i] = sum of dx_padded over every padded position that copied i: i + before + k*extent for k in -1..1
// (the padding never exceeds the extent, so no position is copied from more than three places per dim).
@compute @workgroup_size(256)
fn circular_fold(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * 256u;
  if (e >= cp.count) { return; }
  let plane = u32(cp.extent.x * cp.extent.y * cp.extent.z);
  let bc = e / plane;
  let at = unravel3(e % plane, cp.extent) + cp.before.xyz;
  let b = bc / cp.channels;
  let c = bc % cp.channels;
  let base = cp.offset + i32(b) * cp.stride_b + i32(c) * cp.stride_c;
  var sum = 0.0;
  for (var k0 = -1; k0 <= 1; k0++) {
    let x0 = at.x + k0 * cp.extent.x;
    if (x0 < 0 || x0 >= cp.padded.x) { continue; }
    for (var k1 = -1; k1 <= 1; k1++) {
      let x1 = at.y + k1 * cp.extent.y;
      if (x1 < 0 || x1 >= cp.padded.y) { continue; }
      for (var k2 = -1; k2 <= 1; k2++) {
        let x2 = at.z + k2 * cp.extent.z;
        if (x2 < 0 || x2 >= cp.padded.z) { continue; }
        sum += f32(pad_src[base + dot(vec3<i32>(x0, x1, x2), cp.sp.xyz)]);
      }
    }
  }
  pad_dst[e] = T(sum);
}

// ---- col2im: the input gradient of a strided convolution from its columns ----
// The launcher first computes the columns with one GEMM per group, cols[b, g, c, t, u] = sum_n w[g, n, c, t]
// dy[b, g, n, u] (n over the group's output channels, t over the kernel taps, u over the output positions),
// then this kernel sums, for every input pixel x, the columns that the forward read it through:
//   dx[b, g * cg + c, x] = sum over taps t and positions u with u * stride - pad + t * dil = x  of  cols[b, g, c, t, u].
// One invocation per dx element; per dim only the taps that can meet x are visited: (x + pad - t * dil) must
// be a multiple of the stride, which holds for t = t0, t0 + kstep, ... (kstep = stride / gcd(stride, dil),
// t0 < kstep found by search, none if the residue is unreachable), and then u = (x + pad - t * dil) / stride
// must lie in [0, out). The taps are summed in increasing order: deterministic, no atomics.

struct FoldParams {
  count: u32,          // dx elements written by this launch
  positions: u32,      // output positions per channel, prod(out_size)
  taps: u32,           // kernel taps per channel, prod(kernel)
  out_offset: u32,     // first dx element of this launch (the batch chunk)
  in_size: vec4<i32>,  // unpadded input extents
  out_size: vec4<i32>,
  kernel: vec4<i32>,
  stride: vec4<i32>,
  dilation: vec4<i32>,
  pad: vec4<i32>,      // padding before each dim
  kstep: vec4<i32>,    // stride / gcd(stride, dilation)
}

@group(0) @binding(0) var<uniform> fp: FoldParams;
@group(0) @binding(1) var<storage, read> columns: array<f32>;   // [chunk batch, groups, cg, taps, positions]
@group(0) @binding(2) var<storage, read_write> folded: array<T>; // dx, contiguous [batch, channels, ...in_size]

// The first tap of dim d that meets padded coordinate xp, or -1 when none does.
fn first_tap(d: u32, xp: i32) -> i32 {
  let residue = xp % fp.stride[d];
  for (var k = 0; k < fp.kstep[d]; k++) {
    if ((k * fp.dilation[d]) % fp.stride[d] == residue) { return k; }
  }
  return -1;
}

@compute @workgroup_size(256)
fn col2im(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * 256u;
  if (e >= fp.count) { return; }
  let plane = u32(fp.in_size.x * fp.in_size.y * fp.in_size.z);
  // (b * groups + g) * cg + c: dx's channel index over the chunk is also the columns' row block.
  let channel = e / plane;
  let xp = unravel3(e % plane, fp.in_size) + fp.pad.xyz;
  let t0 = vec3<i32>(first_tap(0u, xp.x), first_tap(1u, xp.y), first_tap(2u, xp.z));
  var sum = 0.0;
  if (all(t0 >= vec3<i32>(0))) {
    let base = channel * fp.taps * fp.positions;
    for (var ta = t0.x; ta < fp.kernel.x; ta += fp.kstep.x) {
      let va = xp.x - ta * fp.dilation.x;
      if (va < 0) { break; }  // later taps reach further left
      let ua = va / fp.stride.x;
      if (ua >= fp.out_size.x) { continue; }
      for (var tb = t0.y; tb < fp.kernel.y; tb += fp.kstep.y) {
        let vb = xp.y - tb * fp.dilation.y;
        if (vb < 0) { break; }
        let ub = vb / fp.stride.y;
        if (ub >= fp.out_size.y) { continue; }
        for (var tc = t0.z; tc < fp.kernel.z; tc += fp.kstep.z) {
          let vc = xp.z - tc * fp.dilation.z;
          if (vc < 0) { break; }
          let uc = vc / fp.stride.z;
          if (uc >= fp.out_size.z) { continue; }
          let tap = u32((ta * fp.kernel.y + tb) * fp.kernel.z + tc);
          let u = u32((ua * fp.out_size.y + ub) * fp.out_size.z + uc);
          sum += columns[base + tap * fp.positions + u];
        }
      }
    }
  }
  folded[fp.out_offset + e] = T(sum);
}
