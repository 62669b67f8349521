// reduce.wgsl — reductions (sum, mean, prod, max, min, argmax, argmin, var/std, logsumexp) over any set of
// axes of a strided tensor, and cumsum along one axis.
//
// What it computes
//   The launcher views the input as [outer..., reduced...]: `out_*` describe the kept dims (in order) and
//   `red_*` the reduced dims (in order), both with the input's own strides, so transposed, sliced and
//   expanded inputs are read in place, never copied. out[o] = finish(combine over r of load(x[at(o, r)], r)),
//   where r is the row-major index over the reduced dims (argmax/argmin return it, so argmax over several
//   axes returns the flattened index within them, as torch's dim=None does). Every reduction is one
//   associative `combine` over an accumulator `Acc {v, w, i}`:
//     sum/mean/prod  v = running value (f32 for float inputs, so f16 accumulates in f32; i32/u32 stay exact
//                    integers and wrap on overflow, as torch's int32 sums do)
//     max/min        v = running extreme; NaN wins (torch semantics)
//     argmax/argmin  v = best value, i = its index; ties and NaNs go to the lowest index
//     var/std        Welford/Chan: v = mean, w = sum of squared deviations (M2), i = count. Merging two
//                    partial (n, mean, M2) is exact algebra, so the result is as stable as a two-pass
//                    "mean, then squared deviations" without reading the input twice, and it splits across
//                    workgroups and passes like any other reduction. A non-finite mean (any inf or NaN
//                    input) gives NaN, as the two-pass definition does (inf - inf); the merge alone could
//                    end at inf depending on order.
//     logsumexp      online form: v = running max m, w = sum of exp(x - m); merging rescales by exp(m_a - m).
//                    Never overflows; -inf rows give -inf, any +inf gives +inf, NaN gives NaN.
//   The per-op `identity`, `load`, `combine`, `finish` and subgroup step are injected by kernels/reduce.ts
//   between the /*@name*/ markers; as written the file is an f32 sum.
//
// How work is split (entry points)
//   reduce_rows     one workgroup of WG invocations per output element. Invocation k accumulates reduced
//                   indices k, k+WG, ... sequentially (consecutive invocations read consecutive addresses
//                   when the innermost reduced dim is contiguous), then the workgroup combines its WG
//                   partials: with the `subgroups` feature, a subgroup step (subgroupAdd / subgroupMul for
//                   sum and prod, a subgroupShuffleXor butterfly running `combine` for the others, which keeps
//                   NaN and index tie rules exact) then one slot per subgroup in workgroup memory and a
//                   second subgroup step; without it, a classic log2(WG) tree in workgroup memory.
//                   The subgroup path assumes invocations fill subgroups in local-index order (subgroup =
//                   local_index / subgroup_size), which is how Vulkan, D3D12 and Metal drivers lay out 1-D
//                   workgroups and what Dawn itself uses to emulate the subgroup_id builtin.
//   reduce_partial  like reduce_rows, but `splits` workgroups share one output, each taking `chunk`
//   reduce_final    consecutive reduced indices and storing its raw Acc; reduce_final then combines the
//                   `splits` partials of each output and applies finish. Used when there are few outputs
//                   and a long reduced extent (a full sum of 16M elements), so every core/SM has work.
//                   Vec4 variant (reduce_rows / reduce_partial): when the reduced elements of every output
//                   form one contiguous run starting 4-aligned (and split chunks are multiples of 4), x is
//                   bound as array<vec4<T>> and each invocation loads four consecutive elements at once,
//                   combining them in index order: a quarter of the per-lane address computations and
//                   loads, which dominate on CPU adapters (lavapipe turns each per-lane load into a gather).
//   reduce_cols     one invocation per output element, reducing its extent sequentially (accumulate with
//                   one lane; the vec4 variant walks a contiguous run four elements per load). Used for short
//                   extents and for reductions over outer axes (sum over axis 0 of [4096,768]) where
//                   consecutive invocations own consecutive outputs and so read consecutive addresses; and
//                   on CPU adapters for every reduction over contiguous runs with 512+ outputs (a row sum,
//                   a logsumexp over scores): no barrier and no cross-lane step, which on lavapipe cost
//                   more than the loads (see Measured).
//   reduce_cols4    the same with four adjacent outputs per invocation and one vec4 load per reduced index
//                   (vec4 variant: the innermost kept dim contiguous, with a multiple of 4 entries unless it
//                   is the only one, every other kept stride, the reduced strides and the offset multiples of
//                   4). E.g. the max over a group's points, axis 1 of [groups, points, channels].
//   cumsum_lines    one invocation per line along the scanned axis (moved innermost by the launcher),
//                   sequential inclusive scan, f32 accumulation for floats; parallel over lines only.
//
// Memory traffic
//   Every kernel reads each input element exactly once and writes one element per output (plus 12 bytes
//   per partial in the split path): bandwidth bound. Workgroup memory: WG accumulators of 12 bytes.
//
// Constraints
//   rank <= 8 on each side; offsets, strides and extents < 2^32; WG a power of two <= 256 and, for the
//   subgroup path, >= the subgroup size (the CPU tuning's WG = 32 covers software adapters' 4-16 lanes).
//
// Measured (lavapipe 25.0.7, 2 cores, Node/Dawn; CPU tuning WG = 32)
//   npm run bench -- reduce (wall clock, same process as the peers, 2026-11-27), after the vec4 variant:
//   sum over rows of 1024x3072 3.77 ms (jax-js 4.5, tfjs 10.3), full sum of 4M 3.81 ms (jax-js 4.4,
//   tfjs 15.1), with reduce_cols4 the sum over columns of 1024x3072 3.60 ms (jax-js 8.1, tfjs 59.5);
//   before the vec4 variant 8.67, 11.2 and 8.44 ms.
//   reduce_cols over contiguous runs on CPU adapters against one workgroup per output (reduce_rows with
//   subgroups): bench/reduce-probe.ts's cases with PROBE_CPU_TIME=1 (process CPU time / 2, best of 3
//   batches of 0.3 s), two runs of each build, 2026-11-27:
//                                   workgroup per output   invocation per output
//     sum   1024 x 3072 rows        2.6-2.7 ms             1.9-2.2 ms
//     max   1024 x 3072 rows        2.9-3.0                2.1-2.2
//     mean  4096 x 768 rows         4.4                    1.9-2.3
//     var   4096 x 768 rows         7.0-7.1                3.5
//     argmax 4096 x 768 rows        5.7-5.8                2.7-2.8
//     sum   4096 x 767 (unaligned)  6.2-6.3                3.8-3.9   (scalar walk)
//     max   18912 x 197 (scores)    16.3-16.4              5.0-5.1   (scalar walk)
//     logsumexp 18912 x 197         26.1-26.4              8.3-8.6   (its subgroup butterfly was the cost)
//   reduce_cols4 over a middle axis, once it no longer required a single kept dim (same settings, one
//   run of each build, 2026-11-27): max over axis 1 of [512, 8, 32] 1.00 -> 0.45 ms, of [512, 8, 64]
//   1.20 -> 0.74 ms, of [4096, 16, 128] 18.4 -> 7.8 ms (the point-cloud tokenizer's max-pooling shapes;
//   the first and last are reduce-probe cases).
//   Long runs with few outputs (64 x 262144, 100 x 100001) keep the workgroup per output below 512
//   outputs: 7.3-10.8 ms either way. For the CPU class, WG = 32 beat 64/128/256 for reduce_rows (2-5x for
//   the row sum, on a loaded machine): on lavapipe every barrier and tree level is a pass over the whole
//   workgroup.

