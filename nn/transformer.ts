/**
 * Transformer building blocks whose parameter names match timm's vision_transformer (Mlp, Attention,
 * Block), so ViT checkpoints load as they are: `fc1`/`fc2`; `qkv`/`proj`; `norm1`/`attn`/`norm2`/`mlp`.
 */
import * as ag from '../autograd/index.js';
import { expectOptions } from '../engine/arguments.js';
import { ArgumentError, ShapeError, fmtShape } from '../engine/errors.js';
import type { Generator } from '../engine/random.js';
import type { Tensor } from '../engine/tensor.js';
import { LayerNorm, Linear, type UnaryModule } from './layers.js';
import { Module } from './module.js';

/** fc1 -> GELU -> fc2; the GELU runs in fc1's GEMM epilogue. */
export class MLP extends Module implements UnaryModule {
  fc1: Linear;
  fc2: Linear;
  constructor(inFeatures: number, hiddenFeatures: number, outFeatures = inFeatures, options: { generator?: Generator } = {}) {
    super();
    expectOptions('MLP', options, ['generator']);
    const { generator } = options;
    this.fc1 = new Linear(inFeatures, hiddenFeatures, { generator });
    this.fc2 = new Linear(hiddenFeatures, outFeatures, { generator });
  }
  forward(x: Tensor): Tensor {
    const h = ag.linear(x, this.fc1.weight, this.fc1.bias, { activation: 'gelu' });
    const out = this.fc2.forward(h);
    h.dispose();
    return out;
  }
}

/**
 * Multi-head self-attention with a fused qkv projection: x [B, N, D] -> qkv [B, N, 3 * D], which the
 * fused attention reads as q, k, v [B, H, N, hd] in place (scale hd^-0.5) and answers with the heads
 * already merged, [B, N, D] (engine `multiHeadSelfAttention`: no copies around the kernel, and its
 * backward writes the three gradients into one), projected by `proj`.
 */
export class Attention extends Module implements UnaryModule {
  qkv: Linear;
  proj: Linear;
  readonly headDim: number;
  readonly scale: number;
  constructor(readonly dim: number, readonly numHeads = 8, options: { qkvBias?: boolean; generator?: Generator } = {}) {
    super();
    expectOptions('Attention', options, ['qkvBias', 'generator']);
    const { qkvBias = true, generator } = options;
    if (!Number.isInteger(numHeads) || numHeads < 1 || dim % numHeads !== 0)
      throw new ArgumentError(`Attention: dim ${dim} must be divisible by numHeads ${numHeads}`);
    this.headDim = dim / numHeads;
    this.scale = this.headDim ** -0.5;
    this.qkv = new Linear(dim, dim * 3, { bias: qkvBias, generator });
    this.proj = new Linear(dim, dim, { generator });
  }
  forward(x: Tensor, options: { mask?: Tensor; keyPaddingMask?: Tensor } = {}): Tensor {
    // A misspelt mask (attnMask) would otherwise attend to every key.
    expectOptions('Attention.forward', options, ['mask', 'keyPaddingMask']);
    const { mask, keyPaddingMask } = options;
    if (x.rank !== 3 || x.shape[2] !== this.dim) throw new ShapeError(`Attention: input must be [B, N, ${this.dim}], got ${fmtShape(x.shape)}`);
    const qkv = this.qkv.forward(x);
    const merged = ag.multiHeadSelfAttention(qkv, this.numHeads, { scale: this.scale, mask, keyPaddingMask });
    const out = this.proj.forward(merged);
    qkv.dispose();
    merged.dispose();
    return out;
  }
}

/**
 * Pre-norm transformer block (timm's Block without layer scale or drop path):
 *   x = x + attn(norm1(x));  x = x + mlp(norm2(x))
 * norm2 and the first residual add run as one fused layerNorm kernel, and the second residual add runs in
 * fc2's GEMM epilogue.
 */
export class Block extends Module implements UnaryModule {
  norm1: LayerNorm;
  attn: Attention;
  norm2: LayerNorm;
  mlp: MLP;
  constructor(
    dim: number,
    numHeads: number,
    options: { mlpRatio?: number; qkvBias?: boolean; eps?: number; generator?: Generator } = {},
  ) {
    super();
    expectOptions('Block', options, ['mlpRatio', 'qkvBias', 'eps', 'generator']);
    const { mlpRatio = 4, qkvBias = true, eps = 1e-5, generator } = options;
    this.norm1 = new LayerNorm(dim, eps);
    this.attn = new Attention(dim, numHeads, { qkvBias, generator });
    this.norm2 = new LayerNorm(dim, eps);
    this.mlp = new MLP(dim, Math.round(dim * mlpRatio), dim, { generator });
  }
  forward(x: Tensor, options: { mask?: Tensor; keyPaddingMask?: Tensor } = {}): Tensor {
    const h = this.norm1.forward(x);
    const a = this.attn.forward(h, options);
    const { y, sum } = ag.layerNorm(a, this.norm2.normalizedShape, this.norm2.weight, this.norm2.bias, this.norm2.eps, { residual: x });
    const fc1 = this.mlp.fc1;
    const fc2 = this.mlp.fc2;
    const hidden = ag.linear(y, fc1.weight, fc1.bias, { activation: 'gelu' });
    const out = ag.linear(hidden, fc2.weight, fc2.bias, { residual: sum! });
    for (const t of [h, a, y, sum!, hidden]) t.dispose();
    return out;
  }
}
