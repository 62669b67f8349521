/** Functional ops on tensors, without autograd (the autograd layer wraps these). */
import { registerContiguousCopy, type Tensor } from '../tensor.js';
import { binary, contiguousCopy, unary, type TensorLike } from './elementwise.js';

registerContiguousCopy(contiguousCopy);

export * from './creation.js';
export * from './elementwise.js';
export * from './views.js';
export * from './spectral.js';
export * from './pointcloud.js';
export * from './norm.js';
export * from './softmax.js';
export * from './conv.js';
export * from './reduce.js';
export * from './indexing.js';
export * from './inplace.js';
export * from './attention.js';
export * from './matmul.js';

export const add = (a: TensorLike, b: TensorLike): Tensor => binary('add', a, b);
export const sub = (a: TensorLike, b: TensorLike): Tensor => binary('sub', a, b);
export const mul = (a: TensorLike, b: TensorLike): Tensor => binary('mul', a, b);
export const div = (a: TensorLike, b: TensorLike): Tensor => binary('div', a, b);
export const pow = (a: TensorLike, b: TensorLike): Tensor => binary('pow', a, b);
export const maximum = (a: TensorLike, b: TensorLike): Tensor => binary('maximum', a, b);
export const minimum = (a: TensorLike, b: TensorLike): Tensor => binary('minimum', a, b);
export const eq = (a: TensorLike, b: TensorLike): Tensor => binary('eq', a, b);
export const ne = (a: TensorLike, b: TensorLike): Tensor => binary('ne', a, b);
export const lt = (a: TensorLike, b: TensorLike): Tensor => binary('lt', a, b);
export const le = (a: TensorLike, b: TensorLike): Tensor => binary('le', a, b);
export const gt = (a: TensorLike, b: TensorLike): Tensor => binary('gt', a, b);
export const ge = (a: TensorLike, b: TensorLike): Tensor => binary('ge', a, b);

export const neg = (x: Tensor): Tensor => unary('neg', x);
export const abs = (x: Tensor): Tensor => unary('abs', x);
export const exp = (x: Tensor): Tensor => unary('exp', x);
export const log = (x: Tensor): Tensor => unary('log', x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
export const rsqrt = (x: Tensor): Tensor => unary('rsqrt', x);
export const sin = (x: Tensor): Tensor => unary('sin', x);
export const cos = (x: Tensor): Tensor => unary('cos', x);
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
export const relu = (x: Tensor): Tensor => unary('relu', x);
export const gelu = (x: Tensor): Tensor => unary('gelu', x);
export const erf = (x: Tensor): Tensor => unary('erf', x);
export const sign = (x: Tensor): Tensor => unary('sign', x);
export const square = (x: Tensor): Tensor => unary('square', x);
export const reciprocal = (x: Tensor): Tensor => unary('reciprocal', x);
