/**
 * CLIP-style contrastive pre-training of the Meta-Transformer encoder (the paper pre-trains its encoder
 * this way on LAION-2B before freezing it). Two towers map a batch of (image, caption) pairs to unit
 * vectors in a shared space:
 *
 *   image:  tokenizer -> encoder -> CLS token -> ln_post -> x @ visual.proj      -> L2-normalise
 *   text:   embedding -> causal transformer -> last valid token -> ln_final -> x @ text_projection -> L2-normalise
 *
 * and `clipContrastiveLoss` (symmetric InfoNCE) pulls matching pairs together, with a learnable
 * temperature `logit_scale` (log of the inverse temperature, initialised to ln(1/0.07) and clamped at
 * ln 100 as CLIP does). Parameter names follow OpenAI CLIP's state dict where CLIP has the part
 * (`visual.proj`, `visual.ln_post`, `ln_final`, `text_projection`, `logit_scale`); the projections are
 * bias-free linear maps stored as CLIP stores them, [width, embedDim] applied as x @ proj.
 */
import * as ag from '../../autograd/index.js';
import { expectOptions, optionKeys } from '../../engine/arguments.js';
import { ArgumentError, ShapeError, fmtShape } from '../../engine/errors.js';
import * as raw from '../../engine/ops/index.js';
import { globalGenerator, type Generator } from '../../engine/random.js';
import type { Tensor } from '../../engine/tensor.js';
import { Block, LayerNorm, Module, ModuleList, clipContrastiveLoss, init } from '../../nn/index.js';
import type { Tokenizer } from '../types.js';

/** CLIP's initial inverse temperature, ln(1 / 0.07). */
export const LOGIT_SCALE_INIT = Math.log(1 / 0.07);
/** CLIP clamps the learnable logit scale here, so the inverse temperature never exceeds 100. */
export const LOGIT_SCALE_MAX = Math.log(100);

/** What the towers need of an encoder: tokens [B, T, D] (and the padding mask) -> tokens [B, T, D]. */
export interface SequenceEncoder extends Module {
  forward(tokens: Tensor, paddingMask?: Tensor): Tensor;
}

export interface TextTransformerOptions {
  dim: number;
  depth: number;
  heads: number;
  generator?: Generator;
}

const TEXT_TRANSFORMER_OPTIONS = optionKeys<TextTransformerOptions>({ dim: true, depth: true, heads: true, generator: true });

/**
 * CLIP's text transformer: pre-norm Blocks (timm naming, LayerNorm eps 1e-5) under a causal mask, so
 * token i sees tokens 0..i only and the last valid token summarises the whole caption. Padding must be
 * on the right (as every tokenizer here pads): a causal query then never reaches a padding key, so the
 * mask alone is exact and the padding mask is not needed.
 */
export class TextTransformer extends Module implements SequenceEncoder {
  resblocks: ModuleList<Block>;
  readonly dim: number;
  constructor(options: TextTransformerOptions) {
    super();
    expectOptions('TextTransformer', options, TEXT_TRANSFORMER_OPTIONS);
    const { dim, depth, heads, generator } = options;
    if (!Number.isInteger(depth) || depth < 1) throw new ArgumentError(`TextTransformer: depth must be a positive integer, got ${depth}`);
    this.dim = dim;
    this.resblocks = new ModuleList(Array.from({ length: depth }, () => new Block(dim, heads, { generator })));
  }
  forward(tokens: Tensor): Tensor {
    if (tokens.rank !== 3 || tokens.shape[2] !== this.dim)
      throw new ShapeError(`TextTransformer: tokens must be [B, T, ${this.dim}], got ${fmtShape(tokens.shape)}`);
    const mask = causalMask(tokens.shape[1]!);
    let h = tokens;
    for (const block of this.resblocks) {
      const next = block.forward(h, { mask });
      if (h !== tokens) h.dispose();
      h = next;
    }
    mask.dispose();
    return h;
  }
}

