import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ag from '../../autograd/index.js';
import { ArgumentError, FormatError, ShapeError } from '../../engine/errors.js';
import { readBytes } from '../../engine/platform.js';
import { Generator } from '../../engine/random.js';
import { tidy, type Tensor } from '../../engine/tensor.js';
import { writeSafetensors } from '../../nn/checkpoint/index.js';
import { saveSafetensors } from '../../nn/index.js';
import { MetaTransformerEncoder } from '../../metatransformer/encoder.js';
import { digitCaptionCorpus, digitCaptions, randomDigitCaption } from '../../metatransformer/pretrain/captions.js';
import { ENCODER_FILE_FORMAT, SHIPPED_ENCODER_URL, encoderCheckpoint, loadPretrainedEncoder, readEncoderInfo } from '../../metatransformer/pretrain/checkpoint.js';
import { ClipModel, LOGIT_SCALE_INIT, LOGIT_SCALE_MAX, TextTransformer, causalMask, lastValidToken } from '../../metatransformer/pretrain/clip.js';
import { fillTemplate, retrievalMetrics } from '../../metatransformer/pretrain/evaluate.js';
import { buildMnistClip, mnistSplits } from '../../metatransformer/pretrain/mnist.js';
import { ImageCaptionPairs } from '../../metatransformer/pretrain/pairs.js';
import { Tokenizer, type TokenBatch } from '../../metatransformer/types.js';
import type { Grid } from '../../metatransformer/data/types.js';
import { assertClose, testDevice } from '../helpers.js';

const t = suite('metatransformer: CLIP pre-training');
t.before(async () => {
  await testDevice();
});

function throwsType(fn: () => unknown, type: new (...args: never[]) => Error, pattern: RegExp): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, type);
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected ${type.name} matching ${pattern}`);
}

async function rejectsType(p: Promise<unknown>, type: new (...args: never[]) => Error, pattern: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, type);
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected ${type.name} matching ${pattern}`);
}

t('captions: templates, numerals and paraphrases per digit; a BPE trained on them round-trips', () => {
  const three = digitCaptions(3);
  for (const c of ['a photo of the digit three', 'a handwritten 3', 'the number three written by hand']) assert.ok(three.includes(c), c);
  assert.ok(three.every((c) => c.includes('three') || c.includes('3')), 'every caption names its digit');
  assert.is(digitCaptionCorpus().length, 10 * three.length);
  throwsType(() => digitCaptions(10), ArgumentError, /digit must be an integer 0\.\.9/);
  throwsType(() => digitCaptions(1.5), ArgumentError, /integer/);
  const g = new Generator(3);
  assert.ok(three.includes(randomDigitCaption(3, g)));
  assert.is(fillTemplate('a {c} and a {c}', 'one'), 'a one and a one');
  const { textTokenizer } = buildMnistClip({ dim: 16, depth: 1, heads: 2, patchSize: 7, textDepth: 1 });
  for (const c of digitCaptionCorpus()) assert.is(textTokenizer.decode(textTokenizer.encode(c)), c.replace(':', ' :').replace(',', ' ,'));
  // Words of the corpus become single tokens: the vocabulary was trained on exactly these captions.
  assert.is(textTokenizer.encode('a photo of the digit three').length, 6);
});

t('ImageCaptionPairs: full shuffled batches, fresh captions each epoch, every input once', () => {
  const inputs = Array.from({ length: 10 }, (_, i) => i);
  const labels = inputs.map((i) => i % 3);
  const pairs = new ImageCaptionPairs(inputs, labels, (l, g) => `class ${l} #${g.int(1000)}`, { batchSize: 4, seed: 5 });
  assert.is(pairs.batchesPerEpoch, 2);
  const e1 = [...pairs.epoch()];
  const e2 = [...pairs.epoch()];
  for (const epoch of [e1, e2]) {
    assert.is(epoch.length, 2);
    const seen = epoch.flatMap((b) => b.inputs);
    assert.is(new Set(seen).size, 8, 'no input twice in an epoch');
    for (const b of epoch) b.inputs.forEach((x, i) => (assert.is(b.labels[i], x % 3), assert.ok(b.captions[i]!.startsWith(`class ${x % 3} `))));
  }
  assert.not.equal(e1.map((b) => b.inputs), e2.map((b) => b.inputs), 'epochs are shuffled differently');
  const keepLast = new ImageCaptionPairs(inputs, labels, () => 'x', { batchSize: 4, dropLast: false });
  assert.equal([...keepLast.epoch()].map((b) => b.inputs.length), [4, 4, 2]);
  throwsType(() => new ImageCaptionPairs(inputs, [1], () => 'x', { batchSize: 4 }), ArgumentError, /10 inputs but 1 labels/);
  throwsType(() => new ImageCaptionPairs(inputs, labels, () => 'x', { batchSize: 1 }), ArgumentError, /batchSize must be an integer >= 2/);
  throwsType(() => new ImageCaptionPairs(inputs, labels, () => 'x', { batchSize: 16 }), ArgumentError, /no full batch of 16/);
});

