import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ops, hasF16, init, memoryStats, runtime, type Tensor, DTypeError, ShapeError, ArgumentError, DisposedError } from '../../index.js';
import { f16ArrayToF32, f32ArrayToF16 } from '../../engine/f16.js';
import {
  attentionBackwardSplits, attentionBlockedBackwardTile, attentionBlockedBytes, attentionBlockedTile, attentionKeySplit, chooseAttentionKernel, vectorOperands, type AttentionKernel,
} from '../../kernels/attention.js';
import type { AttentionKernelOption } from '../../engine/ops/attention.js';
import { splitOf } from '../../kernels/launch.js';
import * as ag from '../../autograd/index.js';
import { assertClose, resetTestDevice, testDevice } from '../helpers.js';

const t = suite('kernels: attention');
t.before(async () => {
  await testDevice();
});

const HEAD_DIMS = [32, 64, 80, 96, 128] as const;

// ---- float64 oracle ---------------------------------------------------------------------------------

/** One attention problem with logical (row-major [B, H, T, d]) float64 inputs. */
interface Problem {
  B: number;
  H: number;
  Tq: number;
  Tk: number;
  d: number;
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  /** Additive mask expanded to [B, H, Tq, Tk], or null. */
  mask: Float64Array | null;
  /** [B, Tk], 1 = padding key (ignored). */
  kpm: Uint8Array | null;
  causal: boolean;
  scale: number;
}

interface OracleForward {
  out: Float64Array;
  lse: Float64Array;
  /** Probabilities [B, H, Tq, Tk]; rows with no visible key are all 0. */
  P: Float64Array;
}

function oracleForward(pr: Problem): OracleForward {
  const { B, H, Tq, Tk, d } = pr;
  const out = new Float64Array(B * H * Tq * d);
  const lse = new Float64Array(B * H * Tq);
  const P = new Float64Array(B * H * Tq * Tk);
  const s = new Float64Array(Tk);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < Tq; i++) {
        const bh = b * H + h;
        const qi = (bh * Tq + i) * d;
        let m = -Infinity;
        for (let j = 0; j < Tk; j++) {
          const kj = (bh * Tk + j) * d;
          let dot = 0;
          for (let c = 0; c < d; c++) dot += pr.q[qi + c]! * pr.k[kj + c]!;
          let score = dot * pr.scale + (pr.mask ? pr.mask[(bh * Tq + i) * Tk + j]! : 0);
          if ((pr.kpm && pr.kpm[b * Tk + j]) || (pr.causal && j > i)) score = -Infinity;
          s[j] = score;
          m = Math.max(m, score);
        }
        const row = bh * Tq + i;
        if (m === -Infinity) {
          lse[row] = -Infinity;
          continue;
        }
        let l = 0;
        for (let j = 0; j < Tk; j++) l += Math.exp(s[j]! - m);
        lse[row] = m + Math.log(l);
        for (let j = 0; j < Tk; j++) {
          const pij = Math.exp(s[j]! - m) / l;
          P[row * Tk + j] = pij;
          for (let c = 0; c < d; c++) out[row * d + c] += pij * pr.v[(bh * Tk + j) * d + c]!;
        }
      }
  return { out, lse, P };
}

/**
 * Analytic gradients of sum(out * dO): dV = P^T dO, dP = dO V^T, dS = P * (dP - rowsum(dP * P)),
 * dQ = scale * dS K, dK = scale * dS^T Q.
 */
function oracleBackward(pr: Problem, P: Float64Array, dO: Float64Array): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const { B, H, Tq, Tk, d } = pr;
  const dq = new Float64Array(B * H * Tq * d);
  const dk = new Float64Array(B * H * Tk * d);
  const dv = new Float64Array(B * H * Tk * d);
  const dS = new Float64Array(Tk);
  for (let bh = 0; bh < B * H; bh++)
    for (let i = 0; i < Tq; i++) {
      const row = bh * Tq + i;
      let rowsum = 0;
      for (let j = 0; j < Tk; j++) {
        let dp = 0;
        for (let c = 0; c < d; c++) dp += dO[row * d + c]! * pr.v[(bh * Tk + j) * d + c]!;
        dS[j] = dp;
        rowsum += dp * P[row * Tk + j]!;
      }
      for (let j = 0; j < Tk; j++) {
        const pij = P[row * Tk + j]!;
        const ds = pij * (dS[j]! - rowsum);
        for (let c = 0; c < d; c++) {
          const kc = (bh * Tk + j) * d + c;
          dv[kc] += pij * dO[row * d + c]!;
          dq[row * d + c] += pr.scale * ds * pr.k[kc]!;
          dk[kc] += pr.scale * ds * pr.q[row * d + c]!;
        }
      }
    }
  return { dq, dk, dv };
}

// ---- problem generation and upload ------------------------------------------------------------------

/** Deterministic uniform numbers in [-1, 1) from a seed (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 2147483648 - 1;
  };
}

/** Rounds through the storage type, so the oracle sees exactly what the GPU reads. */
function stored(values: Float64Array, dtype: 'f32' | 'f16'): Float64Array {
  const f32 = dtype === 'f16' ? f16ArrayToF32(f32ArrayToF16(values)) : Float32Array.from(values);
  return Float64Array.from(f32);
}

/** Physical layouts q/k/v are read from. */
type Layout = 'contiguous' | 'bthd' | 'fusedQkv' | 'kvHeadBroadcast';
/** Additive-mask shapes: none, [Tq, Tk], [B, 1, Tq, Tk], or full. */
type MaskKind = 'none' | 'qk' | 'b1qk' | 'full';

interface Spec {
  B: number;
  H: number;
  Tq: number;
  Tk: number;
  d: number;
  causal: boolean;
  keyPadding: boolean;
  mask: MaskKind;
  layout: Layout;
  seed: number;
}

interface Uploaded {
  pr: Problem;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  mask?: Tensor;
  keyPaddingMask?: Tensor;
  /** Every tensor created (views included), for disposal. */
  all: Tensor[];
}

function maskShape(kind: MaskKind, s: Spec): number[] {
  return kind === 'qk' ? [s.Tq, s.Tk] : kind === 'b1qk' ? [s.B, 1, s.Tq, s.Tk] : [s.B, s.H, s.Tq, s.Tk];
}

/** Expands row-major `values` of `shape` to [B, H, Tq, Tk] (right-aligned broadcasting). */
function broadcast4(values: Float64Array, shape: readonly number[], target: readonly number[]): Float64Array {
  const full = [...Array(4 - shape.length).fill(1), ...shape] as number[];
  const out = new Float64Array(target.reduce((a, b) => a * b, 1));
  let n = 0;
  for (let a = 0; a < target[0]!; a++)
    for (let b = 0; b < target[1]!; b++)
      for (let c = 0; c < target[2]!; c++)
        for (let e = 0; e < target[3]!; e++) {
          const idx = [a, b, c, e].map((x, i) => (full[i] === 1 ? 0 : x));
          out[n++] = values[((idx[0]! * full[1]! + idx[1]!) * full[2]! + idx[2]!) * full[3]! + idx[3]!]!;
        }
  return out;
}

/** Reorders logical [B, H, T, d] into [B, T, H, d]. */
function toBTHD(x: Float64Array, B: number, H: number, T: number, d: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < T; i++)
        for (let c = 0; c < d; c++) out[((b * T + i) * H + h) * d + c] = x[((b * H + h) * T + i) * d + c]!;
  return out;
}

/**
 * Logical [B, H, T, d] tensors packed the way one projection lays them out: [B, T, parts * H * d], each
 * token's row holding the parts one after another, each as [H, d]; rows are `pad` elements wider
 * (zeros) so that a slice of the first parts * H * d columns is a strided view.
 */
function packTokens(parts: readonly Float64Array[], B: number, H: number, T: number, d: number, pad = 0): Float64Array {
  const width = H * d;
  const row = parts.length * width + pad;
  const tokens = parts.map((x) => toBTHD(x, B, H, T, d));
  const out = new Float64Array(B * T * row);
  for (let r = 0; r < B * T; r++)
    tokens.forEach((x, part) => out.set(x.subarray(r * width, (r + 1) * width), r * row + part * width));
  return out;
}

