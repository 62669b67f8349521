// inplace.wgsl — strided assignment into an existing tensor: dst[view(i)] = src[view(i)].
//
// What it computes
//   For i in [0, numel) over the (shared) shape, the element at coordinate(i) of `src` is written to the
//   element at coordinate(i) of `dst`, both addressed through their own offsets and strides. `dst` is a view
//   of some storage (a slice with steps, a transpose, a narrowed dim); elements outside the view are
//   untouched. Autograd uses it to scatter a slice's gradient into a zero tensor of the input's shape.
//
// How work is split
//   One invocation per element, 256 per workgroup, on a 2-D grid (x, y) like elementwise.wgsl so more than
//   65535 * 256 elements still launch.
//
// Memory traffic
//   numel reads and numel writes; bandwidth bound. dst views must not overlap themselves (no stride 0), or
//   several invocations would race on one element; the engine op checks this.
//
// Constraints
//   rank <= 8 (shape and strides travel as two vec4<u32> each). Not measured separately: it is the
//   elementwise copy with a strided store, and runs at elementwise copy speed.

alias T = f32;

struct Params {
  numel: u32,
  rank: u32,
  src_offset: u32,
  dst_offset: u32,
  shape: array<vec4<u32>, 2>,
  src_strides: array<vec4<u32>, 2>,
  dst_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<T>;
@group(0) @binding(2) var<storage, read_write> dst: array<T>;

fn dim_of(v: array<vec4<u32>, 2>, d: u32) -> u32 {
  return v[d >> 2u][d & 3u];
}

@compute @workgroup_size(256)
fn assign(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
          @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid.x;
  if (i >= p.numel) { return; }
  var rem = i;
  var s = p.src_offset;
  var o = p.dst_offset;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let du = u32(d);
    let size = dim_of(p.shape, du);
    let coord = rem % size;
    rem = rem / size;
    s += coord * dim_of(p.src_strides, du);
    o += coord * dim_of(p.dst_strides, du);
  }
  dst[o] = src[s];
}
