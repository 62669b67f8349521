// attention_common.wgsl — what the attention kernels share: the mask flags, the uniform parameter block,
// the input bindings, the column helpers, the row loaders and the mask readers. kernels/attention.ts
// appends this file to every attention kernel file (attention, attention_blocked, attention_lanes and
// their _backward files; WGSL declarations may come in any order), the way matmul_common.wgsl completes
// the GEMM kernels; D, the head dim, comes from the kernel's `tiles` block.
//
// Bindings: q, k, v (1-3) and the masks (4, 5) for every kernel; dO (6) and the packed (L_i, delta_i) (7)
// for the backward passes, at the bindings where the forward kernels put their out and lse. A module may
// declare two variables at one binding as long as no entry point uses both, and each kernel uses only
// its own: the forward kernels never touch d_out or stats.
//
// Parameters: one layout for the forward and backward passes, written by one launcher function. Operands
// are addressed through element offsets and four strides each, [batch, head, row, column] for q, k, v, o,
// dO, dQ, dK and dV; [batch, head, query, key] for the additive mask (0 on broadcast dims); [batch, key]
// for the key-padding mask; [batch, head, row] for the log-sum-exp. Outputs are written through their
// strides too (o by the forward, dQ / dK / dV by the backward; rows have unit column stride), so a packed
// self-attention (kernels/attention.ts) reads q, k, v out of one [B, T, 3, H, d] projection, writes o as
// [B, T, H, d] and its gradients into one [B, T, 3, H, d] buffer, with no copies around the kernels. The
// forward kernels leave dO, dQ, dK and dV unused (the launcher writes zeros there). `segments` and
// `segment_rows` split the rows a workgroup walks (keys in the forward and in the dQ pass, queries in the
// dK/dV pass) for the tiled kernels of attention.wgsl and attention_backward.wgsl; every other pass gets
// one segment of all the rows.

const FLAG_CAUSAL: u32 = 1u;
const FLAG_KEY_PADDING: u32 = 2u;
const FLAG_MASK: u32 = 4u;

struct Params {
  tq: u32,
  tk: u32,
  heads: u32,
  flags: u32,
  scale: f32,
  batch: u32,
  segments: u32,            // the walked rows in segments per row block (1 = all at once)
  segment_rows: u32,        // ... and walked rows per segment, a multiple of the staged tile
  q_offset: u32,
  k_offset: u32,
  v_offset: u32,
  mask_offset: u32,
  kpm_offset: u32,
  o_offset: u32,
  do_offset: u32,
  lse_offset: u32,
  dq_offset: u32,
  dk_offset: u32,
  dv_offset: u32,
  q_strides: vec4<u32>,     // batch, head, row, column
  k_strides: vec4<u32>,
  v_strides: vec4<u32>,
  mask_strides: vec4<u32>,  // batch, head, query, key (0 on broadcast dims)
  kpm_strides: vec4<u32>,   // batch, key, unused, unused
  o_strides: vec4<u32>,
  do_strides: vec4<u32>,
  lse_strides: vec4<u32>,   // batch, head, row, unused
  dq_strides: vec4<u32>,
  dk_strides: vec4<u32>,
  dv_strides: vec4<u32>,
}

// Element index of row `row` of (batch, head) in an operand with these offset and strides.
fn row_start(offset: u32, strides: vec4<u32>, batch: u32, head: u32, row: u32) -> u32 {
  return offset + batch * strides.x + head * strides.y + row * strides.z;
}

@group(0) @binding(0) var<uniform> p: Params;

// -inf from its bits: compilers that assume no infinities may fold a literal -inf expression away.
fn neg_inf() -> f32 {
  let bits = 0xff800000u;
  return bitcast<f32>(bits);
}

// vec4 column chunks per row: rows are walked 4 columns at a time.
const D4: u32 = (D + 3u) / 4u;

// Element indices of columns c..c+3 of a row starting at `base`; columns past D are clamped to D-1 (a
// valid address) and replaced by zeros in `in_row`, so D need not be a multiple of 4.
fn column_index(base: u32, c: u32, col_stride: u32) -> vec4<u32> {
  return base + min(vec4<u32>(c, c + 1u, c + 2u, c + 3u), vec4<u32>(D - 1u)) * col_stride;
}