alias T = f32;   // stored input element
alias A = f32;   // accumulator value
alias R = f32;   // stored output element

override WG: u32 = 256u;

struct Params {
  n_out: u32,
  n_red: u32,
  chunk: u32,          // reduced indices per workgroup (split path); n_red otherwise
  splits: u32,         // workgroups per output (split path); 1 otherwise
  out_rank: u32,
  red_rank: u32,
  offset: u32,         // input element offset
  correction: f32,     // var/std: divisor is max(0, n - correction)
  out_shape: array<vec4<u32>, 2>,
  out_strides: array<vec4<u32>, 2>,
  red_shape: array<vec4<u32>, 2>,
  red_strides: array<vec4<u32>, 2>,
}

struct Acc {
  v: A,
  w: f32,
  i: u32,
}

// Per-invocation ids (the subgroup variant adds subgroup_size and subgroup_invocation_id here). The
// workgroup id stays a separate parameter: the uniformity analysis treats a struct parameter as a whole,
// and barriers need the workgroup-uniform early exit to be recognised as uniform.
struct Ids {
  @builtin(local_invocation_index) lid: u32,
  /*@sg_ids*/ /*@end*/
}

@group(0) @binding(0) var<uniform> p: Params;

var<workgroup> sh: array<Acc, 256>;

