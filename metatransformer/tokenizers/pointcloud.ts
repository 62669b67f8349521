/**
 * Point-cloud tokenizer, the Point-BERT / Point-MAE path that Meta-Transformer uses:
 *   1. each cloud is centred and scaled into the unit sphere (the ModelNet loaders' pc_normalize);
 *   2. `numGroups` centres by farthest point sampling (starting at point 0, as pointnet2's CUDA op);
 *   3. the `groupSize` nearest points of each centre, expressed relative to it (the neighbourhood);
 *   4. the mini-PointNet patch encoder: shared MLP 3 -> 128 -> 256 per point, max over the group,
 *      [global, local] concatenated to 512, shared MLP 512 -> 512 -> encoderChannels, max over the group;
 *   5. `reduce_dim` Linear(encoderChannels -> D) when the widths differ (Point-BERT; Point-MAE has none);
 *   6. a CLS token in front, and positions: `pos_embed` MLP (Linear 3 -> 128, GELU, Linear 128 -> D) of the
 *      centres, `cls_pos` for the CLS token.
 *
 * Parameter and buffer names follow Point-BERT (`encoder.first_conv.0.weight`, `encoder.first_conv.1.running_mean`
 * ...), so its checkpoints load as they are; its 1x1 Conv1d layers keep their [out, in, 1] weight shape
 * and run as GEMMs over channels-last features, and its BatchNorm1d layers (`first_conv.1`,
 * `second_conv.1`) normalise each channel over all points of all groups, batch statistics in training
 * mode and running statistics in eval mode, as in PyTorch.
 *
 * Grouping (steps 1-3) is input preprocessing on the GPU and not differentiable; everything after is.
 */
import * as ag from '../../autograd/index.js';
import { expectArray, expectOptions, optionKeys } from '../../engine/arguments.js';
import { ArgumentError, ShapeError } from '../../engine/errors.js';
import * as raw from '../../engine/ops/index.js';
import type { Generator } from '../../engine/random.js';
import type { Tensor } from '../../engine/tensor.js';
import { BatchNorm1d, GELU, Linear, Module, ReLU, Sequential, init, type UnaryModule } from '../../nn/index.js';
import { Tokenizer, type TokenBatch } from '../types.js';
import { prependClsToken } from './patch.js';
import { learnedTensor, requireBatch, requireInt } from './tokens.js';

/**
 * A 1x1 Conv1d applied to channels-last features [..., in] -> [..., out]: PyTorch's weight shape
 * [out, in, 1] (so checkpoints load as they are), evaluated as a GEMM.
 */
export class PointwiseConv1d extends Module implements UnaryModule {
  weight: Tensor;
  bias: Tensor;
  constructor(readonly inChannels: number, readonly outChannels: number, options: { generator?: Generator } = {}) {
    super();
    requireInt('PointwiseConv1d', 'inChannels', inChannels);
    requireInt('PointwiseConv1d', 'outChannels', outChannels);
    expectOptions('PointwiseConv1d', options, ['generator']);
    const { generator } = options;
    const bound = 1 / Math.sqrt(inChannels);
    this.weight = init.uniform([outChannels, inChannels, 1], -bound, bound, { generator });
    this.bias = init.uniform([outChannels], -bound, bound, { generator });
    this.weight.requiresGrad = true;
    this.bias.requiresGrad = true;
  }
  forward(x: Tensor): Tensor {
    return ag.linear(x, ag.reshape(this.weight, [this.outChannels, this.inChannels]), this.bias);
  }
}

