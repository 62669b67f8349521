/**
 * BERT's WordPiece tokenizer for a `vocab.txt` (one token per line, id = line index from 0), following
 * Hugging Face's `BertTokenizer` (BasicTokenizer, then WordpieceTokenizer):
 *
 * 1. Clean: drop U+0000, U+FFFD and control characters (Unicode category C*, but not tab, CR or LF);
 *    turn whitespace (space, tab, CR, LF and category Zs) into spaces.
 * 2. Put spaces around CJK ideographs (the CJK Unified Ideographs blocks and extensions A-E plus the
 *    compatibility ideographs), so each becomes its own word.
 * 3. NFC-normalize (Hugging Face does; Google's original BERT code does not) and split on whitespace
 *    (Python's `str.split`, which also splits at U+2028/U+2029).
 * 4. Per word: if lower-casing, lower-case; if stripping accents (default: when lower-casing),
 *    NFD-decompose and drop combining marks (category Mn). Then split off every punctuation character:
 *    category P*, plus the ASCII symbols $ + < = > ^ ` | ~ that BERT also counts.
 * 5. WordPiece per word: longer than `maxInputCharsPerWord` (100) code points -> `[UNK]`. Otherwise
 *    repeatedly take the longest vocabulary entry that prefixes the rest of the word, written with a
 *    `##` prefix after the first piece; if some rest has no such entry, the whole word is `[UNK]`.
 *
 * Deviations: special-token strings typed in the text (e.g. '[SEP]') are tokenized like any text rather
 * than kept whole; `decode` joins pieces with spaces and glues `##` pieces on, but does not apply
 * Hugging Face's `clean_up_tokenization_spaces` (so 'hello , world' keeps its space before ',').
 * `encode` returns content ids only; `encodeBatch` adds `[CLS]`/`[SEP]` and pads with `[PAD]`.
 */
import { ArgumentError, FormatError } from '../../../engine/errors.js';
import { expectBytesSource } from '../../../engine/platform.js';
import { packBatch } from './batch.js';
import { readVocabText, type VocabSource } from './source.js';
import type { DecodeOptions, EncodeBatchOptions, TextTokenizer, TokenBatch } from './types.js';

export interface WordPieceOptions {
  /** Lower-case the text (uncased BERT models). Default true. */
  lowerCase?: boolean;
  /** Remove accents (NFD + drop combining marks). Default: same as `lowerCase`. */
  stripAccents?: boolean;
  /** Words longer than this many code points become `[UNK]`. Default 100. */
  maxInputCharsPerWord?: number;
  unkToken?: string;
  clsToken?: string;
  sepToken?: string;
  padToken?: string;
}

/** BERT's maximum sequence length, the default `contextLength` of `encodeBatch`. */
export const BERT_CONTEXT_LENGTH = 512;
const CONTINUATION = '##';

const CONTROL = /\p{C}/u;
const SPACE_SEPARATOR = /\p{Zs}/u;
const COMBINING_MARK = /\p{Mn}/gu;
const UNICODE_PUNCTUATION = /\p{P}/u;
/** Python `str.split()` separators that survive cleaning: plain spaces and U+2028/U+2029. */
const WORD_SEPARATORS = /[ \u2028\u2029]+/;

function isBertWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || SPACE_SEPARATOR.test(ch);
}

function isCjkIdeograph(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

function isBertPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return UNICODE_PUNCTUATION.test(ch);
}

