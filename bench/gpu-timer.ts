/**
 * GPU time of a batch of our dispatches, from timestamp queries.
 *
 * The runtime records dispatches into its own compute pass, which we do not instrument (engine/runtime.ts
 * is not ours to change). Instead the batch is bracketed: pending work is submitted, an empty compute pass
 * writes a timestamp at its beginning, the batch is recorded and submitted, and another empty pass writes
 * one at its end. The queue runs submissions in order, so the difference covers the batch, including any
 * idle gaps between its submits (the runtime splits long batches every `flushEvery` dispatches).
 * Needs only the public `runtime()`: its device and `flush()`.
 */
import { runtime } from '../engine/runtime.js';

export class GpuTimer {
  private readonly querySet: GPUQuerySet;
  private readonly resolved: GPUBuffer;

  private constructor(private readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 });
    this.resolved = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  }

  /** A timer for the active device, or null when it lacks 'timestamp-query'. */
  static create(): GpuTimer | null {
    const rt = runtime('GpuTimer');
    return rt.features.has('timestamp-query') ? new GpuTimer(rt.device) : null;
  }

  private stamp(index: 0 | 1): void {
    const encoder = this.device.createCommandEncoder();
    const writes: GPUComputePassTimestampWrites =
      index === 0 ? { querySet: this.querySet, beginningOfPassWriteIndex: 0 } : { querySet: this.querySet, endOfPassWriteIndex: 1 };
    encoder.beginComputePass({ timestampWrites: writes }).end();
    this.device.queue.submit([encoder.finish()]);
  }

  /** Milliseconds of GPU time taken by the work `record` records (it must record synchronously). */
  async measure(record: () => void): Promise<number> {
    const rt = runtime('GpuTimer.measure');
    rt.flush();
    this.stamp(0);
    record();
    rt.flush();
    this.stamp(1);
    const encoder = this.device.createCommandEncoder();
    encoder.resolveQuerySet(this.querySet, 0, 2, this.resolved, 0);
    const staging = this.device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.copyBufferToBuffer(this.resolved, 0, staging, 0, 16);
    this.device.queue.submit([encoder.finish()]);
    try {
      await staging.mapAsync(GPUMapMode.READ);
      const [begin, end] = new BigUint64Array(staging.getMappedRange());
      return Number(end! - begin!) / 1e6;
    } finally {
      staging.destroy();
    }
  }

  dispose(): void {
    this.querySet.destroy();
    this.resolved.destroy();
  }
}
