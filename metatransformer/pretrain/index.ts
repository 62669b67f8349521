/** CLIP-style contrastive pre-training of the Meta-Transformer encoder, its evaluation, and encoder files. */
export {
  ClipModel, ClipVisual, LOGIT_SCALE_INIT, LOGIT_SCALE_MAX, TextTransformer, causalMask, l2Normalize, lastValidToken,
  type ClipModelOptions, type SequenceEncoder, type TextTransformerOptions,
} from './clip.js';
export { ImageCaptionPairs, type CaptionBatch, type CaptionPairOptions } from './pairs.js';
export { pretrainClip, type EpochStats, type PretrainOptions, type PretrainResult } from './train.js';
export { fillTemplate, retrievalMetrics, zeroShotClassify, type RecallAtK, type RetrievalMetrics, type ZeroShotOptions, type ZeroShotResult } from './evaluate.js';
export { DIGIT_PROMPT_TEMPLATES, DIGIT_WORDS, digitCaptionCorpus, digitCaptions, randomDigitCaption } from './captions.js';
export {
  ENCODER_FILE_FORMAT, SHIPPED_ENCODER_URL, encoderCheckpoint, loadPretrainedEncoder, readEncoderInfo, type EncoderArchitecture,
  type PretrainedEncoderInfo,
} from './checkpoint.js';
export {
  MNIST_MAX_PER_CLASS, MNIST_MEAN, MNIST_STD, SHIPPED_ENCODER_RECIPE, buildMnistClip, mnistCaptionPairs, mnistGrid, mnistSplits,
  pretrainMnistEncoder, type LabelledGrids, type MnistClip, type MnistClipConfig, type MnistEncoderRecipe, type MnistEncoderResult,
} from './mnist.js';
