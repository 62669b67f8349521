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
//   is one 16x16x16 product on the matrix units (4096 multiply-adds for the whole subgroup),
//   `subgroupMatrixStore` writes one back. Every invocation of the subgroup must take part in each call.
//
// How work is split
//   A workgroup is exactly one subgroup and computes a TILE_M x TILE_N tile of C (TILE_M = FRAGS_M * 16,
//   TILE_N = FRAGS_N * 16) as FRAGS_M x FRAGS_N result fragments. One subgroup, because the offsets
//   handed to subgroupMatrixLoad/Store must be uniform across the workgroup (Tint rejects an offset
//   derived from local_invocation_index, which several subgroups per workgroup would need).
//   Per 16-wide k step the subgroup loads its FRAGS_M left fragments of A once, then one at a time
//   FRAGS_N right fragments of B, each followed by FRAGS_M products: FRAGS_M + FRAGS_N fragment
//   loads for FRAGS_M * FRAGS_N products. Fragments come straight from the storage buffers in each
//   operand's own orientation (row-major, or column-major for a transposed A or a PyTorch [out, in]
//   weight read as w^T); the GPU's caches provide the reuse between neighbouring workgroups.
//   Epilogue: fragments pass one at a time through a 16x16 f32 scratch in workgroup memory, from
//   which the lanes apply store_out element by element (bias, activation, residual, M/N edges as in
//   the other GEMM kernels).
//
// Edges
//   A fragment that crosses M or N reads past the last row or column (robust buffer access keeps the
//   reads inside the buffer); those values only reach outputs past M or N, which are never stored.
//   K has no such slack (a stray k would pollute every sum), hence K % 16 == 0.
//
// Why not stage through workgroup memory
//   A first version staged 64x32 and 32x64 f16 slabs in workgroup memory, as matmul.wgsl does: with
//   one subgroup per workgroup its 32 lanes spent far more instructions on the vec4 loads and the
//   128 scalar f16 stores per slab than on the 64 matrix instructions, and ran 8.0 TFLOP/s at 4096^3
//   on an H100, under the tiled f32-arithmetic kernel (27.5-28.5).
//
// Constraints (kernels/matmul.ts checks them and otherwise runs matmul.wgsl)
//   The adapter offers the feature with an f16 x f16 -> f32 16x16x16 configuration and a fixed
//   subgroup size LANES. Each operand has unit stride along one matrix dim and its offset and other
//   strides are multiples of 8 elements (16-byte aligned rows); K % 16 == 0.
//
// Measured (NVIDIA H100 80GB, Dawn + Vulkan, driver 580.159, 2026-11-27; bench/gemm-probe.ts, f16 in,
// f32 out, GFLOP/s; every run validated against the float64 oracle, edges included):
//   fragments per workgroup      2x2     4x2     2x4     4x4     8x2     2x8     8x4
//   4096^3 A @ B               22900   20400   23100   10700    8900   10600    9600
//   4096^3 x @ w^T             20000   14700   19400   10300    8900    9900    9800
//   1576x768x768 x @ w^T        5000    6300    5600    7000    5000    6200    4200
//   (The f32-arithmetic tiled kernel on the same f16 inputs: 28500 and 20900 at 4096^3.)
//   More fragments per subgroup re-use each loaded fragment more but cost registers and occupancy,
//   and every fragment load is a scatter of small global reads per lane: the kernel is bound by
//   loads, not by the matrix units. torch fp16 (cuBLAS) on the same GPU: 762000 at 4096^3, so this
//   is 3% of it, far from the 200000 the matrix units make reachable. The way there is to stage
//   slabs in workgroup memory shared by several subgroups (each reading its fragments from there),
//   which needs per-subgroup offsets that this Dawn's uniformity analysis accepts, e.g. from a
//   `subgroup_id` builtin. Until it beats the tiled kernel it runs only when asked for
//   (PICK_SUBGROUP_MATRIX in kernels/matmul.ts).

enable f16;
enable chromium_experimental_subgroup_matrix;

const FRAGS_M: u32 = /*@FRAGS_M*/2u/*@end*/;             // result fragments per workgroup along M
const FRAGS_N: u32 = /*@FRAGS_N*/4u/*@end*/;             // ... and along N
const LANES: u32 = /*@LANES*/32u/*@end*/;                // the adapter's subgroup size = the workgroup
const A_K_CONTIGUOUS: bool = /*@A_K_CONTIGUOUS*/true/*@end*/;   // else A is m-contiguous
const B_N_CONTIGUOUS: bool = /*@B_N_CONTIGUOUS*/true/*@end*/;   // else B is k-contiguous
const F: u32 = 16u;                                      // fragment edge
const TILE_M: u32 = FRAGS_M * F;
const TILE_N: u32 = FRAGS_N * F;

var<workgroup> c_frag: array<f32, F * F>;                // one result fragment, for the epilogue

@compute @workgroup_size(LANES)
fn matmul_subgroup_matrix(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let bi = p.batch_base + wid.z;
  let offs = batch_offsets(bi);
  let row_base = wid.y * TILE_M;
  let col_base = wid.x * TILE_N;
  var acc: array<subgroup_matrix_result<f32, F, F>, FRAGS_M * FRAGS_N>;   // zero-initialised

  for (var k0 = 0u; k0 < p.k; k0 += F) {
    var left: array<subgroup_matrix_left<f16, F, F>, FRAGS_M>;
    for (var i = 0u; i < FRAGS_M; i++) {
      let row = row_base + i * F;
      if (A_K_CONTIGUOUS) {
        left[i] = subgroupMatrixLoad<subgroup_matrix_left<f16, F, F>>(&a_in, offs.x + row * p.a_sm + k0, false, p.a_sm);
      } else {
        left[i] = subgroupMatrixLoad<subgroup_matrix_left<f16, F, F>>(&a_in, offs.x + k0 * p.a_sk + row, true, p.a_sk);
      }
    }
    for (var j = 0u; j < FRAGS_N; j++) {
      let col = col_base + j * F;
      var right: subgroup_matrix_right<f16, F, F>;
      if (B_N_CONTIGUOUS) {
        right = subgroupMatrixLoad<subgroup_matrix_right<f16, F, F>>(&b_in, offs.y + k0 * p.b_sk + col, false, p.b_sk);
      } else {
        right = subgroupMatrixLoad<subgroup_matrix_right<f16, F, F>>(&b_in, offs.y + col * p.b_sn + k0, true, p.b_sn);
      }
      for (var i = 0u; i < FRAGS_M; i++) {
        acc[i * FRAGS_N + j] = subgroupMatrixMultiplyAccumulate(left[i], right, acc[i * FRAGS_N + j]);
      }
    }
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
