/**
 * OpenAI CLIP's byte-level BPE tokenizer (`clip/simple_tokenizer.py`), the text front end of
 * Meta-Transformer's text modality.
 *
 * Encoding a text: clean and lower-case it and split it into pre-tokens (see clip-text.ts); write each
 * pre-token as byte symbols, the last one carrying the end-of-word marker `</w>`; then apply merges:
 * repeatedly take the adjacent pair with the lowest merge rank (its line in the merges list) and join
 * every non-overlapping occurrence of it, left to right, until no adjacent pair has a rank. This is
 * exactly CLIP's loop, computed with a heap over a linked list so a pathological single "word" of n
 * bytes costs O(n log n) rather than O(n^2). Results are cached per pre-token (the cache is emptied
 * when it reaches `CACHE_LIMIT` entries, so memory stays bounded on endless distinct input).
 *
 * Vocabulary (CLIP layout, `fromMergesFile`): ids 0-255 are the byte symbols in CLIP's order, 256-511
 * the same symbols with `</w>`, then one id per merge (the two sides joined, in file order), then
 * `<|startoftext|>` and `<|endoftext|>`. CLIP itself keeps only merges 1..48894 of its 262,145-line
 * file (vocabulary 49,408); we take every merge in the file unless `maxMerges` is given, so pass
 * `{ maxMerges: CLIP_MERGE_COUNT }` with CLIP's own `bpe_simple_vocab_16e6.txt(.gz)`. If two merges
 * join to the same string, the later id wins when encoding (CLIP's dict semantics) and both decode.
 * `fromHuggingFace` instead takes the ids from `vocab.json` and the ranks from `merges.txt`.
 *
 * Decoding joins the bytes of the tokens, turns each `</w>` into a space and decodes UTF-8, replacing
 * broken sequences with U+FFFD, as CLIP does; unlike CLIP we drop the space of the final `</w>`, so
 * `decode(encode('a photo'))` is 'a photo'. Marker tokens, and any vocab.json token that is not spelt
 * in byte symbols, decode to their literal text. Spacing inside a text is not recoverable: CLIP
 * tokenizes 'a,b' and 'a , b' alike and both decode to 'a , b'.
 *
 * Batches (`encodeBatch`) follow CLIP's `clip.tokenize`: 77 ids per row, padded with id 0 (CLIP's
 * choice; Hugging Face pads with `<|endoftext|>`, which the attention mask makes equivalent).
 */
import { ArgumentError, FormatError } from '../../../engine/errors.js';
import { expectBytesSource } from '../../../engine/platform.js';
import { packBatch } from './batch.js';
import {
  BYTE_SYMBOLS_IN_VOCAB_ORDER,
  BYTE_TO_SYMBOL,
  END_OF_TEXT,
  END_OF_WORD,
  START_OF_TEXT,
  SYMBOL_TO_BYTE,
  cleanClipText,
  clipPreTokenize,
} from './clip-text.js';
import { BinaryHeap } from './heap.js';
import { describeVocabSource, readVocabText, type VocabSource } from './source.js';
import type { DecodeOptions, EncodeBatchOptions, TextTokenizer, TokenBatch } from './types.js';

/** One merge rule: the two adjacent symbols that become one. */
export type MergePair = readonly [left: string, right: string];

/** How many merges CLIP uses from its merges file: 49152 - 256 - 2, giving a 49,408-token vocabulary. */
export const CLIP_MERGE_COUNT = 49152 - 256 - 2;
/** CLIP's context length. */
export const CLIP_CONTEXT_LENGTH = 77;
/** The header line `toMergesFile` writes (the version line Hugging Face's merges.txt files carry). */
export const MERGES_FILE_HEADER = '#version: 0.2';

/**
 * Ids must stay below this (67,108,864): pair keys pack two ids as `left * MAX_VOCAB_SIZE + right`,
 * which must remain an exact double.
 */
export const MAX_VOCAB_SIZE = 2 ** 26;
const ID_LIMIT = MAX_VOCAB_SIZE;
/** Pre-tokens cached at most; the cache is cleared when full. */
const CACHE_LIMIT = 65536;
/** Longer pre-tokens are not cached: caching them saves little and holds large strings. */
const CACHE_MAX_KEY_LENGTH = 256;

const utf8 = new TextEncoder();
const utf8Lenient = new TextDecoder('utf-8');

export interface MergesFileOptions {
  /** Read at most this many merges (CLIP: `CLIP_MERGE_COUNT`). Default: all merges in the file. */
  maxMerges?: number;
}

