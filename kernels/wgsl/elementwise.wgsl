// elementwise.wgsl — map one, two or three strided tensors into a fresh contiguous tensor.
//
// What it computes
//   out[i] = op(a[idx_a(i)], b[idx_b(i)], c[idx_c(i)])   for i in [0, numel)
//   where idx_x(i) unravels i over the (broadcast) output shape and dots the coordinates with x's strides.
//   Broadcasting is a stride of 0; transposes, slices with steps and expands are just other strides, so no
//   operand is ever copied into contiguous form first.
//
// How work is split
//   One invocation per output element, 256 per workgroup, workgroups laid out on a 2-D grid (x, y) so that
//   tensors above 65535 * 256 elements still launch; the linear index is (wid.y * nwg.x + wid.x) * 256 + lid.
//   The launcher first merges adjacent dimensions that are contiguous in every operand ("coalescing"), so
//   the common cases (same-shape contiguous inputs, a bias broadcast along rows) unravel over rank 1 or 2.
//
// Memory traffic
//   Reads each input element once per output element that uses it (broadcast reads hit the cache) and
//   writes numel * sizeof(R) bytes: the kernel is bandwidth bound; arithmetic is negligible.
//
// Specialisation
//   The launcher (kernels/elementwise.ts) sets the element types A, B, C (inputs) and R (output) and
//   replaces the body of op1/op2/op3 between the markers with the requested operation. Float math runs in
//   f32 even for f16 tensors. As written here the file compiles as a float32 copy / add / select.
//
// Constraints
//   rank <= 8 (shape and strides travel as two vec4<u32> each); offsets and strides in elements, < 2^32.

alias A = f32;
alias B = f32;
alias C = f32;
alias R = f32;

struct Params {
  numel: u32,
  rank: u32,
  a_offset: u32,
  b_offset: u32,
  c_offset: u32,
  alpha: f32,          // scalar operand of ops such as clamp, pow-by-scalar, leaky slopes
  beta: f32,
  shape: array<vec4<u32>, 2>,
  a_strides: array<vec4<u32>, 2>,
  b_strides: array<vec4<u32>, 2>,
  c_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;

fn op1(a_in: A) -> R {
  /*@op1*/ return R(a_in); /*@end*/
}

fn op2(a_in: A, b_in: B) -> R {
  /*@op2*/ return R(a_in + b_in); /*@end*/
}

fn op3(a_in: A, b_in: B, c_in: C) -> R {
  /*@op3*/ return select(R(c_in), R(b_in), a_in != A(0)); /*@end*/
}

// Linear invocation index from a 2-D grid of 256-wide workgroups.
fn linear_index(wid: vec3<u32>, lid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return (wid.y * nwg.x + wid.x) * 256u + lid.x;
}

fn dim_of(v: array<vec4<u32>, 2>, d: u32) -> u32 {
  return v[d >> 2u][d & 3u];
}

// Element offsets of output element i in up to three operands (unused strides are zero).
fn operand_offsets(i: u32) -> vec3<u32> {
  var rem = i;
  var off = vec3<u32>(p.a_offset, p.b_offset, p.c_offset);
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let du = u32(d);
    let size = dim_of(p.shape, du);
    let coord = rem % size;
    rem = rem / size;
    off += coord * vec3<u32>(dim_of(p.a_strides, du), dim_of(p.b_strides, du), dim_of(p.c_strides, du));
  }
  return off;
}

@group(0) @binding(1) var<storage, read> in_a: array<A>;
@group(0) @binding(2) var<storage, read_write> out1: array<R>;

@compute @workgroup_size(256)
fn map1(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_index(wid, lid, nwg);
  if (i >= p.numel) { return; }
  let off = operand_offsets(i);
  out1[i] = op1(in_a[off.x]);
}

// Each entry point has its own resource interface, so bindings may be reused across entry points:
// map2 binds (a, b, out), map3 binds (a, b, c, out).
@group(0) @binding(2) var<storage, read> in_b: array<B>;
@group(0) @binding(3) var<storage, read_write> out2: array<R>;

@compute @workgroup_size(256)
fn map2(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_index(wid, lid, nwg);
  if (i >= p.numel) { return; }
  let off = operand_offsets(i);
  out2[i] = op2(in_a[off.x], in_b[off.y]);
}

@group(0) @binding(3) var<storage, read> in_c: array<C>;
@group(0) @binding(4) var<storage, read_write> out3: array<R>;

@compute @workgroup_size(256)
fn map3(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_index(wid, lid, nwg);
  if (i >= p.numel) { return; }
  let off = operand_offsets(i);
  out3[i] = op3(in_a[off.x], in_b[off.y], in_c[off.z]);
}
