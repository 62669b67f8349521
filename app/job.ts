/**
 * The main job, platform-neutral (Node's `npm start` and the browser demo both run it): load the shipped
 * pre-trained encoder and build a randomly initialised one of the same size, freeze both, then for every
 * modality train that modality's tokenizer and head on top of each encoder and measure the held-out
 * metric, training time and throughput. Files and terminals are the callers' business (app/main.ts).
 */
import { ArgumentError, FormatError } from '../engine/errors.js';
import { Generator } from '../engine/random.js';
import { deviceInfo } from '../engine/runtime.js';
import type { Modality } from '../metatransformer/data/types.js';
import { MetaTransformerEncoder } from '../metatransformer/encoder.js';
import type { MetaTransformer } from '../metatransformer/model.js';
import { loadPretrainedEncoder, readEncoderInfo } from '../metatransformer/pretrain/checkpoint.js';
import { evaluate, fit, type FitProgress } from '../metatransformer/train.js';
import type { CheckpointSource } from '../nn/checkpoint/index.js';
import { RECIPES, buildModel, type ConfigValue, type Recipe, type RecipeData } from './modalities.js';
import { ENCODER_KINDS, type EncoderKind, type EncoderSummary, type JobReport, type ModalityReport, type RunResult } from './report/report.js';

/** Where the shipped pre-trained encoder lives, relative to the package root. */
export const SHIPPED_ENCODER = 'metatransformer/weights/encoder-tiny.safetensors';

/** How to make the shipped encoder when it is missing (the pre-training script writes it). */
export const PRETRAIN_HINT = `the pre-trained encoder ${SHIPPED_ENCODER} is missing: produce it with \`npm run build && node scripts/pretrain-encoder.mjs\` (CLIP-style pre-training on MNIST captions), or pass --checkpoint FILE (e.g. the official Meta-Transformer_base_patch16_encoder.pth)`;

export interface Encoders {
  pretrained: MetaTransformerEncoder;
  random: MetaTransformerEncoder;
  summary: EncoderSummary;
}

/**
 * Loads a pre-trained encoder: a file written by the pre-training script (its metadata gives the head
 * count), else any checkpoint `MetaTransformerEncoder.fromCheckpoint` reads (heads = width / 64).
 */
export async function loadEncoder(src: CheckpointSource): Promise<MetaTransformerEncoder> {
  let ours: boolean;
  try {
    await readEncoderInfo(src);
    ours = true;
  } catch (err) {
    // Not one of ours (no omnitensor metadata, or not safetensors at all): read it as a plain checkpoint.
    if (!(err instanceof FormatError)) throw err;
    ours = false;
  }
  return ours ? (await loadPretrainedEncoder(src)).encoder : MetaTransformerEncoder.fromCheckpoint(src);
}

/** The pre-trained encoder from `src` and a seeded random one of the same architecture, both frozen. */
export async function loadEncoders(src: CheckpointSource, sourceName: string, seed: number): Promise<Encoders> {
  const pretrained = (await loadEncoder(src)).freeze();
  const mlpRatio = pretrained.blocks[0]!.mlp.fc1.outFeatures / pretrained.dim;
  const random = new MetaTransformerEncoder({
    dim: pretrained.dim, depth: pretrained.depth, heads: pretrained.heads, mlpRatio, generator: new Generator(seed ^ 0x5eed),
  }).freeze();
  const parameters = pretrained.parameters().reduce((n, p) => n + p.size, 0);
  return { pretrained, random, summary: { source: sourceName, dim: pretrained.dim, depth: pretrained.depth, heads: pretrained.heads, parameters } };
}

export interface JobEvents {
  /** A modality's dataset is loaded; `runs` trainings follow. */
  onModalityStart?(modality: Modality, info: { dataset: string; provenance: string; train: number; test: number }): void;
  onProgress?(modality: Modality, encoder: EncoderKind, progress: FitProgress): void;
  onRunDone?(modality: Modality, encoder: EncoderKind, result: RunResult, task: ModalityReport['task']): void;
}

export interface ModalityRunOptions {
  seed: number;
  /** Overrides the recipe's epoch count. */
  epochs?: number;
}

export interface TrainOptions extends ModalityRunOptions {
  onProgress?: (p: FitProgress) => void;
  /** Score the test split after every epoch too (the job's learning curves); off, only at the end. */
  validateEachEpoch?: boolean;
}

/**
 * Trains `model`'s tokenizer and head on `data`'s training split (batch order from `seed`) and evaluates on
 * its test split. The caller owns the model (the CLI saves it afterwards; the job disposes its parts).
 */
