/**
 * Makes WebGPU visible to the peer libraries. tfjs-backend-webgpu and jax-js look for `navigator.gpu`,
 * which Node lacks: there we install a Dawn instance (created with the same flags as our device, so all
 * engines run on the same adapter, and their waits are paced as ours) as `globalThis.navigator` BEFORE
 * either library is imported. In the browser the real `navigator.gpu` is used untouched.
 */
import { getGPU, isNode } from '../../engine/platform.js';

let installed: Promise<void> | null = null;

export function ensureNavigatorGpu(dawnFlags: readonly string[]): Promise<void> {
  installed ??= (async () => {
    if (!isNode) return;
    // The navigator keeps the Dawn instance alive: collecting it would destroy the peers' devices.
    const gpu = await getGPU(dawnFlags);
    Object.defineProperty(globalThis, 'navigator', {
      value: { gpu, userAgent: 'node' },
      configurable: true,
      writable: true,
    });
  })();
  return installed;
}
