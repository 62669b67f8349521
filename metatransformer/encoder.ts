/**
 * The Meta-Transformer unified encoder: a stack of pre-norm ViT blocks shared by every modality. The
 * official encoder is `nn.Sequential(*[timm Block ...])`, so its checkpoints hold only block weights named
 * `{i}.norm1.weight`, `{i}.attn.qkv.weight`, ... — this module's blocks are its direct children named
 * '0', '1', ..., which gives it exactly those state-dict names. Block semantics (nn/transformer.ts): LayerNorm
 * eps 1e-5 (the official encoder uses nn.LayerNorm's default, not timm ViT's 1e-6), fused qkv with bias,
 * scale head_dim^-0.5, exact GELU, no layer scale, and no final norm (the heads add their own).
 *
 * f16: `dtype: 'f16'` (or `encoder.to('f16')`) stores the weights in half precision for inference where the
 * adapter has shader-f16. Activations between kernels are then f16 too (kernels accumulate in f32). On the
 * parity fixture (2 blocks, width 64, lavapipe) the output's max error is 8e-4 of its max magnitude, versus
 * 3e-7 in f32; test/metatransformer/encoder.test.ts holds it under 5e-3. Deeper stacks accumulate more
 * rounding (roughly with the square root of depth), so expect ~3e-3 on B16.
 */
import * as ag from '../autograd/index.js';
import { expectOptions, optionKeys } from '../engine/arguments.js';
import { ArgumentError, DTypeError, FormatError, ShapeError, fmtShape } from '../engine/errors.js';
import { expectBytesSource } from '../engine/platform.js';
import type { Generator } from '../engine/random.js';
import { hasF16 } from '../engine/runtime.js';
import type { Tensor } from '../engine/tensor.js';
import type { CheckpointSource, HostTensor } from '../nn/checkpoint/index.js';
import { loadCheckpoint, withPrefix } from '../nn/io.js';
import { Module } from '../nn/module.js';
import { Block } from '../nn/transformer.js';

export type EncoderDType = 'f32' | 'f16';

export interface EncoderConfig {
  /** Token width D. */
  dim: number;
  /** Number of blocks. */
  depth: number;
  /** Attention heads; default dim / 64 (12 for B16, 16 for L14). */
  heads?: number;
  /** MLP hidden width over dim. */
  mlpRatio?: number;
  eps?: number;
  qkvBias?: boolean;
}

export interface EncoderOptions extends EncoderConfig {
  /** Random source for the blocks' initial weights (PyTorch's default Linear init, as the official code). */
  generator?: Generator;
  /** Weight dtype; 'f16' needs shader-f16. Each block is cast as it is built, so f32 copies never pile up. */
  dtype?: EncoderDType;
}

export interface FromCheckpointOptions {
  /** Attention heads; default width / 64. Not recoverable from the weights. */
  heads?: number;
  /**
   * Name prefix of the encoder's entries (e.g. 'encoder.', 'blocks.'); entries outside it are ignored.
   * Default: detected from the `{prefix}{i}.attn.qkv.weight` entries.
   */
  prefix?: string;
  dtype?: EncoderDType;
  /** Throw a StateDictError on missing, unexpected or mis-shaped entries (default); else load what matches. */
  strict?: boolean;
}

function checkF16(op: string, dtype: EncoderDType): void {
  if (dtype !== 'f32' && dtype !== 'f16') throw new DTypeError(`${op}: dtype must be 'f32' or 'f16', got '${String(dtype)}'`);
  if (dtype === 'f16' && !hasF16()) throw new DTypeError(`${op}: f16 weights need the shader-f16 feature, which this adapter lacks`);
}

const FROM_CHECKPOINT_OPTIONS = optionKeys<FromCheckpointOptions>({ heads: true, prefix: true, dtype: true, strict: true });
const ENCODER_OPTIONS = optionKeys<EncoderOptions>({
  dim: true, depth: true, heads: true, mlpRatio: true, eps: true, qkvBias: true, generator: true, dtype: true,
});