export async function trainModel<X>(model: MetaTransformer<X>, recipe: Recipe<X>, data: RecipeData<X>, options: TrainOptions): Promise<RunResult> {
  const fitted = await fit(model, data.train, {
    task: data.task, epochs: options.epochs ?? recipe.epochs, batchSize: recipe.batchSize, lr: recipe.lr, seed: options.seed,
    ...(options.validateEachEpoch ? { validation: data.test } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const scores = await evaluate(model, data.test, data.task, { batchSize: recipe.batchSize });
  return {
    metric: data.task === 'classification' ? scores.accuracy! : scores.mse!,
    ...(scores.mae === undefined ? {} : { mae: scores.mae }),
    ...(scores.confusion ? { confusion: scores.confusion } : {}),
    history: fitted.history.map((e) => ({ epoch: e.epoch, trainLoss: e.trainLoss, ...(e.valMetric === undefined ? {} : { validation: e.valMetric }) })),
    seconds: fitted.seconds,
    examplesPerSecond: fitted.examplesPerSecond,
    trainableParameters: fitted.trainableParameters,
  };
}

/**
 * Trains a fresh tokenizer and head of `recipe` (initial weights from `seed + 1`, batch order from `seed`) on
 * `data`'s training split on top of `encoder`, scoring the test split each epoch, and evaluates on it. Only
 * this run's tokenizer and head are freed at the end: the encoder is shared.
 */
export async function trainRecipe<X>(
  recipe: Recipe<X>, data: RecipeData<X>, config: ConfigValue, encoder: MetaTransformerEncoder,
  options: ModalityRunOptions, onProgress?: (p: FitProgress) => void,
): Promise<RunResult> {
  const model = buildModel(recipe, encoder, config, options.seed + 1);
  try {
    return await trainModel(model, recipe, data, { ...options, validateEachEpoch: true, ...(onProgress ? { onProgress } : {}) });
  } finally {
    model.disposeParts();
  }
}

/** Trains one modality's tokenizer and head on each encoder in turn and evaluates both on the test split. */
export async function runModality(modality: Modality, encoders: Encoders, options: ModalityRunOptions, events: JobEvents = {}): Promise<ModalityReport> {
  const { epochs } = options;
  if (epochs !== undefined && (!Number.isInteger(epochs) || epochs < 1)) throw new ArgumentError(`runModality: epochs must be a positive integer, got ${epochs}`);
  return RECIPES[modality].use(async (recipe) => {
    const data = await recipe.load(options.seed);
    const config = recipe.configure(data);
    events.onModalityStart?.(modality, { dataset: data.name, provenance: data.provenance, train: data.train.inputs.length, test: data.test.inputs.length });
    const runs = {} as Record<EncoderKind, RunResult>;
    for (const kind of ENCODER_KINDS) {
      // Same seed for both encoders: identical initial tokenizer and head, identical batch order.
      runs[kind] = await trainRecipe(recipe, data, config, encoders[kind], options, (p) => events.onProgress?.(modality, kind, p));
      events.onRunDone?.(modality, kind, runs[kind], data.task);
    }
    return {
      modality, dataset: data.name, provenance: data.provenance, task: data.task, classNames: data.classNames,
      trainExamples: data.train.inputs.length, testExamples: data.test.inputs.length, epochs: epochs ?? recipe.epochs, batchSize: recipe.batchSize, runs,
    };
  });
}

export interface JobOptions extends ModalityRunOptions {
  modalities: readonly Modality[];
  checkpoint: CheckpointSource;
  /** How the report names the checkpoint (its path or URL). */
  checkpointName: string;
  /** Platform description for the report ('node v20 (Dawn)', a user agent). */
  platform: string;
}

/** The whole job: both encoders, every requested modality, one report. Disposes the encoders at the end. */
export async function runJob(options: JobOptions, events: JobEvents = {}): Promise<JobReport> {
  const started = performance.now();
  const encoders = await loadEncoders(options.checkpoint, options.checkpointName, options.seed);
  try {
    const modalities: ModalityReport[] = [];
    for (const m of options.modalities) modalities.push(await runModality(m, encoders, options, events));
    const info = deviceInfo();
    return {
      tool: 'omnitensor-main-job',
      date: new Date().toISOString(),
      platform: options.platform,
      adapter: `${[info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ')} (${info.adapterClass})`,
      encoder: encoders.summary,
      seed: options.seed,
      modalities,
      totalSeconds: (performance.now() - started) / 1000,
    };
  } finally {
    encoders.pretrained.dispose();
    encoders.random.dispose();
  }
}
