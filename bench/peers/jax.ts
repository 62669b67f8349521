/**
 * jax-js on its WebGPU device as a peer. Ops run under `jit`, jax-js's own way of fusing a composition
 * into few kernels, so compositions are its best effort rather than a chain of eager calls. jax-js
 * arrays are reference counted and every call consumes its arguments: inputs are passed as `.ref`.
 *
 * jax-js evaluates lazily: a call returns pending arrays, and disposing one before it is realised drops
 * its work. So a timed batch keeps every call's outputs until `sync` has waited for all of them
 * (jax.blockUntilReady); disposing each previous output, as the other runners do, made 20 sums of 4M
 * elements cost 0.47 ms each instead of 5.0 ms (measured on lavapipe), i.e. most calls never ran.
 * Like every runner, `sync` then reads the last result back: waiting without the readback made
 * jax-js's large-output cases look up to 10x faster than the same work in the other engines (GELU
 * over 4096x3072 on an H100: 1.15 ms against 11 ms for ours and 22 ms for TF.js, each of which read
 * back its 48 MB).
 */
import type * as JAX from '@jax-js/jax';
import { Unsupported, type Runner } from '../harness.js';
import type { HostTensor } from './tfjs.js';
import { ensureNavigatorGpu, importPeer } from './gpu.js';

export type Jax = typeof JAX;
export type JaxArray = JAX.Array;

/** The package and version the bench pins (package.json); jax-js exports no version of its own, so the report records this one. */
export const JAX_INSTALL = '@jax-js/jax@0.1.25';

let loading: Promise<Jax> | null = null;

/** Loads jax-js and makes 'webgpu' its default device; Unsupported when WebGPU does not start. */
export function loadJax(dawnFlags: readonly string[] = []): Promise<Jax> {
  loading ??= (async () => {
    await ensureNavigatorGpu(dawnFlags);
    const jax = await importPeer(() => import('@jax-js/jax'), JAX_INSTALL);
    const devices = await jax.init('webgpu');
    if (!devices.includes('webgpu')) throw new Unsupported('jax-js found no WebGPU device');
    jax.defaultDevice('webgpu');
    return jax;
  })();
  return loading;
}

/**
 * A runner for `op` (jitted) over the uploaded `inputs`; `prepare` may lay inputs out as jax-js wants
 * (outside timing). If the op fails on its first call and `fallback` is given, the fallback runs instead
 * and the runner's note says why.
 */
export async function jaxRunner(
  inputs: readonly HostTensor[],
  op: (jax: Jax, xs: JaxArray[]) => JaxArray | JaxArray[],
  options: {
    prepare?: (jax: Jax, xs: JaxArray[]) => JaxArray[];
    toCanonical?: (out: Float32Array) => ArrayLike<number>;
    fallback?: { label: string; op: (jax: Jax, xs: JaxArray[]) => JaxArray | JaxArray[] };
  } = {},
): Promise<Runner> {
  const jax = await loadJax();
  const np = jax.numpy;
  let xs = inputs.map((h) => np.array(h.data).reshape([...h.shape]));
  if (options.prepare) xs = options.prepare(jax, xs);
  const compile = (f: (jax: Jax, xs: JaxArray[]) => JaxArray | JaxArray[]) => jax.jit((...args: JaxArray[]) => f(jax, args));
  let fn = compile(op);
  let note: string | undefined;
  const call = (): JaxArray[] => [fn(...xs.map((x) => x.ref))].flat();
  // Outputs of the calls since the last sync (all pending until then), and the last call's outputs.
  let pending: JaxArray[] = [];
  let last: JaxArray[] = [];
  const release = () => {
    for (const x of [...pending, ...last]) x.dispose();
    pending = [];
    last = [];
  };
  try {
    // data() consumes the array it reads.
    await Promise.all(call().map((x) => x.data()));
  } catch (err) {
    if (!options.fallback) throw err;
    note = `${options.fallback.label} (the library op failed here: ${err instanceof Error ? err.message : String(err)})`;
    fn = compile(options.fallback.op);
  }
  return {
    get note() {
      return note;
    },
    run(iterations) {
      release();
      for (let i = 0; i < iterations; i++) {
        pending.push(...last);
        last = call();
      }
    },
    async sync() {
      await jax.blockUntilReady([...pending, ...last]);
      for (const x of pending) x.dispose();
      pending = [];
      if (last[0]) await last[0].ref.data();
    },
    async result() {
      if (!last[0]) throw new Error('jax-js runner: result() before run()');
      const out = (await last[0].ref.data()) as Float32Array;
      return options.toCanonical ? options.toCanonical(out) : out;
    },
    dispose() {
      release();
      for (const x of xs) x.dispose();
    },
  };
}
