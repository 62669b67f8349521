// attention_blocked.wgsl — fused scaled-dot-product attention forward for GPUs, with the score and output
// tiles register-blocked across the workgroup (FlashAttention-2's split of work, on plain f32 FMAs).
//
// What it computes (the contract of attention.wgsl, whose header has the details)
//   out_i = sum_j softmax_j(scale * q_i . k_j + mask_ij) v_j and lse_i = log sum_j exp(s_ij) (f32), with
//   key-padding, causal (top-left aligned) and additive masks; a row that sees no key gets out_i = 0 and
//   lse_i = -inf. q/k/v are read through element strides; the output is written through its own.
//
// How work is split
//   Workgroup (x, y, z) = (block of BR query rows, head, batch), WG = TY x 8 invocations: invocation
//   (ty, tx) owns RPT = BR / TY query rows (ty * RPT ..) and, within each key tile, the KPT = BC / 8 keys
//   tx, tx + 8, ... (scores), and the output column chunks tx, tx + 8, ... (P V). The attention.wgsl
//   kernel gives each invocation a whole query row instead, so every score is a serial D-long dot
//   product in one invocation; here the RPT x KPT scores of a thread share their operand loads, like the
//   4x4 blocks of matmul.wgsl.
//   Per tile of BC keys (K and V staged in workgroup memory, Q staged once, pre-scaled):
//   1. scores: s[r][j] = q_r . k_j over D in vec4 chunks: per chunk RPT q loads (the same address in the
//      8 invocations of a row group: a broadcast) and KPT k loads feed RPT x KPT dot products.
//   2. online softmax: each row's tile maximum is the maximum of its 8 invocations' partial maxima
//      (exchanged through workgroup memory), so every invocation of a row holds the same running maximum m
//      and rescales its own partial row sum and accumulators by exp(m_old - m_new). The partial row sums
//      meet once, at the end.
//   3. P V: the probabilities go to workgroup memory; each invocation then accumulates its RPT rows x its
//      column chunks over the tile's keys: per key RPT p loads (broadcast) and CPT v loads for RPT x CPT
//      vec4 FMAs.
//   Barriers per tile: 4 (tile consumed, tile staged, maxima exchanged, probabilities written).
//
// Memory traffic
//   Q and the output once; K and V once per block of BR query rows; masks once per score. Workgroup
//   memory: BR * D4 (Q) + 2 * BC * KS (K, V) vec4s, BR * BC (P) + BR * 8 (maxima) + BC (flags) floats,
//   with KS = D4 + 1: the padding moves consecutive keys' rows to different banks (a row of D4 vec4s is a
//   multiple of 32 words for D = 32, 64, 128). The launcher (kernels/attention.ts attentionBlockedTile)
//   shrinks BR and BC until this fits the device limit. Extra memory: the [B, H, Tq] lse only — O(T).
//
// Specialisation (kernels/attention.ts): T/M/KP as in attention.wgsl; the `tiles` block sets D, BR, BC
// and TY (invocation rows; RPT = BR / TY); the `inputs` block as in attention.wgsl.
//
// Constraints
//   Tq, Tk >= 1; grid <= 65535 per dimension; BC a multiple of 8, BR a multiple of TY.
//   Rows past Tq compute on a clamped copy of row Tq - 1 and store nothing.
//
// Its backward, attention_blocked_backward.wgsl, splits the two gradient passes the same way.
//
// Measured
//   NVIDIA H200 (Dawn + Vulkan, driver 580.159, 2026-11-27; bench/attention-probe.ts PROBE_FAMILIES=1,
//   wall clock, f32, B=8, d=64; 48 KiB of workgroup memory give 64 rows x 32 keys on 128 invocations):
//   ViT-B T=197 0.26 ms (3.7 TFLOP/s) against attention.wgsl's 0.31 at its then GPU tile of 64 x 32;
//   ViT-L T=257 0.49 against 0.49. attention.wgsl with 128-row workgroups then ran 0.22 and 0.39 ms in the
//   tile sweep, so GPUs keep attention.wgsl (chooseAttentionKernel) and this family stays forced-only
//   (`{ kernel: 'blocked' }`). Its results there equal the lanes kernel's to 1e-8.
//   lavapipe (2 cores, PROBE_CPU_TIME=1, 2026-11-27; its 32 KiB of workgroup memory give 32 rows x 32 keys
//   on 64 invocations at d = 64): ViT-B B=8 H=12 T=197 202 ms (4.7 GFLOP/s) against attention.wgsl's 334
//   ms; ViT-L B=8 H=16 T=257 445 ms against 544; a second run, with d = 128 at B=2: 122 against 224 ms,
//   but d = 32 44 against 39 and the main job's short sequences (B=32 H=4 d=16) 8.1-18 ms against 1.1-12
//   at T = 9..50: a 32 x 32 tile is mostly padding there, and 64 invocations pay more barrier switches
//   than attention.wgsl's 16. Barriers split every workgroup into coroutines on lavapipe, as
//   attention.wgsl's do, so CPU adapters run attention_lanes.wgsl (37 and 74 ms on ViT-B and ViT-L).

