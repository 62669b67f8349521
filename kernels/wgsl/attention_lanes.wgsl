// attention_lanes.wgsl — fused scaled-dot-product attention forward for CPU-backed WebGPU (Mesa lavapipe),
// structured like matmul_lanes.wgsl: one workgroup is one subgroup of LANES invocations, i.e. one SIMD
// register, and operands shared by every lane travel by subgroupShuffle instead of per-lane loads.
//
// What it computes (same contract as attention.wgsl, whose header has the details)
//   out_i = sum_j softmax_j(scale * q_i . k_j + mask_ij) v_j and lse_i = log sum_j exp(s_ij) (f32), with
//   key-padding, causal (top-left aligned) and additive masks; a row that sees no key gets out_i = 0 and
//   lse_i = -inf. q/k/v are read through element strides.
//
// How work is split
//   Workgroup (x, y, z) = (block of ROWS query rows, head, batch). Keys advance in blocks of KB =
//   LANES * KPL. Nothing Tq x Tk exists: per block each lane holds ROWS x KPL scores.
//   1. Scores, lanes own keys: lane l scores keys kv0 + t * LANES + l (t < KPL) against the ROWS query
//      rows. Walking d in vec4 chunks, each lane loads its keys' chunk (a vec4 load of a contiguous K
//      row) and takes the query chunk from the lane that holds it: lane l keeps query chunks
//      l, l + LANES, ... of every row (pre-scaled) and subgroupShuffle broadcasts them.
//   2. Online softmax per row across lanes: the block maximum over the subgroup (LANES shuffles, see
//      below) gives the new running maximum, uniform over the subgroup; each lane rescales its partial
//      row sum and accumulators by exp(m_old - m_new) and turns its scores into probabilities. The
//      partial row sums meet once, at the end.
//   3. P V, lanes own output columns: lane l accumulates vec4 column chunks l, l + LANES, ... of the
//      ROWS output rows. Per key every lane loads its chunk of the V row (lanes read one contiguous row)
//      and takes p_rj from the lane that owns key j by subgroupShuffle — the GEMM's inner loop with P as
//      the shuffled operand.
//   No workgroup memory and no barriers, so lavapipe runs each workgroup as one straight function call.
//
// Memory traffic
//   Q and the output once; K and V once per block of ROWS query rows; the additive mask and the
//   key-padding mask once per score. Extra memory: the [B, H, Tq] lse only — O(T).
//
// Specialisation (kernels/attention.ts)
//   T/M/KP as in attention.wgsl; the `tiles` block sets D, ROWS, KPL and LANES (the subgroup size the
//   launcher read from the adapter). The `inputs` block (attention_common.wgsl) and the `output` block
//   declare q, k, v and out: as array<vec4<T>> with the vec4 loads/stores below when q, k, v and out
//   have unit column stride and 4-aligned offsets and row/head/batch strides (and D % 4 == 0) — one
//   load instruction instead of four, as in the GEMM — else as array<T>.
//
// Why it is written this way (lavapipe 25.0.7, 2 cores, read off GALLIVM_DEBUG=ir/asm dumps)
//   - Every loop over rows that touches per-row private arrays must be unrolled by NIR (trip count x
//     body size under its limit), or the arrays stay in memory with indirect indexing, which lavapipe
//     lowers to per-lane loops: with one big per-row softmax loop this kernel took 75 ms instead of 52
//     on ViT-B below. Hence the many short row loops in part 2 and at the end.
//   - subgroupMax / subgroupAdd are per-lane loops with a branch each; LANES shuffles from constant lanes
//     (extract + broadcast) are cheaper, so the maxima and sums use those.
//   - A storage load whose address differs per lane is LANES bounds-checked scalar loads; that is what
//     the K and V loads cost (about 6 instructions per element) and why more rows per workgroup (fewer
//     re-reads of K and V) win until the per-lane state spills too much. ffma is lowered to mul + add.
//   Breakdown at ViT-B (f32, 16 rows, before the paced polls, 53 ms in all): scores ~18 ms, P V ~26 ms,
//   masks/softmax/rest ~9 ms. P V's accumulators (ROWS x CB vec4 per lane) outgrow the register file.
//   - The transposed design, lanes owning query rows so that every K and V address is the same in all
//     lanes (q rows and accumulators per lane, no shuffles, a plain per-row softmax), was prototyped
//     outside the engine on 2026-11-27: 137 ms with 4 rows per lane, 220 with 2, 384-393 with 1, against
//     33.6 for this kernel. Mesa 25.0.7's gallivm emits a subgroup-uniform address as the same per-lane
//     loop as a divergent one (later gallivm versions scalarise uniform values), so uniform loads buy
//     nothing here and the subgroupShuffle broadcasts stay.
//
// Compile time (the price of the unrolled row loops)
//   Lavapipe compiles a pipeline with LLVM at its first dispatch, and the unrolled code grows with ROWS:
//   at d = 16, 0.86 s with 4 rows, 2.3 s with 8, 3.9 s with 16 and 8.5 s with 32; 9.9 s at d = 64 (24
//   rows). 32 rows still win at d <= 32, where they run 1.3-1.9x faster than 16 (the main job's B=32 H=4
//   T=17 and 50, B=2 H=12 T=197 at d = 16 and 32; 2026-11-28). Mesa's disk cache keeps the result, so
//   only a machine's first run pays it.
//
// Constraints
//   Needs `subgroups` with a subgroup size equal to LANES; Tq, Tk >= 1; grid <= 65535 per dimension.
//   Any D in 1..256 compiles; per-lane state grows with ROWS * ceil(D / (4 * LANES)) (the launcher picks
//   ROWS by that). Rows past Tq compute an exact copy of row Tq - 1 (clamped query, clamped causal
//   limit) and store it there again, which keeps the store loop branch-free.
//
// Measured (bench/attention-probe.ts with PROBE_CPU_TIME=1: process CPU time / 2, best of 3 batches;
// lavapipe 25.0.7 on 2 cores of a shared Xeon, f32 unless noted, LANES = 8, KPL = 2, ROWS from the
// launcher: 24 at d = 64; 'unfused' = mul + matmul (matmul_lanes.wgsl) + softmax + matmul, with an
// additive -inf mask where causal; 'tiled' = attention.wgsl forced)
//                                      this kernel           unfused                         ratio
//   ViT-B B=8 H=12 T=197 d=64          36.1 ms (26 GFLOP/s)   52.6 ms (Q K^T 21.3, P V 25.0,   1.46x
//                                                             softmax ~7.5, scaling 2.3)
//     the same on a later host         42.6 ms (22 GFLOP/s)   60.0 ms                          1.41x
//     (that host runs lavapipe's GEMMs ~2x slower in wall clock, numpy 1.4x faster: the ratio held)
//   ViT-B causal                       25.2 ms (causal blocks stop at their last row)
//   Before Dawn's polls were paced (engine/platform.ts), both sides then paying a busy-polling core:
//   ViT-B causal                       34-36 ms              126 ms                           3.7x
//   text B=8 H=8 T=77 d=64 causal      4.6 ms                17.4 ms                          3.8x
//   B=2 H=12 T=197, later host: d=32 (32 rows) 7.2 ms, d=80 (16 rows) 35 ms, d=96 48 ms, d=128 (16 rows)
//   40 ms; f16 runs the same f32 math (ViT-B 42 ms there). The tiled kernel: ViT-B 319 ms.
//   Memory: the output and the [B, H, Tq] lse only (4.8 MB + 76 KB at ViT-B), against 39.5 MB of scores
//   and probabilities for the composition.
//   The issue's target, 3x the unfused composition at ViT-B, is NOT met: the composition's two GEMMs alone
//   take 46 of its 52.6 ms, so 3x would need this kernel at ~17.5 ms, ~55 GFLOP/s, above what the GEMM
//   itself reaches on this adapter (34-42 GFLOP/s at 1024^3).
//
// Tried and not kept (same probe, ViT-B unless noted)
//   - Tiles at d = 64: rows 4/8/12/16/24/32 x keys per lane 1/2/4; 24 rows x 2 keys is best (4 rows: 180
//     ms). At 32 rows with 2 chunks per lane the row loops exceed NIR's unroll budget, the per-row arrays
//     go to indirect memory and the time triples; a loop of more than 32 trips is never unrolled (zeroing
//     the scores in one loop over ROWS * KPL = 48 trips made 24 rows as slow as 32). d <= 32 (one chunk per
//     lane) takes 32 rows.
//   - Chaining 2 keys per accumulator write in P V (the GEMM's trick): within noise (64 vs 68 ms, before
//     the paced polls); 4 keys, or 2 chunks per score write: slower (140 / 82 ms).
//   - Lanes owning query rows (see above): 137-393 ms against 33.6.
//   - LP_NATIVE_VECTOR_WIDTH=512 (16-wide subgroups): 915 ms instead of 38.
//   - The main job's small shapes (d = 16, T = 7..50, B = 32, H = 4) cost per row block, not per flop:
//     ~0.96 ms at T = 17 whether d is 16 or 64, ~5 us per 32-row workgroup. Fewer rows or keys per block
//     helped only at T <= 8 (8 rows, 1 key per lane: 0.40 vs 0.98 ms forward; 1.27 vs 1.87 backward),
//     not adopted for one modality's ~1 s. Folding P V's idle lanes at d = 16 (4 chunks on 8 lanes: two
//     row groups) won 10-15% at d = 16 in one form but cost 30% at d = 64, and lost 25-30% at d = 16 in
//     the other: NIR's unrolling decides these, not the arithmetic.

