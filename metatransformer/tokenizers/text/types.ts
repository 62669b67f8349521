/**
 * The contract every text tokenizer of the Meta-Transformer text modality fulfils, so the text
 * embedding can be fed by CLIP's byte-level BPE or by BERT's WordPiece interchangeably.
 *
 * Conventions shared by all implementations:
 * - `encode` returns the content ids only, without start/end (CLS/SEP) markers.
 * - `encodeBatch` wraps each text as [start, ...content, end], pads every row to `contextLength`
 *   with the tokenizer's padding id and returns row-major [batchSize, contextLength] buffers.
 * - With `truncate` (the default) a too-long row keeps its first `contextLength - 1` ids and then the
 *   end marker, as CLIP's `tokenize(..., truncate=True)` does; without it, a too-long text throws an
 *   `ArgumentError` naming its index and token count.
 */

export interface EncodeBatchOptions {
  /** Row length including the start and end markers (CLIP: 77, BERT: up to 512). At least 2. */
  contextLength?: number;
  /** Cut too-long texts (keeping the end marker) instead of throwing. Default true. */
  truncate?: boolean;
}

export interface DecodeOptions {
  /** Leave out start/end/padding markers. Default false, so decoding shows exactly what the ids say. */
  skipSpecialTokens?: boolean;
}

/** Token ids of a batch of texts, laid out row-major as [batchSize, contextLength]. */
export interface TokenBatch {
  readonly batchSize: number;
  readonly contextLength: number;
  /** Token ids; positions past a row's length hold the padding id. */
  readonly ids: Int32Array;
  /** 1 where `ids` holds a real token (markers included), 0 on padding. */
  readonly attentionMask: Uint8Array;
  /** Ids per row including both markers, after truncation; the end marker sits at `lengths[i] - 1`. */
  readonly lengths: Int32Array;
}

export interface TextTokenizer {
  /** One more than the largest id this tokenizer can produce. */
  readonly vocabSize: number;
  encode(text: string): number[];
  decode(ids: ArrayLike<number>, opts?: DecodeOptions): string;
  encodeBatch(texts: readonly string[], opts?: EncodeBatchOptions): TokenBatch;
}
