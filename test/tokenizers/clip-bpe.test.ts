import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ArgumentError, FormatError } from '../../engine/errors.js';
import { CLIP_CONTEXT_LENGTH, ClipBpeTokenizer, END_OF_WORD, type MergePair } from '../../metatransformer/tokenizers/text/index.js';
import { BYTE_SYMBOLS_IN_VOCAB_ORDER, toByteSymbols } from '../../metatransformer/tokenizers/text/clip-text.js';
import { assertRejects, compress } from '../helpers.js';

const t = suite('tokenizers: CLIP byte-level BPE');

/*
 * A hand-made merges file. Ids by CLIP's layout: byte symbols 0-255 (printable ASCII b -> b - 33,
 * so 'a' = 64), the same with </w> at +256, then one id per merge from 512, then the two markers.
 *   512 he   513 ll   514 hell   515 hello</w>   516 's</w>   517 ca   518 cat</w>
 *   519 é</w> (bytes C3 A9 = symbols Ã ©)   520 caf   521 café</w>   522 <|startoftext|>   523 <|endoftext|>
 */
const HAND_MERGES = ['#version: 0.2', 'h e', 'l l', 'he ll', 'hell o</w>', "' s</w>", 'c a', 'ca t</w>', 'Ã ©</w>', 'ca f', 'caf Ã©</w>', ''].join('\n');
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const id = (ch: string): number => ch.charCodeAt(0) - 33; // printable ASCII symbol inside a word
const idEnd = (ch: string): number => id(ch) + 256; // ... at the end of a word
const handTokenizer = (): Promise<ClipBpeTokenizer> => ClipBpeTokenizer.fromMergesFile(enc(HAND_MERGES));

/** CLIP's `bpe()` loop, written plainly on strings: the reference for the heap-based encoder. */
function referenceBpe(piece: string, merges: readonly MergePair[]): string[] {
  const rank = new Map(merges.map(([a, b], r) => [`${a} ${b}`, r]));
  const chars = [...toByteSymbols(piece)];
  let word = [...chars.slice(0, -1), chars[chars.length - 1]! + END_OF_WORD];
  for (;;) {
    let best: [string, string] | undefined;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < word.length; i++) {
      const r = rank.get(`${word[i]} ${word[i + 1]}`);
      if (r !== undefined && r < bestRank) [bestRank, best] = [r, [word[i]!, word[i + 1]!]];
    }
    if (!best) return word;
    const next: string[] = [];
    for (let i = 0; i < word.length; i++) {
      if (i + 1 < word.length && word[i] === best[0] && word[i + 1] === best[1]) next.push(word[i++]! + word[i]!);
      else next.push(word[i]!);
    }
    word = next;
  }
}

t('vocabulary layout: byte symbols, </w> symbols, merges, markers', async () => {
  const tok = await handTokenizer();
  assert.is(tok.vocabSize, 524);
  assert.is(tok.tokenToId('!'), 0);
  assert.is(tok.tokenToId('a'), 64);
  assert.is(tok.tokenToId('a</w>'), 320);
  assert.is(tok.tokenToId('Ġ'), 220); // the space byte, remapped to U+0120
  assert.is(tok.tokenToId('hello</w>'), 515);
  assert.is(tok.startId, 522);
  assert.is(tok.endId, 523);
  assert.is(tok.idToToken(519), 'Ã©</w>');
  assert.is(tok.padId, 0);
});

t('encodes hand-derived ids: </w>, contractions, digits, punctuation, unicode, markers', async () => {
  const tok = await handTokenizer();
  assert.equal(tok.encode('Hello'), [515]);
  // 'l l</w>' is not the merge 'l l', so 'hell' as a whole word stays he + l + l</w>.
  assert.equal(tok.encode('hell'), [512, id('l'), idEnd('l')]);
  assert.equal(tok.encode("cat's"), [518, 516]);
  assert.equal(tok.encode("it's"), [id('i'), idEnd('t'), 516]);
  assert.equal(tok.encode("we'll"), [id('w'), idEnd('e'), id("'"), id('l'), idEnd('l')]);
  assert.equal(tok.encode('2024'), [idEnd('2'), idEnd('0'), idEnd('2'), idEnd('4')]);
  assert.equal(tok.encode('hello, world!!'), [515, idEnd(','), id('w'), id('o'), id('r'), id('l'), idEnd('d'), id('!'), idEnd('!')]);
  assert.equal(tok.encode('Café'), [521]);
  assert.equal(tok.encode('é'), [519]);
  // 日 is E6 97 A5: Latin-1 printable E6 -> 106 + (0xE6 - 0xAE); 0x97 is remapped -> 221 + (0x97 - 0x7F); A5 -> 94 + 4, final.
  assert.equal(tok.encode('日'), [162, 245, 98 + 256]);
  assert.equal(tok.encode('<|startoftext|>hi<|endoftext|>'), [522, id('h'), idEnd('i'), 523]);
});

