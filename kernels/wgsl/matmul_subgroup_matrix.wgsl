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
//   `subgroupMatrixStore` writes one back. Every invocation of the subgroup must take part in each call,
//   and the offsets it is given must be the same across the subgroup: here they derive from
//   `subgroup_id` (Tint rejects offsets derived from local_invocation_index).
//
// How work is split
//   A workgroup of SUBGROUPS_M x SUBGROUPS_N subgroups computes a TILE_M x TILE_N tile of C; subgroup
//   `subgroup_id` owns FRAGS_M x FRAGS_N result fragments of it (TILE_M = SUBGROUPS_M * FRAGS_M * 16).
//   K advances by TK. All invocations stage a TILE_M x TK slab of A and a TK x TILE_N slab of B in
//   workgroup memory, 8 halves (one 16-byte vec4<u32> load) at a time along each operand's contiguous
//   dim, so any orientation (row-major, transposed A, a PyTorch [out, in] weight read as w^T) is read
//   in whole 16-byte pieces. Both slabs are kept k-contiguous: an operand that is contiguous along m or
//   n is transposed on its way in (its 8 halves go to 8 rows). Per 16-deep k step a subgroup loads its
//   FRAGS_M left fragments and FRAGS_N right fragments once each from workgroup memory for FRAGS_M *
//   FRAGS_N products; every staged element serves SUBGROUPS_N (A) or SUBGROUPS_M (B) subgroups.
//   Fragment staging (launcher option, `stage_fragments` below) fills the same slabs with whole
//   fragments instead: per 16-deep k step each subgroup loads its share of the 16-row bands straight
//   from the storage buffers with subgroupMatrixLoad and stores each with one subgroupMatrixStore,
//   without the register prefetch. Written to take the half-by-half stores out of the kernel's bound
//   (see Measured); not yet run on matrix units.
//   Packed staging (launcher option, `store_units` below) keeps the register prefetch but stores each
//   16-byte chunk whole into slabs of vec4<u32> units, each operand in the orientation it has in
//   memory, and loads fragments from the units with the majorness that orientation needs. It relies
//   on the WebGPU proposal's newer form of the matrix loads (any scalar or vector array, the majorness
//   as a template parameter); the dawn.node this project ships has the template form and a toggle
//   about vector pointee strides, so it is likely to accept it. Written 2026-11-28 for the same bound,
//   checked only with the builtins emulated; not yet run on matrix units.
//   Pipelining: the global loads for slab s + 1 are issued into registers before the products of
//   slab s. With STAGES = 2 they are written to the other slab right after the products and one
//   barrier per slab publishes it; with STAGES = 1 (which leaves room for twice the TK) a second
//   barrier first waits for every subgroup to finish reading.
//   Epilogue: each subgroup passes its fragments one at a time through its own 16x16 f32 scratch in
//   workgroup memory, from which its lanes apply store_out (bias, activation, residual, M/N edges).
//   Split K, as in matmul.wgsl: where the output is few tiles, grid z also runs K segments of whole
//   slabs whose epilogue-free f32 partials matmul_split_k.wgsl sums (not yet run on matrix units).
//
// Memory traffic
//   Global: each A element is read N / TILE_N times and each B element M / TILE_M times; per slab a
//   workgroup reads (TILE_M + TILE_N) * TK halves for TILE_M * TILE_N * TK multiply-adds (128x256
//   tiles: 43 multiply-adds per byte). Workgroup memory: STAGES * (TILE_M + TILE_N) * (TK + 8) halves
//   plus 1 KiB of scratch per subgroup (38 KiB for 128x256 tiles, TK 32, one stage, 8 subgroups;
//   with packed staging a band of an m- or n-contiguous operand takes TK * 3 + 2 units: 45 KiB when
//   both are).
//   WGSL stores into an array<f16> one half at a time (the deprecated fragment load needs an array of
//   the matrix's scalar type), so chunk staging costs 8 stores per 16 bytes: 1.5 store instructions per
//   subgroup per 16x16x16 product at 128x256 tiles. That is this kernel's limit (see Measured); packed
//   staging makes it 0.19.
//
// Edges and constraints (kernels/matmul.ts checks them and otherwise runs matmul.wgsl)
//   Staged chunks past K are zero (a stray k would pollute every sum); chunks past M or N are staged as
//   read (robust buffer access keeps the reads inside the buffer) and only reach outputs past M or N,
//   which are never stored. Hence: K % 16 == 0, each operand has unit stride along one matrix dim and
//   its offset and other strides are multiples of 8 elements (16-byte aligned chunks); the buffer pool
//   rounds every buffer to 16 bytes, so a chunk that starts inside an operand ends inside its buffer.
//   The adapter offers an f16 x f16 -> f32 16x16x16 configuration and a fixed subgroup size LANES.
//
// Verification
//   test/kernels/matmul.test.ts against the float64 oracle where the adapter has matrix units (the
//   GPU device session); test/kernels/matmul-subgroup-matrix-emulated.node.test.ts on every run, with
//   the four matrix builtins emulated in plain WGSL (test/subgroup-matrix-emulation.ts) so that the
//   staging, bands, stages, edges and epilogue of this file run on lavapipe too.
//
// Measured (bench/gemm-probe.ts; Dawn + Vulkan, NVIDIA driver 580.159; f16 in, f32 out, GFLOP/s, wall
// clock over 20 back-to-back products, best of 3, after a run checked against the float64 oracle;
// 2026-11-27; the same GPU varies +-15% between processes):
//   H200, the tuned tiles (kernels/matmul.ts SUBGROUP_MATRIX_TUNING) against the tiled kernel
//   (matmul.wgsl, the same f16 inputs in f32 arithmetic), x @ w^T:
//                          this kernel   tile        tiled kernel
//     197x768x768             4500       64x64          1500
//     197x3072x768           10600       64x64          6300
//     1576x768x768           26300      128x128         9900
//     1576x3072x768          40600      128x128        14300
//     2048^3                 59000-70000 128x128       21500
//     4096^3                 98000      128x256        22100   (A @ B: 94600 vs 31600)
//     8192^3 A @ B          102600      128x256        32300
//   torch 2.11 fp16 (cuBLAS) on the same H200: 759000 at 4096^3, so this is 13% of it: the issue's
//   200000 is not reached. What the kernel's history says about where the time goes (4096^3):
//     * fragments and accumulators in arrays indexed in loops (`acc[i * FRAGS_N + j]`): 27000-28000
//       on an H100 whatever the tile, the same as the f32-arithmetic kernel; the same code written out
//       per fragment with named variables: 62000-75000 on the H200. Hence the generated code below.
//     * fragment loads from one flat slab at offsets Tint cannot bound are each wrapped in a bounds
//       check (Dawn's robustness): turning robustness off took the kernel from 62000 to 104000. Bands
//       with constant offsets made the check provably true at compile time (70000, the same with
//       robustness off) and allowed the deeper tiles that reach 95000-102000.
//     * leaving out the staging (products on stale slabs, results wrong): 160000-213000; leaving out
//       the products (staging only): 93000-117000. The half-at-a-time stores and the global loads they
//       wait for bound the kernel; the matrix units could take 2x more. Rotating each chunk's store
//       order to spread the banks made it slower, first with a dynamic index into the register chunk
//       (H100) and again with the chunk copied before picking halves (H200, two runs each against the
//       shipped kernel: A @ B 4096^3 78000-80000 against 91000-93000, 1576x3072x768 24000 against
//       23000-34000), so the store order stays as written.
//   Deprecation: this Dawn warns that subgroupMatrixLoad / subgroupMatrixStore with a col_major bool
//   are deprecated (2026-11-27); they still compile and run. The WebGPU proposal now spells the majorness
//   as a template parameter (subgroupMatrixLoad<T, row_major>(p, offset, stride)) and allows arrays of
//   any scalar or vector type, which packed staging uses to stage a 16-byte chunk with one store
//   instead of 8 (this kernel's bound); bench/wgsl-forms-probe.ts (device session step wgsl-forms)
//   finds out which of these forms this Dawn compiles. Not yet run on a GPU.
//   The first version of this kernel (one subgroup per workgroup, fragments straight from the storage
//   buffers) ran 23100 on an H100.

enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;

const SUBGROUPS_M: u32 = /*@SUBGROUPS_M*/2u/*@end*/;     // subgroups per workgroup along M
const SUBGROUPS_N: u32 = /*@SUBGROUPS_N*/4u/*@end*/;     // ... and along N
const FRAGS_M: u32 = /*@FRAGS_M*/1u/*@end*/;             // result fragments per subgroup along M
const FRAGS_N: u32 = /*@FRAGS_N*/1u/*@end*/;             // ... and along N
const TK: u32 = /*@TK*/32u/*@end*/;                      // K per staged slab, a multiple of 16
const STAGES: u32 = /*@STAGES*/2u/*@end*/;               // slabs per operand: 2 overlaps refill and products
const LANES: u32 = /*@LANES*/32u/*@end*/;                // the adapter's (fixed) subgroup size
const A_K_CONTIGUOUS: bool = /*@A_K_CONTIGUOUS*/true/*@end*/;   // else A is m-contiguous
const B_K_CONTIGUOUS: bool = /*@B_K_CONTIGUOUS*/false/*@end*/;  // else B is n-contiguous
const F: u32 = 16u;                                      // fragment edge
const INVOCATIONS: u32 = SUBGROUPS_M * SUBGROUPS_N * LANES;
const TILE_M: u32 = SUBGROUPS_M * FRAGS_M * F;
const TILE_N: u32 = SUBGROUPS_N * FRAGS_N * F;

