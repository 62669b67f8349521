/** Meta-Transformer: tokenizers, the unified encoder, heads and pre-training. */
export {};
