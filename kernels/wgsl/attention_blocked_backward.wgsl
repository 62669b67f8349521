// attention_blocked_backward.wgsl — gradients of fused attention for GPUs, register-blocked like
// attention_blocked.wgsl: each invocation owns a few rows of its workgroup's block and a stripe of the
// other side, so every score is shared work instead of one invocation's serial dot product.
//
// What it computes (the math and the two-pass plan of attention_backward.wgsl, whose header has them)
//   With P_ij = exp(s_ij - L_i) recomputed from the scores and (L_i, delta_i) from attention_backward.wgsl's
//   `attention_delta` pre-pass:
//     dS_ij = P_ij (dO_i . v_j - delta_i),  dV_j = sum_i P_ij dO_i,
//     dK_j = scale * sum_i dS_ij q_i,       dQ_i = scale * sum_j dS_ij k_j.
//   attention_blocked_dkdv owns key rows and walks the queries; attention_blocked_dq owns query rows and
//   walks the keys: no atomics, deterministic. Masks and fully masked rows as in the forward.
//
// How work is split (both passes)
//   Workgroup (x, y, z) = (block of OWN rows, head, batch), WG = TY x 8 invocations; invocation (ty, tx)
//   owns RPT = OWN / TY rows of the block and, per tile of WALK walked rows, the walked rows tx, tx + 8, ...
//   (WPT = WALK / 8 of them) for the scores, and the output column chunks tx, tx + 8, ... (CPT) for the
//   sums. The own rows are staged in workgroup memory once, the walked rows once per tile (rows padded to
//   KS vec4s against bank conflicts, as in the forward). Per tile:
//   1. s and dP for the RPT x WPT (own, walked) pairs: per vec4 chunk RPT broadcast loads of each own
//      operand and WPT loads of each walked one.
//   2. P and dS element-wise, written to workgroup memory (dkdv needs both, dq only dS).
//   3. sums, per walked row: dV and dK (dkdv) or dQ (dq) for the invocation's rows and column chunks.
//   Barriers per tile: 3 (tile consumed, tile staged, P / dS written).
//
// Memory traffic
//   dkdv reads Q and dO once per block of OWN keys, dq reads K and V once per block of OWN queries.
//   Workgroup memory (the launcher sizes the tile to the device limit, kernels/attention.ts
//   attentionBlockedBackwardTile): 2 * OWN * D4 + 2 * WALK * KS vec4s, 2 * OWN * WALK floats, WALK vec2s
//   and WALK flags.
//
// Specialisation (kernels/attention.ts): T/M/KP as in attention.wgsl; the `tiles` block sets D, OWN,
// WALK and TY; vec4 inputs as in attention_backward.wgsl. Constraints: Tq, Tk >= 1; grid <= 65535 per dimension; WALK a multiple of 8, OWN of TY.
//
// Measured: no adapter picks it by default. On an NVIDIA H200 (Dawn + Vulkan, 2026-11-27,
// bench/attention-probe.ts PROBE_FAMILIES=1, wall clock, B=8, d=64) it ran ViT-B T=197 in 1.19 ms and
// ViT-L T=257 in 2.49 against attention_backward.wgsl's 0.90 and 2.41 at 64 x 32 (0.60 and 1.19 with the
// 128 x 32 tile GPUs now take). On lavapipe (2 cores, CPU time, 2026-11-27; 32 KiB of workgroup memory: 32 own x 16 walked rows on 64
// invocations at d = 64) it matches attention_backward.wgsl: ViT-B B=8 783 against 786 ms, B=2 H=12
// T=197 d=128 465 against 419, text B=2 H=3 T=77 causal 7.0 against 6.6; attention_lanes_backward.wgsl,
// the default there, takes 180, 216 and 2.3 ms. Its results equal the lanes kernel's to 1e-7.

alias T = f32;
alias M = f32;
alias KP = u32;

