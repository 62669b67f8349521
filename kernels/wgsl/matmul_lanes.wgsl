// matmul_lanes.wgsl — GEMM for CPU-backed WebGPU (Mesa lavapipe / llvmpipe), where one subgroup is one
// SIMD register: each invocation is a lane of an 8-wide AVX vector and a workgroup is a loop over
// lane-groups. See matmul.wgsl for the measurements that led here.
//
// What it computes
//   C[b, m, n] = epilogue(sum_k A[b, m, k] * B[b, k, n]) for one ROWS x (LANES * 4) output tile per
//   workgroup. The workgroup is exactly one subgroup of LANES invocations.
//
// How work is split
//   Lane l owns 4 adjacent output columns and ROWS rows (ROWS vec4 accumulators). K advances in blocks
//   of LANES. A block of A is 4 rows x LANES k: lane l loads 4 consecutive k of one row (a vec4 load
//   when A is k-contiguous and 4-aligned), so ROWS / 4 loads per lane cover the block. Then, 4 k at a
//   time, every lane loads the 4x4 block of B at its 4 columns (load_b_block: 4 vec4 loads when B is
//   row-major or a w^T with K % 4 == 0, else 16 scalar ones), and for each output row takes that row's
//   4 A values from the lane holding them with one vec4 subgroupShuffle (an in-register broadcast) and
//   chains the 4 vec4 FMAs into one update of the row's accumulator. No workgroup memory, no barriers.
//
// Why this shape (lavapipe 25.0.7, 2 cores; read off GALLIVM_DEBUG=asm dumps, timed, and profiled with
// perf, whose samples line up with the dump's instruction offsets)
//   - A storage load whose address differs per lane is LANES scalar loads, each behind its own exec-mask
//     test and bounds check (~11 instructions per element, a little less per element of a vec4); a
//     shuffle from a uniform lane is one vpermd per component. Before A came as vec4s (one scalar load
//     per lane and row per LANES k), perf put 33% of the kernel's time in A's loads, 24% in B's and
//     41% in the FMAs and their spills; now (1024^3, 32 rows) 27% / 25% / 47%: per LANES k every lane
//     issues ROWS / 4 vec4 loads of A and 2 x 4 of B for 4 * LANES * ROWS vector FMAs.
//   - Every write to a loop-carried variable is a masked blend, and past ~24 live vectors the
//     accumulators sit on the stack (a load and a store per write); ffma is lowered to mul + add.
//     Chaining 4 k into one accumulator write cuts blends and spill traffic 4x.
//   - The 4-k step stays a loop: NIR unrolls it (both halves of the block) when ROWS <= 20, and the
//     unrolled code measured 30-50% slower (all 8 B rows live at once). Hence 32 rows in the tuning
//     table (kernels/matmul.ts) for M > 24; smaller M takes fewer (ROWS is a multiple of 4), as rows past
//     M are computed and thrown away: 24 rows for M = 13-24 (1.1-1.3x faster than 32), 12 for M = 9-12
//     (1.4-1.8x), 8 and 4 below (the tuning run of engine/tuning/matmul.ts, 2026-11-28).
//   - Tried on 2026-11-27 for the main job's short-K shapes (3152 x {64,256} x 64 run at 25-29 GFLOP/s,
//     ~3 us of CPU per workgroup beyond the flops): 8 columns per lane (two vec4 blocks sharing each
//     shuffled A) ran 1024^3 at 30-35 and 3152x64x64 at 19-21 with 16-32 rows, below this kernel; and
//     ROWS = 48 or 64 (loops over more than 32 trips are never unrolled, so the accumulators go to
//     memory with indirect indexing) 8-10 GFLOP/s everywhere. Vec4 output stores where N % 4 == 0
//     changed nothing measurable.
//   - Mesa's LP_NATIVE_VECTOR_WIDTH=512 gives 16-wide subgroups on this AVX-512 machine, but LLVM 15's
//     code for them ran every GEMM variant at 2.0-2.4 GFLOP/s (1024^3, 197x3072x768; 8-wide: up to 42)
//     and fused attention at ViT-B in 915 ms instead of 38 (2026-11-27): the default 256 stays.
//
// Measured (lavapipe 25.0.7, 2 cores)
//   The steps above at 1024^3, GFLOP/s (process CPU time): one write per k, 12 rows 11-14; chained, 24 rows 17-21; A as
//   vec4 blocks, 24 rows 22-25, 32 rows 26-27 (process CPU time then included Dawn's busy poll).
//   Per shape (bench/gemm-probe.ts, PROBE_CPU_TIME=1, the later host below, 2026-11-27; GFLOP/s, the
//   range of the default choice and the forced 32-row kernel over two runs; 'linear' reads w [out, in]
//   as w^T):        256^3       512^3       1024^3      197x768x768  197x3072x768  197x768x3072
//     matmul        18.3-19.1   19.5-20.1   18.7-21.1   18.7-25.8    17.7-18.8     34.4-35.4
//     linear        17.1-19.4   21.0-21.5   21.6-24.1   18.0-21.9    24.8-25.7     20.6-36.3
//   Wall clock in `npm run bench` (2026-11-27, after engine/platform.ts stopped Dawn's Node binding from
//   busy-polling a core away from lavapipe's two threads): 1024^3 57.5-63.4 ms (34-37 GFLOP/s; GPU
//   timestamps 53.4 ms) in four runs, 5.8-9.2x tfjs-backend-webgpu 4.22 and 5.8-11.8x jax-js 0.1.25 in
//   the same process; ViT-B fc1 197x768x3072 31.2 ms (29.8 GFLOP/s). numpy/OpenBLAS: 131 GFLOP/s.
//   A later host the same day (a Xeon with AMX; numpy 183 GFLOP/s there) ran lavapipe about 2x slower:
//   1024^3 115-134 ms (16-19 GFLOP/s; GPU timestamps 118 ms) in two runs, 4.7-5.7x tfjs-webgpu and
//   3.9-6.0x jax-js, the peers slowed less than we did; gemm-probe's CPU-time rate 20-23 GFLOP/s.
//
// Constraints
//   Needs `subgroups` and a subgroup size equal to LANES, a multiple of 4 (the launcher only picks this
//   kernel when the adapter reports a fixed subgroup size); ROWS a multiple of 4. Edges: rows and
//   columns past M / N are clamped for loads and skipped on store; A columns and B rows past K read as
//   exact zeros.

