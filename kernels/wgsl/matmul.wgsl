// matmul.wgsl — tiled GEMM with workgroup-memory staging: the kernel for GPUs and the portable fallback.
//
// What it computes
//   C[b, m, n] = epilogue(sum_k A[b, m, k] * B[b, k, n]); operands through strides, epilogue and
//   bindings from matmul_common.wgsl (appended by kernels/matmul.ts). TA/TB may be f16 (read as f32,
//   accumulated in f32); TO is f32 or f16.
//
// How work is split
//   A 16x16 workgroup computes a TILE_M x TILE_N tile of C, TILE_M = 64 * BLOCKS_M and TILE_N =
//   64 * BLOCKS_N. Invocation (tx, ty) owns BLOCKS_M x BLOCKS_N register blocks of 4x4 outputs: block
//   (i, j) covers rows i * 64 + ty * 4 .. +3 and columns j * 64 + tx * 4 .. +3. Spreading a thread's
//   blocks 64 apart (rather than making them adjacent) means neighbouring invocations read
//   neighbouring vec4s of the B tile: no workgroup-memory bank conflicts.
//   K advances by TK. The 256 invocations stage a TILE_M x TK slab of A ([m][k], as A is usually
//   stored) and a TK x TILE_N slab of B ([k][n]) in workgroup memory, zero-filled past M, N and K
//   (consecutive invocations read along k of A and n of B), then each runs TK/4 steps of: read its 4 * BLOCKS_M rows of A as vec4s along k, and for each of those 4
//   k read BLOCKS_N vec4s of B and do 16 * BLOCKS_M * BLOCKS_N FMAs.
//   Register prefetch: the next slab's global loads are issued right after the barrier that publishes
//   the current one, so their latency hides behind the FMAs instead of stalling every invocation.
//   Any M, N, K; no alignment requirements.
//   vec4 staging (launcher option `vec4`, kernels/matmul.ts): where A is k-contiguous (or B n-contiguous),
//   4-aligned, with K (or N) a multiple of 4, that operand's slab is staged as vec4s: invocation e loads
//   the 16 bytes that become element e of the tile and stores them whole, a quarter of the load, store
//   and address instructions, with the same coalescing (consecutive invocations, consecutive 16 bytes).
//   A k-contiguous B (x @ w^T with a PyTorch [out, in] weight, K % 4 == 0) is staged as vec4s along k:
//   consecutive invocations take consecutive columns, each loads 4 k of its column and stores them down
//   the column of the [k][n] slab (conflict-free stores; kernels/matmul.ts tiledColumnStaging).
//   Two stages (launcher option `stages`): STAGES = 2 slabs per operand, used in turn, so a step stores the
//   next slab into the one nobody reads any more and a slab costs one barrier instead of two, for twice
//   the workgroup memory (see the end of the main loop). Unmeasured on GPUs so far; on lavapipe, 128x128
//   TK 16 with vec4 staging at 512^3: 11.8 against 10.3 GFLOP/s for A @ B, 10.7 against 8.9 for x @ w^T
//   (one run, CPU time; lavapipe runs matmul_lanes.wgsl anyway).
//   Split K (kernels/matmul.ts chooseKSplit, or the `splitK` option): where the output is too few tiles
//   to fill a GPU, grid z runs k_splits segments per batch entry (matmul_common.wgsl k_segment); each
//   workgroup walks only its segment's k_begin .. k_end (whole slabs; the last segment ends at K) and
//   stores its tile without the epilogue into f32 partials, as batch (segment * batches + b), which
//   matmul_split_k.wgsl adds up and passes through the epilogue. Unsplit, segment 0 covers all of K and
//   stores batch b itself.
//
// Memory traffic
//   Global: each A element is read N/TILE_N times and each B element M/TILE_M times (vs N and M
//   naively); per slab a workgroup reads (TILE_M + TILE_N) * TK elements for TILE_M * TILE_N * TK FMAs,
//   so the 128x128 tile (BLOCKS 2x2) halves the traffic per FMA of the 64x64 one.
//   Loads are coalesced along A's k when A is row-major and along B's n when B is row-major; other
//   layouts (transposed views) are still correct, just less coalesced. Split K reads A and B as often
//   and adds k_splits x M x N f32 partials, written here and read once by the sum.
//
// Constraints
//   Any M, N, K >= 1 and any strides (elements past M, N or K are zero-filled in the slabs, never stored);
//   vec4 staging only where the launcher found the operand 4-aligned. Grid: ceil(N / TILE_N) x
//   ceil(M / TILE_M) x batch, each <= 65535 (kernels/matmul.ts splits larger batches into launches, and
//   folds batch dims into M where the operands allow); offsets and strides < 2^32 elements.
//
// Measured on a GPU (NVIDIA H100 80GB through Dawn + Vulkan, driver 580.159, 2026-11-27; bench/gemm-probe.ts,
// wall clock over 10 back-to-back dispatches, best of 2, after a validated run; f32 in and out):
//                       64x64 TK16   128x128 TK8   128x128 TK16   128x128 TK32   256x128 TK8
//   4096^3  C = A @ B      26300        25000         28400          31500          27700
//           x @ w^T        15800        18900         19500          20600          22600
//   2048^3  C = A @ B      17700        19400         21800          23300          21700
//   1576x3072x768          12700        13900         14600          15400          12400
//   1576x768x768            2400         6700          6700           6900           5200
//   torch 2.11 fp32 (cuBLAS, TF32 off) on the same GPU: 51700 at 4096^3, 50400 at 2048^3, so the
//   128x128 TK32 tile (the GPU default for M > 256) reaches 61% of cuBLAS for A @ B at 4096^3 and 40%
//   for x @ w^T, whose B (w read as w^T) is k-contiguous: consecutive invocations then load elements
//   K apart, one cache line each. Staging w^T along k instead (consecutive invocations walking k, rows
//   padded against bank conflicts) made x @ w^T slower on the H100 (4096^3: 9500 against 21700;
//   1576x3072x768: 9200 against 14600, a later run, 2026-11-27), so that option was removed. f16 inputs (read as f32): 28500 at
//   4096^3; f16 GEMMs run matmul_subgroup_matrix.wgsl where the adapter has matrix units (3-4x this).
//   The same day on an H200: 31100-31600 at 4096^3 against torch fp32 51400 (61%); no tile or slab
//   depth in the sweep (64x64 to 256x128, TK 8 to 32) reached the issue's 80%.
//   Later on the H200 (torch fp32 51400 again), 4096^3 / 1576x3072x768, A @ B and x @ w^T:
//                              A @ B 4096^3   x @ w^T 4096^3   A @ B 1576x3072x768   x @ w^T 1576x3072x768
//     128x128 TK32                30300          21700              18300                 13800
//     ... vec4 staging            34900          31200              18900                 17800
//     ... unrolled                26100          19200              14600                 11700
//     ... vec4 + unrolled         31900          27800              19700                 15500
//     128x128 TK16 vec4           31100          26700              17900                 15100
//     256x128 TK32 vec4 + unr.    34600          33200              14900                 13800
//     128x256 TK32 vec4           2200            2200               1700                  1700
//   vec4 staging (the GPU default for epilogue-free GEMMs since) reaches 68% of cuBLAS at 4096^3 and
//   lifts x @ w^T from 42% to 61%; still short of the issue's 80%. The 128x256 tile with vec4 staging and
//   loops collapses (10x: what accumulators moved out of registers look like; written out, 31800).
//   A fused epilogue changes the picture: in the same session's `npm run bench -- --profile` the 128x128
//   TK32 tile with a bias ran the 1568x768x768 patch-embedding GEMM in 5.31 ms against 0.467 ms without
//   one, and the B16 encoder's bias / residual / GELU GEMMs at B = 32 at 1-2 TFLOP/s while the same run's
//   epilogue-free backward GEMMs reached 20. The H100 ran that model at B = 32 in 145 ms with TK16 slabs
//   (549 ms with TK32), so kernels/matmul.ts gives epilogue GEMMs TK16 (not re-measured since; the device
//   session's `epilogue` step times the candidates). The suspected cause: the stores loop, whose body an
//   epilogue makes long, indexed the accumulators by loop counters; a compiler that leaves it rolled keeps
//   the whole array in memory. Since 2026-11-28 the launcher writes the stores out with constant indices
//   (kernels/matmul.ts tiledStoresCode), also not yet measured on a GPU.
//
// Measured (lavapipe, 2 cores, Xeon with AVX-512, Mesa 25.0.7, f32, back-to-back dispatches; the
// machine was shared, so figures are +-30%):
//   * this tiled kernel loses on lavapipe (its barriers split the workgroup into coroutines and every
//     per-lane load is an AVX gather), so 'cpu' adapters use matmul_lanes.wgsl;
//   * probes of the lane-kernel design space at 1024^3 (GFLOP/s):
//       uniform A loads, lane = 4 columns (vec4 of B), 8 rows .................. 5.8-7.1
//       same, k-contiguous B^T with per-lane dot products ....................... 2.8
//       uniform A, lane = 1..2 columns, 16 rows .................................. 1.9-2.6
//       A shared by subgroup shuffles, lane = 4 columns, 8 rows .................. 10.0
//       same, 12 rows ............................................................ 11.5
//       same, 16 rows (register spills) ........................................... 8.5
//       same with the B loads removed (upper bound) ............................... 25.8
//       4 k chained per accumulator write, 24 rows ................................. 17-21
//       same, A read as vec4 blocks of 4 rows x 8 k, 32 rows (matmul_lanes.wgsl) ....... 25-27
//   * the lanes kernel's figures per shape and in `npm run bench` are in matmul_lanes.wgsl's header;
//     this tiled kernel stays at 2.4-3.6 GFLOP/s (gemm-probe, 2026-11-27, 256^3 to 1024^3 and ViT-B's
//     197-row shapes).
//   Reference on the same machine: naive WGSL 0.4-0.8, tfjs-webgpu 2.0-3.9, jax-js 0.1.25 2-6.4 GFLOP/s.

