// layernorm.wgsl — LayerNorm over the last D elements of each row: forward (optionally fused with the
// residual add of a pre-norm transformer block), the per-row input gradient, and the two-stage column
// reduction for the weight and bias gradients.
//
// What it computes (per row of D elements, statistics in f32 whatever the storage type)
//   layer_norm:           mean, var = biased mean/variance of x;  rstd = 1/sqrt(var + eps)
//                         y = (x - mean) * rstd * w + b           (w, b optional: HAS_WEIGHT / HAS_BIAS)
//                         stats[row] = mean, stats[rows + row] = rstd   (saved for the backward pass)
//   layer_norm_residual:  s = x + r (rounded to T, written out: it is the new residual stream), then
//                         y = layer_norm(s) as above. One read of x and r, no separate add kernel.
//   layer_norm_dx:        g = dy * w, xhat = (x - mean) * rstd
//                         dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
//   column_partials:      for a block of rows, partial[chunk][j] = sum dy * xhat (dweight) and sum dy (dbias)
//   column_reduce:        dweight[j], dbias[j] = sums of the partials over chunks, in chunk order
//
// Numerical stability (why not sum / sum-of-squares)
//   E[x^2] - E[x]^2 cancels catastrophically when |mean| >> std (post-residual activations often are).
//   Each invocation instead keeps a Welford state (count, mean, M2 = sum of squared deviations). A vec4
//   load is a chunk of 4: its own mean and M2 are computed exactly in registers and merged into the
//   running state with Chan et al.'s pairwise formula (one division per chunk, not per element); the
//   workgroup then merges the per-invocation states with the same formula in a tree. The result is as
//   accurate as a two-pass centered variance, and the row is read from memory once for the statistics
//   and once more (from cache: a 768-float row is 3 KB) for the output.
//
// How work is split (kernels/layernorm.ts picks the form)
//   Forward and dx, row form: one workgroup (WG invocations, a power of two: an override constant) per
//   row; invocation i handles vectors i, i + WG, ...; the per-invocation states are merged by a tree in
//   workgroup memory (log2(WG) barriers). Rows beyond 65535 spill into the grid's y dimension. GPUs use
//   this form with WG sized to cover the row once (<= 256).
//   Forward and dx, column form (*_cols): one invocation per row walks the whole row, with no barrier or
//   reduction. lavapipe runs a workgroup as a loop over 8-wide SIMD batches with a coroutine switch per
//   barrier, so on CPU adapters this form is 1.4-1.6x faster than 8-wide row workgroups.
//   Both forms share the row loops (first, step) = (lid, WG) or (0, 1).
//   Weight/bias gradients: one invocation per 4-column vector and a chunk of consecutive rows per
//   workgroup row of the grid; the reduce stage adds the chunk partials in a fixed order, so dweight and
//   dbias are bitwise deterministic (no atomics, and the chunking depends only on the shapes).
//
// Specialisation (kernels/layernorm.ts)
//   T: f32 or f16 storage. V/VF: the load unit and its f32 widening, vec4<T>/vec4<f32> when D % 4 == 0
//   and every row start is 4-aligned, else T/f32 with the bodies of `LANES` and `hsum` swapped. As
//   written the file compiles as the f32 vec4 variant. Offsets and strides in Params count V units.
//
// Memory traffic (forward): reads D (x) [+ D (r)] elements, writes D (y) [+ D (s)] and 8 bytes of stats
//   per row; w and b stay in cache. Backward: dx reads dy and x and writes dx; the weight/bias gradient
//   reads dy and x once more (it cannot share the row pass without per-row partials or atomics). On GPUs
//   this is bandwidth bound; on lavapipe per-invocation work dominates (see Measured).
//
// Constraints
//   The normalized dims of every operand must be contiguous (the op copies otherwise); leading dims may be
//   strided (rank <= 8 after merging). D < 2^24 so that counts are exact in f32.
//
// Measured (lavapipe 25.0.7, 2 cores, llvmpipe LLVM 15, 256-bit SIMD; bench/norm-probe.ts with
// PROBE_CPU_TIME=1, best of three ~0.4 s batches, 2026-11-27; GB/s counts each input read once and each
// output written once)
//   4096 x 768 f32, w + b (column form, vec4 loads)    8.37 ms   3.0 GB/s
//     same bytes, map kernel copy (x * 1)               5.95 ms   4.2 GB/s  -> layer_norm takes 1.41x a shader copy
//     same bytes, copyBufferToBuffer                    1.31 ms  19 GB/s    (memcpy ceiling)
//   4096 x 768 f32 + residual (reads x, r; writes s, y) 11.1 ms   4.6 GB/s
//   4096 x 768 f16, w + b                              11.0 ms   1.2 GB/s  (f16 is slower than f32 on lavapipe)
//   backward 4096 x 768 (dx + dweight + dbias)         27.0 ms   2.3 GB/s
//   `npm run bench -- backward` (forward + backward through autograd, wall clock, two runs on a slow shared
//   host, 2026-11-28): 53.5-60.5 ms against autograd of the unfused composition 202-233 ms, tf.grads of
//   TF.js's moments composition 379-390 ms (6.5-7.1x) and jax-js jit(grad) 168-174 ms (2.9-3.2x).
//   npm run bench -- layernorm (wall clock, same process as the peers): 9.02-9.77 ms against the map
//   kernel's copy 5.83-6.00 ms (1.5-1.7x; the issue asks within 2x), 6.7-6.9x tfjs-webgpu's composition and
//   2.7-2.8x jax-js's jit; on a later, slower host the same day 12.3 against 11.9 ms (1.03x), 8.8x and 3.7x.
//   Earlier forms, for scale: one 8-wide workgroup per row (the GPU form) ran 1.4-1.6x slower than the
//   column form here; before the elementwise kernels took consecutive per-invocation work the map copy it
//   is compared with ran 13.1 ms.

