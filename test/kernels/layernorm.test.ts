import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ops, hasF16, memoryStats, type Tensor, ArgumentError, DTypeError, DisposedError, ShapeError } from '../../engine/index.js';
import { layerNormDxLaunch, layerNormLaunch } from '../../kernels/layernorm.js';
import { runtime } from '../../engine/runtime.js';
import { empty } from '../../engine/tensor.js';
import { assertThrows, testDevice } from '../helpers.js';
import { arbViewOf, expectClose, materialize, type ViewCase } from '../oracle.js';

const t = suite('kernels: layernorm');
t.before(async () => {
  await testDevice();
});

// ---- float64 oracle over rows of D ---------------------------------------------------------------

interface RowStats {
  y: Float64Array;
  mean: Float64Array;
  rstd: Float64Array;
}

function oracleForward(x: ArrayLike<number>, d: number, w: ArrayLike<number> | null, b: ArrayLike<number> | null, eps: number): RowStats {
  const rows = x.length / d;
  const y = new Float64Array(x.length);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let j = 0; j < d; j++) m += x[r * d + j]!;
    m /= d;
    let v = 0;
    for (let j = 0; j < d; j++) v += (x[r * d + j]! - m) ** 2;
    const rs = 1 / Math.sqrt(v / d + eps);
    mean[r] = m;
    rstd[r] = rs;
    for (let j = 0; j < d; j++) y[r * d + j] = (x[r * d + j]! - m) * rs * (w ? w[j]! : 1) + (b ? b[j]! : 0);
  }
  return { y, mean, rstd };
}

/** Analytic gradients of sum(y * dy) for y = layerNorm(x) (float64, statistics recomputed). */
function oracleBackward(x: ArrayLike<number>, dy: ArrayLike<number>, d: number, w: ArrayLike<number> | null, eps: number) {
  const { mean, rstd } = oracleForward(x, d, null, null, eps);
  const rows = x.length / d;
  const dx = new Float64Array(x.length);
  const dweight = new Float64Array(d);
  const dbias = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    let sg = 0;
    let sgx = 0;
    for (let j = 0; j < d; j++) {
      const xhat = (x[r * d + j]! - mean[r]!) * rstd[r]!;
      const g = dy[r * d + j]! * (w ? w[j]! : 1);
      sg += g;
      sgx += g * xhat;
      dweight[j] += dy[r * d + j]! * xhat;
      dbias[j] += dy[r * d + j]!;
    }
    for (let j = 0; j < d; j++) {
      const xhat = (x[r * d + j]! - mean[r]!) * rstd[r]!;
      const g = dy[r * d + j]! * (w ? w[j]! : 1);
      dx[r * d + j] = rstd[r]! * (g - sg / d - (xhat * sgx) / d);
    }
  }
  return { dx, dweight, dbias, mean, rstd };
}

/**
 * Per-row absolute tolerance for outputs scaled by rstd: the f32 mean is exact to a few ulps of max|x|,
 * and y multiplies that error by rstd (large for near-constant rows, up to 1/sqrt(eps)).
 */
function rowAtol(x: ArrayLike<number>, d: number, rstd: Float64Array, base: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < rstd.length; r++) {
    let m = 0;
    for (let j = 0; j < d; j++) m = Math.max(m, Math.abs(x[r * d + j]!));
    for (let j = 0; j < d; j++) out[r * d + j] = base + 1e-6 * rstd[r]! * m;
  }
  return out;
}

/** allClose with a per-element atol (rtol shared). */
function expectRowsClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: Float64Array, rtol: number, what: string): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= atol[i]! + rtol * Math.abs(e)))
      assert.unreachable(`${what}: element ${i} is ${a}, expected ${e} (atol ${atol[i]}, rtol ${rtol})`);
  }
}

// ---- deterministic data --------------------------------------------------------------------------