t('TextTransformer is causal: a token never sees the tokens after it', async () => {
  const g = new Generator(7);
  const enc = new TextTransformer({ dim: 16, depth: 2, heads: 2, generator: g });
  const a = ag.randn([2, 5, 16], { generator: g });
  const tail = ag.randn([2, 2, 16], { generator: g });
  const [ya, yb] = tidy(() => {
    const b = ag.concat([ag.narrow(a, 1, 0, 3), tail], 1);
    return [enc.forward(a), enc.forward(b)];
  });
  const head = (y: Tensor) => tidy(() => ag.contiguous(ag.narrow(y, 1, 0, 3)));
  const [ha, hb] = [head(ya!), head(yb!)];
  // Identical inputs through identical kernels: the prefix outputs agree to rounding of the masked softmax.
  assertClose((await ha.data()) as Float32Array, (await hb.data()) as Float32Array, { atol: 1e-5, rtol: 1e-5, what: 'outputs of the shared prefix' });
  const last = tidy(() => ag.contiguous(ag.narrow(ya!, 1, 4, 1)));
  const lastB = tidy(() => ag.contiguous(ag.narrow(yb!, 1, 4, 1)));
  const [la, lb] = [(await last.data()) as Float32Array, (await lastB.data()) as Float32Array];
  assert.ok(la.some((v, i) => Math.abs(v - lb[i]!) > 1e-3), 'the last token does see the changed tokens');
  for (const x of [a, tail, ya!, yb!, ha, hb, last, lastB]) x.dispose();
  throwsType(() => enc.forward(ag.zeros([1, 3, 8])), ShapeError, /must be \[B, T, 16\]/);
  throwsType(() => new TextTransformer({ dim: 16, depth: 0, heads: 2 }), ArgumentError, /depth must be a positive integer/);
  const m = causalMask(3);
  assert.equal(Array.from((await m.data()) as Float32Array), [0, -Infinity, -Infinity, 0, 0, -Infinity, 0, 0, 0]);
  m.dispose();
  enc.dispose();
});

