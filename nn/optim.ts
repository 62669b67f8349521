/**
 * Optimizers whose update is one fused GPU dispatch per parameter (kernels/wgsl/optim.wgsl): the parameter
 * and its state are rewritten in place, so modules and optimizers keep pointing at the same tensors.
 * Also: global-norm gradient clipping and learning-rate schedules.
 *
 * State dicts use PyTorch's per-parameter numbering (parameters counted across groups in order):
 * `state.{i}.exp_avg`, `state.{i}.exp_avg_sq`, `state.{i}.momentum_buffer` are the live GPU tensors and
 * `state.{i}.step` a host int32 scalar, so the whole state can go into a safetensors checkpoint.
 */
import { describe, expectOptions, optionKeys } from '../engine/arguments.js';
import { isFloat } from '../engine/dtype.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../engine/errors.js';
import * as raw from '../engine/ops/index.js';
import { sameShape } from '../engine/shape.js';
import { keep, Tensor } from '../engine/tensor.js';
import { hostTensor, toFloat32, toInt32, type HostTensor } from './checkpoint/index.js';

export type ParamGroupSpec<O> = { params: Tensor[] } & Partial<O>;

export interface ParamGroup<O> {
  params: Tensor[];
  options: O;
}

interface ParamState {
  step: number;
  /** Named state tensors (exp_avg, ...), created lazily on the first step. */
  tensors: Map<string, Tensor>;
}

/** Entries of an optimizer state dict: live tensors and host scalars. */
export type OptimizerStateDict = Map<string, Tensor | HostTensor>;

export abstract class Optimizer<O extends { lr: number }> {
  readonly groups: ParamGroup<O>[];
  private readonly state = new Map<Tensor, ParamState>();

  /**
   * `defaults` are the optimizer's defaults with the caller's options over them; `known` names every
   * option, so that a misspelt one (learningRate, weight_decay) is an error instead of a silent default.
   */
  constructor(params: readonly Tensor[] | readonly ParamGroupSpec<O>[], defaults: O, known: readonly string[]) {
    const op = new.target.name;
    expectOptions(op, defaults, known);
    if (!Array.isArray(params))
      throw new ArgumentError(`${op}: params must be an array of Tensors or of parameter groups ({ params, ...options }), got ${describe(params)}`);
    const specs: ParamGroupSpec<O>[] =
      params.length && !(params[0] instanceof Tensor) ? [...(params as ParamGroupSpec<O>[])] : [{ params: [...(params as Tensor[])] } as ParamGroupSpec<O>];
    const seen = new Set<Tensor>();
    this.groups = specs.map((spec, gi) => {
      if (typeof spec !== 'object' || spec === null || spec instanceof Tensor || !Array.isArray(spec.params))
        throw new ArgumentError(`${op}: params[${gi}] must be a parameter group { params: Tensor[], ...options } (or every entry a Tensor), got ${describe(spec)}`);
      const { params: ps, ...overrides } = spec;
      expectOptions(op, overrides, known, `parameter group ${gi}`);
      for (const p of ps) {
        if (!(p instanceof Tensor)) throw new ArgumentError(`${op}: parameter group ${gi} holds ${describe(p)}, not a Tensor`);
        if (!isFloat(p.dtype)) throw new DTypeError(`${op}: parameter ${fmtShape(p.shape)} is ${p.dtype}; only float tensors can be optimized`);
        if (seen.has(p)) throw new ArgumentError(`${op}: a parameter ${fmtShape(p.shape)} appears in more than one group`);
        seen.add(p);
      }
      const options = { ...defaults, ...overrides } as O;
      this.validate(options);
      return { params: [...ps], options };
    });
  }

  protected abstract validate(options: O): void;
  /** Names of the state tensors a parameter needs under these options. */
  protected abstract stateNames(options: O): string[];
  /** Applies one update to `p` (which has a gradient); `state.step` is already incremented. */
  protected abstract update(p: Tensor, grad: Tensor, state: ParamState, options: O): void;

