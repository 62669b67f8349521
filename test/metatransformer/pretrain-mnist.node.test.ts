// The long pre-training run lives in its own Node-only file: ~60 s of GPU work on lavapipe is worth running once
// per CI, not again in the browser suite, which already covers the CLIP model's pieces (pretrain.test.ts).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ag from '../../autograd/index.js';
import { ArgumentError } from '../../engine/errors.js';
import { Generator } from '../../engine/random.js';
import { tidy } from '../../engine/tensor.js';
import { imuActivities } from '../../metatransformer/data/generated.js';
import { ClassificationHead } from '../../metatransformer/heads.js';
import { MetaTransformer } from '../../metatransformer/model.js';
import { DIGIT_PROMPT_TEMPLATES, DIGIT_WORDS, randomDigitCaption } from '../../metatransformer/pretrain/captions.js';
import { retrievalMetrics, zeroShotClassify } from '../../metatransformer/pretrain/evaluate.js';
import { buildMnistClip, mnistCaptionPairs, mnistSplits } from '../../metatransformer/pretrain/mnist.js';
import { pretrainClip } from '../../metatransformer/pretrain/train.js';
import { TimeSeriesTokenizer } from '../../metatransformer/tokenizers/timeseries.js';
import { evaluate, fit } from '../../metatransformer/train.js';
import { assertRejects, testDevice } from '../helpers.js';

const t = suite('metatransformer: CLIP pre-training on MNIST (Node)');
t.before(async () => {
  await testDevice();
});

t('pre-training on MNIST captions gives zero-shot accuracy far above chance, and the frozen encoder serves another modality', async () => {
  // Measured (lavapipe, seeds fixed): zero-shot 0.49-0.50 on 300 held-out digits after 120 steps on 1,000 digits
  // (10 classes: chance 0.1); class-level recall@1 image->text 0.49, text->image 0.63; the frozen encoder under
  // a fresh IMU tokenizer reaches 0.725 (chance 0.2). Pre-training took ~180 s with the machine's load average
  // at ~18 (other jobs), an estimated ~60 s on an idle machine.
  const { model, encoder } = buildMnistClip({ dim: 64, depth: 2, heads: 4, patchSize: 7, textDepth: 1 });
  const { train, test } = await mnistSplits({ trainPerClass: 100, testPerClass: 30 });
  const pairs = mnistCaptionPairs(train, { batchSize: 64, seed: 2 });
  const run = await pretrainClip(model, pairs, { epochs: 8, lr: 5e-3 });
  assert.is(run.steps, 8 * 15);
  assert.ok(run.epochs[7]!.loss < run.epochs[0]!.loss - 0.5, `loss ${run.epochs[0]!.loss} -> ${run.epochs[7]!.loss}`);
  model.eval();
  const zs = await zeroShotClassify(model, test.inputs, DIGIT_WORDS, { templates: DIGIT_PROMPT_TEMPLATES, labels: test.labels });
  assert.ok(zs.accuracy! >= 0.4, `zero-shot accuracy ${zs.accuracy} on held-out digits (chance 0.1)`);
  assert.is(zs.predictions.length, test.inputs.length);
  const g = new Generator(9);
  const [img, txt] = tidy(() => ag.noGrad(() => [model.encodeImage(test.inputs), model.encodeText(test.labels.map((l) => randomDigitCaption(l, g)))]));
  const r = await retrievalMetrics(img!, txt!, { groups: test.labels });
  // Class-level recall (a caption of the image's digit counts): chance is 0.1 at k = 1.
  assert.ok(r.imageToText.recallAt1 > 0.3 && r.textToImage.recallAt1 > 0.3, JSON.stringify(r));
  assert.ok(r.imageToText.recallAt5 >= r.imageToText.recallAt1 && r.textToImage.recallAt5 >= r.textToImage.recallAt1, JSON.stringify(r));
  img!.dispose();
  txt!.dispose();
  await assertRejects(zeroShotClassify(model, test.inputs, ['zero']), ArgumentError, /at least 2 class prompts/);
  await assertRejects(zeroShotClassify(model, test.inputs, DIGIT_WORDS, { templates: ['no slot'] }), ArgumentError, /\{c\} slot/);
  await assertRejects(zeroShotClassify(model, test.inputs, DIGIT_WORDS, { labels: [1] }), ArgumentError, /but 1 labels/);
  await assertRejects(zeroShotClassify(model, test.inputs, DIGIT_WORDS, { batchSize: 0 }), ArgumentError, /batchSize/);
  await assertRejects(pretrainClip(model, pairs, { epochs: 0 }), ArgumentError, /epochs must be a positive integer/);
  await assertRejects(pretrainClip(model, pairs, { epochs: 1, warmupSteps: 15 }), ArgumentError, /warmupSteps/);

  // Reuse: the pre-trained encoder, frozen, under an IMU tokenizer and a classification head.
  const before = Array.from((await encoder.blocks[0]!.attn.qkv.weight.data()) as Float32Array);
  const imu = imuActivities({ perClass: 30, seed: 3 });
  const tokenizer = new TimeSeriesTokenizer({ dim: 64, channels: 6, mode: 'patch', patchLen: 16, stride: 16, seqLen: 128, modality: 'imu', generator: new Generator(4) });
  const head = new ClassificationHead({ dim: 64, numClasses: imu.classNames.length, pooling: 'mean', generator: new Generator(5) });
  const imuModel = new MetaTransformer({ tokenizer, encoder, head }).freezeEncoder();
  await fit(imuModel, imu.train, { task: 'classification', epochs: 10, batchSize: 28, lr: 5e-3 });
  const { accuracy } = await evaluate(imuModel, imu.test, 'classification');
  assert.ok(accuracy! >= 0.6, `IMU accuracy ${accuracy} with the frozen encoder (chance 0.2)`);
  assert.equal(Array.from((await encoder.blocks[0]!.attn.qkv.weight.data()) as Float32Array), before, 'the frozen encoder did not change');
  tokenizer.dispose();
  head.dispose();
  model.dispose();
});

t.run();
