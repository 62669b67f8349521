// elementwise.wgsl — map one, two or three strided tensors into a fresh contiguous tensor.
//
// What it computes
//   out[i] = op(a[idx_a(i)], b[idx_b(i)], c[idx_c(i)])   for i in [0, numel)
//   where idx_x(i) unravels i over the (broadcast) output shape and dots the coordinates with x's strides.
//   Broadcasting is a stride of 0; transposes, slices with steps and expands are just other strides, so no
//   operand is ever copied into contiguous form first.
//
// How work is split
//   The launcher first merges adjacent dimensions that are contiguous in every operand ("coalescing"), so
//   the common cases (same-shape contiguous inputs, a scalar operand) become rank 1 and a bias broadcast
//   along rows rank 2. Dims travel innermost first.
//   Work is counted in units of four consecutive output elements, written as one vec4 store. A workgroup
//   of WG invocations takes WG * PER consecutive units, invocation lid the PER consecutive units from
//   (workgroup * WG + lid) * PER; workgroups lie on a 2-D grid so that large tensors still launch. An
//   invocation unravels its first element once (rank - 1 divisions by precomputed pitches, none at rank
//   1), then moves a cursor by adding strides, unravelling again only where the cursor leaves the
//   innermost dim's row. Until 2026-11-27 an invocation's units were interleaved (lid, lid + WG, ...) so
//   that neighbouring lanes touched neighbouring units; with rows of 4 * WG elements or fewer (a bias over
//   64 channels) every step then left the row and re-unravelled (integer divisions, scalarised on CPUs).
//   Operands are read one of two ways, chosen per launch by the uniform flag `vec` (one pipeline serves
//   both, so shapes never add pipelines):
//     vec = 1: the innermost extent is a multiple of 4 and each operand walks it with stride 1 from a
//              4-aligned offset with 4-aligned outer strides (one vec4 load) or with stride 0 (one scalar
//              load, splatted); the cursor moves a unit at a time;
//     vec = 0: any strides; four scalar loads per operand, the cursor moving an element at a time.
//   Small workgroups and several units per invocation suit CPU adapters, which pay per invocation and per
//   integer division (scalarised), not per byte; GPU adapters use WG 256 and PER 1 (adjacent invocations
//   touch adjacent vec4s: coalesced).
//
// Memory traffic
//   Reads each input element once per output element that uses it (broadcast reads hit the cache) and
//   writes numel * sizeof(R) bytes: the kernel is bandwidth bound unless the op is long (erf in gelu).
//
// Specialisation
//   The launcher (kernels/elementwise.ts) sets the element types A, B, C (inputs) and R (output) and
//   ARITY, replaces the body of op between the markers with the requested operation and sets the
//   overrides WG and PER. Float math runs in f32 even for f16 tensors. As written here the file compiles
//   as a float32 select.
//
// Constraints
//   rank <= 8 (pitches and strides travel as vec4<u32> pairs); offsets and strides in elements, < 2^32.
//   Every buffer is bound as an array of vec4s, so buffer sizes must be multiples of 16 bytes (the engine's
//   pool guarantees it), and the output must own its buffer: when numel is not a multiple of 4 the last
//   vec4 store also writes up to three elements of padding past the end.
//
// Measured (lavapipe, 2 cores shared with other jobs, load average ~6; bench/elementwise-probe.ts; 1024x3072
//   f32 unless noted; GB/s counts each input read once and the output written once; wall GB/s, with GB per
//   CPU-second of the process in brackets, which the load disturbs less). "before" is the previous kernel:
//   one element per invocation, 256 per workgroup, div + mod per dim per element.
//                                            before          after (CPU tuning: WG 16, PER 32)
//     copyBufferToBuffer (ceiling)           9.1  (9.4)      10.2 (12.4)
//     contiguousCopy, contiguous source      0.16 (0.19)     7.7  (10.1)  now copyBufferToBuffer
//     contiguousCopy, transposed             0.09 (0.10)     0.12 (0.39)
//     contiguousCopy [:, :1536]              0.10 (0.15)     1.44 (1.38)
//     contiguousCopy [8,197,12,64] permute   0.04 (0.11)     0.39 (0.40)
//     neg                                    0.08 (0.16)     1.73 (1.88)
//     neg f16                                0.03 (0.11)     0.73 (0.91)
//     mul by a scalar                        0.12 (0.20)     1.33 (1.83)
//     add, same shape                        0.18 (0.31)     1.11 (1.95)
//     add, bias [3072]                       0.10 (0.16)     1.18 (1.55)
//     add, transposed + contiguous           0.08 (0.13)     0.18 (0.54)
//     gelu                                   0.11 (0.19)     0.65 (1.28)
//   Tuning sweep (GB per CPU-second, neg / bias add / gelu / transposed copy): one element per invocation
//   at WG 256 ~0.7 / 0.5 / 0.4 / 0.25; 64x4 ~1.6 / 1.1 / 1.2 / 0.45; 16x16 ~2.1 / 1.4 / 1.3 / 0.45;
//   8x32 and 16x32 ~2.3 / 1.7 / 1.4 / 0.45; 8x64 about the same: per-invocation and per-workgroup costs
//   dominate until an invocation handles ~100 elements. Gathers (transposes) stay latency bound.
//   Pipeline compile is ~16 ms of CPU per op against ~8 ms before (both read paths are compiled).
//   Consecutive against interleaved units (quiet machine, 2026-11-27; wall GB/s of this probe, 1024x3072
//   unless noted; ms from a script for the [4096, 64] case): add [4096, 64] + bias [64] 3.12 -> 1.19-1.24 ms
//   (a bias over 4096 columns: 0.95-0.97 ms either way); copy [8,197,12,64] permute(0,2,1,3) 1.01 -> 2.53;
//   transposed copy 1.51 -> 1.72; transposed + contiguous add 1.84 -> 2.02; neg, scalar mul, same-shape
//   add, bias [3072] add and gelu unchanged within 5% (4.5 / 4.4 / 5.5-5.8 / 3.7 / 3.2).