const BANDS_M: u32 = TILE_M / F;                         // 16-row bands of A's slab (rows are m)
const BANDS_N: u32 = TILE_N / F;                         // ... and of B's (rows are n)
var<workgroup> c_frag: array<array<f32, F * F>, SUBGROUPS_M * SUBGROUPS_N>;   // per-subgroup scratch

// Staging: the launcher keeps the blocks of one of three ways to fill the slabs (kernels/matmul.ts
// SubgroupMatrixChoice.staging). Chunk staging (the default) and packed staging bind A and B as
// vec4<u32>s of 8 halves and have every invocation fetch whole chunks into registers ahead of the
// products; chunk staging then stores them half by half into f16 slabs, packed staging whole into
// vec4<u32> slabs. Fragment staging binds A and B as f16 arrays and has every subgroup move whole
// 16x16 fragments.
const PACKED: bool = /*@PACKED*/false/*@end*/;           // packed staging (see chunk_origin)

/*@half_slabs*/
// Chunk and fragment staging: both slabs hold their operand k-contiguous, as bands of 16 rows (m for
// A, n for B) of TK halves, each row padded by 8 halves so that a fragment's 16 rows start in different
// banks. A fragment is then always 16 rows of one band at a constant offset (its k step) and constant
// stride, which lets Tint prove its load in bounds instead of wrapping each one in a bounds check. With
// STAGES = 2 the products read one slab (index `buf`) while the other is filled.
const ROW: u32 = TK + 8u;                                // halves per staged row
var<workgroup> a_slab: array<array<f16, F * ROW>, STAGES * BANDS_M>;
var<workgroup> b_slab: array<array<f16, F * ROW>, STAGES * BANDS_N>;
/*@end*/

/*@chunk_registers*/
// 8-half chunks (one vec4<u32> load) each invocation stages per slab, held in registers meanwhile.
const A_CHUNKS: u32 = TILE_M * TK / 8u / INVOCATIONS;
const B_CHUNKS: u32 = TILE_N * TK / 8u / INVOCATIONS;
var<private> a_next: array<vec4<u32>, A_CHUNKS>;
var<private> b_next: array<vec4<u32>, B_CHUNKS>;

// Slab position (row, k) of the first half of chunk c of a slab of `rows` rows and TK columns. A chunk
// is 8 halves along the operand's contiguous dim. Along k (k_contiguous): consecutive chunks walk a
// row, so a subgroup reads whole cache lines and writes whole rows. Along rows, chunk staging has
// consecutive chunks take consecutive k, so that each of the chunk's 8 stores (one per row) from a
// subgroup lands on consecutive halves of one row, not on one bank; packed staging stores a chunk whole,
// so there consecutive chunks walk the rows, and a subgroup reads whole cache lines again.
fn chunk_origin(c: u32, k_contiguous: bool, rows: u32) -> vec2<u32> {
  if (k_contiguous) { return vec2<u32>(c / (TK / 8u), (c % (TK / 8u)) * 8u); }
  if (PACKED) { return vec2<u32>((c % (rows / 8u)) * 8u, c / (rows / 8u)); }
  return vec2<u32>((c / TK) * 8u, c % TK);
}