enable subgroups;

const ROWS: u32 = /*@ROWS*/8u/*@end*/;
const LANES: u32 = /*@LANES*/8u/*@end*/;
const QUADS: u32 = LANES / 4u;   // lanes per row of an A block, each holding 4 consecutive k

// B at 4 element offsets (4 columns of one k). Row-major B with 4-aligned offsets is bound as
// array<vec4<TB>> and read with one vec4 load (the launcher swaps this body): one load instruction
// instead of four with their own address arithmetic and bounds checks measured ~2x faster (1024^3:
// 4.6 -> 9.3 GFLOP/s).
fn load_b4(bo: vec4<u32>) -> vec4<f32> {
  /*@load_b4*/ return vec4<f32>(f32(b_in[bo.x]), f32(b_in[bo.y]), f32(b_in[bo.z]), f32(b_in[bo.w])); /*@end*/
}

// Row kb of B at this lane's 4 columns; rows past K read as exact zeros.
fn load_b_row(b_cols: vec4<u32>, kb: u32) -> vec4<f32> {
  return select(vec4<f32>(0.0), load_b4(b_cols + min(kb, p.k - 1u) * p.b_sk), kb < p.k);
}

// A[row, k..k+3] (k a multiple of 4) of the row starting at element `ao`; k past K reads as 0. When A is
// k-contiguous with K and every offset 4-aligned it is bound as array<vec4<TA>> and the launcher swaps
// in one vec4 load.
fn load_a4(ao: u32, k: u32) -> vec4<f32> {
  /*@load_a4*/
  let ks = vec4<u32>(k, k + 1u, k + 2u, k + 3u);
  let at = ao + min(ks, vec4<u32>(p.k - 1u)) * p.a_sk;
  return select(vec4<f32>(0.0), vec4<f32>(f32(a_in[at.x]), f32(a_in[at.y]), f32(a_in[at.z]), f32(a_in[at.w])), ks < vec4<u32>(p.k));
  /*@end*/
}

