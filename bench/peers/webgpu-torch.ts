/**
 * webgpu-torch 0.3.5 (a PyTorch-style tensor library on WebGPU) as a peer. It has no fused or batched
 * ops: 2-D `mm`, elementwise ops on same-shape tensors, whole-tensor reductions, and an unpadded stride-1
 * conv2d. Its cases are the ones those can express without host work in the timed loop: the 2-D GEMMs,
 * the sum of all elements, the AdamW step as elementwise ops, and the overhead cases.
 *
 * Every op submits its own command buffer at once and returns a tensor owning a new GPU buffer; the
 * library frees nothing by itself. The runner destroys each call's outputs before the next call, and a
 * composition destroys its intermediates (`temporaries`). Reading a result copies it into a fresh
 * MAP_READ buffer (the library's `mapReadAsync`): the runner reads its raw f32 values rather than
 * `toArrayAsync`'s nested JS arrays, so host-side array building is not counted against it.
 */
import { Unsupported, type Runner } from '../harness.js';
import { ensureNavigatorGpu, importPeer } from './gpu.js';
import type { HostTensor } from './tfjs.js';

/** The package and version the bench pins (package.json); webgpu-torch exports no version of its own, so the report records this one. */
export const WEBGPU_TORCH_INSTALL = 'webgpu-torch@0.3.5';

/**
 * The part of webgpu-torch's API the bench calls. Declared here because the package's own .d.ts files
 * reference a types package ('dist') that it does not ship.
 */
export interface WtTensor {
  readonly shape: readonly number[];
  readonly storage: {
    mapReadAsync(): Promise<void>;
    getTypedArray(dtype: 'float32'): Float32Array;
    destroy(): void;
  };
  withShape(shape: number[], strides: number[]): WtTensor;
  mm(other: WtTensor): WtTensor;
  add(other: WtTensor): WtTensor;
  sub(other: WtTensor): WtTensor;
  mul(other: WtTensor): WtTensor;
  div(other: WtTensor): WtTensor;
  sqrt(): WtTensor;
  square(): WtTensor;
  sum(): WtTensor;
}

export interface WebgpuTorch {
  initWebGPUAsync(): Promise<boolean>;
  tensor(data: number[], dtype: 'float32', device: 'webgpu'): WtTensor;
}

let loading: Promise<WebgpuTorch> | null = null;

/** Loads webgpu-torch and opens its WebGPU device; Unsupported when it finds none. */
export function loadWebgpuTorch(dawnFlags: readonly string[] = []): Promise<WebgpuTorch> {
  loading ??= (async () => {
    await ensureNavigatorGpu(dawnFlags);
    const mod = await importPeer(() => import('webgpu-torch'), WEBGPU_TORCH_INSTALL);
    // A CommonJS package: Node's ESM loader and esbuild both put module.exports on `default`.
    const torch = ((mod as { default?: unknown }).default ?? mod) as WebgpuTorch;
    // initWebGPUAsync logs the whole GPUDevice object with console.log; the bench prints its own adapter line.
    const log = console.log;
    console.log = () => {};
    try {
      if (!(await torch.initWebGPUAsync())) throw new Unsupported('webgpu-torch found no WebGPU adapter');
    } finally {
      console.log = log;
    }
    return torch;
  })();
  return loading;
}

/**
 * Elements per workgroup of webgpu-torch's elementwise kernels and of its sum. It launches them as
 * ceil(n / that) workgroups along x alone (read off its dispatches: an add of 4M elements asks for
 * 524,288), so WebGPU's limit of 65,535 workgroups per grid dimension caps the tensors it can take.
 */
export const WT_ELEMENTWISE_PER_WORKGROUP = 8;
export const WT_SUM_PER_WORKGROUP = 64;

/** Why webgpu-torch cannot run a kernel over `n` elements (its dispatch would be invalid), or undefined when it can. */
export function wtDispatchLimit(n: number, perWorkgroup: number): string | undefined {
  const groups = Math.ceil(n / perWorkgroup);
  if (groups <= 65535) return undefined;
  return `webgpu-torch 0.3.5 launches ${groups} workgroups along x for ${n} elements (one per ${perWorkgroup}); WebGPU allows 65535 per dimension, so the dispatch is invalid`;
}

/** Uploads a host tensor as a contiguous webgpu-torch tensor (the library takes plain arrays). */
export function uploadWt(torch: WebgpuTorch, h: HostTensor): WtTensor {
  const strides = h.shape.map((_, d) => h.shape.slice(d + 1).reduce((n, s) => n * s, 1));
  return torch.tensor(Array.from(h.data), 'float32', 'webgpu').withShape([...h.shape], strides);
}

/** A tensor filled with `value` in the shape of `like`: the library's binary ops take no scalars and do not broadcast. */
export function filledWt(torch: WebgpuTorch, like: HostTensor, value: number): WtTensor {
  return uploadWt(torch, { data: new Float32Array(like.data.length).fill(value), shape: like.shape });
}

/** The f32 values of `t`, read back through a MAP_READ copy. */
export async function readWt(t: WtTensor): Promise<Float32Array> {
  await t.storage.mapReadAsync();
  const count = t.shape.reduce((n, d) => n * d, 1);
  return t.storage.getTypedArray('float32').slice(0, count);
}

/**
 * What a composition hands its runner: `keep` marks an intermediate for destruction once the call's
 * outputs are enqueued (a buffer destroyed after its work was submitted lives until that work is done).
 */
export type WtTemporaries = <T extends WtTensor>(t: T) => T;

/**
 * A runner for `op` over the uploaded `inputs` (plus `constants`, uploaded once, after them). Each call's
 * outputs are destroyed before the next call; the first output is validated and read back.
 */
export async function webgpuTorchRunner(
  inputs: readonly HostTensor[],
  op: (xs: readonly WtTensor[], keep: WtTemporaries) => WtTensor | WtTensor[],
  options: { constants?: (torch: WebgpuTorch) => WtTensor[]; toCanonical?: (out: Float32Array) => ArrayLike<number> } = {},
): Promise<Runner> {
  const torch = await loadWebgpuTorch();
  const xs = [...inputs.map((h) => uploadWt(torch, h)), ...(options.constants?.(torch) ?? [])];
  let last: WtTensor[] = [];
  const destroy = (ts: readonly WtTensor[]) => {
    for (const t of ts) t.storage.destroy();
  };
  return {
    run(iterations) {
      for (let i = 0; i < iterations; i++) {
        destroy(last);
        const temporaries: WtTensor[] = [];
        last = [op(xs, (t) => (temporaries.push(t), t))].flat();
        destroy(temporaries);
      }
    },
    async sync() {
      if (last[0]) await readWt(last[0]);
    },
    async result() {
      if (!last[0]) throw new Error('webgpu-torch runner: result() before run()');
      const out = await readWt(last[0]);
      return options.toCanonical ? options.toCanonical(out) : out;
    },
    dispose() {
      destroy(last);
      destroy(xs);
    },
  };
}
