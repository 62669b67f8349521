/**
 * The benchmark harness: case and result types, validation against a float64 CPU oracle, statistics,
 * and the timing loop shared by every engine.
 *
 * A case builds one or more variants (our fused op, our unfused baseline, each peer library). Every
 * variant is validated ONCE before it is timed: a kernel that returns wrong numbers reports no figures.
 * Timing methods:
 *  - 'wall': wall clock over a batch of `iterations` back-to-back calls plus one readback of the last
 *    result, divided by `iterations`. Applied identically to every engine, so ratios compare like with like.
 *  - 'gpu-timestamp': our variants only, where the adapter has 'timestamp-query': GPU time between a
 *    timestamp written before the batch and one written after it (see gpu-timer.ts), divided by `iterations`.
 * Each method runs `repeats` batches after warm-up and reports min / median / max per iteration.
 */

export const GROUPS = ['gemm', 'attention', 'layernorm', 'softmax', 'gelu', 'conv', 'reduce', 'backward', 'optimizer', 'overhead', 'model'] as const;
export type Group = (typeof GROUPS)[number];

export type EngineId = 'omnitensor' | 'tfjs-webgpu' | 'jax-js' | 'onnxruntime-web' | 'webgpu-torch';
export const ENGINES: readonly EngineId[] = ['omnitensor', 'tfjs-webgpu', 'jax-js', 'onnxruntime-web', 'webgpu-torch'];

/** Thrown when an op, module or feature a variant needs does not exist (yet): reported, never fatal. */
export class Unsupported extends Error {
  override readonly name = 'Unsupported';
}

/** One engine's executable form of a case, holding its inputs on the device. */
export interface Runner {
  /** Enqueues `iterations` back-to-back executions (asynchronous only where the op itself is, e.g. readbacks). */
  run(iterations: number): void | Promise<void>;
  /** Waits for the last result by reading it back: the one readback that ends a wall-clock batch. */
  sync(): Promise<void>;
  /** The last result in the case's canonical layout, for validation (untimed). */
  result(): Promise<ArrayLike<number>>;
  /** Set when the runner had to deviate from its variant's label (e.g. a peer op failed and a composition ran). */
  readonly note?: string;
  dispose(): void;
}

export interface Variant {
  engine: EngineId;
  /** What runs, e.g. 'fused kernel', 'unfused: matmul + softmax + matmul', 'composition: moments + batchNorm'. */
  label: string;
  /** Our variant that peers are compared against (one per case); also gets GPU timestamp figures. */
  primary?: boolean;
  /** Our baseline variants get GPU timestamp figures too. */
  timestamps?: boolean;
  create(): Promise<Runner>;
}

/** Checks a result; returns null when it passes, else a description of the first mismatch. */
export type OutputCheck = (out: ArrayLike<number>) => string | null;

export interface CaseSetup {
  variants: Variant[];
  check: OutputCheck;
  dispose?(): void;
}

export interface BenchCase {
  name: string;
  group: Group;
  /** Human-readable shapes, e.g. '1024x1024 @ 1024x1024'. */
  shape: string;
  dtype: 'f32' | 'f16';
  /** Floating-point operations per iteration (figures in GFLOP/s). */
  flops?: number;
  /** Bytes read + written per iteration, counting each tensor once (figures in GB/s). */
  bytes?: number;
  /** Upper bound on iterations per timed batch (e.g. for cases with per-iteration readbacks). */
  maxIterations?: number;
  /** Lower bound, for microsecond-scale ops whose final readback would otherwise dominate the batch. */
  minIterations?: number;
  /** Host-side costs (readbacks, compiles): GPU timestamps would not measure them, so wall clock only. */
  wallOnly?: boolean;
  setup(): Promise<CaseSetup>;
}

export interface Stats {
  min: number;
  median: number;
  max: number;
}

export type Method = 'wall' | 'gpu-timestamp';

export interface Figure {
  method: Method;
  iterations: number;
  repeats: number;
  /** Milliseconds per iteration. */
  ms: Stats;
  /** GFLOP/s or GB/s per iteration, derived from `ms` (min throughput from max time). */
  throughput?: Stats;
  unit?: 'GFLOP/s' | 'GB/s';
}

export type Status = 'ok' | 'unsupported' | 'failed' | 'invalid';

/** GPU time of one kernel pipeline in a profiled batch (engine `profile`, bench --profile). */
export interface KernelShare {
  /** The pipeline cache key (kernel family, variant, tile, dtypes, epilogue). */
  key: string;
  /** Dispatches per iteration. */
  dispatches: number;
  /** GPU milliseconds per iteration. */
  ms: number;
}

export interface VariantResult {
  engine: EngineId;
  label: string;
  primary: boolean;
  status: Status;
  /** Why it did not produce figures, or a note about what ran. */
  reason?: string;
  figures: Figure[];
  /** Our variants under --profile: GPU time per kernel of one timed-size batch, per iteration, slowest first. */
  kernels?: KernelShare[];
}