// Infinities are built at run time: a constant-expression infinity is a WGSL compile error.
fn pos_inf() -> f32 {
  let bits = 0x7f800000u;
  return bitcast<f32>(bits);
}

fn neg_inf() -> f32 {
  let bits = 0xff800000u;
  return bitcast<f32>(bits);
}

fn nan_f32() -> f32 {
  let bits = 0x7fc00000u;
  return bitcast<f32>(bits);
}

fn is_finite_f32(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

// A bit test, not `v != v`: the shader compiler may assume floats are never NaN and fold the comparison.
// Integer accumulators get `false`.
fn is_nan(v: A) -> bool {
  /*@is_nan*/ return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; /*@end*/
}

fn identity() -> Acc {
  /*@identity*/ return Acc(A(0), 0.0, 0u); /*@end*/
}

// `r` is the element's index within the reduced extent.
fn load(x: T, r: u32) -> Acc {
  /*@load*/ return Acc(A(x), 0.0, 0u); /*@end*/
}

fn combine(a: Acc, b: Acc) -> Acc {
  /*@combine*/ return Acc(a.v + b.v, 0.0, 0u); /*@end*/
}

fn finish(a: Acc) -> R {
  /*@finish*/ return R(a.v); /*@end*/
}

// Combines `own` across the whole subgroup; every lane returns the total.
fn subgroup_step(own: Acc, ids: Ids) -> Acc {
  /*@sg_step*/ return own; /*@end*/
}

// Combines the WG per-invocation accumulators; every invocation returns the total.
fn workgroup_reduce(own: Acc, ids: Ids) -> Acc {
  /*@tree*/
  sh[ids.lid] = own;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (ids.lid < s) {
      sh[ids.lid] = combine(sh[ids.lid], sh[ids.lid + s]);
    }
    workgroupBarrier();
  }
  return sh[0];
  /*@end*/
}

fn dim_of(v: array<vec4<u32>, 2>, d: u32) -> u32 {
  return v[d >> 2u][d & 3u];
}

// Input element offset of output o's first reduced element.
fn out_base(o: u32) -> u32 {
  var rem = o;
  var off = p.offset;
  for (var d = i32(p.out_rank) - 1; d >= 0; d--) {
    let size = dim_of(p.out_shape, u32(d));
    off += (rem % size) * dim_of(p.out_strides, u32(d));
    rem = rem / size;
  }
  return off;
}

// Offset of reduced index r relative to its output's base. Rank 1 (the common, coalesced case) is a
// multiply; the general case unravels.
fn red_offset(r: u32) -> u32 {
  if (p.red_rank <= 1u) {
    return r * dim_of(p.red_strides, 0u);
  }
  var rem = r;
  var off = 0u;
  for (var d = i32(p.red_rank) - 1; d >= 0; d--) {
    let size = dim_of(p.red_shape, u32(d));
    off += (rem % size) * dim_of(p.red_strides, u32(d));
    rem = rem / size;
  }
  return off;
}

// The share of reduced indices [start, end) of invocation `lid` of `lanes` that split them (WG in a
// workgroup per output, 1 in reduce_cols). The launcher swaps in a vec4 body when the reduced run is
// contiguous and 4-aligned (see the header): each invocation then takes four consecutive elements per
// load, r = start + 4 lid, start + 4 (lid + lanes), ..., still in increasing order.
fn accumulate(base: u32, start: u32, end: u32, lid: u32, lanes: u32) -> Acc {
  var acc = identity();
  /*@accumulate*/
  for (var r = start + lid; r < end; r += lanes) {
    acc = combine(acc, load(x_at(base + red_offset(r)), r));
  }
  /*@end*/
  return acc;
}

