/**
 * Finite-difference gradient checks for autograd rules.
 *
 * The scalar checked is L(x) = sum_i w_i * f(x)_i with fixed random weights w, so every output element's
 * gradient path is exercised at once. Analytic: backward() of the same weighted sum on the GPU.
 * Numeric: central differences (L(x + h e_j) - L(x - h e_j)) / 2h, where each perturbed forward runs on the
 * GPU in f32 and the weighted sum is taken on the host in float64. With h = 1e-2 on O(1) inputs the
 * truncation error is O(h^2 f''') ~ 1e-4 and the f32 rounding error O(eps_f32 * |L| / h) ~ 1e-5 * |L|,
 * so agreement to atol 3e-3 + rtol 3e-2 means the rule is right (a wrong rule is off by O(1)).
 */
import { Generator } from '../../engine/random.js';
import * as raw from '../../engine/ops/index.js';
import { Tensor, tidy } from '../../engine/tensor.js';
import { backward, noGrad } from '../../autograd/tape.js';
import * as ag from '../../autograd/index.js';
import { assertClose } from '../helpers.js';

export interface GradInput {
  shape: number[];
  /** Values; random normal when absent. */
  data?: Float32Array;
}

export function randomData(n: number, seed: number, scale = 1): Float32Array {
  const g = new Generator(seed);
  return Float32Array.from({ length: n }, () => scale * g.normal());
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export async function gradcheck(
  what: string,
  f: (xs: Tensor[]) => Tensor,
  inputs: GradInput[],
  { h = 1e-2, atol = 3e-3, rtol = 3e-2, seed = 7 }: { h?: number; atol?: number; rtol?: number; seed?: number } = {},
): Promise<void> {
  const values = inputs.map((inp, k) => inp.data ?? randomData(size(inp.shape), seed + 13 * k));
  // Analytic gradients.
  const leaves = values.map((v, k) => {
    const t = raw.fromFlat(v, inputs[k]!.shape, 'f32');
    t.requiresGrad = true;
    return t;
  });
  const out = f(leaves);
  const weights = randomData(out.size, seed + 1000);
  const w = raw.fromFlat(weights, out.shape, 'f32');
  tidy(() => {
    const loss = ag.sum(ag.mul(out, w));
    backward(loss);
  });
  out.dispose();
  w.dispose();
  const analytic = await Promise.all(leaves.map(async (t) => (t.grad ? Array.from(await t.grad.data()) : null)));
  for (const t of leaves) t.dispose();

  // Numeric gradients, f64 weighted sums of f32 GPU forwards. All perturbed forwards are recorded before
  // any readback so the GPU runs them as one stream (a readback per forward would dominate the runtime).
  const forward = (vals: Float32Array[]): Tensor => {
    const xs = vals.map((v, k) => raw.fromFlat(v, inputs[k]!.shape, 'f32'));
    const y = noGrad(() => f(xs));
    for (const x of xs) x.dispose();
    return y;
  };
  const weighted = (data: ArrayLike<number>): number => {
    let s = 0;
    for (let i = 0; i < data.length; i++) s += weights[i]! * data[i]!;
    return s;
  };
  for (let k = 0; k < inputs.length; k++) {
    const outs: [Tensor, Tensor][] = [];
    const steps: number[] = [];
    for (let j = 0; j < values[k]!.length; j++) {
      const plus = values.map((v) => v.slice());
      const minus = values.map((v) => v.slice());
      plus[k]![j] = plus[k]![j]! + h;
      minus[k]![j] = minus[k]![j]! - h;
      // The f32 step actually taken, so rounding of x +- h does not bias the quotient.
      steps.push(plus[k]![j]! - minus[k]![j]!);
      outs.push([forward(plus), forward(minus)]);
    }
    const data = await Promise.all(outs.flat().map((y) => y.data()));
    for (const y of outs.flat()) y.dispose();
    const numeric = steps.map((step, j) => (weighted(data[2 * j]!) - weighted(data[2 * j + 1]!)) / step);
    if (!analytic[k]) throw new Error(`${what}: input ${k} got no gradient`);
    assertClose(analytic[k]!, numeric, { atol, rtol, what: `${what}: d/d input ${k}` });
  }
}
