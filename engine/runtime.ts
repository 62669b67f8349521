/**
 * The GPU runtime: adapter and device setup, the pipeline cache, and the command scheduler.
 *
 * Scheduling. Dispatches are recorded into one open compute pass of one command encoder and submitted
 * in batches: when a readback needs results, when `flushEvery` dispatches are pending, or when the
 * uniform arena is full. Each dispatch's uniforms are staged in a CPU copy of a 256-byte-aligned arena
 * and uploaded with one `writeBuffer` right before the batch is submitted, so per-dispatch cost is one
 * bind group and three encoder calls. Bind groups are not cached: the uniform offset differs per dispatch,
 * and dynamic offsets would need explicit bind group layouts (with each binding's access mode) instead of
 * 'auto'. Pipelines are cached by the launch key (shader text + entry point),
 * so shapes never cause recompiles: they travel in the uniforms.
 */
import type { AdapterClass, Launch } from '../kernels/launch.js';
import { BufferPool, bucketSize } from './buffer-pool.js';
import { ArgumentError, DeviceError, DeviceLostError, OmniError } from './errors.js';
import { getGPU, isNode, noAdapterHint } from './platform.js';

export interface InitOptions {
  /** Adapter preference passed to `requestAdapter`. */
  powerPreference?: GPUPowerPreference;
  /** Node only: flags for Dawn's `create()`, e.g. `['enable-dawn-features=allow_unsafe_apis']`. */
  dawnFlags?: string[];
  /**
   * Node only: how long each wait on Dawn polls back to back before its polls are spaced by 1 ms timers
   * (default 1 ms; Infinity keeps Dawn's busy loop, which holds a CPU core for the whole wait). See
   * `paceDawnPolls` in engine/platform.ts; the OMNI_DAWN_SPIN_MS environment variable overrides it.
   */
  dawnSpinMs?: number;
  /** Features that must exist (init fails otherwise). shader-f16, subgroups and timestamp-query are always requested when present. */
  requiredFeatures?: GPUFeatureName[];
  /** Optional features to leave off even when present (to exercise fallbacks). */
  disableFeatures?: string[];
  /** Use this device instead of creating one (e.g. to share a device with a renderer). */
  device?: GPUDevice;
  /** Submit after this many recorded dispatches even without a readback (default 128). */
  flushEvery?: number;
}

export type { AdapterClass };

export interface DeviceInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** 'cpu' for software rasterizers (lavapipe, SwiftShader, WARP): kernels pick tiles accordingly. */
  adapterClass: AdapterClass;
  platform: 'node' | 'browser';
  features: string[];
  limits: Record<string, number>;
  /**
   * The device can run 16x16x16 subgroup-matrix products of f16 into f32: the feature
   * chromium-experimental-subgroup-matrix is enabled and the adapter lists that configuration.
   */
  subgroupMatrixF16: boolean;
}

const OPTIONAL_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query', 'chromium-experimental-subgroup-matrix'];
const PARAM_ALIGN = 256;
const ARENA_BYTES = 1 << 18;

/** An error the GPU reported asynchronously (shader compile or validation), surfaced at the next readback. */
export class GPUValidationError extends OmniError {}

function classify(info: GPUAdapterInfo): AdapterClass {
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return /llvmpipe|lavapipe|swiftshader|warp|software|cpu/.test(text) ? 'cpu' : 'gpu';
}

function limitsRecord(limits: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  // GPUSupportedLimits keeps its fields on the prototype, so walk it rather than Object.keys.
  for (let o: object | null = limits; o && o !== Object.prototype; o = Object.getPrototypeOf(o))
    for (const k of Object.getOwnPropertyNames(o)) {
      const v = (limits as unknown as Record<string, unknown>)[k];
      if (typeof v === 'number') out[k] = v;
    }
  return out;
}

interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

/**
 * Whether an adapter info lists an f16 x f16 -> f32 16x16x16 subgroup-matrix configuration. Dawn for
 * Node fills `subgroupMatrixConfigs` on the adapter's info, not on the device's `adapterInfo`.
 */
