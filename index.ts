/// <reference types="@webgpu/types" preserve="true" />
// The public types name WebGPU's (GPUDevice, GPUBuffer, ...); this line makes a TypeScript user's compiler
// load their declarations (npm @webgpu/types, which the Node binding `webgpu` brings along).
/**
 * omnitensor: tensors, autograd and nn on WebGPU, in Node (Dawn) and in browsers.
 *
 *   import * as ot from 'omnitensor';
 *   await ot.init();
 *   const w = ot.randn([3, 1]); w.requiresGrad = true;
 *   const loss = ot.tensor([[1, 2, 3]]).matmul(w).square().sum();
 *   loss.backward();                     // w.grad
 *
 * The top-level ops are the differentiable ones (autograd/); `rawOps` (the same namespace as `ops`) holds
 * the engine's ops without gradient tracking.
 */
import './autograd/tensor-methods.js';

export * from './engine/index.js';
export { ops as rawOps } from './engine/index.js';
export * from './autograd/index.js';
export * as nn from './nn/index.js';