  /** Updates every parameter that has a gradient. Parameters without one are skipped (their step stays). */
  step(): void {
    for (const group of this.groups)
      for (const p of group.params) {
        if (!p.grad) continue;
        let st = this.state.get(p);
        if (!st) {
          st = { step: 0, tensors: new Map() };
          this.state.set(p, st);
        }
        for (const name of this.stateNames(group.options))
          if (!st.tensors.has(name)) st.tensors.set(name, keep(raw.zeros(p.shape)));
        st.step++;
        this.update(p, p.grad, st, group.options);
      }
  }

  /** Drops every parameter's gradient. */
  zeroGrad(): void {
    for (const group of this.groups)
      for (const p of group.params) {
        p.grad?.dispose();
        p.grad = null;
      }
  }

  private *indexed(): Generator<[number, Tensor]> {
    let i = 0;
    for (const group of this.groups) for (const p of group.params) yield [i++, p];
  }

  /** The optimizer state (live tensors, not copies; steps as host int32 scalars). */
  stateDict(): OptimizerStateDict {
    const out: OptimizerStateDict = new Map();
    for (const [i, p] of this.indexed()) {
      const st = this.state.get(p);
      if (!st) continue;
      out.set(`state.${i}.step`, hostTensor('i32', [], Int32Array.of(st.step)));
      for (const [name, t] of st.tensors) out.set(`state.${i}.${name}`, t);
    }
    return out;
  }

  /**
   * Restores state saved by `stateDict` (possibly read back from a file as host tensors). Every entry must
   * name an existing parameter index and have that parameter's shape; unknown entries throw.
   */
  loadStateDict(sd: ReadonlyMap<string, Tensor | HostTensor>): void {
    const params = new Map(this.indexed());
    const parsed: [Tensor, string, Tensor | HostTensor][] = [];
    for (const [key, value] of sd) {
      const m = /^state\.(\d+)\.([A-Za-z_]+)$/.exec(key);
      const p = m ? params.get(Number(m[1])) : undefined;
      if (!m || !p) throw new ArgumentError(`optimizer.loadStateDict: unexpected key '${key}'`);
      if (m[2] !== 'step' && !sameShape(value.shape, p.shape))
        throw new ShapeError(`optimizer.loadStateDict: '${key}' has shape ${fmtShape(value.shape)}, parameter ${m[1]} has ${fmtShape(p.shape)}`);
      if (m[2] === 'step' && (value instanceof Tensor || value.shape.length !== 0))
        throw new ArgumentError(`optimizer.loadStateDict: '${key}' must be a host scalar`);
      parsed.push([p, m[2]!, value]);
    }
    for (const [p, name, value] of parsed) {
      let st = this.state.get(p);
      if (!st) {
        st = { step: 0, tensors: new Map() };
        this.state.set(p, st);
      }
      if (name === 'step') {
        st.step = toInt32(value as HostTensor, 'step')[0]!;
        continue;
      }
      st.tensors.get(name)?.dispose();
      const t = value instanceof Tensor ? raw.cast(value, 'f32') : raw.fromFlat(toFloat32(value, name), p.shape, 'f32', 'loadStateDict');
      st.tensors.set(name, keep(t));
    }
  }

  /** Frees the optimizer state tensors. */
  dispose(): void {
    for (const st of this.state.values()) for (const t of st.tensors.values()) t.dispose();
    this.state.clear();
  }
}

function checkCommon(name: string, o: { lr: number; weightDecay: number }): void {
  if (!(o.lr >= 0)) throw new ArgumentError(`${name}: lr must be >= 0, got ${o.lr}`);
  if (!(o.weightDecay >= 0)) throw new ArgumentError(`${name}: weightDecay must be >= 0, got ${o.weightDecay}`);
}

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

