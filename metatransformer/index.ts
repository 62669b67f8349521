/// <reference types="@webgpu/types" preserve="true" />
// The public types name WebGPU's (GPUDevice, GPUBuffer, ...); this line makes a TypeScript user's compiler
// load their declarations (npm @webgpu/types, which the Node binding `webgpu` brings along).
/** Meta-Transformer: tokenizers, the unified encoder, heads, training loops and the datasets they use. */
// Contracts. TokenBatch is named explicitly: the text tokenizers export another TokenBatch (ids and
// attention mask on the host), available here as TextTokenBatch.
export { Head, Tokenizer, type Modality, type Pooling, type TokenBatch } from './types.js';

// Model core.
export * from './encoder.js';
export * from './heads.js';
export * from './model.js';
export * from './train.js';

// Datasets and file readers.
export * from './data/types.js';
export * from './data/real.js';
export * from './data/generated.js';
export * from './io/index.js';

// ---- Modality tokenizers: one export line per tokenizer module; owners append theirs here. ----
export * from './tokenizers/text/index.js';
export type { TokenBatch as TextTokenBatch } from './tokenizers/text/index.js';
export * from './tokenizers/laplacian.js';
export * from './tokenizers/patch.js';
export * from './tokenizers/text-embedding.js';
export * from './tokenizers/image.js';
export * from './tokenizers/video.js';
export * from './tokenizers/hyperspectral.js';
export * from './tokenizers/audio.js';
export * from './tokenizers/pointcloud.js';
export * from './tokenizers/timeseries.js';
export * from './tokenizers/tabular.js';
export * from './tokenizers/graph.js';
// ---- end of modality tokenizers ----

// Contrastive (CLIP-style) pre-training of the shared encoder.
export * from './pretrain/index.js';
