import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ArgumentError } from '../../engine/errors.js';
import {
  ClipBpeTokenizer,
  END_OF_TEXT,
  END_OF_WORD,
  START_OF_TEXT,
  cleanClipText,
  clipPreTokenize,
  toByteSymbols,
  trainBpe,
  type MergePair,
} from '../../metatransformer/tokenizers/text/index.js';
import { assertThrows } from '../helpers.js';

const t = suite('tokenizers: BPE trainer');

const CORPUS = [
  `The lighthouse keeper climbed the spiral stairs every evening at dusk. From the lamp room he could see
  the whole bay: the fishing boats coming home, the gulls circling over the harbour, and the slow lights
  of the town coming on one window at a time. He wrote the weather in his logbook, 17 entries a week,
  and never missed a day in 32 years.`,
  `Tensors are arrays with a shape and a data type. A tensor engine schedules kernels that read and write
  those arrays on the GPU; automatic differentiation records each operation so gradients can flow back
  through the graph. Meta-Transformer shares one frozen encoder across twelve modalities: text, images,
  audio, point clouds, video, and more. It's a simple idea, and it's surprisingly effective!`,
  `Il était une fois un café près de la gare. Les voyageurs y buvaient un thé ou un chocolat chaud en
  attendant leur train. Der Bahnhof war klein, aber gemütlich; über dem Eingang hing eine alte Uhr.
  東京の駅はとても大きいです。 Москва — столица России. Numbers like 3.14159 and 2,718 split per digit.`,
  `She said "we'll see", and he replied 'they've already left, haven't they?' — nobody knew. The cat's
  toy was under the sofa & the dog's bowl was empty; prices rose 5% to $12.50 (approx.) on 2024-06-01.`,
];

/** The plain BPE training loop (full recount per merge, same tie-break): the trainer's reference. */
function referenceTrain(corpus: readonly string[], vocabSize: number, minFrequency: number): MergePair[] {
  const counts = new Map<string, number>();
  for (const text of corpus)
    for (const piece of clipPreTokenize(cleanClipText(text)))
      if (piece !== START_OF_TEXT && piece !== END_OF_TEXT) counts.set(piece, (counts.get(piece) ?? 0) + 1);
  let words = [...counts].map(([piece, count]) => {
    const chars = [...toByteSymbols(piece)];
    return { symbols: [...chars.slice(0, -1), chars[chars.length - 1]! + END_OF_WORD], count };
  });
  const merges: MergePair[] = [];
  while (514 + merges.length < vocabSize) {
    const pairs = new Map<string, number>();
    for (const { symbols, count } of words)
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + count);
      }
    let best: [string, string] | undefined;
    let bestCount = 0;
    for (const [key, count] of pairs) {
      const [l, r] = key.split(' ') as [string, string];
      if (count > bestCount || (count === bestCount && best && (l < best[0] || (l === best[0] && r < best[1])))) {
        best = [l, r];
        bestCount = count;
      }
    }
    if (!best || bestCount < minFrequency) break;
    merges.push(best);
    const [l, r] = best;
    words = words.map(({ symbols, count }) => {
      const next: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === l && symbols[i + 1] === r) next.push(symbols[i++]! + symbols[i]!);
        else next.push(symbols[i]!);
      }
      return { symbols: next, count };
    });
  }
  return merges;
}

const trained = trainBpe(CORPUS, { vocabSize: 514 + 100, minFrequency: 2 });
const tok = trained.tokenizer();
/** Arbitrary text mixing random code points with the things the cleaner and pre-tokenizer treat specially. */
const textArb = fc.string({
  unit: fc.oneof(
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    fc.constantFrom(' ', '  ', '\t', '\n', '\u00a0', '\u3000', '&amp;', '&#233;', "'s", "'ll", 'É', 'ß', 'İ', '日本', '٣', '😀', 'the ', 'keeper', '\u0301'),
  ),
  maxLength: 40,
});

t('trains the requested number of merges, deterministically', () => {
  assert.is(trained.merges.length, 100);
  assert.is(tok.vocabSize, 614);
  assert.equal(trainBpe(CORPUS, { vocabSize: 614 }).merges, trained.merges);
  assert.equal(trainBpe([...CORPUS].reverse(), { vocabSize: 614 }).merges, trained.merges);
  // The most frequent pairs of this corpus come first.
  assert.equal(trained.merges[0], ['t', 'h']);
  assert.ok(trained.merges.some(([l, r]) => l + r === 'the</w>'));
});

t('matches a plain full-recount trainer', () => {
  assert.equal(trainBpe(CORPUS, { vocabSize: 514 + 120, minFrequency: 2 }).merges, referenceTrain(CORPUS, 514 + 120, 2));
  fc.assert(
    fc.property(fc.array(fc.string({ unit: fc.constantFrom('a', 'b', 'c', ' ', '!', 'é'), maxLength: 12 }), { maxLength: 8 }), fc.integer({ min: 1, max: 3 }), (corpus, minFrequency) => {
      assert.equal(trainBpe(corpus, { vocabSize: 514 + 40, minFrequency }).merges, referenceTrain(corpus, 514 + 40, minFrequency));
    }),
    { numRuns: 200 },
  );
});