const SGD_OPTIONS = optionKeys<SGDOptions>({ lr: true, momentum: true, dampening: true, weightDecay: true, nesterov: true });

/** Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay (torch.optim.SGD). */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: readonly Tensor[] | readonly ParamGroupSpec<SGDOptions>[], options: Partial<SGDOptions> & { lr: number }) {
    super(params, { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, ...options }, SGD_OPTIONS);
  }
  protected validate(o: SGDOptions): void {
    checkCommon('SGD', o);
    if (!(o.momentum >= 0)) throw new ArgumentError(`SGD: momentum must be >= 0, got ${o.momentum}`);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) throw new ArgumentError('SGD: Nesterov momentum needs momentum > 0 and dampening 0');
  }
  protected stateNames(o: SGDOptions): string[] {
    return o.momentum > 0 ? ['momentum_buffer'] : [];
  }
  protected update(p: Tensor, grad: Tensor, st: ParamState, o: SGDOptions): void {
    raw.sgdUpdate(p, grad, st.tensors.get('momentum_buffer') ?? null, {
      lr: o.lr, momentum: o.momentum, dampening: o.dampening, weightDecay: o.weightDecay, nesterov: o.nesterov, first: st.step === 1,
    });
  }
}

export interface AdamOptions {
  lr: number;
  betas: readonly [number, number];
  eps: number;
  weightDecay: number;
}

const ADAM_OPTIONS = optionKeys<AdamOptions>({ lr: true, betas: true, eps: true, weightDecay: true });

abstract class AdamBase extends Optimizer<AdamOptions> {
  protected abstract readonly decoupled: boolean;
  protected validate(o: AdamOptions): void {
    checkCommon(this.constructor.name, o);
    const [b1, b2] = o.betas;
    if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) throw new ArgumentError(`${this.constructor.name}: betas must be in [0, 1), got [${b1}, ${b2}]`);
    if (!(o.eps >= 0)) throw new ArgumentError(`${this.constructor.name}: eps must be >= 0, got ${o.eps}`);
  }
  protected stateNames(): string[] {
    return ['exp_avg', 'exp_avg_sq'];
  }
  protected update(p: Tensor, grad: Tensor, st: ParamState, o: AdamOptions): void {
    raw.adamUpdate(p, grad, st.tensors.get('exp_avg')!, st.tensors.get('exp_avg_sq')!, {
      lr: o.lr, beta1: o.betas[0], beta2: o.betas[1], eps: o.eps, weightDecay: o.weightDecay, decoupled: this.decoupled, step: st.step,
    });
  }
}

/** Adam with L2 weight decay added to the gradient (torch.optim.Adam). */
export class Adam extends AdamBase {
  protected readonly decoupled = false;
  constructor(params: readonly Tensor[] | readonly ParamGroupSpec<AdamOptions>[], options: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, ...options }, ADAM_OPTIONS);
  }
}

/** Adam with decoupled weight decay (torch.optim.AdamW). */
export class AdamW extends AdamBase {
  protected readonly decoupled = true;
  constructor(params: readonly Tensor[] | readonly ParamGroupSpec<AdamOptions>[], options: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, ...options }, ADAM_OPTIONS);
  }
}