// x with its columns past D replaced by exact zeros: selected, not multiplied by a 0/1 mask, so the
// padding is 0 whatever column D-1 (which the clamped indices read again) holds.
fn in_row(c: u32, x: vec4<f32>) -> vec4<f32> {
  return select(vec4<f32>(0.0), x, vec4<u32>(c, c + 1u, c + 2u, c + 3u) < vec4<u32>(D));
}

/*@inputs*/
@group(0) @binding(1) var<storage, read> q: array<T>;
@group(0) @binding(2) var<storage, read> k: array<T>;
@group(0) @binding(3) var<storage, read> v: array<T>;
/*@end*/
/*@d_out_input*/
@group(0) @binding(6) var<storage, read> d_out: array<T>;
/*@end*/
// Absent masks are bound to a stand-in buffer and never read (the flags say so).
@group(0) @binding(4) var<storage, read> mask: array<M>;
@group(0) @binding(5) var<storage, read> kpm: array<KP>;
@group(0) @binding(7) var<storage, read> stats: array<vec2<f32>>;  // (L_i, delta_i), contiguous [B, H, Tq]

// Columns c..c+3 (c a multiple of 4, below D) of the q, k or v row starting at element `base`, as f32.
// The `inputs` block binds q, k and v as array<T>; when all three have unit column stride, 4-aligned
// offsets and strides and D % 4 == 0, the launchers (kernels/attention.ts vec4InputBodies) bind them as
// array<vec4<T>> and swap these bodies for single vec4 loads (one load instruction instead of four, each
// with its own bounds check); dO likewise with the `d_out_input` block and load_do4.
fn load_q4(base: u32, c: u32) -> vec4<f32> {
  /*@load_q4*/
  let idx = column_index(base, c, p.q_strides.w);
  return in_row(c, vec4<f32>(f32(q[idx.x]), f32(q[idx.y]), f32(q[idx.z]), f32(q[idx.w])));
  /*@end*/
}

fn load_k4(base: u32, c: u32) -> vec4<f32> {
  /*@load_k4*/
  let idx = column_index(base, c, p.k_strides.w);
  return in_row(c, vec4<f32>(f32(k[idx.x]), f32(k[idx.y]), f32(k[idx.z]), f32(k[idx.w])));
  /*@end*/
}

fn load_v4(base: u32, c: u32) -> vec4<f32> {
  /*@load_v4*/
  let idx = column_index(base, c, p.v_strides.w);
  return in_row(c, vec4<f32>(f32(v[idx.x]), f32(v[idx.y]), f32(v[idx.z]), f32(v[idx.w])));
  /*@end*/
}

// dO's row loader for the backward passes, as load_q4 (vec4 body with the `d_out_input` block).
fn load_do4(base: u32, c: u32) -> vec4<f32> {
  /*@load_do4*/
  let idx = column_index(base, c, p.do_strides.w);
  return in_row(c, vec4<f32>(f32(d_out[idx.x]), f32(d_out[idx.y]), f32(d_out[idx.z]), f32(d_out[idx.w])));
  /*@end*/
}

// These read the masks `mask` (additive) and `kpm` (key padding), bound above.
fn key_padded(batch: u32, key: u32) -> bool {
  return (p.flags & FLAG_KEY_PADDING) != 0u &&
         kpm[p.kpm_offset + batch * p.kpm_strides.x + key * p.kpm_strides.y] != KP(0);
}

fn mask_value(batch: u32, head: u32, i: u32, key: u32) -> f32 {
  let s = p.mask_strides;
  return f32(mask[p.mask_offset + batch * s.x + head * s.y + i * s.z + key * s.w]);
}

// The backward passes' P_ij from a pre-scaled score (mask added), the row's L and visibility: 0 for
// masked pairs and fully masked rows (L = -inf). The selects keep -inf out of all arithmetic
// (lavapipe's exp(-inf) is not 0, and -inf - -inf is NaN).
fn probability(score: f32, row_lse: f32, visible: bool) -> f32 {
  let minus_inf = neg_inf();
  let ok = visible && row_lse != minus_inf && score != minus_inf;
  return select(0.0, exp(score - select(0.0, row_lse, ok)), ok);
}
