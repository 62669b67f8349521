import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ag from '../../autograd/index.js';
import { ArgumentError, ShapeError } from '../../engine/errors.js';
import { hostTensor } from '../../nn/checkpoint/index.js';
import { TextEmbedding } from '../../metatransformer/tokenizers/text-embedding.js';
import { WordPieceTokenizer } from '../../metatransformer/tokenizers/text/index.js';
import { assertClose, assertThrows, fixtureJSON, testDevice } from '../helpers.js';

interface Named {
  shape: number[];
  data: number[];
}
interface TextFixture {
  dim: number;
  vocabSize: number;
  contextLength: number;
  params: Record<string, Named>;
  cases: { ids: number[]; attentionMask: number[]; length: number; out: Named; w: number[]; grads: Record<string, number[]> }[];
}

const t = suite('metatransformer: text embedding against PyTorch (test/fixtures/gen_tokenizers_vision.py)');
let fx: TextFixture;
t.before(async () => {
  await testDevice();
  fx = (await fixtureJSON<{ clip: TextFixture }>('tokenizers_text.json')).clip;
});

const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'a', 'cat', 'sat', 'on', 'the', 'mat', '##s', '.'];

function loaded(options: Partial<ConstructorParameters<typeof TextEmbedding>[0]> = {}): TextEmbedding {
  const emb = new TextEmbedding({ dim: fx.dim, vocabSize: fx.vocabSize, contextLength: fx.contextLength, ...options });
  const sd = new Map(Object.entries(fx.params).map(([k, v]) => [k, hostTensor('f32', v.shape, Float32Array.from(v.data))]));
  assert.equal(emb.loadStateDict(sd), { missing: [], unexpected: [], mismatched: [] });
  return emb;
}

/** Host reference: token_embedding[id] + positional_embedding[position] (one f32 addition per value). */
function reference(ids: ArrayLike<number>, length: number): number[] {
  const { dim } = fx;
  const table = fx.params['token_embedding.weight']!.data;
  const pos = fx.params['positional_embedding']!.data;
  return Array.from(ids).flatMap((id, i) => Array.from({ length: dim }, (_, d) => Math.fround(table[id * dim + d]! + pos[(i % length) * dim + d]!)));
}

t('CLIP token_embedding + positional_embedding: output and gradients match PyTorch', async () => {
  const c = fx.cases[0]!;
  const emb = loaded();
  assert.ok(emb.hasClsToken);
  const { tokens, paddingMask } = emb.forward({ ids: Int32Array.from(c.ids), attentionMask: Uint8Array.from(c.attentionMask), contextLength: c.length });
  assert.equal(tokens.shape, c.out.shape);
  assert.equal(Array.from(await paddingMask!.data()), c.attentionMask.map((m) => 1 - m));
  const w = ag.tensor(c.w, c.out.shape);
  const loss = ag.sum(ag.mul(tokens, w));
  ag.backward(loss);
  // One f32 addition per output; gradients are sums of at most a few products (repeated ids): 1e-5 is ample.
  const tol = { atol: 1e-5, rtol: 1e-5 };
  assertClose(await tokens.data(), c.out.data, { ...tol, what: 'tokens' });
  for (const [name, p] of emb.namedParameters()) assertClose(await p.grad!.data(), c.grads[name]!, { ...tol, what: `d/d${name}` });
  for (const v of [tokens, paddingMask!, w, loss]) v.dispose();
  emb.dispose();
});

