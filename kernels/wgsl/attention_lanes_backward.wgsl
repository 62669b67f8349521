// attention_lanes_backward.wgsl — gradients of fused attention for CPU-backed WebGPU (Mesa lavapipe),
// built like attention_lanes.wgsl: one workgroup is one subgroup of LANES invocations (one SIMD
// register), and operands every lane needs travel by subgroupShuffle instead of per-lane loads.
//
// What it computes (the math and the two-pass plan of attention_backward.wgsl, whose header has them)
//   With P_ij = exp(s_ij - L_i) recomputed from the scores and (L_i, delta_i) from the delta pre-pass:
//     dS_ij = P_ij (dO_i . v_j - delta_i),  dV_j = sum_i P_ij dO_i,
//     dK_j = scale * sum_i dS_ij q_i,       dQ_i = scale * sum_j dS_ij k_j.
//   attention_lanes_dkdv owns key rows and walks the queries; attention_lanes_dq owns query rows and
//   walks the keys. Masks and fully masked rows as in the forward; the additive mask gets no gradient.
//
// How work is split (both passes; "own" rows are ROWS per workgroup, the walked side comes in blocks
// of LANES * PER_LANE rows, PER_LANE per lane)
//   1. Scores and dP of the block, lanes own the walked rows: lane l computes s and dP for walked rows
//      l, l + LANES, ... against every own row. Walking d in vec4 chunks, a lane loads its walked rows'
//      chunks (K and V for dq; Q and dO for dkdv) and takes the own rows' chunks from the lane that
//      keeps them (subgroupShuffle): lane l keeps chunks l, l + LANES, ... of each own row.
//   2. P and dS element-wise, no communication: L_i and delta_i sit with whichever side owns query i.
//   3. Accumulation, lanes own output columns: for each walked row, every lane loads its chunks of that
//      row (K for dQ; dO and Q for dV and dK) and takes the row's P / dS from the lane that computed
//      them, by shuffle: the GEMM inner loop of matmul_lanes.wgsl with P or dS as the shuffled operand.
//   No workgroup memory, no barriers. Rows past the end (own or walked) are clamped to the last row and
//   masked out where they would count; own rows past the end compute an exact copy of the last row and
//   store it onto that row again, as in the forward.
//
// Why not attention_backward.wgsl on lavapipe
//   That kernel gives each invocation a whole row (four D-wide private arrays) and stages the other
//   side in workgroup memory: on an 8-wide SIMD CPU each lane's 4 x 64 floats live on the stack and the
//   barriers split every workgroup into coroutines. Its ViT-B backward (B=8, H=12, T=197, d=64) took
//   1131 ms; see the measured figures below for this kernel.
//
// Memory traffic
//   dkdv reads Q and dO twice per block of ROWS keys (once row-owned in part 1, once column-split in
//   part 3), dq reads K twice and V once per block of ROWS queries. Extra memory: the [B, H, Tq]
//   (L, delta) pairs from the pre-pass, O(T).
//
// Specialisation (kernels/attention.ts): T/M/KP as in attention.wgsl; `tiles` sets D, ROWS, PER_LANE and
// LANES; attention_common.wgsl's `inputs` blocks bind q, k, v and dO as array<vec4<T>> with single vec4 loads when the
// layouts allow (unit column stride, 4-aligned offsets and strides, D % 4 == 0), else as array<T>.
//
// Compile time: lavapipe compiles each pipeline with LLVM at its first dispatch; the delta, dK/dV and dQ
// pipelines together take 12-13 s at d = 16 and 32, 21 s at d = 64 and 26 s at d = 128 (2026-11-28), once
// per machine (Mesa's disk cache keeps them; attention_lanes.wgsl has the forward's figures).
//
// Constraints: `subgroups` with a subgroup size equal to LANES; Tq, Tk >= 1; grid <= 65535 per dimension.
//
// Measured (lavapipe 25.0.7, 2 cores, quiet machine, 2026-11-27; process CPU time / 2, best of 3, all three
// passes including the delta pre-pass; 'tiled' = attention_backward.wgsl forced, same run, f32):
//   ViT-B B=8 H=12 T=197 d=64 (16 rows):   lanes 204-222 ms (11 GFLOP/s counting 2.5x the forward's
//                                           flops), tiled 1101 ms  -> 5.0-5.4x
//                                           Later that day, with Dawn's polls paced (engine/platform.ts;
//                                           the busy poll had been counted in the CPU time): 129-133 ms,
//                                           18 GFLOP/s; part 1 as one helper (scores_and_dp) for both
//                                           passes measured 130-139 ms (three runs) vs 133 written out twice.
//   B=2 H=12 T=197: d=32 (16 rows) 49-56 ms vs 102; d=80 (8 rows) 154 vs 383; d=96 (8 rows) 151;
//   d=128 (8 rows) 200-259 vs 564-630.
//   Against the composition's backward (bench/attention-probe.ts, same ViT-B case, a later host, two
//   runs): fused 127.5 / 130 ms, composition 98.0 / 114 ms (dV = P^T dO, dP = dO V^T, the softmax
//   backward, dQ = dS K, dK = dS^T Q on the lanes GEMM): the fused passes are 1.1-1.3x slower here. They
//   recompute Q K^T and dO V^T in both passes, 7 T x T x d products against the composition's 4, which
//   reads the probabilities it stored (14.9 MB at ViT-B B=8, O(T^2)) and so has nothing to recompute.
//   `npm run bench -- backward` (forward + backward through autograd, ViT-B B=1, wall clock, four runs on
//   a slow shared host, 2026-11-28): fused 37.0-50.9 ms against the composition's 33.0-43.5 (0.98-1.19x
//   its time), tf.grads of TF.js's composition 216-245 ms (4.6-6.6x), jax-js jit(grad) 305-361 (7.1-8.6x).
//   Folding dK/dV's idle lanes at d = 16 (dV's 4 chunks on lanes 0-3, dK's on lanes 4-7, one accumulator
//   per lane instead of two) gave the same results and no measurable gain (B=32 H=4: T = 9, 17, 50 and
//   T = 197 within run-to-run noise, 2026-11-27); not kept, as for the forward's fold.
//   Tiles at d=64, own rows x walked rows per lane (ms): 4x2 428, 8x1 257, 8x2 293, 8x4 296, 12x2 228,
//   16x1 221, 16x2 204, 24x1 486, 24x2 748, 32x1 882: past 16 rows the row loops leave NIR's unroll
//   budget and the per-row arrays go to indirect memory, as in the forward. At d >= 80 (3+ chunks per
//   lane) 8 rows beat 16 (d = 128: 259 vs 348 ms).