t('cleans like CLIP: HTML entities twice, Python whitespace, lower-case', async () => {
  const tok = await handTokenizer();
  assert.equal(tok.encode('a &amp; b'), [idEnd('a'), idEnd('&'), idEnd('b')]);
  assert.equal(tok.encode('&amp;amp;'), [idEnd('&')]); // unescaped twice, as CLIP does
  assert.equal(tok.encode('&#72;ELLO'), [515]);
  assert.equal(tok.encode('  Hello\t\n\x1c\u3000 CAT  '), [515, 518]);
  assert.equal(tok.encode(''), []);
  assert.equal(tok.encode(' \n '), []);
  // U+FEFF is not whitespace to Python, so it stays a symbol: bytes EF BB BF, all Latin-1 printable (106 + b - 0xAE).
  assert.equal(tok.encode('\ufeff'), [171, 119, 123 + 256]);
  // A lone surrogate becomes U+FFFD.
  assert.equal(tok.encode('\ud800'), tok.encode('\ufffd'));
});

t('decodes: </w> becomes a space, the final one dropped; markers literal or skipped; broken UTF-8 as U+FFFD', async () => {
  const tok = await handTokenizer();
  assert.is(tok.decode(tok.encode('Hello, World!!')), 'hello , world !!');
  assert.is(tok.decode(tok.encode("it's a Café 2024")), "it 's a café 2 0 2 4");
  assert.is(tok.decode([522, 515, 523]), '<|startoftext|>hello <|endoftext|>');
  assert.is(tok.decode(new Int32Array([522, 515, 523]), { skipSpecialTokens: true }), 'hello');
  assert.is(tok.decode([162]), '\ufffd');
  assert.is(tok.decode([]), '');
});

