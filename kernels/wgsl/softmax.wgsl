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
//   *_cols4: the same on CPU adapters when rows are contiguous in every operand (the usual last-axis
//           case): each invocation walks its row as vec4 chunks of the flat buffer, with branch-free
//           vec4 arithmetic. See the section above softmax_cols4 for why and how.
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
// Constraints: rank <= 8 after merging the dims other than the axis; outputs are contiguous (offset 0);
// row counts past 65535 workgroups spill into the grid's y dimension; N < 2^24 so counts stay exact in f32.
//
// Measured (lavapipe 25.0.7, 2 cores, Node/Dawn; bench/norm-probe.ts with PROBE_CPU_TIME=1, i.e. process
// CPU time / 2, best of three ~0.4 s batches; GB/s counts each input read once and each output written
// once; two runs each, 2026-11-27)
//                                                   *_cols (scalar)      *_cols4
//   softmax 18912 x 197 (ViT-B scores, last axis):  12.9-13.1 ms         7.4-7.8 ms, 3.8-4.0 GB/s
//   logSoftmax, same shape:                          12.1-12.7 ms         6.4-6.6 ms, 4.5-4.7 GB/s
//   softmaxBackward, same shape (reads y, dy):       12.2-12.6 ms         6.9-7.1 ms, 6.3-6.5 GB/s
//   softmax over axis 1 of [96, 197, 197] (strided): 14.0-15.8 ms (always the scalar form)
//   a copy of 4096 x 768 f32 (12.6 MB against softmax's 14.9) by the map kernel (x * 1): 4.3-4.9 ms;
//   copyBufferToBuffer of softmax's bytes: 1.3 ms.
//   What the scalar form spent (code variants, same probe): each of its two per-element loads ~3 ms;
//   online_add's branches little, because the loads dominated. With vec4 loads the order flipped: the
//   same vec4 kernel with online_add per element took 10.4 ms, of which ~5 ms were its branches
//   (a plain sum instead: 5.5 ms), hence online_add4 and forward_value4.
//   (Before 2026-11-27 this table read 71-94 ms: one run at load ~10, before Dawn's polls were paced.)

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

// The vec4 forms' stand-in for non-finite elements: the lowest finite f32, which keeps inf and NaN out of
// their arithmetic (exp of it, less any finite maximum, underflows to 0); the results at those elements
// are then selected.
const LOWEST_F32 = -3.4028234e38;

fn finite_or_lowest4(v: vec4<f32>) -> vec4<f32> {
  return select(vec4<f32>(LOWEST_F32), v, (bitcast<vec4<u32>>(v) & vec4<u32>(0x7fffffffu)) < vec4<u32>(0x7f800000u));
}