const BLOCKS_M: u32 = /*@BLOCKS_M*/1u/*@end*/;   // 4x4 register blocks per invocation along M
const BLOCKS_N: u32 = /*@BLOCKS_N*/1u/*@end*/;   // ... and along N
const TK: u32 = /*@TK*/16u/*@end*/;             // K per staged slab (a multiple of 4)
const STAGES: u32 = /*@STAGES*/1u/*@end*/;      // slabs per operand in workgroup memory (1 or 2)
const WG: u32 = 16u;                            // the workgroup is WG x WG invocations
const TILE_M: u32 = WG * 4u * BLOCKS_M;
const TILE_N: u32 = WG * 4u * BLOCKS_N;
const A_LOADS: u32 = TILE_M * TK / (WG * WG);   // slab elements each invocation stages
const B_LOADS: u32 = TILE_N * TK / (WG * WG);
const A_LD4: u32 = TK / 4u;                     // vec4s per staged row of A
const B_LD4: u32 = TILE_N / 4u;                 // ... and of B

const A_SLAB: u32 = TILE_M * A_LD4;             // vec4s per staged slab of A
const B_SLAB: u32 = TK * B_LD4;                 // ... and of B

// STAGES slabs each; the slab a step stores and reads starts at a_at / b_at.
var<workgroup> a_tile: array<vec4<f32>, STAGES * A_SLAB>;   // [m][k / 4]: a row's 4 consecutive k
var<workgroup> b_tile: array<vec4<f32>, STAGES * B_SLAB>;   // [k][n / 4]: 4 consecutive columns
// The prefetched next slab. With vec4 staging (launcher option, A k-contiguous / B n- or k-contiguous
// and 4-aligned) the fetch and store blocks below are swapped for vec4 versions: one 16-byte load per 4
// elements instead of four scalar loads, and one whole-vec4 store (four down a column for a k-contiguous B).
/*@a_next*/var<private> a_next: array<f32, A_LOADS>;/*@end*/
/*@b_next*/var<private> b_next: array<f32, B_LOADS>;/*@end*/

