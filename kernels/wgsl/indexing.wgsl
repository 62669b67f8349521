// indexing.wgsl — data movement driven by indices or by position: gather (and index_select through
// broadcast index strides), scatter-add, strided copy into a region (concat), padding, one-hot.
//
// What it computes (every shape, stride and offset in elements, read from Params)
//   gather       out[e] = x[x_base(e) + index[i_base(e)] * axis_stride] over the index's shape, i.e.
//                torch.gather along `axis`; index_select is the same with the index broadcast (stride 0)
//                over every dim but `axis`. An index outside [0, axis_size) cannot raise on the GPU, so
//                that element is written as poison: NaN for floats, 0 for integers. gather_vec4 is the
//                same in units of 4 elements for row lookups (contiguous, 4-aligned rows, one index per
//                unit).
//   scatter_add  out[o_base(e) + index[i_base(e)] * axis_stride] += src[s_base(e)] over the index's
//                shape (torch.scatter_add_ into zeros). Out-of-range indices are skipped.
//   copy_into    out[out_offset + pos(e)·out_strides] = x[x_offset + pos(e)·x_strides]: writes a strided
//                source into a strided region of a larger tensor (one dispatch per concat operand);
//                copy_into_vec4 is the same in units of 4 elements where both innermost dims are
//                contiguous and everything is 4-aligned.
//   pad          out[e] = x[source(e)] with per-dim pads before each dim: constant (value outside),
//                circular (wrap around) or reflect (mirror without repeating the edge).
//   one_hot      out[e] = f32(index[e / classes] == e % classes), poison (NaN) rows for out-of-range indices.
//   triangle     tril / triu over the last two dims: out[..., i, j] = x[..., i, j] where j - i <= k (lower)
//                or j - i >= k (upper), else 0.
//
// How work is split
//   One invocation per output element (per index element for scatter_add), 256 per workgroup, on the
//   2-D grid of grid1d. Each invocation unravels its linear id over the iteration shape (rank <= 8); for
//   gather, scatter_add, copy_into and one_hot the launcher first merges dims that are contiguous in every
//   operand, so typical cases unravel over 1-2 dims. The kernels never need to know which dim is the
//   indexed one: its x (gather) or out (scatter_add) stride is zeroed and travels as axis_stride.
//   gather, scatter_add and copy_into take the invocation shape of elementwise.wgsl instead (overrides WG
//   and PER from the launcher's MAP_TUNING: 16 x 32 on CPU adapters, 256 x 1 on GPUs): an invocation
//   handles PER consecutive positions, unravelling the first and then stepping the two innermost
//   coordinates, unravelling again only where a step leaves a plane of them. Integer division is scalar
//   code per lane on CPU adapters; one unravel per element made these kernels ~3-8x slower per element
//   than a map there. (Until 2026-11-27 the positions were WG apart, as elementwise.wgsl's units were;
//   rows shorter than WG then re-unravelled at every step.)
//
// Memory traffic
//   Reads and writes each element once; gather/index_select reads are as coalesced as the gathered
//   rows are long (embedding lookup reads whole contiguous rows).
//
// scatter_add and atomics
//   Several index elements may hit the same output, so additions are atomic: atomicAdd for i32/u32; for
//   f32 a compare-exchange loop on the bit pattern (WGSL has no float atomics). The summation order then
//   follows the hardware's scheduling, so f32 results may differ in the last bits between runs (as
//   torch's CUDA scatter_add_). Where each index names a whole slice (the gradients of index_select and
//   embedding lookups, or a scatterAdd with an index expanded from 1-D) the op does not come here:
//   index_add.wgsl sorts the index positions by target and sums each output in index order,
//   deterministically and, for embedding-sized tables, 3-4x faster than this kernel (no atomics, no
//   separate zero fill). This kernel keeps the cases where elements have indices of their own (gather's
//   backward): sending those through index_add too (each element's flat target cell as its key, the
//   target flattened) was tried on 2026-11-27 and measured 268-281 ms against this kernel's 43-47 for
//   gather's backward over [4096, 768] along axis 1 (bench/indexing-probe.ts, CPU time): a 3-pass radix
//   sort of 3.1M cells, a binary search per target cell and single-workgroup offset scans.
//
// Constraints
//   rank <= 8; indices are i32; offsets and strides < 2^32.
//
// Measured (lavapipe 25.0.7, 2 cores). Now: bench/indexing-probe.ts with PROBE_CPU_TIME=1 (process CPU
// time / 2, best of 3 batches of 0.3 s), 2026-11-27, after gather_vec4:
//   indexSelect of 4096 rows x 768 f32 from [30000,768]:           6.1-6.5 ms (4.0 GB/s)
//   embeddingLookup [32,77] x 512 from [49408,512] (CLIP text):   2.9-3.1 ms
//   embeddingLookup 8192 x 16 from [100,16]:                      0.62-0.85 ms
//   concat of two [2048,768] along axis 1 (copy_into_vec4):       5.5 ms (4.6 GB/s)
//   the point-cloud tokenizer's join (concat of expand([512,1,32] -> [512,8,32]) and [512,8,32] along
//   the last axis):                                                1.2 ms
//   scatterAdd of the 4096 rows back into [30000,768] (zero fill of the 92 MB target included; f32 CAS):
//                                                                  80 ms (0.32 GB/s)
//   For scale, the map kernel copies at 5-6 GB/s on this machine.
// How it got there (each step: before -> after in one session, 2026-11-27; the first two steps from a
// script that was not kept):
//   the cursor walk (one unravel per PER positions, not per element): indexSelect 59.0 -> 18.8-19.8 ms;
//   the point-cloud join 5.4 -> 3.4 ms; scatterAdd 124.7 -> 88.8 ms. Earlier, at load ~10 and with a
//   per-element unravel: embeddingLookup 443 ms, concat 407 ms, scatterAdd 502 ms.
//   consecutive positions per invocation (not WG apart): embedding 8192 x 16 3.28 -> 1.52 ms; the join
//   4.18 -> 3.73 ms; concat and indexSelect unchanged within noise.
//   copy_into_vec4: the join 3.73 -> 1.25 ms; concat of two [2048,768] 18.1-18.6 -> 6.9-7.1 ms.
//   gather_vec4 (process CPU time, two runs each): indexSelect 17.6-18.0 -> 6.1-6.5 ms, the CLIP-size
//   embedding 7.2-7.5 -> 2.9 ms, embedding 8192 x 16 1.13-1.14 -> 0.62-0.64 ms.