/** mulberry32: small seeded PRNG so property cases are reproducible from fast-check's seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
}

function randomValues(n: number, seed: number, shift = 0, scale = 2): number[] {
  const rnd = prng(seed);
  return Array.from({ length: n }, () => shift + scale * (rnd() * 2 - 1));
}

const sizeOf = (s: readonly number[]): number => s.reduce((n, v) => n * v, 1);

/** A strided view `view` filled with seeded values, and its logical (row-major) values as stored. */
function makeView(view: ViewCase, seed: number, dtype: 'f32' | 'f16' = 'f32', shift = 0): { tensor: Tensor; values: Float64Array } {
  const c = materialize({ ...view, dtype, data: randomValues(sizeOf(view.baseShape), seed, shift) });
  return { tensor: c.tensor, values: c.expected.data };
}

function upload(values: number[], shape: number[], dtype: 'f32' | 'f16' = 'f32'): { tensor: Tensor; values: Float64Array } {
  const tensor = ops.tensor(values, shape, { dtype });
  return { tensor, values: Float64Array.from(values) };
}

async function stored(tensor: Tensor): Promise<Float64Array> {
  return Float64Array.from(await tensor.data());
}

/** Row lengths that hit both load paths, D = 1, odd sizes and more than one sweep of a workgroup. */
const arbD = fc.oneof(
  fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 12, 31, 64, 100, 127, 128, 192, 255, 256, 300),
  fc.integer({ min: 1, max: 300 }),
);

/** Leading dims (rank 0..2) and normalized dims (one dim of D, or two dims). */
const arbLayout = fc.record({
  leading: fc.array(fc.constantFrom(1, 2, 3, 5, 7), { minLength: 0, maxLength: 2 }),
  normalized: fc.oneof(
    arbD.map((d) => [d]),
    fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 40 })).map(([a, b]) => [a, b]),
  ),
});

// ---- forward -------------------------------------------------------------------------------------

t('fixed example: values, mean and rstd', async () => {
  const x = ops.tensor([[1, 2, 3, 4], [2, 4, 6, 9]]);
  const w = ops.tensor([1, 2, 1, 1]);
  const b = ops.tensor([0, 0, 1, 0]);
  const r = ops.layerNorm(x, [4], w, b, 1e-5, { returnStats: true });
  const o = oracleForward([1, 2, 3, 4, 2, 4, 6, 9], 4, [1, 2, 1, 1], [0, 0, 1, 0], 1e-5);
  // Well-conditioned rows of 4: f32 rounding of a handful of operations.
  expectClose(await r.y.data(), o.y, { atol: 1e-6, rtol: 1e-5, what: 'y' });
  expectClose(await r.mean!.data(), o.mean, { atol: 1e-6, rtol: 1e-6, what: 'mean' });
  expectClose(await r.rstd!.data(), o.rstd, { atol: 1e-6, rtol: 1e-5, what: 'rstd' });
  assert.equal(r.mean!.shape, [2]);
  assert.is(r.sum, null);
  for (const v of [x, w, b, r.y, r.mean!, r.rstd!]) v.dispose();
});

t('property: strided views, any D, weight/bias/residual/stats combinations (f32)', async () => {
  await fc.assert(
    fc.asyncProperty(
      arbLayout.chain((l) =>
        fc.record({
          layout: fc.constant(l),
          xView: arbViewOf([...l.leading, ...l.normalized]),
          rView: arbViewOf([...l.leading, ...l.normalized]),
          useWeight: fc.boolean(),
          useBias: fc.boolean(),
          useResidual: fc.boolean(),
          stats: fc.boolean(),
          eps: fc.constantFrom(1e-5, 1e-6, 0.1),
          seed: fc.integer(),
        }),
      ),
      async ({ layout, xView, rView, useWeight, useBias, useResidual, stats, eps, seed }) => {
        const d = sizeOf(layout.normalized);
        const x = makeView(xView, seed);
        const r = useResidual ? makeView(rView, seed + 1) : null;
        const w = useWeight ? upload(randomValues(d, seed + 2, 1), layout.normalized) : null;
        const b = useBias ? upload(randomValues(d, seed + 3), layout.normalized) : null;
        const out = ops.layerNorm(x.tensor, layout.normalized, w?.tensor, b?.tensor, eps, { residual: r?.tensor ?? null, returnStats: stats });
        try {
          // The oracle normalizes the f32-rounded sum, as the kernel does.
          const s = r ? Float64Array.from(x.values, (v, i) => Math.fround(v + r.values[i]!)) : x.values;
          const o = oracleForward(s, d, w?.values ?? null, b?.values ?? null, eps);
          assert.equal(out.y.shape, [...layout.leading, ...layout.normalized]);
          // Weights are up to 3, so the affine step adds up to 3x the normalization error; see rowAtol.
          const wScale = useWeight ? 3 : 1;
          expectRowsClose(await out.y.data(), o.y, rowAtol(s, d, o.rstd, 2e-5).map((a) => a * wScale), 1e-5, 'y');
          if (r) expectClose(await out.sum!.data(), s, { atol: 0, rtol: 0, what: 'sum' });
          else assert.is(out.sum, null);
          if (stats) {
            assert.equal(out.mean!.shape, layout.leading);
            // mean: a few ulps of max|x| (at most 8 here); rstd: relative error of a variance in f32.
            expectClose(await out.mean!.data(), o.mean, { atol: 1e-5, rtol: 1e-5, what: 'mean' });
            expectClose(await out.rstd!.data(), o.rstd, { atol: 1e-5, rtol: 1e-4, what: 'rstd' });
          } else assert.ok(out.mean === null && out.rstd === null);
        } finally {
          for (const v of [x.tensor, r?.tensor, w?.tensor, b?.tensor, out.y, out.sum, out.mean, out.rstd]) v?.dispose();
        }
      },
    ),
    { numRuns: 40 },
  );
});