// Reads this invocation's chunks of the slabs starting at k0 into registers. Chunks past K are zero
// (a stray k would pollute every sum); chunks past M or N are read as they are (robust buffer access
// keeps the reads inside the buffer) and only reach outputs past M or N, which are never stored.
fn fetch_slabs(li: u32, offs: vec3<u32>, row_base: u32, col_base: u32, k0: u32) {
  for (var j = 0u; j < A_CHUNKS; j++) {
    let o = chunk_origin(li + j * INVOCATIONS, A_K_CONTIGUOUS, TILE_M);
    let m = row_base + o.x;
    let k = k0 + o.y;
    a_next[j] = select(vec4<u32>(0u), a_in[(offs.x + m * p.a_sm + k * p.a_sk) / 8u], m < p.m && k < p.k);
  }
  for (var j = 0u; j < B_CHUNKS; j++) {
    let o = chunk_origin(li + j * INVOCATIONS, B_K_CONTIGUOUS, TILE_N);
    let n = col_base + o.x;
    let k = k0 + o.y;
    b_next[j] = select(vec4<u32>(0u), b_in[(offs.y + k * p.b_sk + n * p.b_sn) / 8u], n < p.n && k < p.k);
  }
}
/*@end*/

/*@chunk_staging*/
// Slab position of half h of a chunk that starts at `origin`.
fn chunk_half(origin: vec2<u32>, h: u32, k_contiguous: bool) -> vec2<u32> {
  return origin + select(vec2<u32>(h, 0u), vec2<u32>(0u, h), k_contiguous);
}

// Writes the fetched chunks into slab `buf`, one half at a time (a fragment load from this Dawn's
// deprecated form needs an array of the matrix's scalar type, and WGSL cannot store a vector into one).
fn store_slabs(li: u32, buf: u32) {
  for (var j = 0u; j < A_CHUNKS; j++) {
    let o = chunk_origin(li + j * INVOCATIONS, A_K_CONTIGUOUS, TILE_M);
    for (var h = 0u; h < 8u; h++) {
      let at = chunk_half(o, h, A_K_CONTIGUOUS);
      a_slab[buf * BANDS_M + at.x / F][(at.x % F) * ROW + at.y] = bitcast<vec2<f16>>(a_next[j][h / 2u])[h % 2u];
    }
  }
  for (var j = 0u; j < B_CHUNKS; j++) {
    let o = chunk_origin(li + j * INVOCATIONS, B_K_CONTIGUOUS, TILE_N);
    for (var h = 0u; h < 8u; h++) {
      let at = chunk_half(o, h, B_K_CONTIGUOUS);
      b_slab[buf * BANDS_N + at.x / F][(at.x % F) * ROW + at.y] = bitcast<vec2<f16>>(b_next[j][h / 2u])[h % 2u];
    }
  }
}
/*@end*/

/*@packed_staging*/
// Packed staging: the slabs are arrays of vec4<u32> units of 8 halves, and each operand keeps the
// orientation it has in memory, so every fetched chunk is one unit and is stored with one instruction
// (chunk staging: 8). The fragment loads read the units as halves, row- or column-major as the band
// lies: the WebGPU proposal's subgroupMatrixLoad<T, majorness>(p, offset, stride) takes an array of
// any scalar or vector type and counts offset and stride in its elements (here units).
//   k-contiguous operand: bands of 16 rows (m or n) of TK halves plus one unit of padding, as the
//     f16 slabs of the other stagings: K_ROW_UNITS units per row.
//   m- or n-contiguous operand: bands of TK k-rows, each 16 halves of m or n plus one unit of padding
//     (X_ROW_UNITS = 3: a fragment's 16 k-rows, 48 bytes apart, start in different banks), and two more
//     units per band so that the 16-byte stores of consecutive chunks, which alternate between the two
//     units of one row and move one band on every second chunk, fall on different banks.
const K_ROW_UNITS: u32 = (TK + 8u) / 8u;
const X_ROW_UNITS: u32 = 3u;
const A_BAND_UNITS: u32 = select(TK * X_ROW_UNITS + 2u, F * K_ROW_UNITS, A_K_CONTIGUOUS);
const B_BAND_UNITS: u32 = select(TK * X_ROW_UNITS + 2u, F * K_ROW_UNITS, B_K_CONTIGUOUS);
var<workgroup> a_units: array<array<vec4<u32>, A_BAND_UNITS>, STAGES * BANDS_M>;
var<workgroup> b_units: array<array<vec4<u32>, B_BAND_UNITS>, STAGES * BANDS_N>;
// A fragment in units: the stride between its 16 rows (k-contiguous band) or its 16 k-rows, and the
// offset of each 16-deep k step within its band. kernels/matmul.ts writes the loads with these.
const A_FRAG_STRIDE: u32 = select(X_ROW_UNITS, K_ROW_UNITS, A_K_CONTIGUOUS);
const B_FRAG_STRIDE: u32 = select(X_ROW_UNITS, K_ROW_UNITS, B_K_CONTIGUOUS);
const A_K_STEP: u32 = select(F * X_ROW_UNITS, F / 8u, A_K_CONTIGUOUS);
const B_K_STEP: u32 = select(F * X_ROW_UNITS, F / 8u, B_K_CONTIGUOUS);

