/** Point-cloud grouping ops: farthest point sampling and k-nearest neighbours (not differentiable: indices). */
import { KNN_MAX_K, fpsLaunch, knnLaunch } from '../../kernels/pointcloud.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { empty, expectTensor, type Tensor } from '../tensor.js';
import { contiguous } from './elementwise.js';

function checkCloud(op: string, name: string, t: Tensor): void {
  expectTensor(op, name, t);
  t.storage(op);
  if (t.dtype !== 'f32') throw new DTypeError(`${op}: ${name} must be f32, got ${t.dtype}`);
  if (t.rank !== 3 || t.shape[2] !== 3) throw new ShapeError(`${op}: ${name} must have shape [B, N, 3], got ${fmtShape(t.shape)}`);
}

/** Indices [B, S] (i32) of S farthest-point samples of each cloud in points [B, N, 3], starting at point 0. */
export function farthestPointSample(points: Tensor, numSamples: number): Tensor {
  const op = 'farthestPointSample';
  checkCloud(op, 'points', points);
  const [b, n] = points.shape as [number, number, number];
  if (!Number.isInteger(numSamples) || numSamples < 1 || numSamples > n)
    throw new ArgumentError(`${op}: numSamples must be an integer in [1, ${n}] for ${fmtShape(points.shape)}, got ${numSamples}`);
  const x = contiguous(points);
  const scratch = empty([b, n], 'f32', op);
  const out = empty([b, numSamples], 'i32', op);
  try {
    const rt = x.storage(op).rt;
    rt.run(fpsLaunch(b, n, numSamples, x.offset, rt.info.adapterClass), [x.storage(op).buffer, scratch.storage(op).buffer, out.storage(op).buffer]);
  } finally {
    x.dispose();
    scratch.dispose();
  }
  return out;
}

/** Indices [B, S, k] (i32) of the k nearest points [B, N, 3] to each centre [B, S, 3], nearest first. */
export function knn(points: Tensor, centres: Tensor, k: number): Tensor {
  const op = 'knn';
  checkCloud(op, 'points', points);
  checkCloud(op, 'centres', centres);
  const [b, n] = points.shape as [number, number, number];
  const s = centres.shape[1]!;
  if (centres.shape[0] !== b) throw new ShapeError(`${op}: batch of centres ${fmtShape(centres.shape)} differs from points ${fmtShape(points.shape)}`);
  if (!Number.isInteger(k) || k < 1 || k > Math.min(n, KNN_MAX_K))
    throw new ArgumentError(`${op}: k must be an integer in [1, ${Math.min(n, KNN_MAX_K)}] (points per cloud ${n}, kernel limit ${KNN_MAX_K}), got ${k}`);
  const x = contiguous(points);
  const c = contiguous(centres);
  const out = empty([b, s, k], 'i32', op);
  try {
    x.storage(op).rt.run(knnLaunch(b, n, s, k, x.offset, c.offset), [x.storage(op).buffer, c.storage(op).buffer, out.storage(op).buffer]);
  } finally {
    x.dispose();
    c.dispose();
  }
  return out;
}