t('stable for rows with a large mean (Welford / Chan merge, no E[x^2] - E[x]^2 cancellation)', async () => {
  const d = 768;
  const rows = 6;
  const values = randomValues(rows * d, 7, 1e4, 1);
  const x = upload(values, [rows, d]);
  const xs = await stored(x.tensor);
  const out = ops.layerNorm(x.tensor, [d], null, null, 1e-5, { returnStats: true });
  const o = oracleForward(xs, d, null, null, 1e-5);
  // x - mean is computed from f32 values near 1e4 (ulp ~1e-3) and rstd ~1.7: y is good to ~2e-3.
  // Sum-of-squares in f32 would be off by O(1) here (E[x^2] ~ 1e8, f32 ulp there ~8).
  expectClose(await out.y.data(), o.y, { atol: 3e-3, rtol: 0, what: 'y' });
  expectClose(await out.rstd!.data(), o.rstd, { atol: 0, rtol: 1e-3, what: 'rstd' });
  for (const v of [x.tensor, out.y, out.mean!, out.rstd!]) v.dispose();
});

t('vec4 and scalar paths agree on the same rows (aligned vs misaligned views)', async () => {
  const rows = 5;
  const d = 16;
  // Base rows of 21: columns [4, 20) start 4-aligned only when the row stride is, so pick strides 20 and 21.
  for (const width of [20, 21]) {
    const base = ops.tensor(randomValues(rows * width, width), [rows, width]);
    const view = ops.slice(base, [null, { start: 4, end: 4 + d }]);
    const vals = await stored(view);
    // Without options the op returns y itself.
    const y = ops.layerNorm(view, [d]);
    expectRowsClose(await y.data(), oracleForward(vals, d, null, null, 1e-5).y, new Float64Array(rows * d).fill(2e-5), 1e-5, `width ${width}`);
    for (const v of [base, view, y]) v.dispose();
  }
});

t('zero rows give empty outputs; no leaks', async () => {
  const before = memoryStats().liveTensors;
  const x = ops.zeros([0, 3, 8]);
  const out = ops.layerNorm(x, [8], null, null, 1e-5, { residual: x, returnStats: true });
  assert.equal(out.y.shape, [0, 3, 8]);
  assert.equal(out.mean!.shape, [0, 3]);
  assert.is((await out.y.data()).length, 0);
  for (const v of [x, out.y, out.sum!, out.mean!, out.rstd!]) v.dispose();
  assert.is(memoryStats().liveTensors, before);
});

