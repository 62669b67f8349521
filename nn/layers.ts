/**
 * Layers. Field names and declaration order mirror the PyTorch modules they correspond to (timm's
 * vision_transformer for the attention/MLP/Block), so `namedParameters()` yields the same dotted names as
 * `state_dict()` and PyTorch checkpoints load without renaming. Default initialisations follow PyTorch's.
 */
import * as ag from '../autograd/index.js';
import { expectOptions } from '../engine/arguments.js';
import { ArgumentError, ShapeError, fmtShape } from '../engine/errors.js';
import { CONV_OPTIONS, type ConvOptions } from '../engine/ops/conv.js';
import * as raw from '../engine/ops/index.js';
import { globalGenerator, type Generator } from '../engine/random.js';
import { Tensor } from '../engine/tensor.js';
import { uniform } from './init.js';
import { Module } from './module.js';

/** A module mapping one tensor to one tensor (what Sequential chains). */
export interface UnaryModule extends Module {
  forward(x: Tensor): Tensor;
}

function param(t: Tensor): Tensor {
  t.requiresGrad = true;
  return t;
}

/** y = x W^T + b, W [out, in]. PyTorch's init: U(-1/sqrt(in), 1/sqrt(in)) for W and b. */
export class Linear extends Module implements UnaryModule {
  weight: Tensor;
  bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, options: { bias?: boolean; generator?: Generator } = {}) {
    super();
    expectOptions('Linear', options, ['bias', 'generator']);
    const { bias = true, generator } = options;
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = param(uniform([outFeatures, inFeatures], -bound, bound, { generator }));
    this.bias = bias ? param(uniform([outFeatures], -bound, bound, { generator })) : null;
  }
  forward(x: Tensor): Tensor {
    if (x.shape[x.rank - 1] !== this.inFeatures)
      throw new ShapeError(`Linear: input ${fmtShape(x.shape)} does not end in inFeatures ${this.inFeatures}`);
    return ag.linear(x, this.weight, this.bias);
  }
}

/** LayerNorm over the trailing `normalizedShape` dims, weight 1 and bias 0 initially. */
export class LayerNorm extends Module implements UnaryModule {
  weight: Tensor | null;
  bias: Tensor | null;
  readonly normalizedShape: number[];
  constructor(normalizedShape: number | readonly number[], readonly eps = 1e-5, options: { elementwiseAffine?: boolean } = {}) {
    super();
    expectOptions('LayerNorm', options, ['elementwiseAffine']);
    const { elementwiseAffine = true } = options;
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    this.weight = elementwiseAffine ? param(raw.ones(this.normalizedShape)) : null;
    this.bias = elementwiseAffine ? param(raw.zeros(this.normalizedShape)) : null;
  }
  forward(x: Tensor): Tensor {
    return ag.layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps).y;
  }
}

/**
 * Batch normalisation over channels-last input [..., C] (torch.nn.BatchNorm1d's math and state, for the
 * layout our pointwise layers produce: PyTorch's BatchNorm1d takes [N, C] or [N, C, L], i.e. channels
 * second; here statistics run over every axis but the last). Training: normalise with the batch's mean and
 * biased variance, and move running_mean / running_var (the unbiased variance) by `momentum`; eval:
 * normalise with the running statistics. State names match PyTorch's (weight, bias, running_mean,
 * running_var, num_batches_tracked), so checkpoints load unchanged.
 */
