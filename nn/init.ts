/**
 * Parameter initialisers, drawing from the seeded generator (engine/random.ts) so a seed reproduces a
 * model exactly in Node and in browsers. Fan-in/fan-out follow PyTorch: for a weight of shape
 * [out, in, ...kernel], fanIn = in * prod(kernel) and fanOut = out * prod(kernel).
 */
import { expectOptions, optionKeys } from '../engine/arguments.js';
import { ArgumentError, ShapeError, fmtShape } from '../engine/errors.js';
import * as raw from '../engine/ops/index.js';
import { globalGenerator, type Generator } from '../engine/random.js';
import { checkShape, sizeOf, type Shape } from '../engine/shape.js';
import type { Tensor } from '../engine/tensor.js';

export interface InitOptions {
  generator?: Generator;
}

const INIT_OPTIONS = optionKeys<InitOptions>({ generator: true });

export function fans(shape: Shape): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new ShapeError(`fans: need a weight of rank >= 2, got ${fmtShape(shape)}`);
  const receptive = sizeOf(shape.slice(2));
  return { fanIn: shape[1]! * receptive, fanOut: shape[0]! * receptive };
}

function sample(shape: Shape, draw: (g: Generator) => number, options: InitOptions): Tensor {
  const s = checkShape('init', shape);
  const g = options.generator ?? globalGenerator;
  const values = new Float32Array(sizeOf(s));
  for (let i = 0; i < values.length; i++) values[i] = draw(g);
  return raw.fromFlat(values, s, 'f32', 'init');
}

/** Uniform on [low, high). */
export function uniform(shape: Shape, low: number, high: number, options: InitOptions = {}): Tensor {
  expectOptions('uniform', options, INIT_OPTIONS);
  return sample(shape, (g) => low + (high - low) * g.uniform(), options);
}

export function normal(shape: Shape, mean: number, std: number, options: InitOptions = {}): Tensor {
  expectOptions('normal', options, INIT_OPTIONS);
  return sample(shape, (g) => mean + std * g.normal(), options);
}

/** Standard normal CDF via erf (Abramowitz-Stegun 7.1.26 is enough to size a rejection loop). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf = 1 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-z * z);
  return 0.5 * (1 + (x >= 0 ? erf : -erf));
}

/**
 * Normal(mean, std) restricted to [a, b] (absolute bounds, as torch.nn.init.trunc_normal_), by rejection.
 * Intervals holding under 1e-4 of the distribution's mass are refused rather than looping for ages.
 */
export function truncNormal(shape: Shape, truncOptions: InitOptions & { mean?: number; std?: number; a?: number; b?: number } = {}): Tensor {
  expectOptions('truncNormal', truncOptions, ['generator', 'mean', 'std', 'a', 'b']);
  const { mean = 0, std = 1, a = -2, b = 2, ...options } = truncOptions;
  if (!(std > 0) || !(a < b)) throw new ArgumentError(`truncNormal: need std > 0 and a < b, got std ${std}, [${a}, ${b}]`);
  const mass = normalCdf((b - mean) / std) - normalCdf((a - mean) / std);
  if (!(mass >= 1e-4)) throw new ArgumentError(`truncNormal: [${a}, ${b}] holds only ${mass} of Normal(${mean}, ${std}); rejection sampling would not terminate in reasonable time`);
  return sample(shape, (g) => {
    for (;;) {
      const v = mean + std * g.normal();
      if (v >= a && v <= b) return v;
    }
  }, options);
}

export function xavierUniform(shape: Shape, xavierOptions: InitOptions & { gain?: number } = {}): Tensor {
  expectOptions('xavierUniform', xavierOptions, ['generator', 'gain']);
  const { gain = 1, ...options } = xavierOptions;
  const { fanIn, fanOut } = fans(shape);
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(shape, -bound, bound, options);
}

export function xavierNormal(shape: Shape, xavierOptions: InitOptions & { gain?: number } = {}): Tensor {
  expectOptions('xavierNormal', xavierOptions, ['generator', 'gain']);
  const { gain = 1, ...options } = xavierOptions;
  const { fanIn, fanOut } = fans(shape);
  return normal(shape, 0, gain * Math.sqrt(2 / (fanIn + fanOut)), options);
}

export interface KaimingOptions extends InitOptions {
  /** Negative slope of the leaky ReLU that follows (0 for ReLU). */
  a?: number;
  mode?: 'fanIn' | 'fanOut';
  nonlinearity?: 'relu' | 'leakyRelu' | 'linear';
}

function kaimingStd(shape: Shape, { a = 0, mode = 'fanIn', nonlinearity = 'leakyRelu' }: KaimingOptions): number {
  const { fanIn, fanOut } = fans(shape);
  const gain = nonlinearity === 'linear' ? 1 : nonlinearity === 'relu' ? Math.SQRT2 : Math.sqrt(2 / (1 + a * a));
  return gain / Math.sqrt(mode === 'fanIn' ? fanIn : fanOut);
}

const KAIMING_OPTIONS = optionKeys<KaimingOptions>({ generator: true, a: true, mode: true, nonlinearity: true });

export function kaimingUniform(shape: Shape, options: KaimingOptions = {}): Tensor {
  expectOptions('kaimingUniform', options, KAIMING_OPTIONS);
  const bound = Math.sqrt(3) * kaimingStd(shape, options);
  return uniform(shape, -bound, bound, { generator: options.generator });
}

export function kaimingNormal(shape: Shape, options: KaimingOptions = {}): Tensor {
  expectOptions('kaimingNormal', options, KAIMING_OPTIONS);
  return normal(shape, 0, kaimingStd(shape, options), { generator: options.generator });
}
