/**
 * matmul and linear backward. Transposed operands are strided views, which the GEMM reads in place, so
 * the backward products copy nothing:
 *   C = A B:              dA = dC B^T (summed over broadcast batch dims),  dB = A^T dC (likewise)
 *   y = act(x W^T + b) + r:  dPre = act'(pre) dy,  dx = dPre W,  dW = dPre^T x (rows flattened),
 *                            db = sum of dPre over rows,  dr = dy (summed to r's shape)
 * The pre-activation comes from the forward's fused epilogue (`savePreActivation`), not a second GEMM.
 */
import { expectOptions } from '../../engine/arguments.js';
import * as raw from '../../engine/ops/index.js';
import { LINEAR_OPTIONS, type LinearOptions, type LinearWithPre, type MatmulOptions } from '../../engine/ops/matmul.js';
import type { Tensor } from '../../engine/tensor.js';
import { sumTo } from '../reduce-to.js';
import { alias, anyNeedsGrad, record, save } from '../tape.js';

/** g in the operands' dtype (a matmul with outDtype f32 over f16 inputs gets an f32 gradient). */
function inDtype(g: Tensor, like: Tensor): Tensor {
  return g.dtype === like.dtype ? alias(g) : raw.cast(g, like.dtype);
}

/** An operand's gradient, computed against its promoted 2-D form, viewed back as the 1-D operand it was (taking `grad`). */
function unpromoted(grad: Tensor, operand: Tensor): Tensor {
  if (operand.rank !== 1) return grad;
  const view = raw.reshape(grad, operand.shape);
  grad.dispose();
  return view;
}

export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const out = raw.matmul(a, b, options);
  if (!anyNeedsGrad(a, b)) return out;
  const sa = save(a);
  const sb = save(b);
  return record('matmul', out, [a, b], [sa, sb], (gOut, [na, nb]) => {
    // Promote 1-D operands as the forward did (row vector a, column vector b), and g to match.
    const a2 = sa.rank === 1 ? raw.unsqueeze(sa, 0) : alias(sa);
    const b2 = sb.rank === 1 ? raw.unsqueeze(sb, 1) : alias(sb);
    const gc = inDtype(gOut, sa);
    const g1 = sa.rank === 1 ? raw.unsqueeze(gc, sb.rank === 1 ? 0 : -2) : alias(gc);
    const g2 = sb.rank === 1 ? raw.unsqueeze(g1, -1) : alias(g1);
    try {
      let da: Tensor | null = null;
      let db: Tensor | null = null;
      if (na) {
        const bt = raw.transpose(b2);
        da = unpromoted(sumTo(raw.matmul(g2, bt), a2.shape), sa);
        bt.dispose();
      }
      if (nb) {
        const at = raw.transpose(a2);
        db = unpromoted(sumTo(raw.matmul(at, g2), b2.shape), sb);
        at.dispose();
      }
      return [da, db];
    } finally {
      for (const t of [a2, b2, gc, g1, g2]) t.dispose();
    }
  });
}

/** `pre` of a savePreActivation call is returned as computed but does not carry gradient. */
export function linear(x: Tensor, w: Tensor, bias?: Tensor | null, options?: LinearOptions & { savePreActivation?: false }): Tensor;
export function linear(x: Tensor, w: Tensor, bias: Tensor | null | undefined, options: LinearOptions & { savePreActivation: true }): LinearWithPre;
export function linear(x: Tensor, w: Tensor, bias: Tensor | null = null, options: LinearOptions = {}): Tensor | LinearWithPre {
  expectOptions('linear', options, LINEAR_OPTIONS); // before the spreads below
  const residual = options.residual ?? null;
  const wantPre = options.savePreActivation === true;
  if (!anyNeedsGrad(x, w, bias, residual))
    return wantPre ? raw.linear(x, w, bias, { ...options, savePreActivation: true }) : raw.linear(x, w, bias, { ...options, savePreActivation: false });
  const activation = options.activation ?? 'none';
  const needPre = activation !== 'none';
  let out: Tensor;
  let pre: Tensor | null = null;
  if (needPre || wantPre) ({ out, pre } = raw.linear(x, w, bias, { ...options, savePreActivation: true }));
  else out = raw.linear(x, w, bias, { ...options, savePreActivation: false });
  const sx = save(x);
  const sw = save(w);
  const sPre = needPre ? save(pre!) : null;
  if (pre && !wantPre) pre.dispose();
  const outFeatures = w.shape[0]!;
  const residualShape = residual?.shape ?? [];
  record('linear', out, [x, w, bias, residual], [sx, sw, ...(sPre ? [sPre] : [])], (g, [nx, nw, nb, nr]) => {
    const gPre = activation === 'gelu' ? raw.binary('gelu_grad', sPre!, g) : activation === 'relu' ? raw.binary('relu_grad', sPre!, g) : alias(g);
    const rows = raw.reshape(gPre, [-1, outFeatures]);
    try {
      let dx: Tensor | null = null;
      let dw: Tensor | null = null;
      let db: Tensor | null = null;
      if (nx) {
        const d = raw.matmul(gPre.rank === 1 ? rows : gPre, sw);
        dx = gPre.rank === 1 ? raw.reshape(d, sx.shape) : d;
        if (dx !== d) d.dispose();
      }
      if (nw) {
        const xRows = raw.reshape(sx, [-1, sx.shape[sx.rank - 1]!]);
        const rowsT = raw.transpose(rows);
        dw = raw.matmul(rowsT, xRows);
        xRows.dispose();
        rowsT.dispose();
      }
      if (nb) db = raw.sum(rows, 0);
      const dr = nr ? sumTo(alias(g), residualShape) : null;
      return [dx, dw, db, dr];
    } finally {
      gPre.dispose();
      rows.dispose();
    }
  });
  return wantPre ? { out, pre: pre! } : out;
}