function upload(s: Spec, dtype: 'f32' | 'f16' = 'f32'): Uploaded {
  const rnd = prng(s.seed);
  const gen = (n: number, amp = 1) => stored(Float64Array.from({ length: n }, () => rnd() * amp), dtype);
  const { B, H, Tq, Tk, d } = s;
  const q = gen(B * H * Tq * d, 2);
  const kvHeads = s.layout === 'kvHeadBroadcast' ? 1 : H;
  const kBase = gen(B * kvHeads * Tk * d, 2);
  const vBase = gen(B * kvHeads * Tk * d);
  const widen = (x: Float64Array) => (kvHeads === H ? x : broadcast4(x, [B, 1, Tk * d, 1], [B, H, Tk * d, 1]));
  const k = widen(kBase);
  const v = widen(vBase);
  const all: Tensor[] = [];
  const keep = (x: Tensor) => (all.push(x), x);
  let qt: Tensor;
  let kt: Tensor;
  let vt: Tensor;
  if (s.layout === 'contiguous') {
    [qt, kt, vt] = [q, k, v].map((x, i) => keep(ops.fromFlat(x, [B, H, i ? Tk : Tq, d], dtype)));
  } else if (s.layout === 'bthd') {
    [qt, kt, vt] = [q, k, v].map((x, i) => {
      const T = i ? Tk : Tq;
      return keep(ops.permute(keep(ops.fromFlat(toBTHD(x, B, H, T, d), [B, T, H, d], dtype)), [0, 2, 1, 3]));
    });
  } else if (s.layout === 'fusedQkv') {
    // One [B, T, 3, H, d] projection output; q, k, v are slices of it, permuted to [B, H, T, d].
    if (Tq !== Tk) throw new Error('fusedQkv needs Tq == Tk');
    const qkv = keep(ops.fromFlat(packTokens([q, k, v], B, H, Tq, d), [B, Tq, 3, H, d], dtype));
    [qt, kt, vt] = [0, 1, 2].map((part) => keep(ops.permute(keep(ops.slice(qkv, [null, null, part])), [0, 2, 1, 3])));
  } else {
    // Shared k/v across heads (multi-query style): [B, 1, Tk, d] expanded with a stride-0 head dim.
    qt = keep(ops.fromFlat(q, [B, H, Tq, d], dtype));
    [kt, vt] = [kBase, vBase].map((x) => keep(ops.expand(keep(ops.fromFlat(x, [B, 1, Tk, d], dtype)), [B, H, Tk, d])));
  }
  const up: Uploaded = {
    pr: { B, H, Tq, Tk, d, q, k, v, mask: null, kpm: null, causal: s.causal, scale: 1 / Math.sqrt(d) },
    q: qt,
    k: kt,
    v: vt,
    all,
  };
  if (s.mask !== 'none') {
    const shape = maskShape(s.mask, s);
    const n = shape.reduce((a, b) => a * b, 1);
    // Mostly moderate values, some -inf (which removes the key) to exercise masking through the mask too.
    const values = Float64Array.from({ length: n }, () => (rnd() > 0.85 ? -Infinity : rnd() * 2));
    up.mask = keep(ops.fromFlat(values, shape, 'f32'));
    up.pr.mask = broadcast4(stored(values, 'f32'), shape, [B, H, Tq, Tk]);
  }
  if (s.keyPadding) {
    const kpm = Uint8Array.from({ length: B * Tk }, () => (rnd() > 0.7 ? 1 : 0));
    up.keyPaddingMask = keep(ops.fromFlat(kpm, [B, Tk], 'u32'));
    up.pr.kpm = kpm;
  }
  return up;
}

function dispose(xs: readonly Tensor[]): void {
  for (const x of xs) x.dispose();
}

function options(up: Uploaded): { mask?: Tensor; keyPaddingMask?: Tensor; causal: boolean } {
  return {
    causal: up.pr.causal,
    ...(up.mask ? { mask: up.mask } : {}),
    ...(up.keyPaddingMask ? { keyPaddingMask: up.keyPaddingMask } : {}),
  };
}

// f32: outputs are convex combinations of v rows (|v| < 1) computed with f32 dot products of length d
// and an f32 running sum over Tk <= 40 keys: errors stay around 1e-6; lse is a log of a sum (~1e-6 relative).
const F32_OUT = { atol: 2e-5, rtol: 1e-4 };
const F32_LSE = { atol: 2e-5, rtol: 1e-5 };

/** Sets which keys are padding (`padded(batch, key)`), in the oracle's problem and on the GPU alike. */
function padKeys(up: Uploaded, padded: (batch: number, key: number) => boolean): void {
  const { B, Tk } = up.pr;
  for (let b = 0; b < B; b++) for (let j = 0; j < Tk; j++) up.pr.kpm![b * Tk + j] = padded(b, j) ? 1 : 0;
  up.keyPaddingMask!.dispose();
  up.keyPaddingMask = ops.fromFlat(up.pr.kpm!, [B, Tk], 'u32');
  up.all.push(up.keyPaddingMask);
}

/** What a check forces: a kernel family, a tiled-family tile, or neither (the adapter's choice). */
function forcedLabel(force: AttentionKernelOption): string {
  const split = force.keySplits !== undefined ? `, ${force.keySplits} key splits` : '';
  return force.tile ? `tiled ${force.tile.rows}x${force.tile.tile}${split}` : `${force.kernel ?? 'default'}${split}`;
}

async function checkForward(up: Uploaded, tol = F32_OUT, lseTol = F32_LSE, force: AttentionKernelOption = {}): Promise<void> {
  const { out, lse } = ops.scaledDotProductAttention(up.q, up.k, up.v, { ...options(up), returnLse: true, ...force });
  try {
    const want = oracleForward(up.pr);
    assertClose(await out.data(), want.out, { ...tol, what: `attention output (${forcedLabel(force)} kernel)` });
    assertClose(await lse.data(), want.lse, { ...lseTol, what: `attention lse (${forcedLabel(force)} kernel)` });
  } finally {
    dispose([out, lse]);
  }
}

// ---- forward ----------------------------------------------------------------------------------------

t('forward matches the float64 oracle for every tuned head dim (ragged T, all masks)', async () => {
  for (const [n, d] of HEAD_DIMS.entries()) {
    const up = upload({ B: 2, H: 3, Tq: 19 + n, Tk: 37 - n, d, causal: n % 2 === 0, keyPadding: true, mask: 'b1qk', layout: 'contiguous', seed: 11 + n });
    try {
      await checkForward(up);
    } finally {
      dispose(up.all);
    }
  }
});

/** Random cases: batch and heads up to `maxBatchHeads`, 1-40 query and key rows, every mask kind and operand layout. */
function attentionCases(maxBatchHeads: number, headDims: readonly number[]) {
  return fc
    .record({
      B: fc.integer({ min: 1, max: maxBatchHeads }),
      H: fc.integer({ min: 1, max: maxBatchHeads }),
      Tq: fc.integer({ min: 1, max: 40 }),
      Tk: fc.integer({ min: 1, max: 40 }),
      d: fc.constantFrom(...headDims),
      causal: fc.boolean(),
      keyPadding: fc.boolean(),
      mask: fc.constantFrom<MaskKind>('none', 'qk', 'b1qk', 'full'),
      layout: fc.constantFrom<Layout>('contiguous', 'bthd', 'fusedQkv', 'kvHeadBroadcast'),
      seed: fc.integer({ min: 0, max: 1 << 30 }),
    })
    // A fused qkv projection has as many keys as queries.
    .map((s) => (s.layout === 'fusedQkv' ? { ...s, Tk: s.Tq } : s));
}

t('forward property: random B, H, Tq, Tk, head dims, masks and strided layouts', async () => {
  const spec = attentionCases(3, HEAD_DIMS);
  await fc.assert(
    fc.asyncProperty(spec, async (s) => {
      const up = upload(s);
      try {
        await checkForward(up);
      } finally {
        dispose(up.all);
      }
    }),
    { numRuns: 40, examples: [[{ B: 1, H: 1, Tq: 1, Tk: 1, d: 32, causal: false, keyPadding: false, mask: 'none', layout: 'contiguous', seed: 1 }]] },
  );
});

