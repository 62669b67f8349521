/**
 * Makes WebGPU visible to the peer libraries. tfjs-backend-webgpu and jax-js look for `navigator.gpu`,
 * which Node lacks: there we install a Dawn instance (created with the same flags as our device, so all
 * engines run on the same adapter, and their waits are paced as ours) as `globalThis.navigator` BEFORE
 * either library is imported. In the browser the real `navigator.gpu` is used untouched.
 */
import { getGPU, isNode } from '../../engine/platform.js';
import { Unsupported } from '../harness.js';

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

/**
 * Imports a peer library. The peers are omnitensor's dev dependencies, so an installed omnitensor runs
 * the bench without them: a missing one makes its cases 'unsupported' with the install command, instead
 * of 'failed' with a module-resolution error.
 */
export async function importPeer<M>(load: () => Promise<M>, install: string): Promise<M> {
  try {
    return await load();
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') throw new Unsupported(`not installed: npm install ${install}`);
    throw err;
  }
}