/**
 * Parses a merges list: a version header line (anything containing '#version'; CLIP's reads
 * '"bpe_simple_vocab_16e6.txt#version: 0.2'), then one 'left right' pair per line. Trailing empty
 * lines are ignored; CRLF line ends are accepted. `name` prefixes error messages.
 */
export function parseMerges(text: string, name: string, opts: MergesFileOptions = {}): MergePair[] {
  const maxMerges = opts.maxMerges ?? Infinity;
  if (maxMerges !== Infinity && !(Number.isSafeInteger(maxMerges) && maxMerges >= 0))
    throw new ArgumentError(`parseMerges: maxMerges must be a non-negative integer, got ${maxMerges}`);
  const lines = text.split('\n');
  const header = lines[0]!.replace(/\r$/, '');
  if (!header.includes('#version'))
    throw new FormatError(`${name}, line 1: expected a version header such as '${MERGES_FILE_HEADER}', found '${header.slice(0, 60)}'`);
  let last = lines.length - 1;
  while (last > 0 && lines[last]!.replace(/\r$/, '') === '') last--;
  const merges: MergePair[] = [];
  for (let i = 1; i <= last && merges.length < maxMerges; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '')
      throw new FormatError(`${name}, line ${i + 1}: expected two symbols separated by one space, found '${line.slice(0, 60)}'`);
    merges.push([parts[0]!, parts[1]!]);
  }
  return merges;
}

/** Writes merges in the merges-file format `parseMerges` and CLIP read: header line, one pair per line. */
export function formatMergesFile(merges: readonly MergePair[]): string {
  let out = MERGES_FILE_HEADER + '\n';
  for (const [left, right] of merges) out += `${left} ${right}\n`;
  return out;
}

/** Where merge `index` came from, for error messages. */
type MergeLocator = (index: number) => string;

const mergeLineLocator =
  (name: string): MergeLocator =>
  (index) =>
    `${name}, line ${index + 2}`;

interface ClipBpeParts {
  tokenToId: Map<string, number>;
  idToToken: Map<number, string>;
  vocabSize: number;
  merges: readonly MergePair[];
  locate: MergeLocator;
}

