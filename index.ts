/**
 * omnitensor: tensors, autograd and nn on WebGPU, in Node (Dawn) and in browsers.
 *
 *   import * as ot from 'omnitensor';
 *   await ot.init();
 *   const y = ot.ops.add(ot.ops.tensor([1, 2, 3]), 1);
 *   console.log(await y.data());
 */
export * from './engine/index.js';