// Unit of a band that holds the chunk starting at slab position `origin` (row, k).
fn packed_unit(origin: vec2<u32>, k_contiguous: bool) -> u32 {
  if (k_contiguous) { return (origin.x % F) * K_ROW_UNITS + origin.y / 8u; }
  return origin.y * X_ROW_UNITS + (origin.x % F) / 8u;
}

// Writes the fetched chunks into slab `buf`, one store each.
fn store_units(li: u32, buf: u32) {
  for (var j = 0u; j < A_CHUNKS; j++) {
    let o = chunk_origin(li + j * INVOCATIONS, A_K_CONTIGUOUS, TILE_M);
    a_units[buf * BANDS_M + o.x / F][packed_unit(o, A_K_CONTIGUOUS)] = a_next[j];
  }
  for (var j = 0u; j < B_CHUNKS; j++) {
    let o = chunk_origin(li + j * INVOCATIONS, B_K_CONTIGUOUS, TILE_N);
    b_units[buf * BANDS_N + o.x / F][packed_unit(o, B_K_CONTIGUOUS)] = b_next[j];
  }
}
/*@end*/

/*@fragment_staging*/
// Fragment staging: slab `buf` of the slabs starting at k0, filled by whole fragments. Per 16-deep k
// step, subgroup sg loads bands sg, sg + SUBGROUPS, ... of each operand straight from the storage
// buffer as one fragment each (row- or column-major as the operand lies, with its own stride) and
// stores it into its band of the slab, k-contiguous: two matrix instructions per 256 halves instead
// of 8 half stores per invocation per 8 halves. K steps past K are staged as zero fragments (the step
// is the same for the whole workgroup, so every subgroup takes part in every load); rows past M or N
// are read as the buffer holds them and only reach outputs that are never stored.
const SUBGROUPS: u32 = SUBGROUPS_M * SUBGROUPS_N;

fn stage_fragments(sg: u32, offs: vec3<u32>, row_base: u32, col_base: u32, k0: u32, buf: u32) {
  for (var s = 0u; s < TK / F; s++) {
    let k = k0 + s * F;
    let inside = k < p.k;
    for (var t = 0u; t < BANDS_M / SUBGROUPS; t++) {
      let band = sg + t * SUBGROUPS;
      var left = subgroup_matrix_left<f16, F, F>();
      if (inside) {
        let at = offs.x + (row_base + band * F) * p.a_sm + k * p.a_sk;
        left = subgroupMatrixLoad<subgroup_matrix_left<f16, F, F>>(&a_in, at, !A_K_CONTIGUOUS, select(p.a_sk, p.a_sm, A_K_CONTIGUOUS));
      }
      subgroupMatrixStore(&a_slab[buf * BANDS_M + band], s * F, left, false, ROW);
    }
    for (var t = 0u; t < BANDS_N / SUBGROUPS; t++) {
      let band = sg + t * SUBGROUPS;
      var right = subgroup_matrix_right<f16, F, F>();
      if (inside) {
        let at = offs.y + k * p.b_sk + (col_base + band * F) * p.b_sn;
        right = subgroupMatrixLoad<subgroup_matrix_right<f16, F, F>>(&b_in, at, B_K_CONTIGUOUS, select(p.b_sk, p.b_sn, B_K_CONTIGUOUS));
      }
      subgroupMatrixStore(&b_slab[buf * BANDS_N + band], s * F, right, true, ROW);
    }
  }
}
/*@end*/