t('fully masked rows give output 0 and lse -inf', async () => {
  const s: Spec = { B: 2, H: 2, Tq: 5, Tk: 7, d: 32, causal: true, keyPadding: false, mask: 'none', layout: 'contiguous', seed: 3 };
  const up = upload(s);
  // Batch 0: every key is padding. Batch 1: key 0 is padding, so causal row 0 sees nothing.
  const kpm = new Uint8Array(2 * 7);
  kpm.fill(1, 0, 7);
  kpm[7] = 1;
  const keyPaddingMask = ops.fromFlat(kpm, [2, 7], 'u32');
  // A -inf additive mask removing every key of query row 2 (all batches, all heads).
  const maskValues = new Float64Array(5 * 7).fill(0.25);
  maskValues.fill(-Infinity, 2 * 7, 3 * 7);
  const mask = ops.fromFlat(maskValues, [5, 7], 'f32');
  try {
    const { out, lse } = ops.scaledDotProductAttention(up.q, up.k, up.v, { causal: true, keyPaddingMask, mask, returnLse: true });
    const o = await out.data();
    const l = await lse.data();
    up.pr.kpm = kpm;
    up.pr.mask = broadcast4(maskValues, [5, 7], [2, 2, 5, 7]);
    const want = oracleForward(up.pr);
    assertClose(o, want.out, { ...F32_OUT, what: 'output' });
    assertClose(l, want.lse, { ...F32_LSE, what: 'lse' });
    for (let row = 0; row < 2 * 2 * 5; row++) {
      const b = Math.floor(row / 10);
      const i = row % 5;
      const dead = b === 0 || i === 0 || i === 2;
      assert.is(l[row] === -Infinity, dead, `row ${row} lse ${l[row]}`);
      if (dead) assert.ok(o.subarray(row * 32, row * 32 + 32).every((x) => x === 0), `row ${row} output is 0`);
    }
    dispose([out, lse]);
  } finally {
    dispose([...up.all, keyPaddingMask, mask]);
  }
});

t('key-padding mask accepts i32, f32 and strided views (non-zero = ignore)', async () => {
  const s: Spec = { B: 2, H: 2, Tq: 9, Tk: 11, d: 64, causal: false, keyPadding: false, mask: 'none', layout: 'contiguous', seed: 5 };
  const up = upload(s);
  const kpm = Uint8Array.from({ length: 22 }, (_, i) => (i % 3 === 1 ? 1 : 0));
  up.pr.kpm = kpm;
  const want = oracleForward(up.pr);
  // [Tk, B] stored, transposed to [B, Tk]: a strided view.
  const kpmT = new Float64Array(22);
  for (let b = 0; b < 2; b++) for (let j = 0; j < 11; j++) kpmT[j * 2 + b] = kpm[b * 11 + j]!;
  const base = ops.fromFlat(kpmT, [11, 2], 'f32');
  const masks = [ops.fromFlat(kpm, [2, 11], 'i32'), ops.fromFlat(Float64Array.from(kpm, (x) => x * 2.5), [2, 11], 'f32'), ops.transpose(base, 0, 1)];
  try {
    for (const keyPaddingMask of masks) {
      const out = ops.scaledDotProductAttention(up.q, up.k, up.v, { keyPaddingMask });
      assertClose(await out.data(), want.out, { ...F32_OUT, what: `output with ${keyPaddingMask.dtype} padding mask` });
      out.dispose();
    }
  } finally {
    dispose([...up.all, ...masks, base]);
  }
});

t('q/k/v sliced from a fused [B, T, 3, H, d] tensor are read in place, with an explicit scale', async () => {
  const s: Spec = { B: 2, H: 3, Tq: 13, Tk: 13, d: 80, causal: true, keyPadding: false, mask: 'none', layout: 'fusedQkv', seed: 9 };
  const up = upload(s);
  try {
    assert.ok(!up.q.isContiguous && !up.k.isContiguous && !up.v.isContiguous);
    const before = memoryStats().bytesLive;
    const out = ops.scaledDotProductAttention(up.q, up.k, up.v, { causal: true, scale: 0.3 });
    // Only the output was allocated: no contiguous copies of q/k/v (and no lse kept).
    assert.is(memoryStats().bytesLive - before, 2 * 3 * 13 * 80 * 4);
    up.pr.scale = 0.3;
    assertClose(await out.data(), oracleForward(up.pr).out, { ...F32_OUT, what: 'fused-qkv output' });
    out.dispose();
  } finally {
    dispose(up.all);
  }
});

t('empty query or key sets', async () => {
  const q = ops.fromFlat(new Float32Array(2 * 32), [1, 1, 2, 32], 'f32');
  const k0 = ops.fromFlat([], [1, 1, 0, 32], 'f32');
  try {
    const { out, lse } = ops.scaledDotProductAttention(q, k0, k0, { returnLse: true });
    assert.equal(Array.from(await out.data()), new Array(64).fill(0));
    assert.equal(Array.from(await lse.data()), [-Infinity, -Infinity]);
    const empty = ops.scaledDotProductAttention(k0, q, q);
    assert.equal(empty.shape, [1, 1, 0, 32]);
    dispose([out, lse, empty]);
  } finally {
    dispose([q, k0]);
  }
});

t('f16 inputs (f32 math): within f16 output rounding', async () => {
  if (!hasF16()) return;
  for (const [n, d] of [64, 96].entries()) {
    const s: Spec = { B: 2, H: 2, Tq: 17, Tk: 29, d, causal: n === 1, keyPadding: true, mask: 'qk', layout: 'bthd', seed: 21 + n };
    const up = upload(s, 'f16');
    try {
      assert.is(up.q.dtype, 'f16');
      // The oracle sees the same f16-rounded inputs, so the error is the f16 rounding of the output
      // (2^-11 relative, |out| < 1) plus f32 accumulation; lse stays f32.
      await checkForward(up, { atol: 1e-3, rtol: 2e-3 }, F32_LSE);
    } finally {
      dispose(up.all);
    }
  }
});

// ---- forward kernels, each forced ------------------------------------------------------------------

/** The kernel families this adapter runs: 'tiled' and 'blocked' everywhere, 'lanes' where subgroups have a fixed width. */
async function kernelFamilies(): Promise<AttentionKernel[]> {
  // d = 3 with a scalar layout: the same pipeline as the d = 3 case below, so no extra compile.
  const x = ops.fromFlat(new Float32Array(3), [1, 1, 1, 3], 'f32');
  try {
    ops.scaledDotProductAttention(x, x, x, { kernel: 'lanes' }).dispose();
    return ['tiled', 'blocked', 'lanes'];
  } catch (e) {
    if (e instanceof ArgumentError && /subgroups/.test(e.message)) return ['tiled', 'blocked'];
    throw e;
  } finally {
    x.dispose();
  }
}

t('each forward kernel, forced: row/key blocks with ragged ends, odd head dims, masks, layouts', async () => {
  // Tq = 37 and Tk = 45 span several lanes-kernel row blocks (16 or 32 rows) and key blocks (16 keys);
  // d = 3 leaves lanes without a column chunk and needs the padded scalar loads; d % 4 == 0 with
  // 4-aligned strides takes the vec4 operand path ('kvHeadBroadcast' has a stride-0 head dim). Head
  // dims stay few: every (kernel, d) pair is an LLVM compile of several seconds on a cold lavapipe.
  const specs: Spec[] = [
    { B: 2, H: 2, Tq: 37, Tk: 45, d: 64, causal: false, keyPadding: true, mask: 'full', layout: 'contiguous', seed: 101 },
    { B: 1, H: 3, Tq: 45, Tk: 45, d: 32, causal: true, keyPadding: false, mask: 'none', layout: 'fusedQkv', seed: 102 },
    { B: 2, H: 1, Tq: 37, Tk: 19, d: 3, causal: true, keyPadding: true, mask: 'qk', layout: 'bthd', seed: 103 },
    { B: 1, H: 2, Tq: 17, Tk: 45, d: 32, causal: false, keyPadding: false, mask: 'b1qk', layout: 'kvHeadBroadcast', seed: 104 },
  ];
  for (const kernel of await kernelFamilies()) {
    for (const s of specs) {
      const up = upload(s);
      try {
        await checkForward(up, F32_OUT, F32_LSE, { kernel });
      } finally {
        dispose(up.all);
      }
    }
    if (hasF16()) {
      const up = upload({ B: 1, H: 2, Tq: 35, Tk: 35, d: 64, causal: true, keyPadding: true, mask: 'qk', layout: 'fusedQkv', seed: 107 }, 'f16');
      try {
        // f16 output rounding (2^-11 relative, |out| < 1) on top of f32 accumulation, as above.
        await checkForward(up, { atol: 1e-3, rtol: 2e-3 }, F32_LSE, { kernel });
      } finally {
        dispose(up.all);
      }
    }
  }
});