/** Additive attention mask [T, T]: 0 where key j <= query i, -inf above the diagonal. */
export function causalMask(length: number): Tensor {
  const values = new Float32Array(length * length);
  for (let i = 0; i < length; i++) values.fill(-Infinity, i * length + i + 1, (i + 1) * length);
  return raw.fromFlat(values, [length, length], 'f32', 'causalMask');
}

/** Rows divided by their L2 norm (eps keeps an all-zero row finite). */
export function l2Normalize(x: Tensor): Tensor {
  const sq = ag.square(x);
  const ss = ag.sum(sq, -1, { keepdim: true });
  const padded = ag.add(ss, 1e-12);
  const inv = ag.rsqrt(padded);
  const out = ag.mul(x, inv);
  for (const t of [sq, ss, padded, inv]) t.dispose();
  return out;
}

/**
 * Picks, per row of `tokens` [B, T, D], the last token that is not padding (`paddingMask` [B, T], 1 =
 * padding; without a mask, the last token): CLIP's end-of-text position. The one-hot selector is built
 * on the GPU (the position whose running count of valid tokens equals the row's total and which is
 * itself valid), and applied as a batched [B, 1, T] x [B, T, D] product, so gradients reach the token.
 */
export function lastValidToken(tokens: Tensor, paddingMask?: Tensor): Tensor {
  const [b, t] = tokens.shape as [number, number, number];
  if (!paddingMask) {
    const last = ag.slice(tokens, [null, t - 1]);
    const out = ag.contiguous(last);
    last.dispose();
    return out;
  }
  if (paddingMask.rank !== 2 || paddingMask.shape[0] !== b || paddingMask.shape[1] !== t)
    throw new ShapeError(`lastValidToken: paddingMask must be [${b}, ${t}], got ${fmtShape(paddingMask.shape)}`);
  const validU = raw.eq(paddingMask, 0);
  const valid = raw.cast(validU, tokens.dtype);
  const running = raw.cumsum(valid, 1);
  const total = raw.sum(valid, 1, { keepdim: true });
  const atTotalU = raw.eq(running, total);
  const atTotal = raw.cast(atTotalU, tokens.dtype);
  const selector = raw.mul(valid, atTotal);
  const rowSelector = raw.reshape(selector, [b, 1, t]);
  const picked = ag.matmul(rowSelector, tokens);
  const out = ag.reshape(picked, [b, tokens.shape[2]!]);
  for (const x of [validU, valid, running, total, atTotalU, atTotal, selector, rowSelector, picked]) x.dispose();
  return out;
}

/** Bias-free projection weight [inDim, outDim], N(0, inDim^-1/2) as CLIP initialises its projections. */
function projection(inDim: number, outDim: number, generator: Generator): Tensor {
  const w = init.normal([inDim, outDim], 0, inDim ** -0.5, { generator });
  w.requiresGrad = true;
  return w;
}

/** The image tower: tokenizer, encoder, final LayerNorm on the CLS token, projection. */
export class ClipVisual<X> extends Module {
  tokenizer: Tokenizer<X>;
  encoder: SequenceEncoder;
  ln_post: LayerNorm;
  proj: Tensor;
  constructor(tokenizer: Tokenizer<X>, encoder: SequenceEncoder, embedDim: number, generator: Generator) {
    super();
    if (!tokenizer.hasClsToken) throw new ArgumentError('ClipModel: the image tokenizer must prepend a CLS token (image features are the CLS token)');
    this.tokenizer = tokenizer;
    this.encoder = encoder;
    this.ln_post = new LayerNorm(tokenizer.dim);
    this.proj = projection(tokenizer.dim, embedDim, generator);
  }
  /** Unnormalised image features [B, embedDim]. */
  forward(batch: readonly X[]): Tensor {
    const { tokens, paddingMask } = this.tokenizer.forward(batch);
    const encoded = this.encoder.forward(tokens, paddingMask);
    const cls = ag.slice(encoded, [null, 0]);
    const normed = this.ln_post.forward(cls);
    const out = ag.matmul(normed, this.proj);
    for (const t of [tokens, paddingMask, encoded, cls, normed]) t?.dispose();
    return out;
  }
}

