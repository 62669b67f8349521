/**
 * softmax / logSoftmax along any axis and their backward passes, on kernels/wgsl/softmax.wgsl. Inputs
 * may be any strided view (the kernel walks the axis with its stride: no transposes or copies); outputs
 * are contiguous. Rows of all -inf give NaN and a NaN makes its row NaN, as in torch.
 */
import { softmaxBackwardLaunch, softmaxLaunch } from '../../kernels/softmax.js';
import { isFloat } from '../dtype.js';
import { DTypeError, ShapeError, fmtShape } from '../errors.js';
import { normAxis, sameShape } from '../shape.js';
import { empty, expectTensor, type Tensor } from '../tensor.js';

function requireFloat(op: string, name: string, t: Tensor): void {
  if (!isFloat(t.dtype)) throw new DTypeError(`${op}: ${name} must be f32 or f16, got ${t.dtype} ${fmtShape(t.shape)}`);
}

/** A 0-d tensor is treated as one row of one element (torch does the same). */
function asRows(t: Tensor): { shape: readonly number[]; strides: readonly number[] } {
  return t.rank === 0 ? { shape: [1], strides: [1] } : { shape: t.shape, strides: t.strides };
}

function forward(op: string, x: Tensor, axis: number, log: boolean): Tensor {
  expectTensor(op, 'x', x);
  const st = x.storage(op);
  requireFloat(op, 'x', x);
  const { shape, strides } = asRows(x);
  const ax = normAxis(op, axis, shape.length);
  const y = empty(x.shape, x.dtype, op);
  if (x.size === 0) return y;
  const outStrides = asRows(y).strides;
  const spec = { dtype: x.dtype as 'f32' | 'f16', shape, axis: ax, log, adapterClass: st.rt.info.adapterClass };
  st.rt.run(softmaxLaunch(spec, { offset: x.offset, strides }, outStrides), [st.buffer, y.storage(op).buffer]);
  return y;
}

function backward(op: string, y: Tensor, dy: Tensor, axis: number, log: boolean): Tensor {
  expectTensor(op, 'y', y);
  expectTensor(op, 'dy', dy);
  const st = y.storage(op);
  dy.storage(op);
  requireFloat(op, 'y', y);
  if (dy.dtype !== y.dtype) throw new DTypeError(`${op}: dy is ${dy.dtype} but y is ${y.dtype}`);
  if (!sameShape(dy.shape, y.shape)) throw new ShapeError(`${op}: dy has shape ${fmtShape(dy.shape)}, y ${fmtShape(y.shape)}`);
  const ys = asRows(y);
  const ax = normAxis(op, axis, ys.shape.length);
  const dx = empty(y.shape, y.dtype, op);
  if (y.size === 0) return dx;
  const spec = { dtype: y.dtype as 'f32' | 'f16', shape: ys.shape, axis: ax, log, adapterClass: st.rt.info.adapterClass };
  const launch = softmaxBackwardLaunch(
    spec,
    { offset: y.offset, strides: ys.strides },
    { offset: dy.offset, strides: asRows(dy).strides },
    asRows(dx).strides,
  );
  st.rt.run(launch, [st.buffer, dy.storage(op).buffer, dx.storage(op).buffer]);
  return dx;
}

/** exp(x - max) / sum(exp(x - max)) along `axis` (default: the last). */
export function softmax(x: Tensor, axis = -1): Tensor {
  return forward('softmax', x, axis, false);
}

/** x - max - log(sum(exp(x - max))) along `axis` (default: the last). */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return forward('logSoftmax', x, axis, true);
}

/** Given y = softmax(x, axis) and dL/dy: dx = y * (dy - sum(dy * y)) along the axis. */
export function softmaxBackward(y: Tensor, dy: Tensor, axis = -1): Tensor {
  return backward('softmaxBackward', y, dy, axis, false);
}

/** Given y = logSoftmax(x, axis) and dL/dy: dx = dy - exp(y) * sum(dy) along the axis. */
export function logSoftmaxBackward(y: Tensor, dy: Tensor, axis = -1): Tensor {
  return backward('logSoftmaxBackward', y, dy, axis, true);
}