t('each forward kernel, forced: fully masked rows give output 0 and lse -inf', async () => {
  for (const kernel of await kernelFamilies()) {
    const up = upload({ B: 2, H: 1, Tq: 6, Tk: 9, d: 64, causal: true, keyPadding: true, mask: 'none', layout: 'contiguous', seed: 7 });
    try {
      padKeys(up, (b, j) => b === 0 || j === 0); // batch 0 all padding; batch 1's key 0, so its causal row 0 sees nothing
      const { out, lse } = ops.scaledDotProductAttention(up.q, up.k, up.v, { ...options(up), returnLse: true, kernel });
      const o = await out.data();
      const l = await lse.data();
      dispose([out, lse]);
      const want = oracleForward(up.pr);
      assertClose(o, want.out, { ...F32_OUT, what: `${kernel} output` });
      for (let row = 0; row < 12; row++) {
        const dead = row < 6 || row === 6;
        assert.is(l[row] === -Infinity, dead, `${kernel}: row ${row} lse ${l[row]}`);
        if (dead) assert.ok(o.subarray(row * 64, row * 64 + 64).every((x) => x === 0), `${kernel}: row ${row} output is 0`);
      }
    } finally {
      dispose(up.all);
    }
  }
});

t('forward property, each kernel forced: random shapes, head dims, masks and layouts', async () => {
  const kernels = await kernelFamilies();
  const spec = fc.tuple(fc.constantFrom(...kernels), attentionCases(2, [3, 32, 64]));
  await fc.assert(
    fc.asyncProperty(spec, async ([kernel, s]) => {
      const up = upload(s);
      try {
        await checkForward(up, F32_OUT, F32_LSE, { kernel });
      } finally {
        dispose(up.all);
      }
    }),
    { numRuns: 30 },
  );
});

t('blocked tiles, forward and backward: the largest that fits the workgroup memory and invocation limits', () => {
  // d = 64: 64 rows x 32 keys take 44,160 bytes (Vulkan's usual 48 KiB); WebGPU's default 16 KiB gets 16 x 16.
  assert.equal(attentionBlockedTile(64, 49152, 256), { rows: 64, keys: 32, rowGroups: 16 });
  assert.is(attentionBlockedBytes(64, { rows: 64, keys: 32, rowGroups: 16 }), 44160);
  assert.equal(attentionBlockedTile(64, 16384, 256), { rows: 16, keys: 16, rowGroups: 4 });
  assert.equal(attentionBlockedTile(64, 49152, 64), { rows: 32, keys: 32, rowGroups: 8 }, '64 invocations at most');
  assert.equal(attentionBlockedTile(128, 49152, 256), { rows: 32, keys: 16, rowGroups: 8 });
  // The backward stages two own operands: from 32 own rows down, 32 x 32 at 48 KiB, 32 x 16 at lavapipe's 32 KiB.
  assert.equal(attentionBlockedBackwardTile(64, 49152, 256), { rows: 32, keys: 32, rowGroups: 8 });
  assert.equal(attentionBlockedBackwardTile(64, 32768, 256), { rows: 32, keys: 16, rowGroups: 8 });
  assert.equal(attentionBlockedBackwardTile(64, 16384, 256), { rows: 16, keys: 8, rowGroups: 4 });
});

t('forward kernel choice: lanes on CPU adapters with fixed-width subgroups, tiled otherwise', () => {
  assert.is(chooseAttentionKernel('cpu', true, 8), 'lanes');
  assert.is(chooseAttentionKernel('cpu', true, 16), 'lanes');
  assert.is(chooseAttentionKernel('cpu', false, 8), 'tiled');
  assert.is(chooseAttentionKernel('cpu', true, undefined), 'tiled');
  assert.is(chooseAttentionKernel('cpu', true, 64), 'tiled');
  assert.is(chooseAttentionKernel('gpu', true, 32), 'tiled');
  const shape = { batch: 2, heads: 3, tq: 5, tk: 7, headDim: 64, causal: false, scale: 1 };
  const contiguous = { dtype: 'f32' as const, offset: 0, strides: [1344, 448, 64, 1] };
  const ops4 = { q: contiguous, k: contiguous, v: contiguous, mask: null, keyPadding: null };
  assert.ok(vectorOperands(shape, ops4));
  assert.not.ok(vectorOperands({ ...shape, headDim: 62 }, ops4), 'd % 4 != 0');
  assert.not.ok(vectorOperands(shape, { ...ops4, k: { ...contiguous, offset: 2 } }), 'unaligned offset');
  assert.not.ok(vectorOperands(shape, { ...ops4, v: { ...contiguous, strides: [1344, 448, 66, 1] } }), 'unaligned row stride');
  assert.not.ok(vectorOperands(shape, { ...ops4, q: { ...contiguous, strides: [1344, 1, 21, 7] } }), 'column stride 7');
});

t('forward kernel errors: unknown kernel; lanes forced without subgroups (tiled fallback)', async () => {
  const x = ops.fromFlat(new Float32Array(2 * 8), [1, 1, 2, 8], 'f32');
  const dispatchesBefore = runtime().dispatches;
  try {
    assert.throws(() => ops.scaledDotProductAttention(x, x, x, { kernel: 'magic' as 'tiled' }),
      (e: Error) => e instanceof ArgumentError && /unknown kernel 'magic'/.test(e.message));
    assert.is(runtime().dispatches, dispatchesBefore, 'no dispatch was recorded');
  } finally {
    x.dispose();
  }
  await init({ disableFeatures: ['subgroups'] });
  try {
    const up = upload({ B: 1, H: 2, Tq: 7, Tk: 9, d: 32, causal: true, keyPadding: true, mask: 'qk', layout: 'contiguous', seed: 13 });
    try {
      await checkForward(up); // the adapter's choice falls back to 'tiled'
      assert.throws(() => ops.scaledDotProductAttention(up.q, up.k, up.v, { kernel: 'lanes' }),
        (e: Error) => e instanceof ArgumentError && /'lanes' kernel needs the subgroups feature/.test(e.message));
    } finally {
      dispose(up.all);
    }
  } finally {
    await resetTestDevice();
  }
});

// ---- backward ---------------------------------------------------------------------------------------

async function checkBackward(up: Uploaded, seed: number, tol: { atol: number; rtol: number }, dtype: 'f32' | 'f16' = 'f32', force: AttentionKernelOption = {}): Promise<void> {
  const { B, H, Tq, d } = up.pr;
  const rnd = prng(seed ^ 0x5bd1e995);
  const dOValues = stored(Float64Array.from({ length: B * H * Tq * d }, () => rnd()), dtype);
  const dOut = ops.fromFlat(dOValues, [B, H, Tq, d], dtype);
  const opts = options(up);
  const { out, lse } = ops.scaledDotProductAttention(up.q, up.k, up.v, { ...opts, returnLse: true });
  const { dq, dk, dv } = ops.scaledDotProductAttentionBackward(up.q, up.k, up.v, out, dOut, lse, { ...opts, ...force });
  const which = `(${forcedLabel(force)} kernel)`;
  try {
    const fwd = oracleForward(up.pr);
    const want = oracleBackward(up.pr, fwd.P, dOValues);
    assertClose(await dq.data(), want.dq, { ...tol, what: `dq ${which}` });
    if (up.k.strides[1] === 0) return; // head-broadcast k/v: per-head gradients are what the oracle gives too
    assertClose(await dk.data(), want.dk, { ...tol, what: `dk ${which}` });
    assertClose(await dv.data(), want.dv, { ...tol, what: `dv ${which}` });
  } finally {
    dispose([dOut, out, lse, dq, dk, dv]);
  }
}

// Gradients sum up to 40 terms of products of O(1) values with f32 rounding in P (recomputed from the
// saved lse): absolute errors stay near 1e-5 with magnitudes up to ~10.
const F32_GRAD = { atol: 1e-4, rtol: 1e-3 };

t('backward, each kernel forced, matches the oracle analytic gradient for every tuned head dim', async () => {
  const kernels = await kernelFamilies();
  for (const [n, d] of HEAD_DIMS.entries()) {
    // Tq and Tk past 16 span several lanes-kernel row blocks (8 or 16 rows) and walked blocks (16 rows).
    const up = upload({ B: 1, H: 2, Tq: 21 - n, Tk: 17 + 2 * n, d, causal: n % 2 === 1, keyPadding: n % 2 === 0, mask: n === 2 ? 'full' : 'none', layout: 'bthd', seed: 40 + n });
    try {
      for (const kernel of kernels) await checkBackward(up, n, F32_GRAD, 'f32', { kernel });
    } finally {
      dispose(up.all);
    }
  }
});

