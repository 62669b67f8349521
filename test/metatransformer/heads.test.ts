import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ag from '../../autograd/index.js';
import { ArgumentError, ShapeError } from '../../engine/errors.js';
import * as raw from '../../engine/ops/index.js';
import { Generator } from '../../engine/random.js';
import type { Tensor } from '../../engine/tensor.js';
import { ClassificationHead, ForecastHead, RegressionHead, TokenHead } from '../../metatransformer/heads.js';
import type { Pooling } from '../../metatransformer/types.js';
import { assertClose, testDevice } from '../helpers.js';

const t = suite('metatransformer: heads');
t.before(async () => {
  await testDevice();
});

const [B, T, D] = [3, 6, 8];
/** Row 0 unpadded, row 1 has its last 2 tokens padded, row 2 its last 4. */
const MASK = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1];

function randomTokens(seed: number): Float32Array {
  const g = new Generator(seed);
  return Float32Array.from({ length: B * T * D }, () => g.normal() * 2);
}

const isError = (type: new (...args: never[]) => Error, pattern: RegExp = /./) => (e: unknown): boolean => e instanceof type && pattern.test((e as Error).message);

/** Float64 oracle of pool -> LayerNorm(D) per pooled vector (eps 1e-5, weight w, bias b) -> flatten. */
function oraclePool(x: Float32Array, mask: number[] | null, pooling: Pooling, clsToken: boolean, w: ArrayLike<number>, b: ArrayLike<number>): number[][] {
  const rows: number[][] = [];
  for (let bi = 0; bi < B; bi++) {
    const tok = (ti: number): number[] => Array.from(x.subarray((bi * T + ti) * D, (bi * T + ti + 1) * D), Number);
    const body = Array.from({ length: T }, (_, ti) => ti).filter((ti) => ti >= (clsToken ? 1 : 0) && !(mask && mask[bi * T + ti]));
    const parts: number[][] = [];
    if (pooling.startsWith('cls')) parts.push(tok(0));
    if (pooling.includes('max')) parts.push(Array.from({ length: D }, (_, d) => Math.max(...body.map((ti) => tok(ti)[d]!))));
    if (pooling.includes('mean')) parts.push(Array.from({ length: D }, (_, d) => body.reduce((s, ti) => s + tok(ti)[d]!, 0) / body.length));
    rows.push(
      parts.flatMap((v) => {
        const mean = v.reduce((s, a) => s + a, 0) / D;
        const variance = v.reduce((s, a) => s + (a - mean) ** 2, 0) / D;
        return v.map((a, d) => ((a - mean) / Math.sqrt(variance + 1e-5)) * w[d]! + b[d]!);
      }),
    );
  }
  return rows;
}

/** Random norm weight/bias, so the oracle checks that they are applied. */
function perturbNorm(head: { norm: { weight: Tensor | null; bias: Tensor | null } }, g: Generator): { w: Float32Array; b: Float32Array } {
  const w = Float32Array.from({ length: D }, () => 1 + 0.3 * g.normal());
  const b = Float32Array.from({ length: D }, () => 0.2 * g.normal());
  head.norm.weight!.dispose();
  head.norm.bias!.dispose();
  head.norm.weight = raw.fromFlat(w, [D], 'f32');
  head.norm.bias = raw.fromFlat(b, [D], 'f32');
  return { w, b };
}

const cases: [Pooling, boolean | undefined][] = [['cls', undefined], ['mean', undefined], ['mean', true], ['max', undefined], ['max', true], ['cls+max+mean', undefined]];

