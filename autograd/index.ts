/**
 * Differentiable ops (same names and signatures as the engine's raw ops) and the tape that runs them
 * backwards. Ops without a derivative (comparisons, argmax, creation) pass through from the engine.
 */
export { backward, detach, enableGrad, isGradEnabled, noGrad, zeroGrad, type BackwardRule } from './tape.js';
export * from './ops.js';
export * from './rules/reduce.js';
export * from './rules/softmax.js';
export * from './rules/norm.js';
export * from './rules/attention.js';
export * from './rules/conv.js';
export * from './rules/matmul.js';
export * from './rules/indexing.js';
export {
  arange, argmax, argmin, eq, eye, fromFlat, full, ge, gt, le, linspace, lt, ne, ones, rand, randint, randn,
  oneHot, scalarLike, sign, tensor, zeros,
  type CreateOptions, type HostData, type RandomOptions, type SliceSpec, type Axes, type ReduceOptions,
  type VarianceOptions, type AttentionOptions, type MatmulOptions, type LinearOptions, type LinearWithPre, type IndexLike, type PadOptions, type ConvOptions, type LayerNormOptions, type LayerNormResult,
} from '../engine/ops/index.js';