t('backward, each kernel forced, at short head dims (d = 16 as in the main job, d = 3 with padded chunks)', async () => {
  const kernels = await kernelFamilies();
  for (const [n, d] of [16, 3].entries()) {
    const up = upload({ B: 2, H: 2, Tq: 19 + n, Tk: 23 - 2 * n, d, causal: n === 1, keyPadding: true, mask: n === 0 ? 'qk' : 'none', layout: n === 0 ? 'contiguous' : 'bthd', seed: 70 + n });
    try {
      for (const kernel of kernels) await checkBackward(up, 72 + n, F32_GRAD, 'f32', { kernel });
    } finally {
      dispose(up.all);
    }
  }
});

t('backward property, each kernel forced: random shapes, masks, layouts', async () => {
  const kernels = await kernelFamilies();
  const spec = fc
    .record({
      kernel: fc.constantFrom(...kernels),
      B: fc.integer({ min: 1, max: 2 }),
      H: fc.integer({ min: 1, max: 2 }),
      Tq: fc.integer({ min: 1, max: 40 }),
      Tk: fc.integer({ min: 1, max: 40 }),
      d: fc.constantFrom(32, 64),
      causal: fc.boolean(),
      keyPadding: fc.boolean(),
      mask: fc.constantFrom<MaskKind>('none', 'qk', 'full'),
      layout: fc.constantFrom<Layout>('contiguous', 'bthd', 'fusedQkv'),
      seed: fc.integer({ min: 0, max: 1 << 30 }),
    })
    .map((s) => (s.layout === 'fusedQkv' ? { ...s, Tk: s.Tq } : s));
  await fc.assert(
    fc.asyncProperty(spec, async (s) => {
      const up = upload(s);
      try {
        await checkBackward(up, s.seed, F32_GRAD, 'f32', { kernel: s.kernel });
      } finally {
        dispose(up.all);
      }
    }),
    { numRuns: 24 },
  );
});

// ---- against our own unfused composition -----------------------------------------------------------

t('each family matches the unfused composition (matmul, softmax, matmul) and its autograd gradients', async () => {
  // The composition the fused kernels replace, on the same device: scores = (q * scale) k^T + mask, with the
  // key padding and the causal structure as -inf entries of one additive mask, softmax, then P v; its
  // gradients come from autograd through those ops (dOut = w). No row is fully masked (key 0 stays visible),
  // where the composition would give NaN and the fused kernels 0.
  const [B, H, Tq, Tk, d] = [2, 3, 19, 23, 32];
  const rnd = prng(97);
  const draw = (n: number): Float32Array => Float32Array.from({ length: n }, () => rnd());
  const [qv, kv, vv, wv] = [draw(B * H * Tq * d), draw(B * H * Tk * d), draw(B * H * Tk * d), draw(B * H * Tq * d)];
  const maskv = Float32Array.from({ length: B * Tq * Tk }, () => rnd());   // [B, 1, Tq, Tk]
  const padded = (b: number, j: number): boolean => b === 1 && j >= Tk - 4;
  const scale = 1 / Math.sqrt(d);
  const kinds = await kernelFamilies();
  for (const causal of [false, true]) {
    const full = new Float32Array(B * Tq * Tk);
    for (let b = 0; b < B; b++)
      for (let i = 0; i < Tq; i++)
        for (let j = 0; j < Tk; j++) {
          const at = (b * Tq + i) * Tk + j;
          full[at] = padded(b, j) || (causal && j > i) ? -Infinity : maskv[at]!;
        }
    const leaves = [qv, kv, vv].map((x, n) => {
      const leaf = ag.tensor(x, [B, H, n === 0 ? Tq : Tk, d]);
      leaf.requiresGrad = true;
      return leaf;
    }) as [Tensor, Tensor, Tensor];
    const [q, k, v] = leaves;
    const w = ops.fromFlat(wv, [B, H, Tq, d], 'f32');
    const fullMask = ops.fromFlat(full, [B, 1, Tq, Tk], 'f32');
    const scores = ag.add(ag.matmul(ag.mul(q, scale), ag.transpose(k)), fullMask);
    const composed = ag.matmul(ag.softmax(scores, -1), v);
    ag.backward(ag.sum(ag.mul(composed, w)));
    const want = { out: await composed.data(), dq: await q.grad!.data(), dk: await k.grad!.data(), dv: await v.grad!.data() };
    const mask = ops.fromFlat(maskv, [B, 1, Tq, Tk], 'f32');
    const kpm = ops.fromFlat(Uint32Array.from({ length: B * Tk }, (_, e) => (padded(Math.floor(e / Tk), e % Tk) ? 1 : 0)), [B, Tk], 'u32');
    try {
      for (const kernel of kinds) {
        const opts = { mask, keyPaddingMask: kpm, causal, kernel };
        const what = `${kernel}${causal ? ', causal' : ''}`;
        const { out, lse } = ops.scaledDotProductAttention(q, k, v, { ...opts, returnLse: true });
        const g = ops.scaledDotProductAttentionBackward(q, k, v, out, w, lse, opts);
        assertClose(await out.data(), want.out, { ...F32_OUT, what: `${what}: output vs composition` });
        assertClose(await g.dq.data(), want.dq, { ...F32_GRAD, what: `${what}: dq vs autograd of the composition` });
        assertClose(await g.dk.data(), want.dk, { ...F32_GRAD, what: `${what}: dk vs autograd of the composition` });
        assertClose(await g.dv.data(), want.dv, { ...F32_GRAD, what: `${what}: dv vs autograd of the composition` });
        dispose([out, lse, g.dq, g.dk, g.dv]);
      }
    } finally {
      dispose([...leaves, w, fullMask, scores, composed, mask, kpm]);
    }
  }
});

t('forced tiles of the tiled family (the GPU tuning knob): forward and backward, ragged ends; bad tiles rejected', async () => {
  // Tq = 37, Tk = 45: 1, 2 and 3 row blocks of 32, 16 and 13 rows, key tiles of 64, 8 and 5 rows (the last
  // ragged), with every mask kind; d = 20 pads to 5 vec4 chunks.
  const up = upload({ B: 2, H: 2, Tq: 37, Tk: 45, d: 20, causal: true, keyPadding: true, mask: 'qk', layout: 'bthd', seed: 61 });
  try {
    for (const tile of [{ rows: 32, tile: 64 }, { rows: 16, tile: 8 }, { rows: 13, tile: 5 }]) {
      await checkForward(up, F32_OUT, F32_LSE, { tile });
      await checkBackward(up, 62, F32_GRAD, 'f32', { tile });
    }
    const limits = runtime().info.limits;
    assert.throws(() => ops.scaledDotProductAttention(up.q, up.k, up.v, { tile: { rows: 0, tile: 8 } }), (e: Error) => e instanceof ArgumentError && /tile .* is invalid/.test(e.message));
    assert.throws(() => ops.scaledDotProductAttention(up.q, up.k, up.v, { tile: { rows: (limits.maxComputeInvocationsPerWorkgroup ?? 256) + 1, tile: 8 } }), (e: Error) => e instanceof ArgumentError && /rows 1\.\.\d+ invocations/.test(e.message));
    assert.throws(() => ops.scaledDotProductAttention(up.q, up.k, up.v, { tile: { rows: 16, tile: 1 << 20 } }), (e: Error) => e instanceof ArgumentError && /bytes of workgroup memory at head dim 20/.test(e.message));
    assert.throws(() => ops.scaledDotProductAttention(up.q, up.k, up.v, { kernel: 'lanes', tile: { rows: 16, tile: 8 } }), (e: Error) => e instanceof ArgumentError && /forced tile applies to the 'tiled' kernel/.test(e.message));
  } finally {
    dispose(up.all);
  }
});