function hasF16MatrixConfig(...infos: (GPUAdapterInfo | undefined)[]): boolean {
  const configs = infos.flatMap((i) => [...((i as { subgroupMatrixConfigs?: readonly SubgroupMatrixConfig[] } | undefined)?.subgroupMatrixConfigs ?? [])]);
  // Dawn's config objects keep their fields as getters: read them one by one (spreading gives {}).
  return configs.some((c) => c.componentType === 'f16' && c.resultComponentType === 'f32' && c.M === 16 && c.N === 16 && c.K === 16);
}

export class Runtime {
  readonly pool: BufferPool;
  readonly features: ReadonlySet<string>;
  readonly info: DeviceInfo;
  /** Incremented per runtime so tensors from a lost device can be recognised. */
  readonly generation: number;
  /**
   * The adapter's subgroup width when it is fixed (min == max), else undefined. Kernels that lay out work
   * per lane (the 'lanes' GEMM and attention kernels) need a known width.
   */
  readonly fixedSubgroupSize: number | undefined;

  private lostError: DeviceLostError | null = null;
  private firstError: GPUValidationError | null = null;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  /** Bind group layout 0 per pipeline: `getBindGroupLayout` builds a new wrapper object on every call. */
  private readonly layouts = new WeakMap<GPUComputePipeline, GPUBindGroupLayout>();
  private readonly pendingReads = new Set<(e: Error) => void>();
  private readonly stagingFree = new Map<number, GPUBuffer[]>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pendingDispatches = 0;
  private readonly arena: GPUBuffer;
  private readonly arenaStaging = new Uint8Array(ARENA_BYTES);
  private arenaUsed = 0;
  private readonly flushEvery: number;
  private dispatchCount = 0;

