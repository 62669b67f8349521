// attention.wgsl — fused scaled-dot-product attention, forward: out = softmax(Q K^T * scale + mask) V.
//
// What it computes
//   For every batch b, head h and query row i (q, k, v read through arbitrary element strides, so views
//   such as a permuted slice of a fused [B, T, 3, H, d] qkv tensor are read in place):
//     s_ij   = scale * q_i . k_j + mask[b, h, i, j]                          (additive mask is optional)
//     s_ij   = -inf where key j is padding (key-padding mask != 0), j >= Tk, or causal and j > i
//     out_i  = sum_j softmax_j(s_ij) v_j,   lse_i = log sum_j exp(s_ij)     (f32, what backward needs)
//   Causal is top-left aligned (key j is visible to query i iff j <= i), as PyTorch's is_causal. A row
//   whose keys are all masked writes out_i = 0 and lse_i = -inf.
//
// How work is split
//   Workgroup (x, y, z) = (query block, head, batch); one invocation per query row, BR rows per block.
//   Each invocation keeps its query row (pre-multiplied by scale) and an output accumulator of D floats
//   in private memory. The workgroup walks the keys in tiles of BC rows: all invocations stage the K and
//   V tile (converted to f32) and a per-key visibility flag in workgroup memory, then each invocation
//   scores its row against the tile, rescales its accumulator once per tile to the new running maximum
//   (online softmax) and adds p_ij v_j. The Tq x Tk score matrix never exists; only a BC-long score
//   vector per invocation does. Causal blocks stop at the block's last query row.
//
//   The output is written through its own strides (rows of unit column stride), e.g. straight into the
//   [B, T, H, d] layout the output projection reads.
//
//   Split keys (flash-decoding): where (query blocks x heads x batch) workgroups are too few to fill a
//   GPU (one image, or one long sequence), the launcher splits each row block's keys into p.segments
//   segments of p.segment_rows keys and runs p.segments times the workgroups: workgroup x = (query block)
//   * segments + (segment). Each one runs the loop below over its segment only and writes that segment's
//   normalized partial output and log-sum-exp as batch (segment * B + b) of a [segments * B, H, Tq, d]
//   scratch output and its [segments * B, H, Tq] lse; attention_combine.wgsl then merges the segments
//   of each row. A segment that sees no key (causal, padding) writes 0 and -inf like a fully masked row,
//   and the merge gives it weight 0.
//
// Memory traffic
//   Q and the output once; K and V once per query block (ceil(Tq / BR) times), all through workgroup
//   memory; the optional additive mask once per score. Extra memory: the [B, H, Tq] lse only — O(T).
//   With split keys, K and V are still read once per query block (each segment reads its own keys), and
//   the partial outputs cost segments x (output + lse) of scratch, written once and read once.
//
// Masked scores use -inf, but no arithmetic ever runs on it: probabilities of masked keys are selected to
// 0 and a running maximum of -inf is replaced by 0 before subtracting, because exp(-inf) is not 0 on every
// driver (lavapipe clamps exp's argument) and (-inf) - (-inf) is NaN.
//
// Specialisation (kernels/attention.ts)
//   T: q/k/v/out element type (f32 or f16; math is f32), M: additive-mask type, KP: padding-mask type.
//   The `tiles` block sets the head dim D and the tile sizes BR/BC per adapter class: the head dim is a
//   compile-time constant so the private row arrays have a fixed size. Any D in 1..256 compiles (padded
//   to a multiple of 4 internally); 32, 64, 80, 96 and 128 are the measured ones. The `inputs` block
//   of attention_common.wgsl binds q, k and v as array<vec4<T>>, read by single vec4 loads, where their layouts allow (see
//   load_q4 in attention_common.wgsl).
//
// Constraints
//   Tq, Tk >= 1 (the launcher handles empty cases); grid <= 65535 per dimension; strides in elements.
//   Workgroup memory: 2 * BC * ceil(D/4) * 16 + 4 * BC bytes (the launcher sizes BC to the device limit).
//
// Measured
//   NVIDIA H200 (Dawn + Vulkan, driver 580.159, 2026-11-27; bench/attention-probe.ts wall clock, f32,
//   B=8, d=64, forward / backward ms; 'unfused' = our matmul + scale + mask + softmax + matmul, and its
//   backward 4 matmuls + softmax backward on the stored probabilities):
//                          BR x BC = 64 x 32    128 x 32 (GPU tile since)    unfused
//     ViT-B H=12 T=197        0.28 / 0.74          0.22 / 0.60             0.32-0.34 / 0.93-1.13
//     ViT-L H=16 T=257        0.50 / 2.36          0.39 / 1.19
//   the whole sweep (16 to 256 rows, 8 to 32 staged keys) is in kernels/attention.ts PREFERRED. With
//   128-row workgroups ViT-B's forward runs 4.4 TFLOP/s, 1.5x the unfused composition, and the register-
//   blocked family (attention_blocked.wgsl: 0.26 ms at ViT-B, 0.49 at ViT-L) does not beat it.
//   In `npm run bench` the same day (64 x 32, wall clock): ViT-B 0.285 ms against unfused 0.272 (even; GPU
//   timestamps 0.220 / 0.219), ViT-L 0.592 against 0.637, text T=77 causal 0.055 against 0.114, but
//   B=1 T=512 (8 heads) 0.230 against 0.151: 64 workgroups leave most of the GPU idle while each
//   invocation walks all 512 keys. That is what the key split above is for (written 2026-11-28 on a
//   CPU-only machine and not yet timed on a GPU: `scripts/device-session.sh attention-splits`).
//   Earlier, on an NVIDIA H100 80GB (`npm run bench`, 64 x 32): ViT-B 0.327 ms against unfused 0.480,
//   ViT-L 1.60 ms against 1.26. One invocation per query row keeps a whole row's dot products serial in
//   that invocation (64 FMAs per score at d = 64), so the kernel lives on many warps per SM to hide latency.
//   lavapipe (2 cores, PROBE_CPU_TIME=1 bench/attention-probe.ts, BR = 16, BC = 32): ViT-B B=8 319-348 ms
//   (2.7-3.0 GFLOP/s); its barriers split each workgroup into coroutines and every per-lane load is a
//   gather, so CPU adapters with subgroups run attention_lanes.wgsl (36 ms there). BR/BC from 8 to 64
//   moved it by +-10%; grouping keys four at a time into a vec4 of scores, or reading K straight from the
//   storage buffer instead of workgroup tiles, measured slower (2.0 and 1.2 GFLOP/s).