t('ties go to the pair whose left, then right, symbol sorts first; minFrequency stops training', () => {
  assert.equal(trainBpe(['cd ab cd ab'], { vocabSize: 1000 }).merges, [
    ['a', 'b</w>'],
    ['c', 'd</w>'],
  ]);
  assert.equal(trainBpe(['ax ab ax ab'], { vocabSize: 1000 }).merges, [
    ['a', 'b</w>'],
    ['a', 'x</w>'],
  ]);
  assert.equal(trainBpe(['ab'], { vocabSize: 1000 }).merges, []);
  assert.equal(trainBpe(['ab'], { vocabSize: 1000, minFrequency: 1 }).merges, [['a', 'b</w>']]);
  assert.equal(trainBpe(['<|endoftext|> <|endoftext|>'], { vocabSize: 1000, minFrequency: 1 }).merges, []);
});

t('toMergesFile loads back into the same tokenizer', async () => {
  const file = trained.toMergesFile();
  assert.ok(file.startsWith('#version: 0.2\n'));
  assert.is(file.split('\n').length, 100 + 2);
  const loaded = await ClipBpeTokenizer.fromMergesFile(new TextEncoder().encode(file));
  assert.is(loaded.vocabSize, tok.vocabSize);
  for (const text of CORPUS) assert.equal(loaded.encode(text), tok.encode(text));
  assert.ok(tok.encode(CORPUS[0]!).length < toByteSymbols(cleanClipText(CORPUS[0]!)).length / 2);
});

t('property: decode(encode(x)) is the cleaned, lower-cased x with one space between pre-tokens', () => {
  fc.assert(
    fc.property(textArb, (text) => {
      const cleaned = cleanClipText(text);
      const decoded = tok.decode(tok.encode(text));
      assert.is(decoded, clipPreTokenize(cleaned).join(' '));
      assert.is(decoded.replace(/ /g, ''), cleaned.replace(/ /g, ''));
    }),
    { numRuns: 500 },
  );
});

t('property: ids stay below vocabSize and batches are well formed', () => {
  fc.assert(
    fc.property(fc.array(textArb, { maxLength: 5 }), fc.integer({ min: 2, max: 24 }), (texts, contextLength) => {
      const batch = tok.encodeBatch(texts, { contextLength });
      assert.is(batch.ids.length, texts.length * contextLength);
      assert.is(batch.attentionMask.length, texts.length * contextLength);
      texts.forEach((text, row) => {
        const content = tok.encode(text);
        for (const id of content) assert.ok(Number.isInteger(id) && id >= 0 && id < tok.vocabSize);
        const length = Math.min(content.length + 2, contextLength);
        const ids = [...batch.ids.subarray(row * contextLength, (row + 1) * contextLength)];
        const mask = [...batch.attentionMask.subarray(row * contextLength, (row + 1) * contextLength)];
        assert.is(batch.lengths[row], length);
        assert.equal(mask, ids.map((_, i) => (i < length ? 1 : 0)));
        assert.is(ids[0], tok.startId);
        assert.is(ids[length - 1], tok.endId);
        assert.equal(ids.slice(1, length - 1), content.slice(0, length - 2));
        assert.ok(ids.slice(length).every((id) => id === 0));
      });
      const firstTooLong = texts.findIndex((text) => tok.encode(text).length + 2 > contextLength);
      if (firstTooLong >= 0)
        assert.throws(
          () => tok.encodeBatch(texts, { contextLength, truncate: false }),
          (e: unknown) => e instanceof ArgumentError && e.message.includes(`text ${firstTooLong} is`),
        );
      else assert.equal(tok.encodeBatch(texts, { contextLength, truncate: false }).ids, batch.ids);
    }),
    { numRuns: 200 },
  );
});

t('bad options and corpus items: ArgumentError', () => {
  assertThrows(() => trainBpe(CORPUS, { vocabSize: 513 }), ArgumentError, /vocabSize/);
  assertThrows(() => trainBpe(CORPUS, { vocabSize: 1.5 }), ArgumentError, /vocabSize/);
  assertThrows(() => trainBpe(CORPUS, { vocabSize: 2 ** 26 + 1 }), ArgumentError, /vocabSize/);
  assertThrows(() => trainBpe(CORPUS, { vocabSize: 600, minFrequency: 0 }), ArgumentError, /minFrequency/);
  assertThrows(() => trainBpe(['ok', 7 as unknown as string], { vocabSize: 600 }), ArgumentError, /corpus item 1/);
});

t.run();
