// attention_backward.wgsl — gradients of fused scaled-dot-product attention (kernels/wgsl/attention.wgsl).
//
// What it computes
//   Given Q, K, V, the forward output O, its gradient dO and the forward's per-row log-sum-exp L,
//   with P_ij = exp(s_ij - L_i) recomputed from the scores (s as in the forward, masks included):
//     delta_i = sum_c dO_ic O_ic                      (= rowsum(dP * P), FlashAttention-2's "D")
//     dV_j    = sum_i P_ij dO_i
//     dS_ij   = P_ij (dO_i . v_j - delta_i)
//     dK_j    = scale * sum_i dS_ij q_i,   dQ_i = scale * sum_j dS_ij k_j
//   The additive mask gets no gradient. Fully masked rows (L_i = -inf) contribute nothing.
//
// Why three entry points and no atomics
//   dK/dV sum over queries and dQ sums over keys. One pass over the (query, key) tiles could own one and
//   scatter the other with atomic adds, but WGSL has no float atomics (a CAS loop on u32 bits serialises
//   badly, worst of all on CPU adapters), so — as FlashAttention-2 does without atomics — each gradient
//   gets a pass that owns its rows and recomputes P: `attention_dkdv` owns key rows, `attention_dq` owns
//   query rows. That recomputes Q K^T and dO V^T twice (7 row-length vector ops per score instead of 5)
//   in exchange for deterministic results and no scatter. `attention_delta` runs first: one invocation per
//   query row computes delta_i and packs (L_i, delta_i) into one contiguous vec2 array that both passes
//   read, which also keeps each pass at 8 storage buffers (WebGPU's default per-stage limit); dK and dV go
//   to one buffer for the same reason.
//
// How work is split
//   attention_delta: 256 rows per workgroup on a 2-D grid.
//   attention_dkdv:  workgroup (x, y, z) = (key block, head, batch), one invocation per key row (BK per
//                    block) holding k_j, v_j, dk_j, dv_j in private memory; the workgroup walks the queries
//                    in tiles of BQ rows staged in workgroup memory (q, dO, and the (L, delta) pairs).
//                    Causal blocks start at the block's first key (earlier queries see none of its keys).
//   attention_dq:    workgroup = (query block, head, batch), one invocation per query row holding q_i,
//                    dO_i and dq_i; keys in tiles of BK rows (k, v, visibility) in workgroup memory.
//
//   Split walked rows: where the grid is too few workgroups to fill a GPU (one long sequence, a batch of
//   one), the launcher splits the rows each pass walks (queries for dkdv, keys for dq) into p.segments
//   segments of p.segment_rows rows, as the forward splits its keys: workgroup x = (own block) * segments
//   + (segment). Each workgroup sums its segment only and writes that partial gradient as batch
//   (segment * B + b) of an f32 scratch [segments * B, H, T, d] (G = f32), whose segments
//   engine/ops/attention.ts then adds up (the split itself: kernels/attention.ts attentionBackwardSplits).
//   A segment with no visible row writes zeros. Unsplit, segment 0 covers every row and writes batch b
//   itself, in q's type.
//   Written 2026-11-28 on a CPU-only machine and checked there (GPU adapter class forced); not yet timed on
//   a GPU (`scripts/device-session.sh attention-splits`).
//
// Memory traffic
//   dkdv reads Q and dO once per key block, dq reads K and V once per query block; extra memory is the
//   [B, H, Tq] (L, delta) array — O(T), never O(T^2). A split reads the walked rows as often, its own rows
//   once per segment, and adds segments x (dQ + dK + dV) f32 of scratch, written once and read once.
//
// Specialisation and constraints: as attention.wgsl (T, M, KP aliases, and G the type the gradients are
// stored in: T, or f32 for a split's partials; D, BQ, BK in the `tiles` block;
// attention_common.wgsl's `inputs` blocks and loaders read q, k, v and dO as vec4s where their layouts allow; grid <= 65535
// per dimension; Tq, Tk >= 1).
//
// Measured (lavapipe, 2 cores, shared machine, PROBE_CPU_TIME=1 bench/attention-probe.ts):
//   ViT-B B=8 H=12 T=197 d=64 f32, all three passes: 1131 ms, 2.1 GFLOP/s counting 2.5x the forward's
//   flops; allocates dq, dk, dv (14.5 MB) and a transient 76 KB (L, delta) array. CPU adapters now run
//   attention_lanes_backward.wgsl (same case: 204-222 ms); this kernel serves GPUs and the fallback.

alias T = f32;
alias M = f32;
alias KP = u32;
alias G = f32;

/*@tiles*/
const D: u32 = 64u;
const BQ: u32 = 16u;
const BK: u32 = 16u;
/*@end*/
// The uniforms `p` (struct Params), the FLAG_* constants, D4 (vec4 chunks per row), neg_inf, the bindings
// of q, k, v, the masks, dO and the packed (L_i, delta_i) (1-7), the row loaders load_q4 / load_k4 /
// load_v4 / load_do4 and the mask readers key_padded, mask_value and probability live in
// attention_common.wgsl, which the launcher appends to this file.

