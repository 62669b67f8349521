/**
 * Fused attention probe (not a test): times the cases quoted in the headers of kernels/wgsl/attention.wgsl
 * and kernels/wgsl/attention_backward.wgsl, against the unfused composition matmul(q * scale, k^T) ->
 * softmax -> matmul(p, v), and shows the memory each allocates.
 *
 *   XDG_RUNTIME_DIR=/tmp node scripts/run-test.mjs bench/attention-probe.ts
 *   PROBE_CPU_TIME=1 ...   on a shared CPU-only machine: time = process CPU time / PROBE_CORES (default 2),
 *                          which other tenants' load does not inflate (lavapipe's threads are ours)
 *   PROBE_QUICK=1 ...      the ViT-B comparison only
 *   PROBE_FAMILIES=1 ...   also every kernel family ('tiled', 'blocked', 'lanes') forced, forward and backward, at the
 *                          ViT-B and ViT-L shapes (for choosing a GPU's family; the tiled forward is slow on CPUs)
 *   PROBE_TILES=16x32,64x32 ...   the same for the tiled family at each forced tile (rows x staged rows),
 *                          for choosing kernels/attention.ts PREFERRED.gpu
 *   PROBE_SPLITS=auto,1,2,4,8 ...  the forward at batch 1 (ViT-B, ViT-L, a 512-token sequence) with each
 *                          forced key split of the tiled kernel ('auto': the adapter's choice), against the
 *                          unfused composition, for tuning kernels/attention.ts attentionKeySplit
 *   PROBE_DTYPE=f16 ...    f16 q, k, v and dO in the ViT-B comparison and the three cases above
 *
 * Each case runs once (compile + check against the unfused result), then in batches for ~0.5 s, three
 * times; the best batch counts. GFLOP/s counts the two products, 4 * B * H * Tq * Tk * d (forward) and
 * 2.5x that for the backward (dV, dP, dQ, dK: four products plus the recomputed Q K^T).
 */
import { deviceInfo, hasF16, init, memoryStats, ops, type Tensor } from '../engine/index.js';
import type { AttentionKernelOption } from '../engine/ops/attention.js';
import { maxDiff } from './harness.js';
import { CORES, CPU_TIME, probeMs, probeTime } from './probe-timing.js';

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
/**
 * q, k, v and dO dtype of the ViT-B comparison and the PROBE_FAMILIES / PROBE_TILES / PROBE_SPLITS cases
 * (the composition runs in it too). On an H200 the B16 model's f16 attention took 4x the GPU time of its
 * f32 attention (2026-11-27), which PROBE_DTYPE=f16 next to the f32 run narrows down to a family and a batch.
 */
const DTYPE = env.PROBE_DTYPE === 'f16' ? 'f16' : 'f32';
/** Milliseconds per call as the probes report it (bench/probe-timing.ts: PROBE_CPU_TIME, best of 3 batches of 0.5 s). */
async function bestMs(fn: () => Tensor[]): Promise<number> {
  return probeMs(await probeTime(fn));
}

/** Bytes of live tensors right after `fn` ran, with everything it made still alive, minus before. */
function allocated(fn: () => Tensor[]): number {
  const before = memoryStats().bytesLive;
  const made = fn();
  const bytes = memoryStats().bytesLive - before;
  for (const t of made) t.dispose();
  return bytes;
}

function uniform(shape: number[], seed: number, dtype: 'f32' | 'f16' = 'f32'): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 2 ** 32 - 0.5;
  }
  return ops.fromFlat(data, shape, dtype);
}

/** The unfused composition, every intermediate kept so the caller can count and dispose it. */
function unfused(q: Tensor, k: Tensor, v: Tensor, scale: number): Tensor[] {
  const qs = ops.mul(q, scale);
  const scores = ops.matmul(qs, ops.transpose(k));
  const p = ops.softmax(scores, -1);
  return [qs, scores, p, ops.matmul(p, v)];
}

function line(label: string, ms: number, flops: number, extra = ''): void {
  console.log(`${label.padEnd(52)} ${ms.toFixed(2).padStart(8)} ms ${(flops / ms / 1e6).toFixed(2).padStart(7)} GFLOP/s ${extra}`);
}

await init();
console.log(`adapter: ${deviceInfo().description || deviceInfo().device} (${deviceInfo().adapterClass})${CPU_TIME ? ', CPU-time / ' + CORES : ', wall clock'}, ${DTYPE}`);
if (DTYPE === 'f16' && !hasF16()) throw new Error('attention-probe: PROBE_DTYPE=f16 needs shader-f16, which this adapter lacks');