t('encodeBatch pads with 0, masks, truncates keeping the end marker, or names the too-long text', async () => {
  const tok = await handTokenizer();
  const batch = tok.encodeBatch(['hello', 'hello, world!!'], { contextLength: 5 });
  assert.is(batch.batchSize, 2);
  assert.is(batch.contextLength, 5);
  assert.equal([...batch.ids], [522, 515, 523, 0, 0, 522, 515, idEnd(','), id('w'), 523]);
  assert.equal([...batch.attentionMask], [1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
  assert.equal([...batch.lengths], [3, 5]);
  const full = tok.encodeBatch(['hello']);
  assert.is(full.ids.length, CLIP_CONTEXT_LENGTH);
  assert.throws(
    () => tok.encodeBatch(['hello', 'hello, world!!'], { contextLength: 5, truncate: false }),
    (err: unknown) => err instanceof ArgumentError && /text 1 is 11 tokens/.test(err.message),
  );
  assert.is(tok.encodeBatch(['hello, world!!'], { contextLength: 11, truncate: false }).lengths[0], 11);
  assert.is(tok.encodeBatch([]).ids.length, 0);
});

t('maxMerges keeps only the first merges, as CLIP keeps 48,894', async () => {
  const tok = await ClipBpeTokenizer.fromMergesFile(enc(HAND_MERGES), { maxMerges: 3 });
  assert.is(tok.vocabSize, 512 + 3 + 2);
  assert.equal(tok.encode('hello'), [514, idEnd('o')]);
  assert.is(tok.startId, 515);
  assert.is((await ClipBpeTokenizer.fromMergesFile(enc(HAND_MERGES), { maxMerges: 1000 })).vocabSize, 524);
});

t('loads gzip, Blob and CRLF sources; toMergesFile round-trips', async () => {
  const plain = await handTokenizer();
  const gz = await ClipBpeTokenizer.fromMergesFile(await compress(HAND_MERGES, 'gzip'));
  const blob = await ClipBpeTokenizer.fromMergesFile(new Blob([HAND_MERGES.replace(/\n/g, '\r\n')]));
  const again = await ClipBpeTokenizer.fromMergesFile(enc(plain.toMergesFile()));
  for (const tok of [gz, blob, again]) {
    assert.is(tok.vocabSize, plain.vocabSize);
    assert.equal(tok.encode("Hello, it's a café"), plain.encode("Hello, it's a café"));
  }
  assert.ok(plain.toMergesFile().startsWith('#version: 0.2\nh e\n'));
  // CLIP's own header line is accepted too.
  const clipHeader = HAND_MERGES.replace('#version: 0.2', '"bpe_simple_vocab_16e6.txt#version: 0.2');
  assert.is((await ClipBpeTokenizer.fromMergesFile(enc(clipHeader))).vocabSize, 524);
});

t('fromHuggingFace takes ids from vocab.json', async () => {
  const hand = await handTokenizer();
  // Reverse CLIP's ids so a loader that ignored vocab.json would give different answers.
  const vocab: Record<string, number> = {};
  for (let i = 0; i < hand.vocabSize; i++) vocab[hand.idToToken(i)!] = hand.vocabSize - 1 - i;
  const mergesTxt = HAND_MERGES.replace('#version: 0.2', '#version: 0.2 - Trained by hand');
  const hf = await ClipBpeTokenizer.fromHuggingFace(enc(JSON.stringify(vocab)), new Blob([mergesTxt]));
  assert.is(hf.vocabSize, 524);
  const text = "Hello, it's 日 café <|endoftext|>";
  assert.equal(hf.encode(text), hand.encode(text).map((i) => 523 - i));
  assert.is(hf.decode(hf.encode(text)), hand.decode(hand.encode(text)));
  assert.is(hf.startId, 1);
  assert.is(hf.endId, 0);
});

t('the heap-based encoder matches CLIP\'s plain merge loop, also for overlapping and re-made merges', () => {
  const symbols = ['a', 'b', 'c'];
  const pieceArb = fc.string({ unit: fc.constantFrom(...symbols), minLength: 1, maxLength: 14 });
  // Random merge lists over a, b, c whose sides are always already defined, so strings may be made twice.
  const mergesArb = fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 30 }).map((picks) => {
    const known = [...symbols, ...symbols.map((s) => s + END_OF_WORD)];
    const seen = new Set<string>();
    const merges: MergePair[] = [];
    for (const [i, j] of picks) {
      const left = known[i % known.length]!;
      const right = known[j % known.length]!;
      if (left.endsWith(END_OF_WORD) || seen.has(`${left} ${right}`)) continue;
      seen.add(`${left} ${right}`);
      merges.push([left, right]);
      known.push(left + right);
    }
    return merges;
  });
  fc.assert(
    fc.property(mergesArb, pieceArb, (merges, piece) => {
      const tok = ClipBpeTokenizer.fromMerges(merges);
      const expected = referenceBpe(piece, merges).map((s) => tok.tokenToId(s)!);
      assert.equal(tok.encode(piece), expected);
    }),
    { numRuns: 300 },
  );
});

t('all occurrences of the best pair merge before pairs they create, even lower-ranked ones', () => {
  // 'abc' is made at rank 2 and again at rank 4; 'abc a' (rank 3) must wait until every 'a bc' merged.
  const merges: MergePair[] = [['b', 'c'], ['a', 'b'], ['ab', 'c'], ['abc', 'a'], ['a', 'bc']];
  const tok = ClipBpeTokenizer.fromMerges(merges);
  const expected = referenceBpe('abcabcx', merges);
  assert.equal(expected, ['abc', 'abc', 'x</w>']);
  assert.equal(tok.encode('abcabcx'), expected.map((s) => tok.tokenToId(s)!));
});

t('a string made by two merges gets two ids; encoding uses the later one, both decode', () => {
  const tok = ClipBpeTokenizer.fromMerges([['a', 'b'], ['b', 'c</w>'], ['ab', 'c</w>'], ['a', 'bc</w>']]);
  assert.is(tok.vocabSize, 512 + 4 + 2);
  assert.equal(tok.encode('abc'), [515]);
  assert.is(tok.decode([514]), 'abc');
  assert.is(tok.decode([515]), 'abc');
});

t('byte symbols: 256 distinct single characters, printable ones first', () => {
  assert.is(new Set(BYTE_SYMBOLS_IN_VOCAB_ORDER).size, 256);
  assert.is(BYTE_SYMBOLS_IN_VOCAB_ORDER[0], '!');
  assert.is(BYTE_SYMBOLS_IN_VOCAB_ORDER[188], '\u0100'); // byte 0
  assert.is(toByteSymbols(' '), '\u0120');
});

