// attention_combine.wgsl — the last step of a key-split attention forward (attention.wgsl, "Split keys"):
// merges each query row's partial results, one per key segment, into its output and log-sum-exp.
//
// What it computes
//   Segment s of row i left o_s, the row's output normalized over the segment's keys only, and
//   L_s = log sum_{j in s} exp(s_ij). The unnormalized sum of segment s is exp(L_s) o_s, so over all keys
//     L = log sum_s exp(L_s) = L_max + log sum_s exp(L_s - L_max)
//     o = sum_s exp(L_s - L) o_s
//   with L_max = max_s L_s keeping every exponent <= 0. A segment that saw no key (causal, padding, or
//   a mask of -inf) has L_s = -inf and weight 0, selected rather than computed (exp(-inf) is not 0 on
//   every driver); a row that no segment saw writes 0 and -inf, as the unsplit kernel does.
//
// How work is split
//   One invocation per (query row, vec4 chunk of its columns): it reads the row's key_splits values L_s
//   (every chunk of the row reads the same few: cached) and its chunk of each o_s, and writes its chunk
//   of o; chunk 0 also writes L. 256 invocations per workgroup, on a 2-D grid past 65535 workgroups
//   (kernels/launch.ts grid1d).
//
// Memory traffic
//   key_splits x (output + lse) of scratch read once, the output and lse written once: small next to the
//   forward, which reads K and V once per query block.
//
// Constraints
//   The scratch is the forward's: partial_out [key_splits * B, H, Tq, D] and partial_lse
//   [key_splits * B, H, Tq], contiguous, segment-major. The output goes through its own offset and
//   [batch, head, row, column] strides (unit column stride), as attention.wgsl writes it unsplit; the
//   lse is contiguous [B, H, Tq]. D in the `tiles` block; T is the output type (f32 or f16, math in f32).
//
// Measured: nowhere yet on a GPU (written 2026-11-28 on a CPU-only machine; `scripts/device-session.sh
// attention` times the split against the unsplit forward at one-image shapes).

alias T = f32;

/*@tiles*/
const D: u32 = 64u;
/*@end*/
const D4: u32 = (D + 3u) / 4u;

struct Params {
  key_splits: u32,
  batch: u32,
  heads: u32,
  tq: u32,
  o_offset: u32,
  o_strides: vec4<u32>,   // batch, head, row, column (column stride 1)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partial_out: array<T>;
@group(0) @binding(2) var<storage, read> partial_lse: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<T>;
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;

// -inf from its bits: compilers that assume no infinities may fold a literal -inf expression away.
fn neg_inf() -> f32 {
  let bits = 0xff800000u;
  return bitcast<f32>(bits);
}

@compute @workgroup_size(256)
fn attention_combine(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                     @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = (wid.y * nwg.x + wid.x) * 256u + lid;
  let rows = p.batch * p.heads * p.tq;   // rows of one segment, [B, H, Tq] row-major
  if (id >= rows * D4) { return; }
  let r = id / D4;
  let c = (id % D4) * 4u;
  let minus_inf = neg_inf();

  var l_max = minus_inf;
  for (var s = 0u; s < p.key_splits; s++) {
    l_max = max(l_max, partial_lse[s * rows + r]);
  }
  var total = 0.0;                 // sum_s exp(L_s - L_max)
  var acc = vec4<f32>(0.0);        // sum_s exp(L_s - L_max) o_s, columns c..c+3
  if (l_max != minus_inf) {
    for (var s = 0u; s < p.key_splits; s++) {
      let l_s = partial_lse[s * rows + r];
      let w = select(exp(l_s - l_max), 0.0, l_s == minus_inf);
      total += w;
      let base = (s * rows + r) * D;
      for (var e = 0u; e < 4u; e++) {
        if (c + e < D) { acc[e] += w * f32(partial_out[base + c + e]); }
      }
    }
  }
  // total >= 1 when any segment saw a key (the one at L_max contributes exp(0)).
  let inv = select(1.0 / total, 0.0, total == 0.0);
  let batch = r / (p.heads * p.tq);
  let head = (r / p.tq) % p.heads;
  let i = r % p.tq;
  let out_base = p.o_offset + batch * p.o_strides.x + head * p.o_strides.y + i * p.o_strides.z;
  for (var e = 0u; e < 4u; e++) {
    if (c + e < D) { out[out_base + c + e] = T(acc[e] * inv); }
  }
  if (c == 0u) {
    lse[r] = select(l_max + log(total), minus_inf, total == 0.0);
  }
}
