/**
 * Model-step probe (Node, not a test): where one Meta-Transformer step's time goes between the host and
 * the GPU. The bench's model cases give one wall-clock figure per step; on an NVIDIA H200 (2026-11-27)
 * the B16 training step at batch 1 took 99.9 ms of wall clock against 33.1 ms of GPU timestamps, and
 * nothing said what the other two thirds were. This probe takes the step apart:
 *
 *   recording   JavaScript time of one step() call: building the graph, recording the dispatches and
 *               submitting them (the GPU starts on the first batch while the host records the rest)
 *   wait        from there until the step's result is read back: the GPU's remaining work and the
 *               readback's latency
 *   span        GPU timestamps around one step (bench/gpu-timer.ts): the GPU's clock from its first
 *               submit to its last work, idle gaps included
 *   busy        the kernels' own GPU time summed (engine profile, one timed pass per dispatch)
 *   pipelined   steps recorded back to back with one readback at the end, per step (what the bench's
 *               wall-clock column measures)
 * plus, per step: dispatches, bind groups built, pipelines compiled, queue submits, writeBuffer calls and
 * bytes, and garbage-collection pauses (perf_hooks 'gc' entries) during the timed steps. With
 * PROBE_CPU_PROFILE=1 it also samples the host over the timed steps (the V8 inspector) and prints where
 * the host's time went (bench/cpu-profile.ts).
 *
 *   node dist/bench/step-probe.js
 *   PROBE_STEPS=train,forward   the frozen-encoder training step and / or the encoder forward (default train)
 *   PROBE_MODEL=B16             B16, L14, or host (B16's 12 blocks at width 64 on 32x32 images: B16's dispatches
 *                               with almost no GPU work, so recording is the host's cost per step)
 *   PROBE_BATCH=1  images per step;  PROBE_DTYPE=f16 (forward only)
 *   PROBE_FLUSH=N               init's flushEvery (default 128): with 100000 nothing is submitted while a step records,
 *                               so on a CPU adapter recording is timed without the adapter's threads beside it
 *   PROBE_REPS=10               timed steps;  PROBE_CPU_PROFILE=1;  PROBE_TOP=20 functions listed
 *
 * Reading it: recording close to the pipelined time means the host is the bound (the GPU idles between
 * submits: span well above busy); wait much longer than busy - recording means latency, not work.
 */
