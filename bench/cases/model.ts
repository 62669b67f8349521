/**
 * Whole-model cases: Meta-Transformer's image path (ImageTokenizer 16x16 or 14x14 patches + CLS -> the
 * shared encoder) at the official B16 and L14 sizes with seeded random weights, forward without a graph,
 * and one training step as users run it: tokenizer and classification head trainable, encoder frozen
 * (forward, cross-entropy, backward through the frozen encoder to the tokenizer, AdamW step).
 *
 * No peer ships this model. The one-image f32 forward also runs in ONNX Runtime Web, as an ONNX graph of
 * the same weights (an ORT user's exported model): Conv patch embedding, CLS and positions, then per block
 * LayerNormalization, Gemm, the MatMul/Softmax attention (ORT's fused MultiHeadAttention is wrong on
 * lavapipe: bench/cases/attention.ts) and Gelu; the weights are graph inputs, uploaded once. A model has no
 * cheap float64 oracle: that forward is checked against our own output (its layers are validated by the op
 * cases), the others only for finite values of the expected size. Our inputs are uploaded by the tokenizer
 * on every call, as in real use; ORT's image is uploaded once, like its weights.
 *
 * Sizes: B16 has 86M encoder weights (34 GFLOP per 224x224 image forward), L14 303M (~160 GFLOP at 257
 * tokens). On CPU adapters the default is B16 at batch 1; --large (or a GPU adapter) adds L14 and batch 32.
 */
import * as ag from '../../autograd/index.js';
import { Generator } from '../../engine/random.js';
import { tidy, type Tensor } from '../../engine/tensor.js';
import type { Grid } from '../../metatransformer/data/types.js';
import { MetaTransformerEncoder, type EncoderConfig, type EncoderDType } from '../../metatransformer/encoder.js';
import { ClassificationHead } from '../../metatransformer/heads.js';
import { MetaTransformer } from '../../metatransformer/model.js';
import { ImageTokenizer } from '../../metatransformer/tokenizers/image.js';
import { crossEntropy } from '../../nn/losses.js';
import { AdamW } from '../../nn/optim.js';
import { sampledCheck, type BenchCase, type OutputCheck, type Runner, type Variant } from '../harness.js';
import { ortRunner, type OrtGraphBuilder } from '../peers/ort.js';
import type { HostTensor } from '../peers/tfjs.js';
import { host } from './common.js';

/**
 * B16 and L14 are the official sizes on 224x224 images. `host` is B16's 12 blocks at width 64 (4 heads) on
 * 32x32 images: the same dispatches per step as B16 with almost no GPU work in them, so timing it measures
 * what the host spends recording a step (bench/step-probe.ts, PROBE_MODEL=host).
 */
export type ModelVariant = 'B16' | 'L14' | 'host';
const MODELS: Record<ModelVariant, { readonly config: EncoderConfig; readonly patch: number; readonly image: number }> = {
  B16: { config: MetaTransformerEncoder.B16, patch: 16, image: 224 },
  L14: { config: MetaTransformerEncoder.L14, patch: 14, image: 224 },
  host: { config: { dim: 64, depth: 12, heads: 4 }, patch: 16, image: 32 },
};
const CLASSES = 10;

const finite =
  (size: number): OutputCheck =>
  (out) => {
    if (out.length !== size) return `output has ${out.length} elements, expected ${size}`;
    for (let i = 0; i < out.length; i++) if (!Number.isFinite(out[i]!)) return `element ${i} is ${out[i]}`;
    return null;
  };

/** The seeded model of a variant: every call builds the same weights. */
function buildModel(variant: ModelVariant, dtype: EncoderDType): MetaTransformer<Grid> {
  const generator = new Generator(91);
  const { config, patch, image } = MODELS[variant];
  return new MetaTransformer<Grid>({
    tokenizer: new ImageTokenizer({ dim: config.dim, patchSize: patch, imageSize: image, generator }),
    encoder: new MetaTransformerEncoder({ ...config, generator, dtype }).freeze(),
    head: new ClassificationHead({ dim: config.dim, numClasses: CLASSES, pooling: 'cls', generator }),
  });
}

/** The case's input images, [batch, 3, side, side] as one host tensor and as the tokenizer's grids. */
function inputImages(variant: ModelVariant, batch: number): { pixels: HostTensor; images: Grid[] } {
  const side = MODELS[variant].image;
  const pixels = host([batch, 3, side, side], 92);
  const images: Grid[] = Array.from({ length: batch }, (_, i) => ({ shape: [3, side, side], data: pixels.data.subarray(i * 3 * side * side, (i + 1) * 3 * side * side) }));
  return { pixels, images };
}

