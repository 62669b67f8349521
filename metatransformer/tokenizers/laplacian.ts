/**
 * Laplacian eigenvectors for graph node identifiers (TokenGT, Kim et al. 2022): the k eigenvectors of the
 * symmetric normalised Laplacian L = I - D^-1/2 A D^-1/2 with the smallest eigenvalues. They give each node
 * a position-like identifier; an edge token carries the identifiers of both endpoints.
 *
 * The eigensolver is the cyclic Jacobi method in float64: repeated plane rotations that zero one
 * off-diagonal entry each, sweeping all pairs until the off-diagonal mass is negligible. It is O(n^3) per
 * sweep and typically needs 6-10 sweeps, so it suits the graphs tokenised here (up to a few hundred
 * nodes per graph); it is unconditionally stable and returns orthonormal eigenvectors even for repeated
 * eigenvalues (common in graphs with symmetries), which simpler power iterations do not.
 */
import { expectOptions } from '../../engine/arguments.js';
import { ArgumentError } from '../../engine/errors.js';

export interface SymmetricEigen {
  /** Ascending eigenvalues. */
  values: Float64Array;
  /** Eigenvectors as columns of a row-major n x n matrix: vectors[i * n + j] is component i of vector j. */
  vectors: Float64Array;
}

/** All eigenpairs of a symmetric n x n matrix (row-major); the input is not modified. */
export function symmetricEigen(matrix: ArrayLike<number>, n: number, options: { maxSweeps?: number; tolerance?: number } = {}): SymmetricEigen {
  expectOptions('symmetricEigen', options, ['maxSweeps', 'tolerance']);
  const { maxSweeps = 50, tolerance = 1e-12 } = options;
  if (matrix.length !== n * n) throw new ArgumentError(`symmetricEigen: expected ${n * n} entries for ${n}x${n}, got ${matrix.length}`);
  const a = Float64Array.from(matrix);
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++)
      if (Math.abs(a[i * n + j]! - a[j * n + i]!) > 1e-9 * (1 + Math.abs(a[i * n + j]!)))
        throw new ArgumentError(`symmetricEigen: matrix is not symmetric at (${i}, ${j})`);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  const scale = Math.max(1e-300, a.reduce((s, x) => s + x * x, 0));
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += a[i * n + j]! ** 2;
    if (off <= tolerance * tolerance * scale) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        // Rotation angle that zeroes a[p][q] (Rutishauser's stable formulas).
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => a[x * n + x]! - a[y * n + y]!);
  const values = Float64Array.from(order, (i) => a[i * n + i]!);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    for (let k = 0; k < n; k++) vectors[k * n + dst] = v[k * n + src]!;
  });
  return { values, vectors };
}

/**
 * Node identifiers [n, k]: eigenvectors of the normalised Laplacian for the k smallest eigenvalues,
 * zero-padded when the graph has fewer than k nodes. Each vector's sign is fixed so that its
 * largest-magnitude component is positive (eigenvectors are only defined up to sign; TokenGT also flips
 * signs randomly during training, which the tokenizer does).
 */
export function laplacianEigenvectors(numNodes: number, edges: readonly (readonly [number, number])[], k = 16): Float32Array {
  const n = numNodes;
  if (!Number.isInteger(n) || n < 1) throw new ArgumentError(`laplacianEigenvectors: numNodes must be a positive integer, got ${n}`);
  const adj = new Float64Array(n * n);
  for (const [u, w] of edges) {
    if (!Number.isInteger(u) || !Number.isInteger(w) || u < 0 || w < 0 || u >= n || w >= n)
      throw new ArgumentError(`laplacianEigenvectors: edge (${u}, ${w}) refers to a node outside 0..${n - 1}`);
    if (u === w) continue;
    adj[u * n + w] = 1;
    adj[w * n + u] = 1;
  }
  const deg = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) deg[i]! += adj[i * n + j]!;
  const lap = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      const norm = deg[i]! > 0 && deg[j]! > 0 ? adj[i * n + j]! / Math.sqrt(deg[i]! * deg[j]!) : 0;
      lap[i * n + j] = (i === j && deg[i]! > 0 ? 1 : 0) - norm;
    }
  const { vectors } = symmetricEigen(lap, n);
  const out = new Float32Array(n * k);
  for (let j = 0; j < Math.min(k, n); j++) {
    let big = 0;
    for (let i = 0; i < n; i++) if (Math.abs(vectors[i * n + j]!) > Math.abs(big)) big = vectors[i * n + j]!;
    const sign = big < 0 ? -1 : 1;
    for (let i = 0; i < n; i++) out[i * k + j] = sign * vectors[i * n + j]!;
  }
  return out;
}