// The input, element-wise; the vec4 variant binds array<vec4<T>> (every pooled buffer is a whole number
// of vec4s, so the last partial vec4 of a tensor is still in bounds).
/*@x_binding*/
@group(0) @binding(1) var<storage, read> x: array<T>;
/*@end*/

fn x_at(i: u32) -> T {
  /*@x_at*/ return x[i]; /*@end*/
}

// Elements i..i+3 (i 4-aligned in the vec4 variant, where this is one load).
fn x4_at(i: u32) -> vec4<T> {
  /*@x4_at*/ return vec4<T>(x[i], x[i + 1u], x[i + 2u], x[i + 3u]); /*@end*/
}
@group(0) @binding(2) var<storage, read_write> out: array<R>;

@compute @workgroup_size(WG)
fn reduce_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, ids: Ids) {
  let o = wid.y * nwg.x + wid.x;
  if (o >= p.n_out) { return; }
  let total = workgroup_reduce(accumulate(out_base(o), 0u, p.n_red, ids.lid, WG), ids);
  if (ids.lid == 0u) { out[o] = finish(total); }
}

// Split path, pass 1: binds (x, partials).
@group(0) @binding(2) var<storage, read_write> part_out: array<Acc>;

@compute @workgroup_size(WG)
fn reduce_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, ids: Ids) {
  let g = wid.y * nwg.x + wid.x;
  if (g >= p.n_out * p.splits) { return; }
  let o = g / p.splits;
  let start = (g % p.splits) * p.chunk;
  let end = min(p.n_red, start + p.chunk);
  let total = workgroup_reduce(accumulate(out_base(o), start, end, ids.lid, WG), ids);
  if (ids.lid == 0u) { part_out[g] = total; }
}

// Split path, pass 2: binds (partials, out).
@group(0) @binding(1) var<storage, read> part_in: array<Acc>;

@compute @workgroup_size(WG)
fn reduce_final(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, ids: Ids) {
  let o = wid.y * nwg.x + wid.x;
  if (o >= p.n_out) { return; }
  var acc = identity();
  for (var k = ids.lid; k < p.splits; k += WG) {
    acc = combine(acc, part_in[o * p.splits + k]);
  }
  let total = workgroup_reduce(acc, ids);
  if (ids.lid == 0u) { out[o] = finish(total); }
}

@compute @workgroup_size(WG)
fn reduce_cols(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, ids: Ids) {
  let o = (wid.y * nwg.x + wid.x) * WG + ids.lid;
  if (o >= p.n_out) { return; }
  out[o] = finish(accumulate(out_base(o), 0u, p.n_red, 0u, 1u));
}

// reduce_cols for four adjacent outputs per invocation (vec4 variant only): outputs contiguous and
// 4-aligned, every reduced stride a multiple of 4, so each reduced index is one vec4 load serving all four.
@compute @workgroup_size(WG)
fn reduce_cols4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, ids: Ids) {
  let o = ((wid.y * nwg.x + wid.x) * WG + ids.lid) * 4u;
  if (o >= p.n_out) { return; }
  let base = out_base(o);
  var acc = array<Acc, 4>(identity(), identity(), identity(), identity());
  for (var r = 0u; r < p.n_red; r++) {
    let q = x4_at(base + red_offset(r));
    for (var e = 0u; e < 4u; e++) { acc[e] = combine(acc[e], load(q[e], r)); }
  }
  for (var e = 0u; e < 4u && o + e < p.n_out; e++) { out[o + e] = finish(acc[e]); }
}

// Inclusive prefix sum along the innermost reduced dim (red_rank 1); outputs are contiguous lines.
@compute @workgroup_size(WG)
fn cumsum_lines(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, ids: Ids) {
  let o = (wid.y * nwg.x + wid.x) * WG + ids.lid;
  if (o >= p.n_out) { return; }
  let base = out_base(o);
  let stride = dim_of(p.red_strides, 0u);
  var run = A(0);
  for (var r = 0u; r < p.n_red; r++) {
    run += A(x_at(base + r * stride));
    out[o * p.n_red + r] = R(run);
  }
}
