import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { fromFlat } from '../../engine/ops/creation.js';
import { farthestPointSample, knn } from '../../engine/ops/pointcloud.js';
import { slice } from '../../engine/ops/views.js';
import { ArgumentError, ShapeError } from '../../engine/errors.js';
import { runtime } from '../../engine/runtime.js';
import { empty } from '../../engine/tensor.js';
import { fpsLaunch } from '../../kernels/pointcloud.js';
import { testDevice } from '../helpers.js';

const t = suite('kernels: farthest point sampling and kNN');
t.before(async () => {
  await testDevice();
});

function d2(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number): number {
  return Math.fround((Math.fround(a[i * 3]! - b[j * 3]!)) ** 2 + Math.fround(a[i * 3 + 1]! - b[j * 3 + 1]!) ** 2 + Math.fround(a[i * 3 + 2]! - b[j * 3 + 2]!) ** 2);
}

function fpsOracle(pts: Float32Array, n: number, s: number): number[] {
  const dist = new Array(n).fill(Infinity);
  const out = [0];
  for (let k = 1; k < s; k++) {
    const c = out[k - 1]!;
    let best = -1;
    for (let i = 0; i < n; i++) {
      dist[i] = Math.min(dist[i], d2(pts, i, pts, c));
      if (best < 0 || dist[i] > dist[best]) best = i;
    }
    out.push(best);
  }
  return out;
}

const cloud = (b: number, n: number, seed: number): Float32Array => {
  let s = seed >>> 0;
  return Float32Array.from({ length: b * n * 3 }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1);
};

t('FPS matches the greedy float oracle on random clouds (N up to 700, several batches)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 700 }), fc.integer(), async (b, n, seed) => {
      const s = 1 + (Math.abs(seed) % Math.min(n, 40));
      const pts = cloud(b, n, seed);
      const idx = farthestPointSample(fromFlat(pts, [b, n, 3], 'f32'), s);
      const got = Array.from(await idx.data());
      for (let bi = 0; bi < b; bi++)
        assert.equal(got.slice(bi * s, (bi + 1) * s), fpsOracle(pts.subarray(bi * n * 3, (bi + 1) * n * 3), n, s), `batch ${bi}`);
      idx.dispose();
    }),
    { numRuns: 15 },
  );
});

t('FPS at either workgroup width (64 on CPU adapters, 256 on GPUs) picks the same centres', async () => {
  const [b, n, s] = [2, 300, 24];
  const pts = cloud(b, n, 7);
  const x = fromFlat(pts, [b, n, 3], 'f32');
  const rt = runtime();
  for (const adapterClass of ['cpu', 'gpu'] as const) {
    const scratch = empty([b, n], 'f32');
    const out = empty([b, s], 'i32');
    rt.run(fpsLaunch(b, n, s, 0, adapterClass), [x.storage('test').buffer, scratch.storage('test').buffer, out.storage('test').buffer]);
    const got = Array.from(await out.data());
    for (let bi = 0; bi < b; bi++)
      assert.equal(got.slice(bi * s, (bi + 1) * s), fpsOracle(pts.subarray(bi * n * 3, (bi + 1) * n * 3), n, s), `${adapterClass} batch ${bi}`);
    scratch.dispose();
    out.dispose();
  }
  x.dispose();
});

t('kNN returns the k nearest in order, ties to the lower index', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 300 }), fc.integer(), async (b, n, seed) => {
      const k = 1 + (Math.abs(seed) % Math.min(n, 32));
      const s = 1 + (Math.abs(seed >> 8) % 10);
      const pts = cloud(b, n, seed);
      const cen = cloud(b, s, seed ^ 0x5bd1e995);
      const idx = knn(fromFlat(pts, [b, n, 3], 'f32'), fromFlat(cen, [b, s, 3], 'f32'), k);
      const got = Array.from(await idx.data());
      for (let bi = 0; bi < b; bi++)
        for (let q = 0; q < s; q++) {
          const order = Array.from({ length: n }, (_, i) => i).sort(
            (x, y) => d2(pts, bi * n + x, cen, bi * s + q) - d2(pts, bi * n + y, cen, bi * s + q) || x - y,
          );
          assert.equal(got.slice((bi * s + q) * k, (bi * s + q + 1) * k), order.slice(0, k));
        }
      idx.dispose();
    }),
    { numRuns: 15 },
  );
});

t('works on offset views and duplicate points', async () => {
  const pts = new Float32Array([9, 9, 9, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0]);
  const base = fromFlat(pts, [5, 3], 'f32');
  const view = slice(base, [{ start: 1 }]).view([1, 4, 3], [12, 3, 1]);
  assert.equal(Array.from(await farthestPointSample(view, 2).data()), [0, 2]);
  assert.equal(Array.from(await knn(view, fromFlat([0.9, 0, 0], [1, 1, 3], 'f32'), 3).data()), [2, 3, 0]);
});

t('errors name the op and shapes', () => {
  const p = fromFlat(new Float32Array(12), [1, 4, 3], 'f32');
  assert.throws(() => farthestPointSample(p, 5), (e: Error) => e instanceof ArgumentError && /\[1,4,3\]/.test(e.message));
  assert.throws(() => farthestPointSample(fromFlat(new Float32Array(8), [1, 4, 2], 'f32'), 2), (e: Error) => e instanceof ShapeError);
  assert.throws(() => knn(p, fromFlat(new Float32Array(6), [2, 1, 3], 'f32'), 2), (e: Error) => e instanceof ShapeError && /batch/.test(e.message));
  assert.throws(() => knn(p, fromFlat(new Float32Array(3), [1, 1, 3], 'f32'), 5), (e: Error) => e instanceof ArgumentError);
});

t.run();
