/**
 * Fine-tuning and evaluation loops for a MetaTransformer: AdamW over the trainable parameters with linear
 * warmup then cosine decay, cross-entropy (classification) or MSE (forecasting). Each step runs forward and
 * backward in one `tidy` scope and awaits its loss, so GPU memory stays flat across steps and Dawn can
 * reclaim finished work.
 */
import * as ag from '../autograd/index.js';
import { expectOptions, optionKeys } from '../engine/arguments.js';
import { ArgumentError, OmniError, ShapeError, fmtShape } from '../engine/errors.js';
import { Generator } from '../engine/random.js';
import { sizeOf } from '../engine/shape.js';
import { tidy, type Tensor } from '../engine/tensor.js';
import { crossEntropy, mse } from '../nn/losses.js';
import { AdamW, cosineWarmup } from '../nn/optim.js';
import { shuffle, type Split } from './data/types.js';
import { LaggedLoss, type SettledLoss } from './lagged-loss.js';
import type { MetaTransformer } from './model.js';

export type Task = 'classification' | 'forecasting';

export interface FitProgress {
  /** 1-based epoch. */
  epoch: number;
  /** 1-based optimizer step, over all epochs. */
  step: number;
  /** Total optimizer steps. */
  steps: number;
  /** This step's loss. */
  loss: number;
  /** Training throughput so far (validation time excluded). */
  examplesPerSecond: number;
}

export interface FitOptions<X> {
  task: Task;
  epochs: number;
  batchSize: number;
  /** Peak learning rate. */
  lr: number;
  /** AdamW decoupled weight decay; default 0.05. */
  weightDecay?: number;
  /** Linear warmup length in optimizer steps; default 10% of all steps. */
  warmup?: number;
  /** Evaluated after every epoch: accuracy (classification) or MSE (forecasting) goes into the history. */
  validation?: Split<X>;
  onProgress?: (p: FitProgress) => void;
  /** Seeds the shuffling of the training split; default 0. */
  seed?: number;
}

export interface EpochRecord {
  epoch: number;
  /** Mean training loss over the epoch's steps. */
  trainLoss: number;
  /** Validation accuracy (classification, higher is better) or MSE (forecasting, lower is better). */
  valMetric?: number;
}

export interface FitResult {
  history: EpochRecord[];
  /** Wall time of the whole fit, validation included. */
  seconds: number;
  /** Training throughput (validation time excluded). */
  examplesPerSecond: number;
  /** Number of trained scalars (elements of the trainable parameters). */
  trainableParameters: number;
}

export interface EvaluateResult {
  /** Fraction of correct predictions (classification). */
  accuracy?: number;
  /** Mean squared / absolute error over every predicted value (forecasting). */
  mse?: number;
  mae?: number;
  /** confusion[target][predicted] counts (classification). */
  confusion?: number[][];
  /** Predicted class per input (classification) or the predicted values per input (forecasting). */
  predictions: number[] | Float32Array[];
}

function checkSplit<X>(op: string, split: Split<X>, task: Task): void {
  if (task !== 'classification' && task !== 'forecasting') throw new ArgumentError(`${op}: task must be 'classification' or 'forecasting', got '${String(task)}'`);
  if (split.inputs.length === 0) throw new ArgumentError(`${op}: the split is empty`);
  if (split.targets.length !== split.inputs.length)
    throw new ArgumentError(`${op}: ${split.inputs.length} inputs but ${split.targets.length} targets`);
  const first = split.targets[0];
  if (task === 'classification' && typeof first !== 'number') throw new ArgumentError(`${op}: classification needs class-index targets`);
  if (task === 'forecasting' && !(first instanceof Float32Array)) throw new ArgumentError(`${op}: forecasting needs Float32Array targets`);
}

function checkPositiveInt(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new ArgumentError(`${op}: ${name} must be a positive integer, got ${v}`);
}

