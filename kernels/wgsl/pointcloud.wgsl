// pointcloud.wgsl — farthest point sampling and k-nearest-neighbour grouping for point-cloud tokenizers
// (Point-BERT / Meta-Transformer point patch embedding: S centres by FPS, then the k nearest points of each).
//
// What it computes
//   fps:  for each cloud b of points [B, N, 3], indices [B, S] (i32) of S points chosen greedily: the first
//         is point 0 (as the PointNet++ CUDA kernel does, which makes results reproducible), each next one is
//         the point farthest (squared Euclidean) from all chosen so far; ties go to the lowest index.
//   knn:  for centres [B, S, 3] and points [B, N, 3], indices [B, S, K] (i32) of the K nearest points of each
//         centre, nearest first; ties go to the lower index (so results match a stable CPU sort exactly).
//
// How work is split
//   fps: one workgroup of WG invocations per cloud (an override: 256 on GPUs, 64 on CPU adapters, where
//   every barrier switches between all of a workgroup's SIMD-wide fibres and a wide workgroup mostly
//   waits), for all S iterations. Each invocation owns points i = lid, lid + WG, ...: it updates their
//   running min-distance to the chosen set (kept in a storage scratch array, so N is not limited by
//   workgroup memory) and tracks its local farthest; a tree argmax in workgroup memory picks the next
//   centre. Cost O(S * N) distance updates, S barrier rounds.
//   knn: one invocation per (b, s) centre, scanning all N points and keeping a sorted top-K list in private
//   memory (insertion sort, K <= 64). O(N * K) worst case per centre, O(N) typical.
//
// Memory traffic
//   fps reads the cloud S times (12 bytes per point per iteration; it stays in cache for N up to ~100k on
//   CPUs and in L2 on GPUs); knn reads the cloud once per centre.
//
// Constraints
//   Coordinates f32, contiguous [B, N, 3] (at any element offset); S <= N; K <= min(N, 64).
//
// Measured (fps, lavapipe 2 cores, 2026-11-27, wall per call over 5 back-to-back calls; WG 64 vs 256):
//   B=16 N=256 S=16 (the main job's point clouds are N=128, S=16): 0.9-1.1 vs 2.5-2.8 ms;
//   B=8 N=1024 S=64: 3.4-5.4 vs 8.2-8.7 ms; B=4 N=8192 S=512: 68 vs 81-89 ms.

struct Params {
  batch: u32,
  num_points: u32,   // N
  num_samples: u32,  // S
  k: u32,            // neighbours per centre (knn)
  points_offset: u32,   // element offset of the cloud in its buffer (views of larger buffers)
  centres_offset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

override WG: u32 = 256u;  // fps workgroup width, a power of two
const MAX_K: u32 = 64u;

var<workgroup> best_dist: array<f32, WG>;
var<workgroup> best_index: array<u32, WG>;

@group(0) @binding(1) var<storage, read> points: array<f32>;
@group(0) @binding(2) var<storage, read_write> min_dist: array<f32>;   // scratch [B, N]
@group(0) @binding(3) var<storage, read_write> fps_out: array<i32>;    // [B, S]

fn point_at(b: u32, i: u32) -> vec3<f32> {
  let o = p.points_offset + (b * p.num_points + i) * 3u;
  return vec3<f32>(points[o], points[o + 1u], points[o + 2u]);
}

@compute @workgroup_size(WG)
fn fps(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wid.x;
  for (var i = lid; i < p.num_points; i += WG) { min_dist[b * p.num_points + i] = 3.0e38; }
  var chosen = 0u;
  if (lid == 0u) { fps_out[b * p.num_samples] = 0; }
  for (var s = 1u; s < p.num_samples; s++) {
    let c = point_at(b, chosen);
    var far_d = -1.0;
    var far_i = 0u;
    for (var i = lid; i < p.num_points; i += WG) {
      let d = point_at(b, i) - c;
      let nd = min(min_dist[b * p.num_points + i], dot(d, d));
      min_dist[b * p.num_points + i] = nd;
      if (nd > far_d) { far_d = nd; far_i = i; }   // strict: the lowest index wins ties within an invocation
    }
    best_dist[lid] = far_d;
    best_index[lid] = far_i;
    workgroupBarrier();
    for (var width = WG / 2u; width > 0u; width /= 2u) {
      if (lid < width) {
        let od = best_dist[lid + width];
        let oi = best_index[lid + width];
        if (od > best_dist[lid] || (od == best_dist[lid] && oi < best_index[lid])) {
          best_dist[lid] = od;
          best_index[lid] = oi;
        }
      }
      workgroupBarrier();
    }
    chosen = best_index[0];
    if (lid == 0u) { fps_out[b * p.num_samples + s] = i32(chosen); }
    workgroupBarrier(); // everyone has read best_index[0] before the next round overwrites it
  }
}

@group(0) @binding(1) var<storage, read> cloud: array<f32>;            // [B, N, 3]
@group(0) @binding(2) var<storage, read> centres: array<f32>;          // [B, S, 3]
@group(0) @binding(3) var<storage, read_write> knn_out: array<i32>;    // [B, S, K]

@compute @workgroup_size(64)
fn knn(@builtin(global_invocation_id) gid: vec3<u32>) {
  let q = gid.x;
  if (q >= p.batch * p.num_samples) { return; }
  let b = q / p.num_samples;
  let co = p.centres_offset + q * 3u;
  let c = vec3<f32>(centres[co], centres[co + 1u], centres[co + 2u]);
  var dist: array<f32, MAX_K>;
  var index: array<u32, MAX_K>;
  var count = 0u;
  for (var i = 0u; i < p.num_points; i++) {
    let o = p.points_offset + (b * p.num_points + i) * 3u;
    let d = vec3<f32>(cloud[o], cloud[o + 1u], cloud[o + 2u]) - c;
    let dd = dot(d, d);
    // Points arrive in index order, so "strictly closer" keeps the lower index first among equals.
    if (count == p.k && dd >= dist[p.k - 1u]) { continue; }
    var pos = min(count, p.k - 1u);
    while (pos > 0u && dist[pos - 1u] > dd) {
      dist[pos] = dist[pos - 1u];
      index[pos] = index[pos - 1u];
      pos--;
    }
    dist[pos] = dd;
    index[pos] = i;
    count = min(count + 1u, p.k);
  }
  for (var j = 0u; j < p.k; j++) { knn_out[q * p.k + j] = i32(index[j]); }
}