alias T = f32;        // element type of x / src / out
alias S = u32;        // atomic cell type for scatter_add (u32 holding f32 bits, or i32 / u32)

struct Params {
  numel: u32,         // invocations that do work
  rank: u32,
  axis_size: u32,     // valid index range [0, axis_size)
  axis_stride: u32,   // stride of `axis` in x (gather) or out (scatter_add)
  x_offset: u32,
  i_offset: u32,
  o_offset: u32,
  mode: u32,          // pad: 0 constant, 1 circular, 2 reflect; triangle: 0 lower, 1 upper
  value_f: f32,       // pad value for float tensors
  value_i: i32,       // pad value for integer tensors; triangle: the diagonal k
  classes: u32,       // one_hot
  shape: array<vec4<u32>, 2>,     // iteration shape
  x_strides: array<vec4<u32>, 2>, // x (gather, copy_into, pad) or src (scatter_add); 0 at `axis` for gather
  i_strides: array<vec4<u32>, 2>, // index strides
  o_strides: array<vec4<u32>, 2>, // out strides (copy_into, scatter_add with 0 at `axis`)
  src_shape: array<vec4<u32>, 2>, // pad: source dims
  before: array<vec4<u32>, 2>,    // pad: elements added before each dim
}

@group(0) @binding(0) var<uniform> p: Params;

fn dim_of(v: array<vec4<u32>, 2>, d: u32) -> u32 {
  return v[d >> 2u][d & 3u];
}

fn linear_id(wid: vec3<u32>, lid: u32, nwg: vec3<u32>) -> u32 {
  return (wid.y * nwg.x + wid.x) * 256u + lid;
}

// NaN for floats (built at run time: a constant NaN is a compile error), 0 for integers.
fn poison() -> T {
  /*@poison*/ let bits = 0x7fc00000u; return T(bitcast<f32>(bits)); /*@end*/
}

fn pad_value() -> T {
  /*@pad_value*/ return T(p.value_f); /*@end*/
}

// Offsets of linear position e in the x, index and out operands (relative to their offsets).
struct Walk {
  x: u32,
  i: u32,
  o: u32,
}

fn walk(e: u32) -> Walk {
  var rem = e;
  var w = Walk(0u, 0u, 0u);
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let du = u32(d);
    let size = dim_of(p.shape, du);
    let c = rem % size;
    rem = rem / size;
    w.x += c * dim_of(p.x_strides, du);
    w.i += c * dim_of(p.i_strides, du);
    w.o += c * dim_of(p.o_strides, du);
  }
  return w;
}

