/**
 * Indexing throughput probe (not a test): times the cases quoted in the header of
 * kernels/wgsl/indexing.wgsl and kernels/wgsl/index_add.wgsl.
 *   XDG_RUNTIME_DIR=/tmp node scripts/run-test.mjs bench/indexing-probe.ts   (PROBE_CPU_TIME=1 on a shared machine)
 * Each case runs once to compile, then in batches for ~0.3 s, three times; the best batch counts
 * (bench/probe-timing.ts). GB/s counts each element read once and written once (index loads excluded).
 */
import { deviceInfo, init, ops, type Tensor } from '../engine/index.js';
import { probeMs, probeTime } from './probe-timing.js';

async function report(name: string, bytes: number, fn: () => Tensor[]): Promise<void> {
  const ms = probeMs(await probeTime(fn, { windowMs: 300 }));
  console.log(`${name.padEnd(72)} ${(bytes / ms / 1e6).toFixed(2).padStart(7)} GB/s  ${ms.toFixed(2).padStart(8)} ms`);
}

/** n ids spread over [0, vocab) by a fixed stride. */
const ids = (n: number, vocab: number, shape: number[] = [n]): Tensor =>
  ops.fromFlat(Int32Array.from({ length: n }, (_, i) => (i * 7919) % vocab), shape, 'i32');

await init();
console.log(`adapter: ${deviceInfo().description || deviceInfo().device} (${deviceInfo().adapterClass})`);

const table = ops.randn([30000, 768]);
const rows = ids(4096, 30000);
const rowBytes = 4096 * 768 * 4;
await report('indexSelect of 4096 rows x 768 f32 from [30000,768]', 2 * rowBytes, () => [ops.indexSelect(table, 0, rows)]);
const clip = ops.randn([49408, 512]);
await report('embeddingLookup [32,77] x 512 f32 from [49408,512] (CLIP text)', 2 * 32 * 77 * 512 * 4, () => [ops.embeddingLookup(clip, ids(32 * 77, 49408, [32, 77]))]);
const small = ops.randn([100, 16]);
await report('embeddingLookup 8192 x 16 f32 from [100,16]', 2 * 8192 * 16 * 4, () => [ops.embeddingLookup(small, ids(8192, 100))]);
const half = ops.randn([2048, 768]);
await report('concat of two [2048,768] f32 along axis 1', 2 * rowBytes, () => [ops.concat([half, half], 1)]);
// The point-cloud tokenizer's join: a group's global feature expanded over its points, beside the points.
const local = ops.randn([512, 8, 32]);
const global = ops.randn([512, 1, 32]);
await report('concat of expand([512,1,32] -> [512,8,32]) and [512,8,32], last axis', 4 * local.size * 4, () => [ops.concat([ops.expand(global, [512, 8, 32]), local], 2)]);
const grads = ops.randn([4096, 768]);
const index = ops.expand(ops.reshape(rows, [4096, 1]), [4096, 768]);
await report('scatterAdd of 4096 whole rows x 768 f32 into [30000,768] (indexAdd path)', 2 * rowBytes, () => [ops.scatterAdd([30000, 768], 0, index, grads)]);
// gather's backward: every element has an index of its own (the atomic scatter_add kernel).
const perElement = ids(4096 * 768, 768, [4096, 768]);
await report('scatterAdd per element: [4096,768] into [4096,768] along axis 1 (gather backward)', 2 * rowBytes, () => [ops.scatterAdd([4096, 768], 1, perElement, grads)]);
// The deterministic index_add of the same rows (index_add.wgsl: sort, then sums that write every row).
await report('indexAdd of 4096 rows x 768 f32 into [30000,768] (embedding backward)', 2 * rowBytes, () => [ops.indexAdd([30000, 768], 0, rows, grads)]);
const clipGrads = ops.randn([32 * 77, 512]);
await report('indexAdd of [32*77] x 512 f32 into [49408,512] (CLIP text)', 2 * clipGrads.size * 4, () => [ops.indexAdd([49408, 512], 0, ids(32 * 77, 49408), clipGrads)]);
const smallGrads = ops.randn([8192, 16]);
await report('indexAdd of 8192 x 16 f32 into [100,16]', 2 * smallGrads.size * 4, () => [ops.indexAdd([100, 16], 0, ids(8192, 100), smallGrads)]);
process.exit(0);
