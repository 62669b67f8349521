// matmul_subgroup_matrix.wgsl — GEMM on the GPU's matrix units (tensor cores) through WGSL's
// experimental subgroup matrices (`chromium_experimental_subgroup_matrix`): f16 operands, f32 sums.
//
// What it computes
//   The contract of matmul.wgsl (strided, batched operands; the fused epilogue of matmul_common.wgsl)
//   for f16 A and B: C[b, m, n] = epilogue(sum_k A[b, m, k] * B[b, k, n]) with the products summed in
//   f32 fragments; the epilogue runs in f32 and TO is f32 or f16.
//
// The primitive
//   A subgroup matrix is a 16x16 tile held jointly by the LANES invocations of one subgroup, each
//   keeping a few elements in registers in a layout only the hardware knows (on NVIDIA: the fragment
//   layout of `mma.sync`). `subgroupMatrixLoad` fills one from memory, `subgroupMatrixMultiplyAccumulate`
//   is one 16x16x16 product on the matrix units (8192 FMAs per instruction for the whole subgroup),
//   `subgroupMatrixStore` writes one back. Every invocation of the subgroup must take part in each call.
//
// How work is split
//   A workgroup is exactly one subgroup and computes a TILE_M x TILE_N tile of C (TILE_M = FRAGS_M * 16,
//   TILE_N = FRAGS_N * 16) as FRAGS_M x FRAGS_N result fragments. One subgroup, because the offsets
//   handed to subgroupMatrixLoad/Store must be uniform across the workgroup (Tint rejects an offset
//   derived from local_invocation_index, which several subgroups per workgroup would need).
//   K advances by TK = 32: the lanes stage A's TILE_M x 32 slab and B's 32 x TILE_N slab in workgroup
//   memory as f16, with vec4 loads along each operand's contiguous dim (zero-filled past M, N and K).
//   Then per 16-wide k step the subgroup loads its FRAGS_M left fragments once and, one at a time,
//   FRAGS_N right fragments, issuing FRAGS_M products per right fragment: FRAGS_M + FRAGS_N fragment
//   loads for FRAGS_M * FRAGS_N products.
//   Epilogue: fragments pass one at a time through a 16x16 f32 scratch, from which the lanes apply
//   store_out element by element (bias, activation, residual, M/N edges all as in the other GEMM
//   kernels).
//
// Layouts
//   Slabs keep each operand's orientation in global memory, so the vec4 loads land unshuffled and the
//   fragment loads pick the orientation: A k-contiguous (row-major) is staged [m][k] and read as
//   row-major left fragments, A m-contiguous (a transposed view) [k][m] and read column-major; B
//   n-contiguous [k][n] row-major, B k-contiguous (a PyTorch [out, in] weight read as w^T) [n][k]
//   column-major.
//
// Memory traffic
//   Per slab a workgroup reads (TILE_M + TILE_N) * 32 halves from global memory (mostly L2 hits) for
//   TILE_M * TILE_N * 32 FMAs: 16 FMAs per byte at 64x64. Tensor cores need many (an H100 does ~1000
//   dense f16 TFLOP/s against ~3 TB/s of HBM), so the largest tile that fits the registers wins.
//
// Constraints (kernels/matmul.ts checks them and otherwise runs matmul.wgsl)
//   The adapter offers the feature with an f16 x f16 -> f32 16x16x16 configuration and a fixed
//   subgroup size LANES (subgroups are then the consecutive runs of LANES invocations of this 1-D
//   workgroup). Each operand has unit stride along one matrix dim, and its offset, its other strides
//   and that dim's extent are multiples of 4, so a vec4 never straddles a row or an edge.
//
// Measured: see kernels/matmul.ts (TUNING.gpu) and the issue notes; the figures come from
// bench/gemm-probe.ts on the GPU.

enable f16;
enable chromium_experimental_subgroup_matrix;

const FRAGS_M: u32 = /*@FRAGS_M*/4u/*@end*/;             // result fragments per workgroup along M
const FRAGS_N: u32 = /*@FRAGS_N*/4u/*@end*/;             // ... and along N
const LANES: u32 = /*@LANES*/32u/*@end*/;                // the adapter's subgroup size = the workgroup
const A_K_CONTIGUOUS: bool = /*@A_K_CONTIGUOUS*/true/*@end*/;   // else A is m-contiguous
const B_N_CONTIGUOUS: bool = /*@B_N_CONTIGUOUS*/true/*@end*/;   // else B is k-contiguous
const F: u32 = 16u;                                      // fragment edge
const TK: u32 = 32u;                                     // K per staged slab
const TILE_M: u32 = FRAGS_M * F;
const TILE_N: u32 = FRAGS_N * F;
// Slab rows are padded by 8 halves (16 bytes): with rows 64 or 256 bytes apart, the 8 rows a fragment
// load reads at once would hit the same memory banks; 16 extra bytes shift each row to other banks.
const PAD: u32 = 8u;
const A_LD: u32 = select(TILE_M, TK, A_K_CONTIGUOUS) + PAD;   // distance between staged rows of A
const A_ROWS: u32 = select(TK, TILE_M, A_K_CONTIGUOUS);
const B_LD: u32 = select(TK, TILE_N, B_N_CONTIGUOUS) + PAD;
const B_ROWS: u32 = select(TILE_N, TK, B_N_CONTIGUOUS);

