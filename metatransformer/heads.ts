/**
 * Task heads on top of the encoder's tokens [B, T, D]. The official encoder has no final norm, so every
 * head normalizes first (the fc_norm of timm/Meta-Transformer heads): pooled heads pool, then apply one
 * LayerNorm(D) to each pooled vector (for 'cls' and 'mean' that is exactly timm's order of operations,
 * since LayerNorm acts per token); token heads normalize each token.
 *
 * Pooling ('cls' | 'mean' | 'max' | 'cls+max+mean'): 'cls' takes token 0; 'mean' and 'max' run over the
 * tokens that are not padding (paddingMask non-zero = padding) and, when `clsToken` is set, not token 0;
 * 'cls+max+mean' concatenates the three in that order, [B, 3D] (the point-cloud heads' cls/max pooling plus
 * the mean). A row whose tokens are all padding max-pools to -inf.
 */
import * as ag from '../autograd/index.js';
import { expectOptions, optionKeys } from '../engine/arguments.js';
import { ArgumentError, ShapeError, fmtShape } from '../engine/errors.js';
import * as raw from '../engine/ops/index.js';
import type { Generator } from '../engine/random.js';
import type { Tensor } from '../engine/tensor.js';
import { Dropout, LayerNorm, Linear } from '../nn/layers.js';
import { MLP } from '../nn/transformer.js';
import { Head, type Pooling } from './types.js';

const POOLINGS: readonly Pooling[] = ['cls', 'mean', 'max', 'cls+max+mean'];

function checkPositive(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new ArgumentError(`${op}: ${name} must be a positive integer, got ${v}`);
}

function checkTokens(op: string, tokens: Tensor, dim: number, paddingMask?: Tensor): void {
  if (tokens.rank !== 3 || tokens.shape[2] !== dim) throw new ShapeError(`${op}: tokens must be [B, T, ${dim}], got ${fmtShape(tokens.shape)}`);
  if (paddingMask && (paddingMask.rank !== 2 || paddingMask.shape[0] !== tokens.shape[0] || paddingMask.shape[1] !== tokens.shape[1]))
    throw new ShapeError(`${op}: paddingMask must be [B, T] = ${fmtShape(tokens.shape.slice(0, 2))}, got ${fmtShape(paddingMask.shape)}`);
}

export interface PoolingOptions {
  dim: number;
  pooling?: Pooling;
  /**
   * Whether token 0 is a CLS token, left out of 'mean' and 'max'. Default: true when the pooling takes the
   * CLS token ('cls', 'cls+max+mean'), else false (mean/max over every token).
   */
  clsToken?: boolean;
}

/** A head that pools tokens [B, T, D] into normalized vectors [B, P * D] (P = 1, or 3 for 'cls+max+mean'). */
export abstract class PooledHead extends Head {
  norm: LayerNorm;
  readonly dim: number;
  readonly pooling: Pooling;
  readonly clsToken: boolean;
  /** Width of the pooled vector. */
  readonly pooledDim: number;

  constructor(protected readonly op: string, { dim, pooling = 'cls', clsToken = pooling.startsWith('cls') }: PoolingOptions) {
    super();
    checkPositive(op, 'dim', dim);
    if (!POOLINGS.includes(pooling)) throw new ArgumentError(`${op}: pooling must be one of ${POOLINGS.join(', ')}, got '${String(pooling)}'`);
    if (pooling.startsWith('cls') && !clsToken) throw new ArgumentError(`${op}: pooling '${pooling}' needs clsToken (token 0 is the CLS token)`);
    this.dim = dim;
    this.pooling = pooling;
    this.clsToken = clsToken;
    this.pooledDim = dim * (pooling === 'cls+max+mean' ? 3 : 1);
    this.norm = new LayerNorm(dim);
  }

  /** Whether the pooling needs a CLS token from the tokenizer. */
  get needsClsToken(): boolean {
    return this.pooling.startsWith('cls');
  }

