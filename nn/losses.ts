/**
 * Loss functions, differentiable through autograd. Conventions follow torch.nn.functional: `reduction`
 * 'mean' (default), 'sum' or 'none'; class targets are i32 indices.
 */
import * as ag from '../autograd/index.js';
import { record, save } from '../autograd/tape.js';
import { expectOptions, optionKeys } from '../engine/arguments.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../engine/errors.js';
import * as raw from '../engine/ops/index.js';
import { sameShape } from '../engine/shape.js';
import { expectTensor, type Tensor } from '../engine/tensor.js';

export type Reduction = 'mean' | 'sum' | 'none';

function reduce(op: string, loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return loss;
  if (reduction !== 'sum' && reduction !== 'mean') throw new ArgumentError(`${op}: reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`);
  const out = reduction === 'sum' ? ag.sum(loss) : ag.mean(loss);
  loss.dispose();
  return out;
}

/** Disposes the temporaries once `result` is computed. */
function freeing<T>(temps: Tensor[], result: T): T {
  for (const t of new Set(temps)) t.dispose();
  return result;
}

export interface CrossEntropyOptions {
  reduction?: Reduction;
  /** Targets equal to this contribute nothing, and 'mean' averages over the other targets only. Default -100. */
  ignoreIndex?: number;
  /** Mixes the one-hot target with the uniform distribution: (1 - s) onehot + s / C. Default 0. */
  labelSmoothing?: number;
}

const CROSS_ENTROPY_OPTIONS = optionKeys<CrossEntropyOptions>({ reduction: true, ignoreIndex: true, labelSmoothing: true });

/**
 * Cross-entropy of `logits` [N, C] (or [N, C, d1, ...]) against class indices `target` [N] (or
 * [N, d1, ...], i32), through the fused log-softmax kernel. 'none' returns the per-target losses with
 * target's shape (0 at ignored targets).
 */
