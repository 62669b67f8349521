import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ArgumentError, FormatError } from '../../engine/errors.js';
import { WordPieceTokenizer } from '../../metatransformer/tokenizers/text/index.js';
import { assertRejects, assertThrows, compress } from '../helpers.js';

const t = suite('tokenizers: WordPiece');

// id = line index
const VOCAB = [
  '[PAD]', // 0
  '[UNK]', // 1
  '[CLS]', // 2
  '[SEP]', // 3
  'the', // 4
  'quick', // 5
  'brown', // 6
  'fox', // 7
  'un', // 8
  '##aff', // 9
  '##able', // 10
  ',', // 11
  '.', // 12
  '!', // 13
  '$', // 14
  'cafe', // 15
  '日', // 16
  '本', // 17
  'hello', // 18
  '##s', // 19
  'a', // 20
  '##a', // 21
  'The', // 22
  'café', // 23
  '¿', // 24
  'x', // 25
];
const vocabText = VOCAB.join('\n') + '\n';
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const uncased = (): Promise<WordPieceTokenizer> => WordPieceTokenizer.fromVocabFile(enc(vocabText));

t('words, punctuation and ## pieces', async () => {
  const tok = await uncased();
  assert.is(tok.vocabSize, VOCAB.length);
  assert.equal(tok.encode('The quick brown fox.'), [4, 5, 6, 7, 12]);
  assert.equal(tok.encode('unaffable'), [8, 9, 10]);
  assert.equal(tok.encode('hellos, hello!'), [18, 19, 11, 18, 13]);
  // $ is a symbol to Unicode but punctuation to BERT; ¿ is Unicode punctuation.
  assert.equal(tok.encode('$hello¿'), [14, 18, 24]);
  assert.equal(tok.basicTokenize("don't-stop"), ['don', "'", 't', '-', 'stop']);
});

t('unknown words become one [UNK]; words over 100 characters too', async () => {
  const tok = await uncased();
  assert.equal(tok.encode('xyzzy'), [1]);
  assert.equal(tok.encode('hellox the'), [1, 4]); // '##x' is missing, so the whole word is unknown
  assert.equal(tok.encode('a'.repeat(100)), [20, ...new Array<number>(99).fill(21)]);
  assert.equal(tok.encode('a'.repeat(101)), [1]);
  const short = await WordPieceTokenizer.fromVocabFile(enc(vocabText), { maxInputCharsPerWord: 3 });
  assert.equal(short.encode('fox quick'), [7, 1]);
});

t('lower-casing strips accents; CJK ideographs are split; controls dropped; whitespace splits', async () => {
  const tok = await uncased();
  assert.equal(tok.encode('CAFÉ Café cafe\u0301'), [15, 15, 15]);
  assert.equal(tok.encode('日本'), [16, 17]);
  assert.equal(tok.encode('hello日本fox'), [18, 16, 17, 7]);
  assert.equal(tok.encode('qu\u0007ick\u200b \u0000fox\ufffd'), [5, 7]);
  assert.equal(tok.encode('the\tquick\u00a0brown\u2028fox\r\n'), [4, 5, 6, 7]);
  assert.equal(tok.encode(''), []);
});

t('cased: no lower-casing, accents kept, NFC applied', async () => {
  const tok = await WordPieceTokenizer.fromVocabFile(enc(vocabText), { lowerCase: false });
  assert.equal(tok.encode('The the THE'), [22, 4, 1]);
  assert.equal(tok.encode('café cafe\u0301'), [23, 23]);
  const stripped = await WordPieceTokenizer.fromVocabFile(enc(vocabText), { lowerCase: false, stripAccents: true });
  assert.equal(stripped.encode('café'), [15]);
});

t('decode glues ## pieces and can skip markers', async () => {
  const tok = await uncased();
  assert.is(tok.decode([2, 4, 8, 9, 10, 11, 18, 19, 3, 0]), '[CLS] the unaffable , hellos [SEP] [PAD]');
  assert.is(tok.decode([2, 4, 8, 9, 10, 3, 0], { skipSpecialTokens: true }), 'the unaffable');
  assert.is(tok.decode([19, 4]), '##s the');
  assert.is(tok.decode(new Int32Array([1])), '[UNK]');
});

t('encodeBatch: [CLS] ... [SEP], [PAD] padding, masks, truncation keeps [SEP]', async () => {
  const tok = await uncased();
  const batch = tok.encodeBatch(['the fox', 'the quick brown fox.'], { contextLength: 5 });
  assert.equal([...batch.ids], [2, 4, 7, 3, 0, 2, 4, 5, 6, 3]);
  assert.equal([...batch.attentionMask], [1, 1, 1, 1, 0, 1, 1, 1, 1, 1]);
  assert.equal([...batch.lengths], [4, 5]);
  assert.is(tok.encodeBatch(['fox']).ids.length, 512);
  assert.throws(
    () => tok.encodeBatch(['the fox', 'the quick brown fox.'], { contextLength: 5, truncate: false }),
    (e: unknown) => e instanceof ArgumentError && /text 1 is 7 tokens/.test(e.message),
  );
});

t('loads gzip and CRLF vocab files', async () => {
  const gz = await compress(vocabText.replace(/\n/g, '\r\n'), 'gzip');
  const tok = await WordPieceTokenizer.fromVocabFile(gz);
  assert.is(tok.vocabSize, VOCAB.length);
  assert.equal(tok.encode('unaffable fox'), [8, 9, 10, 7]);
  assert.is(tok.idToToken(23), 'café');
  assert.is((await WordPieceTokenizer.fromVocabFile(enc(VOCAB.join('\n')))).vocabSize, VOCAB.length);
});

t('bad vocabularies: FormatError naming the line or token', async () => {
  await assertRejects(WordPieceTokenizer.fromVocabFile(enc('[PAD]\n[UNK]\nfox\n[CLS]\nfox\n[SEP]\n')), FormatError, /line 5: token 'fox' repeats line 3/);
  await assertRejects(WordPieceTokenizer.fromVocabFile(enc('[PAD]\n\n[UNK]\n')), FormatError, /line 2: empty token/);
  await assertRejects(WordPieceTokenizer.fromVocabFile(enc('[PAD]\n[CLS]\n[SEP]\n')), FormatError, /'\[UNK\]' is missing/);
  await assertRejects(WordPieceTokenizer.fromVocabFile(enc(vocabText), { padToken: '<pad>' }), FormatError, /'<pad>' is missing/);
  await assertRejects(WordPieceTokenizer.fromVocabFile(new Uint8Array([0x5b, 0xc3, 0x28])), FormatError, /not valid UTF-8/);
});

t('bad arguments: ArgumentError', async () => {
  const tok = await uncased();
  assertThrows(() => tok.decode([26]), ArgumentError, /id 26 at position 0/);
  assertThrows(() => tok.decode([-1]), ArgumentError, /id -1/);
  assertThrows(() => tok.encode(5 as unknown as string), ArgumentError, /expected a string/);
  assertThrows(() => tok.encodeBatch(['a'], { contextLength: 0 }), ArgumentError, /contextLength/);
  assertThrows(() => new WordPieceTokenizer(VOCAB, { maxInputCharsPerWord: 0 }), ArgumentError, /maxInputCharsPerWord/);
});

t.run();
