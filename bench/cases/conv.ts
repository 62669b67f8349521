/**
 * The ViT patch embedding: conv2d with a 16x16 kernel and stride 16 over 224x224 RGB images (NCHW, weights
 * [out, in, kh, kw] as torch stores them). Our baseline is im2col through free views (reshape + permute)
 * followed by one GEMM. tfjs wants NHWC images and [kh, kw, in, out] filters: both are rearranged once
 * outside timing, and its NHWC output is rearranged on the host for validation only.
 */
import type { Tensor4D } from '@tensorflow/tfjs-core';
import * as ops from '../../engine/ops/index.js';
import { sampledCheck, type BenchCase } from '../harness.js';
import { fmt, host, permuteHost, variants } from './common.js';
import { requireOp } from './ours.js';

export function patchEmbedCase(batch: number, size = 224, patch = 16, channels = 3, dim = 768): BenchCase {
  const grid = size / patch;
  const xShape = [batch, channels, size, size];
  const wShape = [dim, channels, patch, patch];
  const k = channels * patch * patch;
  return {
    name: `conv2d patch-embed B=${batch}`,
    group: 'conv',
    shape: `x ${fmt(xShape)}, w ${fmt(wShape)}, stride ${patch}`,
    dtype: 'f32',
    flops: 2 * batch * grid * grid * dim * k,
    async setup() {
      const x = host(xShape, 51);
      const w = host(wShape, 52, 0.05);
      const b = host([dim], 53);
      const expectedAt = (i: number): number => {
        const px = i % grid;
        const py = Math.floor(i / grid) % grid;
        const o = Math.floor(i / (grid * grid)) % dim;
        const n = Math.floor(i / (grid * grid * dim));
        let s = b.data[o]!;
        for (let c = 0; c < channels; c++)
          for (let ky = 0; ky < patch; ky++)
            for (let kx = 0; kx < patch; kx++)
              s +=
                x.data[((n * channels + c) * size + py * patch + ky) * size + px * patch + kx]! *
                w.data[((o * channels + c) * patch + ky) * patch + kx]!;
        return s;
      };
      const nhwc = { data: permuteHost(x.data, xShape, [0, 2, 3, 1]), shape: [batch, size, size, channels] };
      const hwio = { data: permuteHost(w.data, wShape, [2, 3, 1, 0]), shape: [patch, patch, channels, dim] };
      return {
        check: sampledCheck({ size: batch * dim * grid * grid, expectedAt, atol: 2e-3, rtol: 1e-3 }),
        variants: variants({
          inputs: [x, w, b],
          ours: { label: 'conv2d', op: ([xx, ww, bb]) => requireOp('conv2d')(xx!, ww!, bb!, { stride: patch }) },
          baselines: [
            {
              label: 'im2col by views + matmul + add',
              op: ([xx, ww, bb]) => {
                const cols = ops.reshape(
                  ops.contiguous(ops.permute(ops.reshape(xx!, [batch, channels, grid, patch, grid, patch]), [0, 2, 4, 1, 3, 5])),
                  [batch * grid * grid, k],
                );
                const y = ops.add(requireOp('matmul')(cols, ops.transpose(ops.reshape(ww!, [dim, k]))), bb!);
                return ops.contiguous(ops.permute(ops.reshape(y, [batch, grid, grid, dim]), [0, 3, 1, 2]));
              },
            },
          ],
          tfjs: {
            label: 'tf.conv2d NHWC + add',
            inputs: [nhwc, hwio, b],
            op: (tf, [xx, ww, bb]) => tf.add(tf.conv2d(xx as Tensor4D, ww as Tensor4D, patch, 'valid'), bb!),
            toCanonical: (out) => permuteHost(out, [batch, grid, grid, dim], [0, 3, 1, 2]),
          },
          jax: {
            label: 'jit(lax.conv NCHW + bias)',
            op: (jax, [xx, ww, bb]) =>
              jax.numpy.add(jax.lax.conv(xx!, ww!, [patch, patch], 'VALID'), jax.numpy.reshape(bb!, [dim, 1, 1])),
          },
          ort: {
            label: 'Conv NCHW with bias',
            graph: (g, [xx, ww, bb]) => g.op('Conv', [xx!, ww!, bb!], { kernel_shape: { ints: [patch, patch] }, strides: { ints: [patch, patch] } }),
          },
        }),
      };
    },
  };
}

/** Batch 8 (1 on a CPU adapter unless --large). */
export const convCases = (options: { small: boolean }): BenchCase[] => [patchEmbedCase(options.small ? 1 : 8)];