t('f16: statistics in f32, outputs within f16 rounding', async () => {
  if (!hasF16()) {
    assert.throws(() => ops.tensor([1], [1], { dtype: 'f16' }), (e: unknown) => e instanceof DTypeError);
    return;
  }
  for (const d of [768, 33]) {
    const rows = 7;
    const x = upload(randomValues(rows * d, d), [rows, d], 'f16');
    const r = upload(randomValues(rows * d, d + 1), [rows, d], 'f16');
    const w = upload(randomValues(d, d + 2, 1), [d], 'f16');
    const b = upload(randomValues(d, d + 3), [d], 'f16');
    const [xs, rs, ws, bs] = await Promise.all([x, r, w, b].map((v) => stored(v.tensor)));
    const out = ops.layerNorm(x.tensor, [d], w.tensor, b.tensor, 1e-5, { residual: r.tensor, returnStats: true });
    const s = await stored(out.sum!);
    // s is x + r rounded once to f16 (relative 2^-11).
    expectClose(s, Float64Array.from(xs!, (v, i) => v + rs![i]!), { atol: 1e-3, rtol: 1e-3, what: `f16 sum D=${d}` });
    const o = oracleForward(s, d, ws!, bs!, 1e-5);
    // The oracle normalizes the same f16 inputs; y (|y| <~ 10) carries one f16 rounding: 2^-11 relative.
    expectClose(await out.y.data(), o.y, { atol: 4e-3, rtol: 2e-3, what: `f16 y D=${d}` });
    assert.is(out.mean!.dtype, 'f32');
    expectClose(await out.rstd!.data(), o.rstd, { atol: 0, rtol: 1e-4, what: 'f16 rstd' });
    const g = upload(randomValues(rows * d, d + 4), [rows, d], 'f16');
    const gs = await stored(g.tensor);
    const grads = ops.layerNormBackward(g.tensor, out.sum!, out.mean!, out.rstd!, w.tensor);
    const ob = oracleBackward(s, gs, d, ws!, 1e-5);
    // dx ~ rstd * |g| (<~ 6 here) after one f16 rounding; dweight/dbias sum 7 rows then round to f16.
    expectClose(await grads.dx.data(), ob.dx, { atol: 1e-2, rtol: 4e-3, what: 'f16 dx' });
    expectClose(await grads.dweight!.data(), ob.dweight, { atol: 1e-2, rtol: 4e-3, what: 'f16 dweight' });
    expectClose(await grads.dbias!.data(), ob.dbias, { atol: 1e-2, rtol: 4e-3, what: 'f16 dbias' });
    for (const v of [x.tensor, r.tensor, w.tensor, b.tensor, g.tensor, out.y, out.sum!, out.mean!, out.rstd!, grads.dx, grads.dweight!, grads.dbias!])
      v.dispose();
  }
});

// ---- backward ------------------------------------------------------------------------------------

t('property: backward matches float64 analytic gradients (strided dy and x, weight or none)', async () => {
  await fc.assert(
    fc.asyncProperty(
      arbLayout.chain((l) =>
        fc.record({
          layout: fc.constant(l),
          xView: arbViewOf([...l.leading, ...l.normalized]),
          dyView: arbViewOf([...l.leading, ...l.normalized]),
          useWeight: fc.boolean(),
          seed: fc.integer(),
        }),
      ),
      async ({ layout, xView, dyView, useWeight, seed }) => {
        const d = sizeOf(layout.normalized);
        const rows = sizeOf(layout.leading);
        const x = makeView(xView, seed);
        const dy = makeView(dyView, seed + 1);
        const w = useWeight ? upload(randomValues(d, seed + 2, 1), layout.normalized) : null;
        // eps 0.1 keeps rstd moderate for nearly constant rows (D = 1 or expanded views).
        const eps = 0.1;
        const fwd = ops.layerNorm(x.tensor, layout.normalized, w?.tensor, null, eps, { returnStats: true });
        const g = ops.layerNormBackward(dy.tensor, x.tensor, fwd.mean!, fwd.rstd!, w?.tensor ?? null, { biasGrad: true, weightGrad: true });
        try {
          const o = oracleBackward(x.values, dy.values, d, w?.values ?? null, eps);
          const wScale = useWeight ? 3 : 1;
          // dx = rstd * (g - means): terms of size rstd * |g| <= 3 * wScale * 3, each good to ~1e-6 relative.
          expectClose(await g.dx.data(), o.dx, { atol: 2e-5 * wScale, rtol: 1e-4, what: 'dx' });
          // Column sums over `rows` terms of size <= 2 * 3: f32 accumulation error grows with rows.
          expectClose(await g.dweight!.data(), o.dweight, { atol: 2e-6 * (rows + 1) * 3, rtol: 1e-5, what: 'dweight' });
          expectClose(await g.dbias!.data(), o.dbias, { atol: 2e-6 * (rows + 1), rtol: 1e-5, what: 'dbias' });
          assert.equal(g.dweight!.shape, layout.normalized);
        } finally {
          for (const v of [x.tensor, dy.tensor, w?.tensor, fwd.y, fwd.mean, fwd.rstd, g.dx, g.dweight, g.dbias]) v?.dispose();
        }
      },
    ),
    { numRuns: 30 },
  );
});

