/**
 * Reduction probe (not a test): times the cases quoted in the header of kernels/wgsl/reduce.wgsl, and the
 * fused optimizer updates of kernels/wgsl/optim.wgsl.
 *   XDG_RUNTIME_DIR=/tmp node scripts/run-test.mjs bench/reduce-probe.ts   (PROBE_CPU_TIME=1 on a shared machine)
 * Each case runs once to compile, then in batches for ~0.3 s, three times; the best batch counts
 * (bench/probe-timing.ts). GB/s counts the bytes read (reductions) or read and written (updates).
 */
import { deviceInfo, init, ops, type Tensor } from '../engine/index.js';
import { probeMs, probeTime } from './probe-timing.js';

async function report(name: string, bytes: number, fn: () => Tensor[]): Promise<void> {
  const ms = probeMs(await probeTime(fn, { windowMs: 300 }));
  console.log(`${name.padEnd(52)} ${(bytes / ms / 1e6).toFixed(2).padStart(7)} GB/s  ${ms.toFixed(2).padStart(8)} ms`);
}

await init();
console.log(`adapter: ${deviceInfo().description || deviceInfo().device} (${deviceInfo().adapterClass})`);

const wide = ops.randn([1024, 3072]);
const rows = ops.randn([4096, 768]);
const ragged = ops.randn([4096, 767]);
const scores = ops.randn([18912, 197]);
const long = ops.randn([64, 262144]);
const bytes = (t: Tensor) => t.size * 4;
await report('sum over rows of 1024x3072', bytes(wide), () => [ops.sum(wide, -1)]);
await report('max over rows of 1024x3072', bytes(wide), () => [ops.max(wide, -1)]);
await report('mean over rows of 4096x768', bytes(rows), () => [ops.mean(rows, -1)]);
await report('var over rows of 4096x768', bytes(rows), () => [ops.variance(rows, -1)]);
await report('argmax over rows of 4096x768', bytes(rows), () => [ops.argmax(rows, -1)]);
await report('sum over rows of 4096x767 (rows not 4-aligned)', bytes(ragged), () => [ops.sum(ragged, -1)]);
await report('max over rows of 18912x197 (attention scores)', bytes(scores), () => [ops.max(scores, -1)]);
await report('logsumexp over rows of 18912x197', bytes(scores), () => [ops.logsumexp(scores, -1)]);
await report('sum over rows of 64x262144 (few long rows)', bytes(long), () => [ops.sum(long, -1)]);
await report('sum over columns of 1024x3072', bytes(wide), () => [ops.sum(wide, 0)]);
const groups = ops.randn([512, 8, 32]);
const bigGroups = ops.randn([4096, 16, 128]);
await report('max over axis 1 of [512,8,32] (point groups)', bytes(groups), () => [ops.max(groups, 1)]);
await report('max over axis 1 of [4096,16,128]', bytes(bigGroups), () => [ops.max(bigGroups, 1)]);
await report('sum of all 3M elements of 1024x3072', bytes(wide), () => [ops.sum(wide)]);

const n = 10_000_000;
const [p, g, m, v, buf] = [ops.randn([n]), ops.randn([n]), ops.zeros([n]), ops.zeros([n]), ops.zeros([n])];
const adamw = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true, step: 1 };
await report('AdamW update of 10M parameters (28 B per element)', 28 * n, () => {
  ops.adamUpdate(p, g, m, v, adamw);
  return [];
});
const sgd = { lr: 1e-2, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, first: false };
await report('SGD with momentum, 10M parameters (20 B per element)', 20 * n, () => {
  ops.sgdUpdate(p, g, buf, sgd);
  return [];
});
process.exit(0);