t('key-split forward (flash-decoding), forced: segment counts, empty segments, fully masked rows, packed output, f16; backward from its lse', async () => {
  // Tq = 37, Tk = 45 in 16 x 8 tiles: 6 key tiles, so 2, 3, 4, 6 and 50 requested segments make 2, 3, 3, 6
  // and 6 segments (24, 16, 16, 8, 8 keys; the last ragged). Causal row block 0 sees keys 0..15 only, so
  // most of its segments see nothing and must weigh 0 in the merge.
  const tile = { rows: 16, tile: 8 };
  const spec = { B: 2, H: 2, Tq: 37, Tk: 45, d: 20, causal: true, keyPadding: true, mask: 'qk', layout: 'bthd', seed: 63 } as const;
  const up = upload(spec);
  try {
    for (const keySplits of [2, 3, 4, 6, 50]) await checkForward(up, F32_OUT, F32_LSE, { tile, keySplits });
    // Batch 0 all padding, batch 1's key 0 padding: causal row 0 of batch 1 and every row of batch 0 see no key.
    padKeys(up, (b, j) => b === 0 || j === 0);
    const { out, lse } = ops.scaledDotProductAttention(up.q, up.k, up.v, { ...options(up), returnLse: true, tile, keySplits: 6 });
    const want = oracleForward(up.pr);
    const [o, l] = [await out.data(), await lse.data()];
    assertClose(o, want.out, { ...F32_OUT, what: 'split output with fully masked rows' });
    for (let row = 0; row < 2 * 2 * 37; row++) {
      const dead = row < 2 * 37 || row % 37 === 0;
      assert.is(l[row] === -Infinity, dead, `split: row ${row} lse ${l[row]}`);
      if (dead) assert.ok(o.subarray(row * 20, row * 20 + 20).every((x) => x === 0), `split: row ${row} output is 0`);
    }
    // The backward needs only the merged out and lse.
    const rnd = prng(64);
    const dOValues = Float64Array.from({ length: 2 * 2 * 37 * 20 }, () => rnd());
    const dOut = ops.fromFlat(dOValues, [2, 2, 37, 20], 'f32');
    const g = ops.scaledDotProductAttentionBackward(up.q, up.k, up.v, out, dOut, lse, options(up));
    const wantGrad = oracleBackward(up.pr, want.P, dOValues);
    assertClose(await g.dq.data(), wantGrad.dq, { ...F32_GRAD, what: 'dq from the split forward' });
    assertClose(await g.dk.data(), wantGrad.dk, { ...F32_GRAD, what: 'dk from the split forward' });
    assertClose(await g.dv.data(), wantGrad.dv, { ...F32_GRAD, what: 'dv from the split forward' });
    dispose([out, lse, dOut, g.dq, g.dk, g.dv]);

    assert.throws(() => ops.scaledDotProductAttention(up.q, up.k, up.v, { keySplits: 0 }), (e: Error) => e instanceof ArgumentError && /keySplits must be an integer >= 1/.test(e.message));
    assert.throws(() => ops.scaledDotProductAttention(up.q, up.k, up.v, { keySplits: 2.5 }), (e: Error) => e instanceof ArgumentError && /keySplits must be an integer >= 1/.test(e.message));
    assert.throws(() => ops.scaledDotProductAttention(up.q, up.k, up.v, { kernel: 'blocked', keySplits: 2 }), (e: Error) => e instanceof ArgumentError && /key split applies to the 'tiled' kernel/.test(e.message));
  } finally {
    dispose(up.all);
  }

  // Packed self-attention writes the merged rows through the [B, T, H, d] output strides; the scratch is freed.
  const packed = upload({ ...spec, Tk: 37, keyPadding: false, mask: 'none', layout: 'contiguous', seed: 65 });
  const { B, H, d } = packed.pr;
  const qkv = ops.fromFlat(packTokens([packed.pr.q, packed.pr.k, packed.pr.v], B, H, 37, d), [B, 37, 3 * H * d], 'f32');
  try {
    const before = memoryStats().bytesLive;
    const { out, lse } = ops.multiHeadSelfAttention(qkv, H, { ...options(packed), returnLse: true, tile, keySplits: 3 });
    assert.is(memoryStats().bytesLive - before, (B * 37 * H * d + B * H * 37) * 4, 'split packed forward: only out and lse stay allocated');
    const want = oracleForward(packed.pr);
    assertClose(await out.data(), packTokens([want.out], B, H, 37, d), { ...F32_OUT, what: 'split packed output' });
    assertClose(await lse.data(), want.lse, { ...F32_LSE, what: 'split packed lse' });
    dispose([out, lse]);
  } finally {
    dispose([...packed.all, qkv]);
  }

  if (!hasF16()) return;
  const half = upload({ ...spec, seed: 66 }, 'f16');
  try {
    // f16 partial outputs add one f16 rounding per segment before the merge (the final lse stays f32).
    await checkForward(half, { atol: 2e-3, rtol: 4e-3 }, F32_LSE, { tile, keySplits: 3 });
  } finally {
    dispose(half.all);
  }
});

t('split backward, forced: dK/dV over query segments and dQ over key segments, masks, empty segments, packed gradients, f16', async () => {
  // Tq = 37, Tk = 45 in 16 x 8 tiles: dK/dV walks 5 query tiles and dQ 6 key tiles, so 2, 3, 6 and 50
  // requested segments give 2/2, 3/3, 5/6 and 5/6 segments, the last ragged. Causal key blocks start past
  // most query segments, and causal query blocks end before most key segments: those segments see nothing
  // and must add exact zeros.
  const tile = { rows: 16, tile: 8 };
  const spec = { B: 2, H: 2, Tq: 37, Tk: 45, d: 20, causal: true, keyPadding: true, mask: 'qk', layout: 'bthd', seed: 67 } as const;
  const up = upload(spec);
  try {
    for (const keySplits of [2, 3, 6, 50]) await checkBackward(up, keySplits, F32_GRAD, 'f32', { tile, keySplits });
    // Batch 0 all padding, batch 1's key 0 padding: every row of batch 0 and causal row 0 of batch 1 see no key.
    padKeys(up, (b, j) => b === 0 || j === 0);
    await checkBackward(up, 9, F32_GRAD, 'f32', { tile, keySplits: 4 });
  } finally {
    dispose(up.all);
  }

  // Packed self-attention: the split gradients land in dqkv's q, k and v slots as the unsplit ones do, and
  // the scratch is freed.
  const packed = upload({ ...spec, Tk: 37, keyPadding: false, mask: 'none', layout: 'contiguous', seed: 68 });
  const { B, H, d } = packed.pr;
  const qkv = ops.fromFlat(packTokens([packed.pr.q, packed.pr.k, packed.pr.v], B, H, 37, d), [B, 37, 3 * H * d], 'f32');
  const rnd = prng(69);
  const dOut = ops.fromFlat(Float64Array.from({ length: B * 37 * H * d }, () => rnd()), [B, 37, H * d], 'f32');
  const { out, lse } = ops.multiHeadSelfAttention(qkv, H, { ...options(packed), returnLse: true });
  try {
    const start = memoryStats().bytesLive;
    const unsplit = ops.multiHeadSelfAttentionBackward(qkv, out, dOut, lse, H, { ...options(packed), tile, keySplits: 1 });
    const before = memoryStats().bytesLive;
    const split = ops.multiHeadSelfAttentionBackward(qkv, out, dOut, lse, H, { ...options(packed), tile, keySplits: 3 });
    assert.is(memoryStats().bytesLive - before, B * 37 * 3 * H * d * 4, 'split packed backward: only dqkv stays allocated');
    assertClose(await split.data(), await unsplit.data(), { atol: 1e-5, rtol: 1e-5, what: 'split packed dqkv against the unsplit one' });
    dispose([unsplit, split]);
    assert.is(memoryStats().bytesLive, start, 'disposing the gradients frees them: nothing else holds their storage');
  } finally {
    dispose([...packed.all, qkv, dOut, out, lse]);
  }

  if (!hasF16()) return;
  const half = upload({ ...spec, seed: 70 }, 'f16');
  try {
    // The partials are f32 and summed in f32: one f16 rounding of each gradient, as unsplit.
    await checkBackward(half, 10, { atol: 1e-2, rtol: 1e-2 }, 'f16', { tile, keySplits: 3 });
  } finally {
    dispose(half.all);
  }
});

