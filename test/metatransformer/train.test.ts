import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ag from '../../autograd/index.js';
import { ArgumentError, ShapeError } from '../../engine/errors.js';
import { Generator } from '../../engine/random.js';
import { hasF16 } from '../../engine/runtime.js';
import { memoryStats, tidy, type Tensor } from '../../engine/tensor.js';
import { Linear } from '../../nn/layers.js';
import type { Split } from '../../metatransformer/data/types.js';
import { MetaTransformerEncoder } from '../../metatransformer/encoder.js';
import { ClassificationHead, ForecastHead } from '../../metatransformer/heads.js';
import { MetaTransformer } from '../../metatransformer/model.js';
import { evaluate, fit, predict } from '../../metatransformer/train.js';
import { Tokenizer, type TokenBatch } from '../../metatransformer/types.js';
import { testDevice } from '../helpers.js';

const t = suite('metatransformer: model and training');
t.before(async () => {
  await testDevice();
});

const [STEPS, FEATURES, DIM] = [6, 3, 32];

/** Series [STEPS, FEATURES] -> one token per step (Linear), plus a learned CLS token and positions. */
class SeriesTokenizer extends Tokenizer<Float32Array> {
  readonly modality = 'timeseries' as const;
  readonly hasClsToken: boolean;
  proj: Linear;
  cls: Tensor;
  pos: Tensor;
  constructor(readonly dim: number, { cls = true, generator }: { cls?: boolean; generator?: Generator } = {}) {
    super();
    this.hasClsToken = cls;
    this.proj = new Linear(FEATURES, dim, { generator });
    this.cls = ag.randn([1, 1, dim], { generator });
    this.pos = ag.randn([1, STEPS + (cls ? 1 : 0), dim], { generator });
    this.cls.requiresGrad = true;
    this.pos.requiresGrad = true;
  }
  forward(batch: readonly Float32Array[]): TokenBatch {
    const flat = new Float32Array(batch.length * STEPS * FEATURES);
    batch.forEach((x, i) => flat.set(x, i * STEPS * FEATURES));
    const x = ag.fromFlat(flat, [batch.length, STEPS, FEATURES], 'f32');
    const steps = this.proj.forward(x);
    const cls = ag.expand(this.cls, [batch.length, 1, this.dim]);
    const seq = this.hasClsToken ? ag.concat([cls, steps], 1) : steps;
    const tokens = ag.add(seq, this.pos);
    for (const tt of new Set([x, steps, cls, seq])) tt.dispose();
    return { tokens };
  }
}

/** Label = the feature (0..2) with the largest total over the series; features are N(0, 1) noise. */
function classificationSplit(n: number, seed: number): Split<Float32Array> {
  const g = new Generator(seed);
  const inputs: Float32Array[] = [];
  const targets: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = Float32Array.from({ length: STEPS * FEATURES }, () => g.normal());
    const sums = [0, 1, 2].map((f) => x.filter((_, k) => k % FEATURES === f).reduce((s, v) => s + v, 0));
    inputs.push(x);
    targets.push(sums.indexOf(Math.max(...sums)));
  }
  return { inputs, targets };
}

/** Forecast the next 2 values of feature 0 of a noisy sine series whose phase and frequency vary. */
function forecastSplit(n: number, seed: number): Split<Float32Array> {
  const g = new Generator(seed);
  const inputs: Float32Array[] = [];
  const targets: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const [phase, freq] = [g.uniform() * 6.28, 0.3 + 0.4 * g.uniform()];
    const value = (k: number): number => Math.sin(phase + freq * k);
    inputs.push(Float32Array.from({ length: STEPS * FEATURES }, (_, k) => (k % FEATURES === 0 ? value(Math.floor(k / FEATURES)) : 0.1 * g.normal())));
    targets.push(Float32Array.of(value(STEPS), value(STEPS + 1)));
  }
  return { inputs, targets };
}

function classifier(seed: number, { frozen = true } = {}): MetaTransformer<Float32Array> {
  const g = new Generator(seed);
  const model = new MetaTransformer({
    tokenizer: new SeriesTokenizer(DIM, { generator: g }),
    encoder: new MetaTransformerEncoder({ dim: DIM, depth: 1, heads: 2, generator: g }),
    head: new ClassificationHead({ dim: DIM, numClasses: 3, pooling: 'cls+max+mean', generator: g }),
  });
  return frozen ? model.freezeEncoder() : model;
}