export interface Ratio {
  /** Peer variant (engine + label). */
  peer: string;
  /** Our wall-clock speed divided by the peer's (median times): > 1 means ours is faster. */
  speedup: number;
}

export interface CaseResult {
  name: string;
  group: Group;
  shape: string;
  dtype: string;
  flops?: number;
  bytes?: number;
  status: Status;
  reason?: string;
  variants: VariantResult[];
  ratios: Ratio[];
}

export interface TimingOptions {
  warmups: number;
  repeats: number;
  /** Aim for batches of about this many milliseconds when choosing `iterations`. */
  targetMs: number;
  maxIterations: number;
}

export const DEFAULT_TIMING: TimingOptions = { warmups: 2, repeats: 5, targetMs: 150, maxIterations: 200 };
export const QUICK_TIMING: TimingOptions = { warmups: 1, repeats: 2, targetMs: 30, maxIterations: 30 };

/** Measures `record` (which only records GPU work) in GPU time; milliseconds. */
export type GpuTimeFn = (record: () => void) => Promise<number>;

/** Runs `work` with every dispatch timed; GPU time per kernel pipeline over the whole of it. */
export type ProfileFn = (work: () => Promise<void>) => Promise<{ key: string; dispatches: number; ms: number }[]>;

export interface RunContext {
  timing: TimingOptions;
  /** Present when the adapter has timestamp queries. */
  gpuTime?: GpuTimeFn;
  /** Present under --profile (and timestamp queries): our variants also get a per-kernel breakdown. */
  profile?: ProfileFn;
  /** Engines to run (ours is always run). */
  engines: ReadonlySet<EngineId>;
  now?: () => number;
}

export function summarize(samples: readonly number[]): Stats {
  if (samples.length === 0) throw new RangeError('summarize: no samples');
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { min: s[0]!, median, max: s[s.length - 1]! };
}

/** Throughput statistics (work / time) from time statistics: the best throughput comes from the minimum time. */
export function throughputOf(ms: Stats, work: number): Stats {
  const rate = (t: number) => work / (t * 1e-3) / 1e9;
  return { min: rate(ms.max), median: rate(ms.median), max: rate(ms.min) };
}

/** How many iterations make a batch of about `targetMs`, given one iteration took `oneMs`. */
export function chooseIterations(oneMs: number, options: TimingOptions, bounds: { min?: number; max?: number } = {}): number {
  const n = oneMs > 0 ? Math.round(options.targetMs / oneMs) : options.maxIterations;
  return Math.max(1, bounds.min ?? 1, Math.min(n, options.maxIterations, bounds.max ?? Infinity));
}

/** A deterministic pseudo-random Float32Array in [-scale, scale) (same data for every engine and the oracle). */
export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    // xorshift32: fast and good enough for benchmark inputs.
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

export interface SampledCheckOptions {
  /** Expected number of output elements. */
  size: number;
  /** The float64 oracle for flat output index i. */
  expectedAt: (i: number) => number;
  atol: number;
  rtol: number;
  /** How many elements to compare (spread evenly, first and last included). */
  samples?: number;
}

/** The largest absolute elementwise difference of two equally long arrays (the probes' cross-checks). */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/**
 * A check that compares `samples` output elements with a float64 oracle evaluated only at those
 * indices, so large GEMMs validate in milliseconds. Every element is also checked to be finite.
 */
export function sampledCheck({ size, expectedAt, atol, rtol, samples = 192 }: SampledCheckOptions): OutputCheck {
  return (out) => {
    if (out.length !== size) return `output has ${out.length} elements, expected ${size}`;
    for (let i = 0; i < out.length; i++)
      if (!Number.isFinite(out[i]!)) return `element ${i} is ${out[i]}, expected a finite value`;
    const count = Math.min(samples, size);
    for (let k = 0; k < count; k++) {
      const i = count === 1 ? 0 : Math.round((k * (size - 1)) / (count - 1));
      const e = expectedAt(i);
      const a = out[i]!;
      if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e)))
        return `element ${i} is ${a}, oracle says ${e} (atol ${atol}, rtol ${rtol})`;
    }
    return null;
  };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function timeBatches(runner: Runner, iterations: number, repeats: number, now: () => number): Promise<number[]> {
  const samples: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = now();
    await runner.run(iterations);
    await runner.sync();
    samples.push((now() - t0) / iterations);
  }
  return samples;
}

function figure(method: Method, iterations: number, samples: number[], c: BenchCase): Figure {
  const ms = summarize(samples);
  const f: Figure = { method, iterations, repeats: samples.length, ms };
  if (c.flops) Object.assign(f, { throughput: throughputOf(ms, c.flops), unit: 'GFLOP/s' });
  else if (c.bytes) Object.assign(f, { throughput: throughputOf(ms, c.bytes), unit: 'GB/s' });
  return f;
}