// Invocation shape of gather, scatter_add and copy_into (see "How work is split").
override WG: u32 = 256u;
override PER: u32 = 1u;

// Position e with its two innermost coordinates (`outer` is 0 at rank 1) and operand offsets.
struct Cursor {
  e: u32,
  inner: u32,
  outer: u32,
  w: Walk,
}

// The innermost dim and the one before it (the innermost again at rank 1, where `outer` stays 0).
fn inner_dim() -> u32 {
  return p.rank - 1u;
}

fn next_dim() -> u32 {
  return max(p.rank, 2u) - 2u;
}

fn cursor_at(e: u32) -> Cursor {
  let row = e / dim_of(p.shape, inner_dim());
  let outer = select(0u, row % dim_of(p.shape, next_dim()), p.rank > 1u);
  return Cursor(e, e % dim_of(p.shape, inner_dim()), outer, walk(e));
}

// Offsets moved by `inner` steps along the innermost dim and `outer` along the next (u32 arithmetic wraps,
// so a negative inner move is a large u32 that lands right).
fn moved(w: Walk, inner: u32, outer: u32) -> Walk {
  let d = inner_dim();
  let n = next_dim();
  return Walk(w.x + inner * dim_of(p.x_strides, d) + outer * dim_of(p.x_strides, n),
              w.i + inner * dim_of(p.i_strides, d) + outer * dim_of(p.i_strides, n),
              w.o + inner * dim_of(p.o_strides, d) + outer * dim_of(p.o_strides, n));
}

// The cursor one position further: a step along the innermost dim while the row lasts; from a row's last
// position to the first of the next row in the same plane, a step of the two inner dims; else (a new
// plane) a fresh unravel.
fn advance(c: Cursor) -> Cursor {
  let row = dim_of(p.shape, inner_dim());
  if (c.inner + 1u < row) {
    return Cursor(c.e + 1u, c.inner + 1u, c.outer, moved(c.w, 1u, 0u));
  }
  if (p.rank > 1u && c.outer + 1u < dim_of(p.shape, next_dim())) {
    return Cursor(c.e + 1u, 0u, c.outer + 1u, moved(c.w, 1u - row, 1u));
  }
  return cursor_at(c.e + 1u);
}

// The first of the PER consecutive positions of invocation lid of workgroup wid.
fn first_position(wid: vec3<u32>, lid: u32, nwg: vec3<u32>) -> u32 {
  return ((wid.y * nwg.x + wid.x) * WG + lid) * PER;
}

@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> index: array<i32>;
@group(0) @binding(3) var<storage, read_write> gathered: array<T>;

@compute @workgroup_size(WG)
fn gather(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
          @builtin(num_workgroups) nwg: vec3<u32>) {
  var c = cursor_at(first_position(wid, lid, nwg));
  for (var j = 0u; j < PER; j++) {
    if (c.e >= p.numel) { return; }
    let k = index[p.i_offset + c.w.i];
    if (k < 0 || u32(k) >= p.axis_size) {
      gathered[c.e] = poison();
    } else {
      gathered[c.e] = x[p.x_offset + c.w.x + u32(k) * p.axis_stride];
    }
    c = advance(c);
  }
}

@group(0) @binding(2) var<storage, read_write> copied: array<T>;

@compute @workgroup_size(WG)
fn copy_into(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
             @builtin(num_workgroups) nwg: vec3<u32>) {
  var c = cursor_at(first_position(wid, lid, nwg));
  for (var j = 0u; j < PER; j++) {
    if (c.e >= p.numel) { return; }
    copied[p.o_offset + c.w.o] = x[p.x_offset + c.w.x];
    c = advance(c);
  }
}

// copy_into in units of 4 elements, for copies whose innermost dim is contiguous in both tensors, with its
// extent, the offsets and every other stride multiples of 4 (the launcher passes all of them in those
// units): one 16-byte load and store per unit instead of four scalar ones.
@group(0) @binding(1) var<storage, read> x4: array<vec4<T>>;
@group(0) @binding(2) var<storage, read_write> copied4: array<vec4<T>>;

@compute @workgroup_size(WG)
fn copy_into_vec4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                  @builtin(num_workgroups) nwg: vec3<u32>) {
  var c = cursor_at(first_position(wid, lid, nwg));
  for (var j = 0u; j < PER; j++) {
    if (c.e >= p.numel) { return; }
    copied4[p.o_offset + c.w.o] = x4[p.x_offset + c.w.x];
    c = advance(c);
  }
}