t('gradients flow through the frozen encoder to the tokenizer; encoder weights get none', async () => {
  const model = classifier(1);
  const { inputs, targets } = classificationSplit(4, 2);
  const encoderParams = new Set(model.encoder.parameters());
  assert.ok(model.trainableParameters().every((p) => !encoderParams.has(p)));
  assert.is(model.trainableParameters().length, model.parameters().length - encoderParams.size);
  tidy(() => {
    const out = model.forward(inputs);
    const loss = ag.sum(ag.mul(out, ag.fromFlat(targets as number[], [4, 1], 'f32')));
    ag.backward(loss);
  });
  for (const p of encoderParams) assert.is(p.grad, null);
  const tokGrad = (await (model.tokenizer as SeriesTokenizer).proj.weight.grad!.data()) as Float32Array;
  assert.ok(tokGrad.some((v) => v !== 0), 'tokenizer gets a gradient through the encoder');
  assert.ok(model.head.parameters().every((p) => p.grad !== null));
  // train() keeps a frozen encoder in eval mode.
  model.train();
  assert.ok(model.tokenizer.training && !model.encoder.training);
  model.dispose();
});

t('fit: classification loss falls, validation accuracy rises, memory stays flat', async () => {
  const model = classifier(3);
  const train = classificationSplit(96, 4);
  const validation = classificationSplit(48, 5);
  const before = await evaluate(model, validation, 'classification');
  const live: number[] = [];
  const progress: number[] = [];
  const result = await fit(model, train, {
    task: 'classification', epochs: 6, batchSize: 16, lr: 3e-3, weightDecay: 0.01, warmup: 4, validation, seed: 1,
    onProgress: (p) => {
      progress.push(p.step);
      live.push(memoryStats().liveTensors);
      assert.is(p.steps, 36);
      assert.ok(p.examplesPerSecond > 0 && Number.isFinite(p.loss));
    },
  });
  assert.equal(progress, Array.from({ length: 36 }, (_, i) => i + 1));
  // The same live tensors after every step (optimizer state exists from step 1 on), give or take the
  // next step's loss: fit reads each loss back while the next step is recorded, except at an epoch's end.
  const base = Math.min(...live);
  assert.ok(live.every((n) => n === base || n === base + 1), `live tensors per step: ${live.join(',')}`);
  assert.is(result.history.length, 6);
  const [first, last] = [result.history[0]!, result.history[5]!];
  assert.ok(last.trainLoss < 0.7 * first.trainLoss, `loss ${first.trainLoss} -> ${last.trainLoss}`);
  assert.ok(last.valMetric! > before.accuracy! + 0.15, `accuracy ${before.accuracy} -> ${last.valMetric}`);
  assert.ok(result.seconds > 0 && result.examplesPerSecond > 0);
  assert.is(result.trainableParameters, model.trainableParameters().reduce((s, p) => s + p.size, 0));
  assert.ok(model.encoder.parameters().every((p) => p.grad === null));

  const r = await evaluate(model, validation, 'classification');
  assert.is(r.accuracy, last.valMetric);
  assert.is(r.confusion!.flat().reduce((s, v) => s + v, 0), 48);
  assert.is(r.confusion!.reduce((s, row, i) => s + row[i]!, 0), Math.round(r.accuracy! * 48));
  assert.is((r.predictions as number[]).length, 48);
  const rows = await predict(model, validation.inputs.slice(0, 5), { batchSize: 2 });
  assert.is(rows.length, 5);
  assert.ok(rows.every((row) => row.length === 3));
  assert.ok(model.training, 'training mode restored after evaluate/predict');
  model.dispose();
});

t('fit: forecasting with ForecastHead lowers the MSE', async () => {
  const g = new Generator(6);
  const model = new MetaTransformer({
    tokenizer: new SeriesTokenizer(DIM, { cls: false, generator: g }),
    encoder: new MetaTransformerEncoder({ dim: DIM, depth: 1, heads: 2, generator: g }),
    head: new ForecastHead({ dim: DIM, tokens: STEPS, horizon: 2, generator: g }),
  }).freezeEncoder();
  const train = forecastSplit(64, 7);
  const validation = forecastSplit(32, 8);
  const before = await evaluate(model, validation, 'forecasting');
  const result = await fit(model, train, { task: 'forecasting', epochs: 8, batchSize: 16, lr: 3e-3, validation });
  const after = await evaluate(model, validation, 'forecasting');
  assert.ok(after.mse! < 0.5 * before.mse!, `mse ${before.mse} -> ${after.mse}`);
  assert.ok(after.mae! > 0 && after.mae! < before.mae!);
  assert.is(result.history[7]!.valMetric, after.mse);
  assert.is((after.predictions as Float32Array[])[0]!.length, 2);
  model.dispose();
});

t('an f16 encoder between f32 tokenizer and head: outputs f32, trains the tokenizer', async () => {
  if (!hasF16()) return;
  const model = classifier(9);
  model.encoder.to('f16');
  assert.is(model.encoder.dtype, 'f16');
  const { inputs, targets } = classificationSplit(4, 10);
  tidy(() => {
    const out = model.forward(inputs);
    assert.is(out.dtype, 'f32');
    ag.backward(ag.sum(ag.mul(out, ag.fromFlat(targets as number[], [4, 1], 'f32'))));
  });
  const g = (await (model.tokenizer as SeriesTokenizer).proj.weight.grad!.data()) as Float32Array;
  assert.ok(g.some((v) => v !== 0) && g.every(Number.isFinite));
  model.dispose();
});