var<workgroup> a_tile: array<f16, A_ROWS * A_LD>;             // [m][k], or [k][m] if A is m-contiguous
var<workgroup> b_tile: array<f16, B_ROWS * B_LD>;             // [k][n], or [n][k] if B is k-contiguous
var<workgroup> c_frag: array<f32, F * F>;                      // one result fragment, for the epilogue

// Stages A[row_base .. +TILE_M, k0 .. +TK] (a_in is bound as array<vec4<TA>>).
fn stage_a(lane: u32, base: u32, row_base: u32, k0: u32) {
  for (var c = lane; c < TILE_M * TK / 4u; c += LANES) {
    var v = vec4<f16>(0.0);
    var at: u32;
    if (A_K_CONTIGUOUS) {
      let m = c / (TK / 4u);
      let k = (c % (TK / 4u)) * 4u;
      if (row_base + m < p.m && k0 + k < p.k) { v = vec4<f16>(a_in[(base + (row_base + m) * p.a_sm + k0 + k) / 4u]); }
      at = m * A_LD + k;
    } else {
      let k = c / (TILE_M / 4u);
      let m = (c % (TILE_M / 4u)) * 4u;
      if (row_base + m < p.m && k0 + k < p.k) { v = vec4<f16>(a_in[(base + (k0 + k) * p.a_sk + row_base + m) / 4u]); }
      at = k * A_LD + m;
    }
    a_tile[at] = v.x; a_tile[at + 1u] = v.y; a_tile[at + 2u] = v.z; a_tile[at + 3u] = v.w;
  }
}

// Stages B[k0 .. +TK, col_base .. +TILE_N] (b_in is bound as array<vec4<TB>>).
fn stage_b(lane: u32, base: u32, col_base: u32, k0: u32) {
  for (var c = lane; c < TK * TILE_N / 4u; c += LANES) {
    var v = vec4<f16>(0.0);
    var at: u32;
    if (B_N_CONTIGUOUS) {
      let k = c / (TILE_N / 4u);
      let n = (c % (TILE_N / 4u)) * 4u;
      if (k0 + k < p.k && col_base + n < p.n) { v = vec4<f16>(b_in[(base + (k0 + k) * p.b_sk + col_base + n) / 4u]); }
      at = k * B_LD + n;
    } else {
      let n = c / (TK / 4u);
      let k = (c % (TK / 4u)) * 4u;
      if (k0 + k < p.k && col_base + n < p.n) { v = vec4<f16>(b_in[(base + (col_base + n) * p.b_sn + k0 + k) / 4u]); }
      at = n * B_LD + k;
    }
    b_tile[at] = v.x; b_tile[at + 1u] = v.y; b_tile[at + 2u] = v.z; b_tile[at + 3u] = v.w;
  }
}

@compute @workgroup_size(LANES)
fn matmul_subgroup_matrix(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let bi = p.batch_base + wid.z;
  let offs = batch_offsets(bi);
  let row_base = wid.y * TILE_M;
  let col_base = wid.x * TILE_N;
  var acc: array<subgroup_matrix_result<f32, F, F>, FRAGS_M * FRAGS_N>;   // zero-initialised

  for (var k0 = 0u; k0 < p.k; k0 += TK) {
    stage_a(lane, offs.x, row_base, k0);
    stage_b(lane, offs.y, col_base, k0);
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk += F) {
      var left: array<subgroup_matrix_left<f16, F, F>, FRAGS_M>;
      for (var i = 0u; i < FRAGS_M; i++) {
        let m = i * F;
        if (A_K_CONTIGUOUS) {
          left[i] = subgroupMatrixLoad<subgroup_matrix_left<f16, F, F>>(&a_tile, m * A_LD + kk, false, A_LD);
        } else {
          left[i] = subgroupMatrixLoad<subgroup_matrix_left<f16, F, F>>(&a_tile, kk * A_LD + m, true, A_LD);
        }
      }
      for (var j = 0u; j < FRAGS_N; j++) {
        let n = j * F;
        var right: subgroup_matrix_right<f16, F, F>;
        if (B_N_CONTIGUOUS) {
          right = subgroupMatrixLoad<subgroup_matrix_right<f16, F, F>>(&b_tile, kk * B_LD + n, false, B_LD);
        } else {
          right = subgroupMatrixLoad<subgroup_matrix_right<f16, F, F>>(&b_tile, n * B_LD + kk, true, B_LD);
        }
        for (var i = 0u; i < FRAGS_M; i++) {
          acc[i * FRAGS_N + j] = subgroupMatrixMultiplyAccumulate(left[i], right, acc[i * FRAGS_N + j]);
        }
      }
    }
    workgroupBarrier();
  }

  for (var f = 0u; f < FRAGS_M * FRAGS_N; f++) {
    subgroupMatrixStore(&c_frag, 0u, acc[f], false, F);
    workgroupBarrier();
    let row0 = row_base + (f / FRAGS_N) * F;
    let col0 = col_base + (f % FRAGS_N) * F;
    for (var e = lane; e < F * F; e += LANES) {
      let row = row0 + e / F;
      let col = col0 + e % F;
      if (row < p.m && col < p.n) { store_out(bi, row, col, c_frag[e], offs.z); }
    }
    workgroupBarrier();
  }
}
