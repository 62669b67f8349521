// matmul_split_k.wgsl — the second pass of a split-K GEMM (matmul.wgsl's "Split K"; the subgroup-matrix
// kernel splits the same way): adds up the K segments' partial products and applies the epilogue.
//
// What it computes
//   C[b, m, n] = epilogue(sum_s partial[s * batches + b, m, n]), where segment s of the first pass summed
//   k over its own range of K into f32 partial[s * batches + b], with no epilogue. The epilogue (bias,
//   activation, residual, the saved pre-activation) is matmul_common.wgsl's store_out, the same code
//   the unsplit kernels end with, so a split product rounds and activates exactly as an unsplit one does
//   except for the order of its K sum.
//
// Why split K
//   A GEMM whose output is a few tiles (a 1576 x 768 projection is 13 x 6 = 78 tiles of 128 x 128) leaves
//   most of a large GPU's multiprocessors idle while each workgroup walks all of K. Splitting K into S
//   segments runs S times the workgroups, each over K / S, for the price of S partial outputs written
//   and read once. On an H200 the same tile ran the 78-tile 1576x768x768 at 6.9 TFLOP/s and the 312-tile
//   1576x3072x768 at 18.3 (matmul.wgsl's header).
//
// How work is split
//   One invocation per output element, 256 per workgroup, on a 2-D grid past 65535 workgroups
//   (kernels/launch.ts grid1d); consecutive invocations take consecutive columns, so the partial reads
//   and the output writes are coalesced.
//
// Memory traffic: S x batches x M x N f32 partials read once, the output (and pre-activation) written
// once, the bias and residual read once per element.
//
// Constraints: the partials are contiguous [S * batches, M, N] f32, bound where the other kernels bind
// A (the launcher declares no B). Measured: nowhere yet on a GPU (written 2026-11-28 on a CPU-only
// machine; `scripts/device-session.sh split-k` times it).

@compute @workgroup_size(256)
fn matmul_split_k(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                  @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = (wid.y * nwg.x + wid.x) * 256u + lid;
  let per_batch = p.m * p.n;
  if (id >= p.batches * per_batch) { return; }
  let bi = id / per_batch;
  let row = (id % per_batch) / p.n;
  let col = id % p.n;
  // Element (bi, row, col) of segment s sits s whole [batches, M, N] blocks after element id.
  var sum = 0.0;
  for (var s = 0u; s < p.k_splits; s++) {
    sum += f32(a_in[s * p.batches * per_batch + id]);
  }
  store_out(bi, row, col, sum, batch_offsets(bi).z);
}