alias T = f32;
alias M = f32;
alias KP = u32;

/*@tiles*/
const D: u32 = 64u;
const BR: u32 = 64u;
const BC: u32 = 32u;
const TY: u32 = 16u;
/*@end*/
const TX: u32 = 8u;                          // invocations per row group
const WG: u32 = TY * TX;
const RPT: u32 = BR / TY;                    // query rows per invocation
const KPT: u32 = BC / TX;                    // keys per invocation per tile
const CPT: u32 = (D4 + TX - 1u) / TX;        // output column chunks per invocation
const KS: u32 = D4 + 1u;                     // vec4s per staged K / V row (padded against bank conflicts)
// The uniforms `p`, the FLAG_* constants, D4, neg_inf, row_start, the q, k, v and mask bindings (1-5), the
// row loaders and the mask readers live in attention_common.wgsl, which the launcher appends to this file.

@group(0) @binding(6) var<storage, read_write> out: array<T>;
@group(0) @binding(7) var<storage, read_write> lse: array<f32>;

var<workgroup> q_tile: array<vec4<f32>, BR * D4>;
var<workgroup> k_tile: array<vec4<f32>, BC * KS>;
var<workgroup> v_tile: array<vec4<f32>, BC * KS>;
var<workgroup> p_tile: array<f32, BR * BC>;
var<workgroup> partial: array<f32, BR * TX>;   // per row, one value per invocation of its row group
var<workgroup> key_visible: array<u32, BC>;

// The sum (or maximum) over the 8 invocations of row `row` of the values they left in `partial`.
fn row_sum(row: u32) -> f32 {
  var s = 0.0;
  for (var t = 0u; t < TX; t++) { s += partial[row * TX + t]; }
  return s;
}

fn row_max(row: u32) -> f32 {
  var m = partial[row * TX];
  for (var t = 1u; t < TX; t++) { m = max(m, partial[row * TX + t]); }
  return m;
}

