/**
 * Per-kernel GPU time: which kernels a model, a training step or a benchmark spends its time in.
 *
 * While a profile runs, the scheduler (engine/runtime.ts) gives every dispatch a compute pass of its
 * own whose beginning and end write GPU timestamps into a query set. Each submitted batch resolves its
 * timestamps into a buffer, copies them to a mappable one and reads them back once the GPU is done;
 * `stop` waits for the last of those reads and returns the totals per pipeline, slowest first.
 *
 * What the figures mean. A dispatch's time is the GPU's own clock from the start to the end of its
 * pass: the kernel, plus whatever the driver does at a pass boundary. One pass per dispatch costs a
 * little host time and keeps the GPU from overlapping neighbouring dispatches, so a profiled run is
 * somewhat slower than a plain one; the shares are what to read. Browsers may quantize timestamps
 * (Chromium rounds them to 100 us unless its 'WebGPU Developer Features' flag is on), which blurs short
 * kernels; Dawn in Node reports them unrounded.
 */
import { ArgumentError, DeviceError } from './errors.js';
import type { Launch } from '../kernels/launch.js';

/** GPU time of one pipeline (kernel file, entry point and specialisation) over a profile. */
export interface KernelTime {
  /** The pipeline cache key: the kernel family, its variant and tile, dtypes and epilogue. */
  readonly key: string;
  /** The WGSL entry point. */
  readonly entryPoint: string;
  readonly dispatches: number;
  /** Summed GPU time of its dispatches, in milliseconds. */
  readonly ms: number;
}

/** A profile cut for display: the `top` slowest kernels, the rest summed (null when none), and the total. */
export interface KernelSummary<K> {
  readonly top: K[];
  readonly rest: { readonly kernels: number; readonly dispatches: number; readonly ms: number } | null;
  readonly total: { readonly dispatches: number; readonly ms: number };
}

/** Cuts a profile (any order) for display: its `top` slowest kernels, then the rest and the total summed. */
export function summarizeKernels<K extends { readonly dispatches: number; readonly ms: number }>(kernels: readonly K[], top: number): KernelSummary<K> {
  const sum = (ks: readonly K[]) => ({ dispatches: ks.reduce((s, k) => s + k.dispatches, 0), ms: ks.reduce((s, k) => s + k.ms, 0) });
  const sorted = [...kernels].sort((a, b) => b.ms - a.ms);
  const rest = sorted.slice(top);
  return { top: sorted.slice(0, top), rest: rest.length ? { kernels: rest.length, ...sum(rest) } : null, total: sum(kernels) };
}

/** Timestamp pairs per query set: a batch holds at most this many dispatches before it is submitted. */
export const PROFILE_CAPACITY = 256;

interface Totals {
  key: string;
  entryPoint: string;
  dispatches: number;
  ns: number;
}

export class DispatchProfiler {
  private readonly querySet: GPUQuerySet;
  private readonly resolved: GPUBuffer;
  /** The launches of the batch being recorded, in the order of their timestamp pairs. */
  private batch: Pick<Launch, 'key' | 'entryPoint'>[] = [];
  private readonly reads: Promise<void>[] = [];
  private readonly totals = new Map<string, Totals>();

  constructor(private readonly device: GPUDevice) {
    if (!device.features.has('timestamp-query'))
      throw new DeviceError("profile: the device has no 'timestamp-query' feature, so GPU time per kernel cannot be measured");
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * PROFILE_CAPACITY });
    this.resolved = device.createBuffer({ size: 16 * PROFILE_CAPACITY, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  }

  /** The batch has used every timestamp pair: submit it before recording another dispatch. */
  get full(): boolean {
    return this.batch.length === PROFILE_CAPACITY;
  }

  /** The timestamp writes for the pass of the next dispatch. */
  timestampsFor(launch: Pick<Launch, 'key' | 'entryPoint'>): GPUComputePassTimestampWrites {
    if (this.full) throw new ArgumentError('profile: internal error, the batch is full (the scheduler submits before this)');
    const pair = this.batch.length;
    this.batch.push({ key: launch.key, entryPoint: launch.entryPoint });
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * pair, endOfPassWriteIndex: 2 * pair + 1 };
  }

  /**
   * Records the resolve of this batch's timestamps at the end of `encoder` (before it is finished) and
   * returns what to call once it is submitted: the readback, added to the reads `stop` awaits. Null when
   * the batch recorded no dispatch.
   */
  resolveInto(encoder: GPUCommandEncoder): (() => void) | null {
    const launches = this.batch;
    if (launches.length === 0) return null;
    this.batch = [];
    const bytes = 16 * launches.length;
    encoder.resolveQuerySet(this.querySet, 0, 2 * launches.length, this.resolved, 0);
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.copyBufferToBuffer(this.resolved, 0, staging, 0, bytes);
    return () => {
      this.reads.push(
        staging.mapAsync(GPUMapMode.READ).then(() => {
          const stamps = new BigUint64Array(staging.getMappedRange());
          launches.forEach((launch, i) => this.add(launch, stamps[2 * i]!, stamps[2 * i + 1]!));
          staging.destroy();
        }),
      );
    };
  }

  private add(launch: Pick<Launch, 'key' | 'entryPoint'>, begin: bigint, end: bigint): void {
    let t = this.totals.get(launch.key);
    if (!t) {
      t = { key: launch.key, entryPoint: launch.entryPoint, dispatches: 0, ns: 0 };
      this.totals.set(launch.key, t);
    }
    t.dispatches++;
    // A pass whose timestamps were not written (a driver that skips them) reads as zero, never negative.
    t.ns += end > begin ? Number(end - begin) : 0;
  }

  /** Waits for every submitted batch's timestamps and returns the totals per pipeline, slowest first. */
  async results(): Promise<KernelTime[]> {
    await Promise.all(this.reads);
    return [...this.totals.values()]
      .map((t) => ({ key: t.key, entryPoint: t.entryPoint, dispatches: t.dispatches, ms: t.ns / 1e6 }))
      .sort((a, b) => b.ms - a.ms);
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolved.destroy();
  }
}