t('backward agrees with central finite differences of the GPU forward (tiny case)', async () => {
  const rows = 2;
  const d = 5;
  const xv = [0.3, -1.2, 0.8, 2.0, -0.5, 1.5, 1.1, -0.7, 0.2, 0.0];
  const wv = [1.2, -0.6, 0.9, 1.5, 0.4];
  const bv = [0.1, 0.2, -0.3, 0.0, 0.5];
  const gv = [0.7, -0.2, 0.5, 1.0, -1.3, 0.4, 0.9, -0.8, 0.3, 0.6];
  // L(x, w, b) = sum(layerNorm(x) * g), evaluated on the GPU in f32.
  const loss = async (x: number[], w: number[], b: number[]): Promise<number> => {
    const [xt, wt, bt] = [ops.tensor(x, [rows, d]), ops.tensor(w, [d]), ops.tensor(b, [d])];
    const y = ops.layerNorm(xt, [d], wt, bt);
    const out = await y.data();
    for (const v of [xt, wt, bt, y]) v.dispose();
    let loss = 0;
    for (let i = 0; i < out.length; i++) loss += out[i]! * gv[i]!;
    return loss;
  };
  const h = 1e-2;
  const numeric = async (vals: number[], set: (v: number[]) => Promise<number>): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < vals.length; i++) {
      const up = vals.slice();
      const down = vals.slice();
      up[i]! += h;
      down[i]! -= h;
      out.push(((await set(up)) - (await set(down))) / (2 * h));
    }
    return out;
  };
  const ndx = await numeric(xv, (v) => loss(v, wv, bv));
  const ndw = await numeric(wv, (v) => loss(xv, v, bv));
  const ndb = await numeric(bv, (v) => loss(xv, wv, v));
  const [xt, wt, gt] = [ops.tensor(xv, [rows, d]), ops.tensor(wv, [d]), ops.tensor(gv, [rows, d])];
  const fwd = ops.layerNorm(xt, [d], wt, null, 1e-5, { returnStats: true });
  const g = ops.layerNormBackward(gt, xt, fwd.mean!, fwd.rstd!, wt);
  // Central differences: O(h^2) truncation (second-order terms ~1e-4 here) plus f32 noise / h ~1e-5.
  expectClose(await g.dx.data(), ndx, { atol: 2e-3, rtol: 2e-3, what: 'dx vs FD' });
  expectClose(await g.dweight!.data(), ndw, { atol: 2e-3, rtol: 2e-3, what: 'dweight vs FD' });
  expectClose(await g.dbias!.data(), ndb, { atol: 2e-3, rtol: 2e-3, what: 'dbias vs FD' });
  for (const v of [xt, wt, gt, fwd.y, fwd.mean!, fwd.rstd!, g.dx, g.dweight!, g.dbias!]) v.dispose();
});