t('key splits by adapter class: GPUs split small grids into whole-tile segments, CPUs never', () => {
  const shape = (batch: number, heads: number, t: number) => ({ batch, heads, tq: t, tk: t, headDim: 64, causal: false, scale: 0.125 });
  const tile = { rows: 128, tile: 32 };
  // One ViT-B image: 2 row blocks x 12 heads = 24 workgroups; 7 key tiles allow 3 segments of >= 2 tiles.
  assert.equal(attentionKeySplit('gpu', shape(1, 12, 197), tile), { segments: 3, perSegment: 96 });
  // One 512-token sequence, 8 heads: 32 workgroups -> 8 segments of 64 keys (256 workgroups).
  assert.equal(attentionKeySplit('gpu', shape(1, 8, 512), tile), { segments: 8, perSegment: 64 });
  // ViT-B at B = 8 (192 workgroups) fills the GPU; a CPU adapter never splits; a 40-token sequence has too few tiles.
  for (const [cls, s] of [['gpu', shape(8, 12, 197)], ['cpu', shape(1, 12, 197)], ['gpu', shape(1, 8, 40)]] as const)
    assert.equal(attentionKeySplit(cls, s, tile), { segments: 1, perSegment: s.tk });
  assert.equal(splitOf(45, 8, 4), { segments: 3, perSegment: 16 });
  // The backward splits what each pass walks: at one 512-token sequence both grids are 4 x 8 = 32
  // workgroups, so queries (dK/dV) and keys (dQ) go into 8 segments of 64; ViT-B at B = 8 and CPUs never split.
  const eight = { segments: 8, perSegment: 64 };
  assert.equal(attentionBackwardSplits('gpu', shape(1, 8, 512), tile), { dkdv: eight, dq: eight });
  for (const [cls, s] of [['gpu', shape(8, 12, 197)], ['cpu', shape(1, 8, 512)]] as const)
    assert.equal(attentionBackwardSplits(cls, s, tile), { dkdv: { segments: 1, perSegment: s.tq }, dq: { segments: 1, perSegment: s.tk } });
});

t('backward, each kernel forced: fully masked rows and padded keys get zero gradients', async () => {
  const up = upload({ B: 2, H: 1, Tq: 6, Tk: 9, d: 32, causal: true, keyPadding: true, mask: 'none', layout: 'contiguous', seed: 77 });
  try {
    padKeys(up, (b, j) => b === 0 || j === 0); // batch 0 all padding; batch 1's key 0, so its causal row 0 is empty
    for (const kernel of await kernelFamilies()) await checkBackward(up, 5, F32_GRAD, 'f32', { kernel });
  } finally {
    dispose(up.all);
  }
});

t('backward f16: within f16 rounding of the gradients', async () => {
  if (!hasF16()) return;
  const up = upload({ B: 1, H: 2, Tq: 15, Tk: 12, d: 64, causal: false, keyPadding: true, mask: 'none', layout: 'contiguous', seed: 8 }, 'f16');
  try {
    // Inputs and dO are f16-rounded for the oracle too; out (saved in f16) feeds delta, which adds
    // ~2^-11 relative error per row on top of the f16 rounding of each gradient.
    for (const kernel of await kernelFamilies()) await checkBackward(up, 8, { atol: 1e-2, rtol: 1e-2 }, 'f16', { kernel });
  } finally {
    dispose(up.all);
  }
});

t('the oracle gradient agrees with central finite differences (tiny case)', () => {
  const rnd = prng(123);
  const B = 1, H = 1, Tq = 3, Tk = 4, d = 2;
  const gen = (n: number) => Float64Array.from({ length: n }, () => rnd());
  const pr: Problem = {
    B, H, Tq, Tk, d,
    q: gen(Tq * d), k: gen(Tk * d), v: gen(Tk * d),
    mask: Float64Array.from({ length: Tq * Tk }, (_, i) => (i === 5 ? -Infinity : rnd())),
    kpm: Uint8Array.from([0, 0, 0, 1]),
    causal: false, scale: 0.7,
  };
  const dO = gen(Tq * d);
  const loss = (p: Problem) => oracleForward(p).out.reduce((acc, o, i) => acc + o * dO[i]!, 0);
  const grads = oracleBackward(pr, oracleForward(pr).P, dO);
  const h = 1e-6;
  for (const [name, grad] of [['q', grads.dq], ['k', grads.dk], ['v', grads.dv]] as const) {
    const x = pr[name];
    const fd = Array.from(x, (x0, i) => {
      x[i] = x0 + h;
      const up = loss(pr);
      x[i] = x0 - h;
      const down = loss(pr);
      x[i] = x0;
      return (up - down) / (2 * h);
    });
    // Float64 central differences: truncation O(h^2) and cancellation ~1e-16 / h.
    assertClose(grad, fd, { atol: 1e-8, rtol: 1e-6, what: `d${name} vs finite differences` });
  }
  // The padded key gets exactly zero gradient.
  assert.equal(Array.from(grads.dk.subarray(3 * d)), [0, 0]);
});

// ---- packed self-attention --------------------------------------------------------------------------

t('multiHeadSelfAttention on a packed [B, T, 3 * H * d] projection: forward and backward against the oracle, each kernel forced', async () => {
  const kernels = await kernelFamilies();
  // d 16 takes the lanes kernels' vec4 paths, d 6 the scalar ones (and a padded last chunk), d 64 two
  // chunks per lane; the packed rows are 4 elements wider than 3 * H * d (a strided view) when pad is set.
  const cases = [
    { d: 16, T: 21, causal: true, keyPadding: false, mask: 'none', pad: 0 },
    { d: 6, T: 13, causal: false, keyPadding: true, mask: 'b1qk', pad: 4 },
    { d: 64, T: 37, causal: true, keyPadding: true, mask: 'none', pad: 4 },
  ] as const;
  for (const [n, c] of cases.entries()) {
    const up = upload({ B: 2, H: 3, Tq: c.T, Tk: c.T, d: c.d, causal: c.causal, keyPadding: c.keyPadding, mask: c.mask, layout: 'contiguous', seed: 70 + n });
    const { B, H, d } = up.pr;
    const T = c.T;
    const width = H * d;
    const wide = ops.fromFlat(packTokens([up.pr.q, up.pr.k, up.pr.v], B, H, T, d, c.pad), [B, T, 3 * width + c.pad], 'f32');
    const qkv = ops.slice(wide, [null, null, { start: 0, end: 3 * width }]);
    const rnd = prng(90 + n);
    const dOLogical = Float64Array.from({ length: B * H * T * d }, () => rnd());
    const dOut = ops.fromFlat(packTokens([dOLogical], B, H, T, d), [B, T, width], 'f32');
    const fwd = oracleForward(up.pr);
    const want = oracleBackward(up.pr, fwd.P, dOLogical);
    try {
      for (const kernel of kernels) {
        const what = `d ${d} (${kernel} kernel)`;
        const before = memoryStats().bytesLive;
        const { out, lse } = ops.multiHeadSelfAttention(qkv, H, { ...options(up), returnLse: true, kernel });
        // Only the output and the lse: q, k and v are read in place, the heads come out merged.
        assert.is(memoryStats().bytesLive - before, (B * T * width + B * H * T) * 4, `${what}: bytes allocated`);
        assert.equal([...out.shape], [B, T, width]);
        assertClose(await out.data(), packTokens([fwd.out], B, H, T, d), { ...F32_OUT, what: `packed output, ${what}` });
        assertClose(await lse.data(), fwd.lse, { ...F32_LSE, what: `packed lse, ${what}` });
        const dqkv = ops.multiHeadSelfAttentionBackward(qkv, out, dOut, lse, H, { ...options(up), kernel });
        assert.equal([...dqkv.shape], [B, T, 3 * width]);
        assertClose(await dqkv.data(), packTokens([want.dq, want.dk, want.dv], B, H, T, d), { ...F32_GRAD, what: `packed gradient, ${what}` });
        dispose([out, lse, dqkv]);
      }
    } finally {
      dispose([...up.all, wide, qkv, dOut]);
    }
  }
});