alias T = f32;
alias M = f32;
alias KP = u32;

/*@tiles*/
const D: u32 = 64u;
const BR: u32 = 16u;
const BC: u32 = 32u;
/*@end*/
// The uniforms `p` (struct Params), the FLAG_* constants, D4 (vec4 chunks per row), neg_inf, the q, k, v
// and mask bindings (1-5) and the row loaders load_q4 / load_k4 / load_v4 live in attention_common.wgsl,
// which the launcher appends to this file.

@group(0) @binding(6) var<storage, read_write> out: array<T>;
@group(0) @binding(7) var<storage, read_write> lse: array<f32>;

var<workgroup> k_tile: array<vec4<f32>, BC * D4>;
var<workgroup> v_tile: array<vec4<f32>, BC * D4>;
var<workgroup> key_visible: array<u32, BC>;

// Writes columns c..c+3 of the output row starting at element `base`, those below D (D need not be a
// multiple of 4; rows have unit column stride).
fn store_row4(base: u32, c: u32, x: vec4<f32>) {
  out[base + c] = T(x.x);
  if (D % 4u == 0u || c + 1u < D) { out[base + c + 1u] = T(x.y); }
  if (D % 4u == 0u || c + 2u < D) { out[base + c + 2u] = T(x.z); }
  if (D % 4u == 0u || c + 3u < D) { out[base + c + 3u] = T(x.w); }
}