/**
 * Scales all gradients so their global L2 norm is at most `maxNorm` (torch.nn.utils.clip_grad_norm_),
 * entirely on the GPU (no readback). Returns the norm before clipping as a 0-d tensor the caller owns.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): Tensor {
  if (!(maxNorm > 0)) throw new ArgumentError(`clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
  const withGrad = [...params].filter((p) => p.grad);
  let sumSq = raw.zeros([]);
  for (const p of withGrad) {
    const sq = raw.square(p.grad!);
    const s = raw.sum(sq);
    const next = raw.add(sumSq, s);
    for (const t of [sq, s, sumSq]) t.dispose();
    sumSq = next;
  }
  const norm = raw.sqrt(sumSq);
  sumSq.dispose();
  // scale = min(1, maxNorm / (norm + 1e-6)), as PyTorch does.
  const denom = raw.add(norm, 1e-6);
  const ratio = raw.div(maxNorm, denom);
  const scale = raw.minimum(ratio, 1);
  for (const t of [denom, ratio]) t.dispose();
  for (const p of withGrad) {
    const g = raw.mul(p.grad!, scale);
    p.grad!.dispose();
    p.grad = keep(g);
  }
  scale.dispose();
  return norm;
}

/** Sets each group's lr to its initial lr times `factor(step)`; `step()` advances one step. */
export class LRScheduler {
  private readonly baseLrs: number[];
  /** Steps taken so far. */
  stepCount = 0;
  constructor(
    readonly optimizer: Optimizer<{ lr: number }>,
    private readonly factor: (step: number) => number,
  ) {
    this.baseLrs = optimizer.groups.map((g) => g.options.lr);
    this.apply();
  }
  private apply(): void {
    const f = this.factor(this.stepCount);
    this.optimizer.groups.forEach((g, i) => (g.options.lr = this.baseLrs[i]! * f));
  }
  step(): void {
    this.stepCount++;
    this.apply();
  }
  /** Current learning rate of each group. */
  get lrs(): number[] {
    return this.optimizer.groups.map((g) => g.options.lr);
  }
}

/**
 * Linear warmup over `warmupSteps` (from lr/(warmupSteps+1) up to lr), then cosine decay to `minFactor`
 * times the base lr at `totalSteps`, constant after.
 */
export function cosineWarmup(
  optimizer: Optimizer<{ lr: number }>,
  options: { warmupSteps: number; totalSteps: number; minFactor?: number },
): LRScheduler {
  expectOptions('cosineWarmup', options, ['warmupSteps', 'totalSteps', 'minFactor']);
  const { warmupSteps, totalSteps, minFactor = 0 } = options;
  if (!(warmupSteps >= 0 && totalSteps > warmupSteps))
    throw new ArgumentError(`cosineWarmup: need 0 <= warmupSteps < totalSteps, got ${warmupSteps}, ${totalSteps}`);
  return new LRScheduler(optimizer, (step) => {
    if (step < warmupSteps) return (step + 1) / (warmupSteps + 1);
    const t = Math.min(1, (step - warmupSteps) / (totalSteps - warmupSteps));
    return minFactor + (1 - minFactor) * 0.5 * (1 + Math.cos(Math.PI * t));
  });
}

/** Multiplies the lr by `gamma` every `stepSize` steps (torch StepLR). */
export function stepLR(optimizer: Optimizer<{ lr: number }>, options: { stepSize: number; gamma?: number }): LRScheduler {
  expectOptions('stepLR', options, ['stepSize', 'gamma']);
  const { stepSize, gamma = 0.1 } = options;
  if (!(Number.isInteger(stepSize) && stepSize > 0)) throw new ArgumentError(`stepLR: stepSize must be a positive integer, got ${stepSize}`);
  return new LRScheduler(optimizer, (step) => gamma ** Math.floor(step / stepSize));
}

/** Moves the lr factor linearly from `startFactor` to `endFactor` over `totalSteps` (torch LinearLR). */
export function linearLR(
  optimizer: Optimizer<{ lr: number }>,
  options: { startFactor?: number; endFactor?: number; totalSteps: number },
): LRScheduler {
  expectOptions('linearLR', options, ['startFactor', 'endFactor', 'totalSteps']);
  const { startFactor = 1 / 3, endFactor = 1, totalSteps } = options;
  if (!(Number.isInteger(totalSteps) && totalSteps > 0)) throw new ArgumentError(`linearLR: totalSteps must be a positive integer, got ${totalSteps}`);
  return new LRScheduler(optimizer, (step) => startFactor + (endFactor - startFactor) * Math.min(1, step / totalSteps));
}