t('argument errors', async () => {
  const model = classifier(11);
  const ok = classificationSplit(4, 12);
  const opts = { task: 'classification' as const, epochs: 1, batchSize: 2, lr: 1e-3 };
  const bad: [string, () => Promise<unknown>, new (...args: never[]) => Error, RegExp][] = [
    ['empty', () => fit(model, { inputs: [], targets: [] }, opts), ArgumentError, /split is empty/],
    ['count', () => fit(model, { inputs: ok.inputs, targets: [0] }, opts), ArgumentError, /4 inputs but 1 targets/],
    ['target kind', () => fit(model, forecastSplit(2, 1), opts), ArgumentError, /class-index targets/],
    ['forecast kind', () => evaluate(model, ok, 'forecasting'), ArgumentError, /Float32Array targets/],
    ['task', () => fit(model, ok, { ...opts, task: 'ranking' as 'classification' }), ArgumentError, /task must be/],
    ['epochs', () => fit(model, ok, { ...opts, epochs: 0 }), ArgumentError, /epochs/],
    ['batch', () => fit(model, ok, { ...opts, batchSize: 1.5 }), ArgumentError, /batchSize/],
    ['lr', () => fit(model, ok, { ...opts, lr: 0 }), ArgumentError, /lr must be > 0/],
    ['warmup', () => fit(model, ok, { ...opts, warmup: -1 }), ArgumentError, /warmup/],
    // A misspelt option would otherwise train with the default.
    ['misspelt', () => fit(model, ok, { ...opts, weight_decay: 0 } as never), ArgumentError, /^fit: unknown key 'weight_decay' in options; known: task, epochs/],
    ['predict option', () => predict(model, ok.inputs, { batch: 2 } as never), ArgumentError, /^predict: unknown key 'batch' in options; known: batchSize/],
    ['label', () => fit(model, { inputs: ok.inputs, targets: [0, 1, 2, 3] }, opts), ArgumentError, /class target 3/],
    ['eval label', () => evaluate(model, { inputs: ok.inputs, targets: [0, 1, 2, 7] }, 'classification'), ArgumentError, /class target 7/],
    ['predict batch', () => predict(model, ok.inputs, { batchSize: 0 }), ArgumentError, /batchSize/],
  ];
  for (const [what, run, type, pattern] of bad) {
    try {
      await run();
      assert.unreachable(`${what} should throw`);
    } catch (err) {
      assert.instance(err, type, what);
      assert.match((err as Error).message, pattern, what);
    }
  }
  const g = new Generator(13);
  const fm = new MetaTransformer({
    tokenizer: new SeriesTokenizer(DIM, { cls: false, generator: g }),
    encoder: new MetaTransformerEncoder({ dim: DIM, depth: 1, heads: 2, generator: g }),
    head: new ForecastHead({ dim: DIM, tokens: STEPS, horizon: 3, generator: g }),
  });
  const wrongHorizon = forecastSplit(2, 14);
  for (const run of [() => fit(fm, wrongHorizon, { ...opts, task: 'forecasting' }), () => evaluate(fm, wrongHorizon, 'forecasting')]) {
    try {
      await run();
      assert.unreachable('horizon mismatch should throw');
    } catch (err) {
      assert.instance(err, ShapeError);
      assert.match((err as Error).message, /has 2 values/);
    }
  }
  model.requiresGrad(false);
  try {
    await fit(model, ok, opts);
    assert.unreachable('no trainable parameters');
  } catch (err) {
    assert.instance(err, ArgumentError);
    assert.match((err as Error).message, /no trainable parameters/);
  }
  const enc = new MetaTransformerEncoder({ dim: 16, depth: 1, heads: 2 });
  assert.throws(
    () => new MetaTransformer({ tokenizer: new SeriesTokenizer(DIM), encoder: enc, head: new ClassificationHead({ dim: 16, numClasses: 2 }) }),
    (e: unknown) => e instanceof ArgumentError && /makes 32-wide tokens, the encoder takes 16/.test((e as Error).message),
  );
  assert.throws(
    () => new MetaTransformer({ tokenizer: new SeriesTokenizer(DIM, { cls: false }), encoder: model.encoder, head: new ClassificationHead({ dim: DIM, numClasses: 2 }) }),
    (e: unknown) => e instanceof ArgumentError && /pools the CLS token/.test((e as Error).message),
  );
  assert.throws(() => model.forward([]), (e: unknown) => e instanceof ArgumentError && /empty batch/.test((e as Error).message));
  for (const m of [model, fm, enc]) m.dispose();
});

t.run();