/*@tiles*/
const D: u32 = 64u;
const OWN: u32 = 32u;
const WALK: u32 = 32u;
const TY: u32 = 8u;
/*@end*/
const TX: u32 = 8u;
const WG: u32 = TY * TX;
const RPT: u32 = OWN / TY;                // own rows per invocation
const WPT: u32 = WALK / TX;               // walked rows per invocation per tile
const CPT: u32 = (D4 + TX - 1u) / TX;     // output column chunks per invocation
const KS: u32 = D4 + 1u;                  // vec4s per staged walked row (padded against bank conflicts)
// The uniforms `p`, the FLAG_* constants, D4, neg_inf, row_start, the bindings of q, k, v, the masks, dO
// and (L_i, delta_i) (1-7), the row loaders (load_do4 too) and the mask readers key_padded, mask_value and
// probability live in attention_common.wgsl, appended by the launcher.

// The own rows' two operands (dkdv: k * scale and v; dq: q * scale and dO), the walked rows' two (dkdv: q
// and dO; dq: k and v), the tile's P and dS ([own row][walked row]) and per walked row its (L, delta)
// (dkdv) or whether the key can be seen at all (dq).
var<workgroup> own_a: array<vec4<f32>, OWN * D4>;
var<workgroup> own_b: array<vec4<f32>, OWN * D4>;
var<workgroup> walk_a: array<vec4<f32>, WALK * KS>;
var<workgroup> walk_b: array<vec4<f32>, WALK * KS>;
var<workgroup> p_tile: array<f32, OWN * WALK>;
var<workgroup> ds_tile: array<f32, OWN * WALK>;
var<workgroup> walk_stats: array<vec2<f32>, WALK>;
var<workgroup> walk_visible: array<u32, WALK>;

// s[r][j] = own_a[r] . walk_a[j] and dp[r][j] = own_b[r] . walk_b[j] for this invocation's RPT own rows
// and WPT walked rows (ty's rows, tx's stripe).
struct Products {
  s: array<array<f32, WPT>, RPT>,
  dp: array<array<f32, WPT>, RPT>,
}

fn products(ty: u32, tx: u32) -> Products {
  var out: Products;
  for (var c4 = 0u; c4 < D4; c4++) {
    var wa: array<vec4<f32>, WPT>;
    var wb: array<vec4<f32>, WPT>;
    for (var j = 0u; j < WPT; j++) {
      wa[j] = walk_a[(tx + j * TX) * KS + c4];
      wb[j] = walk_b[(tx + j * TX) * KS + c4];
    }
    for (var r = 0u; r < RPT; r++) {
      let oa = own_a[(ty * RPT + r) * D4 + c4];
      let ob = own_b[(ty * RPT + r) * D4 + c4];
      for (var j = 0u; j < WPT; j++) {
        out.s[r][j] += dot(oa, wa[j]);
        out.dp[r][j] += dot(ob, wb[j]);
      }
    }
  }
  return out;
}

// Writes columns c..c+3 (those below D) of the gradient row starting at element `base`.
fn store4_dkv(base: u32, c: u32, x: vec4<f32>) {
  for (var e = 0u; e < 4u; e++) {
    if (c + e < D) { dkv[base + c + e] = T(x[e]); }
  }
}

// ---- attention_blocked_dkdv: own OWN key rows, walk the queries ------------------------------------

@group(0) @binding(8) var<storage, read_write> dkv: array<T>;  // holds dK and dV, at dk_offset / dv_offset and their strides