alias A = f32;
alias B = f32;
alias C = f32;
alias R = f32;

override WG: u32 = 256u;
override PER: u32 = 1u;
// Operands the op reads: a; a and b; or a, b and c. The launcher binds every operand slot (a stand-in
// for unread ones, never read: the `if (ARITY >= ...)` below are folded away at compile time).
const ARITY: u32 = /*@ARITY*/3u/*@end*/;

struct Params {
  numel: u32,
  rank: u32,
  a_offset: u32,
  b_offset: u32,
  c_offset: u32,
  alpha: f32,          // scalar operand of ops such as clamp, pow-by-scalar, leaky slopes
  beta: f32,
  inner: u32,          // extent of the innermost dim
  vec: u32,            // 1: vec4 / splat loads (see the header), 0: scalar loads
  pitch: array<vec4<u32>, 2>,      // elements per step of dim d of the output (innermost first; pitch[0] = 1)
  a_strides: array<vec4<u32>, 2>,  // elements per step of dim d of each operand
  b_strides: array<vec4<u32>, 2>,
  c_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;

// The operation on one element of each operand; the launcher replaces the body. Ops of fewer operands
// ignore the extra arguments (see ARITY).
fn op(a_in: A, b_in: B, c_in: C) -> R {
  /*@op*/ return select(R(c_in), R(b_in), a_in != A(0)); /*@end*/
}

// An invocation's units are first .. first + PER - 1, consecutive, so its cursor leaves the innermost row
// only every inner / 4 units (see the header); with PER = 1 (GPUs) neighbouring invocations take
// neighbouring units, which coalesces.
fn first_unit(wid: vec3<u32>, lid: u32, nwg: vec3<u32>) -> u32 {
  return ((wid.y * nwg.x + wid.x) * WG + lid) * PER;
}

fn dim_of(v: array<vec4<u32>, 2>, d: u32) -> u32 {
  return v[d >> 2u][d & 3u];
}

fn inner_step() -> vec3<u32> {
  return vec3<u32>(p.a_strides[0].x, p.b_strides[0].x, p.c_strides[0].x);
}

// Element offsets of output element e in up to three operands (unused strides are zero) and e's
// coordinate along the innermost dim.
struct Cursor {
  off: vec3<u32>,
  inner: u32,
}

fn unravel(e: u32) -> Cursor {
  var rem = e;
  var off = vec3<u32>(p.a_offset, p.b_offset, p.c_offset);
  for (var d = p.rank - 1u; d > 0u; d--) {
    let coord = rem / dim_of(p.pitch, d);
    rem -= coord * dim_of(p.pitch, d);
    off += coord * vec3<u32>(dim_of(p.a_strides, d), dim_of(p.b_strides, d), dim_of(p.c_strides, d));
  }
  return Cursor(off + rem * inner_step(), rem);
}

// Moves the cursor from element e to element e + n, unravelling afresh where that leaves the row.
fn advance(cur: ptr<function, Cursor>, e: u32, n: u32) {
  (*cur).inner += n;
  (*cur).off += n * inner_step();
  if ((*cur).inner >= p.inner) { *cur = unravel(e + n); }
}

@group(0) @binding(1) var<storage, read> in_a: array<vec4<A>>;
@group(0) @binding(2) var<storage, read> in_b: array<vec4<B>>;
@group(0) @binding(3) var<storage, read> in_c: array<vec4<C>>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<R>>;

// vec mode: four consecutive elements from a 4-aligned offset, or one element splatted (stride 0).
fn load_a4(o: u32) -> vec4<A> {
  if (p.a_strides[0].x == 0u) { return vec4<A>(in_a[o >> 2u][o & 3u]); }
  return in_a[o >> 2u];
}

fn load_b4(o: u32) -> vec4<B> {
  if (p.b_strides[0].x == 0u) { return vec4<B>(in_b[o >> 2u][o & 3u]); }
  return in_b[o >> 2u];
}

fn load_c4(o: u32) -> vec4<C> {
  if (p.c_strides[0].x == 0u) { return vec4<C>(in_c[o >> 2u][o & 3u]); }
  return in_c[o >> 2u];
}

@compute @workgroup_size(WG)
fn map(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
       @builtin(num_workgroups) nwg: vec3<u32>) {
  let first = first_unit(wid, lid, nwg);
  let units = (p.numel + 3u) / 4u;
  if (first >= units) { return; }
  var cur = unravel(first * 4u);
  let step = select(1u, 4u, p.vec != 0u);
  for (var u = first; u < min(first + PER, units); u += 1u) {
    var a: vec4<A>;
    var b: vec4<B>;
    var c: vec4<C>;
    for (var j = 0u; j < 4u && u * 4u + j < p.numel; j += step) {
      let o = cur.off;
      if (p.vec != 0u) {
        a = load_a4(o.x);
        if (ARITY >= 2u) { b = load_b4(o.y); }
        if (ARITY >= 3u) { c = load_c4(o.z); }
      } else {
        a[j] = in_a[o.x >> 2u][o.x & 3u];
        if (ARITY >= 2u) { b[j] = in_b[o.y >> 2u][o.y & 3u]; }
        if (ARITY >= 3u) { c[j] = in_c[o.z >> 2u][o.z & 3u]; }
      }
      // One advance() per step, `step` elements on (4 in vec mode, 1 otherwise; the last step of a unit
      // lands on the next unit): unravel() is inlined once more, not once per element, which keeps
      // lavapipe's LLVM compile time down.
      advance(&cur, u * 4u + j, step);
    }
    out[u] = vec4<R>(op(a.x, b.x, c.x), op(a.y, b.y, c.y), op(a.z, b.z, c.z), op(a.w, b.w, c.w));
  }
}
