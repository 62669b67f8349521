/**
 * Subgroup matrices emulated in plain WGSL, so that matmul_subgroup_matrix.wgsl's staging, banding,
 * edges and epilogue run, and are checked, on adapters without matrix units (lavapipe in CI).
 *
 * Every invocation of a subgroup holds the whole 16x16 matrix as 256 f32s (row-major), so a load,
 * a product and a store give what the matrix units give (products summed in f32), only slower. The
 * kernel is rewritten textually: its fragment loads read the band they name, its products call
 * `emulated_mma`, and its scratch store is done by lane 0 of the subgroup. With fragment staging, the
 * fragment loads from the storage buffers read a_in / b_in and the slab stores are done by one
 * invocation of the subgroup (subgroupElect); with packed staging, the fragment loads read halves out of
 * the vec4<u32> units of the unit slabs. Only the shapes of calls the kernel makes are rewritten;
 * `emulateSubgroupMatrices` throws if any builtin is left over.
 */

const PRELUDE = `
alias emulated_matrix = array<f32, 256>;

// 16, in a form the shader compiler cannot fold (p.m is never 0xffffffff): fully unrolled, the
// 16x16x16 loops below make lavapipe's LLVM spend minutes per pipeline.
fn emulated_edge() -> u32 {
  return select(16u, p.m, p.m == 0xffffffffu);
}

fn emulated_mma(a: emulated_matrix, b: emulated_matrix, acc: emulated_matrix) -> emulated_matrix {
  var out = acc;
  for (var r = 0u; r < emulated_edge(); r++) {
    for (var c = 0u; c < emulated_edge(); c++) {
      var s = out[r * 16u + c];
      for (var k = 0u; k < emulated_edge(); k++) { s += a[r * 16u + k] * b[k * 16u + c]; }
      out[r * 16u + c] = s;
    }
  }
  return out;
}

// The subgroup's scratch fragment, row-major with stride 16, written once (by lane 0).
fn emulated_store(sg: u32, m: emulated_matrix, lane: u32) {
  if (lane == 0u) {
    for (var e = 0u; e < 256u; e++) { c_frag[sg][e] = m[e]; }
  }
}
`;

// Chunk and fragment staging: a fragment at 'offset' into band 'band' of the A or B f16 slab: element
// (r, c) at offset + r * stride + c, or at offset + c * stride + r when column-major.
const HALF_SLAB_PRELUDE = `
fn emulated_load_a(band: u32, offset: u32, col_major: bool, stride: u32) -> emulated_matrix {
  var m: emulated_matrix;
  for (var r = 0u; r < emulated_edge(); r++) {
    for (var c = 0u; c < emulated_edge(); c++) { m[r * 16u + c] = f32(a_slab[band][select(offset + r * stride + c, offset + c * stride + r, col_major)]); }
  }
  return m;
}

fn emulated_load_b(band: u32, offset: u32, col_major: bool, stride: u32) -> emulated_matrix {
  var m: emulated_matrix;
  for (var r = 0u; r < emulated_edge(); r++) {
    for (var c = 0u; c < emulated_edge(); c++) { m[r * 16u + c] = f32(b_slab[band][select(offset + r * stride + c, offset + c * stride + r, col_major)]); }
  }
  return m;
}
`;

// Packed staging: a fragment in band 'band' of the A or B unit slab (vec4<u32>s of 8 halves), 'offset' and
// 'stride' counted in units: element (r, c) is half r * stride * 8 + c after unit 'offset', or half
// c * stride * 8 + r when column-major (the proposal's rule for arrays of vectors).
const PACKED_STAGING_PRELUDE = `
fn emulated_unit_half(unit: vec4<u32>, h: u32) -> f32 {
  return f32(bitcast<vec2<f16>>(unit[h / 2u])[h % 2u]);
}

fn emulated_load_units(from_a: bool, band: u32, col_major: bool, offset: u32, stride: u32) -> emulated_matrix {
  var m: emulated_matrix;
  for (var r = 0u; r < emulated_edge(); r++) {
    for (var c = 0u; c < emulated_edge(); c++) {
      let h = select(r * stride * 8u + c, c * stride * 8u + r, col_major);
      var unit: vec4<u32>;
      if (from_a) { unit = a_units[band][offset + h / 8u]; } else { unit = b_units[band][offset + h / 8u]; }
      m[r * 16u + c] = emulated_unit_half(unit, h % 8u);
    }
  }
  return m;
}
`;

