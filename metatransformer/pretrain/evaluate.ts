/**
 * Evaluating a contrastively trained model without training anything further: zero-shot classification
 * (each class is the text embedding of its prompts; an image takes the class whose embedding is nearest)
 * and cross-modal retrieval recall@k.
 */
import * as ag from '../../autograd/index.js';
import { expectOptions, optionKeys } from '../../engine/arguments.js';
import { ArgumentError, ShapeError, fmtShape } from '../../engine/errors.js';
import { tidy, type Tensor } from '../../engine/tensor.js';
import { l2Normalize, type ClipModel } from './clip.js';

/** Fills every `{c}` of `template` with `value`. */
export function fillTemplate(template: string, value: string): string {
  return template.replaceAll('{c}', value);
}

export interface ZeroShotOptions {
  /**
   * Prompt templates with a `{c}` slot for the class prompt; a class's embedding is the normalised mean
   * of its templates' embeddings (CLIP's prompt ensembling). Default: the class prompts as they are.
   */
  templates?: readonly string[];
  /** True class of each image; with them the result carries the accuracy. */
  labels?: readonly number[];
  /** Images encoded per forward pass. Default 256. */
  batchSize?: number;
}

const ZERO_SHOT_OPTIONS = optionKeys<ZeroShotOptions>({ templates: true, labels: true, batchSize: true });

export interface ZeroShotResult {
  /** Predicted class index per image. */
  predictions: number[];
  /** Fraction of `labels` predicted correctly; null when no labels were given. */
  accuracy: number | null;
}

/** Classifies `images` by cosine similarity to the text embeddings of `classPrompts` (one per class). */
export async function zeroShotClassify<X>(
  model: ClipModel<X>,
  images: readonly X[],
  classPrompts: readonly string[],
  options: ZeroShotOptions = {},
): Promise<ZeroShotResult> {
  expectOptions('zeroShotClassify', options, ZERO_SHOT_OPTIONS);
  const { templates, labels, batchSize = 256 } = options;
  if (classPrompts.length < 2) throw new ArgumentError(`zeroShotClassify: need at least 2 class prompts, got ${classPrompts.length}`);
  if (templates && (templates.length === 0 || templates.some((t) => !t.includes('{c}'))))
    throw new ArgumentError('zeroShotClassify: templates must be non-empty and each must contain the {c} slot');
  if (labels && labels.length !== images.length) throw new ArgumentError(`zeroShotClassify: ${images.length} images but ${labels.length} labels`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ArgumentError(`zeroShotClassify: batchSize must be a positive integer, got ${batchSize}`);
  const perClass = templates ?? ['{c}'];
  const prompts = classPrompts.flatMap((c) => perClass.map((t) => fillTemplate(t, c)));
  const classEmb = tidy(() =>
    ag.noGrad(() => {
      const each = model.encodeText(prompts);
      const grouped = ag.reshape(each, [classPrompts.length, perClass.length, model.embedDim]);
      return l2Normalize(ag.mean(grouped, 1));
    }),
  );
  const predictions: number[] = [];
  try {
    for (let start = 0; start < images.length; start += batchSize) {
      const best = tidy(() =>
        ag.noGrad(() => {
          const img = model.encodeImage(images.slice(start, start + batchSize));
          return ag.argmax(ag.matmul(img, ag.transpose(classEmb)), -1);
        }),
      );
      const ids = await best.data();
      best.dispose();
      predictions.push(...Array.from(ids, Number));
    }
  } finally {
    classEmb.dispose();
  }
  const accuracy = labels ? (images.length ? predictions.filter((p, i) => p === labels[i]).length / images.length : 0) : null;
  return { predictions, accuracy };
}

export interface RecallAtK {
  recallAt1: number;
  recallAt5: number;
}

export interface RetrievalMetrics {
  /** Each image queries all texts. */
  imageToText: RecallAtK;
  /** Each text queries all images. */
  textToImage: RecallAtK;
}

/**
 * Recall@1 and @5 of retrieval between `imageEmb` and `textEmb` (both [N, D], row i of each forming a
 * pair), in both directions, by dot product (cosine for normalised rows). A query is a hit at k when a
 * relevant item ranks in the top k; an irrelevant item tying with the best relevant one ranks ahead of it
 * (ties count against the model). Relevant items: the query's pair, or with `groups` (one id per pair,
 * e.g. the class) every item of the query's group, which suits data where captions repeat.
 */
export async function retrievalMetrics(imageEmb: Tensor, textEmb: Tensor, options: { groups?: readonly number[] } = {}): Promise<RetrievalMetrics> {
  expectOptions('retrievalMetrics', options, ['groups']);
  const { groups } = options;
  if (imageEmb.rank !== 2 || textEmb.rank !== 2 || imageEmb.shape[0] !== textEmb.shape[0] || imageEmb.shape[1] !== textEmb.shape[1])
    throw new ShapeError(`retrievalMetrics: embeddings must both be [N, D], got ${fmtShape(imageEmb.shape)} and ${fmtShape(textEmb.shape)}`);
  const n = imageEmb.shape[0]!;
  if (n === 0) throw new ShapeError('retrievalMetrics: no pairs to rank');
  if (groups && groups.length !== n) throw new ArgumentError(`retrievalMetrics: ${n} pairs but ${groups.length} group ids`);
  const simT = ag.noGrad(() => tidy(() => ag.matmul(imageEmb, ag.transpose(textEmb))));
  const sim = (await simT.data()) as Float32Array;
  simT.dispose();
  const group = (i: number): number => (groups ? groups[i]! : i);
  const rankOf = (query: number, score: (item: number) => number): number => {
    let best = -Infinity;
    for (let j = 0; j < n; j++) if (group(j) === group(query)) best = Math.max(best, score(j));
    let ahead = 0;
    for (let j = 0; j < n; j++) if (group(j) !== group(query) && score(j) >= best) ahead++;
    return ahead;
  };
  const recall = (ranks: number[]): RecallAtK => ({
    recallAt1: ranks.filter((r) => r < 1).length / n,
    recallAt5: ranks.filter((r) => r < 5).length / n,
  });
  const i2t = Array.from({ length: n }, (_, i) => rankOf(i, (j) => sim[i * n + j]!));
  const t2i = Array.from({ length: n }, (_, i) => rankOf(i, (j) => sim[j * n + i]!));
  return { imageToText: recall(i2t), textToImage: recall(t2i) };
}