/** Point-BERT's mini-PointNet: a group of relative points [M, K, 3] -> one feature [M, C]. */
export class PointPatchEncoder extends Module {
  first_conv: Sequential;
  second_conv: Sequential;
  constructor(readonly encoderChannels: number, widths: readonly [number, number, number], generator?: Generator) {
    super();
    const op = 'PointPatchEncoder';
    requireInt(op, 'encoderChannels', encoderChannels);
    expectArray(op, 'widths', widths);
    if (widths.length !== 3) throw new ArgumentError(`${op}: widths must be three layer widths, got ${widths.length}`);
    widths.forEach((w, i) => requireInt(op, `widths[${i}]`, w));
    const [w0, w1, w2] = widths;
    this.first_conv = new Sequential(new PointwiseConv1d(3, w0, { generator }), new BatchNorm1d(w0), new ReLU(), new PointwiseConv1d(w0, w1, { generator }));
    this.second_conv = new Sequential(new PointwiseConv1d(2 * w1, w2, { generator }), new BatchNorm1d(w2), new ReLU(), new PointwiseConv1d(w2, encoderChannels, { generator }));
  }
  forward(groups: Tensor): Tensor {
    const [m, k] = groups.shape as [number, number, number];
    const local = this.first_conv.forward(groups); // [M, K, w1]
    const global = ag.max(local, 1, { keepdim: true }); // [M, 1, w1]
    const joined = ag.concat([ag.expand(global, [m, k, global.shape[2]!]), local], 2);
    const features = this.second_conv.forward(joined);
    const out = ag.max(features, 1);
    for (const t of [local, global, joined, features]) t.dispose();
    return out;
  }
}

export interface PointCloudTokenizerOptions {
  dim: number;
  /** Number of centres (tokens besides CLS). */
  numGroups: number;
  /** Points per group (kNN). */
  groupSize: number;
  /** Width of the patch encoder's output (default: dim, and then no reduce_dim). */
  encoderChannels?: number;
  /** Hidden widths of the patch encoder (default Point-BERT's [128, 256, 512]). */
  encoderWidths?: readonly [number, number, number];
  /** Scale each cloud into the unit sphere around its centroid first (default true). */
  normalize?: boolean;
  generator?: Generator;
}

/** Centres a cloud on its centroid and scales its farthest point to distance 1 (pc_normalize). */
export function normalizeToUnitSphere(points: Float32Array): Float32Array {
  const n = points.length / 3;
  const c = [0, 0, 0];
  for (let i = 0; i < n; i++) for (let a = 0; a < 3; a++) c[a]! += points[i * 3 + a]!;
  for (let a = 0; a < 3; a++) c[a]! /= n;
  let radius = 0;
  for (let i = 0; i < n; i++) {
    let r2 = 0;
    for (let a = 0; a < 3; a++) r2 += (points[i * 3 + a]! - c[a]!) ** 2;
    radius = Math.max(radius, Math.sqrt(r2));
  }
  const scale = radius > 0 ? 1 / radius : 1;
  const out = new Float32Array(points.length);
  for (let i = 0; i < n; i++) for (let a = 0; a < 3; a++) out[i * 3 + a] = (points[i * 3 + a]! - c[a]!) * scale;
  return out;
}

const POINT_CLOUD_TOKENIZER_OPTIONS = optionKeys<PointCloudTokenizerOptions>({
  dim: true, numGroups: true, groupSize: true, encoderChannels: true, encoderWidths: true, normalize: true, generator: true,
});

export class PointCloudTokenizer extends Tokenizer<Float32Array> {
  readonly modality = 'pointcloud' as const;
  readonly dim: number;
  readonly hasClsToken = true;
  readonly numGroups: number;
  readonly groupSize: number;
  readonly normalize: boolean;
  encoder: PointPatchEncoder;
  reduce_dim: Linear | null;
  cls_token: Tensor;
  cls_pos: Tensor;
  pos_embed: Sequential;

  constructor(options: PointCloudTokenizerOptions) {
    super();
    expectOptions('PointCloudTokenizer', options, POINT_CLOUD_TOKENIZER_OPTIONS);
    const { dim, numGroups, groupSize, encoderChannels = dim, encoderWidths = [128, 256, 512], normalize = true, generator } = options;
    const op = 'PointCloudTokenizer';
    requireInt(op, 'dim', dim);
    requireInt(op, 'numGroups', numGroups);
    requireInt(op, 'groupSize', groupSize);
    requireInt(op, 'encoderChannels', encoderChannels);
    if (encoderWidths.length !== 3) throw new ArgumentError(`${op}: encoderWidths needs 3 widths, got [${encoderWidths}]`);
    encoderWidths.forEach((w, i) => requireInt(op, `encoderWidths[${i}]`, w));
    this.dim = dim;
    this.numGroups = numGroups;
    this.groupSize = groupSize;
    this.normalize = normalize;
    this.encoder = new PointPatchEncoder(encoderChannels, encoderWidths, generator);
    this.reduce_dim = encoderChannels === dim ? null : new Linear(encoderChannels, dim, { generator });
    this.cls_token = learnedTensor([1, 1, dim], generator);
    this.cls_pos = learnedTensor([1, 1, dim], generator);
    this.pos_embed = new Sequential(new Linear(3, 128, { generator }), new GELU(), new Linear(128, dim, { generator }));
  }