enable subgroups;

alias T = f32;
alias M = f32;
alias KP = u32;

/*@tiles*/
const D: u32 = 64u;
const ROWS: u32 = 8u;
const KPL: u32 = 2u;
const LANES: u32 = 8u;
/*@end*/
const CB: u32 = (D4 + LANES - 1u) / LANES;  // vec4 column chunks each lane keeps per row
const KB: u32 = LANES * KPL;                // keys per block

// The uniforms `p` (struct Params), the FLAG_* constants, D4 (vec4 chunks per row), neg_inf, the q, k, v
// and mask bindings (1-5) and the row loaders load_q4 / load_k4 / load_v4 (their vec4 bodies swapped in
// with the `inputs` block) live in attention_common.wgsl, which the launcher appends to this file.

/*@output*/
@group(0) @binding(6) var<storage, read_write> out: array<T>;
/*@end*/
@group(0) @binding(7) var<storage, read_write> lse: array<f32>;

// Writes columns c..c+3 of the output row starting at element `base` (unit column stride), those below D (with the vec4 operands, D % 4 == 0
// and `out` is array<vec4<T>> too).
fn store4(base: u32, c: u32, x: vec4<f32>) {
  /*@store4*/
  for (var e = 0u; e < 4u; e++) {
    if (c + e < D) {
      out[base + c + e] = T(x[e]);
    }
  }
  /*@end*/
}