// ---- attention_delta: (L_i, delta_i) per query row ------------------------------------------------

@group(0) @binding(1) var<storage, read> o_in: array<T>;
@group(0) @binding(2) var<storage, read> do_for_delta: array<T>;
@group(0) @binding(3) var<storage, read> lse_in: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats_out: array<vec2<f32>>;

@compute @workgroup_size(256)
fn attention_delta(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                   @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = (wid.y * nwg.x + wid.x) * 256u + lid;
  let per_batch = p.heads * p.tq;
  if (r >= p.batch * per_batch) { return; }
  let batch = r / per_batch;
  let head = (r % per_batch) / p.tq;
  let i = r % p.tq;
  let o_base = p.o_offset + batch * p.o_strides.x + head * p.o_strides.y + i * p.o_strides.z;
  let do_base = p.do_offset + batch * p.do_strides.x + head * p.do_strides.y + i * p.do_strides.z;
  var delta = 0.0;
  for (var c = 0u; c < D; c++) {
    delta += f32(o_in[o_base + c * p.o_strides.w]) * f32(do_for_delta[do_base + c * p.do_strides.w]);
  }
  let l = lse_in[p.lse_offset + batch * p.lse_strides.x + head * p.lse_strides.y + i * p.lse_strides.z];
  stats_out[r] = vec2<f32>(l, delta);
}

// ---- attention_dkdv and attention_dq read q, k, v, the masks, dO (row loader load_do4) and the packed
// (L_i, delta_i) through the bindings of attention_common.wgsl.

// ---- attention_dkdv: dK and dV, one invocation per key row ----------------------------------------

@group(0) @binding(8) var<storage, read_write> dkv: array<G>;  // holds dK and dV, at dk_offset / dv_offset and their strides

var<workgroup> q_tile: array<vec4<f32>, BQ * D4>;
var<workgroup> do_tile: array<vec4<f32>, BQ * D4>;
var<workgroup> stats_tile: array<vec2<f32>, BQ>;

@compute @workgroup_size(BK)
fn attention_dkdv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let batch = wid.z;
  let head = wid.y;
  let segment = wid.x % p.segments;
  let k0 = (wid.x / p.segments) * BK;
  let key_row = k0 + lid;
  let key_live = key_row < p.tk;
  let key = min(key_row, p.tk - 1u);
  let causal = (p.flags & FLAG_CAUSAL) != 0u;
  let use_mask = (p.flags & FLAG_MASK) != 0u;
  let key_on = key_live && !key_padded(batch, key);

  var krow: array<vec4<f32>, D4>;  // k_j * scale
  var vrow: array<vec4<f32>, D4>;
  var dk: array<vec4<f32>, D4>;
  var dv: array<vec4<f32>, D4>;
  let k_base = p.k_offset + batch * p.k_strides.x + head * p.k_strides.y + key * p.k_strides.z;
  let v_base = p.v_offset + batch * p.v_strides.x + head * p.v_strides.y + key * p.v_strides.z;
  for (var c4 = 0u; c4 < D4; c4++) {
    krow[c4] = load_k4(k_base, c4 * 4u) * p.scale;
    vrow[c4] = load_v4(v_base, c4 * 4u);
    dk[c4] = vec4<f32>(0.0);
    dv[c4] = vec4<f32>(0.0);
  }
  let q_head = p.q_offset + batch * p.q_strides.x + head * p.q_strides.y;
  let do_head = p.do_offset + batch * p.do_strides.x + head * p.do_strides.y;
  let stats_head = (batch * p.heads + head) * p.tq;
  let minus_inf = neg_inf();

  // This segment's queries (all of them unsplit); causal blocks start at their first key, as earlier
  // queries see none of its keys.
  let q_begin = segment * p.segment_rows;
  let q_end = min(p.tq, q_begin + p.segment_rows);
  for (var i0 = max(q_begin, select(0u, k0, causal)); i0 < q_end; i0 += BQ) {
    workgroupBarrier();
    for (var e = lid; e < BQ * D4; e += BK) {
      let i = min(i0 + e / D4, p.tq - 1u);
      let c = (e % D4) * 4u;
      q_tile[e] = load_q4(q_head + i * p.q_strides.z, c);
      do_tile[e] = load_do4(do_head + i * p.do_strides.z, c);
    }
    for (var r = lid; r < BQ; r += BK) {
      let i = i0 + r;
      stats_tile[r] = select(vec2<f32>(minus_inf, 0.0), stats[stats_head + min(i, p.tq - 1u)], i < q_end);
    }
    workgroupBarrier();

    if (key_on) {
      let rn = min(BQ, q_end - i0);
      for (var r = 0u; r < rn; r++) {
        let i = i0 + r;
        var score = 0.0;
        var dp = 0.0;
        for (var c4 = 0u; c4 < D4; c4++) {
          score += dot(q_tile[r * D4 + c4], krow[c4]);
          dp += dot(do_tile[r * D4 + c4], vrow[c4]);
        }
        if (use_mask) {
          score += mask_value(batch, head, i, key);
        }
        let row_stats = stats_tile[r];
        let pr = probability(score, row_stats.x, !causal || key <= i);
        let ds = pr * (dp - row_stats.y);
        for (var c4 = 0u; c4 < D4; c4++) {
          dv[c4] += pr * do_tile[r * D4 + c4];
          dk[c4] += ds * q_tile[r * D4 + c4];
        }
      }
    }
  }

  if (key_live) {
    let out_batch = segment * p.batch + batch;
    let dk_base = row_start(p.dk_offset, p.dk_strides, out_batch, head, key_row);
    let dv_base = row_start(p.dv_offset, p.dv_strides, out_batch, head, key_row);
    for (var c = 0u; c < D; c++) {
      dkv[dk_base + c] = G(dk[c / 4u][c % 4u] * p.scale);
      dkv[dv_base + c] = G(dv[c / 4u][c % 4u]);
    }
  }
}