alias T = f32;
alias V = vec4<f32>;
alias VF = vec4<f32>;

/*@lanes*/ const LANES = 4u; /*@end*/

// Sum of a load unit's components (identity for scalars).
fn hsum(v: VF) -> f32 {
  /*@hsum*/ return v.x + v.y + v.z + v.w; /*@end*/
}

override WG: u32 = 64u;
override HAS_WEIGHT: bool = true;
override HAS_BIAS: bool = true;

struct Params {
  rows: u32,
  dv: u32,            // row length in V units (D / LANES)
  rank: u32,          // merged leading dims
  eps: f32,
  a_offset: u32,      // x (forward) or dy (dx, partials)
  b_offset: u32,      // residual (forward) or x (dx, partials)
  w_offset: u32,
  bias_offset: u32,
  mean_offset: u32,   // backward: element offsets of the saved statistics
  rstd_offset: u32,
  chunk_rows: u32,    // column partials: rows per chunk
  chunks: u32,
  shape: array<vec4<u32>, 2>,
  a_strides: array<vec4<u32>, 2>,
  b_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;

fn dim_of(v: array<vec4<u32>, 2>, d: u32) -> u32 {
  return v[d >> 2u][d & 3u];
}

// Start (in V units) of a row in the two row-strided operands.
fn row_starts(row: u32) -> vec2<u32> {
  var rem = row;
  var off = vec2<u32>(p.a_offset, p.b_offset);
  // The outermost dim needs no division (rem < its size), so merged contiguous rows cost none:
  // integer division has no SIMD form on CPUs and is slow on GPUs too.
  for (var d = p.rank - 1u; d >= 1u && d < p.rank; d--) {
    let size = dim_of(p.shape, d);
    off += (rem % size) * vec2<u32>(dim_of(p.a_strides, d), dim_of(p.b_strides, d));
    rem = rem / size;
  }
  return off + rem * vec2<u32>(dim_of(p.a_strides, 0u), dim_of(p.b_strides, 0u));
}

fn workgroup_row(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.y * nwg.x + wid.x;
}

// Chan et al.: merges Welford states (count, mean, M2) of two disjoint sets.
fn chan_merge(a: vec3<f32>, b: vec3<f32>) -> vec3<f32> {
  let n = a.x + b.x;
  if (n == 0.0) { return a; }
  let delta = b.y - a.y;
  let fb = b.x / n;
  return vec3<f32>(n, a.y + delta * fb, a.z + b.z + delta * delta * a.x * fb);
}

// Merges one load unit into a Welford state: the unit's mean and M2 are exact, then one Chan merge.
fn welford_add(state: vec3<f32>, v: VF) -> vec3<f32> {
  let c = hsum(v) / f32(LANES);
  let dev = v - VF(c);
  return chan_merge(state, vec3<f32>(f32(LANES), c, hsum(dev * dev)));
}

var<workgroup> welford_scratch: array<vec3<f32>, WG>;

// Workgroup-wide Chan merge; every invocation gets the row's (count, mean, M2).
fn reduce_welford(lid: u32, state: vec3<f32>) -> vec3<f32> {
  welford_scratch[lid] = state;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { welford_scratch[lid] = chan_merge(welford_scratch[lid], welford_scratch[lid + stride]); }
    workgroupBarrier();
  }
  return welford_scratch[0];
}

@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> weight: array<V>;
@group(0) @binding(3) var<storage, read> bias: array<V>;
@group(0) @binding(4) var<storage, read_write> y: array<V>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;

