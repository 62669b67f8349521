/**
 * Small pieces shared by the signal tokenizers (audio, point cloud, time series, tabular, graph):
 * learned tensors initialised like the official code (trunc_normal_(std=0.02)) and checks of options
 * and batches. (CLS prepending and PatchEmbed live in patch.ts, shared with the vision tokenizers.)
 */
import { ArgumentError } from '../../engine/errors.js';
import type { Generator } from '../../engine/random.js';
import type { Tensor } from '../../engine/tensor.js';
import { init } from '../../nn/index.js';

/** A trainable tensor drawn from N(0, std) truncated to +-2 (timm's trunc_normal_ for tokens and positions). */
export function learnedTensor(shape: readonly number[], generator?: Generator, std = 0.02): Tensor {
  const t = init.truncNormal(shape, { std, generator });
  t.requiresGrad = true;
  return t;
}

/** Throws an ArgumentError unless `value` is an integer >= `min`. */
export function requireInt(op: string, name: string, value: number, min = 1): void {
  if (!Number.isInteger(value) || value < min) throw new ArgumentError(`${op}: ${name} must be an integer >= ${min}, got ${value}`);
}

/** Throws an ArgumentError for an empty batch (every tokenizer needs at least one input). */
export function requireBatch(op: string, batch: readonly unknown[]): void {
  if (batch.length === 0) throw new ArgumentError(`${op}: the batch is empty`);
}