export class MetaTransformerEncoder extends Module {
  /** Meta-Transformer-B16: 768 wide, 12 blocks, 12 heads (Meta-Transformer_base_patch16_encoder.pth). */
  static readonly B16: Readonly<EncoderConfig> = Object.freeze({ dim: 768, depth: 12, heads: 12 });
  /** Meta-Transformer-L14: 1024 wide, 24 blocks, 16 heads (Meta-Transformer_large_patch14_encoder.pth). */
  static readonly L14: Readonly<EncoderConfig> = Object.freeze({ dim: 1024, depth: 24, heads: 16 });

  readonly dim: number;
  readonly depth: number;
  readonly heads: number;
  readonly blocks: readonly Block[];
  /** Set by `freeze()`: the weights take no gradient and the model keeps the encoder in eval mode. */
  frozen = false;

  constructor(options: EncoderOptions) {
    super();
    expectOptions('MetaTransformerEncoder', options, ENCODER_OPTIONS);
    const { dim, depth, heads = dim / 64, mlpRatio = 4, eps = 1e-5, qkvBias = true, generator, dtype = 'f32' } = options;
    if (!Number.isInteger(dim) || dim < 1) throw new ArgumentError(`MetaTransformerEncoder: dim must be a positive integer, got ${dim}`);
    if (!Number.isInteger(depth) || depth < 1) throw new ArgumentError(`MetaTransformerEncoder: depth must be a positive integer, got ${depth}`);
    if (!Number.isInteger(heads) || heads < 1 || dim % heads !== 0)
      throw new ArgumentError(`MetaTransformerEncoder: heads must be a positive integer dividing dim ${dim}, got ${heads}`);
    checkF16('MetaTransformerEncoder', dtype);
    this.dim = dim;
    this.depth = depth;
    this.heads = heads;
    this.blocks = Array.from({ length: depth }, () => {
      const block = new Block(dim, heads, { mlpRatio, eps, qkvBias, generator });
      return dtype === 'f16' ? block.to('f16') : block;
    });
  }

  /** The blocks, named '0', '1', ... (the official checkpoint's names; there is nothing else in the encoder). */
  override children(): [string, Module][] {
    return this.blocks.map((b, i) => [String(i), b]);
  }

  /** The weights' dtype. */
  get dtype(): EncoderDType {
    return this.blocks[0]!.norm1.weight!.dtype as EncoderDType;
  }

  /**
   * tokens [B, T, D] -> [B, T, D]. `paddingMask` [B, T] (non-zero = padding) hides those keys from every
   * query. Tokens of another float dtype than the weights are cast in, and the result cast back, so an f16
   * encoder sits between f32 tokenizers and heads (gradients flow through the casts).
   */
  forward(tokens: Tensor, paddingMask?: Tensor): Tensor {
    if (tokens.rank !== 3 || tokens.shape[2] !== this.dim)
      throw new ShapeError(`MetaTransformerEncoder: tokens must be [B, T, ${this.dim}], got ${fmtShape(tokens.shape)}`);
    if (paddingMask && (paddingMask.rank !== 2 || paddingMask.shape[0] !== tokens.shape[0] || paddingMask.shape[1] !== tokens.shape[1]))
      throw new ShapeError(`MetaTransformerEncoder: paddingMask must be [B, T] = ${fmtShape(tokens.shape.slice(0, 2))}, got ${fmtShape(paddingMask.shape)}`);
    const weightDtype = this.dtype;
    const inputDtype = tokens.dtype;
    let h = inputDtype === weightDtype ? tokens : ag.cast(tokens, weightDtype);
    for (const block of this.blocks) {
      const next = block.forward(h, paddingMask ? { keyPaddingMask: paddingMask } : {});
      if (h !== tokens) h.dispose();
      h = next;
    }
    if (h.dtype === inputDtype) return h;
    const out = ag.cast(h, inputDtype);
    h.dispose();
    return out;
  }

  /** Stops training the weights (requiresGrad false, gradients dropped) and switches to eval mode. */
  freeze(): this {
    for (const p of this.parameters()) {
      p.requiresGrad = false;
      p.grad?.dispose();
      p.grad = null;
    }
    this.frozen = true;
    return this.eval();
  }

