/**
 * Batches of (input, caption) pairs for contrastive pre-training. Each epoch visits every input once in a
 * fresh seeded order and draws each input's caption anew from `caption(label, g)`, so paraphrases act as
 * text augmentation. The same seed gives the same batches in Node and browsers.
 */
import { ArgumentError } from '../../engine/errors.js';
import { Generator } from '../../engine/random.js';
import { shuffle } from '../data/types.js';

export interface CaptionBatch<X> {
  inputs: X[];
  captions: string[];
  /** Class of each input (for evaluation; the contrastive loss only uses the pairing). */
  labels: number[];
}

export interface CaptionPairOptions {
  batchSize: number;
  seed?: number;
  /**
   * Drop the last incomplete batch of an epoch (default true): the contrastive loss of a tiny batch has
   * few negatives and a noisy gradient.
   */
  dropLast?: boolean;
}

export class ImageCaptionPairs<X> {
  readonly batchSize: number;
  readonly dropLast: boolean;
  private readonly generator: Generator;

  constructor(
    readonly inputs: readonly X[],
    readonly labels: readonly number[],
    private readonly caption: (label: number, g: Generator) => string,
    { batchSize, seed = 1, dropLast = true }: CaptionPairOptions,
  ) {
    if (inputs.length !== labels.length) throw new ArgumentError(`ImageCaptionPairs: ${inputs.length} inputs but ${labels.length} labels`);
    if (!Number.isInteger(batchSize) || batchSize < 2) throw new ArgumentError(`ImageCaptionPairs: batchSize must be an integer >= 2 (contrastive pairs need negatives), got ${batchSize}`);
    if (inputs.length < batchSize && dropLast)
      throw new ArgumentError(`ImageCaptionPairs: ${inputs.length} pairs make no full batch of ${batchSize} (pass dropLast: false to keep a short one)`);
    this.batchSize = batchSize;
    this.dropLast = dropLast;
    this.generator = new Generator(seed);
  }

  get batchesPerEpoch(): number {
    return this.dropLast ? Math.floor(this.inputs.length / this.batchSize) : Math.ceil(this.inputs.length / this.batchSize);
  }

  /** One epoch of batches; each call continues the seeded stream, so epochs differ. */
  *epoch(): IterableIterator<CaptionBatch<X>> {
    const g = this.generator;
    const order = shuffle(this.inputs.map((_, i) => i), () => g.uniform());
    for (let b = 0; b < this.batchesPerEpoch; b++) {
      const idx = order.slice(b * this.batchSize, (b + 1) * this.batchSize);
      const labels = idx.map((i) => this.labels[i]!);
      yield { inputs: idx.map((i) => this.inputs[i]!), captions: labels.map((l) => this.caption(l, g)), labels };
    }
  }
}