t('malformed merges files: FormatError with the line number', async () => {
  await assertRejects(ClipBpeTokenizer.fromMergesFile(enc('h e\nl l\n')), FormatError, /line 1: expected a version header/);
  await assertRejects(ClipBpeTokenizer.fromMergesFile(enc('')), FormatError, /line 1/);
  await assertRejects(ClipBpeTokenizer.fromMergesFile(enc('#version: 0.2\nh e\nl l x\n')), FormatError, /line 3: expected two symbols/);
  await assertRejects(ClipBpeTokenizer.fromMergesFile(enc('#version: 0.2\nh e\n\nl l\n')), FormatError, /line 3: expected two symbols/);
  await assertRejects(ClipBpeTokenizer.fromMergesFile(enc('#version: 0.2\nh  e\n')), FormatError, /line 2/);
  await assertRejects(ClipBpeTokenizer.fromMergesFile(enc('#version: 0.2\nh e\nhe xy\n')), FormatError, /line 3: 'xy' is neither a byte symbol nor/);
  await assertRejects(ClipBpeTokenizer.fromMergesFile(enc('#version: 0.2\nh e\nl l\nh e\n')), FormatError, /line 4: merge 'h e' repeats/);
  await assertRejects(ClipBpeTokenizer.fromMergesFile(new Uint8Array([0x23, 0x76, 0xff, 0x0a])), FormatError, /not valid UTF-8/);
  await assertRejects(ClipBpeTokenizer.fromMergesFile(new Uint8Array([0x1f, 0x8b, 1, 2, 3, 4])), FormatError, /corrupt gzip/);
  await assertRejects(ClipBpeTokenizer.fromMergesFile(enc(HAND_MERGES), { maxMerges: -1 }), ArgumentError, /maxMerges/);
  assert.throws(() => ClipBpeTokenizer.fromMerges([['a', 'b'], ['x', 'yz']]), (e: unknown) => e instanceof FormatError && /merge 2: 'yz'/.test(e.message));
  assert.throws(() => ClipBpeTokenizer.fromMerges(new Array<MergePair>(2 ** 26)), (e: unknown) => e instanceof FormatError && /too many merges/.test(e.message));
});

t('malformed vocab.json: FormatError naming the problem', async () => {
  const hand = await handTokenizer();
  const vocab: Record<string, number> = {};
  for (let i = 0; i < hand.vocabSize; i++) vocab[hand.idToToken(i)!] = i;
  const load = (v: unknown, merges = HAND_MERGES): Promise<ClipBpeTokenizer> =>
    ClipBpeTokenizer.fromHuggingFace(enc(typeof v === 'string' ? v : JSON.stringify(v)), enc(merges));
  await assertRejects(load('[1, 2]'), FormatError, /expected an object/);
  await assertRejects(load('null'), FormatError, /expected an object/);
  await assertRejects(load('{"a": 1'), FormatError, /not valid JSON/);
  await assertRejects(load({ ...vocab, '<|startoftext|>': undefined }), FormatError, /<\|startoftext\|>/);
  await assertRejects(load({ ...vocab, '<|endoftext|>': 1.5 }), FormatError, /'<\|endoftext\|>' has id 1.5/);
  await assertRejects(load({ ...vocab, '<|endoftext|>': -1 }), FormatError, /has id -1/);
  await assertRejects(load({ ...vocab, extra: 515 }), FormatError, /'hello<\/w>' and 'extra' share id 515/);
  await assertRejects(load({ ...vocab, 'a</w>': undefined }), FormatError, /byte 97/);
  await assertRejects(load({ ...vocab, 'cat</w>': undefined }), FormatError, /merges.txt, line 8: 'cat<\/w>' is not in the vocabulary/);
  // A hostile key cannot reach the prototype chain: tokens live in a Map.
  const hostile = await load(JSON.stringify(vocab).replace('{', '{"__proto__": 9999,'));
  assert.is(hostile.tokenToId('__proto__'), 9999);
  assert.is(({} as Record<string, unknown>)['polluted'], undefined);
});

t('bad arguments: ArgumentError', async () => {
  const tok = await handTokenizer();
  assert.throws(() => tok.decode([524]), (e: unknown) => e instanceof ArgumentError && /id 524 at position 0/.test(e.message));
  assert.throws(() => tok.decode([1.5]), (e: unknown) => e instanceof ArgumentError);
  assert.throws(() => tok.encodeBatch(['a'], { contextLength: 1 }), (e: unknown) => e instanceof ArgumentError && /contextLength/.test(e.message));
  assert.throws(() => tok.encodeBatch(['a', 3 as unknown as string]), (e: unknown) => e instanceof ArgumentError && /texts\[1\]/.test(e.message));
  assert.throws(() => tok.encodeBatch('abc' as unknown as string[]), (e: unknown) => e instanceof ArgumentError);
  assert.throws(() => tok.encode(undefined as unknown as string), (e: unknown) => e instanceof ArgumentError);
});

t.run();
