// softmax.wgsl — softmax / log-softmax along one axis of a strided tensor, and their backward passes.
//
// What it computes (per row = the N elements along the axis, everything in f32)
//   forward:   m = max x, s = sum exp(x - m)
//              softmax:     y = exp(x - m) / s
//              log-softmax: y = x - m - log(s)
//   backward:  softmax:     dx = y * (dy - sum(dy * y))
//              log-softmax: dx = dy - exp(y) * sum(dy)
//   LOG (override) picks the variant.
//
// Any axis, no transposes
//   A row is addressed as base + k * axis_stride, where base unravels the row index over the other dims
//   (merged where contiguous, rank <= 8) with each operand's strides. So softmax over axis 1 of [B, C, T]
//   reads the input in place; outputs are contiguous tensors of the input's shape.
//
// How work is split (kernels/softmax.ts picks the entry point)
//   *_rows: one workgroup (WG invocations, a power of two) per row, invocations striding along the axis,
//           a tree reduction in workgroup memory. GPUs use it when the axis is the unit-stride dim (reads
//           across invocations are consecutive); every adapter uses it when there are few rows.
//   *_cols: one invocation per row, each walking its row serially. GPUs use it when the axis is strided:
//           then neighbouring rows are (usually) neighbouring in memory, so the invocations of a
//           workgroup read consecutive addresses at every step. CPU adapters (lavapipe) use it whenever
//           there are enough rows: it needs no barrier, and a lavapipe barrier is a coroutine switch
//           per 8-wide SIMD batch.
//
// Numerical stability: online max-subtracted sums, one exp per element
//   The statistics pass keeps (m, s) with s = sum exp(x_i - m) and rescales s whenever the running max
//   grows (Milakov & Gimelshein's online normaliser). Writing the update as e = exp(-|x - m|) needs one
//   exp per element whichever of x and m is larger: x > m gives (x, s * e + 1), else (m, s + e). Exponents
//   are never positive, so nothing overflows; states from different invocations merge similarly. The
//   output pass reads the row a second time (from cache) and spends one more exp per element: two reads
//   and two exps per element, against three reads for the classic max / sum / write passes.
//
// Non-finite inputs (matching torch.softmax), handled explicitly
//   -inf elements contribute nothing and give 0 (log-softmax: -inf). A row that is entirely -inf gives
//   NaN everywhere (torch: 0/0). A NaN or +inf anywhere in a row makes the whole row NaN (torch: inf - inf).
//   The kernel tests bits and counts such elements instead of letting NaN/inf propagate through
//   arithmetic, which WGSL does not guarantee (see is_neg_inf).
//
// Memory traffic: forward reads N (twice, the second time from cache) and writes N elements per row;
// backward reads y and dy twice and writes N. Bandwidth bound on GPUs; on lavapipe per-invocation work
// dominates (see Measured).
//
// Measured (lavapipe, 2 cores shared with other jobs, llvmpipe LLVM 15, 256-bit SIMD; bench/norm-probe.ts,
// best of three ~0.4 s batches; GB/s counts each input read once and each output written once)
//   softmax 18912 x 197 (ViT-B scores, last axis):  74 ms, 0.40 GB/s
//     same bytes, contiguousCopy kernel:           315 ms, 0.09 GB/s;  copyBufferToBuffer 3.4 ms, 8.7 GB/s
//   logSoftmax, same shape:                          71 ms, 0.42 GB/s
//   softmaxBackward, same shape (reads y, dy):       71 ms, 0.63 GB/s
//   softmax over axis 1 of [96, 197, 197] (strided): 94 ms, 0.32 GB/s
//   One run at load ~10 on the 2 cores; quieter runs were up to 1.5x faster.

alias T = f32;

override WG: u32 = 64u;
override LOG: bool = false;