t('dweight/dbias are bitwise deterministic; grad options select outputs', async () => {
  const rows = 300;
  const d = 40;
  const x = ops.tensor(randomValues(rows * d, 11), [rows, d]);
  const dy = ops.tensor(randomValues(rows * d, 12), [rows, d]);
  const fwd = ops.layerNorm(x, [d], null, null, 1e-5, { returnStats: true });
  const a = ops.layerNormBackward(dy, x, fwd.mean!, fwd.rstd!, null, { weightGrad: true, biasGrad: true });
  const b = ops.layerNormBackward(dy, x, fwd.mean!, fwd.rstd!, null, { weightGrad: true, biasGrad: true });
  assert.equal(Array.from(await a.dweight!.data()), Array.from(await b.dweight!.data()));
  assert.equal(Array.from(await a.dbias!.data()), Array.from(await b.dbias!.data()));
  const before = memoryStats().liveTensors;
  const onlyBias = ops.layerNormBackward(dy, x, fwd.mean!, fwd.rstd!, null, { biasGrad: true });
  assert.is(onlyBias.dweight, null);
  assert.equal(Array.from(await onlyBias.dbias!.data()), Array.from(await a.dbias!.data()));
  const none = ops.layerNormBackward(dy, x, fwd.mean!, fwd.rstd!);
  assert.ok(none.dweight === null && none.dbias === null);
  // Only the returned tensors stay alive (partials and unrequested grads are disposed).
  assert.is(memoryStats().liveTensors, before + 3);
  for (const v of [x, dy, fwd.y, fwd.mean!, fwd.rstd!, a.dx, a.dweight!, a.dbias!, b.dx, b.dweight!, b.dbias!, onlyBias.dx, onlyBias.dbias!, none.dx])
    v.dispose();
});

t('backward with zero rows: empty dx, zero dweight/dbias', async () => {
  const x = ops.zeros([0, 6]);
  const fwd = ops.layerNorm(x, [6], null, null, 1e-5, { returnStats: true });
  const w = ops.ones([6]);
  const g = ops.layerNormBackward(x, x, fwd.mean!, fwd.rstd!, w);
  assert.equal(g.dx.shape, [0, 6]);
  assert.equal(Array.from(await g.dweight!.data()), [0, 0, 0, 0, 0, 0]);
  assert.equal(Array.from(await g.dbias!.data()), [0, 0, 0, 0, 0, 0]);
  for (const v of [x, w, fwd.y, fwd.mean!, fwd.rstd!, g.dx, g.dweight!, g.dbias!]) v.dispose();
});

t('GPU-class launch configuration (wide row workgroups, grid spill) gives the same results here', async () => {
  // The ops pick workgroup sizes from the adapter class; here the 'gpu' choices (up to 256 invocations
  // per row) run on whatever adapter the tests have, so both configurations are exercised everywhere.
  // 70000 rows need more workgroups than one grid dimension holds (65535): the grid spills into y.
  const rt = runtime();
  for (const [rows, d] of [[3, 768], [3, 33], [3, 1], [70000, 4]] as const) {
    const x = upload(randomValues(rows * d, d), [rows, d]);
    const w = upload(randomValues(d, d + 1, 1), [d]);
    const dy = upload(randomValues(rows * d, d + 2), [rows, d]);
    const y = empty([rows, d], 'f32');
    const stats = empty([2 * rows], 'f32');
    const dx = empty([rows, d], 'f32');
    const common = { dtype: 'f32' as const, leading: [rows], d, adapterClass: 'gpu' as const };
    const buf = (v: Tensor) => v.storage().buffer;
    rt.run(layerNormLaunch({ ...common, eps: 1e-5, x: { offset: 0, strides: [d] }, weightOffset: 0 }), [buf(x.tensor), buf(w.tensor), buf(x.tensor), buf(y), buf(stats)]);
    const dxLaunch = layerNormDxLaunch({ ...common, dy: { offset: 0, strides: [d] }, x: { offset: 0, strides: [d] }, meanOffset: 0, rstdOffset: rows, weightOffset: 0 });
    rt.run(dxLaunch, [buf(dy.tensor), buf(x.tensor), buf(stats), buf(stats), buf(w.tensor), buf(dx)]);
    const o = oracleForward(x.values, d, w.values, null, 1e-5);
    expectRowsClose(await y.data(), o.y, rowAtol(x.values, d, o.rstd, 6e-5), 1e-5, `gpu-class y D=${d}`);
    expectClose(await dx.data(), oracleBackward(x.values, dy.values, d, w.values, 1e-5).dx, { atol: 1e-4, rtol: 1e-4, what: `gpu-class dx D=${d}` });
    for (const v of [x.tensor, w.tensor, dy.tensor, y, stats, dx]) v.dispose();
  }
});

