// index_add.wgsl — deterministic index_add: out = zeros, then out[o, index[j], i] += src[o, j, i] for every
// j, summed in increasing j. It is the backward of index_select and of embedding lookups, where several j
// often name one row (a token repeated in a batch).
//
// Why not atomics
//   indexing.wgsl's scatter_add adds with atomics, so the order of the f32 additions into a row follows
//   the hardware's scheduling and the last bits change from run to run. Here the positions j are first
//   sorted by their index value, stably, and every output element then sums its own run of that order
//   sequentially: the same bits on every run and every adapter with IEEE f32 addition, and exactly the
//   left-to-right sum a CPU loop over j computes. No atomics, and no zero fill (every output element is
//   written once, untouched rows with 0).
//
// What each entry point does (N positions j, a target axis of SIZE entries, digit = 8 bits of the key)
//   The key of j is index[j], or SIZE when index[j] is outside [0, SIZE) (those sort last and are never
//   summed, as scatter_add skips them). A least-significant-digit radix sort orders (key, j) pairs, one
//   8-bit digit per pass, ceil(log2(SIZE + 1) / 8) passes (2 for vocabularies up to 65535):
//   sort_histogram  one invocation per block of BLOCK consecutive pairs counts the block's digits into its
//                   own column hist[digit * blocks + block]: no other invocation writes there, so no atomics.
//   sort_offsets    one workgroup of 256 invocations, one per digit: an exclusive scan of its row of hist,
//                   then the digit's base (the pairs of all smaller digits) added. hist[digit][block] is
//                   then where the block's first pair with that digit goes.
//   sort_scatter    one invocation per block walks its pairs in order and sends each to the next slot of
//                   its digit: stable, so after the last pass pairs are ordered by key and, within a key,
//                   by j.
//   run_starts      one invocation per key value v in [0, SIZE]: the first sorted position whose key is
//                   >= v (a binary search), so key v's positions are sorted[starts[v] .. starts[v + 1]).
//   index_add_rows  every output element (o, v, i) gets the sum over its key's run, in f32 for floats
//                   (f16 too) and exactly for integers (wrapping, as scatter_add's atomics); see below
//                   for how invocations share the elements.
//
// Cost: the sort touches each index a few times per pass; the serial walks are over BLOCK = 256 pairs, so
// a sort of N pairs has N / 256 parallel invocations: fine for index_add's N (tokens in a batch), not a
// general-purpose sort. The sums read each src element once and write each output element once.
//
// Constraints: index is a contiguous i32 vector of N entries and src a contiguous [outer, N, inner] tensor,
// each at an element offset; out is a fresh contiguous [outer, SIZE, inner] tensor (the op arranges this).
//
// Measured (lavapipe 25.0.7, 2 cores; bench/indexing-probe.ts with PROBE_CPU_TIME=1, process CPU time / 2,
// best of 3 batches of 0.3 s, 2026-11-27; the same result from indexing.wgsl's atomic scatter_add in
// brackets, which also needs a zero fill of the whole target first):
//   4096 rows x 768 into [30000,768] (an embedding's backward):   19.1-19.3 ms   [81-85 ms]
//   2464 rows x 512 into [49408,512] (CLIP's vocabulary):          20.9-21.3 ms   [64-68 ms]
//   8192 rows x 16 into [100,16]:                                   0.9-1.1 ms    [2.3 ms]
//   The large cases are the sums' pass writing the whole table (92 and 101 MB): it is a memory-bound
//   fill plus the gathered reads. Before the sums took a line per invocation on CPU adapters (one
//   invocation per element, with its divisions and two run_start loads), the first case took 229 ms.
//   The sort's per-block counters live in private arrays: the same time here (19.0-19.6 against
//   19.3-20.5 ms with the counters in the global histogram); meant for GPUs, where a serial loop over
//   global read-modify-writes waits on memory latency at every step. Not yet measured on a GPU.
//
// Verification: test/engine/indexing.test.ts compares every output bit with a left-to-right f32 loop
// (f16: f32 sums rounded once; i32: wrapping sums) over random shapes, axes, duplicate and out-of-range
// indices, strided src and index views, 1-3 sort passes and both adapter classes' launch shapes.

const BLOCK: u32 = 256u;
const DIGITS: u32 = 256u;

struct Params {
  n: u32,          // positions j (= entries of index)
  size: u32,       // entries of the target axis
  blocks: u32,     // ceil(n / BLOCK)
  shift: u32,      // bit offset of this pass's digit
  outer: u32,      // product of the dims before the axis
  units: u32,      // units (of 1 or 4 elements, see index_add_rows) per output line: the dims after the axis
  per: u32,        // units per invocation of index_add_rows
  segments: u32,   // invocations per output line: ceil(units / per)
  index_offset: u32,
  src_offset: u32, // in units
}

@group(0) @binding(0) var<uniform> p: Params;

// ---- the sort of (key, j) pairs ----

// Each entry point's bindings are 1..k with no gap (WebGPU's automatic layouts drop unused ones), so the
// histogram's three come first.
@group(0) @binding(1) var<storage, read> index: array<i32>;
@group(0) @binding(2) var<storage, read> keys_in: array<u32>;
@group(0) @binding(3) var<storage, read_write> hist: array<u32>;
@group(0) @binding(4) var<storage, read> pos_in: array<u32>;
@group(0) @binding(5) var<storage, read_write> keys_out: array<u32>;
@group(0) @binding(6) var<storage, read_write> pos_out: array<u32>;