enable subgroups;

alias T = f32;
alias M = f32;
alias KP = u32;

/*@tiles*/
const D: u32 = 64u;
const ROWS: u32 = 8u;
const PER_LANE: u32 = 2u;
const LANES: u32 = 8u;
/*@end*/
const CB: u32 = (D4 + LANES - 1u) / LANES;  // vec4 column chunks each lane keeps per own row
const WB: u32 = LANES * PER_LANE;           // walked rows per block

// The uniforms `p` (struct Params), the FLAG_* constants, D4 (vec4 chunks per row), neg_inf, the bindings
// of q, k, v, the masks, dO and the packed (L_i, delta_i) (1-7), the row loaders load_q4 / load_k4 /
// load_v4 / load_do4 and the mask readers key_padded, mask_value and probability live in
// attention_common.wgsl, which the launcher appends to this file.

// Write columns c..c+3 (those below D) of the gradient row starting at element `base` (unit column stride).
fn store4_dkv(base: u32, c: u32, x: vec4<f32>) {
  for (var e = 0u; e < 4u; e++) {
    if (c + e < D) { dkv[base + c + e] = T(x[e]); }
  }
}

fn store4_dq(base: u32, c: u32, x: vec4<f32>) {
  for (var e = 0u; e < 4u; e++) {
    if (c + e < D) { dq_out[base + c + e] = T(x[e]); }
  }
}

// Walked-row loaders of part 1: the dK/dV pass walks q and dO rows, the dQ pass k and v rows. Each call
// passes a literal `walk_queries`, so the branch folds away once the call is inlined.
fn load_walked_s(walk_queries: bool, base: u32, c: u32) -> vec4<f32> {
  if (walk_queries) { return load_q4(base, c); }
  return load_k4(base, c);
}

fn load_walked_dp(walk_queries: bool, base: u32, c: u32) -> vec4<f32> {
  if (walk_queries) { return load_do4(base, c); }
  return load_v4(base, c);
}

