// matmul_common.wgsl — parameters, operand bindings and the fused epilogue shared by every GEMM kernel
// (matmul.wgsl, matmul_lanes.wgsl, matmul_subgroup_matrix.wgsl, and matmul_split_k.wgsl, the sum after a
// split K). The launcher appends this file to the kernel it picked.
//
// Split K: `k_segment` reads a tiled or subgroup-matrix workgroup's grid z as (K segment, batch entry),
// from the k_splits .. batches fields that kernels/matmul.ts writes for every dispatch (one segment of
// all K unless the launcher split it).
//
// Operands are read through strides, never copied: A is [batch..., M, K] with element strides
// (a_sm, a_sk), B is [batch..., K, N] with (b_sk, b_sn), so a transposed view or a PyTorch [out, in]
// weight read as w^T is just another pair of strides. Batch dims (up to 8, broadcast with stride 0)
// are unravelled once per workgroup by `batch_offsets`. The output (and the optional pre-activation
// copy) is a fresh contiguous [batch, M, N] tensor.
//
// Epilogue: out = act(acc + bias[n]) + residual[batch, m, n]. The launcher replaces the marked
// declarations and body below with only the pieces a call uses, because WebGPU's 'auto' layouts drop
// unused bindings and bind-group creation would then fail. A and B are declared there too: the lanes
// kernel binds a 4-aligned k-contiguous A and a 4-aligned B as arrays of vec4s. As written: plain
// C = A @ B into f32.

alias TA = f32;
alias TB = f32;
alias TO = f32;

struct Params {
  m: u32,
  n: u32,
  k: u32,
  batch_rank: u32,
  a_off: u32,
  a_sm: u32,
  a_sk: u32,
  b_off: u32,
  b_sk: u32,
  b_sn: u32,
  bias_off: u32,
  bias_sn: u32,
  res_off: u32,
  res_sm: u32,
  res_sn: u32,
  batch_base: u32,      // first batch index of this dispatch (batches beyond 65535 take several dispatches)
  k_splits: u32,        // split-K (matmul.wgsl only): K segments, each its own workgroups (1 = no split)
  split_k: u32,         // ... K per segment, a multiple of the slab depth
  dispatch_batches: u32,  // batch entries per segment in this dispatch (grid z = k_splits * dispatch_batches)
  batches: u32,         // batch entries of the whole product: segment s writes batch s * batches + b
  batch_shape: array<vec4<u32>, 2>,
  a_bstrides: array<vec4<u32>, 2>,
  b_bstrides: array<vec4<u32>, 2>,
  res_bstrides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
/*@bindings*/
@group(0) @binding(1) var<storage, read> a_in: array<TA>;
@group(0) @binding(2) var<storage, read> b_in: array<TB>;
@group(0) @binding(3) var<storage, read_write> out: array<TO>;
/*@end*/

fn dim_at(v: array<vec4<u32>, 2>, d: u32) -> u32 {
  return v[d >> 2u][d & 3u];
}

// Element offsets of batch `bi` (row-major over batch_shape) in A, B and the residual.
fn batch_offsets(bi: u32) -> vec3<u32> {
  var rem = bi;
  var off = vec3<u32>(p.a_off, p.b_off, p.res_off);
  for (var d = i32(p.batch_rank) - 1; d >= 0; d--) {
    let du = u32(d);
    let size = dim_at(p.batch_shape, du);
    let coord = rem % size;
    rem = rem / size;
    off += coord * vec3<u32>(dim_at(p.a_bstrides, du), dim_at(p.b_bstrides, du), dim_at(p.res_bstrides, du));
  }
  return off;
}

// Grid z of a tiled or subgroup-matrix dispatch as (K segment, batch entry). With split K (k_splits > 1) a
// workgroup sums k in [k_begin, k_end) only (whole slabs; the last segment ends at K) and stores its
// partial tile, epilogue-free, as batch out_bi = segment * batches + bi of the f32 partials that
// matmul_split_k.wgsl adds up. Unsplit: segment 0 over all of K, stored as batch bi itself.
struct KSegment {
  bi: u32,
  out_bi: u32,
  k_begin: u32,
  k_end: u32,
}

fn k_segment(z: u32) -> KSegment {
  let segment = z / p.dispatch_batches;
  let bi = p.batch_base + z % p.dispatch_batches;
  let k_begin = segment * p.split_k;
  return KSegment(bi, segment * p.batches + bi, k_begin, min(p.k, k_begin + p.split_k));
}

// Writes one finished dot product. `res_base` is the residual's batch offset (from batch_offsets).
fn store_out(bi: u32, row: u32, col: u32, acc: f32, res_base: u32) {
  let idx = (bi * p.m + row) * p.n + col;
  var v = acc;
  /*@epilogue*/ _ = res_base; /*@end*/
  out[idx] = TO(v);
}