fn exp_neg4(d: vec4<f32>) -> vec4<f32> {
  return exp(-min(d, vec4<f32>(104.0)));
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

// online_add for the elements of a vec4 with `inside` set, without a branch: the chunk's largest finite
// element joins the running maximum first, and then one exp per element plus one for the rescale of s,
// all selects, which lavapipe runs as straight SIMD code where online_add's per-element branches cost
// more than the loads. (The first finite elements set m; a chunk with none leaves s at 0.)
fn online_add4(state: vec3<f32>, v: vec4<f32>, inside: vec4<bool>) -> vec3<f32> {
  let bits = bitcast<vec4<u32>>(v);
  let poison = inside & ((bits & vec4<u32>(0x7fffffffu)) >= vec4<u32>(0x7f800000u)) & (bits != vec4<u32>(0xff800000u));
  let finite = inside & ((bits & vec4<u32>(0x7fffffffu)) < vec4<u32>(0x7f800000u));
  let vf = select(vec4<f32>(LOWEST_F32), v, finite);   // also LOWEST_F32 outside the row
  let chunk_max = max(max(vf.x, vf.y), max(vf.z, vf.w));
  let started = state.y > 0.0;
  let m = select(chunk_max, max(state.x, chunk_max), started);
  let e = select(vec4<f32>(0.0), exp_neg4(vec4<f32>(m) - vf), finite);
  let s = select(0.0, state.y * exp_neg(m - state.x), started) + dot(e, vec4<f32>(1.0));
  return vec3<f32>(m, s, state.z + dot(select(vec4<f32>(0.0), vec4<f32>(1.0), poison), vec4<f32>(1.0)));
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

// forward_value for a vec4 without a branch: non-finite inputs go through the arithmetic as the lowest
// finite f32 (exp of it underflows to 0) and their outputs are then selected.
fn forward_value4(v: vec4<f32>, f: vec4<f32>) -> vec4<T> {
  let bits = bitcast<vec4<u32>>(v);
  let neg_infs = bits == vec4<u32>(0xff800000u);
  let vs = finite_or_lowest4(v);
  var o: vec4<f32>;
  if (LOG) {
    o = select(vs - vec4<f32>(f.x + f.z), vec4<f32>(neg_inf()), neg_infs);
  } else {
    o = select(exp_neg4(vec4<f32>(f.x) - vs) * f.y, vec4<f32>(0.0), neg_infs);
  }
  return vec4<T>(select(o, vec4<f32>(quiet_nan()), f.w != 0.0));
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

// ---- the column form over vec4s (CPU adapters, rows contiguous in every operand) ----
// When the axis has unit stride in every operand, and every operand's row starts at the same offset mod 4
// as the output's (kernels/softmax.ts checks), the column forms walk whole vec4 chunks of the flat
// buffers instead of elements, masking off the elements of neighbouring rows. On lavapipe each per-lane
// load or store is a bounds-checked scalar access per lane whatever its width, so a vec4 costs about what
// one element did, and the vec4 arithmetic below has no branch (online_add4, forward_value4). The chunks
// at a row's two ends are shared with the neighbouring rows, i.e. other invocations: those are written a
// component at a time, never as whole vec4s. Buffers are whole multiples of 16 bytes
// (engine/buffer-pool.ts), so a row's last chunk is inside its binding.

// A row of the output: its elements [begin, end) and the vec4 chunks first ..= last that hold them.
struct RowSpan {
  begin: u32,
  end: u32,
  first: u32,
  last: u32,
}

fn row_span(begin: u32) -> RowSpan {
  return RowSpan(begin, begin + p.n, begin / 4u, (begin + p.n - 1u) / 4u);
}

// Which elements of chunk c (elements 4c .. 4c+3) lie in the row.
fn chunk_mask(c: u32, span: RowSpan) -> vec4<bool> {
  let i = vec4<u32>(4u * c) + vec4<u32>(0u, 1u, 2u, 3u);
  return (i >= vec4<u32>(span.begin)) & (i < vec4<u32>(span.end));
}

@group(0) @binding(1) var<storage, read> x4: array<vec4<T>>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4<T>>;

@compute @workgroup_size(WG)
fn softmax_cols4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
                 @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = workgroup_row(wid, nwg) * WG + lid3.x;
  if (row >= p.rows) { return; }
  let base = row_bases(row);
  let span = row_span(base.z);
  // Chunk c of y holds the elements of x's chunk x_first + c (u32 arithmetic wraps, so x_first may
  // 'underflow' when x's rows lie below y's).
  let x_first = base.x / 4u - span.first;
  var state = EMPTY_STATE;
  for (var c = span.first; c <= span.last; c++) {
    state = online_add4(state, vec4<f32>(x4[x_first + c]), chunk_mask(c, span));
  }
  let f = finish(state);
  for (var c = span.first; c <= span.last; c++) {
    let o = forward_value4(vec4<f32>(x4[x_first + c]), f);
    let inside = chunk_mask(c, span);
    if (all(inside)) {
      y4[c] = o;
    } else {
      for (var e = 0u; e < 4u; e++) {
        if (inside[e]) { y4[c][e] = o[e]; }
      }
    }
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

@group(0) @binding(1) var<storage, read> y_saved4: array<vec4<T>>;
@group(0) @binding(2) var<storage, read> dy_in4: array<vec4<T>>;
@group(0) @binding(3) var<storage, read_write> dx_out4: array<vec4<T>>;

// backward_cols over vec4 chunks, as softmax_cols4 (y, dy and dx rows all start at the same offset mod 4).
@compute @workgroup_size(WG)
fn backward_cols4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
                  @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = workgroup_row(wid, nwg) * WG + lid3.x;
  if (row >= p.rows) { return; }
  let base = row_bases(row);
  let span = row_span(base.z);
  let y_first = base.x / 4u - span.first;   // as x_first in softmax_cols4
  let dy_first = base.y / 4u - span.first;
  var total = 0.0;
  for (var c = span.first; c <= span.last; c++) {
    let yv = vec4<f32>(y_saved4[y_first + c]);
    let dy = vec4<f32>(dy_in4[dy_first + c]);
    let term = select(dy, dy * yv, !LOG);
    total += dot(select(vec4<f32>(0.0), term, chunk_mask(c, span)), vec4<f32>(1.0));
  }
  for (var c = span.first; c <= span.last; c++) {
    let yv = vec4<f32>(y_saved4[y_first + c]);
    let dy = vec4<f32>(dy_in4[dy_first + c]);
    let o = vec4<T>(select(yv * (dy - total), dy - exp(yv) * total, LOG));
    let inside = chunk_mask(c, span);
    if (all(inside)) {
      dx_out4[c] = o;
    } else {
      for (var e = 0u; e < 4u; e++) {
        if (inside[e]) { dx_out4[c][e] = o[e]; }
      }
    }
  }
}