// Fragment staging: a fragment of the a_in or b_in binding (f16) at `offset`, element (r, c) at
// offset + r * stride + c (offset + c * stride + r when column-major), and a fragment stored into a band
// of a slab the same way, by one invocation (every invocation holds the whole matrix).
const FRAGMENT_STAGING_PRELUDE = `
fn emulated_load_global_a(offset: u32, col_major: bool, stride: u32) -> emulated_matrix {
  var m: emulated_matrix;
  for (var r = 0u; r < emulated_edge(); r++) {
    for (var c = 0u; c < emulated_edge(); c++) { m[r * 16u + c] = f32(a_in[select(offset + r * stride + c, offset + c * stride + r, col_major)]); }
  }
  return m;
}

fn emulated_load_global_b(offset: u32, col_major: bool, stride: u32) -> emulated_matrix {
  var m: emulated_matrix;
  for (var r = 0u; r < emulated_edge(); r++) {
    for (var c = 0u; c < emulated_edge(); c++) { m[r * 16u + c] = f32(b_in[select(offset + r * stride + c, offset + c * stride + r, col_major)]); }
  }
  return m;
}

fn emulated_store_slab_a(band: u32, offset: u32, m: emulated_matrix, col_major: bool, stride: u32) {
  if (subgroupElect()) {
    for (var e = 0u; e < 256u; e++) { a_slab[band][select(offset + (e / 16u) * stride + e % 16u, offset + (e % 16u) * stride + e / 16u, col_major)] = f16(m[e]); }
  }
}

fn emulated_store_slab_b(band: u32, offset: u32, m: emulated_matrix, col_major: bool, stride: u32) {
  if (subgroupElect()) {
    for (var e = 0u; e < 256u; e++) { b_slab[band][select(offset + (e / 16u) * stride + e % 16u, offset + (e % 16u) * stride + e / 16u, col_major)] = f16(m[e]); }
  }
}
`;

/** matmul_subgroup_matrix.wgsl module code (as the launcher builds it) with the matrix builtins emulated. */
export function emulateSubgroupMatrices(code: string): string {
  const out = code
    .replace('enable chromium_experimental_subgroup_matrix;', '')
    .replace(/subgroup_matrix_(?:result|left|right)<f(?:16|32), F, F>/g, 'emulated_matrix')
    .replace(/subgroupMatrixLoad<emulated_matrix>\(&([ab])_slab\[([^\]]+)\], /g, 'emulated_load_$1($2, ')
    .replace(/subgroupMatrixLoad<emulated_matrix, (row|col)_major>\(&([ab])_units\[([^\]]+)\], /g, (_, major: string, slab: string, band: string) => `emulated_load_units(${slab === 'a'}, ${band}, ${major === 'col'}, `)
    .replace(/subgroupMatrixLoad<emulated_matrix>\(&([ab])_in, /g, 'emulated_load_global_$1(')
    .replace(/subgroupMatrixMultiplyAccumulate\(/g, 'emulated_mma(')
    .replace(/subgroupMatrixStore\(&c_frag\[sg\], 0u, (\w+), false, F\);/g, 'emulated_store(sg, $1, lane);')
    .replace(/subgroupMatrixStore\(&([ab])_slab\[([^\]]+)\], /g, 'emulated_store_slab_$1($2, ');
  const left = out.replace(/\/\/.*$/gm, '').match(/subgroupMatrix\w*|subgroup_matrix_\w*/);
  if (left) throw new Error(`emulateSubgroupMatrices: '${left[0]}' is not emulated`);
  const preludes = [
    PRELUDE,
    out.includes('emulated_load_a(') ? HALF_SLAB_PRELUDE : '',
    out.includes('emulated_load_global_') ? FRAGMENT_STAGING_PRELUDE : '',
    out.includes('emulated_load_units(') ? PACKED_STAGING_PRELUDE : '',
  ];
  return `${out}\n${preludes.join('')}`;
}