  /**
   * Groups a batch of clouds (each [N * 3], the same N for all): centres [B, G, 3] and neighbourhoods
   * [B, G, K, 3] (points minus their centre). Not differentiable.
   */
  group(batch: readonly Float32Array[]): { centres: Tensor; neighbourhoods: Tensor } {
    const op = 'PointCloudTokenizer';
    requireBatch(op, batch);
    const n = batch[0]!.length / 3;
    batch.forEach((cloud, i) => {
      if (!(cloud instanceof Float32Array) || cloud.length % 3 !== 0)
        throw new ShapeError(`${op}: cloud ${i} must be a Float32Array of xyz triples, got length ${cloud.length}`);
      if (cloud.length / 3 !== n)
        throw new ShapeError(`${op}: clouds in a batch need the same point count; cloud 0 has ${n}, cloud ${i} has ${cloud.length / 3} (resample them first)`);
      for (let j = 0; j < cloud.length; j++)
        if (!Number.isFinite(cloud[j]!)) throw new ArgumentError(`${op}: cloud ${i}, point ${Math.floor(j / 3)} has a non-finite coordinate`);
    });
    if (n < this.groupSize || n < this.numGroups)
      throw new ShapeError(`${op}: clouds of ${n} points cannot give ${this.numGroups} groups of ${this.groupSize} points`);
    const b = batch.length;
    const flat = new Float32Array(b * n * 3);
    batch.forEach((cloud, i) => flat.set(this.normalize ? normalizeToUnitSphere(cloud) : cloud, i * n * 3));
    const points = raw.fromFlat(flat, [b, n, 3], 'f32', op);
    const temps: Tensor[] = [points];
    try {
      const centreIds = raw.farthestPointSample(points, this.numGroups); // [B, G]
      temps.push(centreIds);
      const centres = indexRows(points, centreIds, temps);
      const neighbourIds = raw.knn(points, centres, this.groupSize); // [B, G, K], nearest first
      temps.push(neighbourIds);
      const neighbours = indexRows(points, neighbourIds, temps); // [B, G, K, 3]
      temps.push(neighbours);
      const centreColumn = raw.unsqueeze(centres, 2);
      temps.push(centreColumn);
      const neighbourhoods = raw.sub(neighbours, centreColumn);
      return { centres, neighbourhoods };
    } finally {
      for (const t of temps) t.dispose();
    }
  }

  forward(batch: readonly Float32Array[]): TokenBatch {
    const { centres, neighbourhoods } = this.group(batch);
    const [b, g, k] = neighbourhoods.shape as [number, number, number, number];
    const groups = raw.reshape(neighbourhoods, [b * g, k, 3]);
    const encoded = this.encoder.forward(groups); // [B*G, C]
    const reshaped = ag.reshape(encoded, [b, g, encoded.shape[1]!]);
    const features = this.reduce_dim ? this.reduce_dim.forward(reshaped) : reshaped;
    const positions = this.pos_embed.forward(centres);
    const tokens = ag.add(prependClsToken(features, this.cls_token), prependClsToken(positions, this.cls_pos));
    for (const t of new Set([centres, neighbourhoods, groups, encoded, reshaped, positions])) if (t !== features) t.dispose();
    return { tokens };
  }
}

/**
 * Rows of points [B, N, 3] picked per cloud by i32 indices [B, ...] (Point-BERT's idx + idx_base gather
 * on the flattened points): result [B, ..., 3]. Temporaries go to `temps`.
 */
function indexRows(points: Tensor, ids: Tensor, temps: Tensor[]): Tensor {
  const [b, n] = points.shape as [number, number, number];
  const offsets = Int32Array.from({ length: b }, (_, i) => i * n);
  const base = raw.fromFlat(offsets, [b, ...ids.shape.slice(1).map(() => 1)], 'i32', 'PointCloudTokenizer');
  const global = raw.add(ids, base);
  const flatPoints = raw.reshape(points, [b * n, 3]);
  temps.push(base, global, flatPoints);
  return raw.embeddingLookup(flatPoints, global);
}
