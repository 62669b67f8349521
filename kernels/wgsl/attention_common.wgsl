// attention_common.wgsl — what the attention kernels share: the mask flags, the uniform parameter block,
// the column helpers and the mask readers. kernels/attention.ts appends this file to attention.wgsl,
// attention_lanes.wgsl, attention_backward.wgsl and attention_lanes_backward.wgsl (WGSL declarations
// may come in any order), the way matmul_common.wgsl completes the GEMM kernels; D, the head dim, comes
// from the kernel's `tiles` block.
//
// Parameters: one layout for the forward and backward passes, written by one launcher function. Operands
// are addressed through element offsets and four strides each, [batch, head, row, column] for q, k, v, o
// and dO; [batch, head, query, key] for the additive mask (0 on broadcast dims); [batch, key] for the
// key-padding mask; [batch, head, row] for the log-sum-exp. The forward kernels leave batch, o, dO and lse
// unused (the launcher writes zeros there).

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
  q_offset: u32,
  k_offset: u32,
  v_offset: u32,
  mask_offset: u32,
  kpm_offset: u32,
  o_offset: u32,
  do_offset: u32,
  lse_offset: u32,
  q_strides: vec4<u32>,     // batch, head, row, column
  k_strides: vec4<u32>,
  v_strides: vec4<u32>,
  mask_strides: vec4<u32>,  // batch, head, query, key (0 on broadcast dims)
  kpm_strides: vec4<u32>,   // batch, key, unused, unused
  o_strides: vec4<u32>,
  do_strides: vec4<u32>,
  lse_strides: vec4<u32>,   // batch, head, row, unused
}

@group(0) @binding(0) var<uniform> p: Params;

// -inf from its bits: compilers that assume no infinities may fold a literal -inf expression away.
fn neg_inf() -> f32 {
  let bits = 0xff800000u;
  return bitcast<f32>(bits);
}

// Element indices of columns c..c+3 of a row starting at `base`; columns past D are clamped to D-1 (a
// valid address) and zeroed by `pad_mask`, so D need not be a multiple of 4.
fn column_index(base: u32, c: u32, col_stride: u32) -> vec4<u32> {
  return base + min(vec4<u32>(c, c + 1u, c + 2u, c + 3u), vec4<u32>(D - 1u)) * col_stride;
}

fn pad_mask(c: u32) -> vec4<f32> {
  return select(vec4<f32>(0.0), vec4<f32>(1.0), vec4<u32>(c, c + 1u, c + 2u, c + 3u) < vec4<u32>(D));
}

// Every kernel file declares the masks as `mask: array<M>` (additive) and `kpm: array<KP>` (key padding),
// bound to a stand-in buffer when absent; these read them.
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