import { constants as perfConstants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import { deviceInfo, hasF16, init, profile, runtime } from '../engine/runtime.js';
import type { EncoderDType } from '../metatransformer/encoder.js';
import { modelRunner, type ModelVariant } from './cases/model.js';
import { summarizeCpuProfile, type CpuProfile } from './cpu-profile.js';
import { GpuTimer } from './gpu-timer.js';
import type { Runner } from './harness.js';

const env = process.env;
const STEPS = (env.PROBE_STEPS ?? 'train').split(',');
const MODEL = (env.PROBE_MODEL ?? 'B16') as ModelVariant;
const BATCH = Number(env.PROBE_BATCH ?? 1);
const DTYPE = (env.PROBE_DTYPE ?? 'f32') as EncoderDType;
const REPS = Number(env.PROBE_REPS ?? 10);
const CPU_PROFILE = env.PROBE_CPU_PROFILE === '1';
const TOP = Number(env.PROBE_TOP ?? 20);

function fail(message: string): never {
  console.error(`step-probe: ${message}`);
  process.exit(2);
}
if (!STEPS.every((s) => s === 'train' || s === 'forward')) fail(`PROBE_STEPS takes train and forward, got '${env.PROBE_STEPS}'`);
if (MODEL !== 'B16' && MODEL !== 'L14' && MODEL !== 'host') fail(`PROBE_MODEL takes B16, L14 or host, got '${MODEL}'`);
const FLUSH = env.PROBE_FLUSH === undefined ? undefined : Number(env.PROBE_FLUSH);
if (FLUSH !== undefined && !(Number.isInteger(FLUSH) && FLUSH >= 1)) fail(`PROBE_FLUSH must be a positive integer, got '${env.PROBE_FLUSH}'`);
if (!(Number.isInteger(BATCH) && BATCH >= 1)) fail(`PROBE_BATCH must be a positive integer, got '${env.PROBE_BATCH}'`);
if (!(Number.isInteger(REPS) && REPS >= 1)) fail(`PROBE_REPS must be a positive integer, got '${env.PROBE_REPS}'`);
if (DTYPE !== 'f32' && DTYPE !== 'f16') fail(`PROBE_DTYPE takes f32 or f16, got '${DTYPE}'`);
if (DTYPE === 'f16' && STEPS.includes('train')) fail('PROBE_DTYPE=f16 times the forward only (PROBE_STEPS=forward)');

/** Counts what the queue is asked to do: submits, and writeBuffer calls with their bytes. */
class QueueCounter {
  submits = 0;
  writes = 0;
  writeBytes = 0;

  constructor(queue: GPUQueue) {
    const submit = queue.submit.bind(queue);
    const writeBuffer = queue.writeBuffer.bind(queue) as (...args: unknown[]) => void;
    queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
      this.submits++;
      submit(buffers);
    };
    queue.writeBuffer = ((buffer: GPUBuffer, offset: number, data: ArrayBufferView | ArrayBuffer, dataOffset?: number, size?: number) => {
      this.writes++;
      this.writeBytes += size ?? data.byteLength - (dataOffset ?? 0);
      writeBuffer(buffer, offset, data, dataOffset, size);
    }) as GPUQueue['writeBuffer'];
  }

  snapshot(): { submits: number; writes: number; writeBytes: number } {
    return { submits: this.submits, writes: this.writes, writeBytes: this.writeBytes };
  }
}

