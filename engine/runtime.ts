/**
 * The GPU runtime: adapter and device setup, the pipeline cache, and the command scheduler.
 *
 * Scheduling. Dispatches are recorded into one open compute pass of one command encoder and submitted
 * in batches: when a readback needs results, when `flushEvery` dispatches are pending, or when the
 * uniform heap must be recycled. Pipelines are cached by the launch key (shader text + entry point), so
 * shapes never cause recompiles: they travel in the uniforms.
 *
 * Uniforms and bind groups. Each distinct uniform block (a launch's `params` bytes) is written once into
 * a 256-byte slot of one uniform heap and keeps that slot, new slots reaching the GPU with one
 * `writeBuffer` right before the batch that first uses them. A dispatch's bind group is then fully named
 * by (pipeline, uniform slot, storage buffers), and is built once and reused: shapes repeat across the
 * steps of a training loop and the layers of a model, and the pool often hands the same buffers back.
 * `createBindGroup` was the largest host cost of a dispatch (~18 of ~28 us under Dawn on lavapipe; a
 * repeated 1-element add now costs ~20 us of CPU instead of ~38). Measured on the main job's image and
 * tabular runs: 67,000 dispatches, 32,345 bind groups built (30,149 with the earlier 32,768-entry
 * cache). The heap and the bind-group cache are emptied together when the heap is full (after
 * submitting the work that reads the old slots), and the bind groups when the pool frees its buffers.
 *
 * Why the number of live bind groups is bounded: lavapipe (Mesa 25) backs every descriptor set with a
 * memory mapping of its own, and Linux caps a process at 65,530 mappings (vm.max_map_count). WebGPU
 * has no destroy() for bind groups: a dropped one lives until V8 collects its wrapper, and V8, seeing
 * only the wrapper's few bytes, may not do so for a long time. With a 32,768-entry cache, a CI test
 * process reached ~64,000 mappings and died with SIGSEGV in lavapipe's vkCreateDescriptorPool (a failed
 * mmap). So the cache holds MAX_BIND_GROUPS, and dropping a large cache also runs a garbage collection
 * where the platform offers one (Node: `garbageCollector`), which frees the dropped bind groups at once.
 * The modality end-to-end test now peaks at ~14,600 mappings (36,000 before); the main job's image and
 * tabular runs force 3 collections, 53 ms in all. Binding the uniform block with a dynamic offset
 * instead (bind groups named by buffers alone) built only 16% fewer (27,313) and made every dispatch
 * cost lavapipe ~60 us more of GPU time (a 1-element add: 20 -> 82 us), so slots stay in the key.
 */
import type { AdapterClass, Launch } from '../kernels/launch.js';
import type { AttentionTuningEntry } from '../kernels/attention.js';
import type { MatmulTuningEntry } from '../kernels/matmul.js';
import { expectOptions, optionKeys } from './arguments.js';
import { BufferPool, bucketSize } from './buffer-pool.js';
import { ArgumentError, DeviceError, DeviceLostError, OmniError } from './errors.js';
import { garbageCollector, getGPU, isNode, noAdapterHint } from './platform.js';
import { DispatchProfiler, type KernelTime } from './profiler.js';

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
  /**
   * Pick kernels, tiles and splits as for this adapter class instead of the one the adapter's info gives
   * (tests run the GPU choices on a CPU adapter this way; they are slow there, not wrong).
   */
  adapterClass?: AdapterClass;
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
/** minUniformBufferOffsetAlignment's largest allowed value: uniform slots start on this boundary. */
const PARAM_ALIGN = 256;
/** 4096 slots of up to 256 bytes (the main job's image + tabular runs use 1,779). */
const HEAP_BYTES = 1 << 20;
/**
 * Cached bind groups before the cache starts over: each holds its buffers alive and, on lavapipe, a
 * memory mapping (see the header), so the cache stays far below the process's 65,530 mappings even
 * with a full cache's worth of dropped ones not yet collected.
 */
const MAX_BIND_GROUPS = 8192;
/** Dropping at least this many bind groups runs a garbage collection (a full one takes ~10 ms or more). */
const COLLECT_AFTER_DROPPING = 1024;

interface CompiledPipeline {
  readonly pipeline: GPUComputePipeline;
  /** Bind group layout 0 ('auto'); `getBindGroupLayout` builds a new wrapper object on every call. */
  readonly layout: GPUBindGroupLayout;
  /** Small integer naming the pipeline in bind-group cache keys. */
  readonly id: number;
}