// Part 1 of both passes: for every own row r and this lane's walked rows t (starting at elements
// s_rows[t] and dp_rows[t]), s[r, t] = own_s[r] . walked_s[t] and dp[r, t] = own_dp[r] . walked_dp[t].
// dK/dV owns (k, v) and walks (q, dO), dQ the other way round, so the scores are q . k and dP is dO . v
// in both. One vec4 column chunk c4 = cb * LANES + kk at a time: each lane loads its walked rows'
// chunk, and the own rows' chunk comes from lane kk, which keeps chunks kk, kk + LANES, ...
fn scores_and_dp(walk_queries: bool, own_s: ptr<function, array<vec4<f32>, ROWS * CB>>, own_dp: ptr<function, array<vec4<f32>, ROWS * CB>>,
                 s_rows: array<u32, PER_LANE>, dp_rows: array<u32, PER_LANE>,
                 s: ptr<function, array<f32, ROWS * PER_LANE>>, dp: ptr<function, array<f32, ROWS * PER_LANE>>) {
  for (var r = 0u; r < ROWS; r++) {
    for (var t = 0u; t < PER_LANE; t++) {
      (*s)[r * PER_LANE + t] = 0.0;
      (*dp)[r * PER_LANE + t] = 0.0;
    }
  }
  for (var cb = 0u; cb < CB; cb++) {
    for (var kk = 0u; kk < LANES; kk++) {
      let c4 = cb * LANES + kk;
      if (c4 < D4) {
        var walked_s: array<vec4<f32>, PER_LANE>;
        var walked_dp: array<vec4<f32>, PER_LANE>;
        for (var t = 0u; t < PER_LANE; t++) {
          walked_s[t] = load_walked_s(walk_queries, s_rows[t], c4 * 4u);
          walked_dp[t] = load_walked_dp(walk_queries, dp_rows[t], c4 * 4u);
        }
        for (var r = 0u; r < ROWS; r++) {
          let own_s_chunk = subgroupShuffle((*own_s)[r * CB + cb], kk);
          let own_dp_chunk = subgroupShuffle((*own_dp)[r * CB + cb], kk);
          for (var t = 0u; t < PER_LANE; t++) {
            (*s)[r * PER_LANE + t] += dot(walked_s[t], own_s_chunk);
            (*dp)[r * PER_LANE + t] += dot(walked_dp[t], own_dp_chunk);
          }
        }
      }
    }
  }
}

// ---- attention_lanes_dkdv: own ROWS key rows, walk the queries ------------------------------------

@group(0) @binding(8) var<storage, read_write> dkv: array<T>;  // holds dK and dV, at dk_offset / dv_offset and their strides