t('lastValidToken picks each row\'s last unpadded token and passes the gradient to it only', async () => {
  const x = ag.tensor(Array.from({ length: 2 * 4 * 3 }, (_, i) => i), [2, 4, 3]);
  x.requiresGrad = true;
  const mask = ag.tensor([0, 0, 1, 1, 0, 0, 0, 0], [2, 4], { dtype: 'u32' });
  const picked = tidy(() => {
    const y = lastValidToken(x, mask);
    ag.backward(ag.sum(y));
    return y;
  });
  assert.equal(Array.from((await picked.data()) as Float32Array), [3, 4, 5, 21, 22, 23]);
  const grad = Array.from((await x.grad!.data()) as Float32Array);
  assert.equal(grad, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
  const noMask = tidy(() => lastValidToken(x));
  assert.equal(Array.from((await noMask.data()) as Float32Array), [9, 10, 11, 21, 22, 23]);
  throwsType(() => lastValidToken(x, ag.zeros([2, 3], { dtype: 'u32' })), ShapeError, /paddingMask must be \[2, 4\]/);
  for (const v of [x, mask, picked, noMask]) v.dispose();
});

/** A tokenizer without a CLS token, for the constructor's check. */
class NoClsTokenizer extends Tokenizer<Grid> {
  readonly modality = 'image' as const;
  readonly dim = 16;
  readonly hasClsToken = false;
  forward(): TokenBatch {
    return { tokens: ag.zeros([1, 1, 16]) };
  }
}

t('ClipModel: loss, a learnable logit scale clamped at ln 100, and its argument checks', async () => {
  const { model } = buildMnistClip({ dim: 16, depth: 1, heads: 2, patchSize: 7, textDepth: 1, embedDim: 8 });
  const { train } = await mnistSplits({ trainPerClass: 1, testPerClass: 1 });
  const captions = train.labels.map((l) => digitCaptions(l)[0]!);
  assertClose([await model.logit_scale.item()], [LOGIT_SCALE_INIT], { atol: 1e-6, what: 'initial logit scale' });
  const loss = tidy(() => {
    const l = model.loss(train.inputs, captions);
    ag.backward(l);
    return l;
  });
  const value = await loss.item();
  // Ten pairs with untrained embeddings: close to the chance loss ln 10.
  assert.ok(Number.isFinite(value) && Math.abs(value - Math.log(10)) < 1.5, `loss ${value}`);
  assert.ok(model.logit_scale.grad !== null, 'the logit scale is learnable');
  assert.ok(model.visual.encoder.parameters().every((p) => p.grad !== null), 'the encoder gets gradients');
  for (const p of model.parameters()) (p.grad?.dispose(), (p.grad = null));
  loss.dispose();
  const emb = tidy(() => ag.noGrad(() => model.encodeImage(train.inputs.slice(0, 3))));
  const norms = tidy(() => ag.sqrt(ag.sum(ag.square(emb), -1)));
  assertClose((await norms.data()) as Float32Array, [1, 1, 1], { atol: 1e-5, what: 'image embeddings are unit vectors' });
  const txt = tidy(() => ag.noGrad(() => model.encodeText(['a 3', 'a photo of the digit seven'])));
  assert.equal(txt.shape, [2, 8]);
  // Clamp: a scale past ln 100 is used as ln 100 and gets no gradient.
  const big = ag.fromFlat([6], [], 'f32');
  big.requiresGrad = true;
  const saved = model.logit_scale;
  model.logit_scale = big;
  const clamped = tidy(() => {
    const c = model.clampedLogitScale();
    ag.backward(c);
    return c;
  });
  assertClose([await clamped.item()], [LOGIT_SCALE_MAX], { atol: 1e-6, what: 'clamped scale' });
  assert.is(await big.grad!.item(), 0);
  model.logit_scale = saved;
  for (const v of [emb, norms, txt, clamped, big]) v.dispose();
  throwsType(() => model.loss(train.inputs.slice(0, 2), ['a 1']), ArgumentError, /2 images but 1 captions/);
  throwsType(() => model.loss(train.inputs.slice(0, 1), ['a 1']), ArgumentError, /at least 2 pairs/);
  const textEncoder = new TextTransformer({ dim: 32, depth: 1, heads: 2 });
  throwsType(
    () => new ClipModel({ imageTokenizer: model.visual.tokenizer, imageEncoder: model.visual.encoder, textEmbedding: model.textEmbedding, textEncoder, embedDim: 8 }),
    ArgumentError,
    /text embedding width 16 differs from the text encoder's 32/,
  );
  throwsType(
    () => new ClipModel({ imageTokenizer: new NoClsTokenizer(), imageEncoder: model.visual.encoder, textEmbedding: model.textEmbedding, textEncoder: model.transformer, embedDim: 8 }),
    ArgumentError,
    /must prepend a CLS token/,
  );
  throwsType(
    () => new ClipModel({ imageTokenizer: model.visual.tokenizer, imageEncoder: model.visual.encoder, textEmbedding: model.textEmbedding, textEncoder: model.transformer, embedDim: 0 }),
    ArgumentError,
    /embedDim must be a positive integer/,
  );
  textEncoder.dispose();
  model.dispose();
});

t('retrievalMetrics: recall@1/5 both ways, pessimistic ties, class groups', async () => {
  // 6 pairs in 2-D: image i at angle i, text i at angle i except texts 0 and 1 swapped.
  const angle = (k: number) => [Math.cos(k), Math.sin(k)];
  const img = ag.tensor([0, 1, 2, 3, 4, 5].flatMap((k) => angle(k * 0.5)), [6, 2]);
  const txt = ag.tensor([1, 0, 2, 3, 4, 5].flatMap((k) => angle(k * 0.5)), [6, 2]);
  const m = await retrievalMetrics(img, txt);
  assertClose([m.imageToText.recallAt1, m.textToImage.recallAt1], [4 / 6, 4 / 6], { atol: 1e-9, what: 'recall@1' });
  assert.equal([m.imageToText.recallAt5, m.textToImage.recallAt5], [1, 1]);
  const grouped = await retrievalMetrics(img, txt, { groups: [0, 0, 1, 1, 2, 2] });
  assert.equal(grouped.imageToText.recallAt1, 1, 'the swapped pair is in one group');
  // Identical texts tie: the relevant one does not win the tie.
  const same = ag.tensor([1, 0, 1, 0], [2, 2]);
  const tie = await retrievalMetrics(same, same);
  assert.equal(tie.imageToText.recallAt1, 0);
  await rejectsType(retrievalMetrics(img, ag.zeros([5, 2])), ShapeError, /must both be \[N, D\]/);
  await rejectsType(retrievalMetrics(img, txt, { groups: [0] }), ArgumentError, /6 pairs but 1 group ids/);
  await rejectsType(retrievalMetrics(ag.zeros([0, 2]), ag.zeros([0, 2])), ShapeError, /no pairs/);
  for (const v of [img, txt, same]) v.dispose();
});

t('encoder files: blocks under official names plus metadata, loaded back exactly', async () => {
  const encoder = new MetaTransformerEncoder({ dim: 32, depth: 2, heads: 4, generator: new Generator(8) });
  const info = { data: 'test data', training: { lr: 0.001, note: 'x' }, epochs: 2, seconds: 3, zeroShotAccuracy: 0.5, date: '2024-01-01' };
  const bytes = await encoderCheckpoint(encoder, info);
  const back = await readEncoderInfo(bytes);
  assert.equal(back.config, { dim: 32, depth: 2, heads: 4, mlpRatio: 4 });
  assert.equal({ ...back.training }, info.training);
  assert.equal([back.data, back.epochs, back.seconds, back.zeroShotAccuracy, back.date], ['test data', 2, 3, 0.5, '2024-01-01']);
  const { encoder: loaded } = await loadPretrainedEncoder(bytes);
  assert.is(loaded.heads, 4, 'heads come from the metadata (width / 64 would give 0.5)');
  assert.equal([...loaded.stateDict().keys()].slice(0, 3), ['0.norm1.weight', '0.norm1.bias', '0.attn.qkv.weight']);
  const x = ag.randn([2, 5, 32], { generator: new Generator(9) });
  const [a, b] = tidy(() => ag.noGrad(() => [encoder.forward(x), loaded.forward(x)]));
  assertClose((await b!.data()) as Float32Array, (await a!.data()) as Float32Array, { atol: 0, rtol: 0, what: 'same weights, same outputs' });
  for (const v of [x, a!, b!]) v.dispose();
  loaded.dispose();

  // Malformed metadata: each field is checked.
  const weights = new Map([['0.attn.qkv.weight', { dtype: 'f32' as const, shape: [96, 32], data: new Float32Array(96 * 32) }]]);
  const good: Record<string, string> = {
    format: ENCODER_FILE_FORMAT, config: JSON.stringify({ dim: 32, depth: 1, heads: 4, mlpRatio: 4 }), data: 'd', training: '{}',
    epochs: '1', seconds: '1', zero_shot_accuracy: '0.5', date: 'd',
  };
  const file = (patch: Record<string, string | undefined>) => {
    const m = new Map(Object.entries({ ...good, ...patch }).filter((e): e is [string, string] => e[1] !== undefined));
    return writeSafetensors(weights, m);
  };
  await rejectsType(readEncoderInfo(file({ format: undefined })), FormatError, /no 'format' metadata entry/);
  await rejectsType(readEncoderInfo(file({ format: 'other' })), FormatError, /has format 'other'/);
  await rejectsType(readEncoderInfo(file({ config: '{' })), FormatError, /'config' is not JSON/);
  await rejectsType(readEncoderInfo(file({ config: '[1]' })), FormatError, /'config' is not a JSON object/);
  await rejectsType(readEncoderInfo(file({ config: JSON.stringify({ dim: 32, depth: 1, heads: -1, mlpRatio: 4 }) })), FormatError, /config\.heads' must be a positive integer/);
  await rejectsType(readEncoderInfo(file({ config: JSON.stringify({ dim: 32, depth: 1, heads: 4 }) })), FormatError, /config\.mlpRatio/);
  await rejectsType(readEncoderInfo(file({ epochs: 'many' })), FormatError, /'epochs' is not a number/);
  const hostile = await readEncoderInfo(file({ training: '{"__proto__": 1, "constructor": {"x": 1}, "lr": 2}' }));
  assert.is(hostile.training.lr, 2);
  assert.is(({} as Record<string, unknown>).x, undefined, 'no prototype was touched');
  const lying = await saveSafetensors(encoder, { metadata: new Map(Object.entries({ ...good, config: JSON.stringify({ dim: 32, depth: 3, heads: 4, mlpRatio: 4 }) })) });
  await rejectsType(loadPretrainedEncoder(lying), FormatError, /metadata says 32 wide and 3 deep, the weights are 32 wide, 2 deep/);
  encoder.dispose();
});

t('the shipped encoder loads from SHIPPED_ENCODER_URL and its metadata records how it was made', async () => {
  // A file: URL under Node; in the browser bundle, the same path under the page's origin.
  const bytes = await readBytes(SHIPPED_ENCODER_URL);
  assert.ok(bytes.length < 2 * 1024 * 1024, `${bytes.length} bytes`);
  const { encoder, info } = await loadPretrainedEncoder(bytes);
  assert.equal([encoder.dim, encoder.depth, encoder.heads], [info.config.dim, info.config.depth, info.config.heads]);
  assert.ok(info.zeroShotAccuracy > 0.5, `recorded zero-shot accuracy ${info.zeroShotAccuracy}`);
  assert.ok(info.epochs >= 1 && info.seconds > 0 && /MNIST/.test(info.data));
  const y = tidy(() => ag.noGrad(() => encoder.forward(ag.randn([1, 17, encoder.dim], { generator: new Generator(1) }))));
  assert.ok(Array.from((await y.data()) as Float32Array).every(Number.isFinite));
  y.dispose();
  encoder.dispose();
});

t.run();
