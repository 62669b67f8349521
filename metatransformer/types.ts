/**
 * The contracts between Meta-Transformer's parts: a modality's Data-to-Sequence tokenizer turns a batch of
 * host inputs into tokens [B, T, D] for the shared encoder; a head turns encoder tokens into task outputs.
 * `MetaTransformer` (model.ts) composes {tokenizer, frozen encoder, head} for one modality.
 */
import type { Tensor } from '../engine/tensor.js';
import { Module } from '../nn/module.js';
import type { Modality } from './data/types.js';

export type { Modality };

export interface TokenBatch {
  /** [B, T, D] tokens, ready for the encoder (positions and any CLS/graph token included). */
  tokens: Tensor;
  /**
   * Optional key-padding mask [B, T] (u32, 1 = padding, ignored by attention and pooling), for
   * variable-length inputs (text, graphs, tables with missing cells dropped).
   */
  paddingMask?: Tensor;
}

/** A modality's Data-to-Sequence tokenizer: a Module with its own trainable parameters. */
export abstract class Tokenizer<X> extends Module {
  abstract readonly modality: Modality;
  /** Token width D (must equal the encoder's width). */
  abstract readonly dim: number;
  /** Whether token 0 is a CLS token (heads may pool on it). */
  abstract readonly hasClsToken: boolean;
  /** Tokenises a batch of host inputs. Differentiable with respect to the tokenizer's parameters. */
  abstract forward(batch: readonly X[]): TokenBatch;
}

export type Pooling = 'cls' | 'mean' | 'max' | 'cls+max+mean';

/** Maps encoder tokens [B, T, D] (and the padding mask) to task outputs. */
export abstract class Head extends Module {
  abstract forward(tokens: Tensor, paddingMask?: Tensor): Tensor;
}