@compute @workgroup_size(WG)
fn attention_blocked_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let batch = wid.z;
  let head = wid.y;
  let q0 = wid.x * BR;
  let ty = lid / TX;
  let tx = lid % TX;
  let causal = (p.flags & FLAG_CAUSAL) != 0u;
  let use_mask = (p.flags & FLAG_MASK) != 0u;
  let minus_inf = neg_inf();

  // Stage the block's query rows, pre-scaled; rows past Tq repeat row Tq - 1 and are never stored.
  for (var e = lid; e < BR * D4; e += WG) {
    let i = min(q0 + e / D4, p.tq - 1u);
    q_tile[e] = load_q4(row_start(p.q_offset, p.q_strides, batch, head, i), (e % D4) * 4u) * p.scale;
  }
  let k_head = p.k_offset + batch * p.k_strides.x + head * p.k_strides.y;
  let v_head = p.v_offset + batch * p.v_strides.x + head * p.v_strides.y;

  var m: array<f32, RPT>;    // running maximum of each row's visible scores (the same in all 8 invocations)
  var l: array<f32, RPT>;    // this invocation's part of each row's sum of exp(s - m)
  var acc: array<array<vec4<f32>, CPT>, RPT>;
  for (var r = 0u; r < RPT; r++) {
    m[r] = minus_inf;
    l[r] = 0.0;
    for (var c = 0u; c < CPT; c++) { acc[r][c] = vec4<f32>(0.0); }
  }

  // Uniform across the workgroup: causal blocks need no key past their last row.
  let kv_end = select(p.tk, min(p.tk, q0 + BR), causal);
  for (var kv0 = 0u; kv0 < kv_end; kv0 += BC) {
    workgroupBarrier();  // the previous tile (and the previous maxima) are consumed
    for (var e = lid; e < BC * D4; e += WG) {
      let key = min(kv0 + e / D4, p.tk - 1u);  // rows past Tk are loaded clamped and flagged invisible
      let c = (e % D4) * 4u;
      let at = (e / D4) * KS + e % D4;
      k_tile[at] = load_k4(k_head + key * p.k_strides.z, c);
      v_tile[at] = load_v4(v_head + key * p.v_strides.z, c);
    }
    for (var j = lid; j < BC; j += WG) {
      let key = kv0 + j;
      key_visible[j] = select(0u, 1u, key < p.tk && !key_padded(batch, key));
    }
    workgroupBarrier();

    // 1. This invocation's RPT x KPT scores, masked, and its partial row maxima.
    var s: array<array<f32, KPT>, RPT>;
    for (var r = 0u; r < RPT; r++) {
      for (var j = 0u; j < KPT; j++) { s[r][j] = 0.0; }
    }
    for (var c4 = 0u; c4 < D4; c4++) {
      var kc: array<vec4<f32>, KPT>;
      for (var j = 0u; j < KPT; j++) { kc[j] = k_tile[(tx + j * TX) * KS + c4]; }
      for (var r = 0u; r < RPT; r++) {
        let qc = q_tile[(ty * RPT + r) * D4 + c4];
        for (var j = 0u; j < KPT; j++) { s[r][j] += dot(qc, kc[j]); }
      }
    }
    for (var r = 0u; r < RPT; r++) {
      let i = min(q0 + ty * RPT + r, p.tq - 1u);
      var tile_max = minus_inf;
      for (var j = 0u; j < KPT; j++) {
        let key = kv0 + tx + j * TX;
        var score = s[r][j];
        if (use_mask) { score += mask_value(batch, head, i, min(key, p.tk - 1u)); }
        let visible = key_visible[tx + j * TX] != 0u && (!causal || key <= i);
        s[r][j] = select(minus_inf, score, visible);
        tile_max = max(tile_max, s[r][j]);
      }
      partial[(ty * RPT + r) * TX + tx] = tile_max;
    }
    workgroupBarrier();

    // 2. New running maxima, rescaling, probabilities (to workgroup memory for P V).
    for (var r = 0u; r < RPT; r++) {
      let row = ty * RPT + r;
      let m_new = max(m[r], row_max(row));
      // With nothing visible yet every p is selected to 0, so any finite reference point will do.
      let m_ref = select(m_new, 0.0, m_new == minus_inf);
      let alpha = select(exp(m[r] - m_ref), 0.0, m[r] == minus_inf);
      l[r] *= alpha;
      for (var c = 0u; c < CPT; c++) { acc[r][c] *= alpha; }
      for (var j = 0u; j < KPT; j++) {
        let pj = select(exp(s[r][j] - m_ref), 0.0, s[r][j] == minus_inf);
        l[r] += pj;
        p_tile[row * BC + tx + j * TX] = pj;
      }
      m[r] = m_new;
    }
    workgroupBarrier();

    // 3. P V for this invocation's rows and column chunks.
    let jn = min(BC, kv_end - kv0);
    for (var j = 0u; j < jn; j++) {
      var vc: array<vec4<f32>, CPT>;
      for (var c = 0u; c < CPT; c++) { vc[c] = v_tile[j * KS + min(tx + c * TX, D4 - 1u)]; }
      for (var r = 0u; r < RPT; r++) {
        let pj = p_tile[(ty * RPT + r) * BC + j];
        for (var c = 0u; c < CPT; c++) { acc[r][c] += pj * vc[c]; }
      }
    }
  }

  // Each row's sum: the 8 partial sums meet in workgroup memory.
  workgroupBarrier();
  for (var r = 0u; r < RPT; r++) { partial[(ty * RPT + r) * TX + tx] = l[r]; }
  workgroupBarrier();
  for (var r = 0u; r < RPT; r++) {
    let row = q0 + ty * RPT + r;
    if (row >= p.tq) { break; }
    let total = row_sum(ty * RPT + r);
    // total >= 1 once any key is visible (the maximum contributes exp(0)), so 0 means fully masked.
    let inv = select(1.0 / total, 0.0, total == 0.0);
    let out_base = row_start(p.o_offset, p.o_strides, batch, head, row);
    for (var c = 0u; c < CPT; c++) {
      let col = (tx + c * TX) * 4u;
      let x = acc[r][c] * inv;
      for (var e = 0u; e < 4u; e++) {
        if (col + e < D) { out[out_base + col + e] = T(x[e]); }
      }
    }
    if (tx == 0u) {
      lse[(batch * p.heads + head) * p.tq + row] = select(m[r] + log(total), minus_inf, total == 0.0);
    }
  }
}