// ViT-B: fused vs unfused, f32.
{
  const [b, h, t, d] = [8, 12, 197, 64];
  const flops = 4 * b * h * t * t * d;
  const q = uniform([b, h, t, d], 1, DTYPE);
  const k = uniform([b, h, t, d], 2, DTYPE);
  const v = uniform([b, h, t, d], 3, DTYPE);
  const scale = 1 / Math.sqrt(d);
  const fused = ops.scaledDotProductAttention(q, k, v);
  const reference = unfused(q, k, v, scale);
  const a = await fused.data();
  const r = await reference[3]!.data();
  const worst = maxDiff(a, r);
  for (const x of [fused, ...reference]) x.dispose();
  console.log(`ViT-B B=${b} H=${h} T=${t} d=${d}: max |fused - unfused| = ${worst.toExponential(2)}`);

  const fusedMs = await bestMs(() => [ops.scaledDotProductAttention(q, k, v)]);
  const unfusedMs = await bestMs(() => unfused(q, k, v, scale));
  line('fused forward', fusedMs, flops, `(unfused time / fused time = ${(unfusedMs / fusedMs).toFixed(2)})`);
  line('unfused: mul + matmul + softmax + matmul', unfusedMs, flops);
  console.log(`bytes allocated: fused ${allocated(() => [ops.scaledDotProductAttention(q, k, v)])} (output), ` +
    `fused + lse ${allocated(() => Object.values(ops.scaledDotProductAttention(q, k, v, { returnLse: true })))}, ` +
    `unfused ${allocated(() => unfused(q, k, v, scale))} (scaled q, scores, probabilities, output)`);
  const causalMs = await bestMs(() => [ops.scaledDotProductAttention(q, k, v, { causal: true })]);
  line('fused forward, causal', causalMs, (flops * (t + 1)) / (2 * t));

  const { out, lse } = ops.scaledDotProductAttention(q, k, v, { returnLse: true });
  const dOut = uniform([b, h, t, d], 4, DTYPE);
  const backwardMs = await bestMs(() => Object.values(ops.scaledDotProductAttentionBackward(q, k, v, out, dOut, lse)));
  line('fused backward (delta + dK/dV + dQ)', backwardMs, 2.5 * flops);
  // What autograd runs for the composition, given its stored probabilities: four GEMMs on transposed views
  // and the softmax backward (the forward's recomputation is not needed there, so 2x the forward's flops).
  const [qs, scores, probs, o] = unfused(q, k, v, scale);
  for (const x of [scores, o]) x.dispose();
  const unfusedBackwardMs = await bestMs(() => {
    const dv = ops.matmul(ops.transpose(probs), dOut);
    const dp = ops.matmul(dOut, ops.transpose(v));
    const ds = ops.softmaxBackward(probs, dp);
    const dq = ops.matmul(ds, k);
    const dk = ops.matmul(ops.transpose(ds), qs);
    return [dv, dp, ds, dq, dk];
  });
  line('unfused backward (4 matmuls + softmax backward)', unfusedBackwardMs, 2 * flops, `(unfused time / fused time = ${(unfusedBackwardMs / backwardMs).toFixed(2)})`);
  for (const x of [qs, probs]) x.dispose();
  console.log(`bytes allocated: backward ${allocated(() => Object.values(ops.scaledDotProductAttentionBackward(q, k, v, out, dOut, lse)))} (dq, dk, dv; the (lse, delta) scratch is freed inside)`);
  for (const x of [q, k, v, out, lse, dOut]) x.dispose();
}

/** The variants PROBE_FAMILIES and PROBE_TILES ask for: every family, and the tiled one at each forced tile. */
const variants: { label: string; options: AttentionKernelOption }[] = [
  ...(env.PROBE_FAMILIES === '1' ? (['tiled', 'blocked', 'lanes'] as const).map((kernel) => ({ label: kernel, options: { kernel } })) : []),
  ...(env.PROBE_TILES ?? '').split(',').filter((x) => x !== '').map((spec) => {
    const [rows, tile] = spec.split('x').map(Number) as [number, number];
    return { label: `tiled ${rows}x${tile}`, options: { tile: { rows, tile } } };
  }),
];

if (variants.length > 0) {
  for (const [name, b, h, t] of [['ViT-B', 8, 12, 197], ['ViT-L', 8, 16, 257]] as const) {
    const d = 64;
    const flops = 4 * b * h * t * t * d;
    const [q, k, v, dOut] = [1, 2, 3, 4].map((s) => uniform([b, h, t, d], s, DTYPE)) as [Tensor, Tensor, Tensor, Tensor];
    const reference = unfused(q, k, v, 1 / Math.sqrt(d));
    const want = await reference[3]!.data();
    let firstDq: ArrayLike<number> | null = null;
    for (const { label, options } of variants) {
      let forward: number;
      try {
        forward = await bestMs(() => [ops.scaledDotProductAttention(q, k, v, options)]);
      } catch (err) {
        console.log(`${name} ${label}: ${(err as Error).message}`);
        continue;
      }
      const { out, lse } = ops.scaledDotProductAttention(q, k, v, { ...options, returnLse: true });
      const grads = ops.scaledDotProductAttentionBackward(q, k, v, out, dOut, lse, options);
      const dq = await grads.dq.data();
      firstDq ??= dq;
      const checks = `max |out - unfused| ${maxDiff(await out.data(), want).toExponential(1)}, ` +
        `max |dq - first family's dq| ${maxDiff(dq, firstDq).toExponential(1)}`;
      for (const x of Object.values(grads)) x.dispose();
      const backward = await bestMs(() => Object.values(ops.scaledDotProductAttentionBackward(q, k, v, out, dOut, lse, options)));
      line(`${name} B=${b} H=${h} T=${t} d=${d} ${label} forward`, forward, flops, checks);
      line(`${name} B=${b} H=${h} T=${t} d=${d} ${label} backward`, backward, 2.5 * flops);
      for (const x of [out, lse]) x.dispose();
    }
    for (const x of reference) x.dispose();
    for (const x of [q, k, v, dOut]) x.dispose();
  }
}