  /**
   * `gpu` is held only to keep it alive: under Dawn for Node, garbage-collecting the GPU instance
   * destroys the native instance under a live device, which crashes the process at a random later point.
   */
  constructor(
    readonly device: GPUDevice,
    info: DeviceInfo,
    generation: number,
    flushEvery: number,
    private readonly gpu: GPU | null,
  ) {
    this.info = info;
    this.generation = generation;
    const adapter = (device as { adapterInfo?: GPUAdapterInfo }).adapterInfo;
    const minSize = adapter?.subgroupMinSize;
    this.fixedSubgroupSize = minSize !== undefined && minSize === adapter?.subgroupMaxSize ? minSize : undefined;
    this.features = new Set(info.features);
    this.pool = new BufferPool(device);
    this.flushEvery = flushEvery;
    this.arena = device.createBuffer({ size: ARENA_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    device.lost.then((lost) => this.markLost(`${lost.reason}: ${lost.message}`));
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.firstError ??= new GPUValidationError(`GPU error: ${ev.error.message}`);
    };
  }

  get lost(): boolean {
    return this.lostError !== null;
  }

  /** Throws if the device is gone; every op calls this before recording work. */
  checkAlive(op: string): void {
    if (this.lostError) throw new DeviceLostError(`${op}: ${this.lostError.message}`);
  }

  private markLost(reason: string): void {
    if (this.lostError) return;
    this.lostError = new DeviceLostError(`the GPU device was lost (${reason}); call init() to create a new one`);
    for (const reject of this.pendingReads) reject(this.lostError);
    this.pendingReads.clear();
    this.encoder = null;
    this.pass = null;
  }

  /** Total dispatches recorded since the runtime started (for tests and overhead benchmarks). */
  get dispatches(): number {
    return this.dispatchCount;
  }

  pipeline(launch: Pick<Launch, 'key' | 'code' | 'entryPoint' | 'constants'>): GPUComputePipeline {
    let p = this.pipelines.get(launch.key);
    if (!p) {
      const module = this.device.createShaderModule({ code: typeof launch.code === 'string' ? launch.code : launch.code(), label: launch.key });
      p = this.device.createComputePipeline({
        layout: 'auto',
        label: launch.key,
        compute: { module, entryPoint: launch.entryPoint, ...(launch.constants ? { constants: { ...launch.constants } } : {}) },
      });
      this.pipelines.set(launch.key, p);
    }
    return p;
  }

  get pipelineCount(): number {
    return this.pipelines.size;
  }

  private openPass(): GPUComputePassEncoder {
    if (!this.pass) {
      this.encoder ??= this.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass();
    }
    return this.pass;
  }

  /** Records one dispatch. `buffers[i]` binds to `@binding(i + 1)`. */
  run(launch: Launch, buffers: readonly GPUBuffer[]): void {
    this.checkAlive(launch.key);
    const bytes = launch.params.byteLength;
    if (this.arenaUsed + bytes > ARENA_BYTES) this.flush();
    const offset = this.arenaUsed;
    this.arenaStaging.set(new Uint8Array(launch.params), offset);
    this.arenaUsed = Math.ceil((offset + bytes) / PARAM_ALIGN) * PARAM_ALIGN;

    const pipeline = this.pipeline(launch);
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.arena, offset, size: bytes } }];
    buffers.forEach((buffer, i) => entries.push({ binding: i + 1, resource: { buffer } }));
    let layout = this.layouts.get(pipeline);
    if (!layout) {
      layout = pipeline.getBindGroupLayout(0);
      this.layouts.set(pipeline, layout);
    }
    const bindGroup = this.device.createBindGroup({ layout, entries });
    const pass = this.openPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(launch.workgroups[0], launch.workgroups[1], launch.workgroups[2]);
    this.dispatchCount++;
    if (++this.pendingDispatches >= this.flushEvery) this.flush();
  }

  /** Records a buffer-to-buffer copy (ends the open compute pass). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.checkAlive('copy');
    this.pass?.end();
    this.pass = null;
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.pendingDispatches++;
  }

  /**
   * Uploads bytes into a buffer. `writeBuffer` takes effect before any *unsubmitted* work, so pending
   * commands (which may still read this buffer's previous contents) are submitted first.
   */
  write(buffer: GPUBuffer, offset: number, data: ArrayBufferView): void {
    this.checkAlive('write');
    if (this.pendingDispatches > 0) this.flush();
    this.device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (this.lostError || !this.encoder) return;
    this.pass?.end();
    this.pass = null;
    if (this.arenaUsed > 0) this.device.queue.writeBuffer(this.arena, 0, this.arenaStaging, 0, this.arenaUsed);
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.arenaUsed = 0;
    this.pendingDispatches = 0;
  }

  /** Copies `bytes` from `buffer` into a mappable staging buffer and returns them once the GPU is done. */
  async read(buffer: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    this.checkAlive('read');
    const copyBytes = Math.ceil(Math.max(bytes, 4) / 4) * 4;
    const size = bucketSize(copyBytes);
    // Mappable staging buffers are reused: creating and destroying one per readback costs Dawn more
    // than the copy itself for small reads.
    const staging =
      this.stagingFree.get(size)?.pop() ??
      this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.copy(buffer, offset, staging, 0, copyBytes);
    this.flush();
    let rejectRead: (e: Error) => void = () => {};
    let reusable = false;
    const lost = new Promise<never>((_, reject) => {
      rejectRead = reject;
      this.pendingReads.add(reject);
    });
    try {
      await Promise.race([staging.mapAsync(GPUMapMode.READ), lost]);
      if (this.firstError) {
        const err = this.firstError;
        this.firstError = null;
        throw err;
      }
      const out = staging.getMappedRange().slice(0, bytes);
      staging.unmap();
      reusable = true;
      return out;
    } catch (err) {
      // Chromium rejects mapAsync on a destroyed device (AbortError) before the device's `lost` promise
      // settles; nothing else aborts our private staging buffer, so give the loss notice a moment to
      // arrive and report DeviceLostError rather than the abort.
      if (!this.lostError && !(err instanceof OmniError))
        await Promise.race([this.device.lost, new Promise((resolve) => setTimeout(resolve, 200))]);
      if (this.lostError) throw this.lostError;
      throw err;
    } finally {
      this.pendingReads.delete(rejectRead);
      if (reusable) {
        const list = this.stagingFree.get(size);
        if (list) list.push(staging);
        else this.stagingFree.set(size, [staging]);
      } else staging.destroy();
    }
  }

  /** Waits until all submitted work has finished (and surfaces asynchronous GPU errors). */
  async sync(): Promise<void> {
    this.flush();
    this.checkAlive('sync');
    await this.device.queue.onSubmittedWorkDone();
    this.checkAlive('sync');
    if (this.firstError) {
      const err = this.firstError;
      this.firstError = null;
      throw err;
    }
  }

  destroy(): void {
    this.pool.clear();
    this.device.destroy();
  }
}