// y for one load unit; absent weight/bias are override-false branches, removed at pipeline creation
// (their bindings then alias x, which is never read through them).
fn affine(v: VF, ms: vec2<f32>, j: u32) -> V {
  var o = (v - VF(ms.x)) * ms.y;
  if (HAS_WEIGHT) { o *= VF(weight[p.w_offset + j]); }
  if (HAS_BIAS) { o += VF(bias[p.bias_offset + j]); }
  return V(o);
}

// (mean, rstd) from a row's merged Welford state.
fn mean_rstd(total: vec3<f32>) -> vec2<f32> {
  return vec2<f32>(total.y, inverseSqrt(total.z / total.x + p.eps));
}

fn save_stats(row: u32, ms: vec2<f32>) {
  stats[row] = ms.x;
  stats[p.rows + row] = ms.y;
}

// The row loops, shared by both forms: a row workgroup passes (first, step) = (lid, WG), the one-
// invocation-per-row form (0, 1). Loops only: barriers stay in the row-form entry points.
fn accumulate_x(src: u32, first: u32, step: u32) -> vec3<f32> {
  var state = vec3<f32>(0.0);
  for (var j = first; j < p.dv; j += step) { state = welford_add(state, VF(x[src + j])); }
  return state;
}

fn write_y(src: u32, dst: u32, first: u32, step: u32, ms: vec2<f32>) {
  for (var j = first; j < p.dv; j += step) { y[dst + j] = affine(VF(x[src + j]), ms, j); }
}

@compute @workgroup_size(WG)
fn layer_norm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
              @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = workgroup_row(wid, nwg);
  if (row >= p.rows) { return; }
  let lid = lid3.x;
  let src = row_starts(row).x;
  let ms = mean_rstd(reduce_welford(lid, accumulate_x(src, lid, WG)));
  if (lid == 0u) { save_stats(row, ms); }
  write_y(src, row * p.dv, lid, WG, ms);
}

@compute @workgroup_size(WG)
fn layer_norm_cols(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
                   @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = workgroup_row(wid, nwg) * WG + lid3.x;
  if (row >= p.rows) { return; }
  let src = row_starts(row).x;
  let ms = mean_rstd(accumulate_x(src, 0u, 1u));
  save_stats(row, ms);
  write_y(src, row * p.dv, 0u, 1u, ms);
}

// The residual variant keeps the bindings above and adds r and s after them, so both variants share
// every helper (a helper that touched r or s would force the plain variant to bind them too).
@group(0) @binding(6) var<storage, read> residual: array<V>;
@group(0) @binding(7) var<storage, read_write> sum_out: array<V>;

fn accumulate_sum(src: vec2<u32>, dst: u32, first: u32, step: u32) -> vec3<f32> {
  var state = vec3<f32>(0.0);
  for (var j = first; j < p.dv; j += step) {
    // Added in T, so the statistics see the stored (rounded) residual stream.
    let s = x[src.x + j] + residual[src.y + j];
    sum_out[dst + j] = s;
    state = welford_add(state, VF(s));
  }
  return state;
}

// Each invocation re-reads only the elements it wrote itself, so no barrier is needed.
fn write_y_from_sum(dst: u32, first: u32, step: u32, ms: vec2<f32>) {
  for (var j = first; j < p.dv; j += step) { y[dst + j] = affine(VF(sum_out[dst + j]), ms, j); }
}

@compute @workgroup_size(WG)
fn layer_norm_residual(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
                       @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = workgroup_row(wid, nwg);
  if (row >= p.rows) { return; }
  let lid = lid3.x;
  let dst = row * p.dv;
  let ms = mean_rstd(reduce_welford(lid, accumulate_sum(row_starts(row), dst, lid, WG)));
  if (lid == 0u) { save_stats(row, ms); }
  write_y_from_sum(dst, lid, WG, ms);
}

@compute @workgroup_size(WG)
fn layer_norm_residual_cols(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
                            @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = workgroup_row(wid, nwg) * WG + lid3.x;
  if (row >= p.rows) { return; }
  let dst = row * p.dv;
  let ms = mean_rstd(accumulate_sum(row_starts(row), dst, 0u, 1u));
  save_stats(row, ms);
  write_y_from_sum(dst, 0u, 1u, ms);
}

// ---- backward ----

@group(0) @binding(1) var<storage, read> dy_in: array<V>;
@group(0) @binding(2) var<storage, read> x_saved: array<V>;
@group(0) @binding(3) var<storage, read> mean_saved: array<f32>;
@group(0) @binding(4) var<storage, read> rstd_saved: array<f32>;
@group(0) @binding(5) var<storage, read> weight_saved: array<V>;
@group(0) @binding(6) var<storage, read_write> dx_out: array<V>;