/** The encoder's output tokens for `images`, no graph: what `encode` computes. */
function encodeImages(model: MetaTransformer<Grid>, images: readonly Grid[]): Tensor {
  return ag.noGrad(() => {
    const { tokens } = model.tokenizer.forward(images);
    const out = model.encoder.forward(tokens);
    tokens.dispose();
    return out;
  });
}

/**
 * One step of the model per `run` iteration, as users run it: with `train`, the frozen-encoder training
 * step (forward, cross-entropy, backward, AdamW), else the encoder forward without a graph. Also used by
 * bench/step-probe.ts, which splits a step's time between the host and the GPU.
 */
export function modelRunner(variant: ModelVariant, batch: number, train: boolean, dtype: EncoderDType = 'f32'): Runner {
  const model = buildModel(variant, dtype);
  const { images } = inputImages(variant, batch);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % CLASSES);
  const optimizer = train ? new AdamW(model.trainableParameters(), { lr: 1e-4 }) : null;
  let last: Tensor | null = null;
  const step = (): Tensor => {
    if (!optimizer) return encodeImages(model, images);
    const loss = tidy(() => {
      const l = crossEntropy(model.forward(images), ag.fromFlat(labels, [batch], 'i32'));
      ag.backward(l);
      return l;
    });
    optimizer.step();
    optimizer.zeroGrad();
    return loss;
  };
  return {
    run(iterations) {
      for (let i = 0; i < iterations; i++) {
        last?.dispose();
        last = step();
      }
    },
    async sync() {
      await last?.data();
    },
    async result() {
      if (!last) throw new Error('model runner: result() before run()');
      return last.data();
    },
    dispose() {
      last?.dispose();
      optimizer?.dispose();
      model.dispose();
    },
  };
}

/** Our one-image forward's output and the model's weights by state-dict name (tokenizer and encoder), on the host. */
async function referenceForward(variant: ModelVariant): Promise<{ output: Float32Array; weights: Map<string, HostTensor> }> {
  const model = buildModel(variant, 'f32');
  try {
    const out = encodeImages(model, inputImages(variant, 1).images);
    const output = (await out.data()) as Float32Array;
    out.dispose();
    const weights = new Map<string, HostTensor>();
    for (const [prefix, module] of [['', model.tokenizer], ['encoder.', model.encoder]] as const)
      for (const [name, t] of module.stateDict()) weights.set(prefix + name, { data: (await t.data()) as Float32Array, shape: t.shape });
    return { output, weights };
  } finally {
    model.dispose();
  }
}

/**
 * The image path of a model as an ONNX graph over one image (input 0) and `names` (the weights, inputs
 * 1...): patch embedding, CLS and positions, then the encoder's pre-norm blocks on [T, D] rows.
 */
function ortImageEncoder(variant: ModelVariant, names: readonly string[]): OrtGraphBuilder {
  const { config, patch, image } = MODELS[variant];
  const { dim, depth, heads = dim / 64, eps = 1e-5 } = config;
  const grid = image / patch;
  const tokens = 1 + grid * grid;
  const headDim = dim / heads;
  return (g, xs) => {
    const w = (name: string): string => {
      const i = names.indexOf(name);
      if (i < 0) throw new Error(`ortImageEncoder: no weight '${name}'`);
      return xs[i + 1]!;
    };
    const ints = (values: number[]) => ({ ints: values });
    const conv = g.op('Conv', [xs[0]!, w('patch_embed.proj.weight'), w('patch_embed.proj.bias')], { kernel_shape: ints([patch, patch]), strides: ints([patch, patch]) });
    const patches = g.op('Transpose', [g.op('Reshape', [conv, g.int64s([1, dim, grid * grid])])], { perm: ints([0, 2, 1]) });
    const withCls = g.op('Concat', [w('cls_token'), patches], { axis: { int: 1 } });
    let x = g.op('Reshape', [g.op('Add', [withCls, w('pos_embed')]), g.int64s([tokens, dim])]);
    for (let b = 0; b < depth; b++) {
      const p = (name: string) => w(`encoder.${b}.${name}`);
      const norm = (h: string, name: string) => g.op('LayerNormalization', [h, p(`${name}.weight`), p(`${name}.bias`)], { axis: { int: -1 }, epsilon: { float: eps } });
      const linear = (h: string, name: string) => g.op('Gemm', [h, p(`${name}.weight`), p(`${name}.bias`)], { transB: { int: 1 } });
      // qkv [T, 3D] -> [3, H, T, hd]; q, k, v are its three slices along axis 0.
      const qkv = g.op('Transpose', [g.op('Reshape', [linear(norm(x, 'norm1'), 'attn.qkv'), g.int64s([tokens, 3, heads, headDim])])], { perm: ints([1, 2, 0, 3]) });
      const part = (j: number) => g.op('Gather', [qkv, g.constant('int64', [], [j])], { axis: { int: 0 } });
      const scores = g.op('Mul', [g.op('MatMul', [part(0), g.op('Transpose', [part(1)], { perm: ints([0, 2, 1]) })]), g.scalar(headDim ** -0.5)]);
      const attended = g.op('MatMul', [g.op('Softmax', [scores], { axis: { int: -1 } }), part(2)]);
      const merged = g.op('Reshape', [g.op('Transpose', [attended], { perm: ints([1, 0, 2]) }), g.int64s([tokens, dim])]);
      x = g.op('Add', [x, linear(merged, 'attn.proj')]);
      x = g.op('Add', [x, linear(g.op('Gelu', [linear(norm(x, 'norm2'), 'mlp.fc1')]), 'mlp.fc2')]);
    }
    return x;
  };
}

