/**
 * Fluent tensor methods (`x.add(y).relu().sum()`, `loss.backward()`), added to the engine's Tensor class by
 * module augmentation so the engine stays autograd-agnostic. Each method is the differentiable op of the
 * same name with the tensor as first argument. Import this module once for its side effect (the package
 * root does). `view` is not redefined: the engine's `Tensor.view(shape, strides)` is a raw storage view;
 * use `reshape`.
 */
import type { DType } from '../engine/dtype.js';
import type { Axes, ReduceOptions, VarianceOptions } from '../engine/ops/reduce.js';
import type { SliceSpec } from '../engine/ops/views.js';
import type { Shape } from '../engine/shape.js';
import { Tensor } from '../engine/tensor.js';
import * as ops from './ops.js';
import * as matmulRules from './rules/matmul.js';
import * as reduce from './rules/reduce.js';
import * as softmax from './rules/softmax.js';
import { backward, detach } from './tape.js';
import type { TensorLike } from './ops.js';

declare module '../engine/tensor.js' {
  interface Tensor {
    add(b: TensorLike): Tensor;
    sub(b: TensorLike): Tensor;
    mul(b: TensorLike): Tensor;
    div(b: TensorLike): Tensor;
    pow(b: TensorLike): Tensor;
    maximum(b: TensorLike): Tensor;
    minimum(b: TensorLike): Tensor;
    neg(): Tensor;
    abs(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    rsqrt(): Tensor;
    sin(): Tensor;
    cos(): Tensor;
    tanh(): Tensor;
    sigmoid(): Tensor;
    relu(): Tensor;
    gelu(): Tensor;
    square(): Tensor;
    reciprocal(): Tensor;
    clamp(min?: number, max?: number): Tensor;
    cast(dtype: DType): Tensor;
    contiguous(): Tensor;
    reshape(shape: Shape): Tensor;
    flatten(start?: number, end?: number): Tensor;
    squeeze(dim?: number): Tensor;
    unsqueeze(dim: number): Tensor;
    permute(dims: readonly number[]): Tensor;
    transpose(dim0?: number, dim1?: number): Tensor;
    expand(shape: Shape): Tensor;
    slice(specs: readonly (SliceSpec | number | null)[]): Tensor;
    narrow(dim: number, start: number, length: number): Tensor;
    matmul(b: Tensor): Tensor;
    sum(axes?: Axes, options?: ReduceOptions): Tensor;
    mean(axes?: Axes, options?: ReduceOptions): Tensor;
    max(axes?: Axes, options?: ReduceOptions): Tensor;
    min(axes?: Axes, options?: ReduceOptions): Tensor;
    variance(axes?: Axes, options?: VarianceOptions): Tensor;
    std(axes?: Axes, options?: VarianceOptions): Tensor;
    logsumexp(axes?: Axes, options?: ReduceOptions): Tensor;
    softmax(axis?: number): Tensor;
    logSoftmax(axis?: number): Tensor;
    /** Back-propagates from this tensor (see autograd `backward`). */
    backward(grad?: Tensor): void;
    /** A view cut from the graph. */
    detach(): Tensor;
  }
}

/** Method name -> differentiable op taking the tensor first. */
const METHODS: Record<string, (x: Tensor, ...args: never[]) => unknown> = {
  add: ops.add, sub: ops.sub, mul: ops.mul, div: ops.div, pow: ops.pow, maximum: ops.maximum, minimum: ops.minimum,
  neg: ops.neg, abs: ops.abs, exp: ops.exp, log: ops.log, sqrt: ops.sqrt, rsqrt: ops.rsqrt, sin: ops.sin, cos: ops.cos,
  tanh: ops.tanh, sigmoid: ops.sigmoid, relu: ops.relu, gelu: ops.gelu, square: ops.square, reciprocal: ops.reciprocal,
  clamp: ops.clamp, cast: ops.cast, contiguous: ops.contiguous, reshape: ops.reshape, flatten: ops.flatten,
  squeeze: ops.squeeze, unsqueeze: ops.unsqueeze, permute: ops.permute, transpose: ops.transpose, expand: ops.expand,
  slice: ops.slice, narrow: ops.narrow,
  matmul: matmulRules.matmul,
  sum: reduce.sum, mean: reduce.mean, max: reduce.max, min: reduce.min, variance: reduce.variance, std: reduce.std,
  logsumexp: reduce.logsumexp, softmax: softmax.softmax, logSoftmax: softmax.logSoftmax,
  backward, detach,
};

for (const [name, fn] of Object.entries(METHODS)) {
  Object.defineProperty(Tensor.prototype, name, {
    value(this: Tensor, ...args: never[]) {
      return fn(this, ...args);
    },
    writable: true,
    configurable: true,
    enumerable: false,
  });
}