t('ClassificationHead pooling matches the float64 oracle, with and without a padding mask', async () => {
  const g = new Generator(1);
  const data = randomTokens(2);
  const tokens = raw.fromFlat(data, [B, T, D], 'f32');
  const mask = raw.fromFlat(MASK, [B, T], 'u32');
  for (const [pooling, clsToken] of cases) {
    const head = new ClassificationHead({ dim: D, numClasses: 5, pooling, clsToken, generator: g });
    const { w, b } = perturbNorm(head, g);
    assert.is(head.clsToken, clsToken ?? pooling.startsWith('cls'));
    const fcW = (await (head.fc as { weight: Tensor }).weight.data()) as Float32Array;
    const fcB = (await (head.fc as { bias: Tensor }).bias.data()) as Float32Array;
    const width = head.pooledDim;
    assert.is(width, pooling === 'cls+max+mean' ? 3 * D : D);
    for (const m of [null, MASK]) {
      const expected = oraclePool(data, m, pooling, head.clsToken, w, b).flatMap((v) =>
        Array.from({ length: 5 }, (_, c) => fcB[c]! + v.reduce((s, a, k) => s + a * fcW[c * width + k]!, 0)),
      );
      const out = head.forward(tokens, m ? mask : undefined);
      assert.equal(out.shape, [B, 5]);
      // f32 LayerNorm and a width-24 dot product: ~1e-6 relative; 1e-4 leaves room.
      assertClose((await out.data()) as Float32Array, expected, { atol: 1e-4, rtol: 1e-4, what: `${pooling}${clsToken ? ' (cls token)' : ''}${m ? ' masked' : ''}` });
      out.dispose();
    }
    head.dispose();
  }
  tokens.dispose();
  mask.dispose();
});

t('padded tokens neither change pooled outputs nor receive gradient', async () => {
  const data = randomTokens(3);
  const changed = Float32Array.from(data, (v, i) => (MASK[Math.floor(i / D)] ? v * 100 - 7 : v));
  for (const pooling of ['mean', 'max', 'cls+max+mean'] as Pooling[]) {
    const head = new RegressionHead({ dim: D, outputs: 2, pooling, generator: new Generator(4) });
    const mask = raw.fromFlat(MASK, [B, T], 'u32');
    const a = raw.fromFlat(data, [B, T, D], 'f32');
    a.requiresGrad = true;
    const c = raw.fromFlat(changed, [B, T, D], 'f32');
    const [ya, yc] = [head.forward(a, mask), head.forward(c, mask)];
    assert.equal(ya.shape, [B, 2]);
    assertClose((await yc.data()) as Float32Array, (await ya.data()) as Float32Array, { atol: 1e-6, rtol: 1e-6, what: `${pooling} ignores padding` });
    const s = ag.sum(ya);
    ag.backward(s);
    const grad = (await a.grad!.data()) as Float32Array;
    grad.forEach((v, i) => {
      if (MASK[Math.floor(i / D)]) assert.is(v, 0, `${pooling}: padded element ${i} got gradient ${v}`);
    });
    assert.ok(grad.some((v) => v !== 0), `${pooling}: some gradient reaches real tokens`);
    for (const tt of [mask, a, c, ya, yc, s]) tt.dispose();
    head.dispose();
  }
});

t('MLP classification head, dropout only in training mode', async () => {
  const head = new ClassificationHead({ dim: D, numClasses: 4, pooling: 'mean', hidden: 16, dropout: 0.5, generator: new Generator(5) });
  assert.ok(head.namedParameters().some(([n]) => n === 'fc.fc1.weight'));
  const tokens = raw.fromFlat(randomTokens(6), [B, T, D], 'f32');
  head.eval();
  const [y1, y2] = [head.forward(tokens), head.forward(tokens)];
  assert.equal(y1.shape, [B, 4]);
  assert.equal(await y1.data(), await y2.data());
  head.train();
  const y3 = head.forward(tokens);
  assert.not.equal(await y3.data(), await y1.data());
  for (const tt of [tokens, y1, y2, y3]) tt.dispose();
  head.dispose();
});

