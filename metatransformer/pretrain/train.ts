/**
 * The contrastive pre-training loop: AdamW with CLIP's split of weight decay (matrices decay; gains,
 * biases and the logit scale do not), linear warmup then cosine decay, optional global-norm gradient
 * clipping, one step per batch of pairs.
 */
import * as ag from '../../autograd/index.js';
import { expectOptions, optionKeys } from '../../engine/arguments.js';
import { ArgumentError } from '../../engine/errors.js';
import { tidy, type Tensor } from '../../engine/tensor.js';
import { AdamW, clipGradNorm, cosineWarmup } from '../../nn/index.js';
import { LaggedLoss } from '../lagged-loss.js';
import { LOGIT_SCALE_MAX, type ClipModel } from './clip.js';
import type { ImageCaptionPairs } from './pairs.js';

export interface PretrainOptions {
  epochs: number;
  /** Peak learning rate. Default 1e-3. */
  lr?: number;
  /** Decoupled weight decay on matrices. Default 0.1. */
  weightDecay?: number;
  /** Linear warmup steps. Default: 5% of all steps. */
  warmupSteps?: number;
  /**
   * Global gradient-norm limit; default none (CLIP trains without clipping, and the norm costs three
   * dispatches per parameter on top of the optimizer's one).
   */
  maxGradNorm?: number;
  /** Called after each epoch (e.g. to log or evaluate); awaited. */
  onEpoch?: (stats: EpochStats) => void | Promise<void>;
}

const PRETRAIN_OPTIONS = optionKeys<PretrainOptions>({
  epochs: true, lr: true, weightDecay: true, warmupSteps: true, maxGradNorm: true, onEpoch: true,
});

export interface EpochStats {
  epoch: number;
  /** Mean contrastive loss over the epoch's batches. */
  loss: number;
  /** Inverse temperature in use at the epoch's end: exp(logit_scale), clamped at 100. */
  logitScale: number;
  seconds: number;
}

export interface PretrainResult {
  epochs: EpochStats[];
  steps: number;
  seconds: number;
}

/** Splits parameters into those that get weight decay (rank >= 2) and those that do not. */
function decayGroups(params: readonly Tensor[], weightDecay: number): { params: Tensor[]; weightDecay: number }[] {
  return [
    { params: params.filter((p) => p.rank >= 2), weightDecay },
    { params: params.filter((p) => p.rank < 2), weightDecay: 0 },
  ];
}

/** Trains every parameter of `model` that requires a gradient on `pairs` for `epochs` epochs. */
export async function pretrainClip<X>(model: ClipModel<X>, pairs: ImageCaptionPairs<X>, options: PretrainOptions): Promise<PretrainResult> {
  expectOptions('pretrainClip', options, PRETRAIN_OPTIONS);
  const { epochs, lr = 1e-3, weightDecay = 0.1, maxGradNorm, onEpoch } = options;
  if (!Number.isInteger(epochs) || epochs < 1) throw new ArgumentError(`pretrainClip: epochs must be a positive integer, got ${epochs}`);
  const totalSteps = epochs * pairs.batchesPerEpoch;
  const warmupSteps = options.warmupSteps ?? Math.floor(totalSteps * 0.05);
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0 || warmupSteps >= totalSteps)
    throw new ArgumentError(`pretrainClip: warmupSteps must be an integer in [0, ${totalSteps}) (the run has ${totalSteps} steps), got ${warmupSteps}`);
  const params = model.parameters().filter((p) => p.requiresGrad);
  const opt = new AdamW(decayGroups(params, weightDecay), { lr, betas: [0.9, 0.98], eps: 1e-6 });
  const schedule = cosineWarmup(opt, { warmupSteps, totalSteps, minFactor: 0.05 });
  model.train();
  const history: EpochStats[] = [];
  const start = performance.now();
  let steps = 0;
  // Each loss is read back while the next step is recorded (see LaggedLoss); the epoch's mean waits for its last.
  const losses = new LaggedLoss<null>();
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      const epochStart = performance.now();
      let sum = 0;
      let count = 0;
      for (const batch of pairs.epoch()) {
        const loss = tidy(() => {
          const l = model.loss(batch.inputs, batch.captions);
          ag.backward(l);
          if (maxGradNorm !== undefined) clipGradNorm(params, maxGradNorm).dispose();
          opt.step();
          return ag.detach(l);
        });
        opt.zeroGrad();
        schedule.step();
        steps++;
        sum += (await losses.push(loss, null))?.value ?? 0;
        count++;
      }
      sum += (await losses.drain())?.value ?? 0;
      const logitScale = Math.exp(Math.min(await model.logit_scale.item(), LOGIT_SCALE_MAX));
      const stats: EpochStats = { epoch, loss: sum / count, logitScale, seconds: (performance.now() - epochStart) / 1000 };
      history.push(stats);
      await onEpoch?.(stats);
    }
  } finally {
    await losses.abandon();
    opt.zeroGrad();
    opt.dispose();
  }
  return { epochs: history, steps, seconds: (performance.now() - start) / 1000 };
}