let current: Runtime | null = null;
let generation = 0;

/**
 * Creates the GPU device. Node loads Dawn through the `webgpu` package; browsers use `navigator.gpu`.
 * Requests the adapter's maximum buffer and workgroup-storage limits and the optional features
 * shader-f16, subgroups and timestamp-query where present. Calling it again replaces the device.
 */
export async function init(options: InitOptions = {}): Promise<DeviceInfo> {
  const spinMs = options.dawnSpinMs;
  if (spinMs !== undefined && !(spinMs >= 0)) throw new ArgumentError(`init: dawnSpinMs must be a number >= 0 or Infinity, got ${spinMs}`);
  if (current && !current.lost) current.destroy();
  current = null;
  let device = options.device;
  let adapterInfo: GPUAdapterInfo | undefined = device?.adapterInfo;
  let gpu: GPU | null = null;
  if (!device) {
    gpu = await getGPU(options.dawnFlags, options.dawnSpinMs);
    const adapter = await gpu.requestAdapter(options.powerPreference ? { powerPreference: options.powerPreference } : undefined);
    if (!adapter) throw new DeviceError(`init: no WebGPU adapter found. ${noAdapterHint()}`);
    const skip = new Set(options.disableFeatures ?? []);
    const wanted = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f) && !skip.has(f));
    for (const f of options.requiredFeatures ?? [])
      if (!adapter.features.has(f)) throw new DeviceError(`init: the adapter lacks required feature '${f}'`);
    const requiredFeatures = [...new Set([...wanted, ...(options.requiredFeatures ?? [])])] as GPUFeatureName[];
    const l = adapter.limits;
    device = await adapter.requestDevice({
      requiredFeatures,
      requiredLimits: {
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxBufferSize: l.maxBufferSize,
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
        maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
        maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      },
    });
    adapterInfo = adapter.info;
  }
  const ai = adapterInfo ?? ({ vendor: '', architecture: '', device: '', description: '' } as GPUAdapterInfo);
  const info: DeviceInfo = {
    vendor: ai.vendor,
    architecture: ai.architecture,
    device: ai.device,
    description: ai.description,
    adapterClass: classify(ai),
    platform: isNode ? 'node' : 'browser',
    features: [...device.features].sort(),
    limits: limitsRecord(device.limits),
    subgroupMatrixF16: device.features.has('chromium-experimental-subgroup-matrix') && hasF16MatrixConfig(adapterInfo, device.adapterInfo),
  };
  current = new Runtime(device, info, ++generation, options.flushEvery ?? 128, gpu);
  return info;
}

/** The active runtime; throws a clear error before `init()` or after the device was lost. */
export function runtime(op = 'runtime'): Runtime {
  if (!current) throw new DeviceError(`${op}: no GPU device; call 'await init()' first`);
  current.checkAlive(op);
  return current;
}

/** Adapter, features and limits of the active device. */
export function deviceInfo(): DeviceInfo {
  return runtime('deviceInfo').info;
}

/** The underlying GPUDevice, for interop (sharing buffers with rendering code). */
export function gpuDevice(): GPUDevice {
  return runtime('gpuDevice').device;
}

/** True when the adapter supports f16 storage and arithmetic in shaders. */
export function hasF16(): boolean {
  return runtime('hasF16').features.has('shader-f16');
}

/** Submits recorded work and waits for the GPU to finish it. */
export async function sync(): Promise<void> {
  await runtime('sync').sync();
}
