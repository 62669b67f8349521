/**
 * Launchers for kernels/wgsl/optim.wgsl (fused optimizer updates) and kernels/wgsl/inplace.wgsl (strided
 * assignment). Both write into existing buffers, which is why they live apart from the map kernels that
 * always allocate their output.
 */
import { MAP_TUNING, coalesce } from './elementwise.js';
import { ParamWriter, WG1D, grid1d, specialize, type AdapterClass, type ElementType, type Launch } from './launch.js';

export interface AdamStep {
  numel: number;
  gradOffset: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW: weight decay multiplies the weight instead of being added to the gradient. */
  decoupled: boolean;
  /** 1-based step count, for the bias corrections. */
  step: number;
}

export interface SgdStep {
  numel: number;
  gradOffset: number;
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  /** First update with momentum: the buffer starts as the gradient itself. */
  first: boolean;
}

function optimParams(numel: number, gradOffset: number, flags: number, f: readonly number[]): ArrayBuffer {
  const w = new ParamWriter().u32(numel).u32(gradOffset).u32(flags);
  for (const v of f) w.f32(v);
  return w.finish();
}

/**
 * The launch shape shared by both updates: units of four elements, the invocation shape of the map kernels
 * for the adapter class, and the gradient bound as vec4s when its offset allows (optim.wgsl's header).
 */
function updateLaunch(entryPoint: 'adam' | 'sgd', numel: number, gradOffset: number, adapterClass: AdapterClass, params: ArrayBuffer): Launch {
  const { wg, per } = MAP_TUNING[adapterClass];
  const vecGrad = gradOffset % 4 === 0;
  return {
    key: `optim/${entryPoint}/grad${vecGrad ? 4 : 1}/wg${wg}/per${per}`,
    code: () =>
      specialize('optim', {}, vecGrad ? {
        grad: '@group(0) @binding(1) var<storage, read> grad: array<vec4<f32>>;',
        load_grad4: 'return grad[(p.grad_offset + e) / 4u];',
      } : {}),
    entryPoint,
    constants: { WG: wg, PER: per },
    params,
    workgroups: grid1d(Math.ceil(numel / 4 / (wg * per))),
  };
}

/** Bindings: grad, weight, m, v. */
export function adamLaunch(s: AdamStep, adapterClass: AdapterClass): Launch {
  const bc1 = 1 - s.beta1 ** s.step;
  const bc2Sqrt = Math.sqrt(1 - s.beta2 ** s.step);
  const params = optimParams(s.numel, s.gradOffset, s.decoupled ? 1 : 0, [s.lr, s.beta1, s.beta2, s.eps, s.weightDecay, bc1, bc2Sqrt]);
  return updateLaunch('adam', s.numel, s.gradOffset, adapterClass, params);
}

/** Bindings: grad, weight, momentum buffer (a placeholder when momentum is 0). */
export function sgdLaunch(s: SgdStep, adapterClass: AdapterClass): Launch {
  const flags = (s.nesterov ? 2 : 0) | (s.first ? 4 : 0);
  const params = optimParams(s.numel, s.gradOffset, flags, [s.lr, s.momentum, s.dampening, 0, s.weightDecay, 1, 1]);
  return updateLaunch('sgd', s.numel, s.gradOffset, adapterClass, params);
}

export interface StridedView {
  readonly strides: readonly number[];
  readonly offset: number;
}

/** Bindings: src, dst. Writes src (read through its strides) into the dst view, element by element. */
export function assignLaunch(dtype: ElementType, shape: readonly number[], src: StridedView, dst: StridedView): Launch {
  const numel = shape.reduce((n, d) => n * d, 1);
  const c = coalesce(shape, [src.strides, dst.strides]);
  const w = new ParamWriter()
    .u32(numel)
    .u32(c.shape.length)
    .u32(src.offset)
    .u32(dst.offset)
    .u32x4Array(c.shape, 2, 1)
    .u32x4Array(c.strides[0]!, 2, 0)
    .u32x4Array(c.strides[1]!, 2, 0);
  return {
    key: `inplace/assign/${dtype}`,
    code: () => specialize('inplace', { T: dtype }),
    entryPoint: 'assign',
    params: w.finish(),
    workgroups: grid1d(Math.ceil(numel / WG1D)),
  };
}