struct Params {
  rows: u32,
  n: u32,             // axis length
  rank: u32,          // merged dims other than the axis
  a_offset: u32,      // x (forward) or y (backward)
  b_offset: u32,      // dy (backward)
  a_axis_stride: u32,
  b_axis_stride: u32,
  out_axis_stride: u32,
  shape: array<vec4<u32>, 2>,
  a_strides: array<vec4<u32>, 2>,
  b_strides: array<vec4<u32>, 2>,
  out_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;

fn dim_of(v: array<vec4<u32>, 2>, d: u32) -> u32 {
  return v[d >> 2u][d & 3u];
}

// Element offset of a row's first element in (a, b, out).
fn row_bases(row: u32) -> vec3<u32> {
  var rem = row;
  var off = vec3<u32>(p.a_offset, p.b_offset, 0u);
  // The outermost dim needs no division (rem < its size), so merged contiguous rows cost none:
  // integer division has no SIMD form on CPUs and is slow on GPUs too.
  for (var d = p.rank - 1u; d >= 1u && d < p.rank; d--) {
    let size = dim_of(p.shape, d);
    off += (rem % size) * vec3<u32>(dim_of(p.a_strides, d), dim_of(p.b_strides, d), dim_of(p.out_strides, d));
    rem = rem / size;
  }
  return off + rem * vec3<u32>(dim_of(p.a_strides, 0u), dim_of(p.b_strides, 0u), dim_of(p.out_strides, 0u));
}

// Non-finite values are recognised by their bits, and never flow through arithmetic: WGSL lets
// implementations assume finite math (Chromium's compiler does: there -inf - -inf came out as 0 and
// NaN comparisons folded away), so NaN/inf propagation cannot be relied on.
fn is_neg_inf(v: f32) -> bool {
  return bitcast<u32>(v) == 0xff800000u;
}

// NaN or +inf: either makes the whole row NaN (torch computes inf - inf or NaN - max there).
fn poisons_row(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u || bitcast<u32>(v) == 0x7f800000u;
}

// Built from `let` bit patterns: a constant infinity or NaN is a WGSL compile error.
fn neg_inf() -> f32 {
  let bits = 0xff800000u;
  return bitcast<f32>(bits);
}

fn quiet_nan() -> f32 {
  let bits = 0x7fc00000u;
  return bitcast<f32>(bits);
}

// exp(-d) for d >= 0, with d clamped so that a difference of huge finite values cannot overflow to inf
// (exp(-104) is already 0 in f32).
fn exp_neg(d: f32) -> f32 {
  return exp(-min(d, 104.0));
}

// Online softmax state: (running max m of the finite elements, s = sum exp(x_i - m), count of NaN /
// +inf elements). s == 0 means no finite element yet (m is then meaningless).
const EMPTY_STATE = vec3<f32>(0.0, 0.0, 0.0);

fn online_add(state: vec3<f32>, v: f32) -> vec3<f32> {
  if (poisons_row(v)) { return state + vec3<f32>(0.0, 0.0, 1.0); }
  if (is_neg_inf(v)) { return state; }
  if (state.y == 0.0) { return vec3<f32>(v, 1.0, state.z); }
  let e = exp_neg(abs(v - state.x));
  return select(vec3<f32>(state.x, state.y + e, state.z), vec3<f32>(v, state.y * e + 1.0, state.z), v > state.x);
}

fn online_merge(a: vec3<f32>, b: vec3<f32>) -> vec3<f32> {
  let poisoned = a.z + b.z;
  if (a.y == 0.0) { return vec3<f32>(b.x, b.y, poisoned); }
  if (b.y == 0.0) { return vec3<f32>(a.x, a.y, poisoned); }
  let m = max(a.x, b.x);
  return vec3<f32>(m, a.y * exp_neg(m - a.x) + b.y * exp_neg(m - b.x), poisoned);
}

var<workgroup> scratch: array<vec3<f32>, WG>;

fn reduce_online(lid: u32, state: vec3<f32>) -> vec3<f32> {
  scratch[lid] = state;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { scratch[lid] = online_merge(scratch[lid], scratch[lid + stride]); }
    workgroupBarrier();
  }
  return scratch[0];
}

fn reduce_sum(lid: u32, v: f32) -> f32 {
  scratch[lid] = vec3<f32>(v, 0.0, 0.0);
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { scratch[lid].x += scratch[lid + stride].x; }
    workgroupBarrier();
  }
  return scratch[0].x;
}