/** Ours and ORT's one-image forward, both checked against our output (see the file comment). */
async function forwardAgainstOrt(variant: ModelVariant, ours: Variant): Promise<{ variants: Variant[]; check: OutputCheck }> {
  const { output, weights } = await referenceForward(variant);
  const names = [...weights.keys()];
  const inputs = [inputImages(variant, 1).pixels, ...names.map((n) => weights.get(n)!)];
  const ort: Variant = {
    engine: 'onnxruntime-web',
    label: 'ONNX graph of the same weights: Conv, LayerNormalization, Gemm, MatMul/Softmax attention, Gelu',
    create: () => ortRunner(inputs, ortImageEncoder(variant, names)),
  };
  // 12 blocks of f32 GEMMs summed in different orders drift ~1e-5 relative; a wrong layout is off by O(1).
  return { variants: [ours, ort], check: sampledCheck({ size: output.length, expectedAt: (i) => output[i]!, atol: 2e-3, rtol: 2e-3 }) };
}

export function modelCase(variant: ModelVariant, batch: number, train: boolean, dtype: EncoderDType = 'f32'): BenchCase {
  const { config, patch, image } = MODELS[variant];
  const tokens = 1 + (image / patch) ** 2;
  const { dim, depth } = config;
  // Per token per block: qkv + projection + MLP = 12 D^2 multiply-adds, attention 2 T D. A training step adds
  // one backward GEMM per forward GEMM: the frozen encoder needs input gradients only (x2, not x3).
  const forwardFlops = 2 * batch * depth * tokens * (12 * dim * dim + 2 * tokens * dim);
  return {
    name: `Meta-Transformer ${variant}${dtype === 'f16' ? ' f16' : ''} ${train ? 'train step (frozen encoder)' : 'forward'} B=${batch}`,
    group: 'model',
    shape: `images ${batch}x3x${image}x${image} -> ${tokens} tokens x ${dim}`,
    dtype,
    flops: train ? 2 * forwardFlops : forwardFlops,
    maxIterations: 3,
    async setup() {
      const ours: Variant = {
        engine: 'omnitensor',
        label: train ? 'tokenizer + head trained, encoder frozen, AdamW' : 'tokenizer + encoder, no graph',
        primary: true,
        create: async () => modelRunner(variant, batch, train, dtype),
      };
      if (!train && batch === 1 && dtype === 'f32') return forwardAgainstOrt(variant, ours);
      return { check: finite(train ? 1 : batch * tokens * dim), variants: [ours] };
    },
  };
}

/**
 * B16 forward and train step at batch 1; with `small` off (GPU adapters, --large) also batch 32 and L14.
 * Where the adapter has shader-f16, also the forward with f16 encoder weights and activations (the
 * inference setting; on GPUs with matrix units its GEMMs run on them).
 */
export function modelCases(options: { small: boolean; f16: boolean }): BenchCase[] {
  const cases = [modelCase('B16', 1, false), modelCase('B16', 1, true)];
  if (options.f16) cases.push(modelCase('B16', 1, false, 'f16'));
  if (!options.small) cases.push(modelCase('B16', 32, false), modelCase('B16', 32, true), modelCase('L14', 1, false), modelCase('L14', 32, false));
  if (!options.small && options.f16) cases.push(modelCase('B16', 32, false, 'f16'), modelCase('L14', 32, false, 'f16'));
  return cases;
}
