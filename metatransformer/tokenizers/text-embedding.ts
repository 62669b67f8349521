/**
 * The text tokenizer's learned half, as CLIP's text tower begins: token ids (from CLIP's byte-level BPE
 * or BERT's WordPiece, tokenizers/text) look up `token_embedding` and add the learned
 * `positional_embedding` [contextLength, D]. Names match CLIP's state dict.
 *
 * CLS: token 0 is the start marker every row begins with (CLIP's <|startoftext|>, BERT's [CLS]), so
 * `hasClsToken` is true and CLS pooling reads it. (CLIP itself pools on the end marker under a causal mask;
 * Meta-Transformer's encoder attends both ways, so the first token sees the whole text.)
 * Padding: positions after a row's end marker are flagged in `paddingMask` (1 = pad), and the encoder
 * and pooling ignore them.
 */
import * as ag from '../../autograd/index.js';
import { expectOptions, optionKeys } from '../../engine/arguments.js';
import { ArgumentError, ShapeError, fmtShape } from '../../engine/errors.js';
import type { Generator } from '../../engine/random.js';
import type { Tensor } from '../../engine/tensor.js';
import { normal } from '../../nn/init.js';
import { Embedding } from '../../nn/layers.js';
import type { TextTokenizer } from './text/types.js';
import { Tokenizer, type TokenBatch } from '../types.js';
import { disposeAll } from './patch.js';

/** Already tokenised texts, row-major [rows, contextLength] (the text tokenizers' encodeBatch result fits). */
export interface TokenIdRows {
  readonly ids: Int32Array;
  /** 1 on real tokens (markers included), 0 on padding; same layout as `ids`. */
  readonly attentionMask: Uint8Array;
  /** Row length. */
  readonly contextLength: number;
}

/** 'context': every row has contextLength positions (CLIP's fixed 77); 'longest': rows end after the longest text. */
export type TextPadding = 'context' | 'longest';

export interface TextEmbeddingOptions {
  dim: number;
  /** Rows of token_embedding. Default: the tokenizer's vocabSize (required without a tokenizer). */
  vocabSize?: number;
  /** Rows of positional_embedding, the longest sequence. Default 77 (CLIP). */
  contextLength?: number;
  /** Turns strings into ids; without it, forward takes only TokenIdRows. */
  tokenizer?: TextTokenizer;
  /** Default 'context'. */
  pad?: TextPadding;
  generator?: Generator;
}

const TEXT_EMBEDDING_OPTIONS = optionKeys<TextEmbeddingOptions>({
  dim: true, vocabSize: true, contextLength: true, tokenizer: true, pad: true, generator: true,
});

export class TextEmbedding extends Tokenizer<string> {
  readonly modality = 'text' as const;
  readonly dim: number;
  readonly hasClsToken = true;
  readonly vocabSize: number;
  readonly contextLength: number;
  readonly pad: TextPadding;
  readonly tokenizer: TextTokenizer | undefined;
  token_embedding: Embedding;
  positional_embedding: Tensor;

  constructor(options: TextEmbeddingOptions) {
    super();
    expectOptions('TextEmbedding', options, TEXT_EMBEDDING_OPTIONS);
    const { dim, vocabSize, contextLength = 77, tokenizer, pad = 'context', generator } = options;
    const who = 'TextEmbedding';
    const vocab = vocabSize ?? tokenizer?.vocabSize;
    if (vocab === undefined) throw new ArgumentError(`${who}: give vocabSize or a tokenizer`);
    for (const [name, v] of [['dim', dim], ['vocabSize', vocab], ['contextLength', contextLength]] as const)
      if (!Number.isSafeInteger(v) || v < 1) throw new ArgumentError(`${who}: ${name} must be a positive integer, got ${v}`);
    if (tokenizer && tokenizer.vocabSize > vocab)
      throw new ArgumentError(`${who}: vocabSize ${vocab} is smaller than the tokenizer's ${tokenizer.vocabSize}`);
    if (contextLength < 2) throw new ArgumentError(`${who}: contextLength ${contextLength} leaves no room for the start and end markers`);
    if (pad !== 'context' && pad !== 'longest') throw new ArgumentError(`${who}: pad must be 'context' or 'longest', got '${String(pad)}'`);
    this.dim = dim;
    this.vocabSize = vocab;
    this.contextLength = contextLength;
    this.pad = pad;
    this.tokenizer = tokenizer;
    this.token_embedding = new Embedding(vocab, dim, { generator });
    // CLIP's initialisation: N(0, 0.02) for tokens and N(0, 0.01) for positions (nn.Embedding's N(0, 1) is far off the encoder's scale).
    this.token_embedding.weight.dispose();
    this.token_embedding.weight = normal([vocab, dim], 0, 0.02, { generator });
    this.token_embedding.weight.requiresGrad = true;
    this.positional_embedding = normal([contextLength, dim], 0, 0.01, { generator });
    this.positional_embedding.requiresGrad = true;
  }

