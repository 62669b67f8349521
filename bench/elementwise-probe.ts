/**
 * Elementwise / copy throughput and per-op overhead probe (not a test): times the cases quoted in the header
 * of kernels/wgsl/elementwise.wgsl.
 *   [PROBE=substring] XDG_RUNTIME_DIR=/tmp node scripts/run-test.mjs bench/elementwise-probe.ts
 * Each case runs once to compile, then in batches for ~0.3 s, `ROUNDS` times; the best batch counts. GB/s
 * counts the bytes a kernel must move: each input element read once, each output written once (a broadcast
 * bias counts once). The ceiling is copyBufferToBuffer of the same bytes. On a shared machine wall-clock
 * rates swing with the load, so the probe also reports GB per CPU-second of this process (lavapipe's
 * worker threads included), which is far steadier; an idle machine gives at most cores x that rate.
 */
import { deviceInfo, empty, init, ops, runtime, type Tensor } from '../engine/index.js';
import { probeTime } from './probe-timing.js';

const ROUNDS = 3;
const filter = process.env['PROBE'] ?? '';

/** Best wall-clock and CPU milliseconds per call over `ROUNDS` batches of ~0.3 s (bench/probe-timing.ts). */
const bestMs = (fn: () => Tensor[], repeat = 1) => probeTime(fn, { windowMs: 300, rounds: ROUNDS, repeat });

async function report(name: string, bytes: number, fn: () => Tensor[]): Promise<void> {
  if (!name.includes(filter)) return;
  const { wall, cpu } = await bestMs(fn);
  const rate = (ms: number): string => (bytes / ms / 1e6).toFixed(2).padStart(7);
  console.log(`${name.padEnd(52)} ${rate(wall)} GB/s ${wall.toFixed(2).padStart(8)} ms ${rate(cpu)} GB/CPU-s`);
}

await init();
console.log(`adapter: ${deviceInfo().description || deviceInfo().device} (${deviceInfo().adapterClass})`);

const [rows, cols] = [1024, 3072];
const bytes = rows * cols * 4;
const x = ops.randn([rows, cols]);
const y = ops.randn([rows, cols]);
const bias = ops.randn([cols]);
const xt = ops.transpose(ops.randn([cols, rows]));
const xh = ops.cast(x, 'f16');
const heads = ops.randn([8, 197, 12, 64]);
const tag = `${rows}x${cols}`;

await report(`copyBufferToBuffer ${tag}`, 2 * bytes, () => {
  const out = empty(x.shape, x.dtype);
  runtime().copy(x.storage().buffer, 0, out.storage().buffer, 0, bytes);
  return [out];
});
await report(`contiguousCopy ${tag} (contiguous source)`, 2 * bytes, () => [ops.contiguousCopy(x)]);
await report(`contiguousCopy ${tag} rows 1.. (offset view)`, 2 * bytes - 8 * cols, () => [ops.contiguousCopy(ops.slice(x, [{ start: 1 }]))]);
await report(`contiguousCopy ${tag} transposed`, 2 * bytes, () => [ops.contiguousCopy(xt)]);
await report(`contiguousCopy ${tag}[:, :1536] (row slice)`, bytes, () => [ops.contiguousCopy(ops.slice(x, [null, { end: cols / 2 }]))]);
await report(`contiguousCopy [8,197,12,64] permute(0,2,1,3)`, 2 * heads.size * 4, () => [ops.contiguousCopy(ops.permute(heads, [0, 2, 1, 3]))]);
await report(`neg ${tag}`, 2 * bytes, () => [ops.neg(x)]);
await report(`neg ${tag} f16`, bytes, () => [ops.neg(xh)]);
await report(`mul ${tag} by scalar`, 2 * bytes, () => [ops.mul(x, 0.5)]);
await report(`add ${tag} same shape`, 3 * bytes, () => [ops.add(x, y)]);
await report(`add ${tag} + bias [${cols}]`, 2 * bytes, () => [ops.add(x, bias)]);
await report(`add ${tag} transposed + contiguous`, 3 * bytes, () => [ops.add(xt, y)]);
await report(`gelu ${tag}`, 2 * bytes, () => [ops.gelu(x)]);

// Fixed cost per op: many 1-element adds recorded back to back, one sync per batch.
if ('dispatch'.includes(filter) || filter === '') {
  const a = ops.randn([1]);
  const b = ops.randn([1]);
  const { wall, cpu } = await bestMs(() => [ops.add(a, b)], 256);
  console.log(`${'dispatch cost (1-element add, 256 per sync)'.padEnd(52)} ${(wall * 1000).toFixed(1).padStart(7)} us/op ${(cpu * 1000).toFixed(1)} CPU-us/op`);
}
process.exit(0);