var<workgroup> sums_scratch: array<vec2<f32>, WG>;

fn reduce_sums(lid: u32, v: vec2<f32>) -> vec2<f32> {
  sums_scratch[lid] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { sums_scratch[lid] += sums_scratch[lid + stride]; }
    workgroupBarrier();
  }
  return sums_scratch[0];
}

// The saved (mean, rstd) of a row.
fn saved_stats(row: u32) -> vec2<f32> {
  return vec2<f32>(mean_saved[p.mean_offset + row], rstd_saved[p.rstd_offset + row]);
}

// (g, xhat) for one load unit: g = dy * w, xhat = (x - mean) * rstd.
fn grad_terms(src: vec2<u32>, j: u32, ms: vec2<f32>) -> array<VF, 2> {
  var g = VF(dy_in[src.x + j]);
  if (HAS_WEIGHT) { g *= VF(weight_saved[p.w_offset + j]); }
  return array<VF, 2>(g, (VF(x_saved[src.y + j]) - VF(ms.x)) * ms.y);
}

// Partial (sum g, sum g * xhat) over the row's units first, first + step, ...
fn dx_sums(src: vec2<u32>, ms: vec2<f32>, first: u32, step: u32) -> vec2<f32> {
  var acc = vec2<f32>(0.0);
  for (var j = first; j < p.dv; j += step) {
    let t = grad_terms(src, j, ms);
    acc += vec2<f32>(hsum(t[0]), hsum(t[0] * t[1]));
  }
  return acc;
}

fn write_dx(src: vec2<u32>, dst: u32, ms: vec2<f32>, totals: vec2<f32>, first: u32, step: u32) {
  let means = totals / f32(p.dv * LANES);
  for (var j = first; j < p.dv; j += step) {
    let t = grad_terms(src, j, ms);
    dx_out[dst + j] = V(ms.y * (t[0] - VF(means.x) - t[1] * means.y));
  }
}

@compute @workgroup_size(WG)
fn layer_norm_dx(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
                 @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = workgroup_row(wid, nwg);
  if (row >= p.rows) { return; }
  let lid = lid3.x;
  let src = row_starts(row);
  let ms = saved_stats(row);
  let totals = reduce_sums(lid, dx_sums(src, ms, lid, WG));
  write_dx(src, row * p.dv, ms, totals, lid, WG);
}

@compute @workgroup_size(WG)
fn layer_norm_dx_cols(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = workgroup_row(wid, nwg) * WG + lid3.x;
  if (row >= p.rows) { return; }
  let src = row_starts(row);
  let ms = saved_stats(row);
  write_dx(src, row * p.dv, ms, dx_sums(src, ms, 0u, 1u), 0u, 1u);
}

// Stage 1 of dweight/dbias: workgroup (bx, chunk) sums rows [chunk * chunk_rows, ...) for its columns.
// partials holds [2][chunks][dv] VF: dweight partials first, then dbias partials.
@group(0) @binding(5) var<storage, read_write> partials_out: array<VF>;

@compute @workgroup_size(WG)
fn column_partials(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
                   @builtin(num_workgroups) nwg: vec3<u32>) {
  let chunk = wid.y;
  let first = chunk * p.chunk_rows;
  let last = min(first + p.chunk_rows, p.rows);
  // Columns beyond one grid row's reach (dv > 65535 * WG) are covered by striding.
  for (var j = gid.x; j < p.dv; j += nwg.x * WG) {
    var dw = VF(0.0);
    var db = VF(0.0);
    for (var row = first; row < last; row++) {
      let src = row_starts(row);
      let dy = VF(dy_in[src.x + j]);
      let xhat = (VF(x_saved[src.y + j]) - VF(mean_saved[p.mean_offset + row])) * rstd_saved[p.rstd_offset + row];
      dw += dy * xhat;
      db += dy;
    }
    partials_out[chunk * p.dv + j] = dw;
    partials_out[(p.chunks + chunk) * p.dv + j] = db;
  }
}

// Stage 2: one invocation per column vector adds the chunk partials in chunk order.
@group(0) @binding(1) var<storage, read> partials_in: array<VF>;
@group(0) @binding(2) var<storage, read_write> dweight_out: array<V>;
@group(0) @binding(3) var<storage, read_write> dbias_out: array<V>;

@compute @workgroup_size(WG)
fn column_reduce(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var j = gid.x; j < p.dv; j += nwg.x * WG) {
    var dw = VF(0.0);
    var db = VF(0.0);
    for (var c = 0u; c < p.chunks; c++) {
      dw += partials_in[c * p.dv + j];
      db += partials_in[(p.chunks + c) * p.dv + j];
    }
    dweight_out[j] = V(dw);
    dbias_out[j] = V(db);
  }
}