export class BatchNorm1d extends Module implements UnaryModule {
  weight: Tensor | null;
  bias: Tensor | null;
  running_mean: Tensor;
  running_var: Tensor;
  num_batches_tracked: Tensor;
  constructor(readonly numFeatures: number, readonly eps = 1e-5, readonly momentum = 0.1, options: { affine?: boolean } = {}) {
    super();
    expectOptions('BatchNorm1d', options, ['affine']);
    const { affine = true } = options;
    if (!Number.isInteger(numFeatures) || numFeatures < 1) throw new ArgumentError(`BatchNorm1d: numFeatures must be a positive integer, got ${numFeatures}`);
    if (!(momentum >= 0 && momentum <= 1)) throw new ArgumentError(`BatchNorm1d: momentum must be in [0, 1], got ${momentum}`);
    this.weight = affine ? param(raw.ones([numFeatures])) : null;
    this.bias = affine ? param(raw.zeros([numFeatures])) : null;
    this.running_mean = this.buffer('running_mean', raw.zeros([numFeatures]));
    this.running_var = this.buffer('running_var', raw.ones([numFeatures]));
    this.num_batches_tracked = this.buffer('num_batches_tracked', raw.zeros([], { dtype: 'i32' }));
  }
  forward(x: Tensor): Tensor {
    const c = this.numFeatures;
    if (x.rank < 2 || x.shape[x.rank - 1] !== c)
      throw new ShapeError(`BatchNorm1d: input must be [..., ${c}] with at least one leading axis, got ${fmtShape(x.shape)}`);
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    const n = x.size / c;
    const temps: Tensor[] = [];
    const track = (t: Tensor): Tensor => (temps.push(t), t);
    let mean: Tensor;
    let variance: Tensor;
    if (this.training) {
      if (n < 2) throw new ShapeError(`BatchNorm1d: training needs more than one value per channel, got input ${fmtShape(x.shape)}`);
      mean = track(ag.mean(x, axes));
      variance = track(ag.variance(x, axes, { correction: 0 }));
      ag.noGrad(() => this.updateRunningStats(mean, variance, n));
    } else {
      mean = this.running_mean;
      variance = this.running_var;
    }
    // y = (x - mean) * factor + bias, applied as one pass over x: y = x * factor + shift with the
    // per-channel shift = bias - mean * factor (it was sub, mul and add: three passes over x).
    const scale = track(ag.rsqrt(track(ag.add(variance, this.eps))));
    const factor = this.weight ? track(ag.mul(scale, this.weight)) : scale;
    const centre = track(ag.mul(mean, factor));
    const shift = track(this.bias ? ag.sub(this.bias, centre) : ag.neg(centre));
    const y = ag.mulAdd(x, factor, shift);
    for (const t of temps) t.dispose();
    return y;
  }
  /** running = (1 - momentum) running + momentum batch, with the unbiased variance, as PyTorch does. */
  private updateRunningStats(mean: Tensor, variance: Tensor, n: number): void {
    const m = this.momentum;
    const next = (running: Tensor, batch: Tensor, unbias: number) => {
      const a = raw.mul(running, 1 - m);
      const b = raw.mul(batch, m * unbias);
      const sum = raw.add(a, b);
      raw.assign(running, sum);
      for (const t of [a, b, sum]) t.dispose();
    };
    next(this.running_mean, mean, 1);
    next(this.running_var, variance, n / (n - 1));
    const count = raw.add(this.num_batches_tracked, 1);
    raw.assign(this.num_batches_tracked, count);
    count.dispose();
  }
}

/** Lookup table [numEmbeddings, dim], N(0, 1) initially; forward takes i32 ids of any shape. */
export class Embedding extends Module {
  weight: Tensor;
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, options: { generator?: Generator } = {}) {
    super();
    expectOptions('Embedding', options, ['generator']);
    const { generator } = options;
    this.weight = param(raw.randn([numEmbeddings, embeddingDim], { generator }));
  }
  forward(ids: Tensor): Tensor {
    return ag.embeddingLookup(this.weight, ids);
  }
}

type ConvRank = 1 | 2 | 3;
const CONV_OPS = { 1: ag.conv1d, 2: ag.conv2d, 3: ag.conv3d } as const;

/** Shared by Conv1d/2d/3d: weight [out, in/groups, ...kernel], PyTorch's default uniform init. */
abstract class ConvNd extends Module implements UnaryModule {
  weight: Tensor;
  bias: Tensor | null;
  readonly options: ConvOptions;
  constructor(
    private readonly rank: ConvRank,
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: number | readonly number[],
    layerOptions: ConvOptions & { bias?: boolean; generator?: Generator } = {},
  ) {
    super();
    expectOptions(`Conv${rank}d`, layerOptions, [...CONV_OPTIONS, 'bias', 'generator']);
    const { bias = true, generator, ...options } = layerOptions;
    const kernel = typeof kernelSize === 'number' ? new Array<number>(rank).fill(kernelSize) : [...kernelSize];
    if (kernel.length !== rank) throw new ArgumentError(`Conv${rank}d: kernelSize needs ${rank} values, got [${kernel}]`);
    const groups = options.groups ?? 1;
    if (inChannels % groups || outChannels % groups)
      throw new ArgumentError(`Conv${rank}d: inChannels ${inChannels} and outChannels ${outChannels} must be divisible by groups ${groups}`);
    const fanIn = (inChannels / groups) * kernel.reduce((a, b) => a * b, 1);
    const bound = 1 / Math.sqrt(fanIn);
    this.weight = param(uniform([outChannels, inChannels / groups, ...kernel], -bound, bound, { generator }));
    this.bias = bias ? param(uniform([outChannels], -bound, bound, { generator })) : null;
    this.options = options;
  }
  forward(x: Tensor): Tensor {
    return CONV_OPS[this.rank](x, this.weight, this.bias, this.options);
  }
}