  /** Texts (tokenised with the tokenizer, truncated to contextLength) or pre-tokenised rows -> [B, L, D] + mask. */
  forward(batch: readonly string[] | TokenIdRows): TokenBatch {
    const rows = Array.isArray(batch) ? this.encode(batch as readonly string[]) : (batch as TokenIdRows);
    const { ids, mask, count, length } = this.checkRows(rows);
    const idTensor = ag.fromFlat(ids, [count, length], 'i32', 'TextEmbedding');
    const embedded = this.token_embedding.forward(idTensor);
    const positions = ag.narrow(this.positional_embedding, 0, 0, length);
    const tokens = ag.add(embedded, positions);
    disposeAll(idTensor, embedded, positions);
    const padding = Uint32Array.from(mask, (m) => (m ? 0 : 1));
    return { tokens, paddingMask: ag.fromFlat(padding, [count, length], 'u32', 'TextEmbedding') };
  }

  private encode(texts: readonly string[]): TokenIdRows {
    if (!this.tokenizer) throw new ArgumentError('TextEmbedding: no tokenizer was given; pass token ids ({ ids, attentionMask, contextLength }) instead of strings');
    if (texts.length === 0) throw new ArgumentError('TextEmbedding: expected a non-empty batch of texts');
    return this.tokenizer.encodeBatch(texts, { contextLength: this.contextLength, truncate: true });
  }

  /** Validates rows and applies the padding policy: ids and mask [count, length]. */
  private checkRows({ ids, attentionMask, contextLength: rowLength }: TokenIdRows): { ids: Int32Array; mask: Uint8Array; count: number; length: number } {
    const who = 'TextEmbedding';
    if (!(ids instanceof Int32Array) || !(attentionMask instanceof Uint8Array))
      throw new ArgumentError(`${who}: token rows need ids as an Int32Array and attentionMask as a Uint8Array`);
    if (!Number.isSafeInteger(rowLength) || rowLength < 1 || ids.length === 0 || ids.length % rowLength)
      throw new ShapeError(`${who}: ${ids.length} ids do not form non-empty rows of contextLength ${rowLength}`);
    if (attentionMask.length !== ids.length) throw new ShapeError(`${who}: attentionMask has ${attentionMask.length} entries for ${ids.length} ids`);
    const count = ids.length / rowLength;
    if (rowLength > this.contextLength)
      throw new ShapeError(`${who}: rows [${count},${rowLength}] are longer than positional_embedding ${fmtShape(this.positional_embedding.shape)} allows`);
    ids.forEach((id, i) => {
      if (!(id >= 0 && id < this.vocabSize))
        throw new ArgumentError(`${who}: id ${id} at row ${Math.floor(i / rowLength)}, position ${i % rowLength} is outside the vocabulary [0, ${this.vocabSize})`);
    });
    if (this.pad === 'context') return { ids, mask: attentionMask, count, length: rowLength };
    let length = 1;
    attentionMask.forEach((m, i) => {
      if (m) length = Math.max(length, (i % rowLength) + 1);
    });
    const keep = (src: Int32Array | Uint8Array, out: Int32Array | Uint8Array): void => {
      for (let r = 0; r < count; r++) out.set(src.subarray(r * rowLength, r * rowLength + length), r * length);
    };
    const trimmedIds = new Int32Array(count * length);
    const trimmedMask = new Uint8Array(count * length);
    keep(ids, trimmedIds);
    keep(attentionMask, trimmedMask);
    return { ids: trimmedIds, mask: trimmedMask, count, length };
  }
}