// (m, 1 / s, log s, row is NaN) for the output pass. Rows with a NaN or +inf, and rows with no finite
// element (all -inf: torch's 0 / 0), are NaN.
fn finish(total: vec3<f32>) -> vec4<f32> {
  let nan_row = total.z > 0.0 || total.y == 0.0;
  let s = select(total.y, 1.0, nan_row);
  return vec4<f32>(total.x, 1.0 / s, log(s), select(0.0, 1.0, nan_row));
}

// Output for one element given the row's finish(): exp(v - m) / s or v - m - log(s); -inf elements give
// exactly 0 (log-softmax: -inf).
fn forward_value(v: f32, f: vec4<f32>) -> T {
  if (f.w != 0.0) { return T(quiet_nan()); }
  if (LOG) { return T(select(v - f.x - f.z, neg_inf(), is_neg_inf(v))); }
  return T(select(exp(v - f.x) * f.y, 0.0, is_neg_inf(v)));
}

fn workgroup_row(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.y * nwg.x + wid.x;
}

@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> y: array<T>;

@compute @workgroup_size(WG)
fn softmax_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
                @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = workgroup_row(wid, nwg);
  if (row >= p.rows) { return; }
  let lid = lid3.x;
  let base = row_bases(row);
  var state = EMPTY_STATE;
  for (var k = lid; k < p.n; k += WG) { state = online_add(state, f32(x[base.x + k * p.a_axis_stride])); }
  let f = finish(reduce_online(lid, state));
  for (var k = lid; k < p.n; k += WG) {
    y[base.z + k * p.out_axis_stride] = forward_value(f32(x[base.x + k * p.a_axis_stride]), f);
  }
}

@compute @workgroup_size(WG)
fn softmax_cols(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
                @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = workgroup_row(wid, nwg) * WG + lid3.x;
  if (row >= p.rows) { return; }
  let base = row_bases(row);
  var state = EMPTY_STATE;
  for (var k = 0u; k < p.n; k++) { state = online_add(state, f32(x[base.x + k * p.a_axis_stride])); }
  let f = finish(state);
  for (var k = 0u; k < p.n; k++) {
    y[base.z + k * p.out_axis_stride] = forward_value(f32(x[base.x + k * p.a_axis_stride]), f);
  }
}

// ---- backward: a = y (the forward output), b = dy ----

@group(0) @binding(1) var<storage, read> y_saved: array<T>;
@group(0) @binding(2) var<storage, read> dy_in: array<T>;
@group(0) @binding(3) var<storage, read_write> dx_out: array<T>;

// The per-element term of the row sum: dy * y (softmax) or dy (log-softmax).
fn backward_term(yv: f32, dy: f32) -> f32 {
  if (LOG) { return dy; }
  return dy * yv;
}

fn backward_value(yv: f32, dy: f32, total: f32) -> T {
  if (LOG) { return T(dy - exp(yv) * total); }
  return T(yv * (dy - total));
}

@compute @workgroup_size(WG)
fn backward_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
                 @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = workgroup_row(wid, nwg);
  if (row >= p.rows) { return; }
  let lid = lid3.x;
  let base = row_bases(row);
  var acc = 0.0;
  for (var k = lid; k < p.n; k += WG) {
    acc += backward_term(f32(y_saved[base.x + k * p.a_axis_stride]), f32(dy_in[base.y + k * p.b_axis_stride]));
  }
  let total = reduce_sum(lid, acc);
  for (var k = lid; k < p.n; k += WG) {
    let yv = f32(y_saved[base.x + k * p.a_axis_stride]);
    dx_out[base.z + k * p.out_axis_stride] = backward_value(yv, f32(dy_in[base.y + k * p.b_axis_stride]), total);
  }
}

@compute @workgroup_size(WG)
fn backward_cols(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
                 @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = workgroup_row(wid, nwg) * WG + lid3.x;
  if (row >= p.rows) { return; }
  let base = row_bases(row);
  var total = 0.0;
  for (var k = 0u; k < p.n; k++) {
    total += backward_term(f32(y_saved[base.x + k * p.a_axis_stride]), f32(dy_in[base.y + k * p.b_axis_stride]));
  }
  for (var k = 0u; k < p.n; k++) {
    let yv = f32(y_saved[base.x + k * p.a_axis_stride]);
    dx_out[base.z + k * p.out_axis_stride] = backward_value(yv, f32(dy_in[base.y + k * p.b_axis_stride]), total);
  }
}