@compute @workgroup_size(LANES)
fn attention_lanes_dkdv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let batch = wid.z;
  let head = wid.y;
  let k0 = wid.x * ROWS;
  let causal = (p.flags & FLAG_CAUSAL) != 0u;
  let use_mask = (p.flags & FLAG_MASK) != 0u;

  // Own key rows (clamped: rows past Tk replicate row Tk - 1): chunks lane, lane + LANES, ... of
  // k_j * scale and v_j, whether the key can be seen at all, and the dK / dV accumulators.
  var k_mine: array<vec4<f32>, ROWS * CB>;
  var v_mine: array<vec4<f32>, ROWS * CB>;
  var dk: array<vec4<f32>, ROWS * CB>;
  var dv: array<vec4<f32>, ROWS * CB>;
  var key_at: array<u32, ROWS>;
  var key_on: array<bool, ROWS>;
  let k_head = p.k_offset + batch * p.k_strides.x + head * p.k_strides.y;
  let v_head = p.v_offset + batch * p.v_strides.x + head * p.v_strides.y;
  for (var r = 0u; r < ROWS; r++) {
    let key = min(k0 + r, p.tk - 1u);
    key_at[r] = key;
    key_on[r] = !key_padded(batch, key);
    for (var cb = 0u; cb < CB; cb++) {
      let c = min(cb * LANES + lane, D4 - 1u) * 4u;
      k_mine[r * CB + cb] = load_k4(k_head + key * p.k_strides.z, c) * p.scale;
      v_mine[r * CB + cb] = load_v4(v_head + key * p.v_strides.z, c);
      dk[r * CB + cb] = vec4<f32>(0.0);
      dv[r * CB + cb] = vec4<f32>(0.0);
    }
  }
  let q_head = p.q_offset + batch * p.q_strides.x + head * p.q_strides.y;
  let do_head = p.do_offset + batch * p.do_strides.x + head * p.do_strides.y;
  let stats_head = (batch * p.heads + head) * p.tq;
  let minus_inf = neg_inf();
  var col: array<u32, CB>;  // this lane's output column chunks
  for (var cb = 0u; cb < CB; cb++) {
    col[cb] = min(cb * LANES + lane, D4 - 1u) * 4u;
  }

  // Causal: a query before the block's first key sees none of its keys.
  for (var i0 = select(0u, k0, causal); i0 < p.tq; i0 += WB) {
    // 1. Scores and dP for this lane's queries i0 + t * LANES + lane.
    var q_rows: array<u32, PER_LANE>;
    var do_rows: array<u32, PER_LANE>;
    for (var t = 0u; t < PER_LANE; t++) {
      let i = min(i0 + t * LANES + lane, p.tq - 1u);
      q_rows[t] = q_head + i * p.q_strides.z;
      do_rows[t] = do_head + i * p.do_strides.z;
    }
    var s: array<f32, ROWS * PER_LANE>;
    var dp: array<f32, ROWS * PER_LANE>;
    scores_and_dp(true, &k_mine, &v_mine, q_rows, do_rows, &s, &dp);

    // 2. P into s and dS into dp, for this lane's queries.
    for (var t = 0u; t < PER_LANE; t++) {
      let i = i0 + t * LANES + lane;
      let row_stats = select(vec2<f32>(minus_inf, 0.0), stats[stats_head + min(i, p.tq - 1u)], i < p.tq);
      for (var r = 0u; r < ROWS; r++) {
        var score = s[r * PER_LANE + t];
        if (use_mask) {
          score += mask_value(batch, head, min(i, p.tq - 1u), key_at[r]);
        }
        let pr = probability(score, row_stats.x, key_on[r] && (!causal || key_at[r] <= i));
        s[r * PER_LANE + t] = pr;
        dp[r * PER_LANE + t] = pr * (dp[r * PER_LANE + t] - row_stats.y);
      }
    }

    // 3. dV += P^T dO and dK += dS^T Q: query i0 + t * LANES + kk lives in lane kk.
    for (var t = 0u; t < PER_LANE; t++) {
      for (var kk = 0u; kk < LANES; kk++) {
        let i = i0 + t * LANES + kk;
        if (i < p.tq) {
          var qc: array<vec4<f32>, CB>;
          var doc: array<vec4<f32>, CB>;
          for (var cb = 0u; cb < CB; cb++) {
            qc[cb] = load_q4(q_head + i * p.q_strides.z, col[cb]);
            doc[cb] = load_do4(do_head + i * p.do_strides.z, col[cb]);
          }
          for (var r = 0u; r < ROWS; r++) {
            let pr = vec4<f32>(subgroupShuffle(s[r * PER_LANE + t], kk));
            let ds = vec4<f32>(subgroupShuffle(dp[r * PER_LANE + t], kk));
            for (var cb = 0u; cb < CB; cb++) {
              dv[r * CB + cb] = fma(pr, doc[cb], dv[r * CB + cb]);
              dk[r * CB + cb] = fma(ds, qc[cb], dk[r * CB + cb]);
            }
          }
        }
      }
    }
  }

  for (var cb = 0u; cb < CB; cb++) {
    for (var r = 0u; r < ROWS; r++) {
      store4_dkv(row_start(p.dk_offset, p.dk_strides, batch, head, key_at[r]), (cb * LANES + lane) * 4u, dk[r * CB + cb] * p.scale);
      store4_dkv(row_start(p.dv_offset, p.dv_strides, batch, head, key_at[r]), (cb * LANES + lane) * 4u, dv[r * CB + cb]);
    }
  }
}

// ---- attention_lanes_dq: own ROWS query rows, walk the keys ---------------------------------------

@group(0) @binding(8) var<storage, read_write> dq_out: array<T>;  // dQ at dq_offset and dq_strides