// The first pass reads the index itself (keys_in and pos_in bound but unread: the position is k); later
// passes read the previous pass's pairs. FIRST is set by the launcher per pass.
override FIRST: bool = false;

fn key_at(k: u32) -> u32 {
  if (FIRST) {
    let v = index[p.index_offset + k];
    return select(p.size, u32(v), v >= 0 && u32(v) < p.size);
  }
  return keys_in[k];
}

fn pos_at(k: u32) -> u32 {
  if (FIRST) { return k; }
  return pos_in[k];
}

fn digit_of(key: u32) -> u32 {
  return (key >> p.shift) & (DIGITS - 1u);
}

// Linear id of an invocation in the 64-wide workgroups of the sort and run kernels (grid spills into y).
fn id64(wid: vec3<u32>, lid: u32, nwg: vec3<u32>) -> u32 {
  return (wid.y * nwg.x + wid.x) * 64u + lid;
}

@compute @workgroup_size(64)
fn sort_histogram(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                  @builtin(num_workgroups) nwg: vec3<u32>) {
  let b = id64(wid, lid, nwg);
  if (b >= p.blocks) { return; }
  // Counted in a private array (function-scope variables start at zero): on a GPU each step of this
  // serial loop then waits on a local access, not on a global read-modify-write.
  var counts: array<u32, DIGITS>;
  for (var k = b * BLOCK; k < min(p.n, (b + 1u) * BLOCK); k++) {
    let d = digit_of(key_at(k));
    counts[d] += 1u;
  }
  for (var d = 0u; d < DIGITS; d++) { hist[d * p.blocks + b] = counts[d]; }
}

// sort_offsets binds only the histogram, as its binding 1.
@group(0) @binding(1) var<storage, read_write> offsets: array<u32>;
var<workgroup> digit_totals: array<u32, DIGITS>;

@compute @workgroup_size(256)
fn sort_offsets(@builtin(local_invocation_index) d: u32) {
  var run = 0u;
  for (var b = 0u; b < p.blocks; b++) {
    let count = offsets[d * p.blocks + b];
    offsets[d * p.blocks + b] = run;
    run += count;
  }
  digit_totals[d] = run;
  workgroupBarrier();
  var base = 0u;
  for (var e = 0u; e < d; e++) { base += digit_totals[e]; }
  for (var b = 0u; b < p.blocks; b++) { offsets[d * p.blocks + b] += base; }
}

@compute @workgroup_size(64)
fn sort_scatter(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                @builtin(num_workgroups) nwg: vec3<u32>) {
  let b = id64(wid, lid, nwg);
  if (b >= p.blocks) { return; }
  var next: array<u32, DIGITS>;   // the block's next slot per digit, kept private as in sort_histogram
  for (var d = 0u; d < DIGITS; d++) { next[d] = hist[d * p.blocks + b]; }
  for (var k = b * BLOCK; k < min(p.n, (b + 1u) * BLOCK); k++) {
    let key = key_at(k);
    let d = digit_of(key);
    let dst = next[d];
    next[d] = dst + 1u;
    keys_out[dst] = key;
    pos_out[dst] = pos_at(k);
  }
}

// ---- runs and sums ----

@group(0) @binding(1) var<storage, read> sorted_keys: array<u32>;
@group(0) @binding(2) var<storage, read_write> starts: array<u32>;

@compute @workgroup_size(64)
fn run_starts(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
              @builtin(num_workgroups) nwg: vec3<u32>) {
  let v = id64(wid, lid, nwg);
  if (v > p.size) { return; }
  var lo = 0u;
  var hi = p.n;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (sorted_keys[mid] < v) { lo = mid + 1u; } else { hi = mid; }
  }
  starts[v] = lo;
}

// The sums work in units of UNIT consecutive inner elements: vec4s when inner % 4 == 0 and src's offset
// is 4-aligned (the launcher swaps the unit types), else single elements. An invocation takes `per`
// consecutive units of one output line (o, v): GPUs one unit each, CPU adapters a whole line (one
// division and two run_start loads per line, not per element).
alias U = vec4<f32>;    // a unit of the src / out element type (as written: f32 vec4s)
alias UA = vec4<f32>;   // a unit of the accumulator type: f32 for floats (f16 too), the element type for integers

@group(0) @binding(1) var<storage, read> run_start: array<u32>;
@group(0) @binding(2) var<storage, read> sorted_pos: array<u32>;
@group(0) @binding(3) var<storage, read> src: array<U>;
@group(0) @binding(4) var<storage, read_write> out: array<U>;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn index_add_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                  @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = (wid.y * nwg.x + wid.x) * WG + lid;
  if (id >= p.outer * p.size * p.segments) { return; }
  let line = id / p.segments;
  let v = line % p.size;
  let o = line / p.size;
  let first = (id % p.segments) * p.per;
  let src_line = p.src_offset + o * p.n * p.units;   // src[o, 0, 0] in units
  let k0 = run_start[v];
  let k1 = run_start[v + 1u];
  for (var u = first; u < min(first + p.per, p.units); u++) {
    var acc = UA(0);
    for (var k = k0; k < k1; k++) {
      acc += UA(src[src_line + sorted_pos[k] * p.units + u]);
    }
    out[line * p.units + u] = U(acc);
  }
}