export interface ClipModelOptions<X> {
  imageTokenizer: Tokenizer<X>;
  /** The shared Meta-Transformer encoder being pre-trained (width = the tokenizers' dim). */
  imageEncoder: SequenceEncoder;
  /** Caption ids -> tokens [B, T, D] with positions, and the padding mask (right padding). */
  textEmbedding: Tokenizer<string>;
  /** Applied with a causal mask; `TextTransformer`. */
  textEncoder: TextTransformer;
  /** Width of the joint embedding space. */
  embedDim: number;
  generator?: Generator;
}

export class ClipModel<X> extends Module {
  visual: ClipVisual<X>;
  textEmbedding: Tokenizer<string>;
  transformer: TextTransformer;
  ln_final: LayerNorm;
  text_projection: Tensor;
  logit_scale: Tensor;
  readonly embedDim: number;

  constructor({ imageTokenizer, imageEncoder, textEmbedding, textEncoder, embedDim, generator = globalGenerator }: ClipModelOptions<X>) {
    super();
    if (!Number.isInteger(embedDim) || embedDim < 1) throw new ArgumentError(`ClipModel: embedDim must be a positive integer, got ${embedDim}`);
    if (textEmbedding.dim !== textEncoder.dim)
      throw new ArgumentError(`ClipModel: text embedding width ${textEmbedding.dim} differs from the text encoder's ${textEncoder.dim}`);
    this.embedDim = embedDim;
    this.visual = new ClipVisual(imageTokenizer, imageEncoder, embedDim, generator);
    this.textEmbedding = textEmbedding;
    this.transformer = textEncoder;
    this.ln_final = new LayerNorm(textEncoder.dim);
    this.text_projection = projection(textEncoder.dim, embedDim, generator);
    this.logit_scale = raw.fromFlat([LOGIT_SCALE_INIT], [], 'f32', 'ClipModel');
    this.logit_scale.requiresGrad = true;
  }

  /** Unnormalised image features [B, embedDim]. */
  imageFeatures(images: readonly X[]): Tensor {
    return this.visual.forward(images);
  }

  /** Unnormalised text features [B, embedDim]: the last valid token after ln_final, projected. */
  textFeatures(texts: readonly string[]): Tensor {
    const { tokens, paddingMask } = this.textEmbedding.forward(texts);
    const encoded = this.transformer.forward(tokens);
    const eot = lastValidToken(encoded, paddingMask);
    const normed = this.ln_final.forward(eot);
    const out = ag.matmul(normed, this.text_projection);
    for (const t of [tokens, paddingMask, encoded, eot, normed]) t?.dispose();
    return out;
  }

  /** L2-normalised image embeddings [B, embedDim]. */
  encodeImage(images: readonly X[]): Tensor {
    const f = this.imageFeatures(images);
    const out = l2Normalize(f);
    f.dispose();
    return out;
  }

  /** L2-normalised text embeddings [B, embedDim]. */
  encodeText(texts: readonly string[]): Tensor {
    const f = this.textFeatures(texts);
    const out = l2Normalize(f);
    f.dispose();
    return out;
  }

  /** The logit scale as used: clamped at ln 100 (no gradient pushes it further once there). */
  clampedLogitScale(): Tensor {
    return ag.clamp(this.logit_scale, undefined, LOGIT_SCALE_MAX);
  }

  /** Symmetric InfoNCE of a batch of matching (image, caption) pairs. */
  loss(images: readonly X[], captions: readonly string[]): Tensor {
    if (images.length !== captions.length) throw new ArgumentError(`ClipModel.loss: ${images.length} images but ${captions.length} captions`);
    if (images.length < 2) throw new ArgumentError(`ClipModel.loss: need at least 2 pairs (the others are each pair's negatives), got ${images.length}`);
    const img = this.imageFeatures(images);
    const txt = this.textFeatures(captions);
    const scale = this.clampedLogitScale();
    const out = clipContrastiveLoss(img, txt, scale);
    for (const t of [img, txt, scale]) t.dispose();
    return out;
  }
}
