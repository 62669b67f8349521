// optim.wgsl — fused optimizer updates: one dispatch reads a parameter, its gradient and its state and
// writes the new parameter and state in place.
//
// What it computes (f32, following torch.optim's update order so results match it to rounding)
//   adam:  g = grad (+ wd * w unless decoupled);  w *= 1 - lr * wd  if decoupled (AdamW)
//          m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//          w -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)       bc_k = 1 - b_k^step
//   sgd:   g = grad + wd * w;  buf = first ? g : mu buf + (1 - dampening) g
//          g = nesterov ? g + mu buf : buf  (when mu > 0);  w -= lr g
//
// How work is split
//   Work comes in units of four consecutive elements, read and written as vec4s. A workgroup of WG
//   invocations takes WG * PER consecutive units, invocation lid the PER consecutive units from
//   (workgroup * WG + lid) * PER, on a 2-D grid so that large parameters still launch. GPU adapters run
//   PER = 1 and WG = 256 (neighbouring invocations touch neighbouring vec4s: coalesced); CPU adapters
//   small workgroups and several units each, as the map kernels (kernels/elementwise.ts MAP_TUNING): on
//   lavapipe every per-lane load or store is a bounds-checked scalar access per lane whatever its width,
//   so a vec4 moves four elements for about the price of one.
//   The last unit may reach past numel: it is written a component at a time, only below numel, because a
//   parameter may be a view at the start of a larger buffer.
//
// Memory traffic
//   adam: reads w, g, m, v and writes w, m, v: 28 bytes per element, against 4 separate elementwise passes
//   (each reading and writing whole tensors) for an unfused update. sgd: 20 bytes per element with momentum.
//
// Constraints
//   Parameters and state are contiguous f32 starting at element 0 of their buffers; the gradient is
//   contiguous f32 at `grad_offset`. The launcher binds it as vec4s when grad_offset % 4 == 0 (swapping
//   the grad declaration and load_grad4's body), else as scalars. Buffers are whole multiples of 16 bytes
//   (engine/buffer-pool.ts), so every unit that starts below numel lies inside its bindings.
//
// Measured (lavapipe 25.0.7, 2 cores; 10M parameters, process CPU time / 2, best of 3 batches; the cases
// of bench/reduce-probe.ts with PROBE_CPU_TIME=1, 2026-11-27, which read 26.3 and 19.1 ms in a later run):
//                       one invocation per element (until this date)   vec4 units (this file)
//   AdamW               49.5 ms (5.7 GB/s of its 28 B per element)       28.4-28.9 ms (9.7-9.9 GB/s)
//   SGD with momentum   41.4 ms (4.8 GB/s of 20 B)                       20.4-20.7 ms (9.7-9.8 GB/s)
//   For scale: the map kernel copies (x * 1) at 5-6 GB/s, copyBufferToBuffer at ~22 GB/s
//   (bench/norm-probe.ts, same day).

struct Params {
  numel: u32,
  grad_offset: u32,
  flags: u32,          // bit 0: decoupled weight decay (AdamW), bit 1: Nesterov, bit 2: first SGD step
  lr: f32,
  beta1: f32,          // adam: beta1; sgd: momentum
  beta2: f32,          // adam: beta2; sgd: dampening
  eps: f32,
  weight_decay: f32,
  bias_correction1: f32,
  bias_correction2_sqrt: f32,
}

override WG: u32 = 256u;
override PER: u32 = 1u;

@group(0) @binding(0) var<uniform> p: Params;
/*@grad*/
@group(0) @binding(1) var<storage, read> grad: array<f32>;
/*@end*/
@group(0) @binding(2) var<storage, read_write> weight: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> state1: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> state2: array<vec4<f32>>;

// The gradient of elements e .. e+3 (past numel: clamped reads, never used).
fn load_grad4(e: u32) -> vec4<f32> {
  /*@load_grad4*/
  let at = p.grad_offset + min(vec4<u32>(e) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.numel - 1u));
  return vec4<f32>(grad[at.x], grad[at.y], grad[at.z], grad[at.w]);
  /*@end*/
}

// This invocation's first unit (of four elements).
fn first_unit(wid: vec3<u32>, lid: u32, nwg: vec3<u32>) -> u32 {
  return ((wid.y * nwg.x + wid.x) * WG + lid) * PER;
}

// How many of unit u's four elements lie below numel (0 .. 4).
fn unit_length(u: u32) -> u32 {
  return min(p.numel - min(4u * u, p.numel), 4u);
}

@compute @workgroup_size(WG)
fn adam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let first = first_unit(wid, lid, nwg);
  for (var u = first; u < first + PER; u++) {
    let len = unit_length(u);
    if (len == 0u) { return; }
    var w = weight[u];
    var g = load_grad4(4u * u);
    if ((p.flags & 1u) != 0u) {
      w = w * (1.0 - p.lr * p.weight_decay);
    } else {
      g = g + p.weight_decay * w;
    }
    let m = p.beta1 * state1[u] + (1.0 - p.beta1) * g;
    let v = p.beta2 * state2[u] + (1.0 - p.beta2) * g * g;
    let denom = sqrt(v) / p.bias_correction2_sqrt + p.eps;
    w = w - (p.lr / p.bias_correction1) * m / denom;
    if (len == 4u) {
      weight[u] = w;
      state1[u] = m;
      state2[u] = v;
    } else {
      for (var c = 0u; c < len; c++) {
        weight[u][c] = w[c];
        state1[u][c] = m[c];
        state2[u][c] = v[c];
      }
    }
  }
}

// sgd binds (grad, weight, momentum buffer). Without momentum the caller binds a placeholder as state1:
// the binding must exist, and it is never indexed because beta1 (momentum) is 0.
@compute @workgroup_size(WG)
fn sgd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
       @builtin(num_workgroups) nwg: vec3<u32>) {
  let first = first_unit(wid, lid, nwg);
  let momentum = p.beta1 != 0.0;
  for (var u = first; u < first + PER; u++) {
    let len = unit_length(u);
    if (len == 0u) { return; }
    let w = weight[u];
    var g = load_grad4(4u * u) + p.weight_decay * w;
    var buf = g;
    if (momentum) {
      if ((p.flags & 4u) == 0u) { buf = p.beta1 * state1[u] + (1.0 - p.beta2) * g; }
      g = select(buf, g + p.beta1 * buf, (p.flags & 2u) != 0u);
    }
    let w_new = w - p.lr * g;
    if (len == 4u) {
      weight[u] = w_new;
      if (momentum) { state1[u] = buf; }
    } else {
      for (var c = 0u; c < len; c++) {
        weight[u][c] = w_new[c];
        if (momentum) { state1[u][c] = buf[c]; }
      }
    }
  }
}