@compute @workgroup_size(LANES)
fn attention_lanes_dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let batch = wid.z;
  let head = wid.y;
  let q0 = wid.x * ROWS;
  let causal = (p.flags & FLAG_CAUSAL) != 0u;
  let use_mask = (p.flags & FLAG_MASK) != 0u;

  // Own query rows (clamped): chunks of q_i * scale and dO_i, the row's (L, delta), the dQ accumulators.
  var q_mine: array<vec4<f32>, ROWS * CB>;
  var do_mine: array<vec4<f32>, ROWS * CB>;
  var dq: array<vec4<f32>, ROWS * CB>;
  var row_at: array<u32, ROWS>;
  var row_stats: array<vec2<f32>, ROWS>;
  let q_head = p.q_offset + batch * p.q_strides.x + head * p.q_strides.y;
  let do_head = p.do_offset + batch * p.do_strides.x + head * p.do_strides.y;
  let stats_head = (batch * p.heads + head) * p.tq;
  for (var r = 0u; r < ROWS; r++) {
    let i = min(q0 + r, p.tq - 1u);
    row_at[r] = i;
    row_stats[r] = stats[stats_head + i];
    for (var cb = 0u; cb < CB; cb++) {
      let c = min(cb * LANES + lane, D4 - 1u) * 4u;
      q_mine[r * CB + cb] = load_q4(q_head + i * p.q_strides.z, c) * p.scale;
      do_mine[r * CB + cb] = load_do4(do_head + i * p.do_strides.z, c);
      dq[r * CB + cb] = vec4<f32>(0.0);
    }
  }
  let k_head = p.k_offset + batch * p.k_strides.x + head * p.k_strides.y;
  let v_head = p.v_offset + batch * p.v_strides.x + head * p.v_strides.y;
  var col: array<u32, CB>;
  for (var cb = 0u; cb < CB; cb++) {
    col[cb] = min(cb * LANES + lane, D4 - 1u) * 4u;
  }

  // Causal blocks need no key past their last row.
  let kv_end = select(p.tk, min(p.tk, q0 + ROWS), causal);
  for (var kv0 = 0u; kv0 < kv_end; kv0 += WB) {
    // 1. Scores and dP for this lane's keys kv0 + t * LANES + lane.
    var k_rows: array<u32, PER_LANE>;
    var v_rows: array<u32, PER_LANE>;
    for (var t = 0u; t < PER_LANE; t++) {
      let key = min(kv0 + t * LANES + lane, p.tk - 1u);
      k_rows[t] = k_head + key * p.k_strides.z;
      v_rows[t] = v_head + key * p.v_strides.z;
    }
    var s: array<f32, ROWS * PER_LANE>;
    var dp: array<f32, ROWS * PER_LANE>;
    scores_and_dp(false, &q_mine, &do_mine, k_rows, v_rows, &s, &dp);

    // 2. dS into dp, for this lane's keys.
    for (var t = 0u; t < PER_LANE; t++) {
      let key = kv0 + t * LANES + lane;
      let key_on = key < kv_end && !key_padded(batch, min(key, p.tk - 1u));
      for (var r = 0u; r < ROWS; r++) {
        var score = s[r * PER_LANE + t];
        if (use_mask) {
          score += mask_value(batch, head, row_at[r], min(key, p.tk - 1u));
        }
        let pr = probability(score, row_stats[r].x, key_on && (!causal || key <= row_at[r]));
        dp[r * PER_LANE + t] = pr * (dp[r * PER_LANE + t] - row_stats[r].y);
      }
    }

    // 3. dQ += dS K: key kv0 + t * LANES + kk lives in lane kk.
    for (var t = 0u; t < PER_LANE; t++) {
      for (var kk = 0u; kk < LANES; kk++) {
        let key = kv0 + t * LANES + kk;
        if (key < kv_end) {
          var kc: array<vec4<f32>, CB>;
          for (var cb = 0u; cb < CB; cb++) {
            kc[cb] = load_k4(k_head + key * p.k_strides.z, col[cb]);
          }
          for (var r = 0u; r < ROWS; r++) {
            let ds = vec4<f32>(subgroupShuffle(dp[r * PER_LANE + t], kk));
            for (var cb = 0u; cb < CB; cb++) {
              dq[r * CB + cb] = fma(ds, kc[cb], dq[r * CB + cb]);
            }
          }
        }
      }
    }
  }

  for (var cb = 0u; cb < CB; cb++) {
    for (var r = 0u; r < ROWS; r++) {
      store4_dq(row_start(p.dq_offset, p.dq_strides, batch, head, row_at[r]), (cb * LANES + lane) * 4u, dq[r * CB + cb] * p.scale);
    }
  }
}