t('multiHeadSelfAttention f16: within f16 rounding, each kernel forced', async () => {
  if (!hasF16()) return;
  const up = upload({ B: 2, H: 2, Tq: 19, Tk: 19, d: 16, causal: false, keyPadding: true, mask: 'none', layout: 'contiguous', seed: 77 }, 'f16');
  const { B, H, d } = up.pr;
  const T = 19;
  const qkv = ops.fromFlat(packTokens([up.pr.q, up.pr.k, up.pr.v], B, H, T, d), [B, T, 3 * H * d], 'f16');
  const rnd = prng(78);
  const dOLogical = stored(Float64Array.from({ length: B * H * T * d }, () => rnd()), 'f16');
  const dOut = ops.fromFlat(packTokens([dOLogical], B, H, T, d), [B, T, H * d], 'f16');
  const fwd = oracleForward(up.pr);
  const want = oracleBackward(up.pr, fwd.P, dOLogical);
  try {
    for (const kernel of await kernelFamilies()) {
      const { out, lse } = ops.multiHeadSelfAttention(qkv, H, { ...options(up), returnLse: true, kernel });
      assert.is(out.dtype, 'f16');
      // Tolerances as the unpacked f16 tests: f16 rounding of the output, then of each gradient.
      assertClose(await out.data(), packTokens([fwd.out], B, H, T, d), { atol: 1e-3, rtol: 2e-3, what: `packed f16 output (${kernel})` });
      const dqkv = ops.multiHeadSelfAttentionBackward(qkv, out, dOut, lse, H, { ...options(up), kernel });
      assertClose(await dqkv.data(), packTokens([want.dq, want.dk, want.dv], B, H, T, d), { atol: 1e-2, rtol: 1e-2, what: `packed f16 gradient (${kernel})` });
      dispose([out, lse, dqkv]);
    }
  } finally {
    dispose([...up.all, qkv, dOut]);
  }
});

t('multiHeadSelfAttention errors name the op and shapes before any GPU work', () => {
  const mk = (shape: number[], dtype: 'f32' | 'u32' = 'f32') => ops.fromFlat(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape, dtype);
  const qkv = mk([2, 5, 24]);
  const made = [qkv];
  const use = (x: Tensor) => (made.push(x), x);
  const dispatchesBefore = runtime().dispatches;
  try {
    assert.throws(() => ops.multiHeadSelfAttention(qkv, 3), (e: Error) => e instanceof ShapeError && /qkv must be \[B, T, 3 \* heads \* d\] with heads = 3, got \[2,5,24\]/.test(e.message));
    assert.throws(() => ops.multiHeadSelfAttention(use(mk([2, 5, 4, 6])), 2), (e: Error) => e instanceof ShapeError && /qkv must be/.test(e.message));
    assert.throws(() => ops.multiHeadSelfAttention(qkv, 0), (e: Error) => e instanceof ArgumentError && /heads must be a positive integer/.test(e.message));
    assert.throws(() => ops.multiHeadSelfAttention(qkv, 2, { keyPaddingMask: use(mk([2, 4], 'u32')) }), (e: Error) => e instanceof ShapeError && /keyPaddingMask must be \[B, Tk\] = \[2,5\]/.test(e.message));
    const bwd = ops.multiHeadSelfAttentionBackward;
    const out = use(mk([2, 5, 8]));
    const lse = use(mk([2, 2, 5]));
    assert.throws(() => bwd(qkv, use(mk([2, 5, 6])), out, lse, 2), (e: Error) => e instanceof ShapeError && /out \[2,5,6\] must match the merged heads \[B, T, H \* d\] = \[2,5,8\]/.test(e.message));
    assert.throws(() => bwd(qkv, out, use(mk([2, 5, 8], 'u32')), lse, 2), (e: Error) => e instanceof DTypeError && /dOut is u32 but qkv is f32/.test(e.message));
    assert.throws(() => bwd(qkv, out, out, use(mk([2, 5, 2])), 2), (e: Error) => e instanceof ShapeError && /lse \[2,5,2\] must be \[B, H, Tq\] = \[2,2,5\]/.test(e.message));
    assert.is(runtime().dispatches, dispatchesBefore, 'no dispatch was recorded');
  } finally {
    dispose(made);
  }
});

// ---- errors -----------------------------------------------------------------------------------------

t('errors name the op and operands before any GPU work', () => {
  const mk = (shape: number[], dtype: 'f32' | 'u32' = 'f32') => ops.fromFlat(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape, dtype);
  const q = mk([2, 3, 5, 32]);
  const k = mk([2, 3, 7, 32]);
  const made: Tensor[] = [q, k];
  const use = (x: Tensor) => (made.push(x), x);
  const sdpa = ops.scaledDotProductAttention;
  const dispatchesBefore = runtime().dispatches;
  try {
    assert.throws(() => sdpa(use(mk([3, 5, 32])), k, k), (e: Error) => e instanceof ShapeError && /q must have rank 4/.test(e.message));
    assert.throws(() => sdpa(q, use(mk([1, 3, 7, 32])), k), (e: Error) => e instanceof ShapeError && /batch sizes differ: q \[2,3,5,32\], k \[1,3,7,32\], v \[2,3,7,32\]/.test(e.message));
    assert.throws(() => sdpa(q, k, use(mk([2, 2, 7, 32]))), (e: Error) => e instanceof ShapeError && /head counts differ/.test(e.message));
    assert.throws(() => sdpa(q, k, use(mk([2, 3, 6, 32]))), (e: Error) => e instanceof ShapeError && /same number of rows/.test(e.message));
    assert.throws(() => sdpa(q, k, use(mk([2, 3, 7, 16]))), (e: Error) => e instanceof ShapeError && /head dims differ/.test(e.message));
    const big = use(mk([1, 1, 2, 257]));
    assert.throws(() => sdpa(big, big, big), (e: Error) => e instanceof ShapeError && /head dim 257 is unsupported/.test(e.message));
    const zero = use(mk([1, 1, 2, 0]));
    assert.throws(() => sdpa(zero, zero, zero), (e: Error) => e instanceof ShapeError && /head dim 0 is unsupported/.test(e.message));
    assert.throws(() => sdpa(use(mk([2, 3, 5, 32], 'u32')), k, k), (e: Error) => e instanceof DTypeError && /q must be f32 or f16/.test(e.message));
    if (hasF16()) {
      const kh = use(ops.fromFlat(new Float32Array(2 * 3 * 7 * 32), [2, 3, 7, 32], 'f16'));
      assert.throws(() => sdpa(q, kh, k), (e: Error) => e instanceof DTypeError && /dtypes differ: q f32, k f16, v f32/.test(e.message));
    }
    assert.throws(() => sdpa(q, k, k, { mask: use(mk([5, 6])) }), (e: Error) => e instanceof ShapeError && /mask \[5,6\] does not broadcast to \[B, H, Tq, Tk\] = \[2,3,5,7\]/.test(e.message));
    assert.throws(() => sdpa(q, k, k, { mask: use(mk([1, 2, 3, 5, 7])) }), (e: Error) => e instanceof ShapeError && /does not broadcast/.test(e.message));
    assert.throws(() => sdpa(q, k, k, { mask: use(mk([5, 7], 'u32')) }), (e: Error) => e instanceof DTypeError && /additive f32 or f16 mask/.test(e.message));
    assert.throws(() => sdpa(q, k, k, { keyPaddingMask: use(mk([2, 5], 'u32')) }), (e: Error) => e instanceof ShapeError && /keyPaddingMask must be \[B, Tk\] = \[2,7\], got \[2,5\]/.test(e.message));
    assert.throws(() => sdpa(q, k, k, { scale: Number.NaN }), (e: Error) => e instanceof ArgumentError && /scale must be a finite number/.test(e.message));
    const gone = use(mk([2, 3, 7, 32]));
    gone.dispose();
    assert.throws(() => sdpa(q, k, gone), (e: Error) => e instanceof DisposedError);

    const bwd = ops.scaledDotProductAttentionBackward;
    const out = use(mk([2, 3, 5, 32]));
    const lse = use(mk([2, 3, 5]));
    assert.throws(() => bwd(q, k, k, use(mk([2, 3, 4, 32])), out, lse), (e: Error) => e instanceof ShapeError && /out \[2,3,4,32\] must match q \[2,3,5,32\]/.test(e.message));
    assert.throws(() => bwd(q, k, k, out, use(mk([2, 3, 5, 32], 'u32')), lse), (e: Error) => e instanceof DTypeError && /dOut is u32 but q is f32/.test(e.message));
    assert.throws(() => bwd(q, k, k, out, out, use(mk([2, 3, 6]))), (e: Error) => e instanceof ShapeError && /lse \[2,3,6\] must be \[B, H, Tq\] = \[2,3,5\]/.test(e.message));
    assert.throws(() => bwd(q, k, k, out, out, use(mk([2, 3, 5], 'u32'))), (e: Error) => e instanceof DTypeError && /lse must be f32/.test(e.message));
    assert.throws(() => bwd(q, use(mk([2, 3, 7, 64])), k, out, out, lse), (e: Error) => e instanceof ShapeError && /head dims differ/.test(e.message));
    assert.is(runtime().dispatches, dispatchesBefore, 'no dispatch was recorded');
  } finally {
    dispose(made);
  }
});

t.run();