// Epilogue for one finished fragment whose top-left output is (row0, col0): through this subgroup's
// scratch, then element by element through store_out (which knows the M/N edges and the epilogue).
fn store_fragment(frag: subgroup_matrix_result<f32, F, F>, sg: u32, lane: u32, bi: u32, row0: u32, col0: u32, res_base: u32) {
  subgroupMatrixStore(&c_frag[sg], 0u, frag, false, F);
  workgroupBarrier();
  for (var e = lane; e < F * F; e += LANES) {
    let row = row0 + e / F;
    let col = col0 + e % F;
    if (row < p.m && col < p.n) { store_out(bi, row, col, c_frag[sg][e], res_base); }
  }
  workgroupBarrier();
}

@compute @workgroup_size(INVOCATIONS)
fn matmul_subgroup_matrix(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32,
                          @builtin(subgroup_id) sg: u32, @builtin(subgroup_invocation_id) lane: u32) {
  // This workgroup's batch entry, the batch its tile is stored as and its K range (k_segment: all of K
  // unless K is split, as in matmul.wgsl).
  let seg = k_segment(wid.z);
  let bi = seg.bi;
  let out_bi = seg.out_bi;
  let offs = batch_offsets(bi);
  let row_base = wid.y * TILE_M;
  let col_base = wid.x * TILE_N;
  // This subgroup's fragments start at band sg_m * FRAGS_M of A's slab and sg_n * FRAGS_N of B's.
  let sg_m = sg / SUBGROUPS_N;
  let sg_n = sg % SUBGROUPS_N;
  // The accumulators, the products of one slab and the epilogue below are written out per fragment
  // (acc_i_j for fragment (i, j)) and per 16-deep k step by kernels/matmul.ts for the chosen
  // FRAGS_M x FRAGS_N and TK; as shown, for one fragment and TK = 32. Named variables, not arrays
  // indexed in loops, and constant fragment offsets: either made this kernel 2-3x slower (see Measured).
  /*@accumulators*/
  var acc_0_0: subgroup_matrix_result<f32, F, F>;   // zero-initialised
  /*@end*/

  /*@stage_first*/
  fetch_slabs(li, offs, row_base, col_base, seg.k_begin);
  store_slabs(li, 0u);
  /*@end*/
  workgroupBarrier();
  var buf = 0u;
  for (var k0 = seg.k_begin; k0 < seg.k_end; k0 += TK) {
    let more = k0 + TK < seg.k_end;
    /*@fetch_next*/
    if (more) { fetch_slabs(li, offs, row_base, col_base, k0 + TK); }   // in flight during the products
    /*@end*/
    let a_band = buf * BANDS_M + sg_m * FRAGS_M;
    let b_band = buf * BANDS_N + sg_n * FRAGS_N;
    // Per k step: FRAGS_M left and FRAGS_N right fragment loads, FRAGS_M * FRAGS_N products. A is
    // read row-major from its band, B column-major (its band rows are n); with packed staging each
    // from its unit band, row- or column-major as that band lies (kernels/matmul.ts writes the loads).
    /*@products*/
    {
      let left_0 = subgroupMatrixLoad<subgroup_matrix_left<f16, F, F>>(&a_slab[a_band + 0u], 0u, false, ROW);
      let right_0 = subgroupMatrixLoad<subgroup_matrix_right<f16, F, F>>(&b_slab[b_band + 0u], 0u, true, ROW);
      acc_0_0 = subgroupMatrixMultiplyAccumulate(left_0, right_0, acc_0_0);
    }
    {
      let left_0 = subgroupMatrixLoad<subgroup_matrix_left<f16, F, F>>(&a_slab[a_band + 0u], 16u, false, ROW);
      let right_0 = subgroupMatrixLoad<subgroup_matrix_right<f16, F, F>>(&b_slab[b_band + 0u], 16u, true, ROW);
      acc_0_0 = subgroupMatrixMultiplyAccumulate(left_0, right_0, acc_0_0);
    }
    /*@end*/
    // With two slabs the other one was last read before the previous barrier, so it can be refilled
    // now, and one barrier per slab publishes it and retires this one. With one, every subgroup must
    // be done reading it first.
    if (STAGES == 1u) { workgroupBarrier(); }
    let next = (buf + 1u) % STAGES;
    /*@store_next*/
    if (more) { store_slabs(li, next); }
    /*@end*/
    workgroupBarrier();
    buf = next;
  }

  /*@stores*/
  store_fragment(acc_0_0, sg, lane, out_bi, row_base + (sg_m * FRAGS_M + 0u) * F, col_base + (sg_n * FRAGS_N + 0u) * F, offs.z);
  /*@end*/
}
