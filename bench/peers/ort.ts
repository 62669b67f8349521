/**
 * ONNX Runtime Web with its WebGPU execution provider as a peer. Each case describes its computation as
 * an ONNX graph (bench/peers/onnx.ts writes the model bytes); the runner makes one InferenceSession of
 * it, the way an ORT user ships a model, with ORT's default graph optimisations (its fusions included).
 *
 * Fairness: inputs are uploaded once into GPU buffers and fed as GPU tensors, and outputs stay on the GPU
 * (`preferredOutputLocation: 'gpu-buffer'`), as every engine here keeps its data on the device between
 * calls. A timed batch awaits `session.run` back to back (a session runs one call at a time), then reads
 * the last output back. Sessions are created with CPU fallback disabled, so a node the WebGPU provider
 * cannot run fails the variant instead of silently running on the CPU.
 *
 * Node specifics:
 *  - ORT's WebAssembly build keeps its heap in shared memory even with one thread, and Dawn's Node binding
 *    refuses views of a SharedArrayBuffer in `queue.writeBuffer` (browsers accept them). Before ORT loads,
 *    `writeBuffer` is wrapped once per process to copy such views into ordinary memory; any other
 *    argument passes through untouched.
 *  - ORT runs with one wasm thread: its WebGPU provider does its work on the GPU, and more threads would
 *    only take cores from lavapipe's workers (tfjs and jax-js are single-threaded too).
 *  - The first session run waits for V8 to finish optimising ORT's WebAssembly (35-45 s on the 2-core
 *    CI machine), so `loadOrt` runs one tiny session before any case is timed.
 */
import type * as ORT from 'onnxruntime-web';
import { isNode } from '../../engine/platform.js';
import { Unsupported, type Runner } from '../harness.js';
import { ensureNavigatorGpu, importPeer } from './gpu.js';
import { encodeModel, OnnxBuilder, type OnnxGraph } from './onnx.js';
import type { HostTensor } from './tfjs.js';

const ORT_VERSION = '1.30.0';

/** Where the browser page finds ORT's .wasm files (bench/web/serve.mjs serves its dist/ folder there). */
const ORT_WASM_URL = '/onnxruntime-web/';

/** Marks the GPUQueue prototype once its writeBuffer copies shared views (one wrap per process). */
const WRAPPED: unique symbol = Symbol.for('omnitensor.bench.writeBufferCopiesSharedViews');

export type Ort = typeof ORT;

let loading: Promise<Ort> | null = null;

/** Loads onnxruntime-web's WebGPU build and warms it up; Unsupported when it cannot start. */
export function loadOrt(dawnFlags: readonly string[] = []): Promise<Ort> {
  loading ??= (async () => {
    await ensureNavigatorGpu(dawnFlags);
    if (isNode) await copySharedViewsOnWrite();
    const ort = await importPeer(() => import('onnxruntime-web/webgpu'), `onnxruntime-web@${ORT_VERSION}`);
    ort.env.wasm.numThreads = 1;
    // Failures reach the report as the variant's reason; ORT's own log line would only repeat them.
    ort.env.logLevel = 'fatal';
    if (!isNode) ort.env.wasm.wasmPaths = ORT_WASM_URL;
    await warmUp(ort);
    return ort;
  })();
  return loading;
}

