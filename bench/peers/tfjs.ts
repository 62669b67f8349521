/**
 * TensorFlow.js with its WebGPU backend as a peer. Inputs are uploaded once; each iteration calls the
 * op inside `tf.tidy` (so compositions free their intermediates) and disposes the previous result(s);
 * with several outputs the first is validated and read back.
 */
import type * as TF from '@tensorflow/tfjs-core';
import { Unsupported, type Runner } from '../harness.js';
import { ensureNavigatorGpu, importPeer } from './gpu.js';

const TFJS_INSTALL = '@tensorflow/tfjs-core@4.22.0 @tensorflow/tfjs-backend-webgpu@4.22.0';

export type Tfjs = typeof TF;

let loading: Promise<Tfjs> | null = null;

/** Loads tfjs-core + tfjs-backend-webgpu and selects the webgpu backend; Unsupported when it cannot start. */
export function loadTfjs(dawnFlags: readonly string[] = []): Promise<Tfjs> {
  loading ??= (async () => {
    await ensureNavigatorGpu(dawnFlags);
    const tf = await importPeer(async () => {
      const core = await import('@tensorflow/tfjs-core');
      await import('@tensorflow/tfjs-backend-webgpu');
      return core;
    }, TFJS_INSTALL);
    if (!(await tf.setBackend('webgpu'))) throw new Unsupported('tfjs-backend-webgpu did not initialise on this adapter');
    // By default tfjs computes ops on tiny tensors on the CPU; every engine must run on the GPU here.
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    await tf.ready();
    return tf;
  })();
  return loading;
}

let gradients: Promise<void> | null = null;

/**
 * Registers TF.js's gradients, which tf.grads in the training cases needs: tfjs-core's bundles register
 * none, and importing the @tensorflow/tfjs umbrella registers all of them on the same tfjs-core instance.
 * Only those cases load it, so the forward cases do not depend on the umbrella.
 */
function loadTfjsGradients(): Promise<void> {
  gradients ??= importPeer(() => import('@tensorflow/tfjs'), '@tensorflow/tfjs@4.22.0').then(() => undefined);
  return gradients;
}

export interface HostTensor {
  data: Float32Array;
  shape: readonly number[];
}

/**
 * A runner for `op` over the uploaded `inputs`. `toCanonical` converts the host copy of the result to the
 * case's layout for validation (e.g. NHWC -> NCHW); timing never includes it. `gradients` loads TF.js's
 * gradient registrations first (ops that call tf.grads).
 */
export async function tfjsRunner(
  inputs: readonly HostTensor[],
  op: (tf: Tfjs, xs: readonly TF.Tensor[]) => TF.Tensor | TF.Tensor[],
  toCanonical: (out: Float32Array) => ArrayLike<number> = (out) => out,
  gradients = false,
): Promise<Runner> {
  const tf = await loadTfjs();
  if (gradients) await loadTfjsGradients();
  const xs = inputs.map((h) => tf.tensor(h.data, [...h.shape], 'float32'));
  let last: TF.Tensor[] = [];
  return {
    run(iterations) {
      for (let i = 0; i < iterations; i++) {
        tf.dispose(last);
        last = [tf.tidy(() => op(tf, xs))].flat();
      }
    },
    async sync() {
      await last[0]?.data();
    },
    async result() {
      if (!last[0]) throw new Error('tfjs runner: result() before run()');
      return toCanonical((await last[0].data()) as Float32Array);
    },
    dispose() {
      tf.dispose(last);
      tf.dispose([...xs]);
    },
  };
}
