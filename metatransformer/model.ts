/**
 * One modality's Meta-Transformer: Data-to-Sequence tokenizer -> shared encoder -> task head.
 *
 * Freezing the encoder (the paper's setting) turns off gradients for its weights only. The encoder still
 * runs with the graph recorded, because the tokenizer below it trains: autograd propagates through the
 * frozen blocks to their inputs, and since frozen weights are plain leaves without requiresGrad, the
 * backward rules skip their weight-gradient GEMMs and no gradient buffers are allocated for them.
 */
import { expectOptions } from '../engine/arguments.js';
import { ArgumentError } from '../engine/errors.js';
import type { Tensor } from '../engine/tensor.js';
import { Module } from '../nn/module.js';
import type { MetaTransformerEncoder } from './encoder.js';
import { PooledHead } from './heads.js';
import { Head, Tokenizer } from './types.js';

export interface MetaTransformerParts<X> {
  tokenizer: Tokenizer<X>;
  encoder: MetaTransformerEncoder;
  head: Head;
}

export class MetaTransformer<X> extends Module {
  tokenizer: Tokenizer<X>;
  encoder: MetaTransformerEncoder;
  head: Head;

  constructor(parts: MetaTransformerParts<X>) {
    super();
    expectOptions('MetaTransformer', parts, ['tokenizer', 'encoder', 'head'], 'parts');
    const { tokenizer, encoder, head } = parts;
    if (tokenizer.dim !== encoder.dim)
      throw new ArgumentError(`MetaTransformer: the ${tokenizer.modality} tokenizer makes ${tokenizer.dim}-wide tokens, the encoder takes ${encoder.dim}`);
    if (head instanceof PooledHead && head.needsClsToken && !tokenizer.hasClsToken)
      throw new ArgumentError(`MetaTransformer: the head pools the CLS token, but the ${tokenizer.modality} tokenizer makes none`);
    this.tokenizer = tokenizer;
    this.encoder = encoder;
    this.head = head;
  }

  /** batch -> head outputs (logits [B, C], forecasts [B, horizon, channels], ...). */
  forward(batch: readonly X[]): Tensor {
    if (batch.length === 0) throw new ArgumentError('MetaTransformer.forward: empty batch');
    // No tidy scope: tensors the graph saves for backward() are made here and must outlive this call.
    const { tokens, paddingMask } = this.tokenizer.forward(batch);
    try {
      const encoded = this.encoder.forward(tokens, paddingMask);
      try {
        return this.head.forward(encoded, paddingMask);
      } finally {
        encoded.dispose();
      }
    } finally {
      tokens.dispose();
      paddingMask?.dispose();
    }
  }

  /**
   * Frees the tokenizer and head and leaves the encoder alive: one frozen encoder usually serves many
   * models (every modality, both sides of a comparison), and its owner disposes it once.
   */
  disposeParts(): void {
    this.tokenizer.dispose();
    this.head.dispose();
  }

  /** The parameters that train: everything with requiresGrad (the encoder's are excluded once frozen). */
  trainableParameters(): Tensor[] {
    return this.parameters().filter((p) => p.requiresGrad);
  }

  /** Freezes the encoder (see MetaTransformerEncoder.freeze); it stays in eval mode when the model trains. */
  freezeEncoder(): this {
    this.encoder.freeze();
    return this;
  }

  override train(on = true): this {
    super.train(on);
    if (this.encoder.frozen) this.encoder.eval();
    return this;
  }
}
