/**
 * Size-bucketed pool of GPU storage buffers. Freed tensors return their buffer here instead of destroying
 * it, and the next allocation of the same bucket reuses it: allocating GPU memory costs far more than a
 * map lookup, and training loops allocate the same sizes every step.
 *
 * Buckets: sizes round up to a power of two below 1 MiB and to a multiple of 1/8 of the next power of two
 * above, which bounds the waste at 12.5% for large tensors while keeping the bucket count small. Every
 * bucket is a multiple of 16 bytes, which kernels rely on: elementwise.wgsl binds buffers as vec4 arrays.
 *
 * Reuse is safe without fences: the queue executes command buffers in submission order, so work recorded
 * after a buffer is reused runs after all earlier work that read it.
 */
const USAGE_STORAGE = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST

export function bucketSize(bytes: number): number {
  const n = Math.max(16, bytes);
  const pow = 2 ** Math.ceil(Math.log2(n));
  if (pow <= 1 << 20) return pow;
  const step = pow / 16; // pow/2 .. pow in 8 steps
  return Math.ceil(n / step) * step;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private pooled = 0;
  private count = 0;

  constructor(private readonly device: GPUDevice) {}

  acquire(bytes: number): GPUBuffer {
    const size = bucketSize(bytes);
    const list = this.free.get(size);
    const reused = list?.pop();
    if (reused) {
      this.pooled -= size;
      this.count--;
      return reused;
    }
    return this.device.createBuffer({ size, usage: USAGE_STORAGE });
  }

  release(buffer: GPUBuffer): void {
    const list = this.free.get(buffer.size);
    if (list) list.push(buffer);
    else this.free.set(buffer.size, [buffer]);
    this.pooled += buffer.size;
    this.count++;
  }

  /** Destroys every pooled buffer (returns their memory to the driver). */
  clear(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.pooled = 0;
    this.count = 0;
  }

  get bytesPooled(): number {
    return this.pooled;
  }
  get buffersPooled(): number {
    return this.count;
  }
}