// gather in units of 4 elements for row lookups (index_select, embedding): the innermost dim is contiguous
// in x, its extent, x's offset, its other strides and axis_stride are multiples of 4 (passed in units of
// 4), and the index is constant along it (stride 0), so each unit is one index load, one 16-byte load and
// one 16-byte store. The output is the fresh contiguous `gathered`, unit e at gathered4[e].
@group(0) @binding(3) var<storage, read_write> gathered4: array<vec4<T>>;

@compute @workgroup_size(WG)
fn gather_vec4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
               @builtin(num_workgroups) nwg: vec3<u32>) {
  var c = cursor_at(first_position(wid, lid, nwg));
  for (var j = 0u; j < PER; j++) {
    if (c.e >= p.numel) { return; }
    let k = index[p.i_offset + c.w.i];
    if (k < 0 || u32(k) >= p.axis_size) {
      gathered4[c.e] = vec4<T>(poison());
    } else {
      gathered4[c.e] = x4[p.x_offset + c.w.x + u32(k) * p.axis_stride];
    }
    c = advance(c);
  }
}

@compute @workgroup_size(256)
fn pad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
       @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = linear_id(wid, lid, nwg);
  if (e >= p.numel) { return; }
  var rem = e;
  var source = p.x_offset;
  var outside = false;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let du = u32(d);
    let size = dim_of(p.shape, du);
    let n = i32(dim_of(p.src_shape, du));
    var s = i32(rem % size) - i32(dim_of(p.before, du));
    rem = rem / size;
    if (s < 0 || s >= n) {
      if (p.mode == 1u) {
        s = ((s % n) + n) % n;
      } else if (p.mode == 2u) {
        // Pads are < n, so one mirror lands inside.
        s = select(2 * (n - 1) - s, -s, s < 0);
      } else {
        outside = true;
        s = 0;
      }
    }
    source += u32(s) * dim_of(p.x_strides, du);
  }
  if (outside) {
    copied[e] = pad_value();
  } else {
    copied[e] = x[source];
  }
}

@group(0) @binding(1) var<storage, read> classes_of: array<i32>;
@group(0) @binding(2) var<storage, read_write> one_hot_out: array<f32>;

@compute @workgroup_size(256)
fn one_hot(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
           @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = linear_id(wid, lid, nwg);
  if (e >= p.numel) { return; }
  let w = walk(e / p.classes);
  let k = classes_of[p.i_offset + w.i];
  if (k < 0 || u32(k) >= p.classes) {
    let bits = 0x7fc00000u;
    one_hot_out[e] = bitcast<f32>(bits);
    return;
  }
  one_hot_out[e] = select(0.0, 1.0, u32(k) == e % p.classes);
}

@group(0) @binding(1) var<storage, read> scatter_index: array<i32>;
@group(0) @binding(2) var<storage, read> src: array<T>;
@group(0) @binding(3) var<storage, read_write> accum: array<atomic<S>>;

fn atomic_accumulate(cell: u32, v: T) {
  /*@accumulate*/
  var old = atomicLoad(&accum[cell]);
  loop {
    let swapped = atomicCompareExchangeWeak(&accum[cell], old, bitcast<u32>(bitcast<f32>(old) + f32(v)));
    if (swapped.exchanged) { break; }
    old = swapped.old_value;
  }
  /*@end*/
}

@compute @workgroup_size(WG)
fn scatter_add(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
               @builtin(num_workgroups) nwg: vec3<u32>) {
  var c = cursor_at(first_position(wid, lid, nwg));
  for (var j = 0u; j < PER; j++) {
    if (c.e >= p.numel) { return; }
    let k = scatter_index[p.i_offset + c.w.i];
    if (k >= 0 && u32(k) < p.axis_size) {
      atomic_accumulate(p.o_offset + c.w.o + u32(k) * p.axis_stride, src[p.x_offset + c.w.x]);
    }
    c = advance(c);
  }
}

@compute @workgroup_size(256)
fn triangle(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
            @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = linear_id(wid, lid, nwg);
  if (e >= p.numel) { return; }
  let cols = dim_of(p.shape, p.rank - 1u);
  let rows = dim_of(p.shape, p.rank - 2u);
  let offset_from_diagonal = i32(e % cols) - i32((e / cols) % rows);
  let keep = select(offset_from_diagonal <= p.value_i, offset_from_diagonal >= p.value_i, p.mode == 1u);
  if (keep) {
    copied[e] = x[p.x_offset + walk(e).x];
  } else {
    copied[e] = T(0);
  }
}
