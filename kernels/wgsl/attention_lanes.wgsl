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
//   launcher read from the adapter). The `operands` block declares q, k, v and out: as array<vec4<T>>
//   with the vec4 loads/stores below when q, k and v have unit column stride and 4-aligned offsets and
//   row/head/batch strides (and D % 4 == 0) — one load instruction instead of four, as in the GEMM —
//   else as array<T>.
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
//   Measured breakdown at ViT-B (f32, 16 rows): scores ~18 ms, P V ~26 ms, masks/softmax/rest ~9 ms.
//   - The transposed design, lanes owning query rows so that every K and V address is the same in all
//     lanes (q rows and accumulators per lane, no shuffles, a plain per-row softmax), was prototyped
//     outside the engine on 2026-11-27: 137 ms with 4 rows per lane, 220 with 2, 384-393 with 1, against
//     33.6 for this kernel. Mesa 25.0.7's gallivm emits a subgroup-uniform address as the same per-lane
//     loop as a divergent one (later gallivm versions scalarise uniform values), so uniform loads buy
//     nothing here and the subgroupShuffle broadcasts stay.
//
// Constraints
//   Needs `subgroups` with a subgroup size equal to LANES; Tq, Tk >= 1; grid <= 65535 per dimension.
//   Any D in 1..256 compiles; per-lane state grows with ROWS * ceil(D / (4 * LANES)) (the launcher picks
//   ROWS by that). Rows past Tq compute an exact copy of row Tq - 1 (clamped query, clamped causal
//   limit) and store it there again, which keeps the store loop branch-free.
//
// Measured (lavapipe 25.0.7, 2 cores, shared machine; process CPU time / 2 as in bench/attention-probe.ts
// with PROBE_CPU_TIME=1, best of 3; 'tiled' = attention.wgsl forced, 'unfused' = mul + matmul ('lanes'
// GEMM) + softmax + matmul, plus an additive -inf mask where causal; LANES = 8, KPL = 2, f32):
//   ViT-B B=8 H=12 T=197 d=64 (16 rows):  lanes 51-57 ms (17-18 GFLOP/s), tiled 319 ms, unfused 112-123 ms
//     -> 2.0-2.2x faster than the unfused composition (probe: 57.4 vs 122.8 ms, ratio 2.14) and ~6x
//     faster than the tiled kernel (2026-11-26).
//   2026-11-27, after the lanes GEMM got ~2x faster (matmul_lanes.wgsl), which speeds up the unfused
//   composition too: 24 rows 59-63 ms (15-16 GFLOP/s, 16 rows 63-67), unfused 98-105 ms -> 1.6-1.8x.
//   Later that day, with Dawn's polls paced (engine/platform.ts: its busy poll had taken a core from
//   lavapipe and was counted in the process CPU time): 36.0-38.2 ms (25-26 GFLOP/s), unfused 57-69 ms
//   -> 1.6-1.8x in three runs; causal 25.2 ms. The issue's target, 3x faster than unfused (~23 ms, i.e. ~41 GFLOP/s, above what
//   our best GEMM reaches on this adapter: 34-37 at 1024^3), is NOT met for the non-causal ViT-B case.
//   Then softmax.wgsl's vec4 column form made the composition's softmax 1.7x faster (13.0 -> 7.4 ms):
//   fused 36.1 ms, unfused 52.6 ms (mul 2.3 + Q K^T 21.3 + softmax ~7.5 + P V 25.0) -> 1.46x. The two
//   GEMMs alone take 46 ms; 3x would need this kernel at ~17.5 ms, i.e. ~55 GFLOP/s.
//   Small head dims and short sequences (the main job: d = 16, T = 7..50, B = 32, H = 4): the time is
//   per row and key block, not per flop. At T = 17 the kernel takes ~0.96 ms whether d is 16 or 64, and
//   doubling B doubles it (~5 us per workgroup of 32 rows), so it runs at ~2.5 GFLOP/s. Fewer rows or
//   keys per block (16/8 rows, 1/3 keys per lane) did not help at T = 17..50; only at T <= 8 did 8 rows
//   with 1 key per lane (0.40 vs 0.98 ms) and, in the backward, 8 rows with 1 walked row per lane (1.27
//   vs 1.87 ms); not adopted for one modality's ~1 s.
//   Folding the idle lanes of P V at d = 16 (4 chunks on 8 lanes: two row groups of 4 lanes, each lane
//   accumulating every other row, p picked per group by a select) was tried the same day: without P V
//   at all the kernel took the same ~1 ms at T = 17 (1.85 against 2.45 ms at T = 50), so the fold could
//   win little. Written with a helper that took the per-row arrays by value it ran T = 50 in 2.39-2.52
//   ms against 2.74-3.06 (T = 7: 0.82-0.86 against 0.94-0.99), but that helper made d = 64 (one group)
//   30% slower (47 against 35 ms at ViT-B); written with inline selects, d = 64 was unchanged and d = 16
//   25-30% slower (T = 50: 3.5-4.0 ms). Not kept: NIR's unrolling decides these, not the arithmetic.
//   ViT-B causal:                         lanes 34-36 ms, tiled 182 ms, unfused 126 ms  -> 3.7x (11-27: 44 ms)
//   Text B=8 H=8 T=77 d=64 causal:        lanes 4.6 ms,   tiled 22.6 ms, unfused 17.4 ms -> 3.8x
//   B=2 H=12 T=197: d=32 (32 rows) 10.6 ms 11 GFLOP/s; d=80 (16 rows) 38-44 ms 6.7-7.9; d=128 (16 rows)
//   53-59 ms 8.0-9.0 (tiled: d=32 46 ms, d=128 247 ms). f16 runs the same f32 math.
//   Tiles tried at d=64: rows 4/8/12/16/24/32 x keys per lane 1/2/4 -> 2 keys best (4 rows: 180 ms).
//   More rows cut the K/V loads, but at 32 rows with 2 chunks per lane the row loops exceed NIR's
//   unroll budget, the per-row arrays go indirect and the time triples (225 ms); d <= 32 (one chunk per
//   lane) gets 32 rows. The budget has two parts: a loop over more than 32 iterations is never
//   unrolled (the scores used to be zeroed by one loop over ROWS * KPL, 48 trips at 24 rows, which made
//   24 rows as slow as 32: 144 ms), and trip count x body size must stay small.
//   Chaining 2 keys per accumulator write in P V (the GEMM's trick) measured 64 vs 68 ms, within noise;
//   4 keys or 2 chunks per score write were slower (140 / 82 ms): not kept.
//   Memory: the output and the [B, H, Tq] lse only, as the tiled kernel (4.8 MB + 76 KB at ViT-B,
//   against 39.5 MB of scores and probabilities for the composition).

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

// The uniforms `p` (struct Params), the FLAG_* constants, D4 (vec4 chunks per row), neg_inf and the row
// loaders load_q4 / load_k4 / load_v4 (their vec4 bodies swapped in with the `operands` block) live in
// attention_common.wgsl, which the launcher appends to this file.

/*@operands*/
@group(0) @binding(1) var<storage, read> q: array<T>;
@group(0) @binding(2) var<storage, read> k: array<T>;
@group(0) @binding(3) var<storage, read> v: array<T>;
@group(0) @binding(6) var<storage, read_write> out: array<T>;
/*@end*/
// Absent masks are bound to a stand-in buffer and never read (the flags say so).
@group(0) @binding(4) var<storage, read> mask: array<M>;
@group(0) @binding(5) var<storage, read> kpm: array<KP>;
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