export function crossEntropy(logits: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropy';
  expectOptions(op, options, CROSS_ENTROPY_OPTIONS);
  const { reduction = 'mean', ignoreIndex = -100, labelSmoothing = 0 } = options;
  expectTensor(op, 'logits', logits);
  expectTensor(op, 'target', target);
  if (logits.rank < 2) throw new ShapeError(`${op}: logits must be [N, C, ...], got ${fmtShape(logits.shape)}`);
  if (target.dtype !== 'i32') throw new DTypeError(`${op}: target must hold i32 class indices, got ${target.dtype}`);
  const expected = [logits.shape[0]!, ...logits.shape.slice(2)];
  if (!sameShape(target.shape, expected)) throw new ShapeError(`${op}: target ${fmtShape(target.shape)} does not match logits ${fmtShape(logits.shape)} (expected ${fmtShape(expected)})`);
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) throw new ArgumentError(`${op}: labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  const classes = logits.shape[1]!;
  // Class dim last, rows flattened: [M, C] and [M].
  const moved = logits.rank > 2 ? ag.permute(logits, [0, ...logits.shape.slice(2).map((_, i) => i + 2), 1]) : ag.reshape(logits, logits.shape);
  const rows = ag.reshape(moved, [-1, classes]);
  const flatTarget = raw.reshape(target, [-1, 1]);
  const logp = ag.logSoftmax(rows, -1);
  const classIds = raw.arange(classes);
  const onehotU = raw.eq(flatTarget, classIds);
  const onehot = raw.cast(onehotU, logp.dtype);
  const validU = raw.ne(flatTarget, ignoreIndex);
  const valid = raw.cast(validU, logp.dtype);
  // Target distribution per row: (1 - s) onehot + s / C, zeroed on ignored rows.
  const shrunk = raw.mul(onehot, 1 - labelSmoothing);
  const smoothed = raw.add(shrunk, labelSmoothing / classes);
  const targetDist = raw.mul(smoothed, valid);
  const weighted = ag.mul(logp, targetDist);
  const rowSum = ag.sum(weighted, -1);
  const perRow = ag.neg(rowSum);
  const temps = [moved, rows, flatTarget, logp, classIds, onehotU, onehot, validU, shrunk, smoothed, targetDist, weighted, rowSum];
  if (reduction === 'mean') {
    const count = raw.sum(valid);
    const total = ag.sum(perRow);
    const out = ag.div(total, count);
    return freeing([...temps, valid, count, total, perRow], out);
  }
  const shaped = ag.reshape(perRow, target.shape);
  return freeing([...temps, valid, perRow], reduce(op, shaped, reduction));
}

function checkPair(op: string, a: Tensor, b: Tensor): void {
  expectTensor(op, 'input', a);
  expectTensor(op, 'target', b);
  if (!sameShape(a.shape, b.shape)) throw new ShapeError(`${op}: input ${fmtShape(a.shape)} and target ${fmtShape(b.shape)} differ in shape`);
  if (a.dtype !== b.dtype) throw new DTypeError(`${op}: input ${a.dtype} and target ${b.dtype} differ in dtype`);
}

/**
 * Binary cross-entropy on logits, stable for any |x|, with optional `posWeight` p weighting the positive
 * term (torch's pos_weight):  loss = (1 - y) x + (1 + (p - 1) y) softplus(-x),
 * softplus(-x) = max(-x, 0) + log(1 + exp(-|x|)). One fused rule gives the gradients
 * d/dx = (1 + (p - 1) y) sigmoid(x) - p y  and  d/dy = (p - 1) softplus(-x) - x.
 */
export function bceWithLogits(logits: Tensor, target: Tensor, options: { reduction?: Reduction; posWeight?: number } = {}): Tensor {
  const op = 'bceWithLogits';
  expectOptions(op, options, ['reduction', 'posWeight']);
  const { reduction = 'mean', posWeight = 1 } = options;
  checkPair(op, logits, target);
  if (!Number.isFinite(posWeight)) throw new ArgumentError(`${op}: posWeight must be finite, got ${posWeight}`);
  const p = posWeight;
  const absX = raw.abs(logits);
  const negAbs = raw.neg(absX);
  const e = raw.exp(negAbs);
  const l1p = raw.add(e, 1);
  const logTerm = raw.log(l1p);
  const negX = raw.neg(logits);
  const reluNegX = raw.relu(negX);
  const softplusNeg = raw.add(reluNegX, logTerm);
  const yScaled = raw.mul(target, p - 1);
  const coef = raw.add(yScaled, 1);
  const oneMinusY = raw.sub(1, target);
  const linear = raw.mul(oneMinusY, logits);
  const weighted = raw.mul(coef, softplusNeg);
  const loss = raw.add(linear, weighted);
  freeing([absX, negAbs, e, l1p, logTerm, negX, reluNegX, yScaled, oneMinusY, linear, weighted], null);
  const sx = save(logits);
  const st = save(target);
  const recorded = record(op, loss, [logits, target], [sx, st, coef, softplusNeg], (g, [nx, nt]) => {
    let dx: Tensor | null = null;
    let dy: Tensor | null = null;
    if (nx) {
      const s = raw.sigmoid(sx);
      const a = raw.mul(coef, s);
      const py = raw.mul(st, p);
      const d = raw.sub(a, py);
      dx = raw.mul(d, g);
      freeing([s, a, py, d], null);
    }
    if (nt) {
      const sp = raw.mul(softplusNeg, p - 1);
      const d = raw.sub(sp, sx);
      dy = raw.mul(d, g);
      freeing([sp, d], null);
    }
    return [dx, dy];
  });
  return reduce(op, recorded, reduction);
}

/** Mean squared error. */
export function mse(input: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  expectOptions('mse', options, ['reduction']);
  const { reduction = 'mean' } = options;
  checkPair('mse', input, target);
  const d = ag.sub(input, target);
  return freeing([d], reduce('mse', ag.square(d), reduction));
}

/** Mean absolute error. */
export function l1(input: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  expectOptions('l1', options, ['reduction']);
  const { reduction = 'mean' } = options;
  checkPair('l1', input, target);
  const d = ag.sub(input, target);
  return freeing([d], reduce('l1', ag.abs(d), reduction));
}

/** Huber-style loss: 0.5 d^2 / beta where |d| < beta, |d| - beta / 2 elsewhere (torch smooth_l1_loss). */
export function smoothL1(input: Tensor, target: Tensor, options: { reduction?: Reduction; beta?: number } = {}): Tensor {
  expectOptions('smoothL1', options, ['reduction', 'beta']);
  const { reduction = 'mean', beta = 1 } = options;
  checkPair('smoothL1', input, target);
  if (!(beta > 0)) throw new ArgumentError(`smoothL1: beta must be > 0, got ${beta}`);
  const d = ag.sub(input, target);
  const a = ag.abs(d);
  const small = raw.lt(a, beta);
  const quad = ag.mul(ag.square(d), 0.5 / beta);
  const lin = ag.sub(a, beta / 2);
  const loss = ag.where(small, quad, lin);
  return freeing([d, a, small, quad, lin], reduce('smoothL1', loss, reduction));
}

/** Rows divided by their L2 norm (eps keeps zero rows finite). */
function l2Normalize(x: Tensor): Tensor {
  const sq = ag.square(x);
  const ss = ag.sum(sq, -1, { keepdim: true });
  const padded = ag.add(ss, 1e-12);
  const inv = ag.rsqrt(padded);
  return freeing([sq, ss, padded, inv], ag.mul(x, inv));
}

/**
 * CLIP's symmetric InfoNCE: rows of `imageEmb` and `textEmb` [N, D] are L2-normalized, logits =
 * exp(logitScale) * img @ txt^T, and the loss is the mean of the cross-entropies of each image against
 * all texts and each text against all images, the matching pair (the diagonal) being the target.
 * `logitScale` is a 0-d tensor holding the log of the temperature's inverse (CLIP's learnable
 * `logit_scale`, initialised to log(1/0.07)); it receives a gradient when it requires one.
 */
export function clipContrastiveLoss(imageEmb: Tensor, textEmb: Tensor, logitScale: Tensor): Tensor {
  const op = 'clipContrastiveLoss';
  if (imageEmb.rank !== 2 || !sameShape(imageEmb.shape, textEmb.shape))
    throw new ShapeError(`${op}: embeddings must both be [N, D], got ${fmtShape(imageEmb.shape)} and ${fmtShape(textEmb.shape)}`);
  if (logitScale.size !== 1) throw new ShapeError(`${op}: logitScale must have one element, got ${fmtShape(logitScale.shape)}`);
  const n = imageEmb.shape[0]!;
  const img = l2Normalize(imageEmb);
  const txt = l2Normalize(textEmb);
  const logScale = ag.reshape(logitScale, []);
  const scale = ag.exp(logScale);
  const txtT = ag.transpose(txt);
  const sim = ag.matmul(img, txtT);
  const logits = ag.mul(sim, scale);
  const logitsT = ag.transpose(logits);
  const labels = raw.arange(n);
  const a = crossEntropy(logits, labels);
  const b = crossEntropy(logitsT, labels);
  const sum = ag.add(a, b);
  const out = ag.mul(sum, 0.5);
  return freeing([img, txt, logScale, scale, txtT, sim, logits, logitsT, labels, a, b, sum], out);
}