  /** tokens [B, T, D] -> [B, pooledDim], differentiable. */
  protected pool(tokens: Tensor, paddingMask?: Tensor): Tensor {
    checkTokens(this.op, tokens, this.dim, paddingMask);
    const [b, t] = tokens.shape as [number, number, number];
    const start = this.clsToken ? 1 : 0;
    const wantsBody = this.pooling !== 'cls';
    if (wantsBody && t <= start) throw new ShapeError(`${this.op}: '${this.pooling}' pooling needs tokens after the CLS token, got T = ${t}`);
    // No tidy scope here: the graph's saved tensors would be created in it and freed before backward().
    const temps: Tensor[] = [];
    const track = (x: Tensor): Tensor => (temps.push(x), x);
    const parts: Tensor[] = [];
    if (this.pooling.startsWith('cls')) parts.push(track(ag.slice(tokens, [null, 0])));
    if (wantsBody) {
      const body = start ? track(ag.slice(tokens, [null, { start }])) : tokens;
      // [B, T', 1]: 1 on padding.
      const pad = paddingMask ? track(raw.unsqueeze(start ? track(raw.slice(paddingMask, [null, { start }])) : paddingMask, -1)) : null;
      if (this.pooling.includes('max')) parts.push(track(ag.max(pad ? track(ag.where(pad, -Infinity, body)) : body, 1)));
      if (this.pooling.includes('mean')) {
        if (pad) {
          const keep = track(raw.cast(track(raw.eq(pad, 0)), body.dtype));
          parts.push(track(ag.div(track(ag.sum(track(ag.mul(body, keep)), 1)), track(raw.sum(keep, 1)))));
        } else parts.push(track(ag.mean(body, 1)));
      }
    }
    const stacked = parts.length === 1 ? parts[0]! : track(ag.stack(parts, 1));
    const out = ag.reshape(track(this.norm.forward(stacked)), [b, this.pooledDim]);
    for (const x of temps) x.dispose();
    return out;
  }
}

/** Applies `fn` to `x` and disposes `x` (an intermediate the caller made). */
function consume(x: Tensor, fn: (x: Tensor) => Tensor): Tensor {
  const y = fn(x);
  x.dispose();
  return y;
}

export interface ClassificationHeadOptions extends PoolingOptions {
  numClasses: number;
  /** Hidden width of a two-layer MLP head (fc1 -> GELU -> fc2); a single Linear when unset. */
  hidden?: number;
  /** Dropout probability before the classifier (training mode only). */
  dropout?: number;
  generator?: Generator;
}

const POOLING_KEYS = { dim: true, pooling: true, clsToken: true } as const;
const CLASSIFICATION_HEAD_OPTIONS = optionKeys<ClassificationHeadOptions>({ ...POOLING_KEYS, numClasses: true, hidden: true, dropout: true, generator: true });

/** Pooled tokens -> class logits [B, numClasses]. */
export class ClassificationHead extends PooledHead {
  dropout: Dropout;
  fc: Linear | MLP;
  readonly numClasses: number;
  constructor(options: ClassificationHeadOptions) {
    expectOptions('ClassificationHead', options, CLASSIFICATION_HEAD_OPTIONS);
    const { numClasses, hidden, dropout = 0, generator, ...pooling } = options;
    super('ClassificationHead', pooling);
    checkPositive(this.op, 'numClasses', numClasses);
    if (hidden !== undefined) checkPositive(this.op, 'hidden', hidden);
    this.numClasses = numClasses;
    this.dropout = new Dropout(dropout);
    this.fc = hidden === undefined ? new Linear(this.pooledDim, numClasses, { generator }) : new MLP(this.pooledDim, hidden, numClasses, { generator });
  }
  forward(tokens: Tensor, paddingMask?: Tensor): Tensor {
    const pooled = consume(this.pool(tokens, paddingMask), (x) => this.dropout.forward(x));
    return consume(pooled, (x) => this.fc.forward(x));
  }
}

export interface RegressionHeadOptions extends PoolingOptions {
  outputs: number;
  generator?: Generator;
}

const REGRESSION_HEAD_OPTIONS = optionKeys<RegressionHeadOptions>({ ...POOLING_KEYS, outputs: true, generator: true });

