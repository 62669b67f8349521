/**
 * In-place ops: they write into an existing tensor's storage instead of allocating. Autograd uses `assign`
 * to scatter a view's gradient into zeros, and optimizers use the fused updates to change parameters and
 * their state where they live (a Tensor's storage is mutable; its shape, strides and dtype are not).
 */
import { adamLaunch, assignLaunch, sgdLaunch, type AdamStep, type SgdStep } from '../../kernels/optim.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { sameShape } from '../shape.js';
import { empty, expectTensor, type Tensor } from '../tensor.js';

/** Writes `src` into the view `dst` (same shape and dtype); elements of the storage outside the view are kept. */
export function assign(dst: Tensor, src: Tensor): void {
  const op = 'assign';
  expectTensor(op, 'dst', dst);
  expectTensor(op, 'src', src);
  const ds = dst.storage(op);
  const ss = src.storage(op);
  if (!sameShape(dst.shape, src.shape)) throw new ShapeError(`${op}: source ${fmtShape(src.shape)} does not match destination ${fmtShape(dst.shape)}`);
  if (dst.dtype !== src.dtype) throw new DTypeError(`${op}: source dtype ${src.dtype} differs from destination dtype ${dst.dtype}`);
  if (dst.shape.some((d, i) => d > 1 && dst.strides[i] === 0))
    throw new ArgumentError(`${op}: destination ${fmtShape(dst.shape)} with strides ${fmtShape(dst.strides)} aliases elements (a stride of 0)`);
  if (ss === ds) throw new ArgumentError(`${op}: source and destination share one storage; copy the source first`);
  if (dst.size === 0) return;
  ds.hostRange = null;
  ds.rt.run(assignLaunch(dst.dtype, dst.shape, src, dst), [ss.buffer, ds.buffer]);
}

function checkState(op: string, param: Tensor, grad: Tensor, state: readonly Tensor[]): void {
  for (const [what, t] of [['parameter', param], ['gradient', grad], ...state.map((s) => ['state', s] as const)] as const) {
    t.storage(op);
    if (t.dtype !== 'f32') throw new DTypeError(`${op}: ${what} must be f32, got ${t.dtype} ${fmtShape(t.shape)}`);
    if (!sameShape(t.shape, param.shape)) throw new ShapeError(`${op}: ${what} ${fmtShape(t.shape)} does not match parameter ${fmtShape(param.shape)}`);
    if (!t.isContiguous) throw new ArgumentError(`${op}: ${what} ${fmtShape(t.shape)} must be contiguous`);
  }
  for (const t of [param, ...state])
    if (t.offset !== 0) throw new ArgumentError(`${op}: parameters and optimizer state must start at element 0 of their buffer`);
}

export type AdamOptions = Omit<AdamStep, 'numel' | 'gradOffset'>;

/** One fused Adam/AdamW update of `param`, `m` and `v` in place. */
export function adamUpdate(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, options: AdamOptions): void {
  const op = 'adamUpdate';
  checkState(op, param, grad, [m, v]);
  if (param.size === 0) return;
  const st = param.storage(op);
  st.rt.run(adamLaunch({ ...options, numel: param.size, gradOffset: grad.offset }, st.rt.info.adapterClass), [
    grad.storage(op).buffer, st.buffer, m.storage(op).buffer, v.storage(op).buffer,
  ]);
}

export type SgdOptions = Omit<SgdStep, 'numel' | 'gradOffset'>;

/** One fused SGD update in place; `momentumBuffer` is required when `momentum > 0`. */
export function sgdUpdate(param: Tensor, grad: Tensor, momentumBuffer: Tensor | null, options: SgdOptions): void {
  const op = 'sgdUpdate';
  if (options.momentum !== 0 && !momentumBuffer) throw new ArgumentError(`${op}: momentum ${options.momentum} needs a momentum buffer`);
  checkState(op, param, grad, momentumBuffer ? [momentumBuffer] : []);
  if (param.size === 0) return;
  const st = param.storage(op);
  // Without momentum the kernel never reads its state binding, but WebGPU forbids binding one buffer to two
  // writable slots, so a one-element placeholder (a 16-byte buffer, as every pooled buffer) fills it.
  const placeholder = momentumBuffer ? null : empty([1], 'f32', op);
  try {
    const state = (momentumBuffer ?? placeholder!).storage(op).buffer;
    st.rt.run(sgdLaunch({ ...options, numel: param.size, gradOffset: grad.offset }, st.rt.info.adapterClass), [grad.storage(op).buffer, st.buffer, state]);
  } finally {
    placeholder?.dispose();
  }
}