/** Validates, warms up and times one variant. Never throws: failures become the result's status. */
export async function measureVariant(c: BenchCase, v: Variant, check: OutputCheck, ctx: RunContext): Promise<VariantResult> {
  const now = ctx.now ?? (() => performance.now());
  const base = { engine: v.engine, label: v.label, primary: v.primary ?? false, figures: [] as Figure[] };
  let runner: Runner;
  try {
    runner = await v.create();
  } catch (err) {
    return { ...base, status: err instanceof Unsupported ? 'unsupported' : 'failed', reason: message(err) };
  }
  const noted = (r: VariantResult): VariantResult => (runner.note && !r.reason ? { ...r, reason: runner.note } : r);
  try {
    // The validation call doubles as the first warm-up and as the estimate that sizes the batches.
    const t0 = now();
    await runner.run(1);
    const problem = check(await runner.result());
    let oneMs = now() - t0;
    if (problem) return { ...base, status: 'invalid', reason: `validation failed: ${problem}` };
    for (let w = 1; w < ctx.timing.warmups && oneMs < 4 * ctx.timing.targetMs; w++) {
      const t = now();
      await runner.run(1);
      await runner.sync();
      oneMs = Math.min(oneMs, now() - t);
    }
    const iterations = chooseIterations(oneMs, ctx.timing, { min: c.minIterations, max: c.maxIterations });
    // Calls slower than a whole batch target get fewer repeats: the spread of a few long calls is small.
    const repeats = oneMs > 4 * ctx.timing.targetMs ? Math.min(3, ctx.timing.repeats) : ctx.timing.repeats;
    const figures = [figure('wall', iterations, await timeBatches(runner, iterations, repeats, now), c)];
    if (ctx.gpuTime && !c.wallOnly && (v.primary || v.timestamps)) {
      const samples: number[] = [];
      for (let r = 0; r < repeats; r++) {
        const ms = await ctx.gpuTime(() => {
          if (runner.run(iterations)) throw new Error(`${c.name}: an asynchronous run cannot be GPU-timed; mark the case wallOnly`);
        });
        samples.push(ms / iterations);
      }
      figures.push(figure('gpu-timestamp', iterations, samples, c));
    }
    if (ctx.profile && v.engine === 'omnitensor' && !c.wallOnly) {
      const kernels = await ctx.profile(async () => {
        await runner.run(iterations);
        await runner.sync();
      });
      const perIteration = kernels.map((k) => ({ key: k.key, dispatches: k.dispatches / iterations, ms: k.ms / iterations }));
      return noted({ ...base, status: 'ok', figures, kernels: perIteration });
    }
    return noted({ ...base, status: 'ok', figures });
  } catch (err) {
    return { ...base, status: err instanceof Unsupported ? 'unsupported' : 'failed', reason: message(err) };
  } finally {
    runner.dispose();
  }
}

function wallMedian(v: VariantResult): number | undefined {
  return v.status === 'ok' ? v.figures.find((f) => f.method === 'wall')?.ms.median : undefined;
}

/** Speed ratios of our primary variant against every peer variant that produced figures. */
export function ratiosOf(variants: readonly VariantResult[]): Ratio[] {
  const ours = variants.find((v) => v.primary);
  const ourMs = ours && wallMedian(ours);
  if (ourMs === undefined) return [];
  return variants
    .filter((v) => v.engine !== 'omnitensor')
    .flatMap((v) => {
      const peerMs = wallMedian(v);
      return peerMs === undefined ? [] : [{ peer: `${v.engine} (${v.label})`, speedup: peerMs / ourMs }];
    });
}

/** Sets up a case, measures each variant in turn, and summarises. Never throws. */
export async function runCase(c: BenchCase, ctx: RunContext): Promise<CaseResult> {
  const base = { name: c.name, group: c.group, shape: c.shape, dtype: c.dtype, flops: c.flops, bytes: c.bytes };
  let setup: CaseSetup;
  try {
    setup = await c.setup();
  } catch (err) {
    return { ...base, status: err instanceof Unsupported ? 'unsupported' : 'failed', reason: message(err), variants: [], ratios: [] };
  }
  const variants: VariantResult[] = [];
  try {
    for (const v of setup.variants) {
      if (!ctx.engines.has(v.engine)) continue;
      variants.push(await measureVariant(c, v, setup.check, ctx));
    }
  } finally {
    setup.dispose?.();
  }
  const primary = variants.find((v) => v.primary) ?? variants[0];
  const anyOk = variants.some((v) => v.status === 'ok');
  const status: Status = anyOk ? 'ok' : (primary?.status ?? 'unsupported');
  const reason = primary && primary.status !== 'ok' ? primary.reason : undefined;
  return { ...base, status, ...(reason ? { reason } : {}), variants, ratios: ratiosOf(variants) };
}