export class Conv1d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: number | readonly number[], options: ConvOptions & { bias?: boolean; generator?: Generator } = {}) {
    super(1, inChannels, outChannels, kernelSize, options);
  }
}
export class Conv2d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: number | readonly number[], options: ConvOptions & { bias?: boolean; generator?: Generator } = {}) {
    super(2, inChannels, outChannels, kernelSize, options);
  }
}
export class Conv3d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: number | readonly number[], options: ConvOptions & { bias?: boolean; generator?: Generator } = {}) {
    super(3, inChannels, outChannels, kernelSize, options);
  }
}

/**
 * Zeroes each element with probability p in training mode and scales the rest by 1/(1-p); identity in
 * eval mode. The mask is drawn from `generator` (default: the global seeded generator).
 */
export class Dropout extends Module implements UnaryModule {
  constructor(readonly p = 0.5, private readonly generator: Generator = globalGenerator) {
    super();
    if (!(p >= 0 && p < 1)) throw new ArgumentError(`Dropout: p must be in [0, 1), got ${p}`);
  }
  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return ag.reshape(x, x.shape);
    const u = raw.rand(x.shape, { generator: this.generator, dtype: x.dtype });
    const keepMask = raw.ge(u, this.p);
    const scale = raw.where(keepMask, 1 / (1 - this.p), 0);
    const scaled = x.dtype === scale.dtype ? scale : raw.cast(scale, x.dtype);
    const out = ag.mul(x, scaled);
    for (const t of new Set([u, keepMask, scale, scaled])) t.dispose();
    return out;
  }
}

export class GELU extends Module implements UnaryModule {
  forward(x: Tensor): Tensor {
    return ag.gelu(x);
  }
}
export class ReLU extends Module implements UnaryModule {
  forward(x: Tensor): Tensor {
    return ag.relu(x);
  }
}
export class Tanh extends Module implements UnaryModule {
  forward(x: Tensor): Tensor {
    return ag.tanh(x);
  }
}
/** Passes its input through (as a new view, in the graph). */
export class Identity extends Module implements UnaryModule {
  forward(x: Tensor): Tensor {
    return ag.reshape(x, x.shape);
  }
}

/** Submodules named '0', '1', ... as in PyTorch. */
export class ModuleList<M extends Module = Module> extends Module {
  constructor(modules: readonly M[] = []) {
    super();
    modules.forEach((m, i) => this.append(m, i));
  }
  private append(m: M, i: number): void {
    (this as unknown as Record<string, M>)[String(i)] = m;
  }
  get length(): number {
    return this.children().length;
  }
  at(i: number): M {
    const m = (this as unknown as Record<string, M | undefined>)[String(i)];
    if (!m) throw new ArgumentError(`ModuleList: index ${i} out of range for ${this.length} modules`);
    return m;
  }
  push(m: M): void {
    this.append(m, this.length);
  }
  [Symbol.iterator](): Iterator<M> {
    return (this.children().map(([, m]) => m) as M[])[Symbol.iterator]();
  }
}

/**
 * Applies its modules in order, freeing each intermediate activation once the next one is computed
 * (the graph keeps what backward needs).
 */
export class Sequential extends ModuleList<UnaryModule> implements UnaryModule {
  constructor(...modules: UnaryModule[]) {
    super(modules);
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (const m of this) {
      const next = m.forward(h);
      if (h !== x) h.dispose();
      h = next;
    }
    return h === x ? ag.reshape(x, x.shape) : h;
  }
}