t('strings go through the tokenizer: [CLS] first, padding flagged, optional trimming to the longest row', async () => {
  const wordpiece = new WordPieceTokenizer(VOCAB);
  const texts = ['The cats sat on a mat.', 'a cat'];
  const expectedRows = wordpiece.encodeBatch(texts, { contextLength: fx.contextLength });
  const emb = loaded({ tokenizer: wordpiece });
  const { tokens, paddingMask } = emb.forward(texts);
  assert.equal(tokens.shape, [2, fx.contextLength, fx.dim]);
  assert.is(expectedRows.ids[0], wordpiece.clsId);
  assertClose(await tokens.data(), reference(expectedRows.ids, fx.contextLength), { atol: 1e-6, rtol: 1e-6, what: 'tokens from strings' });
  assert.equal(Array.from(await paddingMask!.data()), Array.from(expectedRows.attentionMask, (m) => 1 - m));
  // 'The cats sat on a mat.' is 9 ids with the markers: truncated to 8, ending in [SEP] as CLIP truncates.
  assert.is(expectedRows.ids[fx.contextLength - 1], wordpiece.sepId);
  tokens.dispose();
  paddingMask!.dispose();
  emb.dispose();

  const trimming = loaded({ tokenizer: wordpiece, pad: 'longest' });
  const short = trimming.forward(['a cat', 'mat']);
  // [CLS] a cat [SEP] is the longest row: 4 positions.
  assert.equal(short.tokens.shape, [2, 4, fx.dim]);
  assert.equal(Array.from(await short.paddingMask!.data()), [0, 0, 0, 0, 0, 0, 0, 1]);
  const rows = wordpiece.encodeBatch(['a cat', 'mat'], { contextLength: 4 });
  assertClose(await short.tokens.data(), reference(rows.ids, 4), { atol: 1e-6, rtol: 1e-6, what: 'trimmed tokens' });
  short.tokens.dispose();
  short.paddingMask!.dispose();
  trimming.dispose();
});

t('vocabSize defaults to the tokenizer\'s; CLIP initial scales', async () => {
  const emb = new TextEmbedding({ dim: 4, tokenizer: new WordPieceTokenizer(VOCAB), contextLength: 6 });
  assert.is(emb.vocabSize, VOCAB.length);
  assert.equal(emb.namedParameters().map(([n, p]) => [n, p.shape]), [['positional_embedding', [6, 4]], ['token_embedding.weight', [12, 4]]]);
  const weights = (await emb.token_embedding.weight.data()) as Float32Array;
  const tokenStd = Math.sqrt(weights.reduce((s, v) => s + v * v, 0) / weights.length);
  assert.ok(tokenStd > 0.005 && tokenStd < 0.05, `token_embedding std ${tokenStd} is near CLIP's 0.02`);
  emb.dispose();
});

t('error paths', () => {
  const bare = new TextEmbedding({ dim: 4, vocabSize: 10, contextLength: 4 });
  assertThrows(() => bare.forward(['hello']), ArgumentError, /no tokenizer was given; pass token ids/);
  assertThrows(() => bare.forward({ ids: Int32Array.from([2, 10, 3, 0]), attentionMask: Uint8Array.from([1, 1, 1, 0]), contextLength: 4 }), ArgumentError,
    /id 10 at row 0, position 1 is outside the vocabulary \[0, 10\)/);
  assertThrows(() => bare.forward({ ids: new Int32Array(10), attentionMask: new Uint8Array(10), contextLength: 5 }), ShapeError,
    /rows \[2,5\] are longer than positional_embedding \[4,4\] allows/);
  assertThrows(() => bare.forward({ ids: new Int32Array(6), attentionMask: new Uint8Array(6), contextLength: 4 }), ShapeError, /6 ids do not form non-empty rows of contextLength 4/);
  assertThrows(() => bare.forward({ ids: new Int32Array(4), attentionMask: new Uint8Array(3), contextLength: 4 }), ShapeError, /attentionMask has 3 entries for 4 ids/);
  assertThrows(() => bare.forward({ ids: [1, 2] as unknown as Int32Array, attentionMask: new Uint8Array(2), contextLength: 2 }), ArgumentError,
    /ids as an Int32Array and attentionMask as a Uint8Array/);
  bare.dispose();
  assertThrows(() => new TextEmbedding({ dim: 4, vocabSize: 5, pad: 'max' as 'longest' }), ArgumentError, /pad must be 'context' or 'longest', got 'max'/);
  const withTokenizer = new TextEmbedding({ dim: 4, tokenizer: new WordPieceTokenizer(VOCAB), contextLength: 4 });
  assertThrows(() => withTokenizer.forward([]), ArgumentError, /non-empty batch of texts/);
  withTokenizer.dispose();
  assertThrows(() => new TextEmbedding({ dim: 4 }), ArgumentError, /give vocabSize or a tokenizer/);
  assertThrows(() => new TextEmbedding({ dim: 4, vocabSize: 5, tokenizer: new WordPieceTokenizer(VOCAB) }), ArgumentError, /vocabSize 5 is smaller than the tokenizer's 12/);
  assertThrows(() => new TextEmbedding({ dim: 4, vocabSize: 5, contextLength: 1 }), ArgumentError, /contextLength 1 leaves no room/);
});

t.run();
