/**
 * Launchers for kernels/wgsl/softmax.wgsl: softmax / log-softmax along any axis of strided tensors and
 * their backward passes. The output is a contiguous tensor of the input's shape.
 */
import { coalesce } from './elementwise.js';
import { ParamWriter, grid1d, specialize, type AdapterClass, type Launch } from './launch.js';

/** A tensor as the kernel reads it: element offset and one stride per dim of the full shape. */
export interface StridedOperand {
  readonly offset: number;
  readonly strides: readonly number[];
}

export interface SoftmaxSpec {
  readonly dtype: 'f32' | 'f16';
  readonly shape: readonly number[];
  readonly axis: number;
  /** log-softmax instead of softmax. */
  readonly log: boolean;
  readonly adapterClass: AdapterClass;
}

/** Below this many rows the one-workgroup-per-row form is used (the other would leave the device idle). */
const MIN_COLUMN_ROWS = 64;

/**
 * Which form runs, and with how many invocations per workgroup. GPUs use one invocation per row only
 * for strided axes (there neighbouring rows are neighbours in memory) and otherwise a workgroup per row,
 * sized to cover the row once. On lavapipe a workgroup is a loop over 8-wide SIMD batches with a
 * coroutine switch per barrier, and one invocation per row needs no barrier at all: on 18912 x 197 (last
 * axis) it took 60-100 ms against 100-190 ms for 8-wide row workgroups and more for wider ones (2 busy
 * cores: rankings only). So the CPU class uses the column form whenever there are enough rows.
 */
function plan(n: number, rows: number, axisStride: number, adapterClass: AdapterClass): { columns: boolean; wg: number } {
  const cpu = adapterClass === 'cpu';
  if (n > 1 && rows >= MIN_COLUMN_ROWS && (cpu || axisStride !== 1)) return { columns: true, wg: cpu ? 32 : 64 };
  if (cpu) return { columns: false, wg: 8 };
  let wg = 32;
  while (wg < n && wg < 256) wg *= 2;
  return { columns: false, wg };
}

/**
 * Whether the vec4 column forms (softmax_cols4, backward_cols4) may run: the axis has unit stride in every
 * operand, and every input row starts at the output row's offset mod 4, so that all walk the same vec4
 * chunk boundaries: each input's offset, and its strides over the other (merged) dims, are multiples of 4
 * apart from the output's (whose offset is 0). `rowStrides` are the merged strides of (a, b, out).
 */
function vec4Rows(axis: number, rowStrides: readonly (readonly number[])[], inputs: readonly StridedOperand[], outStrides: readonly number[]): boolean {
  const outRows = rowStrides[2]!;
  return outStrides[axis] === 1 && inputs.every((x, k) =>
    x.strides[axis] === 1 && x.offset % 4 === 0 && rowStrides[k]!.every((s, d) => (s - outRows[d]!) % 4 === 0));
}

/**
 * Shared by forward and backward: `a` is x (forward) or y (backward), `b` is dy (backward only), `out`
 * the output's strides. The dims other than `axis` are merged where every operand allows.
 */
function launch(spec: SoftmaxSpec, forward: boolean, a: StridedOperand, b: StridedOperand | null, outStrides: readonly number[]): Launch {
  const others = (s: readonly number[]) => s.filter((_, d) => d !== spec.axis);
  const operands = [a.strides, (b ?? a).strides, outStrides];
  const merged = coalesce(others(spec.shape), operands.map(others));
  const rows = merged.shape.reduce((n, v) => n * v, 1);
  const n = spec.shape[spec.axis]!;
  const { columns, wg } = plan(n, rows, a.strides[spec.axis]!, spec.adapterClass);
  const vec4 = columns && vec4Rows(spec.axis, merged.strides, [a, ...(b ? [b] : [])], outStrides);
  const entryPoint = `${forward ? 'softmax' : 'backward'}_${columns ? 'cols' : 'rows'}${vec4 ? '4' : ''}`;
  const params = new ParamWriter()
    .u32(rows)
    .u32(n)
    .u32(merged.shape.length)
    .u32(a.offset)
    .u32(b?.offset ?? 0)
    .u32(a.strides[spec.axis]!)
    .u32(b?.strides[spec.axis] ?? 0)
    .u32(outStrides[spec.axis]!)
    .u32x4Array(merged.shape, 2, 1);
  for (const s of merged.strides) params.u32x4Array(s, 2, 0);
  return {
    key: `softmax/${entryPoint}/${spec.dtype}/wg${wg}/log${+spec.log}`,
    code: () => specialize('softmax', { T: spec.dtype }),
    entryPoint,
    constants: { WG: wg, LOG: +spec.log },
    params: params.finish(),
    workgroups: grid1d(columns ? Math.ceil(rows / wg) : rows),
  };
}

/** Forward launch into an output with strides `outStrides` (offset 0). Buffers: x, y. */
export function softmaxLaunch(spec: SoftmaxSpec, x: StridedOperand, outStrides: readonly number[]): Launch {
  return launch(spec, true, x, null, outStrides);
}

/** Backward launch. Buffers: y (the forward output), dy, dx (strides `outStrides`, offset 0). */
export function softmaxBackwardLaunch(spec: SoftmaxSpec, y: StridedOperand, dy: StridedOperand, outStrides: readonly number[]): Launch {
  return launch(spec, false, y, dy, outStrides);
}
