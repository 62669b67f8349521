/**
 * Pieces shared by the grid tokenizers (image, video, hyperspectral): packing a batch of host grids into
 * one buffer, the convolutional patch embedding, and prepending a learned CLS token.
 */
import * as ag from '../../autograd/index.js';
import { ArgumentError, ShapeError, fmtShape } from '../../engine/errors.js';
import type { Tensor } from '../../engine/tensor.js';
import type { Conv2d, Conv3d } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import type { Grid } from '../data/types.js';

// Array.isArray narrows a readonly array to any[]; this keeps the element type.
const isArray = (v: readonly Grid[]): v is readonly Grid[] => Array.isArray(v);

/** A batch of equally shaped grids laid end to end: data is [batch, ...shape] row-major. */
export interface PackedGrids {
  shape: number[];
  data: Float32Array;
}

/**
 * Checks that every grid has rank `rank`, holds exactly as many values as its shape says, and shares the
 * first grid's shape; then concatenates them. `who` starts error messages.
 */
export function packGrids(who: string, batch: readonly Grid[], rank: number): PackedGrids {
  if (!isArray(batch) || batch.length === 0) throw new ArgumentError(`${who}: expected a non-empty array of inputs`);
  const shape = [...batch[0]!.shape];
  const per = shape.reduce((a, b) => a * b, 1);
  batch.forEach((g, i) => {
    if (g.shape.length !== rank || !g.shape.every((d) => Number.isSafeInteger(d) && d > 0))
      throw new ShapeError(`${who}: input ${i} has shape ${fmtShape(g.shape)}, expected ${rank} positive dims`);
    const count = g.shape.reduce((a, b) => a * b, 1);
    if (!(g.data instanceof Float32Array) || g.data.length !== count)
      throw new ShapeError(`${who}: input ${i} of shape ${fmtShape(g.shape)} needs a Float32Array of ${count} values, got ${g.data?.length}`);
    if (g.shape.some((d, k) => d !== shape[k]))
      throw new ShapeError(`${who}: input ${i} has shape ${fmtShape(g.shape)} but input 0 has ${fmtShape(shape)}; a batch shares one shape`);
  });
  const data = new Float32Array(batch.length * per);
  batch.forEach((g, i) => data.set(g.data, i * per));
  return { shape, data };
}

/**
 * A convolution with kernel = stride = patch size, named as timm's and VideoMAE's `PatchEmbed`, so its
 * weights load as `patch_embed.proj.weight` / `patch_embed.proj.bias`.
 */
export class PatchEmbed<Conv extends Conv2d | Conv3d> extends Module {
  constructor(readonly proj: Conv) {
    super();
  }
  /** [B, C, ...spatial] -> [B, N, D] with the patches in row-major order of the output grid. */
  forward(x: Tensor): Tensor {
    const y = this.proj.forward(x);
    const flat = ag.flatten(y, 2);
    const tokens = ag.transpose(flat, 1, 2);
    y.dispose();
    flat.dispose();
    return tokens;
  }
}

/** Frees a forward pass's intermediates (the tape keeps its own references to what backward needs). */
export function disposeAll(...tensors: Tensor[]): void {
  for (const t of tensors) t.dispose();
}

/** [B, N, D] -> [B, 1 + N, D] with `cls` ([1, 1, D]) in front of every row. */
export function prependClsToken(tokens: Tensor, cls: Tensor): Tensor {
  const [batch, , dim] = tokens.shape as [number, number, number];
  const expanded = ag.expand(cls, [batch, 1, dim]);
  const out = ag.concat([expanded, tokens], 1);
  expanded.dispose();
  return out;
}