@compute @workgroup_size(WG)
fn attention_blocked_dkdv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let batch = wid.z;
  let head = wid.y;
  let k0 = wid.x * OWN;
  let ty = lid / TX;
  let tx = lid % TX;
  let causal = (p.flags & FLAG_CAUSAL) != 0u;
  let use_mask = (p.flags & FLAG_MASK) != 0u;
  let minus_inf = neg_inf();

  // Own keys (rows past Tk repeat row Tk - 1 and are never stored): k * scale and v.
  let k_head = p.k_offset + batch * p.k_strides.x + head * p.k_strides.y;
  let v_head = p.v_offset + batch * p.v_strides.x + head * p.v_strides.y;
  for (var e = lid; e < OWN * D4; e += WG) {
    let key = min(k0 + e / D4, p.tk - 1u);
    let c = (e % D4) * 4u;
    own_a[e] = load_k4(k_head + key * p.k_strides.z, c) * p.scale;
    own_b[e] = load_v4(v_head + key * p.v_strides.z, c);
  }
  var key_at: array<u32, RPT>;
  var key_on: array<bool, RPT>;
  for (var r = 0u; r < RPT; r++) {
    key_at[r] = min(k0 + ty * RPT + r, p.tk - 1u);
    key_on[r] = !key_padded(batch, key_at[r]);
  }
  var dk: array<array<vec4<f32>, CPT>, RPT>;
  var dv: array<array<vec4<f32>, CPT>, RPT>;
  let q_head = p.q_offset + batch * p.q_strides.x + head * p.q_strides.y;
  let do_head = p.do_offset + batch * p.do_strides.x + head * p.do_strides.y;
  let stats_head = (batch * p.heads + head) * p.tq;

  // Causal: a query before the block's first key sees none of its keys.
  for (var i0 = select(0u, k0, causal); i0 < p.tq; i0 += WALK) {
    workgroupBarrier();  // the previous tile (and the own rows, the first time) are in place / consumed
    for (var e = lid; e < WALK * D4; e += WG) {
      let i = min(i0 + e / D4, p.tq - 1u);
      let c = (e % D4) * 4u;
      let at = (e / D4) * KS + e % D4;
      walk_a[at] = load_q4(q_head + i * p.q_strides.z, c);
      walk_b[at] = load_do4(do_head + i * p.do_strides.z, c);
    }
    for (var j = lid; j < WALK; j += WG) {
      let i = i0 + j;
      walk_stats[j] = select(vec2<f32>(minus_inf, 0.0), stats[stats_head + min(i, p.tq - 1u)], i < p.tq);
    }
    workgroupBarrier();

    // 1-2. s = (k * scale) . q and dP = v . dO, then P and dS for (own key r, query tx + j * TX).
    let prod = products(ty, tx);
    for (var r = 0u; r < RPT; r++) {
      for (var j = 0u; j < WPT; j++) {
        let w = tx + j * TX;
        let i = i0 + w;
        var score = prod.s[r][j];
        if (use_mask) { score += mask_value(batch, head, min(i, p.tq - 1u), key_at[r]); }
        let row_stats = walk_stats[w];
        let pr = probability(score, row_stats.x, key_on[r] && (!causal || key_at[r] <= i));
        p_tile[(ty * RPT + r) * WALK + w] = pr;
        ds_tile[(ty * RPT + r) * WALK + w] = pr * (prod.dp[r][j] - row_stats.y);
      }
    }
    workgroupBarrier();

    // 3. dV += P^T dO and dK += dS^T Q over the tile's queries.
    let jn = min(WALK, p.tq - i0);
    for (var j = 0u; j < jn; j++) {
      var qc: array<vec4<f32>, CPT>;
      var doc: array<vec4<f32>, CPT>;
      for (var c = 0u; c < CPT; c++) {
        let chunk = min(tx + c * TX, D4 - 1u);
        qc[c] = walk_a[j * KS + chunk];
        doc[c] = walk_b[j * KS + chunk];
      }
      for (var r = 0u; r < RPT; r++) {
        let pr = p_tile[(ty * RPT + r) * WALK + j];
        let ds = ds_tile[(ty * RPT + r) * WALK + j];
        for (var c = 0u; c < CPT; c++) {
          dv[r][c] += pr * doc[c];
          dk[r][c] += ds * qc[c];
        }
      }
    }
  }

  for (var r = 0u; r < RPT; r++) {
    let key = k0 + ty * RPT + r;
    if (key >= p.tk) { break; }
    for (var c = 0u; c < CPT; c++) {
      let col = (tx + c * TX) * 4u;
      store4_dkv(row_start(p.dk_offset, p.dk_strides, batch, head, key), col, dk[r][c] * p.scale);
      store4_dkv(row_start(p.dv_offset, p.dv_strides, batch, head, key), col, dv[r][c]);
    }
  }
}

// ---- attention_blocked_dq: own OWN query rows, walk the keys ---------------------------------------

@group(0) @binding(8) var<storage, read_write> dq_out: array<T>;  // dQ at dq_offset and dq_strides