export class WordPieceTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  private readonly lowerCase: boolean;
  private readonly stripAccents: boolean;
  private readonly maxInputCharsPerWord: number;
  private readonly tokenToIdMap: Map<string, number>;
  private readonly tokens: readonly string[];

  /** A tokenizer over `tokens`, where a token's id is its index. */
  constructor(tokens: readonly string[], opts: WordPieceOptions = {}) {
    this.tokens = tokens;
    this.vocabSize = tokens.length;
    this.tokenToIdMap = new Map();
    tokens.forEach((token, id) => {
      const earlier = this.tokenToIdMap.get(token);
      if (earlier !== undefined)
        throw new FormatError(`vocab.txt, line ${id + 1}: token '${token}' repeats line ${earlier + 1}`);
      this.tokenToIdMap.set(token, id);
    });
    this.lowerCase = opts.lowerCase ?? true;
    this.stripAccents = opts.stripAccents ?? this.lowerCase;
    this.maxInputCharsPerWord = opts.maxInputCharsPerWord ?? 100;
    if (!Number.isSafeInteger(this.maxInputCharsPerWord) || this.maxInputCharsPerWord < 1)
      throw new ArgumentError(`WordPieceTokenizer: maxInputCharsPerWord must be a positive integer, got ${this.maxInputCharsPerWord}`);
    const need = (token: string): number => {
      const id = this.tokenToIdMap.get(token);
      if (id === undefined) throw new FormatError(`vocab.txt: special token '${token}' is missing`);
      return id;
    };
    this.unkId = need(opts.unkToken ?? '[UNK]');
    this.clsId = need(opts.clsToken ?? '[CLS]');
    this.sepId = need(opts.sepToken ?? '[SEP]');
    this.padId = need(opts.padToken ?? '[PAD]');
  }

  /**
   * Loads a BERT `vocab.txt` (plain or gzip). Lines end in LF or CRLF; a final line end is optional;
   * empty lines and repeated tokens are errors, since either would leave an id ambiguous.
   */
  static async fromVocabFile(src: VocabSource, opts: WordPieceOptions = {}): Promise<WordPieceTokenizer> {
    expectBytesSource('WordPieceTokenizer.fromVocabFile', src);
    const lines = (await readVocabText(src, 'vocab.txt')).split('\n').map((l) => l.replace(/\r$/, ''));
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    lines.forEach((line, i) => {
      if (line === '') throw new FormatError(`vocab.txt, line ${i + 1}: empty token`);
    });
    return new WordPieceTokenizer(lines, opts);
  }

  tokenToId(token: string): number | undefined {
    return this.tokenToIdMap.get(token);
  }

  idToToken(id: number): string | undefined {
    return Number.isInteger(id) && id >= 0 && id < this.tokens.length ? this.tokens[id] : undefined;
  }

  /** The basic tokenizer's words and punctuation marks (steps 1-4 of the file comment). */
  basicTokenize(text: string): string[] {
    if (typeof text !== 'string') throw new ArgumentError(`WordPieceTokenizer: expected a string, got ${typeof text}`);
    let spaced = '';
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (cp === 0 || cp === 0xfffd || (CONTROL.test(ch) && ch !== '\t' && ch !== '\n' && ch !== '\r')) continue;
      if (isBertWhitespace(ch)) spaced += ' ';
      else if (isCjkIdeograph(cp)) spaced += ` ${ch} `;
      else spaced += ch;
    }
    const out: string[] = [];
    for (let word of spaced.normalize('NFC').split(WORD_SEPARATORS)) {
      if (word === '') continue;
      if (this.lowerCase) word = word.toLowerCase();
      if (this.stripAccents) word = word.normalize('NFD').replace(COMBINING_MARK, '');
      let current = '';
      for (const ch of word) {
        if (isBertPunctuation(ch)) {
          if (current !== '') out.push(current);
          out.push(ch);
          current = '';
        } else current += ch;
      }
      if (current !== '') out.push(current);
    }
    return out;
  }

  /** Greedy longest-match-first pieces of one word, or `[UNK]`'s id. */
  private wordPieces(word: string, into: number[]): void {
    const chars = Array.from(word);
    if (chars.length > this.maxInputCharsPerWord) {
      into.push(this.unkId);
      return;
    }
    const pieces: number[] = [];
    let start = 0;
    while (start < chars.length) {
      let found = -1;
      let end = chars.length;
      for (; end > start; end--) {
        const piece = (start > 0 ? CONTINUATION : '') + chars.slice(start, end).join('');
        const id = this.tokenToIdMap.get(piece);
        if (id !== undefined) {
          found = id;
          break;
        }
      }
      if (found < 0) {
        into.push(this.unkId);
        return;
      }
      pieces.push(found);
      start = end;
    }
    for (const id of pieces) into.push(id);
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    for (const word of this.basicTokenize(text)) this.wordPieces(word, ids);
    return ids;
  }

  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    const words: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const token = this.idToToken(id);
      if (token === undefined)
        throw new ArgumentError(`WordPieceTokenizer.decode: id ${id} at position ${i} is not in the vocabulary (size ${this.vocabSize})`);
      if (opts.skipSpecialTokens && (id === this.clsId || id === this.sepId || id === this.padId)) continue;
      if (token.startsWith(CONTINUATION) && words.length > 0) words[words.length - 1] += token.slice(CONTINUATION.length);
      else words.push(token);
    }
    return words.join(' ');
  }

  encodeBatch(texts: readonly string[], opts: EncodeBatchOptions = {}): TokenBatch {
    const markers = { start: this.clsId, end: this.sepId, pad: this.padId };
    return packBatch('WordPieceTokenizer.encodeBatch', texts, (t) => this.encode(t), markers, BERT_CONTEXT_LENGTH, opts);
  }
}