// One image or one sequence, where the 128-row GPU grid is a few dozen workgroups: the forward at each forced
// key split (1 = unsplit; 'auto' = the adapter's choice, kernels/attention.ts attentionKeySplit) against
// the unfused composition, and the backward at the same split of the rows each of its passes walks
// (attentionBackwardSplits), its gradients checked against the unsplit backward's.
const splits = (env.PROBE_SPLITS ?? '').split(',').filter((x) => x !== '');
if (splits.length > 0) {
  for (const [name, h, t, causal] of [['ViT-B', 12, 197, false], ['ViT-L', 16, 257, false], ['text', 8, 512, false], ['text causal', 8, 512, true]] as const) {
    const [b, d] = [1, 64];
    const flops = 4 * b * h * t * t * d * (causal ? (t + 1) / (2 * t) : 1);
    const [q, k, v, dOut] = [1, 2, 3, 4].map((s) => uniform([b, h, t, d], s, DTYPE)) as [Tensor, Tensor, Tensor, Tensor];
    const saved = ops.scaledDotProductAttention(q, k, v, { causal, returnLse: true });
    const backward = (options: { keySplits?: number }) => ops.scaledDotProductAttentionBackward(q, k, v, saved.out, dOut, saved.lse, { ...options, causal });
    const unsplitGrads = backward({ keySplits: 1 });
    const wantGrads = await Promise.all([unsplitGrads.dq, unsplitGrads.dk, unsplitGrads.dv].map((g) => g.data()));
    for (const g of Object.values(unsplitGrads)) g.dispose();
    // The composition runs unmasked (its causal cost is the same plus a mask), so it checks the unmasked cases only.
    const reference = causal ? null : unfused(q, k, v, 1 / Math.sqrt(d));
    const want = reference ? await reference[3]!.data() : null;
    const unfusedMs = await bestMs(() => unfused(q, k, v, 1 / Math.sqrt(d)));
    for (const split of splits) {
      const options = split === 'auto' ? {} : { keySplits: Number(split) };
      const out = ops.scaledDotProductAttention(q, k, v, { ...options, causal });
      const check = want ? `max |out - unfused| ${maxDiff(await out.data(), want).toExponential(1)}, ` : '';
      out.dispose();
      const ms = await bestMs(() => [ops.scaledDotProductAttention(q, k, v, { ...options, causal })]);
      line(`${name} B=${b} H=${h} T=${t} d=${d} key splits ${split}`, ms, flops, `${check}unfused / fused = ${(unfusedMs / ms).toFixed(2)}`);
      const grads = backward(options);
      const got = await Promise.all([grads.dq, grads.dk, grads.dv].map((g) => g.data()));
      for (const g of Object.values(grads)) g.dispose();
      const gradDiff = Math.max(...got.map((g, i) => maxDiff(g, wantGrads[i]!)));
      const backwardMs = await bestMs(() => Object.values(backward(options)));
      line(`${name} B=${b} H=${h} T=${t} d=${d} backward, splits ${split}`, backwardMs, 2.5 * flops, `max |grad - unsplit grad| ${gradDiff.toExponential(1)}`);
    }
    line(`${name} B=${b} H=${h} T=${t} d=${d} unfused${causal ? ' (no mask)' : ''}`, unfusedMs, flops);
    for (const x of [q, k, v, dOut, saved.out, saved.lse, ...(reference ?? [])]) x.dispose();
  }
}

if (env.PROBE_QUICK !== '1') {
  // Other head dims, fewer heads.
  const [b, h, t] = [2, 12, 197];
  for (const d of [32, 80, 96, 128]) {
    const [q, k, v] = [1, 2, 3].map((s) => uniform([b, h, t, d], s)) as [Tensor, Tensor, Tensor];
    line(`fused forward B=${b} H=${h} T=${t} d=${d}`, await bestMs(() => [ops.scaledDotProductAttention(q, k, v)]), 4 * b * h * t * t * d);
    for (const x of [q, k, v]) x.dispose();
  }
  if (hasF16()) {
    const [b2, d] = [8, 64];
    const [q, k, v] = [1, 2, 3].map((s) => uniform([b2, h, t, d], s, 'f16')) as [Tensor, Tensor, Tensor];
    line(`fused forward f16 B=${b2} H=${h} T=${t} d=${d}`, await bestMs(() => [ops.scaledDotProductAttention(q, k, v)]), 4 * b2 * h * t * t * d);
    for (const x of [q, k, v]) x.dispose();
  }
}