@compute @workgroup_size(WG)
fn attention_blocked_dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let batch = wid.z;
  let head = wid.y;
  let q0 = wid.x * OWN;
  let ty = lid / TX;
  let tx = lid % TX;
  let causal = (p.flags & FLAG_CAUSAL) != 0u;
  let use_mask = (p.flags & FLAG_MASK) != 0u;

  // Own queries (rows past Tq repeat row Tq - 1 and are never stored): q * scale and dO, and (L, delta).
  let q_head = p.q_offset + batch * p.q_strides.x + head * p.q_strides.y;
  let do_head = p.do_offset + batch * p.do_strides.x + head * p.do_strides.y;
  for (var e = lid; e < OWN * D4; e += WG) {
    let i = min(q0 + e / D4, p.tq - 1u);
    let c = (e % D4) * 4u;
    own_a[e] = load_q4(q_head + i * p.q_strides.z, c) * p.scale;
    own_b[e] = load_do4(do_head + i * p.do_strides.z, c);
  }
  var row_at: array<u32, RPT>;
  var row_stats: array<vec2<f32>, RPT>;
  for (var r = 0u; r < RPT; r++) {
    row_at[r] = min(q0 + ty * RPT + r, p.tq - 1u);
    row_stats[r] = stats[(batch * p.heads + head) * p.tq + row_at[r]];
  }
  var dq: array<array<vec4<f32>, CPT>, RPT>;
  let k_head = p.k_offset + batch * p.k_strides.x + head * p.k_strides.y;
  let v_head = p.v_offset + batch * p.v_strides.x + head * p.v_strides.y;

  // Uniform across the workgroup: causal blocks need no key past their last row.
  let kv_end = select(p.tk, min(p.tk, q0 + OWN), causal);
  for (var kv0 = 0u; kv0 < kv_end; kv0 += WALK) {
    workgroupBarrier();
    for (var e = lid; e < WALK * D4; e += WG) {
      let key = min(kv0 + e / D4, p.tk - 1u);
      let c = (e % D4) * 4u;
      let at = (e / D4) * KS + e % D4;
      walk_a[at] = load_k4(k_head + key * p.k_strides.z, c);
      walk_b[at] = load_v4(v_head + key * p.v_strides.z, c);
    }
    for (var j = lid; j < WALK; j += WG) {
      let key = kv0 + j;
      walk_visible[j] = select(0u, 1u, key < p.tk && !key_padded(batch, min(key, p.tk - 1u)));
    }
    workgroupBarrier();

    // 1-2. s = (q * scale) . k and dP = dO . v, then dS for (own query r, key tx + j * TX).
    let prod = products(ty, tx);
    for (var r = 0u; r < RPT; r++) {
      for (var j = 0u; j < WPT; j++) {
        let w = tx + j * TX;
        let key = kv0 + w;
        var score = prod.s[r][j];
        if (use_mask) { score += mask_value(batch, head, row_at[r], min(key, p.tk - 1u)); }
        let visible = walk_visible[w] != 0u && (!causal || key <= row_at[r]);
        let pr = probability(score, row_stats[r].x, visible);
        ds_tile[(ty * RPT + r) * WALK + w] = pr * (prod.dp[r][j] - row_stats[r].y);
      }
    }
    workgroupBarrier();

    // 3. dQ += dS K over the tile's keys.
    let jn = min(WALK, kv_end - kv0);
    for (var j = 0u; j < jn; j++) {
      var kc: array<vec4<f32>, CPT>;
      for (var c = 0u; c < CPT; c++) { kc[c] = walk_a[j * KS + min(tx + c * TX, D4 - 1u)]; }
      for (var r = 0u; r < RPT; r++) {
        let ds = ds_tile[(ty * RPT + r) * WALK + j];
        for (var c = 0u; c < CPT; c++) { dq[r][c] += ds * kc[c]; }
      }
    }
  }

  for (var r = 0u; r < RPT; r++) {
    let row = q0 + ty * RPT + r;
    if (row >= p.tq) { break; }
    let base = row_start(p.dq_offset, p.dq_strides, batch, head, row);
    for (var c = 0u; c < CPT; c++) {
      let col = (tx + c * TX) * 4u;
      let x = dq[r][c] * p.scale;
      for (var e = 0u; e < 4u; e++) {
        if (col + e < D) { dq_out[base + col + e] = T(x[e]); }
      }
    }
  }
}