t('TokenHead and ForecastHead shapes and values', async () => {
  const data = randomTokens(7);
  const tokens = raw.fromFlat(data, [B, T, D], 'f32');
  const th = new TokenHead({ dim: D, outputs: 3, generator: new Generator(8) });
  const y = th.forward(tokens);
  assert.equal(y.shape, [B, T, 3]);
  const fh = new ForecastHead({ dim: D, tokens: T, horizon: 4, channels: 2, generator: new Generator(9) });
  const f = fh.forward(tokens);
  assert.equal(f.shape, [B, 4, 2]);
  // Oracle: per-token LayerNorm (weight 1, bias 0), flatten, Linear.
  const fw = (await fh.fc.weight.data()) as Float32Array;
  const fb = (await fh.fc.bias!.data()) as Float32Array;
  const expected: number[] = [];
  for (let bi = 0; bi < B; bi++) {
    const flat: number[] = [];
    for (let ti = 0; ti < T; ti++) {
      const v = Array.from(data.subarray((bi * T + ti) * D, (bi * T + ti + 1) * D), Number);
      const mean = v.reduce((s, a) => s + a, 0) / D;
      const sd = Math.sqrt(v.reduce((s, a) => s + (a - mean) ** 2, 0) / D + 1e-5);
      flat.push(...v.map((a) => (a - mean) / sd));
    }
    for (let o = 0; o < 8; o++) expected.push(fb[o]! + flat.reduce((s, a, k) => s + a * fw[o * T * D + k]!, 0));
  }
  assertClose((await f.data()) as Float32Array, expected, { atol: 1e-4, rtol: 1e-4, what: 'forecast' });
  for (const tt of [tokens, y, f]) tt.dispose();
  th.dispose();
  fh.dispose();
});

t('argument and shape errors', () => {
  assert.throws(() => new ClassificationHead({ dim: D, numClasses: 3, pooling: 'sum' as Pooling }), isError(ArgumentError, /pooling must be one of/));
  assert.throws(() => new ClassificationHead({ dim: D, numClasses: 3, pooling: 'cls', clsToken: false }), isError(ArgumentError, /needs clsToken/));
  assert.throws(() => new ClassificationHead({ dim: D, numClasses: 0 }), isError(ArgumentError, /numClasses/));
  assert.throws(() => new ClassificationHead({ dim: D, numClasses: 2, hidden: 1.5 }), isError(ArgumentError, /hidden/));
  assert.throws(() => new RegressionHead({ dim: 0, outputs: 1 }), isError(ArgumentError, /dim/));
  assert.throws(() => new TokenHead({ dim: D, outputs: -1 }), isError(ArgumentError, /outputs/));
  assert.throws(() => new ForecastHead({ dim: D, tokens: 0, horizon: 2 }), isError(ArgumentError, /tokens/));
  // A misspelt option would silently take the default (here: CLS pooling instead of mean).
  assert.throws(() => new ClassificationHead({ dim: D, numClasses: 3, poolingMode: 'mean' } as never), isError(ArgumentError, /^ClassificationHead: unknown key 'poolingMode' in options; known: dim, pooling, clsToken/));
  assert.throws(() => new ForecastHead({ dim: D, tokens: T, horizon: 2, channel: 3 } as never), isError(ArgumentError, /^ForecastHead: unknown key 'channel'/));
  const head = new ClassificationHead({ dim: D, numClasses: 3, pooling: 'cls+max+mean' });
  const fh = new ForecastHead({ dim: D, tokens: T, horizon: 2 });
  const wrongDim = raw.zeros([B, T, D + 1]);
  const onlyCls = raw.zeros([B, 1, D]);
  const ok = raw.zeros([B, T, D]);
  const shortSeq = raw.zeros([B, T - 1, D]);
  const badMask = raw.zeros([B, T + 1], { dtype: 'u32' });
  assert.throws(() => head.forward(wrongDim), isError(ShapeError, /tokens must be \[B, T, 8\]/));
  assert.throws(() => head.forward(onlyCls), isError(ShapeError, /needs tokens after the CLS token/));
  assert.throws(() => head.forward(ok, badMask), isError(ShapeError, /paddingMask/));
  assert.throws(() => fh.forward(shortSeq), isError(ShapeError, /built for 6 tokens/));
  for (const tt of [wrongDim, onlyCls, ok, shortSeq, badMask]) tt.dispose();
  head.dispose();
  fh.dispose();
});

t.run();