  /**
   * Loads an encoder from a checkpoint — the official `Meta-Transformer_{base_patch16,large_patch14}_encoder.pth`
   * or any torch.save file (zip or legacy), safetensors file, or state dict nested in a training checkpoint
   * ('model', 'state_dict', ... are unwrapped; a name prefix is detected or given). Depth, width, MLP ratio
   * and qkv bias are read from the entries; heads default to width / 64. Host memory: each tensor is read
   * and decoded once (no whole-file buffer), then uploaded one at a time into the built encoder.
   */
  static async fromCheckpoint(src: CheckpointSource, options: FromCheckpointOptions = {}): Promise<MetaTransformerEncoder> {
    const op = 'MetaTransformerEncoder.fromCheckpoint';
    expectBytesSource(op, src);
    expectOptions(op, options, FROM_CHECKPOINT_OPTIONS);
    const { heads, prefix, dtype = 'f32', strict = true } = options;
    checkF16(op, dtype);
    const all = await loadCheckpoint(src);
    const entries = withPrefix(all, prefix ?? detectPrefix(all));
    const config = inferConfig(entries);
    const width = config.dim;
    const numHeads = heads ?? width / 64;
    if (!Number.isInteger(numHeads) || width % numHeads !== 0)
      throw new ArgumentError(`${op}: width ${width} is not a multiple of 64, so pass heads (got ${heads ?? 'none'})`);
    const encoder = new MetaTransformerEncoder({ ...config, heads: numHeads, dtype });
    try {
      encoder.loadStateDict(entries, { strict });
    } catch (err) {
      encoder.dispose();
      throw err;
    }
    return encoder;
  }
}

const QKV_WEIGHT = /^((?:.*\.)?)(\d+)\.attn\.qkv\.weight$/;

/** The one prefix under which `{i}.attn.qkv.weight` entries sit ('' for the official files). */
function detectPrefix(entries: ReadonlyMap<string, HostTensor>): string {
  const prefixes = new Set<string>();
  for (const name of entries.keys()) {
    const m = QKV_WEIGHT.exec(name);
    if (m) prefixes.add(m[1]!);
  }
  if (prefixes.size === 0)
    throw new FormatError(`MetaTransformerEncoder.fromCheckpoint: no encoder block entries ('{i}.attn.qkv.weight') among ${entries.size} entries`);
  if (prefixes.size > 1)
    throw new ArgumentError(`MetaTransformerEncoder.fromCheckpoint: blocks under several prefixes (${[...prefixes].map((p) => `'${p}'`).join(', ')}); pass prefix`);
  return [...prefixes][0]!;
}

/** Depth, width, MLP ratio and qkv bias from the entries of the blocks. */
function inferConfig(entries: ReadonlyMap<string, HostTensor>): Required<Omit<EncoderConfig, 'heads' | 'eps'>> {
  const op = 'MetaTransformerEncoder.fromCheckpoint';
  const indices = new Set<number>();
  let qkvBias = false;
  for (const name of entries.keys()) {
    const m = /^(\d+)\./.exec(name);
    if (!m) continue;
    indices.add(Number(m[1]));
    if (name.endsWith('.attn.qkv.bias')) qkvBias = true;
  }
  // Every block index up to the largest must have entries: a stray '100000.x' must not build 100001 blocks.
  const depth = indices.size;
  for (let i = 0; i < depth; i++) if (!indices.has(i)) throw new FormatError(`${op}: block ${i} has no entries, but block ${Math.max(...indices)} does`);
  if (depth === 0) throw new FormatError(`${op}: no block entries ('0.norm1.weight', ...) under the prefix`);
  const qkv = entries.get('0.attn.qkv.weight');
  const fc1 = entries.get('0.mlp.fc1.weight');
  if (!qkv || qkv.shape.length !== 2 || qkv.shape[0] !== 3 * qkv.shape[1]!)
    throw new FormatError(`${op}: '0.attn.qkv.weight' must be [3D, D], got ${qkv ? fmtShape(qkv.shape) : 'nothing'}`);
  const dim = qkv.shape[1]!;
  if (!fc1 || fc1.shape.length !== 2 || fc1.shape[1] !== dim)
    throw new FormatError(`${op}: '0.mlp.fc1.weight' must be [hidden, ${dim}], got ${fc1 ? fmtShape(fc1.shape) : 'nothing'}`);
  return { dim, depth, mlpRatio: fc1.shape[0]! / dim, qkvBias };
}