/** Wraps Dawn's queue.writeBuffer to copy SharedArrayBuffer views first (see the file comment). */
async function copySharedViewsOnWrite(): Promise<void> {
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Unsupported('no WebGPU adapter for onnxruntime-web');
  const device = await adapter.requestDevice();
  const queue = Object.getPrototypeOf(device.queue) as GPUQueue & { [WRAPPED]?: true };
  device.destroy();
  if (queue[WRAPPED]) return;
  const write = queue.writeBuffer;
  queue.writeBuffer = function (this: GPUQueue, buffer, offset, data, dataOffset = 0, size?) {
    if (!ArrayBuffer.isView(data) || !(data.buffer instanceof SharedArrayBuffer)) return write.call(this, buffer, offset, data, dataOffset, size);
    // Offsets and sizes count elements of a typed array and bytes of a DataView.
    const unit = 'BYTES_PER_ELEMENT' in data ? (data as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT : 1;
    const bytes = (size ?? data.byteLength / unit - dataOffset) * unit;
    const copy = new Uint8Array(bytes);
    copy.set(new Uint8Array(data.buffer, data.byteOffset + dataOffset * unit, bytes));
    return write.call(this, buffer, offset, copy, 0, bytes);
  };
  queue[WRAPPED] = true;
}

function sessionOptions(): ORT.InferenceSession.SessionOptions {
  return {
    executionProviders: ['webgpu'],
    logSeverityLevel: 4,
    preferredOutputLocation: 'gpu-buffer',
    extra: { session: { disable_cpu_ep_fallback: '1' } },
  };
}

async function warmUp(ort: Ort): Promise<void> {
  const graph = caseGraph([{ data: new Float32Array(4), shape: [4] }], (g, [x]) => g.op('Relu', [x!]));
  const session = await ort.InferenceSession.create(encodeModel(graph), { executionProviders: ['webgpu'] });
  try {
    await session.run({ x0: new ort.Tensor('float32', new Float32Array(4), [4]) });
  } finally {
    await session.release();
  }
}

/** Builds a case's graph: `xs` are the names of its inputs, the result names its output(s), the first validated. */
export type OrtGraphBuilder = (b: OnnxBuilder, xs: readonly string[]) => string | readonly string[];

/** The model of a case: graph inputs named x0, x1, ... with the case inputs' shapes. */
function caseGraph(inputs: readonly HostTensor[], build: OrtGraphBuilder): OnnxGraph {
  const b = new OnnxBuilder();
  const names = inputs.map((_, i) => `x${i}`);
  const outputs = [build(b, names)].flat();
  return { inputs: inputs.map((h, i) => ({ name: names[i]!, shape: h.shape })), outputs, nodes: b.nodes, constants: b.constants };
}

/** A session of a case graph whose inputs live in GPU buffers. */
export interface OrtGraphSession {
  /** One session.run: the graph outputs in order, left on the GPU (the caller disposes them). */
  run(): Promise<ORT.Tensor[]>;
  dispose(): void;
}

/** Creates the session of the graph `build` makes over `inputs` and uploads the inputs once. */
export async function openOrtGraph(inputs: readonly HostTensor[], build: OrtGraphBuilder): Promise<OrtGraphSession> {
  const ort = await loadOrt();
  const graph = caseGraph(inputs, build);
  const session = await ort.InferenceSession.create(encodeModel(graph), sessionOptions()).catch((err: unknown) => {
    throw new Unsupported(`onnxruntime-web cannot run this graph on WebGPU: ${err instanceof Error ? err.message : String(err)}`);
  });
  const device = await ort.env.webgpu.device;
  const buffers: GPUBuffer[] = [];
  const feeds: Record<string, ORT.Tensor> = {};
  graph.inputs.forEach((spec, i) => {
    const h = inputs[i]!;
    // ORT's kernels bind whole 16-byte units (a 1-element input needs a 16-byte buffer).
    const buffer = device.createBuffer({ size: Math.ceil(Math.max(1, h.data.byteLength) / 16) * 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(buffer, 0, new Float32Array(h.data));
    buffers.push(buffer);
    feeds[spec.name] = ort.Tensor.fromGpuBuffer(buffer, { dataType: 'float32', dims: spec.shape });
  });
  return {
    async run() {
      const out = await session.run(feeds);
      return graph.outputs.map((name) => out[name]!);
    },
    dispose() {
      for (const b of buffers) b.destroy();
      void session.release();
    },
  };
}

/** A runner for the graph `build` makes over `inputs`; the first graph output is validated and read back. */
export async function ortRunner(
  inputs: readonly HostTensor[],
  build: OrtGraphBuilder,
  toCanonical: (out: Float32Array) => ArrayLike<number> = (out) => out,
): Promise<Runner> {
  const graph = await openOrtGraph(inputs, build);
  let last: ORT.Tensor[] = [];
  const release = () => {
    for (const t of last) t.dispose();
    last = [];
  };
  const lastOutput = (): ORT.Tensor => {
    if (!last[0]) throw new Error('ort runner: no result before run()');
    return last[0];
  };
  return {
    async run(iterations) {
      for (let i = 0; i < iterations; i++) {
        release();
        last = await graph.run();
      }
    },
    async sync() {
      await lastOutput().getData();
    },
    async result() {
      return toCanonical((await lastOutput().getData()) as Float32Array);
    },
    dispose() {
      release();
      graph.dispose();
    },
  };
}