// Slab element e of A as (row m, k) and of B as (k, column n): consecutive elements walk k of A and n
// of B.
fn a_slab_at(e: u32) -> vec2<u32> {
  return vec2<u32>(e / TK, e % TK);
}

fn b_slab_at(e: u32) -> vec2<u32> {
  return vec2<u32>(e / TILE_N, e % TILE_N);
}

// Reads this invocation's share of the slab starting at k0 into registers; consecutive invocations
// read consecutive addresses of each operand, so warps read whole cache lines.
fn fetch_slab(li: u32, offs: vec3<u32>, row_base: u32, col_base: u32, k0: u32) {
  /*@fetch_a*/
  for (var j = 0u; j < A_LOADS; j++) {
    let at = a_slab_at(li + WG * WG * j);
    let row = row_base + at.x;
    let k = k0 + at.y;
    a_next[j] = select(0.0, f32(a_in[offs.x + min(row, p.m - 1u) * p.a_sm + min(k, p.k - 1u) * p.a_sk]), row < p.m && k < p.k);
  }
  /*@end*/
  /*@fetch_b*/
  for (var j = 0u; j < B_LOADS; j++) {
    let at = b_slab_at(li + WG * WG * j);
    let k = k0 + at.x;
    let col = col_base + at.y;
    b_next[j] = select(0.0, f32(b_in[offs.y + min(k, p.k - 1u) * p.b_sk + min(col, p.n - 1u) * p.b_sn]), col < p.n && k < p.k);
  }
  /*@end*/
}