// Rows kb..kb+3 of B at this lane's 4 columns: column j of the result is row kb + j. When B is a
// PyTorch [out, in] weight read as w^T (k contiguous, K and every offset 4-aligned, array<vec4<TB>>),
// the launcher swaps in a body that loads each column's 4 consecutive k as one vec4 and transposes:
// 4 vec4 loads instead of 16 scalar ones, and the transpose is free (lavapipe keeps a vec4 as 4 SIMD
// registers, so it only renames them). kb is a multiple of 4 there, so a block is all in K or all out.
fn load_b_block(b_cols: vec4<u32>, kb: u32) -> mat4x4<f32> {
  /*@load_b_block*/
  return mat4x4<f32>(load_b_row(b_cols, kb), load_b_row(b_cols, kb + 1u), load_b_row(b_cols, kb + 2u), load_b_row(b_cols, kb + 3u));
  /*@end*/
}

@compute @workgroup_size(LANES)
fn matmul_lanes(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let bi = p.batch_base + wid.z;
  let offs = batch_offsets(bi);
  let col0 = (wid.x * LANES + lane) * 4u;
  let row0 = wid.y * ROWS;
  // Clamped column indices keep loads in bounds; their results are never stored.
  let last_col = p.n - 1u;
  var b_cols = vec4<u32>(min(col0, last_col), min(col0 + 1u, last_col), min(col0 + 2u, last_col), min(col0 + 3u, last_col));
  b_cols = offs.y + b_cols * p.b_sn;
  // A blocks are LANES k deep and 4 rows tall: this lane holds row 4i + lane / QUADS of group i, at
  // k0 + 4 * (lane % QUADS) .. +3.
  var a_rows: array<u32, ROWS / 4u>;
  for (var i = 0u; i < ROWS / 4u; i++) {
    a_rows[i] = offs.x + min(row0 + 4u * i + lane / QUADS, p.m - 1u) * p.a_sm;
  }
  var acc: array<vec4<f32>, ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    acc[r] = vec4<f32>(0.0);
  }

  // One loop for all of K: the masks only matter in the last block (K % LANES), but a separate tail
  // copy of the body doubled compile time (lavapipe compiles each pipeline with LLVM) for no measurable
  // speed. Past K both operands read as exact zeros: replaced, not multiplied by zero, so an inf/NaN in
  // the last row of B or column of A cannot leak into the sums.
  for (var k0 = 0u; k0 < p.k; k0 += LANES) {
    var a_mine: array<vec4<f32>, ROWS / 4u>;
    for (var i = 0u; i < ROWS / 4u; i++) {
      a_mine[i] = load_a4(a_rows[i], k0 + 4u * (lane % QUADS));
    }
    for (var kk = 0u; kk < LANES; kk += 4u) {
      let b = load_b_block(b_cols, k0 + kk);
      for (var r = 0u; r < ROWS; r++) {
        let a = subgroupShuffle(a_mine[r / 4u], (r % 4u) * QUADS + kk / 4u);
        var s = fma(vec4<f32>(a.x), b[0], acc[r]);
        s = fma(vec4<f32>(a.y), b[1], s);
        s = fma(vec4<f32>(a.z), b[2], s);
        acc[r] = fma(vec4<f32>(a.w), b[3], s);
      }
    }
  }

  for (var r = 0u; r < ROWS; r++) {
    let row = row0 + r;
    if (row < p.m) {
      for (var c = 0u; c < 4u; c++) {
        if (col0 + c < p.n) { store_out(bi, row, col0 + c, acc[r][c], offs.z); }
      }
    }
  }
}