/** Pooled tokens -> real outputs [B, outputs]. */
export class RegressionHead extends PooledHead {
  fc: Linear;
  readonly outputs: number;
  constructor(options: RegressionHeadOptions) {
    expectOptions('RegressionHead', options, REGRESSION_HEAD_OPTIONS);
    const { outputs, generator, ...pooling } = options;
    super('RegressionHead', pooling);
    checkPositive(this.op, 'outputs', outputs);
    this.outputs = outputs;
    this.fc = new Linear(this.pooledDim, outputs, { generator });
  }
  forward(tokens: Tensor, paddingMask?: Tensor): Tensor {
    return consume(this.pool(tokens, paddingMask), (x) => this.fc.forward(x));
  }
}

export interface TokenHeadOptions {
  dim: number;
  outputs: number;
  generator?: Generator;
}

const TOKEN_HEAD_OPTIONS = optionKeys<TokenHeadOptions>({ dim: true, outputs: true, generator: true });

/** Per-token outputs (segmentation, per-point labels): tokens [B, T, D] -> [B, T, outputs]. */
export class TokenHead extends Head {
  norm: LayerNorm;
  fc: Linear;
  readonly dim: number;
  readonly outputs: number;
  constructor(options: TokenHeadOptions) {
    super();
    expectOptions('TokenHead', options, TOKEN_HEAD_OPTIONS);
    const { dim, outputs, generator } = options;
    checkPositive('TokenHead', 'dim', dim);
    checkPositive('TokenHead', 'outputs', outputs);
    this.dim = dim;
    this.outputs = outputs;
    this.norm = new LayerNorm(dim);
    this.fc = new Linear(dim, outputs, { generator });
  }
  /** The padding mask is accepted for the Head contract; padded tokens still get (meaningless) outputs. */
  forward(tokens: Tensor, paddingMask?: Tensor): Tensor {
    checkTokens('TokenHead', tokens, this.dim, paddingMask);
    return consume(this.norm.forward(tokens), (x) => this.fc.forward(x));
  }
}

export interface ForecastHeadOptions {
  dim: number;
  /** Token count T the head was built for (the flattened input is T * D wide). */
  tokens: number;
  horizon: number;
  channels?: number;
  generator?: Generator;
}

const FORECAST_HEAD_OPTIONS = optionKeys<ForecastHeadOptions>({ dim: true, tokens: true, horizon: true, channels: true, generator: true });

/**
 * Forecasting as the official time-series code does it: normalize the tokens, flatten all of them and map
 * them with one Linear to the horizon: [B, T, D] -> [B, T * D] -> [B, horizon * channels] -> [B, horizon, channels].
 */
export class ForecastHead extends Head {
  norm: LayerNorm;
  fc: Linear;
  readonly dim: number;
  readonly tokens: number;
  readonly horizon: number;
  readonly channels: number;
  constructor(options: ForecastHeadOptions) {
    super();
    expectOptions('ForecastHead', options, FORECAST_HEAD_OPTIONS);
    const { dim, tokens, horizon, channels = 1, generator } = options;
    for (const [name, v] of [['dim', dim], ['tokens', tokens], ['horizon', horizon], ['channels', channels]] as const) checkPositive('ForecastHead', name, v);
    this.dim = dim;
    this.tokens = tokens;
    this.horizon = horizon;
    this.channels = channels;
    this.norm = new LayerNorm(dim);
    this.fc = new Linear(tokens * dim, horizon * channels, { generator });
  }
  forward(tokens: Tensor, paddingMask?: Tensor): Tensor {
    checkTokens('ForecastHead', tokens, this.dim, paddingMask);
    if (tokens.shape[1] !== this.tokens) throw new ShapeError(`ForecastHead: built for ${this.tokens} tokens, got ${fmtShape(tokens.shape)}`);
    const b = tokens.shape[0]!;
    const flat = consume(this.norm.forward(tokens), (x) => ag.reshape(x, [b, this.tokens * this.dim]));
    const out = consume(flat, (x) => this.fc.forward(x));
    return consume(out, (x) => ag.reshape(x, [b, this.horizon, this.channels]));
  }
}