/** The target tensor matching `out` for the examples `idx` of `targets`. */
function targetTensor(task: Task, out: Tensor, targets: Split<unknown>['targets'], idx: readonly number[]): Tensor {
  if (task === 'classification') {
    const labels = idx.map((i) => targets[i] as number);
    const classes = out.shape[1]!;
    const bad = labels.find((y) => !Number.isInteger(y) || y < 0 || y >= classes);
    if (bad !== undefined) throw new ArgumentError(`fit: class target ${bad} is not an integer in [0, ${classes})`);
    return ag.fromFlat(labels, [idx.length], 'i32');
  }
  const per = sizeOf(out.shape.slice(1));
  const flat = new Float32Array(idx.length * per);
  idx.forEach((i, k) => {
    const y = targets[i] as Float32Array;
    if (y.length !== per) throw new ShapeError(`fit: target ${i} has ${y.length} values, the model predicts ${fmtShape(out.shape.slice(1))} = ${per}`);
    flat.set(y, k * per);
  });
  return ag.fromFlat(flat, out.shape, out.dtype);
}

const FIT_OPTIONS = optionKeys<FitOptions<unknown>>({
  task: true, epochs: true, batchSize: true, lr: true, weightDecay: true, warmup: true, validation: true, onProgress: true, seed: true,
});

/** Fine-tunes the model's trainable parameters on `train`. Leaves the model in training mode. */
export async function fit<X>(model: MetaTransformer<X>, train: Split<X>, options: FitOptions<X>): Promise<FitResult> {
  const op = 'fit';
  expectOptions(op, options, FIT_OPTIONS);
  const { task, epochs, batchSize, lr, weightDecay = 0.05, validation, onProgress, seed = 0 } = options;
  checkSplit(op, train, task);
  if (validation) checkSplit(`${op} (validation)`, validation, task);
  checkPositiveInt(op, 'epochs', epochs);
  checkPositiveInt(op, 'batchSize', batchSize);
  if (!(lr > 0)) throw new ArgumentError(`${op}: lr must be > 0, got ${lr}`);
  const params = model.trainableParameters();
  if (params.length === 0) throw new ArgumentError(`${op}: the model has no trainable parameters`);
  const n = train.inputs.length;
  const stepsPerEpoch = Math.ceil(n / batchSize);
  const steps = epochs * stepsPerEpoch;
  const warmup = options.warmup ?? Math.round(0.1 * steps);
  if (!Number.isInteger(warmup) || warmup < 0) throw new ArgumentError(`${op}: warmup must be a non-negative integer, got ${warmup}`);

  const optimizer = new AdamW(params, { lr, weightDecay });
  // cosineWarmup needs at least one step after the warmup.
  const schedule = cosineWarmup(optimizer, { warmupSteps: Math.min(warmup, steps - 1), totalSteps: steps });
  const rand = new Generator(seed);
  const history: EpochRecord[] = [];
  const start = performance.now();
  let trainMs = 0;
  let seen = 0;
  let step = 0;
  // Each loss is read back while the next step is recorded (see LaggedLoss), then checked and reported
  // in step order, one step late.
  const losses = new LaggedLoss<{ epoch: number; step: number; examples: number }>();
  const report = ({ value, meta }: SettledLoss<{ epoch: number; step: number; examples: number }>): number => {
    if (!Number.isFinite(value)) throw new OmniError(`${op}: the loss became ${value} at step ${meta.step} (epoch ${meta.epoch}); lower lr?`);
    onProgress?.({ epoch: meta.epoch, step: meta.step, steps, loss: value, examplesPerSecond: meta.examples / (trainMs / 1000) });
    return value;
  };
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      model.train();
      const order = shuffle([...train.inputs.keys()], () => rand.uniform());
      let lossSum = 0;
      for (let b = 0; b < n; b += batchSize) {
        const t0 = performance.now();
        const idx = order.slice(b, b + batchSize);
        const loss = tidy(() => {
          const out = model.forward(idx.map((i) => train.inputs[i]!));
          const target = targetTensor(task, out, train.targets, idx);
          const l = task === 'classification' ? crossEntropy(out, target) : mse(out, target);
          ag.backward(l);
          return l;
        });
        optimizer.step();
        optimizer.zeroGrad();
        schedule.step();
        step++;
        seen += idx.length;
        const previous = await losses.push(loss, { epoch, step, examples: seen });
        if (previous) lossSum += report(previous);
        trainMs += performance.now() - t0;
      }
      const t0 = performance.now();
      const last = await losses.drain();
      trainMs += performance.now() - t0;
      if (last) lossSum += report(last);
      const record: EpochRecord = { epoch, trainLoss: lossSum / stepsPerEpoch };
      if (validation) {
        const r = await evaluate(model, validation, task, { batchSize });
        record.valMetric = task === 'classification' ? r.accuracy! : r.mse!;
      }
      history.push(record);
    }
  } finally {
    await losses.abandon();
    optimizer.zeroGrad();
    optimizer.dispose();
    model.train();
  }
  return {
    history,
    seconds: (performance.now() - start) / 1000,
    examplesPerSecond: seen / (trainMs / 1000),
    trainableParameters: params.reduce((s, p) => s + p.size, 0),
  };
}