@compute @workgroup_size(LANES)
fn attention_lanes_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let batch = wid.z;
  let head = wid.y;
  let q0 = wid.x * ROWS;
  let causal = (p.flags & FLAG_CAUSAL) != 0u;
  let use_kpm = (p.flags & FLAG_KEY_PADDING) != 0u;
  let use_mask = (p.flags & FLAG_MASK) != 0u;
  let minus_inf = neg_inf();

  // Query chunks lane, lane + LANES, ... of every row (rows past Tq read row Tq - 1 and store nothing;
  // chunks past D4 are clamped and never shuffled).
  var q_mine: array<vec4<f32>, ROWS * CB>;
  let q_head = p.q_offset + batch * p.q_strides.x + head * p.q_strides.y;
  for (var r = 0u; r < ROWS; r++) {
    let q_row = q_head + min(q0 + r, p.tq - 1u) * p.q_strides.z;
    for (var cb = 0u; cb < CB; cb++) {
      q_mine[r * CB + cb] = load_q4(q_row, min(cb * LANES + lane, D4 - 1u) * 4u) * p.scale;
    }
  }
  let k_head = p.k_offset + batch * p.k_strides.x + head * p.k_strides.y;
  let v_head = p.v_offset + batch * p.v_strides.x + head * p.v_strides.y;
  let mask_head = p.mask_offset + batch * p.mask_strides.x + head * p.mask_strides.y;

  var acc: array<vec4<f32>, ROWS * CB>;  // output chunks cb * LANES + lane of every row
  var m: array<f32, ROWS>;               // running row maximum (uniform across lanes)
  var l_part: array<f32, ROWS>;          // this lane's part of the running row sum of exp(s - m)
  for (var r = 0u; r < ROWS; r++) {
    m[r] = minus_inf;
    l_part[r] = 0.0;
    for (var cb = 0u; cb < CB; cb++) {
      acc[r * CB + cb] = vec4<f32>(0.0);
    }
  }

  // Causal blocks need no key past their last row.
  let kv_end = select(p.tk, min(p.tk, q0 + ROWS), causal);
  for (var kv0 = 0u; kv0 < kv_end; kv0 += KB) {
    // 1. Scores of this lane's keys.
    var key_rows: array<u32, KPL>;
    for (var t = 0u; t < KPL; t++) {
      key_rows[t] = k_head + min(kv0 + t * LANES + lane, p.tk - 1u) * p.k_strides.z;
    }
    var s: array<f32, ROWS * KPL>;
    for (var r = 0u; r < ROWS; r++) {
      for (var t = 0u; t < KPL; t++) {
        s[r * KPL + t] = 0.0;
      }
    }
    for (var cb = 0u; cb < CB; cb++) {
      for (var kk = 0u; kk < LANES; kk++) {
        let c4 = cb * LANES + kk;
        if (c4 < D4) {
          var kv: array<vec4<f32>, KPL>;
          for (var t = 0u; t < KPL; t++) {
            kv[t] = load_k4(key_rows[t], c4 * 4u);
          }
          for (var r = 0u; r < ROWS; r++) {
            let qv = subgroupShuffle(q_mine[r * CB + cb], kk);
            for (var t = 0u; t < KPL; t++) {
              s[r * KPL + t] += dot(qv, kv[t]);
            }
          }
        }
      }
    }

    // 2. Masks and the online softmax, as several short loops over the rows: NIR unrolls loops only
    //    while trip count x body stays small, and a row loop left rolled turns every per-row array
    //    access into indirect private-memory traffic, which on lavapipe cost more than all the math.
    var key_on: array<bool, KPL>;
    for (var t = 0u; t < KPL; t++) {
      let key = kv0 + t * LANES + lane;
      var on = key < kv_end;
      if (on && use_kpm) {
        on = kpm[p.kpm_offset + batch * p.kpm_strides.x + key * p.kpm_strides.y] == KP(0);
      }
      key_on[t] = on;
    }
    if (use_mask) {
      for (var r = 0u; r < ROWS; r++) {
        let mask_row = mask_head + min(q0 + r, p.tq - 1u) * p.mask_strides.z;
        for (var t = 0u; t < KPL; t++) {
          s[r * KPL + t] += f32(mask[mask_row + min(kv0 + t * LANES + lane, p.tk - 1u) * p.mask_strides.w]);
        }
      }
    }
    var lane_max: array<f32, ROWS>;
    for (var r = 0u; r < ROWS; r++) {
      var row_max = minus_inf;
      for (var t = 0u; t < KPL; t++) {
        let key = kv0 + t * LANES + lane;
        let score = select(minus_inf, s[r * KPL + t], key_on[t] && (!causal || key <= min(q0 + r, p.tq - 1u)));
        s[r * KPL + t] = score;
        row_max = max(row_max, score);
      }
      lane_max[r] = row_max;
    }
    // Block maximum per row over the subgroup, by broadcasting each lane in turn: shuffles from a
    // uniform lane are cheap on lavapipe, whose subgroupMax is a per-lane loop with a branch each.
    var block_max = m;
    for (var kk = 0u; kk < LANES; kk++) {
      for (var r = 0u; r < ROWS; r++) {
        block_max[r] = max(block_max[r], subgroupShuffle(lane_max[r], kk));
      }
    }
    // With nothing visible yet every p is selected to 0, so any finite reference point will do; the
    // selects keep -inf out of all arithmetic (lavapipe's exp(-inf) is not 0, and -inf - -inf is NaN).
    var alpha: array<f32, ROWS>;
    var m_ref: array<f32, ROWS>;
    for (var r = 0u; r < ROWS; r++) {
      m_ref[r] = select(block_max[r], 0.0, block_max[r] == minus_inf);
      alpha[r] = select(exp(m[r] - m_ref[r]), 0.0, m[r] == minus_inf);
      m[r] = block_max[r];
    }
    for (var r = 0u; r < ROWS; r++) {
      var l = l_part[r] * alpha[r];
      for (var t = 0u; t < KPL; t++) {
        let score = s[r * KPL + t];
        let pr = select(exp(score - m_ref[r]), 0.0, score == minus_inf);
        s[r * KPL + t] = pr;
        l += pr;
      }
      l_part[r] = l;
    }
    for (var r = 0u; r < ROWS; r++) {
      for (var cb = 0u; cb < CB; cb++) {
        acc[r * CB + cb] *= alpha[r];
      }
    }

    // 3. P V: key kv0 + t * LANES + kk lives in lane kk's s[., t].
    var v_chunk: array<u32, CB>;
    for (var cb = 0u; cb < CB; cb++) {
      v_chunk[cb] = min(cb * LANES + lane, D4 - 1u) * 4u;
    }
    for (var t = 0u; t < KPL; t++) {
      for (var kk = 0u; kk < LANES; kk++) {
        let key = kv0 + t * LANES + kk;
        if (key < kv_end) {
          let v_row = v_head + key * p.v_strides.z;
          var vv: array<vec4<f32>, CB>;
          for (var cb = 0u; cb < CB; cb++) {
            vv[cb] = load_v4(v_row, v_chunk[cb]);
          }
          for (var r = 0u; r < ROWS; r++) {
            let pr = vec4<f32>(subgroupShuffle(s[r * KPL + t], kk));
            for (var cb = 0u; cb < CB; cb++) {
              acc[r * CB + cb] = fma(pr, vv[cb], acc[r * CB + cb]);
            }
          }
        }
      }
    }
  }

  // Row sums over the subgroup, broadcast like the maxima; then the output, row by row in short
  // loops (see part 2 on why).
  var l_sum: array<f32, ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    l_sum[r] = 0.0;
  }
  for (var kk = 0u; kk < LANES; kk++) {
    for (var r = 0u; r < ROWS; r++) {
      l_sum[r] += subgroupShuffle(l_part[r], kk);
    }
  }
  // l >= 1 once any key is visible (the maximum contributes exp(0)), so l == 0 means fully masked.
  for (var r = 0u; r < ROWS; r++) {
    let inv = select(1.0 / l_sum[r], 0.0, l_sum[r] == 0.0);
    for (var cb = 0u; cb < CB; cb++) {
      acc[r * CB + cb] *= inv;
    }
  }
  // Rows past Tq replicate row Tq - 1 exactly (same query, same visible keys), so storing them onto
  // that row rewrites identical values and the loops need no branch (every lane stores the same lse).
  for (var cb = 0u; cb < CB; cb++) {
    for (var r = 0u; r < ROWS; r++) {
      store4(row_start(p.o_offset, p.o_strides, batch, head, min(q0 + r, p.tq - 1u)), (cb * LANES + lane) * 4u, acc[r * CB + cb]);
    }
  }
  let lse_head = (batch * p.heads + head) * p.tq;
  for (var r = 0u; r < ROWS; r++) {
    lse[lse_head + min(q0 + r, p.tq - 1u)] = select(m[r] + log(l_sum[r]), minus_inf, l_sum[r] == 0.0);
  }
}