/** Garbage-collection pauses while `observe` runs. */
async function gcPauses<T>(observe: () => Promise<T>): Promise<{ result: T; pauses: PerformanceEntry[] }> {
  const pauses: PerformanceEntry[] = [];
  const observer = new PerformanceObserver((list) => pauses.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  try {
    const result = await observe();
    await new Promise((resolve) => setTimeout(resolve, 0)); // entries are delivered asynchronously
    return { result, pauses };
  } finally {
    observer.disconnect();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const spread = (xs: number[]): string => `${median(xs).toFixed(1)} ms [${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)}]`;

async function probeStep(train: boolean, counter: QueueCounter, timer: GpuTimer | null): Promise<void> {
  const label = `${MODEL}${DTYPE === 'f16' ? ' f16' : ''} ${train ? 'train step (tokenizer + head trained, encoder frozen, AdamW)' : 'forward (no graph)'} B=${BATCH}`;
  console.log(`\n${label}`);
  const runner: Runner = modelRunner(MODEL, BATCH, train, DTYPE);
  try {
    // Warm-up: pipelines compiled, buffers pooled, bind groups cached.
    for (let i = 0; i < 3; i++) {
      await runner.run(1);
      await runner.sync();
    }
    const rt = runtime('step-probe');
    const before = { dispatches: rt.dispatches, bindGroups: rt.bindGroupsBuilt, pipelines: rt.pipelineCount, ...counter.snapshot() };

    const session = CPU_PROFILE ? new Session() : null;
    if (session) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 200 });
      await session.post('Profiler.start');
    }
    const recording: number[] = [];
    const waiting: number[] = [];
    const { pauses } = await gcPauses(async () => {
      for (let i = 0; i < REPS; i++) {
        const t0 = performance.now();
        await runner.run(1);
        const t1 = performance.now();
        await runner.sync();
        recording.push(t1 - t0);
        waiting.push(performance.now() - t1);
      }
    });
    const cpuProfile = session ? ((await session.post('Profiler.stop')) as { profile: CpuProfile }).profile : null;
    session?.disconnect();
    const after = { dispatches: rt.dispatches, bindGroups: rt.bindGroupsBuilt, pipelines: rt.pipelineCount, ...counter.snapshot() };
    const per = (key: keyof typeof after) => ((after[key] - before[key]) / REPS).toFixed(1);

    const t0 = performance.now();
    await runner.run(REPS);
    await runner.sync();
    const pipelined = (performance.now() - t0) / REPS;

    const steps = recording.map((r, i) => r + waiting[i]!);
    console.log(`  step ${spread(steps)} = recording ${spread(recording)} + wait and readback ${spread(waiting)}  (median [min-max] of ${REPS})`);
    console.log(`  pipelined: ${REPS} steps back to back, one readback: ${pipelined.toFixed(1)} ms per step`);
    if (timer) {
      const spans: number[] = [];
      for (let i = 0; i < Math.min(REPS, 5); i++) {
        spans.push(await timer.measure(() => void runner.run(1)));
        await runner.sync();
      }
      const { kernels } = await profile(async () => {
        await runner.run(1);
        await runner.sync();
      });
      const busy = kernels.reduce((s, k) => s + k.ms, 0);
      const timed = kernels.reduce((s, k) => s + k.dispatches, 0);
      console.log(`  GPU: timestamp span ${spread(spans)}; kernels busy ${busy.toFixed(1)} ms over ${timed} dispatches (profiled step)`);
    } else {
      console.log('  GPU: no timestamp-query on this adapter');
    }
    console.log(
      `  per step: ${per('dispatches')} dispatches, ${per('bindGroups')} bind groups built, ${per('pipelines')} pipelines compiled, ` +
        `${per('submits')} submits, ${per('writes')} writeBuffer calls (${((after.writeBytes - before.writeBytes) / REPS / 1024).toFixed(0)} KiB)`,
    );
    const gcMs = pauses.reduce((s, e) => s + e.duration, 0);
    const major = pauses.filter((e) => (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR);
    console.log(
      `  GC during the timed steps: ${(pauses.length / REPS).toFixed(1)} pauses, ${(gcMs / REPS).toFixed(1)} ms per step ` +
        `(major: ${major.length} in all, ${major.reduce((s, e) => s + e.duration, 0).toFixed(1)} ms; longest pause ${Math.max(0, ...pauses.map((e) => e.duration)).toFixed(1)} ms)`,
    );
    if (cpuProfile) {
      const s = summarizeCpuProfile(cpuProfile, TOP, ['node:inspector']);
      const perStep = (ms: number) => `${(ms / REPS).toFixed(1)} ms`;
      console.log(
        `  host CPU profile, per step: JavaScript and native calls ${perStep(s.scriptMs)}, GC ${perStep(s.gcMs)}, ` +
          `V8 other ${perStep(s.programMs)}, idle ${perStep(s.idleMs)}`,
      );
      console.log('  by own time:');
      for (const f of s.self) console.log(`    ${perStep(f.ms).padStart(9)}  ${f.name}`);
      console.log('  by inclusive time:');
      for (const f of s.inclusive) console.log(`    ${perStep(f.ms).padStart(9)}  ${f.name}`);
    }
  } finally {
    runner.dispose();
  }
}

await init(FLUSH === undefined ? {} : { flushEvery: FLUSH });
if (DTYPE === 'f16' && !hasF16()) fail('PROBE_DTYPE=f16 needs shader-f16, which this adapter lacks');
const info = deviceInfo();
console.log(`adapter: ${info.description || info.device} (${info.adapterClass}), ${MODEL} at batch ${BATCH}, ${REPS} timed steps`);
const counter = new QueueCounter(runtime('step-probe').device.queue);
const timer = GpuTimer.create();
for (const step of STEPS) await probeStep(step === 'train', counter, timer);
timer?.dispose();
// Dawn keeps the event loop alive while devices exist.
process.exit(0);