export class ClipBpeTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  /** The merge rules in rank order. */
  readonly merges: readonly MergePair[];
  readonly startId: number;
  readonly endId: number;
  /** The id `encodeBatch` pads with (0, as CLIP). */
  readonly padId = 0;
  private readonly tokenToIdMap: Map<string, number>;
  private readonly idToTokenMap: Map<number, string>;
  /** Id of each byte's symbol inside a word, and at its end (with `</w>`). */
  private readonly byteId = new Int32Array(256);
  private readonly byteEndId = new Int32Array(256);
  /** `left * ID_LIMIT + right` -> rank; the merged id of rank r is `mergedId[r]`. */
  private readonly rankOfPair = new Map<number, number>();
  private readonly mergedId: Int32Array;
  private readonly cache = new Map<string, readonly number[]>();

  private constructor(parts: ClipBpeParts) {
    const { tokenToId, merges, locate } = parts;
    this.tokenToIdMap = tokenToId;
    this.idToTokenMap = parts.idToToken;
    this.vocabSize = parts.vocabSize;
    this.merges = merges;
    const need = (token: string, what: string): number => {
      const id = tokenToId.get(token);
      if (id === undefined) throw new FormatError(`${what}: '${token}' is not in the vocabulary`);
      return id;
    };
    this.startId = need(START_OF_TEXT, 'vocabulary lacks a special token');
    this.endId = need(END_OF_TEXT, 'vocabulary lacks a special token');
    for (let b = 0; b < 256; b++) {
      this.byteId[b] = need(BYTE_TO_SYMBOL[b]!, `vocabulary lacks the symbol of byte ${b}`);
      this.byteEndId[b] = need(BYTE_TO_SYMBOL[b]! + END_OF_WORD, `vocabulary lacks the word-final symbol of byte ${b}`);
    }
    this.mergedId = new Int32Array(merges.length);
    merges.forEach(([left, right], rank) => {
      const where = locate(rank);
      const key = need(left, where) * ID_LIMIT + need(right, where);
      if (this.rankOfPair.has(key)) throw new FormatError(`${where}: merge '${left} ${right}' repeats an earlier line`);
      this.rankOfPair.set(key, rank);
      this.mergedId[rank] = need(left + right, where);
    });
  }

  /**
   * A tokenizer in CLIP's vocabulary layout (see the file comment) from merge rules, e.g. those of
   * `trainBpe`. Each side of a merge must be a byte symbol (optionally with `</w>`) or the result of an
   * earlier merge, which every BPE training run guarantees.
   */
  static fromMerges(merges: readonly MergePair[]): ClipBpeTokenizer {
    return ClipBpeTokenizer.inClipLayout(merges, (i) => `merge ${i + 1}`);
  }

  private static inClipLayout(merges: readonly MergePair[], locate: MergeLocator): ClipBpeTokenizer {
    if (merges.length > ID_LIMIT - 514) throw new FormatError(`too many merges: ${merges.length} (at most ${ID_LIMIT - 514})`);
    const vocab: string[] = [...BYTE_SYMBOLS_IN_VOCAB_ORDER, ...BYTE_SYMBOLS_IN_VOCAB_ORDER.map((s) => s + END_OF_WORD)];
    const known = new Set(vocab);
    merges.forEach(([left, right], i) => {
      for (const side of [left, right])
        if (!known.has(side))
          throw new FormatError(`${locate(i)}: '${side}' is neither a byte symbol nor the result of an earlier merge`);
      known.add(left + right);
      vocab.push(left + right);
    });
    vocab.push(START_OF_TEXT, END_OF_TEXT);
    const tokenToId = new Map<string, number>();
    const idToToken = new Map<number, string>();
    vocab.forEach((token, id) => {
      tokenToId.set(token, id);
      idToToken.set(id, token);
    });
    return new ClipBpeTokenizer({ tokenToId, idToToken, vocabSize: vocab.length, merges, locate });
  }

  /** Loads CLIP's merges file (plain or gzip); see the file comment for `maxMerges`. */
  static async fromMergesFile(src: VocabSource, opts: MergesFileOptions = {}): Promise<ClipBpeTokenizer> {
    expectBytesSource('ClipBpeTokenizer.fromMergesFile', src);
    const name = describeVocabSource(src, 'merges file');
    const merges = parseMerges(await readVocabText(src, 'merges file'), name, opts);
    return ClipBpeTokenizer.inClipLayout(merges, mergeLineLocator(name));
  }

  /**
   * Loads a Hugging Face `CLIPTokenizer` directory's `vocab.json` (token -> id) and `merges.txt`. Ids
   * are taken as given; every byte symbol (with and without `</w>`), both markers, and both sides and
   * the result of every merge must be in the vocabulary.
   */
  static async fromHuggingFace(vocabJson: VocabSource, mergesTxt: VocabSource): Promise<ClipBpeTokenizer> {
    expectBytesSource('ClipBpeTokenizer.fromHuggingFace', vocabJson);
    expectBytesSource('ClipBpeTokenizer.fromHuggingFace', mergesTxt);
    const vocabName = describeVocabSource(vocabJson, 'vocab.json');
    const vocabText = await readVocabText(vocabJson, 'vocab.json');
    let parsed: unknown;
    try {
      parsed = JSON.parse(vocabText);
    } catch (err) {
      throw new FormatError(`${vocabName}: not valid JSON (${(err as Error).message})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new FormatError(`${vocabName}: expected an object mapping tokens to ids, found ${Array.isArray(parsed) ? 'an array' : String(parsed)}`);
    const tokenToId = new Map<string, number>();
    const idToToken = new Map<number, string>();
    let vocabSize = 0;
    for (const [token, id] of Object.entries(parsed)) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= ID_LIMIT)
        throw new FormatError(`${vocabName}: token '${token}' has id ${JSON.stringify(id)}; ids must be integers in [0, ${ID_LIMIT})`);
      const other = idToToken.get(id);
      if (other !== undefined) throw new FormatError(`${vocabName}: tokens '${other}' and '${token}' share id ${id}`);
      tokenToId.set(token, id);
      idToToken.set(id, token);
      vocabSize = Math.max(vocabSize, id + 1);
    }
    const name = describeVocabSource(mergesTxt, 'merges.txt');
    const merges = parseMerges(await readVocabText(mergesTxt, 'merges.txt'), name);
    return new ClipBpeTokenizer({ tokenToId, idToToken, vocabSize, merges, locate: mergeLineLocator(name) });
  }

  /** The merges in merges-file format, readable by `fromMergesFile` and by CLIP. */
  toMergesFile(): string {
    return formatMergesFile(this.merges);
  }

  tokenToId(token: string): number | undefined {
    return this.tokenToIdMap.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.idToTokenMap.get(id);
  }

  encode(text: string): number[] {
    if (typeof text !== 'string') throw new ArgumentError(`ClipBpeTokenizer.encode: expected a string, got ${typeof text}`);
    const ids: number[] = [];
    for (const piece of clipPreTokenize(cleanClipText(text))) {
      if (piece === START_OF_TEXT) ids.push(this.startId);
      else if (piece === END_OF_TEXT) ids.push(this.endId);
      else for (const id of this.encodePiece(piece)) ids.push(id);
    }
    return ids;
  }

  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    const bytes: number[] = [];
    let endsWithWordSpace = false;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const token = this.idToTokenMap.get(id);
      if (token === undefined)
        throw new ArgumentError(`ClipBpeTokenizer.decode: id ${id} at position ${i} is not in the vocabulary (size ${this.vocabSize})`);
      const special = id === this.startId || id === this.endId;
      if (special && opts.skipSpecialTokens) continue;
      const wordEnd = !special && token.endsWith(END_OF_WORD);
      const body = wordEnd ? token.slice(0, -END_OF_WORD.length) : token;
      const symbolBytes = special ? undefined : bytesOfSymbols(body);
      for (const b of symbolBytes ?? utf8.encode(body)) bytes.push(b);
      if (wordEnd) bytes.push(0x20);
      endsWithWordSpace = wordEnd;
    }
    if (endsWithWordSpace) bytes.pop();
    return utf8Lenient.decode(new Uint8Array(bytes));
  }

  encodeBatch(texts: readonly string[], opts: EncodeBatchOptions = {}): TokenBatch {
    const markers = { start: this.startId, end: this.endId, pad: this.padId };
    return packBatch('ClipBpeTokenizer.encodeBatch', texts, (t) => this.encode(t), markers, CLIP_CONTEXT_LENGTH, opts);
  }

  /** BPE of one pre-token (not a marker), through the cache. */
  private encodePiece(piece: string): readonly number[] {
    const cached = this.cache.get(piece);
    if (cached) return cached;
    const ids = this.applyMerges(utf8.encode(piece));
    if (piece.length <= CACHE_MAX_KEY_LENGTH) {
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(piece, ids);
    }
    return ids;
  }

  /**
   * CLIP's merge loop over the byte symbols of one word. Nodes of a doubly linked list keep their
   * starting index, so index order is text order. Heap entries (rank, index) name a pair by its left
   * node; an entry is stale once that node died or its pair changed, and is then skipped. All entries
   * of the lowest rank are applied left to right before the pairs they created are queued, which is
   * what CLIP's "merge every occurrence of the best bigram, then recompute pairs" does.
   */
  private applyMerges(bytes: Uint8Array): number[] {
    const n = bytes.length;
    if (n >= ID_LIMIT) throw new ArgumentError(`ClipBpeTokenizer.encode: a single word of ${n} bytes is too long`);
    const symbol = new Int32Array(n);
    for (let i = 0; i < n; i++) symbol[i] = i === n - 1 ? this.byteEndId[bytes[i]!]! : this.byteId[bytes[i]!]!;
    if (n === 1) return [symbol[0]!];
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const rankAt = (left: number): number | undefined =>
      next[left]! < 0 ? undefined : this.rankOfPair.get(symbol[left]! * ID_LIMIT + symbol[next[left]!]!);
    // Entries pack rank * ID_LIMIT + left index, so numeric order is (rank, position) order.
    const heap = new BinaryHeap<number>((a, b) => a < b);
    const queue = (left: number): void => {
      const rank = left >= 0 ? rankAt(left) : undefined;
      if (rank !== undefined) heap.push(rank * ID_LIMIT + left);
    };
    for (let i = 0; i < n - 1; i++) queue(i);
    const touched: number[] = [];
    while (heap.size > 0) {
      const rank = Math.floor(heap.peek()! / ID_LIMIT);
      touched.length = 0;
      while (heap.size > 0 && Math.floor(heap.peek()! / ID_LIMIT) === rank) {
        const left = heap.pop()! % ID_LIMIT;
        if (!alive[left] || rankAt(left) !== rank) continue;
        const right = next[left]!;
        symbol[left] = this.mergedId[rank]!;
        alive[right] = 0;
        next[left] = next[right]!;
        if (next[right]! >= 0) prev[next[right]!] = left;
        touched.push(left);
      }
      for (const node of touched) {
        if (!alive[node]) continue;
        queue(prev[node]!);
        queue(node);
      }
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]!) out.push(symbol[i]!);
    return out;
  }
}

/** The bytes a byte-symbol string stands for, or undefined if it holds other characters. */
function bytesOfSymbols(symbols: string): number[] | undefined {
  const out: number[] = [];
  for (let i = 0; i < symbols.length; i++) {
    const b = SYMBOL_TO_BYTE.get(symbols.charCodeAt(i));
    if (b === undefined) return undefined;
    out.push(b);
  }
  return out;
}
