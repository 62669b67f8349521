/**
 * conv1d/conv2d/conv3d backward: the engine's implicit-GEMM gradient kernels, asked only for the gradients
 * that some input needs.
 */
import * as raw from '../../engine/ops/index.js';
import type { ConvOptions } from '../../engine/ops/conv.js';
import type { Tensor } from '../../engine/tensor.js';
import { anyNeedsGrad, record, save } from '../tape.js';

type Forward = (x: Tensor, w: Tensor, bias?: Tensor | null, opts?: ConvOptions) => Tensor;
type Backward = typeof raw.conv2dBackward;

function conv(name: string, forward: Forward, backward: Backward): Forward {
  return (x, w, bias = null, opts = {}) => {
    const out = forward(x, w, bias, opts);
    if (!anyNeedsGrad(x, w, bias)) return out;
    const sx = save(x);
    const sw = save(w);
    return record(name, out, [x, w, bias], [sx, sw], (g, [nx, nw, nb]) => {
      const { dx, dw, db } = backward(g, sx, sw, opts, { needInput: nx, needWeight: nw, needBias: nb });
      return [dx, dw, db];
    });
  };
}

export const conv1d = conv('conv1d', raw.conv1d, raw.conv1dBackward);
export const conv2d = conv('conv2d', raw.conv2d, raw.conv2dBackward);
export const conv3d = conv('conv3d', raw.conv3d, raw.conv3dBackward);
