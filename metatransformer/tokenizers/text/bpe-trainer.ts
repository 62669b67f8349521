/**
 * Trains CLIP-style byte-level BPE merges from a corpus, for vocabularies built on our own data.
 *
 * Texts are cleaned, lower-cased and pre-tokenized exactly as `ClipBpeTokenizer` does (clip-text.ts);
 * the markers `<|startoftext|>`/`<|endoftext|>` are skipped, since they never go through BPE. Each
 * distinct pre-token becomes a word of byte symbols whose last symbol carries `</w>`, weighted by its
 * count. Then, until the vocabulary is full: take the most frequent adjacent pair over all words, record
 * it as the next merge and join it in every word, non-overlapping left to right (as encoding does).
 *
 * Tie-breaking: among pairs with equal count, the one whose left symbol sorts first wins, then the one
 * whose right symbol sorts first (JavaScript string order; all symbols are BMP characters, so this is
 * code point order). The result therefore depends only on the multiset of pre-tokens.
 *
 * Efficiency: pair counts are kept incrementally. Each pair remembers the words it occurs in, and a
 * merge only revisits those words, subtracting their old pairs and adding their new ones. The best pair
 * comes from a max-heap whose entries are re-pushed when a count changes and skipped when stale.
 *
 * If a merge produces a string an earlier merge already produced (possible: 'ab'+'c' and 'a'+'bc'), it is
 * still recorded and the words keep one symbol for that string, as Hugging Face's trainer does; CLIP's
 * vocabulary layout then lists the string twice, and encoding uses the later id.
 */
import { ArgumentError } from '../../../engine/errors.js';
import { ClipBpeTokenizer, MAX_VOCAB_SIZE, formatMergesFile, type MergePair } from './clip-bpe.js';
import { BYTE_SYMBOLS_IN_VOCAB_ORDER, END_OF_TEXT, END_OF_WORD, START_OF_TEXT, cleanClipText, clipPreTokenize, toByteSymbols } from './clip-text.js';
import { BinaryHeap } from './heap.js';

export interface TrainBpeOptions {
  /** Total ids wanted: 512 byte symbols + merges + 2 markers, so at least 514. */
  vocabSize: number;
  /** Pairs seen fewer times than this are never merged (training may then stop early). Default 2. */
  minFrequency?: number;
}

export class TrainedBpe {
  constructor(readonly merges: readonly MergePair[]) {}

  /** The merges in the merges-file format (version header, then 'left right' lines). */
  toMergesFile(): string {
    return formatMergesFile(this.merges);
  }

  tokenizer(): ClipBpeTokenizer {
    return ClipBpeTokenizer.fromMerges(this.merges);
  }
}

/** Symbol ids stay below the tokenizer's id limit, so a pair is keyed as `left * SYMBOL_LIMIT + right`. */
const SYMBOL_LIMIT = MAX_VOCAB_SIZE;
const BASE_VOCAB = 2 * 256 + 2;

interface HeapEntry {
  count: number;
  key: number;
}

export function trainBpe(corpus: Iterable<string>, opts: TrainBpeOptions): TrainedBpe {
  const { vocabSize } = opts;
  const minFrequency = opts.minFrequency ?? 2;
  if (!Number.isSafeInteger(vocabSize) || vocabSize < BASE_VOCAB || vocabSize > SYMBOL_LIMIT)
    throw new ArgumentError(`trainBpe: vocabSize must be an integer in [${BASE_VOCAB}, ${SYMBOL_LIMIT}], got ${vocabSize}`);
  if (!Number.isSafeInteger(minFrequency) || minFrequency < 1)
    throw new ArgumentError(`trainBpe: minFrequency must be a positive integer, got ${minFrequency}`);

  const wordCounts = new Map<string, number>();
  let index = 0;
  for (const text of corpus) {
    if (typeof text !== 'string') throw new ArgumentError(`trainBpe: corpus item ${index} is ${typeof text}, expected a string`);
    for (const piece of clipPreTokenize(cleanClipText(text)))
      if (piece !== START_OF_TEXT && piece !== END_OF_TEXT) wordCounts.set(piece, (wordCounts.get(piece) ?? 0) + 1);
    index++;
  }

  // Symbols: ids 0-255 byte symbols, 256-511 with </w>, then one per merge.
  const symbolText: string[] = [...BYTE_SYMBOLS_IN_VOCAB_ORDER, ...BYTE_SYMBOLS_IN_VOCAB_ORDER.map((s) => s + END_OF_WORD)];
  const symbolId = new Map(symbolText.map((s, i) => [s, i]));
  const words: number[][] = [];
  const counts: number[] = [];
  for (const [piece, count] of wordCounts) {
    const chars = toByteSymbols(piece);
    const word: number[] = [];
    for (let i = 0; i < chars.length; i++) word.push(symbolId.get(i === chars.length - 1 ? chars[i]! + END_OF_WORD : chars[i]!)!);
    words.push(word);
    counts.push(count);
  }

  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const changed = new Set<number>();
  const addPairs = (w: number, sign: 1 | -1): void => {
    const word = words[w]!;
    for (let i = 0; i + 1 < word.length; i++) {
      const key = word[i]! * SYMBOL_LIMIT + word[i + 1]!;
      pairCount.set(key, (pairCount.get(key) ?? 0) + sign * counts[w]!);
      changed.add(key);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(w);
      }
    }
  };
  for (let w = 0; w < words.length; w++) addPairs(w, 1);

  const leftOf = (key: number): string => symbolText[Math.floor(key / SYMBOL_LIMIT)]!;
  const rightOf = (key: number): string => symbolText[key % SYMBOL_LIMIT]!;
  const heap = new BinaryHeap<HeapEntry>((a, b) => {
    if (a.count !== b.count) return a.count > b.count;
    const la = leftOf(a.key);
    const lb = leftOf(b.key);
    if (la !== lb) return la < lb;
    return rightOf(a.key) < rightOf(b.key);
  });
  const flushChanged = (): void => {
    for (const key of changed) {
      const count = pairCount.get(key)!;
      if (count >= minFrequency) heap.push({ count, key });
      else if (count === 0) {
        pairCount.delete(key);
        pairWords.delete(key);
      }
    }
    changed.clear();
  };
  flushChanged();

  const merges: MergePair[] = [];
  while (BASE_VOCAB + merges.length < vocabSize && heap.size > 0) {
    const { count, key } = heap.pop()!;
    if (pairCount.get(key) !== count) continue;
    const left = Math.floor(key / SYMBOL_LIMIT);
    const right = key % SYMBOL_LIMIT;
    merges.push([symbolText[left]!, symbolText[right]!]);
    // A string made before keeps its symbol, as the tokenizer maps both merges to one id.
    const text = symbolText[left]! + symbolText[right]!;
    let merged = symbolId.get(text);
    if (merged === undefined) {
      merged = symbolText.length;
      symbolText.push(text);
      symbolId.set(text, merged);
    }
    for (const w of pairWords.get(key) ?? []) {
      const word = words[w]!;
      let occurs = false;
      for (let i = 0; i + 1 < word.length && !occurs; i++) occurs = word[i] === left && word[i + 1] === right;
      if (!occurs) continue;
      addPairs(w, -1);
      const rewritten: number[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i + 1 < word.length && word[i] === left && word[i + 1] === right) {
          rewritten.push(merged);
          i++;
        } else rewritten.push(word[i]!);
      }
      words[w] = rewritten;
      addPairs(w, 1);
    }
    flushChanged();
  }
  return new TrainedBpe(merges);
}