// ---- errors --------------------------------------------------------------------------------------


t('forward error paths are typed and name the op', () => {
  const x = ops.zeros([2, 3, 4]);
  const xi = ops.zeros([2, 4], { dtype: 'i32' });
  const w4 = ops.ones([4]);
  const w3 = ops.ones([3]);
  assertThrows(() => ops.layerNorm(x, [3]), ShapeError, /layerNorm: normalizedShape \[3\] does not match the trailing dims of x \[2,3,4\]/);
  assertThrows(() => ops.layerNorm(x, [1, 2, 3, 4]), ShapeError, /does not match/);
  assertThrows(() => ops.layerNorm(x, []), ArgumentError, /non-empty/);
  assertThrows(() => ops.layerNorm(x, [4.5]), ArgumentError, /normalizedShape/);
  assertThrows(() => ops.layerNorm(x, [4], w3), ShapeError, /weight has shape \[3\], expected normalizedShape \[4\]/);
  assertThrows(() => ops.layerNorm(x, [4], null, w3), ShapeError, /bias has shape \[3\]/);
  assertThrows(() => ops.layerNorm(x, [3, 4], w4), ShapeError, /weight has shape \[4\], expected normalizedShape \[3,4\]/);
  assertThrows(() => ops.layerNorm(xi, [4]), DTypeError, /layerNorm: x must be f32 or f16, got i32/);
  assertThrows(() => ops.layerNorm(x, [4], ops.ones([4], { dtype: 'i32' })), DTypeError, /weight is i32 but x is f32/);
  assertThrows(() => ops.layerNorm(x, [4], null, null, -1), ArgumentError, /eps/);
  assertThrows(() => ops.layerNorm(x, [4], null, null, NaN), ArgumentError, /eps/);
  assertThrows(() => ops.layerNorm(x, [4], null, null, 1e-5, { residual: w4 }), ShapeError, /residual has shape \[4\]/);
  assertThrows(() => ops.layerNorm(x, [4], null, null, 1e-5, { residual: ops.zeros([2, 3, 4], { dtype: 'i32' }) }), DTypeError, /residual is i32/);
  assertThrows(() => ops.layerNorm(ops.zeros([3, 0]), [0]), ShapeError, /has no elements/);
  // 2^24 elements per row: rejected before any allocation (the view costs nothing).
  const huge = ops.expand(ops.zeros([1]), [2 ** 24]);
  assertThrows(() => ops.layerNorm(huge, [2 ** 24]), ShapeError, /exceed the supported/);
  const gone = ops.zeros([2, 4]);
  gone.dispose();
  assertThrows(() => ops.layerNorm(gone, [4]), DisposedError, /layerNorm/);
  for (const v of [x, xi, w4, w3, huge]) v.dispose();
});

t('backward error paths are typed and name the op', () => {
  const x = ops.zeros([2, 4]);
  const { mean, rstd, y } = ops.layerNorm(x, [4], null, null, 1e-5, { returnStats: true });
  assertThrows(() => ops.layerNormBackward(ops.zeros([2, 5]), x, mean!, rstd!), ShapeError, /layerNormBackward: dy has shape \[2,5\]/);
  assertThrows(() => ops.layerNormBackward(ops.zeros([2, 4], { dtype: 'i32' }), x, mean!, rstd!), DTypeError, /dy is i32/);
  assertThrows(() => ops.layerNormBackward(x, x, ops.zeros([3]), rstd!), ShapeError, /leading dims of x/);
  assertThrows(() => ops.layerNormBackward(x, x, x, x), ShapeError, /leading dims of x/);
  assertThrows(() => ops.layerNormBackward(x, x, ops.zeros([2], { dtype: 'i32' }), rstd!), DTypeError, /must be f32/);
  assertThrows(() => ops.layerNormBackward(x, x, mean!, rstd!, ops.ones([3])), ShapeError, /weight has shape \[3\]/);
  const xi = ops.zeros([2, 4], { dtype: 'i32' });
  assertThrows(() => ops.layerNormBackward(xi, xi, mean!, rstd!), DTypeError, /x must be f32 or f16/);
  for (const v of [x, xi, mean!, rstd!, y]) v.dispose();
});

t.run();