// ---- attention_dq: dQ, one invocation per query row -----------------------------------------------

@group(0) @binding(8) var<storage, read_write> dq_out: array<G>;  // dQ at dq_offset and dq_strides

var<workgroup> k_tile: array<vec4<f32>, BK * D4>;
var<workgroup> v_tile: array<vec4<f32>, BK * D4>;
var<workgroup> key_visible: array<u32, BK>;

@compute @workgroup_size(BQ)
fn attention_dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let batch = wid.z;
  let head = wid.y;
  let segment = wid.x % p.segments;
  let q0 = (wid.x / p.segments) * BQ;
  let row = q0 + lid;
  let row_live = row < p.tq;
  let i = min(row, p.tq - 1u);
  let causal = (p.flags & FLAG_CAUSAL) != 0u;
  let use_mask = (p.flags & FLAG_MASK) != 0u;

  var qrow: array<vec4<f32>, D4>;  // q_i * scale
  var dorow: array<vec4<f32>, D4>;
  var dq: array<vec4<f32>, D4>;
  let q_base = p.q_offset + batch * p.q_strides.x + head * p.q_strides.y + i * p.q_strides.z;
  let do_base = p.do_offset + batch * p.do_strides.x + head * p.do_strides.y + i * p.do_strides.z;
  for (var c4 = 0u; c4 < D4; c4++) {
    qrow[c4] = load_q4(q_base, c4 * 4u) * p.scale;
    dorow[c4] = load_do4(do_base, c4 * 4u);
    dq[c4] = vec4<f32>(0.0);
  }
  let row_stats = stats[(batch * p.heads + head) * p.tq + i];
  let k_head = p.k_offset + batch * p.k_strides.x + head * p.k_strides.y;
  let v_head = p.v_offset + batch * p.v_strides.x + head * p.v_strides.y;

  // This segment's keys (all of them unsplit); causal blocks need no key past their last row.
  let kv_begin = segment * p.segment_rows;
  let kv_end = min(select(p.tk, min(p.tk, q0 + BQ), causal), kv_begin + p.segment_rows);
  for (var kv0 = kv_begin; kv0 < kv_end; kv0 += BK) {
    workgroupBarrier();
    for (var e = lid; e < BK * D4; e += BQ) {
      let key = min(kv0 + e / D4, p.tk - 1u);
      let c = (e % D4) * 4u;
      k_tile[e] = load_k4(k_head + key * p.k_strides.z, c);
      v_tile[e] = load_v4(v_head + key * p.v_strides.z, c);
    }
    for (var j = lid; j < BK; j += BQ) {
      let key = kv0 + j;
      key_visible[j] = select(0u, 1u, key < p.tk && !key_padded(batch, min(key, p.tk - 1u)));
    }
    workgroupBarrier();

    if (row_live) {
      let jn = min(BK, kv_end - kv0);
      for (var j = 0u; j < jn; j++) {
        let key = kv0 + j;
        var score = 0.0;
        var dp = 0.0;
        for (var c4 = 0u; c4 < D4; c4++) {
          score += dot(qrow[c4], k_tile[j * D4 + c4]);
          dp += dot(dorow[c4], v_tile[j * D4 + c4]);
        }
        if (use_mask) {
          score += mask_value(batch, head, i, key);
        }
        let pr = probability(score, row_stats.x, key_visible[j] != 0u && (!causal || key <= i));
        let ds = pr * (dp - row_stats.y);
        for (var c4 = 0u; c4 < D4; c4++) {
          dq[c4] += ds * k_tile[j * D4 + c4];
        }
      }
    }
  }

  if (row_live) {
    let dq_base = row_start(p.dq_offset, p.dq_strides, segment * p.batch + batch, head, row);
    for (var c = 0u; c < D; c++) {
      dq_out[dq_base + c] = G(dq[c / 4u][c % 4u] * p.scale);
    }
  }
}
