/**
 * Whole-model cases: Meta-Transformer's image path (ImageTokenizer 16x16 or 14x14 patches + CLS -> the
 * shared encoder) at the official B16 and L14 sizes with seeded random weights, forward without a graph,
 * and one training step as users run it: tokenizer and classification head trainable, encoder frozen
 * (forward, cross-entropy, backward through the frozen encoder to the tokenizer, AdamW step).
 *
 * No peer ships this model, so the cases are ours only. A model has no cheap float64 oracle: the check is
 * that the output is finite with the expected size (its layers are validated by the op cases). Inputs are
 * uploaded by the tokenizer on every call, as in real use.
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
import type { BenchCase, OutputCheck, Runner } from '../harness.js';
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

function buildModel(variant: ModelVariant, dtype: EncoderDType): MetaTransformer<Grid> {
  const generator = new Generator(91);
  const { config, patch, image } = MODELS[variant];
  return new MetaTransformer<Grid>({
    tokenizer: new ImageTokenizer({ dim: config.dim, patchSize: patch, imageSize: image, generator }),
    encoder: new MetaTransformerEncoder({ ...config, generator, dtype }).freeze(),
    head: new ClassificationHead({ dim: config.dim, numClasses: CLASSES, pooling: 'cls', generator }),
  });
}

/**
 * One step of the model per `run` iteration, as users run it: with `train`, the frozen-encoder training
 * step (forward, cross-entropy, backward, AdamW), else the encoder forward without a graph. Also used by
 * bench/step-probe.ts, which splits a step's time between the host and the GPU.
 */
export function modelRunner(variant: ModelVariant, batch: number, train: boolean, dtype: EncoderDType = 'f32'): Runner {
  const model = buildModel(variant, dtype);
  const side = MODELS[variant].image;
  const pixels = host([batch, 3, side, side], 92).data;
  const images: Grid[] = Array.from({ length: batch }, (_, i) => ({ shape: [3, side, side], data: pixels.subarray(i * 3 * side * side, (i + 1) * 3 * side * side) }));
  const labels = Int32Array.from({ length: batch }, (_, i) => i % CLASSES);
  const optimizer = train ? new AdamW(model.trainableParameters(), { lr: 1e-4 }) : null;
  let last: Tensor | null = null;
  const step = (): Tensor => {
    if (!optimizer) {
      // The encoder's output tokens, no graph: what `encode` computes.
      return ag.noGrad(() => {
        const { tokens } = model.tokenizer.forward(images);
        const out = model.encoder.forward(tokens);
        tokens.dispose();
        return out;
      });
    }
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

function modelCase(variant: ModelVariant, batch: number, train: boolean, dtype: EncoderDType = 'f32'): BenchCase {
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
      return {
        check: finite(train ? 1 : batch * tokens * dim),
        variants: [
          {
            engine: 'omnitensor',
            label: train ? 'tokenizer + head trained, encoder frozen, AdamW' : 'tokenizer + encoder, no graph',
            primary: true,
            create: async () => modelRunner(variant, batch, train, dtype),
          },
        ],
      };
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
