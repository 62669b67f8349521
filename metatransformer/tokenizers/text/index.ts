/** Text tokenizers for the Meta-Transformer text modality: CLIP byte-level BPE, BERT WordPiece, a BPE trainer. */
export type { DecodeOptions, EncodeBatchOptions, TextTokenizer, TokenBatch } from './types.js';
export type { VocabSource } from './source.js';
export {
  CLIP_CONTEXT_LENGTH,
  CLIP_MERGE_COUNT,
  ClipBpeTokenizer,
  MAX_VOCAB_SIZE,
  MERGES_FILE_HEADER,
  formatMergesFile,
  parseMerges,
  type MergePair,
  type MergesFileOptions,
} from './clip-bpe.js';
export { BYTE_SYMBOLS_IN_VOCAB_ORDER, BYTE_TO_SYMBOL, END_OF_TEXT, END_OF_WORD, START_OF_TEXT, cleanClipText, clipPreTokenize, toByteSymbols } from './clip-text.js';
export { BERT_CONTEXT_LENGTH, WordPieceTokenizer, type WordPieceOptions } from './wordpiece.js';
export { TrainedBpe, trainBpe, type TrainBpeOptions } from './bpe-trainer.js';
