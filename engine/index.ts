/** The engine: device, tensors, memory, and the raw (non-differentiable) ops. */
export * from './errors.js';
export * from './dtype.js';
export { init, deviceInfo, gpuDevice, hasF16, sync, profile, runtime, type InitOptions, type DeviceInfo, type AdapterClass } from './runtime.js';
export type { KernelTime } from './profiler.js';
export { Tensor, tidy, keep, memoryStats, emptyCache, empty, type MemoryStats, type NestedArray } from './tensor.js';
export { manualSeed, Generator, globalGenerator } from './random.js';
export {
  tuneMatmul, matmulTuning, setMatmulTuning,
  type MatmulKernelSpec, type MatmulTuning, type MatmulTuningRow, type MatmulTuningReport, type MatmulTiming, type TuneMatmulOptions,
} from './tuning/matmul.js';
export {
  tuneAttention, attentionTuning, setAttentionTuning,
  type AttentionKernelSpec, type AttentionTuning, type AttentionTuningRow, type AttentionTuningReport, type AttentionTiming, type TuneAttentionOptions,
} from './tuning/attention.js';
export * as ops from './ops/index.js';
