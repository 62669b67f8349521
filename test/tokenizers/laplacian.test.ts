import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { laplacianEigenvectors, symmetricEigen } from '../../metatransformer/tokenizers/laplacian.js';
import { ArgumentError } from '../../engine/errors.js';

const t = suite('tokenizers: Laplacian eigenvectors');

t('Jacobi eigenpairs satisfy A v = lambda v and are orthonormal (random symmetric matrices)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 12 }), fc.integer(), (n, seed) => {
      let s = seed >>> 0;
      const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
      const a = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = rnd();
      const { values, vectors } = symmetricEigen(a, n);
      for (let j = 0; j < n; j++) {
        for (let i = 0; i < n; i++) {
          let av = 0;
          for (let k = 0; k < n; k++) av += a[i * n + k]! * vectors[k * n + j]!;
          assert.ok(Math.abs(av - values[j]! * vectors[i * n + j]!) < 1e-9, `residual at ${i},${j}`);
        }
        for (let m = 0; m < n; m++) {
          let dot = 0;
          for (let i = 0; i < n; i++) dot += vectors[i * n + j]! * vectors[i * n + m]!;
          assert.ok(Math.abs(dot - (j === m ? 1 : 0)) < 1e-9, 'orthonormal');
        }
      }
      for (let j = 1; j < n; j++) assert.ok(values[j]! >= values[j - 1]!, 'ascending');
    }),
    { numRuns: 60 },
  );
});

t('cycle graph: normalised Laplacian spectrum is 1 - cos(2 pi j / n)', () => {
  const n = 8;
  const edges = Array.from({ length: n }, (_, i) => [i, (i + 1) % n] as [number, number]);
  const adjL = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    adjL[i * n + i] = 1;
    adjL[i * n + ((i + 1) % n)] = -0.5;
    adjL[i * n + ((i + n - 1) % n)] = -0.5;
  }
  const { values } = symmetricEigen(adjL, n);
  const expected = Array.from({ length: n }, (_, j) => 1 - Math.cos((2 * Math.PI * j) / n)).sort((a, b) => a - b);
  values.forEach((v, j) => assert.ok(Math.abs(v - expected[j]!) < 1e-10));
  const ids = laplacianEigenvectors(n, edges, 16);
  assert.is(ids.length, n * 16);
  for (let j = n; j < 16; j++) for (let i = 0; i < n; i++) assert.is(ids[i * 16 + j], 0, 'zero padding beyond n');
  // First eigenvector of a regular graph is constant 1/sqrt(n), sign fixed positive.
  for (let i = 0; i < n; i++) assert.ok(Math.abs(ids[i * 16]! - 1 / Math.sqrt(n)) < 1e-6);
});

t('bad input is refused', () => {
  assert.throws(() => laplacianEigenvectors(3, [[0, 3]]), (e: Error) => e instanceof ArgumentError && /\(0, 3\)/.test(e.message));
  assert.throws(() => laplacianEigenvectors(0, []), (e: Error) => e instanceof ArgumentError);
  assert.throws(() => symmetricEigen([1, 2, 3, 4], 2), (e: Error) => e instanceof ArgumentError && /not symmetric/.test(e.message));
  assert.throws(() => symmetricEigen([1, 2, 3], 2), (e: Error) => e instanceof ArgumentError);
});

t.run();
