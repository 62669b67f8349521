/** Sum reductions: along rows, along columns, and over everything (GB/s of input read). */
import { sampledCheck, type BenchCase } from '../harness.js';
import { WT_SUM_PER_WORKGROUP, wtDispatchLimit } from '../peers/webgpu-torch.js';
import { fmt, host, variants } from './common.js';
import { requireOp } from './ours.js';

/** Inputs in [0, 2): sums grow like n, so a dropped block of a few hundred elements exceeds the tolerance. */
function positive(shape: readonly number[], seed: number) {
  const h = host(shape, seed);
  for (let i = 0; i < h.data.length; i++) h.data[i]! += 1;
  return h;
}

export function sumCase(name: string, shape: readonly number[], axis: number | null): BenchCase {
  const n = shape.reduce((p, d) => p * d, 1);
  const [rows, cols] = shape.length === 2 ? [shape[0]!, shape[1]!] : [1, n];
  const outSize = axis === null ? 1 : axis === 0 ? cols : rows;
  return {
    name,
    group: 'reduce',
    shape: `${fmt(shape)} over ${axis === null ? 'all axes' : `axis ${axis}`}`,
    dtype: 'f32',
    bytes: (n + outSize) * 4,
    async setup() {
      const x = positive(shape, 61);
      const expectedAt = (i: number): number => {
        let s = 0;
        if (axis === null) for (let j = 0; j < n; j++) s += x.data[j]!;
        else if (axis === 0) for (let r = 0; r < rows; r++) s += x.data[r * cols + i]!;
        else for (let c = 0; c < cols; c++) s += x.data[i * cols + c]!;
        return s;
      };
      const axes = axis === null ? [...shape.keys()] : [axis];
      return {
        // Tree-summed f32 is good to ~log2(n) * eps relative on positive data; 1e-5 relative allows that.
        check: sampledCheck({ size: outSize, expectedAt, atol: 1e-4, rtol: 1e-5, samples: 64 }),
        variants: variants({
          inputs: [x],
          ours: { label: 'sum', op: ([xx]) => requireOp('sum')(xx!, axes) },
          tfjs: { label: 'tf.sum', op: (tf, [xx]) => tf.sum(xx!, axis === null ? undefined : axis) },
          jax: { label: 'jit(np.sum)', op: (jax, [xx]) => jax.numpy.sum(xx!, axis === null ? null : axis) },
          ort: { label: 'ReduceSum', graph: (g, [xx]) => g.op('ReduceSum', [xx!, g.int64s(axes)], { keepdims: { int: 0 } }) },
          // webgpu-torch 0.3.5 reduces whole tensors only (its sum ignores a dim argument).
          ...(axis === null ? { webgpuTorch: { label: 'sum', op: ([xx]) => xx!.sum(), unsupported: wtDispatchLimit(n, WT_SUM_PER_WORKGROUP) } } : {}),
        }),
      };
    },
  };
}

/**
 * An embedding's backward: the gradient rows of `n` token ids summed into a [vocab, dim] table, rows of
 * repeated ids added together (a segmented sum). Ours is indexAdd (deterministic: a sort, then ordered
 * sums); TF.js runs tf.unsortedSegmentSum. jax-js 0.1.25 has no scatter or segment op, and its best
 * composition, a one-hot [n, vocab] matrix times the gradient, would need n * vocab floats (487 MB at
 * CLIP's vocabulary), so it is left out. ONNX Runtime Web runs ScatterND with reduction 'add' into a zero
 * table fed as an input (ScatterND returns a copy of its data input); its WebGPU provider cannot cast
 * floats to int64, so the ids are int64 constants of the model.
 */
export function embeddingBackwardCase(n: number, vocab: number, dim: number): BenchCase {
  return {
    name: `embedding backward ${n}x${dim} -> ${vocab}`,
    group: 'reduce',
    shape: `ids ${n}, grad ${fmt([n, dim])}, table ${fmt([vocab, dim])}`,
    dtype: 'f32',
    bytes: (n * dim + vocab * dim) * 4,
    async setup() {
      const grad = host([n, dim], 71);
      // Ids as f32 host values (the runners upload f32), spread over the vocabulary with repeats.
      const ids = { data: Float32Array.from({ length: n }, (_, j) => (j * 7919) % Math.min(vocab, n >> 1)), shape: [n] };
      const rows = new Map<number, number[]>();
      ids.data.forEach((v, j) => rows.set(v, [...(rows.get(v) ?? []), j]));
      const expectedAt = (i: number): number => {
        const [v, c] = [Math.floor(i / dim), i % dim];
        return (rows.get(v) ?? []).reduce((s, j) => s + grad.data[j * dim + c]!, 0);
      };
      return {
        check: sampledCheck({ size: vocab * dim, expectedAt, atol: 1e-4, rtol: 1e-5, samples: 64 }),
        variants: variants({
          inputs: [grad, ids],
          ours: { label: 'indexAdd', op: ([g, i]) => requireOp('indexAdd')([vocab, dim], 0, requireOp('cast')(i!, 'i32'), g!) },
          tfjs: { label: 'tf.unsortedSegmentSum', op: (tf, [g, i]) => tf.unsortedSegmentSum(g!, tf.cast(i!, 'int32') as Parameters<typeof tf.unsortedSegmentSum>[1], vocab) },
          ort: {
            label: "ScatterND(reduction 'add') into a zero table",
            inputs: [{ data: new Float32Array(vocab * dim), shape: [vocab, dim] }, grad],
            graph: (g, [table, gg]) => g.op('ScatterND', [table!, g.constant('int64', [n, 1], Array.from(ids.data)), gg!], { reduction: { string: 'add' } }),
          },
        }),
      };
    },
  };
}

/** 4096x3072 and 16M elements (a quarter of that on a CPU adapter unless --large). */
export function reduceCases(options: { small: boolean }): BenchCase[] {
  const rows = options.small ? 1024 : 4096;
  const all = options.small ? 1 << 22 : 1 << 24;
  return [
    sumCase(`sum rows ${rows}x3072`, [rows, 3072], 1),
    sumCase(`sum columns ${rows}x3072`, [rows, 3072], 0),
    sumCase(`sum all ${all >> 20}M`, [all], null),
    // CLIP's text batch (32 x 77 tokens, width 512, vocabulary 49408).
    embeddingBackwardCase(32 * 77, 49408, 512),
  ];
}