@compute @workgroup_size(BR)
fn attention_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let batch = wid.z;
  let head = wid.y;
  let segment = wid.x % p.segments;
  let q0 = (wid.x / p.segments) * BR;
  let row = q0 + lid;
  let row_live = row < p.tq;
  let i = min(row, p.tq - 1u);  // dead rows compute on a real row and store nothing
  let causal = (p.flags & FLAG_CAUSAL) != 0u;
  let use_kpm = (p.flags & FLAG_KEY_PADDING) != 0u;
  let use_mask = (p.flags & FLAG_MASK) != 0u;
  let minus_inf = neg_inf();

  var qrow: array<vec4<f32>, D4>;
  var acc: array<vec4<f32>, D4>;
  let q_base = p.q_offset + batch * p.q_strides.x + head * p.q_strides.y + i * p.q_strides.z;
  for (var c4 = 0u; c4 < D4; c4++) {
    qrow[c4] = load_q4(q_base, c4 * 4u) * p.scale;
    acc[c4] = vec4<f32>(0.0);
  }
  let k_head = p.k_offset + batch * p.k_strides.x + head * p.k_strides.y;
  let v_head = p.v_offset + batch * p.v_strides.x + head * p.v_strides.y;
  let mask_row = p.mask_offset + batch * p.mask_strides.x + head * p.mask_strides.y + i * p.mask_strides.z;

  var m = minus_inf;  // running maximum of the row's visible scores
  var l = 0.0;        // running sum of exp(s - m)
  // Uniform across the workgroup: this segment's keys (all of them without a split), and causal blocks
  // need no key past their last row.
  let kv_begin = segment * p.segment_rows;
  let kv_end = min(select(p.tk, min(p.tk, q0 + BR), causal), kv_begin + p.segment_rows);
  for (var kv0 = kv_begin; kv0 < kv_end; kv0 += BC) {
    workgroupBarrier();  // the previous tile is consumed
    for (var e = lid; e < BC * D4; e += BR) {
      let key = min(kv0 + e / D4, p.tk - 1u);  // rows past Tk are loaded clamped and flagged invisible
      let c = (e % D4) * 4u;
      k_tile[e] = load_k4(k_head + key * p.k_strides.z, c);
      v_tile[e] = load_v4(v_head + key * p.v_strides.z, c);
    }
    for (var j = lid; j < BC; j += BR) {
      let key = kv0 + j;
      var visible = key < p.tk;
      if (visible && use_kpm) {
        visible = kpm[p.kpm_offset + batch * p.kpm_strides.x + key * p.kpm_strides.y] == KP(0);
      }
      key_visible[j] = select(0u, 1u, visible);
    }
    workgroupBarrier();

    if (row_live) {
      let jn = min(BC, kv_end - kv0);
      var s: array<f32, BC>;
      var tile_max = m;
      for (var j = 0u; j < jn; j++) {
        var score = 0.0;
        for (var c4 = 0u; c4 < D4; c4++) {
          score += dot(qrow[c4], k_tile[j * D4 + c4]);
        }
        let key = kv0 + j;
        if (use_mask) {
          score += f32(mask[mask_row + key * p.mask_strides.w]);
        }
        let visible = key_visible[j] != 0u && (!causal || key <= i);
        score = select(minus_inf, score, visible);
        s[j] = score;
        tile_max = max(tile_max, score);
      }
      // With nothing visible yet every p is selected to 0, so any finite reference point will do.
      let m_ref = select(tile_max, 0.0, tile_max == minus_inf);
      let alpha = select(exp(m - m_ref), 0.0, m == minus_inf);
      l *= alpha;
      for (var c4 = 0u; c4 < D4; c4++) {
        acc[c4] *= alpha;
      }
      for (var j = 0u; j < jn; j++) {
        let pj = select(exp(s[j] - m_ref), 0.0, s[j] == minus_inf);
        l += pj;
        for (var c4 = 0u; c4 < D4; c4++) {
          acc[c4] += pj * v_tile[j * D4 + c4];
        }
      }
      m = tile_max;
    }
  }

  if (row_live) {
    // Without a split, segment 0 of batch b is batch b itself: the final output and lse.
    let out_batch = segment * p.batch + batch;
    let out_base = row_start(p.o_offset, p.o_strides, out_batch, head, row);
    // l >= 1 once any key is visible (the maximum contributes exp(0)), so l == 0 means fully masked.
    let inv = select(1.0 / l, 0.0, l == 0.0);
    for (var c4 = 0u; c4 < D4; c4++) {
      store_row4(out_base, c4 * 4u, acc[c4] * inv);
    }
    lse[(out_batch * p.heads + head) * p.tq + row] = select(m + log(l), minus_inf, l == 0.0);
  }
}