/** A uniform block written into the heap: its words (to tell hash collisions apart) and its offset. */
interface ParamsSlot {
  readonly words: Uint32Array;
  readonly offset: number;
}

/** FNV-1a over 32-bit words: params are a multiple of 16 bytes. */
function hashWords(words: Uint32Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i]!, 0x01000193);
  return h >>> 0;
}

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

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
  /**
   * The GEMM tuning table measured on this device and installed by setMatmulTuning (engine/tuning/matmul.ts),
   * or null for the built-in table of the adapter class. A new device (init) starts with null.
   */
  matmulTuning: { readonly adapter: string; readonly entries: readonly MatmulTuningEntry[] } | null = null;
  /** The same for fused attention (setAttentionTuning): the kernel family and tile by sequence length. */
  attentionTuning: { readonly adapter: string; readonly entries: readonly AttentionTuningEntry[] } | null = null;

  private lostError: DeviceLostError | null = null;
  private firstError: GPUValidationError | null = null;
  private readonly pipelines = new Map<string, CompiledPipeline>();
  private readonly pendingReads = new Set<(e: Error) => void>();
  private readonly stagingFree = new Map<number, GPUBuffer[]>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pendingDispatches = 0;
  private readonly paramsHeap: GPUBuffer;
  private readonly heapStaging = new Uint8Array(HEAP_BYTES);
  private heapUsed = 0;
  /** Start of the slots written since the last upload (heapUsed when there are none). */
  private heapDirtyFrom = 0;
  /** Every uniform block written into the heap, by the hash of its words. */
  private readonly paramsSlots = new Map<number, ParamsSlot[]>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 0;
  private readonly flushEvery: number;
  private dispatchCount = 0;
  private bindGroupsBuiltCount = 0;
  /** Set while a profile runs: every dispatch then gets a timed pass of its own (engine/profiler.ts). */
  private profiler: DispatchProfiler | null = null;

  /**
   * `held` (the GPU instance and adapter the device came from) is referenced only to keep them alive.
   * Under Dawn for Node, garbage-collecting the GPU instance destroys the native instance under a live
   * device, which crashes the process at a random later point; and dawn.node's pending-promise polls
   * reach their owner's runner through a raw pointer, so an adapter collected while its requestDevice
   * poll is still queued (a paced poll waits up to 1 ms) would leave that poll pointing at freed memory.
   */
  constructor(
    readonly device: GPUDevice,
    info: DeviceInfo,
    generation: number,
    flushEvery: number,
    readonly held: { readonly gpu: GPU | null; readonly adapter: GPUAdapter | null },
    private readonly collectGarbage: (() => void) | null = null,
  ) {
    this.info = info;
    this.generation = generation;
    const adapter = (device as { adapterInfo?: GPUAdapterInfo }).adapterInfo;
    const minSize = adapter?.subgroupMinSize;
    this.fixedSubgroupSize = minSize !== undefined && minSize === adapter?.subgroupMaxSize ? minSize : undefined;
    this.features = new Set(info.features);
    this.pool = new BufferPool(device);
    this.flushEvery = flushEvery;
    this.paramsHeap = device.createBuffer({ size: HEAP_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
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

  /** Workgroup memory one workgroup may use on this device (WebGPU's minimum, 16 KiB, if unreported). */
  get workgroupStorageBytes(): number {
    return this.info.limits.maxComputeWorkgroupStorageSize ?? 16384;
  }

  /** Total dispatches recorded since the runtime started (for tests and overhead benchmarks). */
  get dispatches(): number {
    return this.dispatchCount;
  }

  private pipeline(launch: Pick<Launch, 'key' | 'code' | 'entryPoint' | 'constants'>): CompiledPipeline {
    let p = this.pipelines.get(launch.key);
    if (!p) {
      const module = this.device.createShaderModule({ code: typeof launch.code === 'string' ? launch.code : launch.code(), label: launch.key });
      const pipeline = this.device.createComputePipeline({
        layout: 'auto',
        label: launch.key,
        compute: { module, entryPoint: launch.entryPoint, ...(launch.constants ? { constants: { ...launch.constants } } : {}) },
      });
      p = { pipeline, layout: pipeline.getBindGroupLayout(0), id: this.pipelines.size };
      this.pipelines.set(launch.key, p);
    }
    return p;
  }

  get pipelineCount(): number {
    return this.pipelines.size;
  }

  /** Bind groups currently cached (for tests). */
  get bindGroupCount(): number {
    return this.bindGroups.size;
  }

  /** Bind groups built since the runtime started (each one a cache miss; for tests and benchmarks). */
  get bindGroupsBuilt(): number {
    return this.bindGroupsBuiltCount;
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
    const compiled = this.pipeline(launch);
    const slot = this.paramsSlot(launch.params);
    let key = `${compiled.id}/${slot}`;
    for (const buffer of buffers) key += `/${this.bufferId(buffer)}`;
    let bindGroup = this.bindGroups.get(key);
    if (!bindGroup) {
      if (this.bindGroups.size >= MAX_BIND_GROUPS) this.dropBindGroups();
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.paramsHeap, offset: slot, size: launch.params.byteLength } }];
      buffers.forEach((buffer, i) => entries.push({ binding: i + 1, resource: { buffer } }));
      bindGroup = this.device.createBindGroup({ layout: compiled.layout, entries });
      this.bindGroupsBuiltCount++;
      this.bindGroups.set(key, bindGroup);
    }
    if (this.profiler?.full) this.flush();
    const timestampWrites = this.profiler?.timestampsFor(launch);
    if (timestampWrites) {
      this.pass?.end();
      this.encoder ??= this.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass({ timestampWrites });
    }
    const pass = this.openPass();
    pass.setPipeline(compiled.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(launch.workgroups[0], launch.workgroups[1], launch.workgroups[2]);
    if (timestampWrites) {
      pass.end();
      this.pass = null;
    }
    this.dispatchCount++;
    if (++this.pendingDispatches >= this.flushEvery) this.flush();
  }

  /** The heap offset holding these uniform bytes, writing them into a new slot the first time. */
  private paramsSlot(params: ArrayBuffer): number {
    const words = new Uint32Array(params);
    const hash = hashWords(words);
    const found = this.paramsSlots.get(hash)?.find((s) => sameWords(s.words, words));
    if (found) return found.offset;
    if (this.heapUsed + params.byteLength > HEAP_BYTES) this.recycleHeap();
    const offset = this.heapUsed;
    this.heapStaging.set(new Uint8Array(params), offset);
    this.heapUsed = Math.ceil((offset + params.byteLength) / PARAM_ALIGN) * PARAM_ALIGN;
    const slot = { words, offset };
    const same = this.paramsSlots.get(hash);
    if (same) same.push(slot);
    else this.paramsSlots.set(hash, [slot]);
    return offset;
  }

  /**
   * Empties the bind-group cache. Dropping many also runs a garbage collection where the platform has
   * one, so that their wrappers (and lavapipe's mappings behind them) go now: see the header.
   */
  private dropBindGroups(): void {
    const dropped = this.bindGroups.size;
    this.bindGroups.clear();
    if (dropped >= COLLECT_AFTER_DROPPING) this.collectGarbage?.();
  }

  /**
   * Empties the full uniform heap. The work recorded so far reads the old slots, so it is submitted (with
   * its slots uploaded) first: later uploads are queued behind it. Every cached bind group names an old
   * slot, so they go too.
   */
  private recycleHeap(): void {
    this.flush();
    this.paramsSlots.clear();
    this.dropBindGroups();
    this.heapUsed = 0;
    this.heapDirtyFrom = 0;
  }

  private bufferId(buffer: GPUBuffer): number {
    let id = this.bufferIds.get(buffer);
    if (id === undefined) {
      id = this.nextBufferId++;
      this.bufferIds.set(buffer, id);
    }
    return id;
  }

  /**
   * Destroys the pooled buffers. Recorded work may still read some of them, so it is submitted first
   * (a buffer destroyed after its last submit is freed once the GPU is done with it); the bind groups
   * that name them are dropped.
   */
  emptyCache(): void {
    this.flush();
    this.pool.clear();
    this.dropBindGroups();
  }

  /** Records a buffer-to-buffer copy (ends the open compute pass). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.checkAlive('copy');
    this.passlessEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.pendingDispatches++;
  }

  /**
   * Records zeroing the first `bytes` of a buffer (a multiple of 4): clearBuffer, a memset on every
   * adapter, where uploading zeros would cross the bus (and, on lavapipe, build the array on the host).
   */
  clear(buffer: GPUBuffer, bytes: number): void {
    this.checkAlive('clear');
    this.passlessEncoder().clearBuffer(buffer, 0, bytes);
    this.pendingDispatches++;
  }

  /** The command encoder with no compute pass open, for commands recorded outside passes. */
  private passlessEncoder(): GPUCommandEncoder {
    this.pass?.end();
    this.pass = null;
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
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
    if (this.heapUsed > this.heapDirtyFrom)
      this.device.queue.writeBuffer(this.paramsHeap, this.heapDirtyFrom, this.heapStaging, this.heapDirtyFrom, this.heapUsed - this.heapDirtyFrom);
    this.heapDirtyFrom = this.heapUsed;
    const readTimestamps = this.profiler?.resolveInto(this.encoder);
    this.device.queue.submit([this.encoder.finish()]);
    readTimestamps?.();
    this.encoder = null;
    this.pendingDispatches = 0;
  }

  /** Starts timing every dispatch (see `profile`). */
  startProfile(): void {
    this.checkAlive('profile');
    if (this.profiler) throw new ArgumentError('profile: a profile is already running on this device (profiles do not nest)');
    this.flush();
    this.profiler = new DispatchProfiler(this.device);
  }

  /** Submits what is recorded, stops timing and returns the GPU time per kernel, slowest first. */
  async stopProfile(): Promise<KernelTime[]> {
    const profiler = this.profiler;
    if (!profiler) throw new ArgumentError('profile: no profile is running');
    this.flush();
    this.profiler = null;
    try {
      return await profiler.results();
    } finally {
      profiler.destroy();
    }
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

const INIT_OPTIONS = optionKeys<InitOptions>({
  powerPreference: true, dawnFlags: true, dawnSpinMs: true, requiredFeatures: true, disableFeatures: true, device: true, flushEvery: true, adapterClass: true,
});

/**
 * Creates the GPU device. Node loads Dawn through the `webgpu` package; browsers use `navigator.gpu`.
 * Requests the adapter's maximum buffer and workgroup-storage limits and the optional features
 * shader-f16, subgroups and timestamp-query where present. Calling it again replaces the device.
 */
export async function init(options: InitOptions = {}): Promise<DeviceInfo> {
  expectOptions('init', options, INIT_OPTIONS);
  const spinMs = options.dawnSpinMs;
  if (spinMs !== undefined && !(spinMs >= 0)) throw new ArgumentError(`init: dawnSpinMs must be a number >= 0 or Infinity, got ${spinMs}`);
  if (options.adapterClass !== undefined && options.adapterClass !== 'cpu' && options.adapterClass !== 'gpu')
    throw new ArgumentError(`init: adapterClass must be 'cpu' or 'gpu', got '${String(options.adapterClass)}'`);
  if (current && !current.lost) current.destroy();
  current = null;
  let device = options.device;
  let adapterInfo: GPUAdapterInfo | undefined = device?.adapterInfo;
  let gpu: GPU | null = null;
  let heldAdapter: GPUAdapter | null = null;
  if (!device) {
    gpu = await getGPU(options.dawnFlags, options.dawnSpinMs);
    const adapter = await gpu.requestAdapter(options.powerPreference ? { powerPreference: options.powerPreference } : undefined);
    if (!adapter) throw new DeviceError(`init: no WebGPU adapter found. ${noAdapterHint()}`);
    heldAdapter = adapter;
    const skip = new Set(options.disableFeatures ?? []);
    // Subgroup matrices need subgroups, and requesting them brings subgroups back on Dawn.
    if (skip.has('subgroups')) skip.add('chromium-experimental-subgroup-matrix');
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
    adapterClass: options.adapterClass ?? classify(ai),
    platform: isNode ? 'node' : 'browser',
    features: [...device.features].sort(),
    limits: limitsRecord(device.limits),
    subgroupMatrixF16: device.features.has('chromium-experimental-subgroup-matrix') && hasF16MatrixConfig(adapterInfo, device.adapterInfo),
  };
  current = new Runtime(device, info, ++generation, options.flushEvery ?? 128, { gpu, adapter: heldAdapter }, await garbageCollector());
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

/**
 * Runs `fn` (synchronous or async) with every dispatch it records timed on the GPU, and returns its
 * result with the GPU time per kernel (pipeline), slowest first. Needs the 'timestamp-query' feature
 * (a DeviceError otherwise); profiles do not nest. Profiled work runs one compute pass per dispatch,
 * a little slower than usual: read the shares (engine/profiler.ts says what the figures include).
 */
export async function profile<T>(fn: () => T | Promise<T>): Promise<{ result: T; kernels: KernelTime[] }> {
  const rt = runtime('profile');
  rt.startProfile();
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    await rt.stopProfile().catch(() => undefined);
    throw err;
  }
  return { result, kernels: await rt.stopProfile() };
}

/** Submits recorded work and waits for the GPU to finish it. */
export async function sync(): Promise<void> {
  await runtime('sync').sync();
}