@compute @workgroup_size(WG, WG)
fn matmul_tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
                @builtin(local_invocation_index) li: u32) {
  // This workgroup's batch entry, the batch its tile is stored as and its K range (k_segment: all of K
  // unless K is split).
  let seg = k_segment(wid.z);
  let bi = seg.bi;
  let out_bi = seg.out_bi;
  let offs = batch_offsets(bi);
  let row_base = wid.y * TILE_M;
  let col_base = wid.x * TILE_N;
  // acc[(i * 4 + r) * BLOCKS_N + j]: row r of register block (i, j), its 4 columns as a vec4. The launcher
  // option `unrolled` swaps this and the two blocks marked below for straight-line code over named
  // variables (kernels/matmul.ts tiledUnrolledCode), for compilers that keep loop-indexed arrays in memory.
  /*@accumulators*/
  var acc: array<vec4<f32>, BLOCKS_M * 4u * BLOCKS_N>;
  for (var i = 0u; i < BLOCKS_M * 4u * BLOCKS_N; i++) { acc[i] = vec4<f32>(0.0); }
  /*@end*/

  // Segments hold whole slabs (split_k is a multiple of TK), so only the last one reaches K's ragged end,
  // which fetch_slab zero-fills.
  fetch_slab(li, offs, row_base, col_base, seg.k_begin);
  var stage = 0u;
  for (var k0 = seg.k_begin; k0 < seg.k_end; k0 += TK) {
    let a_at = stage * A_SLAB;
    let b_at = stage * B_SLAB;
    /*@store_a*/
    for (var j = 0u; j < A_LOADS; j++) {
      let at = a_slab_at(li + WG * WG * j);
      a_tile[a_at + at.x * A_LD4 + at.y / 4u][at.y % 4u] = a_next[j];
    }
    /*@end*/
    /*@store_b*/
    for (var j = 0u; j < B_LOADS; j++) {
      let at = b_slab_at(li + WG * WG * j);
      b_tile[b_at + at.x * B_LD4 + at.y / 4u][at.y % 4u] = b_next[j];
    }
    /*@end*/
    workgroupBarrier();
    if (k0 + TK < seg.k_end) { fetch_slab(li, offs, row_base, col_base, k0 + TK); }

    for (var kq = 0u; kq < TK / 4u; kq++) {
      /*@products*/
      var a4: array<vec4<f32>, BLOCKS_M * 4u>;   // a4[i * 4 + r] = A[row, kq * 4 .. +3]
      for (var i = 0u; i < BLOCKS_M; i++) {
        for (var r = 0u; r < 4u; r++) {
          a4[i * 4u + r] = a_tile[a_at + (i * WG * 4u + lid.y * 4u + r) * A_LD4 + kq];
        }
      }
      for (var c = 0u; c < 4u; c++) {
        for (var j = 0u; j < BLOCKS_N; j++) {
          let b = b_tile[b_at + (kq * 4u + c) * B_LD4 + j * WG + lid.x];
          for (var r = 0u; r < BLOCKS_M * 4u; r++) {
            acc[r * BLOCKS_N + j] = fma(vec4<f32>(a4[r][c]), b, acc[r * BLOCKS_N + j]);
          }
        }
      }
      /*@end*/
    }
    // With one slab per operand, every invocation must finish reading it before the next step's stores
    // overwrite it. With two, the next step stores into the other slab, which nobody reads any more: its
    // last readers finished before reaching this step's barrier above. One barrier per slab instead of two.
    if (STAGES == 1u) { workgroupBarrier(); }
    stage = (stage + 1u) % STAGES;
  }

  // The launcher writes this loop out (kernels/matmul.ts tiledStoresCode): accumulators indexed by loop
  // counters here would cost them their registers wherever a compiler leaves the loop rolled.
  /*@stores*/
  for (var r = 0u; r < BLOCKS_M * 4u; r++) {
    for (var j = 0u; j < BLOCKS_N; j++) {
      store_block_row(out_bi, row_base, col_base, lid.xy, r, j, acc[r * BLOCKS_N + j], offs.z);
    }
  }
  /*@end*/
}

// Row r (0 .. 4 * BLOCKS_M) of this invocation's register block (i = r / 4, j): its 4 columns, those
// inside M x N, through the epilogue, into output batch out_bi.
fn store_block_row(out_bi: u32, row_base: u32, col_base: u32, lid: vec2<u32>, r: u32, j: u32, v: vec4<f32>, res_base: u32) {
  let row = row_base + (r / 4u) * WG * 4u + lid.y * 4u + r % 4u;
  for (var c = 0u; c < 4u; c++) {
    let col = col_base + j * WG * 4u + lid.x * 4u + c;
    if (row < p.m && col < p.n) { store_out(out_bi, row, col, v[c], res_base); }
  }
}
