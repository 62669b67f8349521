/**
 * Fixed costs, in ms per operation (wall clock only: they are host-side costs):
 *  - dispatch: a 1-element add, many back-to-back calls, one readback at the end;
 *  - readback: a 1024-element add followed by reading its 4 KiB, awaited each time (round-trip latency;
 *    large enough that no library computes it on the CPU instead);
 *  - pipeline compile: a shader never seen before (cold: Tint + driver compile) vs a cached pipeline,
 *    each followed by a sync. Ours only: the peers have no comparable public hook.
 */
import { mapBindings, mapLaunch } from '../../kernels/elementwise.js';
import * as ops from '../../engine/ops/index.js';
import { runtime } from '../../engine/runtime.js';
import { empty, type Tensor } from '../../engine/tensor.js';
import { sampledCheck, type BenchCase, type Runner } from '../harness.js';
import { loadJax } from '../peers/jax.js';
import { openOrtGraph } from '../peers/ort.js';
import { loadTfjs } from '../peers/tfjs.js';
import { filledWt, loadWebgpuTorch, readWt, uploadWt } from '../peers/webgpu-torch.js';
import { geluExact, host, variants } from './common.js';

export function dispatchCase(): BenchCase {
  return {
    name: 'dispatch cost (1-element add)',
    group: 'overhead',
    shape: '1 + 1',
    dtype: 'f32',
    minIterations: 500,
    async setup() {
      const a = { data: new Float32Array([1.5]), shape: [1] };
      const b = { data: new Float32Array([2.25]), shape: [1] };
      return {
        check: sampledCheck({ size: 1, expectedAt: () => 3.75, atol: 0, rtol: 0 }),
        variants: variants({
          inputs: [a, b],
          ours: { label: 'add', op: ([x, y]) => ops.add(x!, y!) },
          tfjs: { label: 'tf.add', op: (tf, [x, y]) => tf.add(x!, y!) },
          jax: { label: 'jit(np.add)', op: (jax, [x, y]) => jax.numpy.add(x!, y!) },
          ort: { label: 'session.run(Add)', graph: (g, [x, y]) => g.op('Add', [x!, y!]) },
          webgpuTorch: { label: 'add', op: ([x, y]) => x!.add(y!) },
        }),
      };
    },
  };
}

/** A runner whose every iteration computes x + 1 and awaits the result. */
function roundTrips(step: () => Promise<number>, dispose: () => void): Runner {
  let lastValue = NaN;
  return {
    async run(iterations) {
      for (let i = 0; i < iterations; i++) lastValue = await step();
    },
    async sync() {},
    async result() {
      return [lastValue];
    },
    dispose,
  };
}

const READBACK_ELEMENTS = 1024;
const half = () => new Float32Array(READBACK_ELEMENTS).fill(0.5);

export function readbackCase(): BenchCase {
  return {
    name: 'readback latency (add + read 4 KiB)',
    group: 'overhead',
    shape: String(READBACK_ELEMENTS),
    dtype: 'f32',
    wallOnly: true,
    maxIterations: 50,
    async setup() {
      return {
        check: sampledCheck({ size: 1, expectedAt: () => 1.5, atol: 0, rtol: 0 }),
        variants: [
          {
            engine: 'omnitensor',
            label: 'add + data()',
            primary: true,
            async create() {
              const x = ops.fromFlat(half(), [READBACK_ELEMENTS], 'f32');
              return roundTrips(
                async () => {
                  const y = ops.add(x, 1);
                  try {
                    return (await y.data())[0]!;
                  } finally {
                    y.dispose();
                  }
                },
                () => x.dispose(),
              );
            },
          },
          {
            engine: 'tfjs-webgpu',
            label: 'tf.add + data()',
            async create() {
              const tf = await loadTfjs();
              const x = tf.tensor(half());
              return roundTrips(
                async () => {
                  const y = tf.add(x, 1);
                  try {
                    return (await y.data())[0]!;
                  } finally {
                    y.dispose();
                  }
                },
                () => x.dispose(),
              );
            },
          },
          {
            engine: 'jax-js',
            label: 'np.add + data()',
            async create() {
              const jax = await loadJax();
              const x = jax.numpy.array(half());
              return roundTrips(async () => (await jax.numpy.add(x.ref, 1).data())[0]!, () => x.dispose());
            },
          },
          {
            engine: 'onnxruntime-web',
            label: 'session.run(Add) + getData()',
            async create() {
              const graph = await openOrtGraph([{ data: half(), shape: [READBACK_ELEMENTS] }], (g, [x]) => g.op('Add', [x!, g.scalar(1)]));
              return roundTrips(
                async () => {
                  const [y] = await graph.run();
                  try {
                    return ((await y!.getData()) as Float32Array)[0]!;
                  } finally {
                    y!.dispose();
                  }
                },
                () => graph.dispose(),
              );
            },
          },
          {
            engine: 'webgpu-torch',
            label: 'add + storage read',
            async create() {
              const torch = await loadWebgpuTorch();
              const like = { data: half(), shape: [READBACK_ELEMENTS] };
              const [x, one] = [uploadWt(torch, like), filledWt(torch, like, 1)];
              return roundTrips(
                async () => {
                  const y = x.add(one);
                  try {
                    return (await readWt(y))[0]!;
                  } finally {
                    y.storage.destroy();
                  }
                },
                () => [x, one].forEach((t) => t.storage.destroy()),
              );
            },
          },
        ],
      };
    },
  };
}

let salt = 0;

/**
 * Exact GELU through the real elementwise launcher. A cold launch adds a distinct tiny constant (far below
 * f32 resolution of the result) so the shader text, its SPIR-V and the driver's pipeline all differ:
 * nothing can be served from a cache.
 */
function compileCase(cold: boolean): BenchCase {
  const n = 4096;
  return {
    name: `pipeline compile ${cold ? 'cold' : 'cached'}`,
    group: 'overhead',
    shape: `gelu over ${n}`,
    dtype: 'f32',
    wallOnly: true,
    maxIterations: cold ? 8 : 50,
    async setup() {
      const x = host([n], 81, 3);
      return {
        check: sampledCheck({ size: n, expectedAt: (i) => geluExact(x.data[i]!), atol: 1e-4, rtol: 1e-4 }),
        variants: [
          {
            engine: 'omnitensor',
            label: cold ? 'new shader + dispatch + sync' : 'cached pipeline + dispatch + sync',
            primary: true,
            async create() {
              const input = ops.fromFlat(x.data, [n], 'f32');
              const out: Tensor = empty([n], 'f32', 'bench');
              const launchFor = (s: number) => {
                const expr = cold ? `gelu_f32(x) + ${s}e-37` : 'gelu_f32(x)';
                const operand = { dtype: 'f32' as const, strides: [1], offset: 0 };
                const launch = mapLaunch({ name: 'bench_gelu', expr, out: 'f32', widen: true, math: true }, [n], [operand]);
                return cold ? { ...launch, key: `${launch.key}#cold${s}` } : launch;
              };
              const rt = runtime('bench');
              return {
                async run(iterations) {
                  for (let i = 0; i < iterations; i++) {
                    rt.run(launchFor(++salt), mapBindings([input.storage().buffer], out.storage().buffer));
                    await rt.sync();
                  }
                },
                async sync() {},
                async result() {
                  return out.data();
                },
                dispose() {
                  input.dispose();
                  out.dispose();
                },
              };
            },
          },
        ],
      };
    },
  };
}

export const overheadCases = (): BenchCase[] => [dispatchCase(), readbackCase(), compileCase(true), compileCase(false)];