/**
 * The model's raw outputs (logits, forecasts) per input, flattened, computed in eval mode without a graph
 * in batches of `batchSize`. The model's training mode is restored afterwards.
 */
export async function predict<X>(model: MetaTransformer<X>, inputs: readonly X[], options: { batchSize?: number } = {}): Promise<Float32Array[]> {
  expectOptions('predict', options, ['batchSize']);
  const { batchSize = 32 } = options;
  checkPositiveInt('predict', 'batchSize', batchSize);
  const wasTraining = model.training;
  model.eval();
  const rows: Float32Array[] = [];
  try {
    for (let b = 0; b < inputs.length; b += batchSize) {
      const out = ag.noGrad(() => model.forward(inputs.slice(b, b + batchSize)));
      try {
        const data = (await out.data()) as Float32Array;
        const per = sizeOf(out.shape.slice(1));
        for (let i = 0; i < out.shape[0]!; i++) rows.push(data.slice(i * per, (i + 1) * per));
      } finally {
        out.dispose();
      }
    }
  } finally {
    model.train(wasTraining);
  }
  return rows;
}

/** Accuracy and confusion matrix (classification) or MSE and MAE (forecasting) on `split`. */
export async function evaluate<X>(model: MetaTransformer<X>, split: Split<X>, task: Task, options: { batchSize?: number } = {}): Promise<EvaluateResult> {
  expectOptions('evaluate', options, ['batchSize']);
  const { batchSize = 32 } = options;
  checkSplit('evaluate', split, task);
  const outputs = await predict(model, split.inputs, { batchSize });
  if (task === 'classification') {
    const classes = outputs[0]!.length;
    const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
    const predictions = outputs.map((row) => row.reduce((best, v, j) => (v > row[best]! ? j : best), 0));
    let correct = 0;
    predictions.forEach((p, i) => {
      const y = split.targets[i] as number;
      if (!Number.isInteger(y) || y < 0 || y >= classes) throw new ArgumentError(`evaluate: class target ${y} is not an integer in [0, ${classes})`);
      confusion[y]![p]!++;
      if (p === y) correct++;
    });
    return { accuracy: correct / predictions.length, confusion, predictions };
  }
  let sq = 0;
  let abs = 0;
  let count = 0;
  outputs.forEach((row, i) => {
    const y = split.targets[i] as Float32Array;
    if (y.length !== row.length) throw new ShapeError(`evaluate: target ${i} has ${y.length} values, the model predicts ${row.length}`);
    for (let j = 0; j < row.length; j++) {
      const d = row[j]! - y[j]!;
      sq += d * d;
      abs += Math.abs(d);
    }
    count += row.length;
  });
  return { mse: sq / count, mae: abs / count, predictions: outputs };
}
